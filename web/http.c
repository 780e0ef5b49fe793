/* What one HTTP request gets: method and path checks, the dashboard's files, query parameters,
 * the route's handler (through the response cache for routes that depend only on stored data),
 * validators (ETag → 304), gzip, and the reply on the wire. Every error body is JSON. And the
 * refresher: after each sweep it computes again, on a thread of its own, the cached answers
 * requests used lately, so that requests get them from the cache (the previous one meanwhile)
 * rather than waiting, with every connection of their thread, for a report to be computed. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <microhttpd.h>

#include "log.h"
#include "parse-util.h"
#include "string-util.h"
#include "time-util.h"
#include "web-internal.h"

/* Longest user-supplied string (path, parameter name or value) echoed in an error body. */
#define WEB_ECHO_MAX "200"

/* Bodies shorter than this are sent as they are: gzip would save too little to matter. */
#define WEB_GZIP_MIN 1024u

/* Longest cache key (path and parameters); longer requests are answered without the cache. */
#define WEB_CACHE_KEY_MAX 2048u

/* After each sweep, the refresher computes again the cached answers used this recently. */
#define WEB_REFRESH_USED_WITHIN_USEC (10 * 60 * USEC_PER_SEC)

/* Answer when even the error body cannot be built. */
#define OOM_BODY "{\n  \"error\": \"out of memory\",\n  \"status\": 500\n}\n"

#define CONTENT_TYPE_JSON "application/json"

/* What is sent: a status and a body (a reference, or static data), and the headers. */
typedef struct WebAnswer {
        unsigned status;
        const char *content_type;
        WebBody *body;                  /* a reference; NULL: data/len below */
        const void *data;
        size_t len;
        bool gzip;                      /* the body is gzip */
        bool vary;                      /* could have been gzip: Vary: Accept-Encoding */
        char etag[64];                  /* "" when none */
        const char *cache_control;
        bool allow;                     /* 405: say which methods are */
} WebAnswer;

static void web_answer_done(WebAnswer *a) {
        web_body_unref(a->body);
        *a = (WebAnswer) {};
}

/* ---- request headers ---- */

/* Whether Accept-Encoding lists gzip (or "*") without q=0. */
static bool accepts_gzip(struct MHD_Connection *connection) {
        const char *h = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_ACCEPT_ENCODING);

        while (h && *h) {
                size_t n = strcspn(h, ",");
                const char *semi = memchr(h, ';', n);
                size_t name_len = semi ? (size_t) (semi - h) : n;
                const char *name = h;

                while (name_len > 0 && (*name == ' ' || *name == '\t')) {
                        name++;
                        name_len--;
                }
                while (name_len > 0 && (name[name_len - 1] == ' ' || name[name_len - 1] == '\t'))
                        name_len--;
                if ((name_len == 4 && strncasecmp(name, "gzip", 4) == 0) ||
                    (name_len == 1 && name[0] == '*')) {
                        const char *q = semi ? strstr(semi, "q=") : NULL;

                        /* q=0, q=0.0, q=0.000: refused. */
                        if (!q || q >= h + n || strspn(q + 2, "0.") < strcspn(q + 2, ", ;"))
                                return true;
                }
                h += n;
                if (*h == ',')
                        h++;
        }
        return false;
}

/* Whether the client asks for an answer computed from the current data rather than the previous
 * one while the current is being computed: Cache-Control no-cache or max-age=0, or Pragma
 * no-cache (RFC 9111 5.2.1, 5.4). */
static bool wants_fresh(struct MHD_Connection *connection) {
        const char *cc = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CACHE_CONTROL);
        const char *pragma = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                         MHD_HTTP_HEADER_PRAGMA);

        return (cc && (strcasestr(cc, "no-cache") || strcasestr(cc, "max-age=0"))) ||
               (pragma && strcasestr(pragma, "no-cache"));
}

/* Whether If-None-Match lists etag ("*" lists every one; W/ tags compare weakly, RFC 9110
 * 13.1.2). */
