/* Settings for mapstatd: one table maps each option to its configuration-file key, its
 * command-line name, its default, its validator and its help text; defaults < file < drop-ins <
 * command line. The defaults are parsed from the table with the same validators the file and
 * the command line use, and --help is printed from it. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <syslog.h>

#include <ini.h>

#include "config.h"
#include "fileio.h"
#include "macro.h"
#include "options.h"
#include "parse-util.h"
#include "time-util.h"

typedef int (*SettingParser)(const char *value, void *field, const char **reterr);

typedef struct Setting {
        OptionInfo info;
        SettingParser parse;    /* NULL for a command-line-only option */
        size_t offset;          /* of its field in Options */
} Setting;

static int parse_string(const char *v, void *field, const char **reterr) {
        char **s = field, *n;

        if (!*v) {
                *reterr = "must not be empty";
                return -EBADMSG;
        }
        n = strdup(v);
        if (!n)
                return -ENOMEM;
        free(*s);
        *s = n;
        return 0;
}

static int parse_listen(const char *v, void *field, const char **reterr) {
        unsigned char bin[sizeof(struct in6_addr)];
        char addr[64];
        uint16_t port;

        /* Numeric only: the daemon binds before anything could resolve a name. */
        if (parse_listen_address(v, addr, sizeof addr, &port) < 0 ||
            (inet_pton(AF_INET, addr, bin) != 1 && inet_pton(AF_INET6, addr, bin) != 1)) {
                *reterr = "expected a numeric ADDR:PORT such as 127.0.0.1:9100 or [::1]:9100";
                return -EBADMSG;
        }
        return parse_string(v, field, reterr);
}

/* A duration from min to max microseconds into the uint64_t *field; why names the range. */
static int parse_duration_between(const char *v, void *field, uint64_t min, uint64_t max,
                                  const char *why, const char **reterr) {
        uint64_t usec;

        if (parse_duration_usec(v, &usec) < 0 || usec < min || usec > max) {
                *reterr = why;
                return -EBADMSG;
        }
        *(uint64_t *) field = usec;
        return 0;
}

static int parse_interval(const char *v, void *field, const char **reterr) {
        return parse_duration_between(v, field, 100 * USEC_PER_MSEC, 86400 * USEC_PER_SEC,
                                      "expected a duration between 100ms and 1d, e.g. 60 or 30s "
                                      "or 5min", reterr);
}

static int parse_retention(const char *v, void *field, const char **reterr) {
        return parse_duration_between(v, field, 60 * USEC_PER_SEC, UINT64_MAX,
                                      "expected a duration of at least 1min, e.g. 7d or 36h",
                                      reterr);
}

static int parse_downsample_after(const char *v, void *field, const char **reterr) {
        uint64_t *usec = field;
        int r;

        r = parse_duration_between(v, field, 0, UINT64_MAX,
                                   "expected 0 or a duration of at least 1h, e.g. 2h or 1d",
                                   reterr);
        if (r >= 0 && *usec > 0 && *usec < 3600 * USEC_PER_SEC) {
                *reterr = "expected 0 or a duration of at least 1h, e.g. 2h or 1d";
                return -EBADMSG;
        }
        return r;
}

static int parse_keep(const char *v, void *field, const char **reterr) {
        uint32_t n;

        if (safe_atou32(v, &n) < 0 || n < 1 || n > 100000) {
                *reterr = "expected a whole number from 1 to 100000";
                return -EBADMSG;
        }
        *(uint32_t *) field = n;
        return 0;
}

static int parse_metrics_identities(const char *v, void *field, const char **reterr) {
        uint32_t n;

        if (safe_atou32(v, &n) < 0 || n > 100000) {
                *reterr = "expected a whole number from 0 to 100000";
                return -EBADMSG;
        }
        *(uint32_t *) field = n;
        return 0;
}

/* A directory for the metrics textfile, or "" for none. Bounded: the path is part of the status
 * every HTTP thread copies. */
