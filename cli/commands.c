/* mapstatctl's commands on one daemon or database: status, epochs, report, forecast, processes,
 * show and export. Each asks the daemon's own API (through the client) and prints its answer as
 * a table, or as the JSON it got with --format json. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "fileio.h"
#include "parse-util.h"
#include "string-util.h"

#define KB_BUF 32

/* "#12 shmsrv": how tables name an identity. */
static char *identity_label(const json_t *identity) {
        char *s;

        if (asprintf(&s, "#%" JSON_INTEGER_FORMAT " %s",
                     json_integer_value(json_object_get(identity, "id")),
                     jstr(identity, "comm") ?: "?") < 0)
                return NULL;
        return s;
}

static const char *epoch_line(const json_t *e, char *buf, size_t size) {
        if (!json_is_object(e))
                return "none";
        (void) snprintf(buf, size, "epoch %" JSON_INTEGER_FORMAT ", %s (%s), %" JSON_INTEGER_FORMAT
                        " sweeps", json_integer_value(json_object_get(e, "epoch")),
                        jstr(e, "release") ?: "?", jstr(e, "mapcount_mode") ?: "?",
                        json_integer_value(json_object_get(e, "sweeps")));
        return buf;
}

/* Appends "?" or "&" and name=value to a target being built. */
static int target_add(char **target, const char *name, const char *value) {
        char *t;

        if (asprintf(&t, "%s%s%s=%s", *target, strchr(*target, '?') ? "&" : "?", name,
                     value) < 0)
                return -ENOMEM;
        free(*target);
        *target = t;
        return 0;
}

/* ---- status ---- */

static int run_status(Ctl *ctl, int argc, char *argv[]) {
        _cleanup_json_ json_t *health = NULL, *epochs = NULL;
        const json_t *last, *e;
        char buf[64], line[160];
        size_t i;
        int c, ret = EXIT_OK;

        while ((c = command_getopt(&command_status, argc, argv, NULL, &ret)) != -1)
                return ret;
        if (optind < argc)
                return ctl_error(&command_status, "unexpected argument '%s'", argv[optind]);

        /* A database holds no daemon: its health is what it stores. */
        if (!ctl->db && !(health = ctl_get(ctl, "/healthz")))
                return EXIT_USAGE;
        epochs = ctl_get(ctl, "/epochs");
        if (!epochs)
                return EXIT_USAGE;
        if (ctl->format == FORMAT_JSON) {
                _cleanup_json_ json_t *doc = json_pack("{s:O, s:O}", "health",
                                                       health ?: json_null(), "epochs",
                                                       json_object_get(epochs, "epochs"));

                json_print(doc);
                return EXIT_OK;
        }

        printf("%-12s %s\n", "source", client_source(ctl->client));
        if (health) {
                const char *state = jstr(health, "status") ?: "?";

                printf("%-12s ", "status");
                colour_print(stdout, streq_ptr(state, "ok") ? COLOUR_GREEN : COLOUR_RED, state);
                fputc('\n', stdout);
                ret = streq_ptr(state, "degraded") ? EXIT_FLAGGED : EXIT_OK;
                if (jstr(health, "storage_error"))
                        printf("%-12s %s\n", "storage", jstr(health, "storage_error"));
                if (jstr(health, "sweep_error"))
                        printf("%-12s %s\n", "sweeps", jstr(health, "sweep_error"));
                last = json_object_get(health, "last_sweep");
                if (json_is_object(last))
                        printf("%-12s %s, %.2f s, %" JSON_INTEGER_FORMAT " processes sampled, %"
                               JSON_INTEGER_FORMAT " skipped\n", "last sweep",
                               format_time(jstr(last, "time"), buf, sizeof buf),
                               jnum(last, "duration_seconds"),
                               json_integer_value(json_object_get(last, "processes_sampled")),
                               json_integer_value(json_object_get(last, "processes_skipped")));
                printf("%-12s %" JSON_INTEGER_FORMAT " stored, every %.0f s\n", "sweeps",
                       json_integer_value(json_object_get(health, "sweeps_stored")),
                       jnum(health, "interval_seconds"));
                printf("%-12s %s\n", "pagemap",
                       jstr(json_object_get(health, "pagemap"), "mode") ?: "?");
        }
        json_array_foreach(json_object_get(epochs, "epochs"), i, e) {
                (void) snprintf(line, sizeof line, "%" JSON_INTEGER_FORMAT ": %s (%s), %"
                                JSON_INTEGER_FORMAT " sweeps, last %s",
                                json_integer_value(json_object_get(e, "id")),
                                jstr(e, "release") ?: "?", jstr(e, "mapcount_mode") ?: "?",
                                json_integer_value(json_object_get(e, "sweeps")),
                                format_time(jstr(e, "last_sweep"), buf, sizeof buf));
                printf("%-12s %s\n", i == 0 ? "epochs" : "", line);
        }
        if (json_array_size(json_object_get(epochs, "epochs")) == 0)
                printf("%-12s none yet\n", "epochs");
        return ret;
}

