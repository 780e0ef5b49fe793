/* mapstatctl fleet compare: many hosts' snapshots compared offline. One pass over the files,
 * one document in memory at a time: each host contributes, per identity it ran on both sides,
 * its deltas (after − before of every compared figure, from its own summaries) and its own
 * classification; a host that changed kernel is treated, one that ran the old kernel in two
 * epochs is a control. Then per identity the difference in differences of medians across hosts
 * with its interval (compare/fleet.h) says whether the kernel moved its figures consistently.
 * Memory: about 80 bytes per host and identity compared, whatever the documents weigh. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <search.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "ctl.h"
#include "fleet-read.h"
#include "fleet.h"
#include "parse-util.h"
#include "string-util.h"

#define MIN_HOSTS_DEFAULT 3
/* Kernels told apart: (release, mapcount mode) pairs. */
#define KERNELS_MAX 256

typedef struct Kernel {
        char *release;
        char *mode;
        size_t hosts;                   /* hosts that ran it (in some epoch) */
} Kernel;

typedef struct FleetIdentity {
        char *key, *comm, *unit;        /* the first host's */
        HostDelta *deltas;
        size_t n, allocated;
} FleetIdentity;

typedef struct Skipped {
        char *file, *error;
} Skipped;

typedef struct Fleet {
        FleetConfig config;
        size_t min_hosts;
        Kernel kernels[KERNELS_MAX];
        size_t n_kernels;
        void *identities;                       /* tsearch() tree of FleetIdentity by key */
        FleetIdentity **list;                   /* the same, in the order first seen */
        size_t n_identities, allocated_identities;
        char **machine_ids;                     /* seen, to refuse a machine twice */
        size_t n_machines, allocated_machines;
        Skipped *skipped;
        size_t n_skipped, allocated_skipped;
        size_t hosts_read, hosts_unpaired;
        size_t pairs[KERNELS_MAX][KERNELS_MAX];   /* hosts per (before, after) kernels */
} Fleet;

static int identity_compare_key(const void *a, const void *b) {
        return strcmp(((const FleetIdentity *) a)->key, ((const FleetIdentity *) b)->key);
}

static void free_nothing(void *p) {
        (void) p;
}

static int skip(Fleet *f, const char *file, const char *fmt, ...) _printf_(3, 4);
static int skip(Fleet *f, const char *file, const char *fmt, ...) {
        Skipped s = {};
        va_list ap;

        if (GREEDY_REALLOC(f->skipped, f->allocated_skipped, f->n_skipped + 1) < 0)
                return -ENOMEM;
        va_start(ap, fmt);
        if (vasprintf(&s.error, fmt, ap) < 0)
                s.error = NULL;
        va_end(ap);
        s.file = strdup(file);
        if (!s.file || !s.error) {
                free(s.file);
                free(s.error);
                return -ENOMEM;
        }
        fprintf(stderr, "mapstatctl fleet: skipping '%s': %s\n", file, s.error);
        f->skipped[f->n_skipped++] = s;
        return 0;
}

/* The index of kernel (release, mode), added when new. -E2BIG beyond KERNELS_MAX. */
static int kernel_index(Fleet *f, const char *release, const char *mode) {
        for (size_t i = 0; i < f->n_kernels; i++)
                if (streq_ptr(f->kernels[i].release, release) &&
                    streq_ptr(f->kernels[i].mode, mode))
                        return (int) i;
        if (f->n_kernels >= KERNELS_MAX)
                return -E2BIG;
        f->kernels[f->n_kernels] = (Kernel) { .release = strdup(release), .mode = strdup(mode) };
        if (!f->kernels[f->n_kernels].release || !f->kernels[f->n_kernels].mode)
                return -ENOMEM;
        return (int) f->n_kernels++;
}