static int parse_textfile_directory(const char *v, void *field, const char **reterr) {
        char **s = field;

        if (strlen(v) >= WEB_TEXTFILE_DIRECTORY_MAX) {
                *reterr = "path too long";
                return -EBADMSG;
        }
        if (!*v) {
                *s = mfree(*s);
                return 0;
        }
        return parse_string(v, field, reterr);
}

static int parse_bool(const char *v, void *field, const char **reterr) {
        if (parse_boolean(v, (bool *) field) < 0) {
                *reterr = "expected yes or no";
                return -EBADMSG;
        }
        return 0;
}

static int parse_identity(const char *v, void *field, const char **reterr) {
        IdentityMode m = identity_mode_from_string(v);

        if (m < 0) {
                *reterr = "expected exe-args, exe, comm or unit";
                return -EBADMSG;
        }
        *(IdentityMode *) field = m;
        return 0;
}

static int parse_nonneg(const char *v, void *field, const char **reterr) {
        double d;

        if (safe_atod(v, &d) < 0 || d < 0) {
                *reterr = "expected a non-negative number";
                return -EBADMSG;
        }
        *(double *) field = d;
        return 0;
}

static int parse_log_level(const char *v, void *field, const char **reterr) {
        static const char *const names[] = {
                [LOG_ERR] = "err",   [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
                [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
        };

        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (names[i] && strcmp(v, names[i]) == 0) {
                        *(int *) field = (int) i;
                        return 0;
                }
        *reterr = "expected err, warning, notice, info or debug";
        return -EBADMSG;
}

static const char *const pagemap_mode_names[_PAGEMAP_MODE_MAX] = {
        [PAGEMAP_MODE_OFF] = "off",
        [PAGEMAP_MODE_EXCLUSIVITY] = "exclusivity",
        [PAGEMAP_MODE_FULL] = "full",
};

const char *pagemap_mode_to_string(PagemapMode m) {
        if (m < 0 || m >= _PAGEMAP_MODE_MAX)
                return NULL;
        return pagemap_mode_names[m];
}

static int parse_pagemap_mode(const char *v, void *field, const char **reterr) {
        for (PagemapMode m = 0; m < _PAGEMAP_MODE_MAX; m++)
                if (strcmp(v, pagemap_mode_names[m]) == 0) {
                        *(PagemapMode *) field = m;
                        return 0;
                }
        *reterr = "expected off, exclusivity or full";
        return -EBADMSG;
}

static int parse_max_scan(const char *v, void *field, const char **reterr) {
        uint64_t bytes;

        if (parse_size_bytes(v, &bytes) < 0 || bytes < (1ULL << 20)) {
                *reterr = "expected a size of at least 1M, e.g. 64G";
                return -EBADMSG;
        }
        *(uint64_t *) field = bytes;
        return 0;
}

static int parse_budget(const char *v, void *field, const char **reterr) {
        return parse_duration_between(v, field, 100 * USEC_PER_MSEC, UINT64_MAX,
                                      "expected a duration of at least 100ms, e.g. 10s", reterr);
}

static int parse_stall_budget(const char *v, void *field, const char **reterr) {
        int r;

        r = parse_duration_between(v, field, 0, 60 * USEC_PER_SEC,
                                   "expected a duration of at least 1ms and up to 1min, e.g. "
                                   "20ms, or 0 to read every process through smaps_rollup",
                                   reterr);
        if (r >= 0 && *(uint64_t *) field > 0 && *(uint64_t *) field < USEC_PER_MSEC) {
                *reterr = "expected a duration of at least 1ms and up to 1min, e.g. 20ms, or 0 "
                          "to read every process through smaps_rollup";
                return -EBADMSG;
        }
        return r;
}

static int parse_staleness(const char *v, void *field, const char **reterr) {
        return parse_duration_between(v, field, 0, 86400 * USEC_PER_SEC,
                                      "expected a duration up to 1d, e.g. 5min, or 0 to read "
                                      "every process in every sweep", reterr);
}

/* Command-line-only options: handled by options_parse() itself. */
enum {
        ARG_CONFIG = 'c',
        ARG_HELP = 'h',
        ARG_ONCE = 0x100,
        ARG_VERSION,
};

#define F(member) offsetof(Options, member)
#define SETTING(section, key, option, short_option, metavar, def, def_help, help, parse, field) \
        { { section, key, option, short_option, metavar, def, def_help, help }, parse, F(field) }
#define ACTION(option, short_option, metavar, def_help, help) \
        { { NULL, NULL, option, short_option, metavar, NULL, def_help, help }, NULL, 0 }
static const Setting settings[] = {
        SETTING("Daemon", "Database", "db", 'd', "PATH", NULL,
                "$STATE_DIRECTORY/" DEFAULT_DB_NAME ", else " DEFAULT_DB_DIR "/" DEFAULT_DB_NAME,
                "SQLite database", parse_string, db_path),
        SETTING("Daemon", "Listen", "listen", 'l', "ADDR:PORT", DEFAULT_LISTEN, NULL,
                "HTTP listener when not socket-activated", parse_listen, listen),
        SETTING("Daemon", "Interval", "interval", 'i', "DURATION", "60s", NULL,
                "time between sweeps", parse_interval, interval_usec),
        SETTING("Daemon", "ProcRoot", "proc-root", 0, "DIR", "/proc", NULL,
                "read procfs here", parse_string, proc_root),
        SETTING("Daemon", "SysRoot", "sys-root", 0, "DIR", "/sys", NULL,
                "read sysfs here", parse_string, sys_root),
        SETTING("Daemon", "BootRoot", "boot-root", 0, "DIR", "/boot", NULL,
                "look for config-RELEASE here", parse_string, boot_root),
        SETTING("Daemon", "Retention", "retention", 0, "DURATION", "7d", NULL,
                "keep per-process samples this long", parse_retention, retention_usec),
        SETTING("Daemon", "KeepSweepsPerEpoch", "keep-per-epoch", 0, "N", "120", NULL,
                "sweeps of each epoch kept for good", parse_keep, keep_per_epoch),
        SETTING("Daemon", "DownsampleAfter", "downsample-after", 0, "DURATION", "2h", NULL,
                "keep history older than this as one sample per hour, older than a day per 6 "
                "hours (0: every sweep for the whole retention)", parse_downsample_after,
                downsample_after_usec),
        SETTING("Report", "Identity", "identity", 0, "MODE", "exe-args", NULL,
                "match processes by exe-args, exe, comm or unit", parse_identity, identity_mode),
        SETTING("Report", "MinDeltaKB", "min-delta-kb", 0, "KB", "1024", NULL,
                "report threshold in kB", parse_nonneg, thresholds.min_delta_kb),
        SETTING("Report", "MinDeltaPoints", "min-delta-points", 0, "P", "1.0", NULL,
                "report threshold in ratio points", parse_nonneg, thresholds.min_delta_points),
        SETTING("Report", "NoiseFactor", "noise-factor", 0, "F", "3", NULL,
                "multiple of the within-epoch spread a shift must exceed", parse_nonneg,
                thresholds.noise_factor),
        SETTING("Daemon", "LogLevel", "log-level", 0, "LEVEL", "info", NULL,
                "err, warning, notice, info or debug", parse_log_level, log_level),
        SETTING("Daemon", "Pagemap", "pagemap", 0, "MODE", "exclusivity", NULL,
                "off, exclusivity or full (PFNs, needs CAP_SYS_ADMIN: truth and "
                "NO_PAGE_MAPCOUNT forecast)", parse_pagemap_mode, pagemap_mode),
        SETTING("Daemon", "PagemapMaxScan", "pagemap-max-scan", 0, "SIZE", "64G", NULL,
                "mapped address space scanned per process", parse_max_scan,
                pagemap_max_scan_bytes),
        SETTING("Daemon", "PagemapBudget", "pagemap-budget", 0, "DURATION", "10s", NULL,
                "pagemap reading per sweep", parse_budget, pagemap_budget_usec),
        SETTING("Daemon", "MaxStaleness", "max-staleness", 0, "DURATION", "5min", NULL,
                "re-read a process whose stat shows no change only when its figures are this "
                "old (0: read every process in every sweep)", parse_staleness,
                max_staleness_usec),
        SETTING("Daemon", "StallBudget", "stall-budget", 0, "DURATION", "20ms", NULL,
                "read a process through pagemap when one walk of its largest mapping could "
                "hold its mmap lock longer (needs CAP_SYS_ADMIN; 0: never)", parse_stall_budget,
                stall_budget_usec),
        SETTING("Web", "RedactCmdline", "redact-cmdline", 0, "BOOL", "no", NULL,
                "show argv[0] only of command lines in every response", parse_bool,
                redact_cmdline),
        SETTING("Web", "MetricsIdentities", "metrics-identities", 0, "N", "100", NULL,
                "identities in /metrics, the largest by Rss (0: none)", parse_metrics_identities,
                metrics_identities),
        SETTING("Web", "TextfileDirectory", "textfile-directory", 0, "DIR", "", "none",
                "also write the metrics to DIR/mapstatd.prom after every sweep, for "
                "node_exporter's textfile collector", parse_textfile_directory,
                textfile_directory),
        ACTION("config", ARG_CONFIG, "FILE", DEFAULT_CONFIG_FILE " if it exists",
               "configuration file"),
        ACTION("once", 0, NULL, NULL, "run one sweep, store it, print a summary, exit"),
        ACTION("help", ARG_HELP, NULL, NULL, "show this help"),
        ACTION("version", 0, NULL, NULL, "show the version"),
};
#undef ACTION
#undef SETTING
#undef F

const OptionInfo *options_table_get(size_t i) {
        return i < ELEMENTSOF(settings) ? &settings[i].info : NULL;
}

static bool setting_is_file_key(const Setting *s) {
        return s->info.section != NULL;
}

int options_init(Options *o) {
        *o = (Options) {};
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const Setting *st = &settings[i];
                const char *why = NULL;
                int r;

                if (!st->parse || !st->info.default_value)
                        continue;
                r = st->parse(st->info.default_value, (char *) o + st->offset, &why);
                if (r < 0) {
                        /* The table's own default does not validate: a programmer error,
                         * caught by the unit tests; out of memory otherwise. */
                        assert(r == -ENOMEM);
                        options_done(o);
                        return r;
                }
        }
        return 0;
}

void options_done(Options *o) {
        free(o->db_path);
        free(o->listen);
        free(o->proc_root);
        free(o->sys_root);
        free(o->boot_root);
        free(o->textfile_directory);
        *o = (Options) {};
}

/* Deep copy, so that a file can be applied to a scratch copy and swapped in only when valid. */
static int options_copy(const Options *src, Options *ret) {
        Options o = *src;

        o.db_path = src->db_path ? strdup(src->db_path) : NULL;
        o.listen = strdup(src->listen);
        o.proc_root = strdup(src->proc_root);
        o.sys_root = strdup(src->sys_root);
        o.boot_root = strdup(src->boot_root);
        o.textfile_directory = src->textfile_directory ? strdup(src->textfile_directory) : NULL;
        if ((src->db_path && !o.db_path) || !o.listen || !o.proc_root || !o.sys_root ||
            !o.boot_root || (src->textfile_directory && !o.textfile_directory)) {
                options_done(&o);
                return -ENOMEM;
        }
        *ret = o;
        return 0;
}

typedef struct IniState {
        Options *options;
        const char *path;
        FILE *file;
        int lineno;     /* counted by the reader: Debian's inih does not pass line numbers */
        int seen[ELEMENTSOF(settings)];         /* the line of each key set so far, 0: none */
        char *error;
} IniState;

static char *config_ini_reader(char *str, int num, void *userdata) {
        IniState *st = userdata;
        char *r = fgets(str, num, st->file);

        if (r)
                st->lineno++;
        return r;
}

/* A copy of value without an inline comment: from a '#' or ';' after a blank (inih takes ';'
 * only), with the blanks before it. */
static char *value_uncomment(const char *value) {
        size_t n = 0;

        for (const char *c = value; *c; c++)
                if ((*c == '#' || *c == ';') && c > value && (c[-1] == ' ' || c[-1] == '\t'))
                        break;
                else
                        n++;
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
                n--;
        return strndup(value, n);
}

static int config_ini_handler(void *userdata, const char *section, const char *key,
                              const char *raw) {
        _cleanup_free_ char *value = value_uncomment(raw);
        IniState *st = userdata;
        int lineno = st->lineno;
        const char *why = NULL;

        if (st->error || !value)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const Setting *s = &settings[i];

                if (!setting_is_file_key(s) || strcmp(s->info.section, section) != 0 ||
                    strcmp(s->info.key, key) != 0)
                        continue;
                /* A file is read top to bottom by people too: a second line for one key is a
                 * mistake, not an override (drop-ins override). */
                if (st->seen[i] > 0) {
                        if (asprintf(&st->error, "%s:%d: duplicate key %s= in section [%s] (first "
                                     "set on line %d)", st->path, lineno, key, section,
                                     st->seen[i]) < 0)
                                st->error = NULL;
                        return 0;
                }
                st->seen[i] = lineno;
                if (s->parse(value, (char *) st->options + s->offset, &why) < 0) {
                        if (asprintf(&st->error, "%s:%d: invalid value '%s' for %s=: %s", st->path,
                                     lineno, value, key, why ? why : "out of memory") < 0)
                                st->error = NULL;
                        return 0;
                }
                return 1;
        }
        if (asprintf(&st->error, "%s:%d: unknown key '%s' in section [%s]", st->path, lineno, key,
                     section) < 0)
                st->error = NULL;
        return 0;
}