static bool none_match(struct MHD_Connection *connection, const char *etag) {
        const char *h = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_IF_NONE_MATCH);
        size_t etag_len = strlen(etag);

        while (h && *h) {
                size_t n;

                h += strspn(h, " \t,");
                n = strcspn(h, ",");
                while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
                        n--;
                if (n == 1 && h[0] == '*')
                        return true;
                if (n > 2 && startswith(h, "W/")) {
                        h += 2;
                        n -= 2;
                }
                if (n == etag_len && memcmp(h, etag, n) == 0)
                        return true;
                h += n;
                h += strcspn(h, ",");
        }
        return false;
}

/* ---- parameters ---- */

typedef struct ParamCollector {
        WebParams *params;
        WebReply *reply;
        int error;              /* < 0: building the reply failed */
        bool rejected;          /* reply holds a 400 */
} ParamCollector;

static enum MHD_Result param_collect(void *userdata, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
        ParamCollector *c = userdata;
        int r;

        (void) kind;
        r = web_params_add(c->params, key, value, c->reply);
        if (r > 0)
                return MHD_YES;
        c->error = r;
        c->rejected = true;
        return MHD_NO;
}

/* The cache key of a request: its path and its parameters in the route's order. Returns 1, 0
 * when the request is too long to be cached, or -ENOMEM. */
static int cache_key(const char *url, const WebParams *p, char **ret) {
        char *key = NULL;
        size_t len = 0;
        FILE *f;

        f = open_memstream(&key, &len);
        if (!f)
                return -ENOMEM;
        fputs(url, f);
        for (size_t i = 0; p->names[i]; i++)
                if (p->values[i])
                        fprintf(f, "\n%s=%s", p->names[i], p->values[i]);
        if (fclose(f) != 0 || !key) {
                free(key);
                return -ENOMEM;
        }
        if (len > WEB_CACHE_KEY_MAX) {
                free(key);
                return 0;
        }
        *ret = key;
        return 1;
}

/* ---- answers ---- */

/* Fills a from reply; on allocation failure a 500 with a static body. */
static void answer_from_reply(WebAnswer *a, const WebReply *reply) {
        WebBody *body = web_reply_body(reply);

        if (!body) {
                a->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
                a->content_type = CONTENT_TYPE_JSON;
                a->data = OOM_BODY;
                a->len = STRLEN(OOM_BODY);
                return;
        }
        a->status = reply->status;
        a->content_type = reply->content_type ?: CONTENT_TYPE_JSON;
        a->body = body;
}

/* Replaces a's body by its gzip when the client takes it and the body is worth it. */
static void answer_gzip(WebAnswer *a, bool gzip) {
        WebBody *zipped;

        if (!a->body || a->body->len < WEB_GZIP_MIN)
                return;
        a->vary = true;
        if (!gzip || web_gzip(a->body->data, a->body->len, &zipped) < 0)
                return;
        web_body_unref(a->body);
        a->body = zipped;
        a->gzip = true;
}