const Command command_status = {
        .name = "status",
        .help = "the daemon's health, its last sweep and the epochs",
        .run = run_status,
};

/* ---- epochs ---- */

static int run_epochs(Ctl *ctl, int argc, char *argv[]) {
        static const char *const headers[] = { "ID", "RELEASE", "MODE", "HOST", "SWEEPS",
                                               "LAST SWEEP", NULL };
        static const bool right[] = { true, false, false, false, true, false };
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        const json_t *e;
        size_t i;
        int c, ret = EXIT_OK;

        while ((c = command_getopt(&command_epochs, argc, argv, NULL, &ret)) != -1)
                return ret;
        if (optind < argc)
                return ctl_error(&command_epochs, "unexpected argument '%s'", argv[optind]);
        doc = ctl_get(ctl, "/epochs");
        if (!doc)
                return EXIT_USAGE;
        if (ctl->format == FORMAT_JSON) {
                json_print(doc);
                return EXIT_OK;
        }
        t = table_new(headers, 1, right);
        if (!t)
                return ctl_error(&command_epochs, "out of memory");
        json_array_foreach(json_object_get(doc, "epochs"), i, e) {
                char id[24], sweeps[24], last[32];
                const char *cells[6] = { id, jstr(e, "release"), jstr(e, "mapcount_mode"),
                                         jstr(e, "hostname"), sweeps,
                                         format_time(jstr(e, "last_sweep"), last, sizeof last) };

                (void) snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(e, "id")));
                (void) snprintf(sweeps, sizeof sweeps, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(e, "sweeps")));
                if (table_add(t, cells, NULL) < 0)
                        return ctl_error(&command_epochs, "out of memory");
        }
        table_print(t, stdout);
        return EXIT_OK;
}

const Command command_epochs = {
        .name = "epochs",
        .help = "every kernel epoch (one per boot and kernel)",
        .run = run_epochs,
};

/* ---- report and forecast ---- */

/* The threshold options both take: --min-delta-kb, --min-delta-points, --noise-factor. */
enum { OPT_MIN_KB = 0x100, OPT_MIN_POINTS, OPT_NOISE, OPT_BASELINE, OPT_CANDIDATE, OPT_EPOCH };

static const char *const threshold_names[] = {
        [OPT_MIN_KB - OPT_MIN_KB] = "min_delta_kb",
        [OPT_MIN_POINTS - OPT_MIN_KB] = "min_delta_points",
        [OPT_NOISE - OPT_MIN_KB] = "noise_factor",
};

