/* Answering without the network: the same routes, parameters and handlers as the HTTP server,
 * called in-process on a database file (mapstatctl --db). The answer is what the daemon would
 * send for the same request, byte for byte. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "web-internal.h"

int web_local_new(WebServer **ret, const char *db_path, WebStatus *status) {
        return web_server_new(ret, db_path, status, 0);
}

/* Fills req->params from a query string ("a=1&b=%2F"), decoded as libmicrohttpd decodes it,
 * into copies kept in *ret_copy (caller frees). Returns 1, 0 (reply holds the 400) or
 * -ENOMEM. */
static int local_params(WebRequest *req, const char *query, char **ret_copy, WebReply *reply) {
        char *copy, *save = NULL;
        int r = 1;

        copy = strdup(query ?: "");
        if (!copy)
                return -ENOMEM;
        *ret_copy = copy;
        for (char *pair = strtok_r(copy, "&", &save); pair; pair = strtok_r(NULL, "&", &save)) {
                char *eq = strchr(pair, '=');

                if (eq)
                        *eq++ = '\0';
                (void) MHD_http_unescape(pair);
                if (eq)
                        (void) MHD_http_unescape(eq);
                r = web_params_add(&req->params, pair, eq, reply);
                if (r <= 0)
                        return r;
        }
        return 1;
}

int web_local_get(WebServer *s, const char *target, unsigned *ret_status, char **ret_body,
                  size_t *ret_len, const char **ret_content_type) {
        _cleanup_free_ char *path = NULL, *query_copy = NULL;
        const char *question = strchr(target, '?');
        const WebRoute *route;
        WebRequest req = { .server = s };
        WebReply reply = {};
        WebBody *body;
        int r = 0;

        path = question ? strndup(target, (size_t) (question - target)) : strdup(target);
        if (!path)
                return -ENOMEM;

        route = web_route_find(path, &req.id);
        if (!route)
                r = web_reply_error(&reply, MHD_HTTP_NOT_FOUND, "no such endpoint '%.200s'", path);
        else if (req.id < 0)
                r = web_reply_error(&reply, MHD_HTTP_BAD_REQUEST,
                                    "invalid id in '%.200s': expected a positive integer", path);
        else {
                req.params.names = route->params;
                r = local_params(&req, question ? question + 1 : NULL, &query_copy, &reply);
                if (r > 0) {
                        web_status_snapshot(s->status, &req.status);
                        web_run_handler(s, route, &req, &reply, "GET", target);
                        r = 0;
                }
        }
        if (r < 0) {
                web_reply_done(&reply);
                return r;
        }

        body = web_reply_body(&reply);
        if (!body) {
                web_reply_done(&reply);
                return -ENOMEM;
        }
        *ret_status = reply.status;
        *ret_content_type = reply.content_type ?: "application/json";
        *ret_len = body->len;
        *ret_body = strndup(body->data, body->len);
        web_body_unref(body);
        web_reply_done(&reply);
        return *ret_body ? 0 : -ENOMEM;
}