void web_run_handler(WebServer *s, const WebRoute *route, WebRequest *req,
                            WebReply *reply, const char *method, const char *url) {
        int r;

        r = route->handler(req, reply);
        web_server_request_done(s);
        if (r < 0) {
                log_debug_errno(r, "Failed to answer %s '%s': %m", method, url);
                (void) web_reply_error(reply, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal error: %s", strerror(-r));
                if (!reply->body)
                        reply->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        }
}

/* The validator of a cached response: the daemon's start and the generation it was computed
 * at, so that it changes with every sweep and across restarts, and with the encoding. */
static void answer_etag(WebAnswer *a, const WebRequest *req, uint64_t generation) {
        (void) snprintf(a->etag, sizeof a->etag, "\"%" PRIx64 "-%" PRIu64 "%s\"",
                        req->status.started_usec, generation, a->gzip ? "-gzip" : "");
}

/* A route whose answer depends only on stored data: from the cache, or computed and kept. */
static int answer_cached(WebServer *s, const WebRoute *route, WebRequest *req,
                         const char *key, bool gzip, bool fresh, const char *method,
                         const char *url, WebAnswer *a) {
        uint64_t generation = req->status.generation;
        WebReply reply = {};
        WebCached hit = {};
        int r;

        r = web_cache_lookup(s->cache, key, generation, gzip, fresh, &hit);
        if (r < 0)
                return r;
        if (r > 0) {
                a->status = hit.status;
                a->content_type = hit.content_type;
                a->vary = hit.body->len >= WEB_GZIP_MIN;
                if (gzip && a->vary) {
                        a->body = TAKE_PTR(hit.body_gzip);
                        a->gzip = true;
                } else
                        a->body = TAKE_PTR(hit.body);
                answer_etag(a, req, hit.generation);
                web_cached_done(&hit);
                return 0;
        }

        web_run_handler(s, route, req, &reply, method, url);
        answer_from_reply(a, &reply);
        web_reply_done(&reply);
        if (a->status == MHD_HTTP_OK && a->body) {
                WebRecipe recipe = { .route = route, .id = req->id };

                /* The parameter strings are libmicrohttpd's: the cache copies them. */
                memcpy(recipe.values, req->params.values, sizeof recipe.values);
                (void) web_cache_put(s->cache, key, generation, a->status, a->content_type,
                                     a->body, &recipe);
                answer_gzip(a, gzip);
                answer_etag(a, req, generation);
        } else
                web_cache_abandon(s->cache, key);
        return 0;
}

static void answer_asset(const WebAsset *asset, bool gzip, WebAnswer *a) {
        a->status = MHD_HTTP_OK;
        a->content_type = asset->content_type;
        a->cache_control = "no-cache";
        a->vary = asset->data_gzip != NULL;
        if (gzip && asset->data_gzip) {
                a->data = asset->data_gzip;
                a->len = asset->len_gzip;
                a->gzip = true;
        } else {
                a->data = asset->data;
                a->len = asset->len;
        }
        (void) snprintf(a->etag, sizeof a->etag, "\"%s%s\"", asset->etag,
                        a->gzip ? "-gzip" : "");
}

/* What web_uri_seen() found, the first *req_cls of a request; then request_seen. */
static int uri_plain, uri_with_nul, uri_too_many_params, request_seen;

/* More query parameters than any route takes by far. libmicrohttpd 0.9.75 parses them into
 * its 32 KiB connection pool right after web_uri_seen() returns; about 500 exhaust it, and then
 * it cannot even send its own error: the client waits for the idle timeout. */
#define WEB_QUERY_PARAMS_MAX 64

void *web_uri_seen(void *cls, const char *uri, struct MHD_Connection *connection) {
        const char *query = strchr(uri, '?');
        size_t n = 0;

        (void) cls;
        (void) connection;
        if (strstr(uri, "%00"))
                return &uri_with_nul;
        for (const char *p = query; p; p = strchr(p + 1, '&'))
                n++;
        if (n <= WEB_QUERY_PARAMS_MAX)
                return &uri_plain;
        /* The query is cut where it starts, so that none of it is parsed; the request is
         * answered 400. The text is libmicrohttpd's own read buffer, which it writes in place as
         * it parses: writable, though passed as const. */
        ((char *) query)[1] = '\0';
        return &uri_too_many_params;
}

/* Decides the answer; bad: what web_uri_seen() refused in the request target (a %00, too many
 * parameters), or NULL. Returns 0 or -ENOMEM (a then holds nothing). */
static int web_answer(WebServer *s, struct MHD_Connection *connection, const char *url,
                      const char *method, const int *bad, WebAnswer *a) {
        _cleanup_free_ char *key = NULL;
        const WebRoute *route;
        const WebAsset *asset;
        WebRequest req = { .server = s };
        WebReply reply = {};
        ParamCollector collector = { .params = &req.params, .reply = &reply };
        bool gzip = accepts_gzip(connection);
        int r;

        a->cache_control = "no-store";

        if (bad == &uri_with_nul) {
                r = web_reply_error(&reply, MHD_HTTP_BAD_REQUEST,
                                    "a NUL byte (%%00) in the request target");
                goto reply;
        }
        if (bad == &uri_too_many_params) {
                r = web_reply_error(&reply, MHD_HTTP_BAD_REQUEST,
                                    "more than %d query parameters", WEB_QUERY_PARAMS_MAX);
                goto reply;
        }
        if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
            strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
                a->allow = true;
                r = web_reply_error(&reply, MHD_HTTP_METHOD_NOT_ALLOWED,
                                    "method '%." WEB_ECHO_MAX "s' not allowed", method);
                goto reply;
        }

        asset = web_asset_find(url);
        if (asset) {
                answer_asset(asset, gzip, a);
                return 0;
        }

        route = web_route_find(url, &req.id);
        if (!route) {
                r = web_reply_error(&reply, MHD_HTTP_NOT_FOUND,
                                    "no such endpoint '%." WEB_ECHO_MAX "s'", url);
                goto reply;
        }
        if (req.id < 0) {
                r = web_reply_error(&reply, MHD_HTTP_BAD_REQUEST,
                                    "invalid id in '%." WEB_ECHO_MAX "s': expected a positive "
                                    "integer", url);
                goto reply;
        }

        req.params.names = route->params;
        (void) MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, param_collect,
                                         &collector);
        if (collector.rejected) {
                r = collector.error;
                goto reply;
        }

        web_status_snapshot(s->status, &req.status);
        if (route->cacheable) {
                r = cache_key(url, &req.params, &key);
                if (r < 0)
                        return r;
                if (r > 0) {
                        a->cache_control = "no-cache";
                        return answer_cached(s, route, &req, key, gzip,
                                             wants_fresh(connection), method, url, a);
                }
        }
        web_run_handler(s, route, &req, &reply, method, url);
        r = 0;

