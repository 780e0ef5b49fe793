/* libFuzzer target for every path and query parameter of the HTTP API: web_local_get() answers
 * the input as a request target ("/processes/7?step=5min") with the daemon's own routes,
 * parameter lists and handlers, in-process, on an empty database (no server, no network). The
 * answer must be a JSON document (/metrics aside), 404 when no route has the path's form, and
 * every error a JSON {"error", "status"}. An empty database is no storage failure and the
 * daemon has just started (a sweep a day): nothing may answer 500 or 503, and /healthz
 * (without parameters) says "starting". */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz-util.h"
#include "server.h"
#include "store.h"
#include "web-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static WebServer *server(void) {
        static WebStatus status;
        static WebServer *s;
        char path[4096];
        Store *store = NULL;

        if (s)
                return s;
        (void) snprintf(path, sizeof path, "%s/mapstatd.db", fuzz_scratch());
        assert(store_open(&store, path, STORE_READ_WRITE, NULL) == 0);
        store_free(store);
        web_status_init(&status);
        status.data.interval_usec = 86400ULL * 1000000ULL;    /* no sweep is overdue yet */
        assert(web_local_new(&s, path, &status) == 0);
        return s;
}

static void check_reply(const char *target, unsigned status, const char *body, size_t len,
                        const char *type) {
        size_t path_len = strcspn(target, "?");
        char *path = strndup(target, path_len);
        json_t *doc;
        int64_t id;

        assert(strcmp(type, "application/json") == 0 ||
               (status == 200 && strncmp(target, "/metrics", 8) == 0));
        assert(status == 200 || status == 400 || status == 404);
        if (path && !web_route_find(path, &id))
                assert(status == 404);
        if (strcmp(type, "application/json") == 0) {
                doc = json_loadb(body, len, 0, NULL);
                assert(doc);
                if (status == 200 && path && strcmp(path, "/healthz") == 0)
                        assert(strcmp(json_string_value(json_object_get(doc, "status")) ?: "",
                                      "starting") == 0);
                if (status != 200) {
                        assert(json_is_string(json_object_get(doc, "error")));
                        assert(json_integer_value(json_object_get(doc, "status")) == status);
                }
                json_decref(doc);
        }
        free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *type = NULL;
        char *target, *body = NULL;
        unsigned status = 0;
        size_t len = 0;
        int r;

        /* A request line is at most a few KiB; libmicrohttpd refuses a %00 (web_uri_seen). */
        if (size > 8192 || memchr(data, '\0', size))
                return 0;
        target = fuzz_strdup(data, size);
        if (!target)
                return 0;

        r = web_local_get(server(), target, &status, &body, &len, &type);
        assert(r == 0 || r == -ENOMEM);
        if (r == 0) {
                assert(body && strlen(body) == len);
                check_reply(target, status, body, len, type);
        }
        free(body);
        free(target);
        return 0;
}