/* The fleet's identity of key, created (with comm and unit) on first sight. NULL on ENOMEM. */
static FleetIdentity *identity_get(Fleet *f, const HostIdentity *h) {
        FleetIdentity probe = { .key = h->key }, *i, **found;

        found = tfind(&probe, &f->identities, identity_compare_key);
        if (found)
                return *found;
        if (GREEDY_REALLOC(f->list, f->allocated_identities, f->n_identities + 1) < 0)
                return NULL;
        i = calloc(1, sizeof *i);
        if (!i || !(i->key = strdup(h->key)) || (h->comm && !(i->comm = strdup(h->comm))) ||
            (h->unit && !(i->unit = strdup(h->unit))))
                goto fail;
        if (!tsearch(i, &f->identities, identity_compare_key))
                goto fail;
        f->list[f->n_identities++] = i;
        return i;
fail:
        if (i) {
                free(i->key);
                free(i->comm);
                free(i->unit);
                free(i);
        }
        return NULL;
}

/* Adds one host's result (in file order). Returns 0 or -ENOMEM. */
static int host_merge(Fleet *f, const char *file, const HostResult *h) {
        int index[KERNELS_MAX];

        if (h->error[0])
                return skip(f, file, "%s", h->error);
        for (size_t k = 0; h->machine_id && k < f->n_machines; k++)
                if (streq_ptr(f->machine_ids[k], h->machine_id))
                        return skip(f, file, "machine %s was read already: one snapshot per "
                                    "host", h->machine_id);
        if (h->n_kernels > KERNELS_MAX)
                return skip(f, file, "more than %d kernels", KERNELS_MAX);
        for (size_t k = 0; k < h->n_kernels; k++) {
                int r = kernel_index(f, h->kernels[k].release, h->kernels[k].mode);

                if (r == -E2BIG)
                        return skip(f, file, "more than %d kernels in the fleet", KERNELS_MAX);
                if (r < 0)
                        return r;
                index[k] = r;
        }
        if (h->machine_id) {
                char *copy = strdup(h->machine_id);

                if (!copy || GREEDY_REALLOC(f->machine_ids, f->allocated_machines,
                                            f->n_machines + 1) < 0) {
                        free(copy);
                        return -ENOMEM;
                }
                f->machine_ids[f->n_machines++] = copy;
        }
        f->hosts_read++;
        for (size_t k = 0; k < h->n_kernels; k++)
                f->kernels[index[k]].hosts++;
        if (!h->paired) {
                f->hosts_unpaired++;
                return 0;
        }
        f->pairs[index[h->before]][index[h->after]]++;
        for (size_t k = 0; k < h->n; k++) {
                FleetIdentity *id = identity_get(f, &h->identities[k]);
                HostDelta d = h->identities[k].delta;

                if (!id || GREEDY_REALLOC(id->deltas, id->allocated, id->n + 1) < 0)
                        return -ENOMEM;
                d.before = (uint16_t) index[h->before];
                d.after = (uint16_t) index[h->after];
                id->deltas[id->n++] = d;
        }
        return 0;
}

static void fleet_free(Fleet *f) {
        tdestroy(f->identities, free_nothing);
        for (size_t i = 0; i < f->n_identities; i++) {
                free(f->list[i]->key);
                free(f->list[i]->comm);
                free(f->list[i]->unit);
                free(f->list[i]->deltas);
                free(f->list[i]);
        }
        free(f->list);
        for (size_t i = 0; i < f->n_kernels; i++) {
                free(f->kernels[i].release);
                free(f->kernels[i].mode);
        }
        for (size_t i = 0; i < f->n_machines; i++)
                free(f->machine_ids[i]);
        free(f->machine_ids);
        for (size_t i = 0; i < f->n_skipped; i++) {
                free(f->skipped[i].file);
                free(f->skipped[i].error);
        }
        free(f->skipped);
        free(f);
}

/* ---- the comparison ---- */

/* One figure of one identity across the fleet. */
typedef struct FigureShift {
        const char *name;
        FleetShift points, kb;
        bool flagged;           /* a kernel shift */
        bool control_moved;     /* the control hosts moved too */
} FigureShift;

#define FIGURES_MAX (_COMPARE_METRIC_MAX + _EXCLUSIVITY_CLASS_MAX)

typedef struct IdentityShift {
        const FleetIdentity *identity;
        size_t treated, control;
        FigureShift figures[FIGURES_MAX];
        size_t n_figures;
        size_t kinds[_SHIFT_KIND_MAX];
        bool flagged, control_moved;
} IdentityShift;