/* The largest configuration file read: far beyond any real one. */
#define CONFIG_FILE_MAX (1024 * 1024)

int options_load_file(Options *o, const char *path, char **reterr) {
        _cleanup_(read_buf_done) ReadBuf buf = READ_BUF_INIT;
        _cleanup_fclose_ FILE *f = NULL;
        const char *nul;
        Options scratch;
        IniState st;
        int r;

        /* Read whole first: a directory or a FIFO is refused rather than read as empty or
         * waited on, and a NUL byte, which would cut its line short unseen, is an error. */
        r = read_file_at(AT_FDCWD, path, CONFIG_FILE_MAX, &buf);
        if ((r == -EBADFD || r == -E2BIG) && reterr &&
            asprintf(reterr, "%s: %s", path, r == -E2BIG ? "larger than 1 MiB" :
                     read_strerror(r)) < 0)
                *reterr = NULL;
        if (r < 0)
                return r == -EBADFD || r == -E2BIG ? -EBADMSG : r;
        nul = memchr(buf.data, '\0', buf.size);
        if (nul) {
                int line = 1;

                for (const char *c = buf.data; c < nul; c++)
                        line += *c == '\n';
                if (reterr && asprintf(reterr, "%s:%d: a NUL byte", path, line) < 0)
                        *reterr = NULL;
                return -EBADMSG;
        }
        f = fmemopen(buf.data, buf.size, "r");
        if (!f)
                return -errno;

        r = options_copy(o, &scratch);
        if (r < 0)
                return r;
        st = (IniState) { .options = &scratch, .path = path, .file = f };
        r = ini_parse_stream(config_ini_reader, &st, config_ini_handler, &st);
        if (st.error || r != 0) {
                if (!st.error && r > 0 &&
                    asprintf(&st.error, "%s:%d: syntax error (expected [Section] or Key=value)",
                             path, r) < 0)
                        st.error = NULL;
                if (reterr)
                        *reterr = st.error;
                else
                        free(st.error);
                options_done(&scratch);
                return r < 0 ? -EIO : -EBADMSG;
        }
        options_done(o);
        *o = scratch;
        return 0;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int options_load_dropins(Options *o, const char *config_path, char **reterr) {
        _cleanup_free_ char *dir = NULL;
        _cleanup_(closedirp) DIR *d = NULL;
        char **names = NULL;
        size_t n = 0, allocated = 0;
        struct dirent *de;
        int r = 0;

        if (asprintf(&dir, "%s.d", config_path) < 0)
                return -ENOMEM;
        d = opendir(dir);
        if (!d)
                return errno == ENOENT ? 0 : -errno;

        while ((errno = 0, de = readdir(d))) {
                size_t len = strlen(de->d_name);

                if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf") != 0)
                        continue;
                if (n == allocated) {
                        size_t m = MAX(allocated * 2, (size_t) 8);
                        char **p = reallocarray(names, m, sizeof *p);
                        if (!p) {
                                r = -ENOMEM;
                                goto finish;
                        }
                        names = p;
                        allocated = m;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        goto finish;
                }
                n++;
        }
        if (errno != 0) {
                r = -errno;
                goto finish;
        }

        /* Lexical order, each over the result of the ones before, like systemd's drop-ins. An
         * empty directory leaves names NULL, which qsort() may not be given. */
        if (n > 1)
                qsort(names, n, sizeof *names, strcmp_ptr);
        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *path = NULL;

                if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
                        r = -ENOMEM;
                        break;
                }
                r = options_load_file(o, path, reterr);
                if (r < 0 && reterr && !*reterr &&
                    asprintf(reterr, "cannot read configuration file '%s': %s", path,
                             strerror(-r)) < 0)
                        *reterr = NULL;
        }

