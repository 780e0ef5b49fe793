/* The libmicrohttpd side of the web server: the listening socket, the daemon with its one
 * polling thread, method and path checks, query parameter collection, JSON serialization and
 * error bodies, the lazily opened read-only Store, and WebStatus. */
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

void web_status_init(WebStatus *s) {
        int r;

        *s = (WebStatus) {
                .started_usec = now_usec(CLOCK_REALTIME),
                .thresholds = THRESHOLDS_DEFAULT,
                .identity_mode = IDENTITY_MODE_EXE_ARGS,
                .pagemap_mode = "off",
        };
        r = pthread_mutex_init(&s->lock, NULL);
        assert(r == 0);
        (void) r;
}

void web_status_done(WebStatus *s) {
        if (!s)
                return;
        (void) pthread_mutex_destroy(&s->lock);
}

void web_status_snapshot(WebStatus *s, WebStatusSnapshot *ret) {
        (void) pthread_mutex_lock(&s->lock);
        *ret = (WebStatusSnapshot) {
                .started_usec = s->started_usec,
                .interval_usec = s->interval_usec,
                .last_sweep_usec = s->last_sweep_usec,
                .last_duration_usec = s->last_duration_usec,
                .sampled = s->sampled,
                .vanished = s->vanished,
                .denied = s->denied,
                .malformed = s->malformed,
                .kernel_threads = s->kernel_threads,
                .consecutive_failures = s->consecutive_failures,
                .thresholds = s->thresholds,
                .identity_mode = s->identity_mode,
                .pagemap_mode = s->pagemap_mode,
                .pagemap_truncated = s->pagemap_truncated,
                .pagemap_failed = s->pagemap_failed,
                .pagemap_budget_exhausted = s->pagemap_budget_exhausted,
        };
        memcpy(ret->storage_error, s->storage_error, sizeof ret->storage_error);
        memcpy(ret->sweep_error, s->sweep_error, sizeof ret->sweep_error);
        memcpy(ret->reconstruction, s->reconstruction, sizeof ret->reconstruction);
        (void) pthread_mutex_unlock(&s->lock);
        ret->storage_error[sizeof ret->storage_error - 1] = '\0';
        ret->sweep_error[sizeof ret->sweep_error - 1] = '\0';
        ret->reconstruction[sizeof ret->reconstruction - 1] = '\0';
}

/* ---- JSON helpers ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 when there is none. s is NUL-terminated, so a truncated sequence stops at the
 * NUL, which is not a continuation byte. */
static size_t utf8_sequence_length(const unsigned char *s) {
        uint32_t c;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] < 0xc2)
                return 0;
        if (s[0] < 0xe0) {
                n = 2;
                c = s[0] & 0x1f;
        } else if (s[0] < 0xf0) {
                n = 3;
                c = s[0] & 0x0f;
        } else if (s[0] < 0xf5) {
                n = 4;
                c = s[0] & 0x07;
        } else
                return 0;

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
            (c >= 0xd800 && c <= 0xdfff))
                return 0;
        return n;
}

json_t *json_string_lossy(const char *s) {
#define REPLACEMENT_CHARACTER "\xef\xbf\xbd"  /* U+FFFD */
        const unsigned char *p;
        _cleanup_free_ char *copy = NULL;
        size_t len, n = 0;
        bool valid = true;

        if (!s)
                return json_null();

        for (p = (const unsigned char *) s; *p; ) {
                size_t l = utf8_sequence_length(p);
                if (l == 0) {
                        valid = false;
                        break;
                }
                p += l;
        }
        if (valid)
                return json_string(s);

        /* Each invalid byte becomes three bytes at most. */
        len = strlen(s);
        copy = malloc(len * 3 + 1);
        if (!copy)
                return NULL;
        for (p = (const unsigned char *) s; *p; ) {
                size_t l = utf8_sequence_length(p);
                if (l == 0) {
                        memcpy(copy + n, REPLACEMENT_CHARACTER, STRLEN(REPLACEMENT_CHARACTER));
                        n += STRLEN(REPLACEMENT_CHARACTER);
                        p++;
                } else {
                        memcpy(copy + n, p, l);
                        n += l;
                        p += l;
                }
        }
        copy[n] = '\0';
        return json_string(copy);
}

