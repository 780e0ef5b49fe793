/* The libmicrohttpd side of the web server: the listening socket, the daemon with its one
 * polling thread, method and path checks, query parameter collection, the lazily opened
 * read-only Store with one read snapshot per request, and the reply on the wire. */
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
#include <sys/socket.h>
#include <sys/stat.h>

#include <jansson.h>
#include <microhttpd.h>

#include "log.h"
#include "time-util.h"
#include "web-internal.h"

#define WEB_CONNECTION_LIMIT 64u
#define WEB_CONNECTION_TIMEOUT_SEC 10u
#define WEB_LISTEN_BACKLOG 64

/* Longest user-supplied string (path, parameter name or value) echoed in an error body. */
#define WEB_ECHO_MAX "200"

/* Answer when even the error body cannot be built. */
#define OOM_BODY "{\n  \"error\": \"out of memory\",\n  \"status\": 500\n}\n"

/* ---- the read-only Store ---- */

/* Begins the request's read snapshot on the open Store, once per request. */
static int web_server_snapshot(WebServer *s, Store **ret, WebReply *reply) {
        int r;

        if (!s->in_request_snapshot) {
                r = store_snapshot_begin(s->store, &s->in_request_snapshot);
                if (r < 0)
                        return web_reply_store_error(reply, s->store, r) < 0 ? -ENOMEM : r;
        }
        *ret = s->store;
        return 0;
}

int web_server_get_store(WebServer *s, Store **ret, WebReply *reply) {
        _cleanup_free_ char *reason = NULL;
        int r;

        if (s->store)
                return web_server_snapshot(s, ret, reply);

        r = store_open(&s->store, s->db_path, STORE_READ_ONLY, &reason);
        if (r < 0) {
                s->store = NULL;
                free(s->store_open_error);
                s->store_open_error = NULL;
                if (asprintf(&s->store_open_error, "cannot open database: %s",
                             reason ?: strerror(-r)) < 0) {
                        s->store_open_error = NULL;
                        return -ENOMEM;
                }
                if (log_state_changed(&s->store_failing, true))
                        log_warning_errno(r, "Failed to open database '%s' read-only for the web "
                                          "server: %s, will retry", s->db_path,
                                          reason ?: strerror(-r));
                if (web_reply_error(reply, MHD_HTTP_SERVICE_UNAVAILABLE, "%s",
                                    s->store_open_error) < 0)
                        return -ENOMEM;
                return r;
        }
        free(s->store_open_error);
        s->store_open_error = NULL;
        if (log_state_changed(&s->store_failing, false))
                log_info("Opened database '%s' read-only for the web server", s->db_path);

        return web_server_snapshot(s, ret, reply);
}

/* ---- request handling ---- */

typedef struct ParamCollector {
        WebParams *params;
        WebReply *reply;
        int error;              /* < 0: building the reply failed */
        bool rejected;          /* reply holds a 400 */
} ParamCollector;

static enum MHD_Result param_collect(void *userdata, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
        ParamCollector *c = userdata;
        WebParams *p = c->params;

        (void) kind;
        for (size_t i = 0; p->names[i]; i++) {
                if (strcmp(p->names[i], key) != 0)
                        continue;
                if (p->values[i]) {
                        c->error = web_reply_error(c->reply, MHD_HTTP_BAD_REQUEST,
                                                   "parameter '%s' given more than once", key);
                        c->rejected = true;
                        return MHD_NO;
                }
                /* "?limit" without "=" has no value; treat it as empty so it fails to parse. */
                p->values[i] = value ?: "";
                return MHD_YES;
        }

        c->error = web_reply_error(c->reply, MHD_HTTP_BAD_REQUEST,
                                   "unknown parameter '%." WEB_ECHO_MAX "s'", key);
        c->rejected = true;
        return MHD_NO;
}

/* Routes the request into reply. Returns 0 or -ENOMEM. */
static int web_dispatch(WebServer *s, struct MHD_Connection *connection, const char *url,
                        const char *method, WebReply *reply) {
        const WebRoute *route;
        WebParams params = {};
        ParamCollector collector = { .params = &params, .reply = reply };

        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
                return web_reply_error(reply, MHD_HTTP_METHOD_NOT_ALLOWED,
                                       "method '%." WEB_ECHO_MAX "s' not allowed", method);

        route = web_route_find(url);
        if (!route)
                return web_reply_error(reply, MHD_HTTP_NOT_FOUND,
                                       "no such endpoint '%." WEB_ECHO_MAX "s'", url);

        params.names = route->params;
        (void) MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, param_collect,
                                         &collector);
        if (collector.rejected)
                return collector.error;

        return route->handler(s, &params, reply);
}