int figure_row(Table *t, const char *identity, const char *kind, TableColour kind_colour,
                      const char *name, const json_t *m, const char *before,
                      const char *after) {
        char b[KB_BUF], a[KB_BUF], d[KB_BUF], key[32];
        const char *cells[6];
        TableColour colours[6] = { COLOUR_NONE, COLOUR_NONE, COLOUR_NONE, COLOUR_NONE,
                                   COLOUR_NONE, kind_colour };
        double vb, va;

        if (startswith(name, "Exclusive")) {
                (void) snprintf(key, sizeof key, "%s_ratio", before);
                vb = jnum(m, key) * 100;
                (void) snprintf(key, sizeof key, "%s_ratio", after);
                va = jnum(m, key) * 100;
                (void) snprintf(b, sizeof b, "%.1f%%", vb);
                (void) snprintf(a, sizeof a, "%.1f%%", va);
                (void) snprintf(d, sizeof d, "%+.1f pt", va - vb);
        } else {
                (void) snprintf(key, sizeof key, "%s_kb", before);
                vb = jnum(m, key);
                (void) snprintf(key, sizeof key, "%s_kb", after);
                va = jnum(m, key);
                format_kb(vb, false, b, sizeof b);
                format_kb(va, false, a, sizeof a);
                format_kb(va - vb, true, d, sizeof d);
        }
        colours[4] = va > vb ? COLOUR_YELLOW : COLOUR_BLUE;
        cells[0] = identity;
        cells[1] = name;
        cells[2] = b;
        cells[3] = a;
        cells[4] = d;
        cells[5] = kind;
        return table_add(t, cells, colours);
}

static TableColour kind_colour(const char *kind) {
        if (streq_ptr(kind, "accounting"))
                return COLOUR_BLUE;
        if (streq_ptr(kind, "behavior") || streq_ptr(kind, "mixed"))
                return COLOUR_RED;
        return COLOUR_DIM;
}

/* The flagged figures of every item of list (report: "flagged", forecast: "identities"). */
static int flagged_table(const json_t *list, const char *before, const char *after,
                         const char *last_header) {
        const char *headers[] = { "IDENTITY", "FIGURE", "BEFORE", "AFTER", "CHANGE",
                                  last_header, NULL };
        static const bool right[] = { false, false, true, true, true, false };
        _cleanup_(table_freep) Table *t = NULL;
        const json_t *item;
        size_t i;

        if (streq_ptr(before, "today")) {
                headers[2] = "TODAY";
                headers[3] = "FORECAST";
        }
        if (!last_header)
                headers[5] = NULL;
        t = table_new(headers, 0, right);
        if (!t)
                return -ENOMEM;
        json_array_foreach(list, i, item) {
                _cleanup_free_ char *label = identity_label(json_object_get(item, "identity"));
                const char *kind = jstr(item, "kind");
                const char *name;
                const json_t *m;
                bool first = true;

                if (!label)
                        return -ENOMEM;
                json_object_foreach((json_t *) json_object_get(item, "metrics"), name, m) {
                        if (!json_is_true(json_object_get(m, "flagged")))
                                continue;
                        if (figure_row(t, first ? label : "", first ? kind : "",
                                       kind_colour(kind), name, m, before, after) < 0)
                                return -ENOMEM;
                        first = false;
                }
        }
        table_print(t, stdout);
        return 0;
}

/* Parses the options report and forecast share into target. Returns -1 when done, or the exit
 * code to return now. */
static int threshold_options(const Command *cmd, int argc, char *argv[],
                             const struct option *longopts, char **target) {
        int c, ret = EXIT_OK;

        while ((c = command_getopt(cmd, argc, argv, longopts, &ret)) != -1) {
                const char *name;
                double d;
                uint64_t id;

                if (c == '?')
                        return ret;
                if (c >= OPT_MIN_KB && c <= OPT_NOISE) {
                        if (safe_atod(optarg, &d) < 0 || !(d >= 0))
                                return ctl_error(cmd, "invalid value '%s' for --%s: expected a "
                                                 "non-negative number", optarg,
                                                 longopts[c - OPT_MIN_KB].name);
                        name = threshold_names[c - OPT_MIN_KB];
                } else {
                        if (safe_atou64(optarg, &id) < 0 || id == 0)
                                return ctl_error(cmd, "invalid epoch '%s': expected a positive "
                                                 "epoch id (mapstatctl epochs)", optarg);
                        name = c == OPT_BASELINE ? "baseline"
                             : c == OPT_CANDIDATE ? "candidate" : "epoch";
                }
                if (target_add(target, name, optarg) < 0)
                        return ctl_error(cmd, "out of memory");
        }
        if (optind < argc)
                return ctl_error(cmd, "unexpected argument '%s'", argv[optind]);
        return -1;
}