json_t *json_timestamp(uint64_t usec) {
        char buf[RFC3339_MAX];

        if (usec == 0)
                return json_null();
        return json_string(format_timestamp_rfc3339(buf, sizeof buf, usec));
}

json_t *json_seconds(uint64_t usec) {
        return json_real((double) usec / (double) USEC_PER_SEC);
}

json_t *json_rounded(double value, unsigned decimals) {
        double scale = pow(10.0, (double) decimals), v;

        if (!isfinite(value))
                return json_null();
        v = round(value * scale) / scale;
        if (v == 0)
                v = 0;          /* no "-0.0" */
        return json_real(v);
}

json_t *json_kb(double kb) {
        double v;

        if (!isfinite(kb))
                return json_null();
        v = round(kb * 10.0) / 10.0;
        if (v == trunc(v) && fabs(v) < 9007199254740992.0)      /* 2^53: exact as an integer */
                return json_integer((json_int_t) v);
        return json_real(v);
}

json_t *identity_to_json(const IdentityInfo *i) {
        return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}",
                         "id", (json_int_t) i->id,
                         "key", json_string_lossy(i->key),
                         "comm", json_string_lossy(i->comm),
                         "exe", json_string_lossy(i->exe),
                         "cmdline", json_string_lossy(i->cmdline),
                         "unit", json_string_lossy(i->unit));
}

/* ---- replies ---- */

void web_reply_done(WebReply *r) {
        if (r->body)
                json_decref(r->body);
        *r = (WebReply) {};
}

int web_reply_json(WebReply *r, unsigned status, json_t *body) {
        web_reply_done(r);
        if (!body)
                return -ENOMEM;
        *r = (WebReply) { .status = status, .body = body };
        return 0;
}

int web_reply_error(WebReply *r, unsigned status, const char *fmt, ...) {
        _cleanup_free_ char *message = NULL;
        va_list ap;
        int k;

        va_start(ap, fmt);
        k = vasprintf(&message, fmt, ap);
        va_end(ap);
        if (k < 0) {
                message = NULL;
                return -ENOMEM;
        }

        return web_reply_json(r, status, json_pack("{s:o, s:I}",
                                                   "error", json_string_lossy(message),
                                                   "status", (json_int_t) status));
}

int web_reply_store_error(WebReply *r, const Store *store, int error) {
        const char *text = store ? store_last_error(store) : NULL;

        if (error == -ENOMEM)
                return error;
        if (!text || !*text)
                text = strerror(-error);
        return web_reply_error(r, MHD_HTTP_SERVICE_UNAVAILABLE, "%s", text);
}

const char *web_params_get(const WebParams *p, const char *name) {
        for (size_t i = 0; p->names && p->names[i]; i++)
                if (strcmp(p->names[i], name) == 0)
                        return p->values[i];
        return NULL;
}

/* ---- the read-only Store ---- */

int web_server_get_store(WebServer *s, Store **ret, WebReply *reply) {
        _cleanup_free_ char *reason = NULL;
        int r;

        if (s->store) {
                *ret = s->store;
                return 0;
        }

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

        *ret = s->store;
        return 0;
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

/* Serializes body with a trailing newline. Returns a malloc'd string or NULL. */
static char *json_dump_body(const json_t *body, size_t *ret_len) {
        char *text, *grown;
        size_t len;

        text = json_dumps(body, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        if (!text)
                return NULL;
        len = strlen(text);
        grown = realloc(text, len + 2);
        if (!grown) {
                free(text);
                return NULL;
        }
        grown[len++] = '\n';
        grown[len] = '\0';
        *ret_len = len;
        return grown;
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