static enum MHD_Result web_queue_reply(struct MHD_Connection *connection,
                                       const WebReply *reply) {
        struct MHD_Response *response;
        enum MHD_Result ret;
        unsigned status = reply->status;
        char *text = NULL;
        size_t len = 0;

        if (reply->body)
                text = json_dump_body(reply->body, &len);
        if (text)
                response = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        else {
                status = MHD_HTTP_INTERNAL_SERVER_ERROR;
                response = MHD_create_response_from_buffer(STRLEN(OOM_BODY), (void *) OOM_BODY,
                                                           MHD_RESPMEM_PERSISTENT);
        }
        if (!response) {
                free(text);
                return MHD_NO;
        }

        if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    "application/json") != MHD_YES ||
            MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
            (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
             MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
                MHD_destroy_response(response);
                return MHD_NO;
        }

        ret = MHD_queue_response(connection, status, response);
        MHD_destroy_response(response);
        return ret;
}

/* libmicrohttpd calls the handler once when the headers are in, then once per piece of body and
 * once more at the end. A wrong method is answered at once (the body is never read and the
 * connection is closed after the reply); otherwise any body is discarded and the request is
 * answered at the end, which keeps the connection reusable. */
static enum MHD_Result web_access_handler(void *userdata, struct MHD_Connection *connection,
                                          const char *url, const char *method,
                                          const char *version, const char *upload_data,
                                          size_t *upload_data_size, void **req_cls) {
        static int request_seen;
        WebServer *s = userdata;
        WebReply reply = {};
        enum MHD_Result ret;
        int r;

        (void) version;
        (void) upload_data;

        if (!*req_cls) {
                *req_cls = &request_seen;
                if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
                    strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
                        return MHD_YES;
        } else if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }

        r = web_dispatch(s, connection, url, method, &reply);
        store_snapshot_end(s->store, s->in_request_snapshot);
        s->in_request_snapshot = false;
        if (r < 0) {
                log_debug_errno(r, "Failed to answer %s '%s': %m", method, url);
                web_reply_done(&reply);
                (void) web_reply_error(&reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal error: %s", strerror(-r));
                if (!reply.body)
                        reply.status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        }

        log_debug("%s '%s': %u", method, url, reply.status);
        ret = web_queue_reply(connection, &reply);
        web_reply_done(&reply);
        return ret;
}

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

        s = calloc(1, sizeof *s);
        if (!s)
                return -ENOMEM;
        s->status = status;
        s->db_path = strdup(db_path);
        if (!s->db_path)
                return -ENOMEM;

        /* The HTTP thread inherits the signal mask of this thread: block every asynchronous
         * signal while creating it, so that SIGTERM, SIGHUP, … always reach the daemon's own
         * handling (signalfd or handlers), whether or not it blocked them yet. */
        r = web_block_signals(&saved_mask);
        if (r < 0) {
                if (reterr)
                        *reterr = strdup(strerror(-r));
                return r;
        }
        /* MHD_USE_ITC: without an inter-thread channel MHD wakes its thread at stop by calling
         * shutdown() on the listening socket, which also kills the copy systemd keeps for socket
         * activation (the socket unit then fails and the next start gets a dead socket). */
        s->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC |
                                             MHD_USE_ERROR_LOG,
                                     0, NULL, NULL, web_access_handler, s,
                                     MHD_OPTION_EXTERNAL_LOGGER, web_mhd_log, NULL,
                                     MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                                     MHD_OPTION_CONNECTION_LIMIT, WEB_CONNECTION_LIMIT,
                                     MHD_OPTION_CONNECTION_TIMEOUT, WEB_CONNECTION_TIMEOUT_SEC,
                                     MHD_OPTION_END);
        (void) pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
        if (!s->daemon) {
                if (!listen_fd_still_ours(fd, &st))
                        (void) TAKE_FD(fd);
                if (reterr)
                        *reterr = strdup("failed to start the HTTP server (libmicrohttpd), "
                                         "see the debug log");
                return -EIO;
        }
        /* From here on libmicrohttpd owns the socket: MHD_stop_daemon() closes it. */
        (void) TAKE_FD(fd);

        *ret = TAKE_PTR(s);
        return 0;
}

WebServer *web_server_free(WebServer *s) {
        if (!s)
                return NULL;

        /* Joins the HTTP thread: after this no one else uses the Store. */
        if (s->daemon)
                MHD_stop_daemon(s->daemon);
        store_free(s->store);
        free(s->store_open_error);
        free(s->db_path);
        free(s);
        return NULL;
}