/* The deltas of one figure (index into points/kb, or an exclusivity class) of the treated and
 * the control hosts of identity i. */
static void figure_shift(const Fleet *f, const FleetIdentity *i, int kb, int ka, int figure,
                         double *scratch, FigureShift *ret) {
        double *t_points = scratch, *t_kb = scratch + i->n, *c_points = scratch + 2 * i->n,
               *c_kb = scratch + 3 * i->n;
        size_t nt = 0, nc = 0;
        Thresholds t = f->config.thresholds;

        for (size_t k = 0; k < i->n; k++) {
                const HostDelta *d = &i->deltas[k];
                bool treated = d->before == kb && d->after == ka;
                bool control = d->before == kb && d->after == kb;
                double p, v;

                if (!treated && !control)
                        continue;
                if (figure < _COMPARE_METRIC_MAX) {
                        p = d->points[figure];
                        v = d->kb[figure];
                } else {
                        p = d->exclusive_points[figure - _COMPARE_METRIC_MAX];
                        v = 0;
                        if (isnan(p))
                                continue;
                }
                if (treated) {
                        t_points[nt] = p;
                        t_kb[nt++] = v;
                } else {
                        c_points[nc] = p;
                        c_kb[nc++] = v;
                }
        }
        fleet_shift(t_points, nt, c_points, nc, &ret->points);
        fleet_shift(t_kb, nt, c_kb, nc, &ret->kb);
        /* Exclusivity is a share of present pages: its kB floor does not apply. */
        if (figure >= _COMPARE_METRIC_MAX)
                t.min_delta_kb = 0;
        ret->flagged = fleet_shift_flagged(&ret->points, &ret->kb, &t, f->min_hosts);
        ret->control_moved = fleet_control_moved(&ret->points, &ret->kb, &t, f->min_hosts);
        ret->name = figure < _COMPARE_METRIC_MAX
                ? compare_metric_to_string(figure)
                : exclusivity_class_to_string(figure - _COMPARE_METRIC_MAX);
}

static void identity_shift(const Fleet *f, const FleetIdentity *i, int kb, int ka,
                           double *scratch, IdentityShift *ret) {
        IdentityShift s = { .identity = i };

        for (size_t k = 0; k < i->n; k++) {
                const HostDelta *d = &i->deltas[k];

                if (d->before == kb && d->after == ka) {
                        s.treated++;
                        if (d->kind >= 0 && d->kind < _SHIFT_KIND_MAX)
                                s.kinds[d->kind]++;
                } else if (d->before == kb && d->after == kb)
                        s.control++;
        }
        for (int fig = 0; fig < FIGURES_MAX; fig++) {
                FigureShift *x = &s.figures[s.n_figures];

                figure_shift(f, i, kb, ka, fig, scratch, x);
                if (x->points.treated.n == 0 && x->points.control.n == 0)
                        continue;
                s.flagged = s.flagged || x->flagged;
                s.control_moved = s.control_moved || x->control_moved;
                s.n_figures++;
        }
        *ret = s;
}

/* The kernel change: the releases asked for, else the (before, after) pair most hosts made. */
static bool fleet_pick(const Fleet *f, int *ret_before, int *ret_after) {
        size_t best = 0;

        *ret_before = *ret_after = -1;
        for (size_t a = 0; a < f->n_kernels; a++)
                for (size_t b = 0; b < f->n_kernels; b++) {
                        if (a == b || f->pairs[a][b] == 0)
                                continue;
                        if (f->config.want_before &&
                            (!streq_ptr(f->kernels[a].release, f->config.want_before) ||
                             !streq_ptr(f->kernels[b].release, f->config.want_after)))
                                continue;
                        if (f->pairs[a][b] > best) {
                                best = f->pairs[a][b];
                                *ret_before = (int) a;
                                *ret_after = (int) b;
                        }
                }
        return best > 0;
}

/* ---- output ---- */