finish:
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

/* Column of the help texts in --help, and the width they are wrapped to. */
/* getopt_long() value of a setting without a short option. */
#define ARG_SETTING_BASE 0x200

/* The setting a getopt_long() value stands for, or NULL (an action or an unknown value). */
static const Setting *setting_of_option(int c) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const Setting *s = &settings[i];

                if (s->parse && (s->info.short_option ? s->info.short_option == c
                                                      : (int) (ARG_SETTING_BASE + i) == c))
                        return s;
        }
        return NULL;
}

/* The long options and the short option string of getopt_long(), from the table. */
static void options_getopt_tables(struct option *longopts, char *shortopts) {
        size_t n = 0, k = 0;

        shortopts[k++] = ':';
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const Setting *s = &settings[i];
                const OptionInfo *o = &s->info;
                int val;

                if (o->short_option)
                        val = o->short_option;
                else if (s->parse)
                        val = (int) (ARG_SETTING_BASE + i);
                else
                        val = strcmp(o->option, "once") == 0 ? ARG_ONCE : ARG_VERSION;
                longopts[n++] = (struct option) {
                        o->option, o->metavar ? required_argument : no_argument, NULL, val,
                };
                if (o->short_option) {
                        shortopts[k++] = o->short_option;
                        if (o->metavar)
                                shortopts[k++] = ':';
                }
        }
        longopts[n] = (struct option) {};
        shortopts[k] = '\0';
}