#define THRESHOLD_OPTIONS                                                                \
        { "min-delta-kb", required_argument, NULL, OPT_MIN_KB },                         \
        { "min-delta-points", required_argument, NULL, OPT_MIN_POINTS },                 \
        { "noise-factor", required_argument, NULL, OPT_NOISE }
/* The opening of report and forecast: the command's options into a request of path, the
 * answer, and in the JSON format the answer printed as it is. Returns the answer to print as a
 * table, or NULL with *ret_exit set (--help, usage or connection error; JSON printed: 1 when
 * the array list_key of the answer is not empty). */
static json_t *get_flagging(Ctl *ctl, const Command *cmd, const char *path, int argc,
                            char *argv[], const struct option *longopts, const char *list_key,
                            int *ret_exit) {
        _cleanup_free_ char *target = strdup(path);
        json_t *doc;
        int r;

        if (!target) {
                *ret_exit = ctl_error(cmd, "out of memory");
                return NULL;
        }
        r = threshold_options(cmd, argc, argv, longopts, &target);
        if (r >= 0) {
                *ret_exit = r;
                return NULL;
        }
        doc = ctl_get(ctl, target);
        if (!doc) {
                *ret_exit = EXIT_USAGE;
                return NULL;
        }
        if (ctl->format == FORMAT_JSON) {
                *ret_exit = json_array_size(json_object_get(doc, list_key)) > 0 ||
                            cgroups_flagged(doc) > 0 ? EXIT_FLAGGED : EXIT_OK;
                json_print(doc);
                json_decref(doc);
                return NULL;
        }
        return doc;
}

#define THRESHOLD_HELP                                                                   \
        "--min-delta-kb KB        a shift must move this many kB (default: the daemon's)", \
        "--min-delta-points P     … and this many percentage points of Rss",            \
        "--noise-factor F         … and F times the within-epoch spread"