static json_t *median_json(const MedianInterval *m, const char *suffix) {
        char median[32], low[32], high[32];

        (void) snprintf(median, sizeof median, "median%s", suffix);
        (void) snprintf(low, sizeof low, "low%s", suffix);
        (void) snprintf(high, sizeof high, "high%s", suffix);
        return json_pack("{s:I, s:f, s:f, s:f}", "hosts", (json_int_t) m->n,
                         median, isfinite(m->median) ? m->median : 0,
                         low, isfinite(m->low) ? m->low : 0,
                         high, isfinite(m->high) ? m->high : 0);
}

static json_t *figure_json(const FigureShift *x) {
        return json_pack("{s:f, s:f, s:f, s:f, s:o, s:o, s:b, s:b}",
                         "shift_points", x->points.estimate,
                         "low_points", x->points.low,
                         "high_points", x->points.high,
                         "shift_kb", x->kb.estimate,
                         "treated", median_json(&x->points.treated, "_points"),
                         "control", x->points.control.n > 0
                                 ? median_json(&x->points.control, "_points") : json_null(),
                         "flagged", (int) x->flagged,
                         "control_moved", (int) x->control_moved);
}

static json_t *identity_shift_json(const IdentityShift *s) {
        _cleanup_json_ json_t *figures = json_object(), *kinds = json_object();

        if (!figures || !kinds)
                return NULL;
        for (size_t k = 0; k < s->n_figures; k++)
                if (json_object_set_new(figures, s->figures[k].name,
                                        figure_json(&s->figures[k])) < 0)
                        return NULL;
        for (ShiftKind k = 0; k < _SHIFT_KIND_MAX; k++)
                if (json_object_set_new(kinds, shift_kind_to_string(k),
                                        json_integer((json_int_t) s->kinds[k])) < 0)
                        return NULL;
        return json_pack("{s:s, s:s?, s:s?, s:{s:I, s:I}, s:o, s:o}",
                         "key", s->identity->key, "comm", s->identity->comm,
                         "unit", s->identity->unit,
                         "hosts", "treated", (json_int_t) s->treated,
                         "control", (json_int_t) s->control,
                         "figures", TAKE_PTR(figures),
                         "classified", TAKE_PTR(kinds));
}

/* "14 acc", "12 acc 2 beh": how the hosts' own comparisons classified it (accounting,
 * behavior, mixed). */
static const char *kinds_text(const IdentityShift *s, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (ShiftKind k = SHIFT_ACCOUNTING; k < _SHIFT_KIND_MAX && len < size; k++) {
                if (s->kinds[k] == 0)
                        continue;
                len += (size_t) snprintf(buf + len, size - len, "%s%zu %.3s", len ? " " : "",
                                         s->kinds[k], shift_kind_to_string(k));
        }
        return buf[0] ? buf : "–";
}

static int shifts_table(const IdentityShift *shifts, size_t n, bool control) {
        static const char *const headers[] = { "IDENTITY", "FIGURE", "HOSTS", "SHIFT",
                                                "95% INTERVAL", "SIZE", "HOSTS SAY", NULL };
        static const bool right[] = { false, false, true, true, true, true, false };
        _cleanup_(table_freep) Table *t = table_new(headers, 0, right);

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool first = true;

                for (size_t k = 0; k < shifts[i].n_figures; k++) {
                        const FigureShift *x = &shifts[i].figures[k];
                        const FleetShift *p = &x->points;
                        char hosts[32], shift[32], interval[48], size[32], kinds[48];
                        const char *cells[7];

                        if (!(control ? x->control_moved : x->flagged))
                                continue;
                        (void) snprintf(hosts, sizeof hosts, "%zu/%zu", p->treated.n,
                                        p->control.n);
                        if (control) {
                                (void) snprintf(shift, sizeof shift, "%+.1f pt",
                                                p->control.median);
                                (void) snprintf(interval, sizeof interval, "[%+.1f, %+.1f]",
                                                p->control.low, p->control.high);
                        } else {
                                (void) snprintf(shift, sizeof shift, "%+.1f pt", p->estimate);
                                (void) snprintf(interval, sizeof interval, "[%+.1f, %+.1f]",
                                                p->low, p->high);
                        }
                        cells[0] = first ? shifts[i].identity->comm ?: shifts[i].identity->key
                                         : "";
                        cells[1] = x->name;
                        cells[2] = hosts;
                        cells[3] = shift;
                        cells[4] = interval;
                        cells[5] = startswith(x->name, "Exclusive") ? "" :
                                format_kb(control ? x->kb.control.median : x->kb.estimate, true,
                                          size, sizeof size);
                        cells[6] = first && !control ? kinds_text(&shifts[i], kinds,
                                                                  sizeof kinds) : "";
                        if (table_add(t, cells, NULL) < 0)
                                return -ENOMEM;
                        first = false;
                }
        }
        table_print(t, stdout);
        return 0;
}