/* Formats the one-line error for the caller; returns r. */
_printf_(3, 4) static int fail(char **reterr, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(reterr, fmt, ap) < 0)
                *reterr = NULL;
        va_end(ap);
        return r;
}

int options_load_config(Options *o, const char *path, bool explicit, char **ret_path,
                        char **reterr) {
        _cleanup_free_ char *config = strdup(path ?: DEFAULT_CONFIG_FILE);
        int r;

        if (!config)
                return -ENOMEM;
        {
                _cleanup_free_ char *err = NULL;

                r = options_load_file(o, config, &err);
                if (r == -ENOENT && !explicit)
                        config = mfree(config);
                else if (r < 0) {
                        if (err) {
                                *reterr = TAKE_PTR(err);
                                return r;
                        }
                        return fail(reterr, r, "cannot read configuration file '%s': %s", config,
                                    strerror(-r));
                }
        }
        {
                /* Drop-ins next to the file apply even when the file itself does not exist. */
                const char *base = config ? config : DEFAULT_CONFIG_FILE;
                _cleanup_free_ char *err = NULL;

                r = options_load_dropins(o, base, &err);
                if (r < 0) {
                        if (err) {
                                *reterr = TAKE_PTR(err);
                                return r;
                        }
                        return fail(reterr, r, "cannot read configuration directory '%s.d': %s",
                                    base, strerror(-r));
                }
        }
        if (ret_path) {
                free(*ret_path);
                *ret_path = TAKE_PTR(config);
        }
        return 0;
}

