/* The web server's life: the listening socket, libmicrohttpd's pool of threads over epoll with
 * its limits, and each thread's lazily opened read-only Store with one read snapshot per
 * request. What a request gets is decided in http.c. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "log.h"
#include "time-util.h"
#include "web-internal.h"

/* Threads answering requests, each with its own epoll set and connections: a slow request
 * (a report computed after a sweep) holds up only the connections of its thread. */
#define WEB_THREADS 4u
/* Connections held at once, idle ones included; fewer when RLIMIT_NOFILE is lower. With epoll
 * an idle connection costs a little memory and nothing else, so this is large: a browser and a
 * Prometheus must still get in while many clients idle. */
#define WEB_CONNECTION_LIMIT 4096u
/* File descriptors kept for the database, the journal and the daemon's own use. */
#define WEB_FDS_RESERVED 64u
/* A connection that sends nothing for this long is closed. */
#define WEB_IDLE_TIMEOUT_SEC 15u
/* Memory of one connection (libmicrohttpd's default): the request line and headers must fit in
 * about half of it, longer ones are refused (414, 431); the rest holds the response's
 * headers. */
#define WEB_REQUEST_MEMORY (32u * 1024u)
#define WEB_LISTEN_BACKLOG 1024
/* Bodies of cached responses kept. */
#define WEB_CACHE_BYTES (64u * 1024u * 1024u)

/* ---- each thread's read-only Store ---- */

void web_thread_free(void *p) {
        WebThread *t = p;

        if (!t)
                return;
        store_free(t->store);
        free(t->store_open_error);
        free(t);
}

/* The calling thread's WebThread, created on first use; NULL when out of memory. */
static WebThread *web_thread_get(WebServer *s) {
        WebThread *t = pthread_getspecific(s->thread_key);

        if (t)
                return t;
        t = calloc(1, sizeof *t);
        if (!t)
                return NULL;
        if (pthread_setspecific(s->thread_key, t) != 0) {
                free(t);
                return NULL;
        }
        return t;
}

/* Logs when opening starts or stops failing, once for all threads. */
static void web_server_store_state(WebServer *s, bool failing, int error, const char *reason) {
        bool changed;

        (void) pthread_mutex_lock(&s->lock);
        changed = log_state_changed(&s->store_failing, failing);
        (void) pthread_mutex_unlock(&s->lock);
        if (!changed)
                return;
        if (failing)
                log_warning_errno(error, "Failed to open database '%s' read-only for the web "
                                  "server: %s, will retry", s->db_path, reason);
        else
                log_info("Opened database '%s' read-only for the web server", s->db_path);
}

static int web_thread_open(WebServer *s, WebThread *t, WebReply *reply) {
        _cleanup_free_ char *reason = NULL;
        int r;

        r = store_open(&t->store, s->db_path, STORE_READ_ONLY, &reason);
        free(t->store_open_error);
        t->store_open_error = NULL;
        if (r >= 0) {
                web_server_store_state(s, false, 0, NULL);
                return 0;
        }

        t->store = NULL;
        if (asprintf(&t->store_open_error, "cannot open database: %s",
                     reason ?: strerror(-r)) < 0) {
                t->store_open_error = NULL;
                return -ENOMEM;
        }
        web_server_store_state(s, true, r, reason ?: strerror(-r));
        if (web_reply_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", t->store_open_error) < 0)
                return -ENOMEM;
        return r;
}

int web_server_get_store(WebServer *s, Store **ret, WebReply *reply) {
        WebThread *t = web_thread_get(s);
        int r;

        if (!t)
                return -ENOMEM;
        if (!t->store) {
                r = web_thread_open(s, t, reply);
                if (r < 0)
                        return r;
        }
        if (!t->in_snapshot) {
                r = store_snapshot_begin(t->store, &t->in_snapshot);
                if (r < 0)
                        return web_reply_store_error(reply, t->store, r) < 0 ? -ENOMEM : r;
        }
        *ret = t->store;
        return 0;
}

const char *web_server_store_error(WebServer *s) {
        WebThread *t = pthread_getspecific(s->thread_key);

        return t ? t->store_open_error : NULL;
}

void web_server_request_done(WebServer *s) {
        WebThread *t = pthread_getspecific(s->thread_key);

        if (!t)
                return;
        store_snapshot_end(t->store, t->in_snapshot);
        t->in_snapshot = false;
}

_printf_(2, 0)
static void web_mhd_log(void *userdata, const char *fmt, va_list ap) {
        char buf[512];
        size_t len;

        (void) userdata;
        (void) vsnprintf(buf, sizeof buf, fmt, ap);
        len = strlen(buf);
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
                buf[--len] = '\0';
        log_debug("libmicrohttpd: %s", buf);
}

/* ---- lifecycle ---- */

int web_listen(const char *addr, uint16_t port) {
        union {
                struct sockaddr sa;
                struct sockaddr_in in;
                struct sockaddr_in6 in6;
        } sa = {};
        _cleanup_close_ int fd = -EBADF;
        socklen_t len;
        int one = 1;

        if (!addr)
                return -EBADMSG;
        if (inet_pton(AF_INET, addr, &sa.in.sin_addr) == 1) {
                sa.in.sin_family = AF_INET;
                sa.in.sin_port = htons(port);
                len = sizeof sa.in;
        } else if (inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) == 1) {
                sa.in6.sin6_family = AF_INET6;
                sa.in6.sin6_port = htons(port);
                len = sizeof sa.in6;
        } else
                return -EBADMSG;

        /* Non-blocking: libmicrohttpd's thread polls the socket and must never block in
         * accept() when a client went away in between. */
        fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, &sa.sa, len) < 0)
                return -errno;
        if (listen(fd, WEB_LISTEN_BACKLOG) < 0)
                return -errno;

        return TAKE_FD(fd);
}