static json_t *kernel_json(const Kernel *k, size_t hosts) {
        return json_pack("{s:s, s:s, s:I}", "release", k->release, "mapcount_mode", k->mode,
                         "hosts", (json_int_t) hosts);
}

static int fleet_print(const Fleet *f, int kb, int ka, const IdentityShift *shifts, size_t n,
                       OutputFormat format, size_t *ret_flagged) {
        size_t flagged = 0, moved = 0, treated = f->pairs[kb][ka], control = f->pairs[kb][kb];

        for (size_t i = 0; i < n; i++) {
                flagged += shifts[i].flagged;
                moved += shifts[i].control_moved;
        }
        *ret_flagged = flagged;

        if (format == FORMAT_JSON) {
                _cleanup_json_ json_t *kernels = json_array(), *list = json_array(),
                                      *both = json_array(), *skipped = json_array(), *doc = NULL;

                if (!kernels || !list || !both || !skipped)
                        return -ENOMEM;
                for (size_t i = 0; i < f->n_kernels; i++)
                        if (json_array_append_new(kernels, kernel_json(&f->kernels[i],
                                                                       f->kernels[i].hosts)) < 0)
                                return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        if (shifts[i].flagged &&
                            json_array_append_new(list, identity_shift_json(&shifts[i])) < 0)
                                return -ENOMEM;
                        if (shifts[i].control_moved &&
                            json_array_append_new(both, identity_shift_json(&shifts[i])) < 0)
                                return -ENOMEM;
                }
                for (size_t i = 0; i < f->n_skipped; i++)
                        if (json_array_append_new(skipped, json_pack(
                                    "{s:s, s:s}", "file", f->skipped[i].file, "error",
                                    f->skipped[i].error)) < 0)
                                return -ENOMEM;
                doc = json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:I, s:o, "
                                "s:o, s:o}",
                                "baseline", kernel_json(&f->kernels[kb], f->kernels[kb].hosts),
                                "candidate", kernel_json(&f->kernels[ka], f->kernels[ka].hosts),
                                "hosts", "read", (json_int_t) f->hosts_read,
                                "skipped", (json_int_t) f->n_skipped,
                                "changed_kernel", (json_int_t) treated,
                                "control", (json_int_t) control,
                                "unpaired", (json_int_t) (f->hosts_read - treated - control),
                                "kernels", TAKE_PTR(kernels),
                                "thresholds",
                                json_pack("{s:f, s:f}", "min_delta_kb",
                                          f->config.thresholds.min_delta_kb, "min_delta_points",
                                          f->config.thresholds.min_delta_points),
                                "min_hosts", (json_int_t) f->min_hosts,
                                "flagged", TAKE_PTR(list),
                                "changed_in_both", TAKE_PTR(both),
                                "skipped", TAKE_PTR(skipped));
                if (!doc)
                        return -ENOMEM;
                json_print(doc);
                return 0;
        }

        printf("Baseline   %s (%s), %zu hosts\n", f->kernels[kb].release, f->kernels[kb].mode,
               f->kernels[kb].hosts);
        printf("Candidate  %s (%s), %zu hosts\n", f->kernels[ka].release, f->kernels[ka].mode,
               f->kernels[ka].hosts);
        printf("Hosts      %zu read (%zu skipped): %zu changed kernel, %zu control, %zu "
               "neither\n", f->hosts_read, f->n_skipped, treated, control,
               f->hosts_read - treated - control);
        printf("\nKernel shifts: %zu identities moved consistently across hosts (difference\n"
               "in differences of medians, changed kernel − control, 95%% interval).\n",
               flagged);
        if (flagged > 0) {
                fputc('\n', stdout);
                if (shifts_table(shifts, n, false) < 0)
                        return -ENOMEM;
        }
        if (moved > 0) {
                printf("\nChanged in both groups, not by the kernel: %zu identities moved on\n"
                       "the control hosts too (their own median and interval).\n\n", moved);
                if (shifts_table(shifts, n, true) < 0)
                        return -ENOMEM;
        }
        return 0;
}

