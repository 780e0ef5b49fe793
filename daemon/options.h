/* The daemon's settings: defaults, the configuration file ([Section] Key=value, libinih) and
 * the command line, in that order of precedence. One table (options.c) describes every option
 * once: its configuration key, command-line name, default, validator and help text. The
 * defaults are parsed from it, --help is printed from it, and the tests check the man pages
 * and the example configuration against it (options_table()). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compare.h"
#include "config.h"
#include "identity.h"
#include "server.h"

#define DEFAULT_DB_DIR "/var/lib/mapstatd"
#define DEFAULT_DB_NAME "mapstatd.db"
#define DEFAULT_LISTEN "127.0.0.1:9100"
#define DEFAULT_CONFIG_FILE SYSCONFDIR "/mapstatd/mapstatd.conf"

/* How much of pagemap a sweep reads. */
typedef enum PagemapMode {
        PAGEMAP_MODE_OFF,               /* smaps_rollup and meminfo only */
        PAGEMAP_MODE_EXCLUSIVITY,       /* + present/swapped/exclusive pages per class */
        PAGEMAP_MODE_FULL,              /* + PFNs, kpageflags, kpagecount: truth and forecast */
        _PAGEMAP_MODE_MAX,
        _PAGEMAP_MODE_INVALID = -22 /* -EINVAL */,
} PagemapMode;

/* "off", "exclusivity", "full". */
const char *pagemap_mode_to_string(PagemapMode m);

typedef struct Options {
        char *db_path;                  /* NULL: $STATE_DIRECTORY/mapstatd.db or the default */
        char *listen;                   /* "ADDR:PORT" */
        uint64_t interval_usec;
        char *proc_root, *sys_root, *boot_root;
        uint64_t retention_usec;
        uint32_t keep_per_epoch;
        uint64_t downsample_after_usec;         /* 0: never */
        IdentityMode identity_mode;
        Thresholds thresholds;
        int log_level;
        PagemapMode pagemap_mode;
        uint64_t pagemap_max_scan_bytes;        /* per process, of mapped address space */
        uint64_t pagemap_budget_usec;           /* per sweep, for all pagemap reading */
        uint64_t max_staleness_usec;            /* reused figures' age; 0: read every sweep */
        uint64_t stall_budget_usec;             /* longest lock hold of one walk; 0: no limit */
        bool redact_cmdline;                    /* responses show argv[0] only */
        uint32_t metrics_identities;            /* per-identity series in /metrics */
        char *textfile_directory;               /* NULL: no textfile */
} Options;

/* Fills o with the built-in defaults of the table (strings allocated). -ENOMEM. */
int options_init(Options *o);
void options_done(Options *o);

typedef enum OptionsAction {
        OPTIONS_RUN,
        OPTIONS_ONCE,
        OPTIONS_HELP,
        OPTIONS_VERSION,
} OptionsAction;

/* Parses the command line on top of o (the defaults): --config FILE (or the default file when
 * it exists) is loaded first, then its drop-ins (the *.conf files in FILE.d), then every other
 * option overrides them. On success *ret_action says what to do and *ret_config_path (caller
 * frees; NULL when no file was read) names the file.
 * On failure *reterr (caller frees; may be NULL on -ENOMEM) is one line naming the option or
 * FILE:LINE and the value; o may be partly modified. Used again on SIGHUP with the same argv. */
int options_parse(int argc, char *argv[], Options *o, OptionsAction *ret_action,
                  char **ret_config_path, char **reterr);

/* Loads the configuration file path (NULL: DEFAULT_CONFIG_FILE) and then its drop-ins over o.
 * A missing file is not an error unless explicit. On success, if ret_path is not NULL,
 * *ret_path (freed first) names the file read, NULL when none was. On failure *reterr (caller
 * frees) is one line naming the file or FILE:LINE. */
int options_load_config(Options *o, const char *path, bool explicit, char **ret_path,
                        char **reterr);

/* The settings the web server shows and uses (thresholds, identity mode, window, …) into st. */
void options_to_status(const Options *o, WebStatusData *st);

/* Loads a configuration file over o. Returns 0, -ENOENT when it does not exist, or -EBADMSG
 * with *reterr = "FILE:LINE: reason" (caller frees). On failure o is unchanged. */
int options_load_file(Options *o, const char *path, char **reterr);

/* Loads the *.conf files of CONFIG_PATH.d over o, in lexical order, after the main file
 * (systemd's drop-in convention). A missing directory is not an error. Returns 0, or the first failure with
 * *reterr = "FILE:LINE: reason" (caller frees) — o may then hold the files before it. */
int options_load_dropins(Options *o, const char *config_path, char **reterr);

/* Prints --help to stdout, generated from the table. */
void options_help(void);

/* One row of the table: a setting (section and key set) or a command-line-only option. */
typedef struct OptionInfo {
        const char *section;            /* "Daemon", "Report"; NULL: command line only */
        const char *key;                /* configuration key, "Interval" */
        const char *option;             /* long option without "--", "interval" */
        char short_option;              /* 'i', or 0 */
        const char *metavar;            /* what the value is in --help ("DURATION"); NULL: none */
        const char *default_value;      /* the default as written in the file; NULL: none */
        const char *default_help;       /* the default in words when it is not one value or
                                         * is empty (nothing) */
        const char *help;               /* what it does, one sentence for --help */
} OptionInfo;

/* Row i of the table (NULL past the end), for tests and documentation checks. */
const OptionInfo *options_table_get(size_t i);

/* The database path to use: o->db_path, else $STATE_DIRECTORY/mapstatd.db, else the default.
 * *ret_is_default tells whether the built-in default was chosen. Caller frees. */
int options_db_path(const Options *o, char **ret, bool *ret_is_default);