/* A socket-activated fd comes as the service manager made it: check that it is a listening
 * stream socket and make it non-blocking and close-on-exec like ours. */
static int web_listen_fd_prepare(int fd, struct stat *ret_st, char **reterr) {
        int type = 0, listening = 0, flags;
        socklen_t len = sizeof type;
        struct stat st;

        if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode) ||
            getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) {
                if (reterr)
                        *reterr = strdup("listen fd is not a stream socket");
                return -ENOTSOCK;
        }
        len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening) {
                if (reterr)
                        *reterr = strdup("listen fd is not a listening socket");
                return -EINVAL;
        }

        flags = fcntl(fd, F_GETFL);
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
            fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                int r = -errno;
                if (reterr)
                        *reterr = strdup(strerror(-r));
                return r;
        }
        *ret_st = st;
        return 0;
}

/* libmicrohttpd 0.9.75 leaves a listen socket it was given open when it fails early (checked:
 * bad option combination) but may close it on later failures. Returns true when fd is still the
 * socket we handed over, i.e. ours to close. */
static bool listen_fd_still_ours(int fd, const struct stat *before) {
        struct stat st;

        return fstat(fd, &st) >= 0 && st.st_dev == before->st_dev && st.st_ino == before->st_ino;
}

/* Blocks every signal but the synchronous ones (faults, abort) in the calling thread. */
static int web_block_signals(sigset_t *ret_saved) {
        static const int synchronous[] = { SIGABRT, SIGBUS, SIGFPE, SIGILL, SIGSEGV, SIGTRAP };
        sigset_t mask;
        int r;

        if (sigfillset(&mask) < 0)
                return -errno;
        for (size_t i = 0; i < ELEMENTSOF(synchronous); i++)
                if (sigdelset(&mask, synchronous[i]) < 0)
                        return -errno;
        r = pthread_sigmask(SIG_BLOCK, &mask, ret_saved);
        return r > 0 ? -r : 0;
}

/* Connections the process can hold: WEB_CONNECTION_LIMIT, or fewer when RLIMIT_NOFILE leaves
 * less room (the daemon raises its soft limit to the hard one at start). */
static unsigned web_connection_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
                return WEB_CONNECTION_LIMIT;
        if (rl.rlim_cur <= 2 * WEB_FDS_RESERVED)
                return WEB_FDS_RESERVED;
        return (unsigned) MIN((rlim_t) WEB_CONNECTION_LIMIT, rl.rlim_cur - WEB_FDS_RESERVED);
}