void options_to_status(const Options *o, WebStatusData *st) {
        st->interval_usec = o->interval_usec;
        st->thresholds = o->thresholds;
        st->identity_mode = o->identity_mode;
        st->pagemap_mode = pagemap_mode_to_string(o->pagemap_mode);
        st->report_window = o->keep_per_epoch;
        st->metrics_identities = o->metrics_identities;
        st->redact_cmdline = o->redact_cmdline;
        (void) snprintf(st->textfile_directory, sizeof st->textfile_directory, "%s",
                        o->textfile_directory ?: "");
}

int options_parse(int argc, char *argv[], Options *o, OptionsAction *ret_action,
                  char **ret_config_path, char **reterr) {
        struct option longopts[ELEMENTSOF(settings) + 1];
        char shortopts[3 * ELEMENTSOF(settings) + 2];
        _cleanup_free_ char *config = NULL;
        OptionsAction action = OPTIONS_RUN;
        bool config_explicit = false;
        int c, r;

        options_getopt_tables(longopts, shortopts);

        /* First pass: what to do and which file to load; nothing else is applied yet. */
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                switch (c) {
                case ARG_CONFIG:
                        free(config);
                        config = strdup(optarg);
                        if (!config)
                                return -ENOMEM;
                        config_explicit = true;
                        break;
                case ARG_HELP:
                        action = OPTIONS_HELP;
                        break;
                case ARG_VERSION:
                        action = OPTIONS_VERSION;
                        break;
                case ARG_ONCE:
                        if (action == OPTIONS_RUN)
                                action = OPTIONS_ONCE;
                        break;
                case '?':
                        if (optopt)
                                return fail(reterr, -EINVAL, "unknown option '-%c'", optopt);
                        return fail(reterr, -EINVAL, "unknown option '%s'", argv[optind - 1]);
                case ':':
                        return fail(reterr, -EINVAL, "option '%s' needs a value", argv[optind - 1]);
                default:
                        break;
                }
        }
        if (optind < argc)
                return fail(reterr, -EINVAL, "unexpected argument '%s'", argv[optind]);
        if (action == OPTIONS_HELP || action == OPTIONS_VERSION) {
                *ret_action = action;
                *ret_config_path = NULL;
                return 0;
        }

        r = options_load_config(o, config, config_explicit, &config, reterr);
        if (r < 0)
                return r;

        /* Second pass: command-line values override the file. */
        optind = 1;
        while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) >= 0) {
                const Setting *s = setting_of_option(c);
                const char *why = NULL;

                if (!s)
                        continue;
                r = s->parse(optarg, (char *) o + s->offset, &why);
                if (r < 0)
                        return fail(reterr, r, "invalid value '%s' for --%s: %s", optarg,
                                    s->info.option, why ? why : strerror(-r));
        }

        *ret_action = action;
        *ret_config_path = TAKE_PTR(config);
        return 0;
}

int options_db_path(const Options *o, char **ret, bool *ret_is_default) {
        const char *state = getenv("STATE_DIRECTORY");
        char *p;

        if (o->db_path) {
                p = strdup(o->db_path);
                *ret_is_default = false;
        } else if (state && *state) {
                /* systemd passes a colon-separated list; the first is ours. */
                size_t len = strcspn(state, ":");
                if (asprintf(&p, "%.*s/%s", (int) len, state, DEFAULT_DB_NAME) < 0)
                        p = NULL;
                *ret_is_default = false;
        } else {
                p = strdup(DEFAULT_DB_DIR "/" DEFAULT_DB_NAME);
                *ret_is_default = true;
        }
        if (!p)
                return -ENOMEM;
        *ret = p;
        return 0;
}