reply:
        if (r < 0) {
                web_reply_done(&reply);
                return r;
        }
        answer_from_reply(a, &reply);
        web_reply_done(&reply);
        answer_gzip(a, gzip);
        return 0;
}

/* ---- the wire ---- */

static enum MHD_Result web_send(struct MHD_Connection *connection, WebAnswer *a) {
        struct MHD_Response *response;
        enum MHD_Result ret;
        unsigned status = a->status;
        bool not_modified = status == MHD_HTTP_OK && a->etag[0] &&
                none_match(connection, a->etag);

        if (not_modified) {
                status = MHD_HTTP_NOT_MODIFIED;
                response = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        } else if (a->body) {
                response = MHD_create_response_from_buffer_with_free_callback_cls(
                        a->body->len, a->body->data, web_body_unref, a->body);
                if (response)
                        a->body = NULL;         /* the response holds the reference now */
        } else
                response = MHD_create_response_from_buffer(a->len, (void *) a->data,
                                                            MHD_RESPMEM_PERSISTENT);
        if (!response)
                return MHD_NO;

        if ((!not_modified &&
             MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                     a->content_type) != MHD_YES) ||
            MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL,
                                    a->cache_control) != MHD_YES ||
            (a->etag[0] &&
             MHD_add_response_header(response, MHD_HTTP_HEADER_ETAG, a->etag) != MHD_YES) ||
            (a->vary &&
             MHD_add_response_header(response, MHD_HTTP_HEADER_VARY,
                                     MHD_HTTP_HEADER_ACCEPT_ENCODING) != MHD_YES) ||
            (a->gzip && !not_modified &&
             MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_ENCODING,
                                     "gzip") != MHD_YES) ||
            (a->allow &&
             MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
                MHD_destroy_response(response);
                return MHD_NO;
        }

        ret = MHD_queue_response(connection, status, response);
        MHD_destroy_response(response);
        return ret;
}

/* The largest body a request may carry and still be read (and discarded) before it is
 * answered. */
#define WEB_DISCARD_BODY_MAX (64 * 1024)

/* Whether the request's body, if any, is small enough to read and discard: none, or a
 * Content-Length up to WEB_DISCARD_BODY_MAX (a chunked one could be endless). */
static bool body_is_small(struct MHD_Connection *connection) {
        const char *len = MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
        uint64_t n;

        if (MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_TRANSFER_ENCODING))
                return false;
        return !len || (safe_atou64(len, &n) >= 0 && n <= WEB_DISCARD_BODY_MAX);
}

/* libmicrohttpd calls the handler once when the headers are in, then once per piece of body and
 * once more at the end. A request is answered at its end, its body discarded, which keeps the
 * connection reusable: the requests pipelined after it are answered too, a wrong method's
 * included. A request with a %00 in its target or a large or chunked body, whatever its method,
 * is answered at once; its body is never read, and the connection is closed after the reply. */