static int run_report(Ctl *ctl, int argc, char *argv[]) {
        static const struct option longopts[] = {
                THRESHOLD_OPTIONS,
                { "baseline", required_argument, NULL, OPT_BASELINE },
                { "candidate", required_argument, NULL, OPT_CANDIDATE },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const json_t *flagged, *system;
        char line[160];
        int ret;
        _cleanup_json_ json_t *doc = get_flagging(ctl, &command_report, "/report", argc, argv,
                                                  longopts, "flagged", &ret);

        if (!doc)
                return ret;
        flagged = json_object_get(doc, "flagged");

        printf("Baseline   %s\n", epoch_line(json_object_get(doc, "baseline"), line,
                                              sizeof line));
        printf("Candidate  %s\n", epoch_line(json_object_get(doc, "candidate"), line,
                                              sizeof line));
        if (jstr(doc, "message")) {
                printf("\n%s\n", jstr(doc, "message"));
                return EXIT_OK;
        }
        printf("\n%zu of %" JSON_INTEGER_FORMAT " identities flagged; %zu appeared, %zu "
               "disappeared.\n", json_array_size(flagged),
               json_integer_value(json_object_get(doc, "compared")),
               json_array_size(json_object_get(doc, "appeared")),
               json_array_size(json_object_get(doc, "disappeared")));
        if (json_array_size(flagged) > 0) {
                fputc('\n', stdout);
                if (flagged_table(flagged, "before", "after", "KIND") < 0)
                        return ctl_error(&command_report, "out of memory");
        }
        system = json_object_get(doc, "system");
        if (json_array_size(json_object_get(system, "reasons")) > 0) {
                const json_t *reason;
                size_t i;

                printf("\nSystem (/proc/meminfo):\n");
                json_array_foreach(json_object_get(system, "reasons"), i, reason)
                        printf("  %s\n", json_string_value(reason));
        }
        if (cgroups_print(json_object_get(doc, "cgroups"), "before", "after") < 0)
                return ctl_error(&command_report, "out of memory");
        return json_array_size(flagged) > 0 || cgroups_flagged(doc) > 0 ? EXIT_FLAGGED
                                                                          : EXIT_OK;
}

static const char *const report_options[] = {
        "--baseline ID            the baseline epoch (default: the last earlier kernel)",
        "--candidate ID           the candidate epoch (default: the latest sweep's)",
        THRESHOLD_HELP,
        NULL,
};

const Command command_report = {
        .name = "report",
        .synopsis = "[--baseline ID] [--candidate ID] [THRESHOLDS]",
        .help = "what a kernel change shifted, accounting or real (exit 1: flagged)",
        .options = report_options,
        .run = run_report,
};

static int run_forecast(Ctl *ctl, int argc, char *argv[]) {
        static const struct option longopts[] = {
                THRESHOLD_OPTIONS,
                { "epoch", required_argument, NULL, OPT_EPOCH },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const json_t *list;
        char line[160];
        int ret;
        _cleanup_json_ json_t *doc = get_flagging(ctl, &command_forecast, "/forecast", argc,
                                                  argv, longopts, "identities", &ret);

        if (!doc)
                return ret;
        list = json_object_get(doc, "identities");
        printf("Epoch  %s\n", epoch_line(json_object_get(doc, "epoch"), line, sizeof line));
        if (!json_is_true(json_object_get(doc, "available"))) {
                printf("\n%s\n", jstr(doc, "message") ?: "no forecast");
                return EXIT_OK;
        }
        printf("\n%zu of %" JSON_INTEGER_FORMAT " identities would report other figures on a "
               "NO_PAGE_MAPCOUNT kernel.\n", json_array_size(list),
               json_integer_value(json_object_get(doc, "compared")));
        if (json_array_size(list) > 0) {
                fputc('\n', stdout);
                if (flagged_table(list, "today", "forecast", NULL) < 0)
                        return ctl_error(&command_forecast, "out of memory");
        }
        if (cgroups_print(json_object_get(doc, "cgroups"), "today", "forecast") < 0)
                return ctl_error(&command_forecast, "out of memory");
        return json_array_size(list) > 0 || cgroups_flagged(doc) > 0 ? EXIT_FLAGGED : EXIT_OK;
}

static const char *const forecast_options[] = {
        "--epoch ID               the epoch (default: the latest sweep's)",
        THRESHOLD_HELP,
        NULL,
};

const Command command_forecast = {
        .name = "forecast",
        .synopsis = "[--epoch ID] [THRESHOLDS]",
        .help = "what NO_PAGE_MAPCOUNT would report here (exit 1: a change)",
        .options = forecast_options,
        .run = run_forecast,
};

/* ---- processes and show ---- */

static double rollup_kb(const json_t *rollup, const char *a, const char *b) {
        return jnum(rollup, a) + (b ? jnum(rollup, b) : 0);
}

static int run_processes(Ctl *ctl, int argc, char *argv[]) {
        static const struct option longopts[] = {
                { "sort", required_argument, NULL, 's' },
                { "limit", required_argument, NULL, 'n' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        static const char *const headers[] = { "ID", "COMM", "UNIT", "PROCS", "RSS", "PSS",
                                               "SHARED", "PRIVATE", NULL };
        static const bool right[] = { true, false, false, true, true, true, true, true };
        _cleanup_free_ char *target = strdup("/processes?limit=20");
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        const json_t *p;
        const char *limit = NULL;
        size_t i;
        int c, ret = EXIT_OK;

        if (!target)
                return ctl_error(&command_processes, "out of memory");
        while ((c = command_getopt(&command_processes, argc, argv, longopts, &ret)) != -1) {
                if (c == '?')
                        return ret;
                if (c == 'n')
                        limit = optarg;
                else if (target_add(&target, "sort", optarg) < 0)
                        return ctl_error(&command_processes, "out of memory");
        }
        if (optind < argc)
                return ctl_error(&command_processes, "unexpected argument '%s'", argv[optind]);
        if (limit) {
                /* The daemon checks the value; the default above is this command's. */
                char *t2;

                if (asprintf(&t2, "/processes?limit=%s%s", limit, target +
                             STRLEN("/processes?limit=20")) < 0)
                        return ctl_error(&command_processes, "out of memory");
                free(target);
                target = t2;
        }
        doc = ctl_get(ctl, target);
        if (!doc)
                return EXIT_USAGE;
        if (ctl->format == FORMAT_JSON) {
                json_print(doc);
                return EXIT_OK;
        }
        t = table_new(headers, 2, right);
        if (!t)
                return ctl_error(&command_processes, "out of memory");
        json_array_foreach(json_object_get(doc, "processes"), i, p) {
                const json_t *id = json_object_get(p, "identity");
                const json_t *r = json_object_get(p, "smaps_rollup");
                char idb[24], procs[24], rss[KB_BUF], pss[KB_BUF], sh[KB_BUF], pr[KB_BUF];
                const char *cells[8] = {
                        idb, jstr(id, "comm"), jstr(id, "unit"), procs,
                        format_kb(rollup_kb(r, "Rss", NULL), false, rss, sizeof rss),
                        format_kb(rollup_kb(r, "Pss", NULL), false, pss, sizeof pss),
                        format_kb(rollup_kb(r, "Shared_Clean", "Shared_Dirty"), false, sh,
                                  sizeof sh),
                        format_kb(rollup_kb(r, "Private_Clean", "Private_Dirty"), false, pr,
                                  sizeof pr),
                };

                (void) snprintf(idb, sizeof idb, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(id, "id")));
                (void) snprintf(procs, sizeof procs, "%zu",
                                json_array_size(json_object_get(p, "pids")));
                if (table_add(t, cells, NULL) < 0)
                        return ctl_error(&command_processes, "out of memory");
        }
        table_print(t, stdout);
        printf("\n%zu of %" JSON_INTEGER_FORMAT " identities of sweep %" JSON_INTEGER_FORMAT
               ".\n", json_array_size(json_object_get(doc, "processes")),
               json_integer_value(json_object_get(doc, "total")),
               json_integer_value(json_object_get(doc, "sweep")));
        return EXIT_OK;
}

static const char *const processes_options[] = {
        "--sort KEY               pss (default), rss, shared, private or name",
        "--limit N                at most N identities (default 20)",
        NULL,
};

const Command command_processes = {
        .name = "processes",
        .synopsis = "[--sort KEY] [--limit N]",
        .help = "the identities of the latest sweep, largest first",
        .options = processes_options,
        .run = run_processes,
};

static int run_show(Ctl *ctl, int argc, char *argv[]) {
        static const char *const headers[] = { "EPOCH", "RELEASE", "MODE", "SWEEPS", "RSS",
                                               "PSS", "SHARED", "PRIVATE", NULL };
        static const bool right[] = { true, false, false, true, true, true, true, true };
        _cleanup_free_ char *target = NULL;
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        const json_t *identity, *p, *marks;
        uint64_t id;
        size_t i;
        int c, ret = EXIT_OK;

        while ((c = command_getopt(&command_show, argc, argv, NULL, &ret)) != -1)
                return ret;
        if (optind + 1 != argc)
                return ctl_error(&command_show, "expected one identity id (mapstatctl "
                                 "processes lists them)");
        if (safe_atou64(argv[optind], &id) < 0 || id == 0)
                return ctl_error(&command_show, "invalid identity id '%s'", argv[optind]);
        /* One point per epoch: a step longer than any history, from the beginning. */
        if (asprintf(&target, "/processes/%" PRIu64 "?from=0&step=36500d", id) < 0)
                return ctl_error(&command_show, "out of memory");
        doc = ctl_get(ctl, target);
        if (!doc)
                return EXIT_USAGE;
        if (ctl->format == FORMAT_JSON) {
                json_print(doc);
                return EXIT_OK;
        }
        identity = json_object_get(doc, "identity");
        printf("%-9s %s\n%-9s %s\n%-9s %s\n%-9s %s\n\n", "identity", jstr(identity, "key"),
               "comm", jstr(identity, "comm") ?: "–", "cmdline",
               jstr(identity, "cmdline") ?: "–", "unit", jstr(identity, "unit") ?: "–");
        t = table_new(headers, 1, right);
        if (!t)
                return ctl_error(&command_show, "out of memory");
        marks = json_object_get(doc, "epochs");
        json_array_foreach(json_object_get(doc, "points"), i, p) {
                const json_t *r = json_object_get(p, "smaps_rollup"), *m, *mark = NULL;
                char ep[24], sweeps[24], rss[KB_BUF], pss[KB_BUF], sh[KB_BUF], pr[KB_BUF];
                size_t k;

                json_array_foreach(marks, k, m)
                        if (json_equal(json_object_get(m, "epoch"), json_object_get(p, "epoch")))
                                mark = m;
                (void) snprintf(ep, sizeof ep, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(p, "epoch")));
                (void) snprintf(sweeps, sizeof sweeps, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(p, "sweeps")));
                const char *cells[8] = {
                        ep, jstr(mark, "release"), jstr(mark, "mapcount_mode"), sweeps,
                        format_kb(jnum(r, "Rss"), false, rss, sizeof rss),
                        format_kb(jnum(r, "Pss"), false, pss, sizeof pss),
                        format_kb(jnum(r, "Shared"), false, sh, sizeof sh),
                        format_kb(jnum(r, "Private"), false, pr, sizeof pr),
                };
                if (table_add(t, cells, NULL) < 0)
                        return ctl_error(&command_show, "out of memory");
        }
        table_print(t, stdout);
        printf("\nMeans over each epoch's stored sweeps.\n");
        return EXIT_OK;
}

const Command command_show = {
        .name = "show",
        .synopsis = "ID",
        .help = "one identity's figures per epoch",
        .run = run_show,
};

/* ---- export ---- */

static int run_export(Ctl *ctl, int argc, char *argv[]) {
        static const struct option longopts[] = {
                { "epoch", required_argument, NULL, 'e' },
                { "output", required_argument, NULL, 'o' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        _cleanup_free_ char *target = strdup("/snapshot"), *epochs = NULL, *body = NULL;
        _cleanup_free_ char *err = NULL;
        const char *output = NULL;
        unsigned status;
        size_t len;
        Client *client;
        int c, r, ret = EXIT_OK;

        if (!target)
                return ctl_error(&command_export, "out of memory");
        while ((c = command_getopt(&command_export, argc, argv, longopts, &ret)) != -1) {
                uint64_t id;
                char *e;

                if (c == '?')
                        return ret;
                if (c == 'o') {
                        output = optarg;
                        continue;
                }
                if (safe_atou64(optarg, &id) < 0 || id == 0)
                        return ctl_error(&command_export, "invalid epoch '%s'", optarg);
                if (asprintf(&e, "%s%s%" PRIu64, epochs ?: "", epochs ? "," : "", id) < 0)
                        return ctl_error(&command_export, "out of memory");
                free(epochs);
                epochs = e;
        }
        if (optind < argc)
                return ctl_error(&command_export, "unexpected argument '%s'", argv[optind]);
        if (epochs && target_add(&target, "epochs", epochs) < 0)
                return ctl_error(&command_export, "out of memory");

        client = ctl_client(ctl);
        if (!client)
                return EXIT_USAGE;
        r = client_get_text(client, target, &status, &body, &len, &err);
        if (r < 0)
                return ctl_error(&command_export, "%s", err ?: strerror(-r));
        if (status != 200) {
                _cleanup_json_ json_t *doc = json_loadb(body, len, 0, NULL);

                return ctl_error(&command_export, "%s (HTTP %u)",
                                 jstr(doc, "error") ?: "cannot export", status);
        }
        if (!output || streq_ptr(output, "-")) {
                if (fwrite(body, 1, len, stdout) != len)
                        return ctl_error(&command_export, "cannot write: %s", strerror(errno));
                if (len > 0 && body[len - 1] != '\n')
                        fputc('\n', stdout);
                return EXIT_OK;
        }
        /* 0600: identity keys can hold command-line arguments (tokens, passwords). */
        r = write_file_atomic(output, body, len, 0600);
        if (r < 0)
                return ctl_error(&command_export, "cannot write '%s': %s", output,
                                 strerror(-r));
        return EXIT_OK;
}

static const char *const export_options[] = {
        "--epoch ID               only this epoch (repeatable; default: every epoch)",
        "-o, --output FILE        write to FILE (atomically) rather than standard output",
        NULL,
};

const Command command_export = {
        .name = "export",
        .synopsis = "[--epoch ID]... [-o FILE]",
        .help = "this host's portable snapshot, for fleet compare",
        .options = export_options,
        .run = run_export,
};
