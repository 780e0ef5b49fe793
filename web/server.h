/* The HTTP/JSON server (libmicrohttpd, a small pool of threads over epoll). It reads through
 * read-only Stores of its own, one per thread, and never writes. Routes: the dashboard (GET /
 * and its assets), /metrics, /report, /forecast, /processes, /processes/{id}, /meminfo,
 * /epochs, /healthz and /openapi.json; other paths 404, other methods 405, every error body
 * JSON. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "compare.h"
#include "identity.h"
#include "macro.h"

#define WEB_TEXTFILE_DIRECTORY_MAX 1024
/* The file node_exporter's textfile collector reads (it takes *.prom). */
#define WEB_TEXTFILE_NAME "mapstatd.prom"

/* What the daemon knows and the database does not. The daemon publishes it after each sweep and
 * reload; the HTTP threads copy it. */
typedef struct WebStatusData {
        /* Bumped at every publication: responses that depend only on stored data and the
         * settings are cached and their ETag derived from it. */
        uint64_t generation;
        uint64_t started_usec;          /* CLOCK_REALTIME; web_status_init() sets it to now */
        uint64_t interval_usec;
        uint64_t last_sweep_usec;       /* CLOCK_REALTIME start of the last attempted sweep; 0 if
                                         * none (/healthz says "starting" until it is set) */
        uint64_t last_duration_usec;
        unsigned sampled, vanished, denied, malformed, kernel_threads;
        unsigned reused;                /* last sweep: sampled from an earlier read */
        unsigned derived;               /* last sweep: read through pagemap (StallBudget=) */
        /* Since the daemon started: sweeps attempted, failed, processes sampled and skipped. */
        uint64_t sweeps_total, sweeps_failed_total;
        uint64_t sampled_total, vanished_total, denied_total, malformed_total;
        uint64_t reused_total;
        uint64_t derived_total;
        char storage_error[512];        /* "" when the last commit succeeded */
        char sweep_error[256];          /* "" when the last sweep ran; else why it could not,
                                         * when not for storage (kernel identity, process list) */
        const char *pagemap_mode;       /* "off", "exclusivity", "full" (static string) */
        unsigned pagemap_truncated;     /* last sweep: processes whose scan was cut short */
        unsigned pagemap_failed;        /* last sweep: sampled without pagemap */
        bool pagemap_budget_exhausted;  /* last sweep hit the per-sweep time budget */
        char reconstruction[256];       /* full mode: "" when it worked in the last sweep,
                                         * else why not (e.g. no PFNs without CAP_SYS_ADMIN) */
        const char *cgroup_layout;      /* last sweep: "unified", …, NULL before one */
        unsigned cgroups_sampled, cgroups_skipped;      /* last sweep */
        bool cgroups_truncated;         /* last sweep: the walk hit its deadline or limit */
        unsigned consecutive_failures;
        /* Settings, replaced on reload: */
        Thresholds thresholds;          /* the report's defaults */
        IdentityMode identity_mode;
        unsigned report_window;         /* sweeps per epoch the comparisons use (0: all) */
        unsigned metrics_identities;    /* per-identity series in /metrics, top N by Rss */
        bool redact_cmdline;            /* show argv[0] only */
        /* Where the refresher writes the metrics after every sweep, "" for nowhere. */
        char textfile_directory[WEB_TEXTFILE_DIRECTORY_MAX];
} WebStatusData;

typedef struct WebStatus {
        pthread_mutex_t lock;
        pthread_cond_t changed;         /* signalled by web_status_changed_locked() */
        WebStatusData data;
} WebStatus;

/* Initializes the mutex and the data: started_usec now, the thresholds THRESHOLDS_DEFAULT, the
 * identity mode IDENTITY_MODE_EXE_ARGS, the pagemap mode "off", 100 identities in /metrics.
 * web_status_done() destroys the mutex (after web_server_free()). */
void web_status_init(WebStatus *s);
void web_status_done(WebStatus *s);

/* Copies the data under the lock. */
void web_status_snapshot(WebStatus *s, WebStatusData *ret);

/* With the lock held, after changing the data: a new generation, and the web server's
 * refresher is woken. */
void web_status_changed_locked(WebStatus *s);

/* Waits until the generation differs from *seen (then stores it there and returns true) or
 * *stop is set (returns false); *stop is read under the lock. */
bool web_status_wait(WebStatus *s, uint64_t *seen, const bool *stop);
/* Sets *stop under the lock and wakes every web_status_wait(). */
void web_status_stop(WebStatus *s, bool *stop);
/* *stop, read under the lock. */
bool web_status_stopping(WebStatus *s, const bool *stop);

typedef struct WebServer WebServer;

/* Creates a listening TCP socket bound to addr:port (numeric IPv4 or IPv6), SO_REUSEADDR,
 * O_CLOEXEC, non-blocking, backlog 1024. Returns the fd, or -EADDRINUSE, -EADDRNOTAVAIL,
 * -EACCES, -EBADMSG (not a numeric address), … */
int web_listen(const char *addr, uint16_t port);

/* Starts serving on listen_fd (taken over: closed by web_server_free(), also on failure).
 * listen_fd must be a listening stream socket (from web_listen() or socket activation); it is
 * made non-blocking and close-on-exec. db_path is opened read-only by each HTTP thread on the
 * first request that needs it (and again after a failure): a database that cannot be opened
 * makes those requests answer 503, it does not fail the start. status is borrowed and must
 * outlive the server. The HTTP threads are created with every asynchronous signal blocked, so
 * they never take the daemon's SIGTERM/SIGHUP. Returns 0, or -ENOTSOCK/-EINVAL (not a
 * listening stream socket), -ENOMEM, -EIO (libmicrohttpd failed) with *reterr (caller frees;
 * may be NULL if out of memory) saying why. */
int web_server_start(WebServer **ret, int listen_fd, const char *db_path, WebStatus *status,
                     char **reterr);

/* A server without the network: the same routes, parameters and handlers, answered in-process
 * on the database at db_path, opened read-only on first use (mapstatctl --db). status is
 * borrowed. Free with web_server_free(). 0 or -ENOMEM. */
int web_local_new(WebServer **ret, const char *db_path, WebStatus *status);

/* Answers GET target ("/report?baseline=1") as the HTTP server would: *ret_status, the body as
 * it sends it (*ret_body, caller frees; NUL-terminated) and its content type (static). Returns 0
 * or -ENOMEM. */
int web_local_get(WebServer *s, const char *target, unsigned *ret_status, char **ret_body,
                  size_t *ret_len, const char **ret_content_type);

/* Writes what GET /metrics answers to dir/mapstatd.prom atomically (a temporary file renamed
 * over it), for node_exporter's textfile collector; logs when writing starts or stops failing.
 * A server's refresher does it after every sweep when the status names a directory. Returns 0,
 * -EIO (the database cannot be read: the previous file stays), -ENOMEM or the -errno of
 * writing. */
int web_textfile_write(WebServer *s, const char *dir);

/* Stops the threads, closes connections and the listener. NULL-safe; returns NULL. */
WebServer *web_server_free(WebServer *s);
DEFINE_CLEANUP_FUNC(WebServer, web_server_free);