int web_server_new(WebServer **ret, const char *db_path, WebStatus *status,
                   size_t cache_bytes) {
        _cleanup_(web_server_freep) WebServer *s = NULL;
        int r;

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->status = status;
        (void) pthread_mutex_init(&s->lock, NULL);
        s->db_path = strdup(db_path);
        if (!s->db_path)
                return -ENOMEM;
        r = web_cache_new(&s->cache, cache_bytes);
        if (r < 0)
                return r;
        /* Each thread's Store is freed by the key's destructor when the thread ends. */
        r = pthread_key_create(&s->thread_key, web_thread_free);
        if (r != 0)
                return -r;
        s->thread_key_made = true;
        *ret = TAKE_PTR(s);
        return 0;
}

int web_server_start(WebServer **ret, int listen_fd, const char *db_path, WebStatus *status,
                     char **reterr) {
        _cleanup_close_ int fd = listen_fd;
        _cleanup_(web_server_freep) WebServer *s = NULL;
        struct stat st = {};
        sigset_t saved_mask;
        int r;

        assert(ret);
        assert(db_path);
        assert(status);

        r = web_listen_fd_prepare(fd, &st, reterr);
        if (r < 0)
                return r;

        r = web_server_new(&s, db_path, status, WEB_CACHE_BYTES);
        if (r < 0)
                return r;
        r = report_memo_new(&s->memo);
        if (r < 0)
                return r;

        /* The HTTP threads inherit the signal mask of this thread: block every asynchronous
         * signal while creating them, so that SIGTERM, SIGHUP, … always reach the daemon's own
         * handling (signalfd or handlers), whether or not it blocked them yet. */
        r = web_block_signals(&saved_mask);
        if (r < 0) {
                if (reterr)
                        *reterr = strdup(strerror(-r));
                return r;
        }
        /* MHD_USE_ITC: without an inter-thread channel MHD wakes its threads at stop by calling
         * shutdown() on the listening socket, which also kills the copy systemd keeps for socket
         * activation (the socket unit then fails and the next start gets a dead socket). */
        s->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                                             MHD_USE_ITC | MHD_USE_ERROR_LOG,
                                     0, NULL, NULL, web_access_handler, s,
                                     MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL,
                                     MHD_OPTION_URI_LOG_CALLBACK, web_uri_seen, NULL,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                                     MHD_OPTION_THREAD_POOL_SIZE, WEB_THREADS,
                                     MHD_OPTION_CONNECTION_LIMIT, web_connection_limit(),
                                     MHD_OPTION_CONNECTION_TIMEOUT, WEB_IDLE_TIMEOUT_SEC,
                                     MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                     (size_t) WEB_REQUEST_MEMORY,
                                     MHD_OPTION_END);
        if (!s->daemon) {
                (void) pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
                if (!listen_fd_still_ours(fd, &st))
                        (void) TAKE_FD(fd);
                if (reterr)
                        *reterr = strdup("failed to start the HTTP server (libmicrohttpd), "
                                         "see the debug log");
                return -EIO;
        }
        /* From here on libmicrohttpd owns the socket: web_server_free() closes it. */
        (void) TAKE_FD(fd);

        r = pthread_create(&s->refresher, NULL, web_refresher, s);
        (void) pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
        if (r != 0) {
                if (reterr)
                        *reterr = strdup("cannot start the refresher thread");
                return -r;
        }
        s->refresher_started = true;

        *ret = TAKE_PTR(s);
        return 0;
}

WebServer *web_server_free(WebServer *s) {
        if (!s)
                return NULL;

        /* Quiescing first hands the listening socket back untouched: with a pool of threads,
         * stopping alone shuts it down, which would also kill the copy systemd keeps for socket
         * activation. Then stopping joins the HTTP threads; their Stores go with them (the
         * key's destructor). */
        if (s->refresher_started) {
                web_status_stop(s->status, &s->stopping);
                (void) pthread_join(s->refresher, NULL);
        }
        if (s->daemon) {
                MHD_socket fd = MHD_quiesce_daemon(s->daemon);

                MHD_stop_daemon(s->daemon);
                if (fd != MHD_INVALID_SOCKET)
                        (void) close(fd);
        }
        if (s->thread_key_made)
                (void) pthread_key_delete(s->thread_key);
        web_cache_free(s->cache);
        report_memo_free(s->memo);
        (void) pthread_mutex_destroy(&s->lock);
        free(s->db_path);
        free(s);
        return NULL;
}