enum { OPT_MIN_KB = 0x100, OPT_MIN_POINTS, OPT_BASELINE, OPT_CANDIDATE, OPT_MIN_HOSTS };

/* The files of an argument: itself, or a directory's *.json files in name order. */
static int inputs_add(const char *arg, char ***files, size_t *n, size_t *allocated) {
        struct stat st;
        struct dirent **names = NULL;
        int k;

        if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode)) {
                char *copy = strdup(arg);

                if (!copy || GREEDY_REALLOC(*files, *allocated, *n + 1) < 0) {
                        free(copy);
                        return -ENOMEM;
                }
                (*files)[(*n)++] = copy;
                return 0;
        }
        k = scandir(arg, &names, NULL, alphasort);
        if (k < 0)
                return -errno;
        for (int i = 0; i < k; i++) {
                const char *name = names[i]->d_name;
                size_t len = strlen(name);
                char *path = NULL;

                if (len > 5 && strcmp(name + len - 5, ".json") == 0 &&
                    (asprintf(&path, "%s/%s", arg, name) < 0 ||
                     GREEDY_REALLOC(*files, *allocated, *n + 1) < 0)) {
                        free(path);
                        path = NULL;
                        k = -ENOMEM;
                }
                if (path)
                        (*files)[(*n)++] = path;
                free(names[i]);
        }
        free(names);
        return k < 0 ? k : 0;
}