enum MHD_Result web_access_handler(void *userdata, struct MHD_Connection *connection,
                                   const char *url, const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **req_cls) {
        WebServer *s = userdata;
        WebAnswer a = {};
        const int *bad = NULL;
        enum MHD_Result ret;
        int r;

        (void) version;
        (void) upload_data;

        if (*req_cls != &request_seen) {
                /* The first call; what web_uri_seen() refused (a %00, which libmicrohttpd cut
                 * the url at, or too many parameters) is answered at once. */
                if (*req_cls == &uri_with_nul || *req_cls == &uri_too_many_params)
                        bad = *req_cls;
                *req_cls = &request_seen;
                if (!bad && body_is_small(connection))
                        return MHD_YES;
        } else if (*upload_data_size > 0) {
                *upload_data_size = 0;
                return MHD_YES;
        }

        r = web_answer(s, connection, url, method, bad, &a);
        if (r < 0) {
                log_debug_errno(r, "Failed to answer %s '%s': %m", method, url);
                web_answer_done(&a);
                a = (WebAnswer) {
                        .status = MHD_HTTP_INTERNAL_SERVER_ERROR,
                        .content_type = CONTENT_TYPE_JSON,
                        .data = OOM_BODY,
                        .len = STRLEN(OOM_BODY),
                        .cache_control = "no-store",
                };
        }

        log_debug("%s '%s': %u", method, url, a.status);
        ret = web_send(connection, &a);
        if (ret != MHD_YES)
                log_warning("Failed to send the answer to %s '%s' (%u), closing the connection",
                            method, url, a.status);
        web_answer_done(&a);
        return ret;
}

/* ---- the refresher ---- */

/* Computes one claimed entry again and stores it, or gives it up (an error answer is not
 * cached: the next request computes it and gets the error). */
static void web_refresh_one(WebServer *s, const WebRefresh *job, const WebStatusData *st) {
        WebRequest req = { .server = s, .id = job->recipe.id, .status = *st };
        WebReply reply = {};
        WebAnswer a = {};

        req.params.names = job->recipe.route->params;
        for (size_t i = 0; i < WEB_PARAMS_MAX; i++)
                req.params.values[i] = job->recipe.values[i];
        web_run_handler(s, job->recipe.route, &req, &reply, "refresh", job->key);
        answer_from_reply(&a, &reply);
        web_reply_done(&reply);
        if (a.status == MHD_HTTP_OK && a.body)
                (void) web_cache_put(s->cache, job->key, st->generation, a.status,
                                     a.content_type, a.body, &job->recipe);
        else
                web_cache_abandon(s->cache, job->key);
        web_answer_done(&a);
}

void *web_refresher(void *userdata) {
        WebServer *s = userdata;
        uint64_t seen = 0;

        while (web_status_wait(s->status, &seen, &s->stopping)) {
                WebRefresh *jobs = NULL;
                WebStatusData st;
                size_t n = 0, i = 0;
                uint64_t now = now_usec(CLOCK_MONOTONIC);

                web_status_snapshot(s->status, &st);
                /* First the textfile, which node_exporter may read any time; its /metrics also
                 * leaves the report's comparison in the memo for the cached answers below. */
                if (st.textfile_directory[0] && st.last_sweep_usec > 0)
                        (void) web_textfile_write(s, st.textfile_directory);
                if (web_cache_claim_stale(s->cache, st.generation,
                                          now > WEB_REFRESH_USED_WITHIN_USEC
                                                  ? now - WEB_REFRESH_USED_WITHIN_USEC : 0,
                                          &jobs, &n) < 0)
                        continue;
                for (; i < n && !web_status_stopping(s->status, &s->stopping); i++)
                        web_refresh_one(s, &jobs[i], &st);
                if (n > 0) {
                        log_debug("Refreshed %zu cached answers for generation %" PRIu64, i,
                                  st.generation);
                        /* What computing them freed goes back to the system until the next
                         * sweep. */
                        (void) malloc_trim(0);
                }
                for (; i < n; i++)
                        web_cache_abandon(s->cache, jobs[i].key);
                web_refresh_array_free(jobs, n);
        }
        return NULL;
}
