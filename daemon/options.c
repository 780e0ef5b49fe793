/* Settings for mapstatd: one table maps each setting to its configuration-file key, its
 * command-line option and its validator; defaults < file < drop-ins < command line. */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
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
#include "macro.h"
#include "options.h"
#include "parse-util.h"
#include "time-util.h"

typedef int (*SettingParser)(const char *value, void *field, const char **reterr);

typedef struct Setting {
        const char *section;
        const char *key;
        const char *option;     /* long option without "--" */
        SettingParser parse;
        size_t offset;
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

static int parse_interval(const char *v, void *field, const char **reterr) {
        uint64_t usec;

        if (parse_duration_usec(v, &usec) < 0 || usec < 100 * USEC_PER_MSEC ||
            usec > 86400ULL * 1000000ULL) {
                *reterr = "expected a duration between 100ms and 1d, e.g. 60 or 30s or 5min";
                return -EBADMSG;
        }
        *(uint64_t *) field = usec;
        return 0;
}

static int parse_retention(const char *v, void *field, const char **reterr) {
        uint64_t usec;

        if (parse_duration_usec(v, &usec) < 0 || usec < 60ULL * 1000000ULL) {
                *reterr = "expected a duration of at least 1min, e.g. 7d or 36h";
                return -EBADMSG;
        }
        *(uint64_t *) field = usec;
        return 0;
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
        uint64_t usec;

        if (parse_duration_usec(v, &usec) < 0 || usec < 100 * USEC_PER_MSEC) {
                *reterr = "expected a duration of at least 100ms, e.g. 10s";
                return -EBADMSG;
        }
        *(uint64_t *) field = usec;
        return 0;
}

#define F(member) offsetof(Options, member)
static const Setting settings[] = {
        { "Daemon", "Database",           "db",             parse_string,    F(db_path) },
        { "Daemon", "Listen",             "listen",         parse_listen,    F(listen) },
        { "Daemon", "Interval",           "interval",       parse_interval,  F(interval_usec) },
        { "Daemon", "ProcRoot",           "proc-root",      parse_string,    F(proc_root) },
        { "Daemon", "SysRoot",            "sys-root",       parse_string,    F(sys_root) },
        { "Daemon", "BootRoot",           "boot-root",      parse_string,    F(boot_root) },
        { "Daemon", "Retention",          "retention",      parse_retention, F(retention_usec) },
        { "Daemon", "KeepSweepsPerEpoch", "keep-per-epoch", parse_keep,      F(keep_per_epoch) },
        { "Daemon", "LogLevel",           "log-level",      parse_log_level, F(log_level) },
        { "Daemon", "Pagemap",            "pagemap",        parse_pagemap_mode, F(pagemap_mode) },
        { "Daemon", "PagemapMaxScan",     "pagemap-max-scan", parse_max_scan, F(pagemap_max_scan_bytes) },
        { "Daemon", "PagemapBudget",      "pagemap-budget", parse_budget,    F(pagemap_budget_usec) },
        { "Report", "Identity",           "identity",       parse_identity,  F(identity_mode) },
        { "Report", "MinDeltaKB",         "min-delta-kb",   parse_nonneg,    F(thresholds.min_delta_kb) },
        { "Report", "MinDeltaPoints",     "min-delta-points", parse_nonneg,  F(thresholds.min_delta_points) },
        { "Report", "NoiseFactor",        "noise-factor",   parse_nonneg,    F(thresholds.noise_factor) },
};
#undef F

int options_init(Options *o) {
        *o = (Options) {
                .interval_usec = 60ULL * 1000000ULL,
                .retention_usec = 7ULL * 86400ULL * 1000000ULL,
                .keep_per_epoch = 120,
                .identity_mode = IDENTITY_MODE_EXE_ARGS,
                .thresholds = THRESHOLDS_DEFAULT,
                .log_level = LOG_INFO,
                .pagemap_mode = PAGEMAP_MODE_EXCLUSIVITY,
                .pagemap_max_scan_bytes = 64ULL << 30,
                .pagemap_budget_usec = 10ULL * 1000000ULL,
                .listen = strdup(DEFAULT_LISTEN),
                .proc_root = strdup("/proc"),
                .sys_root = strdup("/sys"),
                .boot_root = strdup("/boot"),
        };
        if (!o->listen || !o->proc_root || !o->sys_root || !o->boot_root) {
                options_done(o);
                return -ENOMEM;
        }
        return 0;
}

void options_done(Options *o) {
        free(o->db_path);
        free(o->listen);
        free(o->proc_root);
        free(o->sys_root);
        free(o->boot_root);
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
        if ((src->db_path && !o.db_path) || !o.listen || !o.proc_root || !o.sys_root ||
            !o.boot_root) {
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
        char *error;
} IniState;

static char *config_ini_reader(char *str, int num, void *userdata) {
        IniState *st = userdata;
        char *r = fgets(str, num, st->file);

        if (r)
                st->lineno++;
        return r;
}

static int config_ini_handler(void *userdata, const char *section, const char *key,
                              const char *value) {
        IniState *st = userdata;
        int lineno = st->lineno;
        const char *why = NULL;

        if (st->error)
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                if (strcmp(settings[i].section, section) != 0 || strcmp(settings[i].key, key) != 0)
                        continue;
                if (settings[i].parse(value, (char *) st->options + settings[i].offset, &why) < 0) {
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

int options_load_file(Options *o, const char *path, char **reterr) {
        _cleanup_fclose_ FILE *f = NULL;
        Options scratch;
        IniState st;
        int r;

        f = fopen(path, "re");
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

        /* Lexical order, each over the result of the ones before, like systemd's drop-ins. */
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

void options_help(void) {
        printf("Usage: mapstatd [OPTIONS]\n"
               "\n"
               "Samples every process's smaps_rollup and /proc/meminfo into SQLite, records each\n"
               "boot's kernel identity, and serves over HTTP which processes' Shared/Private and\n"
               "Pss figures shifted across a kernel change.\n"
               "\n"
               "Options:\n"
               "  -d, --db PATH              SQLite database (default: $STATE_DIRECTORY/" DEFAULT_DB_NAME
               ",\n"
               "                             else " DEFAULT_DB_DIR "/" DEFAULT_DB_NAME ")\n"
               "  -l, --listen ADDR:PORT     HTTP listener when not socket-activated\n"
               "                             (default " DEFAULT_LISTEN ")\n"
               "  -i, --interval DURATION    time between sweeps (default 60s)\n"
               "      --proc-root DIR        read procfs here (default /proc)\n"
               "      --sys-root DIR         read sysfs here (default /sys)\n"
               "      --boot-root DIR        look for config-RELEASE here (default /boot)\n"
               "      --retention DURATION   keep per-process samples this long (default 7d)\n"
               "      --keep-per-epoch N     sweeps of each epoch kept for good (default 120)\n"
               "      --identity MODE        match processes by exe-args (default), exe, comm\n"
               "                             or unit\n"
               "      --min-delta-kb KB      report threshold in kB (default 1024)\n"
               "      --min-delta-points P   report threshold in ratio points (default 1.0)\n"
               "      --noise-factor F       multiple of the within-epoch spread a shift must\n"
               "                             exceed (default 3)\n"
               "      --log-level LEVEL      err, warning, notice, info (default) or debug\n"
               "      --pagemap MODE         off, exclusivity (default) or full (PFNs, needs\n"
               "                             CAP_SYS_ADMIN: truth and NO_PAGE_MAPCOUNT forecast)\n"
               "      --pagemap-max-scan SIZE  mapped address space scanned per process\n"
               "                             (default 64G)\n"
               "      --pagemap-budget DURATION  pagemap reading per sweep (default 10s)\n"
               "  -c, --config FILE          configuration file (default " DEFAULT_CONFIG_FILE
               " if it exists)\n"
               "      --once                 run one sweep, store it, print a summary, exit\n"
               "  -h, --help                 show this help\n"
               "      --version              show the version\n"
               "\n"
               "See mapstatd(8) and mapstatd.conf(5).\n");
}

enum {
        ARG_ONCE = 0x100,
        ARG_VERSION,
        ARG_SETTING_BASE = 0x200,
};

static const char *short_for(const char *option) {
        if (strcmp(option, "db") == 0)
                return "d";
        if (strcmp(option, "listen") == 0)
                return "l";
        if (strcmp(option, "interval") == 0)
                return "i";
        return NULL;
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

int options_parse(int argc, char *argv[], Options *o, OptionsAction *ret_action,
                  char **ret_config_path, char **reterr) {
        struct option longopts[ELEMENTSOF(settings) + 5];
        _cleanup_free_ char *config = NULL;
        OptionsAction action = OPTIONS_RUN;
        bool config_explicit = false;
        size_t n = 0;
        int c, r;

        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const char *s = short_for(settings[i].option);
                longopts[n++] = (struct option) { settings[i].option, required_argument, NULL,
                                                  s ? s[0] : (int) (ARG_SETTING_BASE + i) };
        }
        longopts[n++] = (struct option) { "config", required_argument, NULL, 'c' };
        longopts[n++] = (struct option) { "once", no_argument, NULL, ARG_ONCE };
        longopts[n++] = (struct option) { "help", no_argument, NULL, 'h' };
        longopts[n++] = (struct option) { "version", no_argument, NULL, ARG_VERSION };
        longopts[n] = (struct option) {};

        /* First pass: what to do and which file to load; nothing else is applied yet. */
        opterr = 0;
        optind = 1;
        while ((c = getopt_long(argc, argv, ":d:l:i:c:h", longopts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        free(config);
                        config = strdup(optarg);
                        if (!config)
                                return -ENOMEM;
                        config_explicit = true;
                        break;
                case 'h':
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

        if (!config) {
                config = strdup(DEFAULT_CONFIG_FILE);
                if (!config)
                        return -ENOMEM;
        }
        {
                _cleanup_free_ char *err = NULL;

                r = options_load_file(o, config, &err);
                if (r == -ENOENT && !config_explicit)
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

        /* Second pass: command-line values override the file. */
        optind = 1;
        while ((c = getopt_long(argc, argv, ":d:l:i:c:h", longopts, NULL)) >= 0) {
                const Setting *s = NULL;
                const char *why = NULL;

                if (c == 'd' || c == 'l' || c == 'i') {
                        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                                if (short_for(settings[i].option) &&
                                    short_for(settings[i].option)[0] == c)
                                        s = &settings[i];
                } else if (c >= ARG_SETTING_BASE && c < ARG_SETTING_BASE + (int) ELEMENTSOF(settings))
                        s = &settings[c - ARG_SETTING_BASE];
                if (!s)
                        continue;
                r = s->parse(optarg, (char *) o + s->offset, &why);
                if (r < 0)
                        return fail(reterr, r, "invalid value '%s' for --%s: %s", optarg, s->option,
                                    why ? why : strerror(-r));
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