static int run_fleet(Ctl *ctl, int argc, char *argv[]) {
        static const struct option longopts[] = {
                { "min-delta-kb", required_argument, NULL, OPT_MIN_KB },
                { "min-delta-points", required_argument, NULL, OPT_MIN_POINTS },
                { "baseline", required_argument, NULL, OPT_BASELINE },
                { "candidate", required_argument, NULL, OPT_CANDIDATE },
                { "min-hosts", required_argument, NULL, OPT_MIN_HOSTS },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const Command *cmd = &command_fleet;
        FleetReader *reader = NULL;
        Fleet *f = NULL;
        char **files = NULL;
        IdentityShift *shifts = NULL;
        double *scratch = NULL;
        size_t n_files = 0, allocated = 0, most = 1, flagged = 0;
        int c, r, kb, ka, ret = EXIT_OK;

        if (argc >= 2 && streq_ptr(argv[1], "--help")) {
                command_usage(cmd, stdout);
                return EXIT_OK;
        }
        if (argc < 2 || !streq_ptr(argv[1], "compare"))
                return ctl_error(cmd, "expected 'fleet compare SNAPSHOT…|DIR'");
        argc--;
        argv++;

        f = calloc(1, sizeof *f);
        if (!f)
                return ctl_error(cmd, "out of memory");
        f->config.thresholds = THRESHOLDS_DEFAULT;
        f->min_hosts = MIN_HOSTS_DEFAULT;
        while ((c = command_getopt(cmd, argc, argv, longopts, &ret)) != -1) {
                double d;
                uint64_t u;

                if (c == '?')
                        goto finish;
                switch (c) {
                case OPT_MIN_KB:
                case OPT_MIN_POINTS:
                        if (safe_atod(optarg, &d) < 0 || !(d >= 0)) {
                                ret = ctl_error(cmd, "invalid value '%s' for --%s: expected a "
                                                "non-negative number", optarg,
                                                longopts[c - OPT_MIN_KB].name);
                                goto finish;
                        }
                        if (c == OPT_MIN_KB)
                                f->config.thresholds.min_delta_kb = d;
                        else
                                f->config.thresholds.min_delta_points = d;
                        break;
                case OPT_BASELINE:
                        f->config.want_before = optarg;
                        break;
                case OPT_CANDIDATE:
                        f->config.want_after = optarg;
                        break;
                case OPT_MIN_HOSTS:
                        if (safe_atou64(optarg, &u) < 0 || u < 1 || u > 1000000) {
                                ret = ctl_error(cmd, "invalid value '%s' for --min-hosts: "
                                                "expected a number of hosts", optarg);
                                goto finish;
                        }
                        f->min_hosts = (size_t) u;
                        break;
                }
        }
        if (!f->config.want_before != !f->config.want_after) {
                ret = ctl_error(cmd, "--baseline and --candidate go together");
                goto finish;
        }
        if (optind >= argc) {
                ret = ctl_error(cmd, "expected snapshot files or a directory of them");
                goto finish;
        }
        for (int i = optind; i < argc; i++) {
                r = inputs_add(argv[i], &files, &n_files, &allocated);
                if (r < 0) {
                        ret = ctl_error(cmd, "cannot read '%s': %s", argv[i], strerror(-r));
                        goto finish;
                }
        }
        r = fleet_reader_start(&reader, &f->config, files, n_files);
        if (r < 0) {
                ret = ctl_error(cmd, "cannot start reading: %s", strerror(-r));
                goto finish;
        }
        for (size_t i = 0; i < n_files && r >= 0; i++) {
                HostResult h;

                fleet_reader_take(reader, i, &h);
                r = host_merge(f, files[i], &h);
                host_result_done(&h);
        }
        fleet_reader_stop(reader);
        if (r < 0) {
                ret = ctl_error(cmd, "%s", strerror(-r));
                goto finish;
        }
        if (f->hosts_read == 0) {
                ret = ctl_error(cmd, "no usable snapshot among %zu files", n_files);
                goto finish;
        }
        if (!fleet_pick(f, &kb, &ka)) {
                ret = f->config.want_before
                        ? ctl_error(cmd, "no host went from %s to %s", f->config.want_before,
                                    f->config.want_after)
                        : ctl_error(cmd, "no host ran two kernels: nothing to compare");
                goto finish;
        }

        for (size_t i = 0; i < f->n_identities; i++)
                most = MAX(most, f->list[i]->n);
        scratch = calloc(4 * most, sizeof *scratch);
        shifts = calloc(MAX(f->n_identities, (size_t) 1), sizeof *shifts);
        if (!scratch || !shifts) {
                ret = ctl_error(cmd, "out of memory");
                goto finish;
        }
        for (size_t i = 0; i < f->n_identities; i++)
                identity_shift(f, f->list[i], kb, ka, scratch, &shifts[i]);
        r = fleet_print(f, kb, ka, shifts, f->n_identities, ctl->format, &flagged);
        if (r < 0) {
                ret = ctl_error(cmd, "out of memory");
                goto finish;
        }
        ret = f->n_skipped > 0 ? (flagged > 0 ? EXIT_FLAGGED_SKIPPED : EXIT_SKIPPED)
                               : (flagged > 0 ? EXIT_FLAGGED : EXIT_OK);
finish:
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        free(shifts);
        free(scratch);
        fleet_free(f);
        return ret;
}

static const char *const fleet_options[] = {
        "--baseline RELEASE       the old kernel's release (with --candidate; default: the",
        "                         change most hosts made)",
        "--candidate RELEASE      the new kernel's release",
        "--min-hosts N            hosts that changed kernel an identity needs (default 3)",
        "--min-delta-kb KB        a shift must move this many kB (default 1024)",
        "--min-delta-points P     … and this many percentage points of Rss (default 1.0)",
        NULL,
};

const Command command_fleet = {
        .name = "fleet",
        .synopsis = "compare [OPTIONS] SNAPSHOT…|DIR",
        .help = "what a kernel change moved across many hosts' snapshots",
        .options = fleet_options,
        .run = run_fleet,
};
