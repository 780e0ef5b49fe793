/* Implementation of cli/client.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "client.h"
#include "options.h"
#include "server.h"
#include "string-util.h"

/* An answer takes at most this long over HTTP, connecting included. */
#define CLIENT_TIMEOUT_SEC 60L

struct Client {
        char *source;                   /* the URL or the database path */
        /* HTTP: */
        CURL *curl;
        /* A database file: */
        WebStatus status;
        bool status_made;
        WebServer *local;
};

static int client_fail(char **reterr, int r, const char *fmt, ...) _printf_(3, 4);
static int client_fail(char **reterr, int r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        if (reterr && vasprintf(reterr, fmt, ap) < 0)
                *reterr = NULL;
        va_end(ap);
        return r;
}

/* The database side: the settings of the configuration file, as the daemon would use them. */
static int client_open_db(Client *c, const char *db, const char *config, char **reterr) {
        _cleanup_free_ char *err = NULL;
        struct stat st;
        Options o;
        int r;

        /* Opening read-only never creates the file: say so plainly first. */
        if (stat(db, &st) < 0)
                return client_fail(reterr, -errno, "cannot open database '%s': %s", db,
                                   strerror(errno));
        r = options_init(&o);
        if (r < 0)
                return r;
        r = options_load_config(&o, config, config != NULL, NULL, &err);
        if (r < 0) {
                options_done(&o);
                return client_fail(reterr, r, "%s", err ? err : strerror(-r));
        }
        web_status_init(&c->status);
        c->status_made = true;
        options_to_status(&o, &c->status.data);
        options_done(&o);
        return web_local_new(&c->local, db, &c->status);
}

int client_open(Client **ret, const char *url, const char *db, const char *config,
                char **reterr) {
        _cleanup_(client_freep) Client *c = calloc(1, sizeof *c);
        int r;

        if (!c)
                return -ENOMEM;
        c->source = strdup(db ?: url);
        if (!c->source)
                return -ENOMEM;
        if (db) {
                r = client_open_db(c, db, config, reterr);
                if (r < 0)
                        return r;
        } else {
                if (!startswith(url, "http://") && !startswith(url, "https://"))
                        return client_fail(reterr, -EINVAL,
                                           "invalid URL '%s': expected http://HOST:PORT", url);
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
                        return -ENOMEM;
                c->curl = curl_easy_init();
                if (!c->curl)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

Client *client_free(Client *c) {
        if (!c)
                return NULL;
        if (c->curl) {
                curl_easy_cleanup(c->curl);
                curl_global_cleanup();
        }
        web_server_free(c->local);
        if (c->status_made)
                web_status_done(&c->status);
        free(c->source);
        free(c);
        return NULL;
}

const char *client_source(const Client *c) {
        return c->source;
}

typedef struct Buffer {
        char *data;
        size_t len;
        bool failed;
} Buffer;

static size_t buffer_write(char *ptr, size_t size, size_t nmemb, void *userdata) {
        Buffer *b = userdata;
        size_t n = size * nmemb;
        char *grown;

        grown = realloc(b->data, b->len + n + 1);
        if (!grown) {
                b->failed = true;
                return 0;
        }
        memcpy(grown + b->len, ptr, n);
        b->data = grown;
        b->len += n;
        b->data[b->len] = '\0';
        return n;
}

static int http_get(Client *c, const char *target, unsigned *ret_status, char **ret_body,
                    size_t *ret_len, char **reterr) {
        _cleanup_free_ char *url = strjoin(c->source, target);
        Buffer b = {};
        long code = 0;
        CURLcode rc;

        if (!url)
                return -ENOMEM;
        curl_easy_reset(c->curl);
        if (curl_easy_setopt(c->curl, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, buffer_write) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &b) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, CLIENT_TIMEOUT_SEC) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_ACCEPT_ENCODING, "") != CURLE_OK ||
            curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "mapstatctl/" PACKAGE_VERSION) !=
                    CURLE_OK)
                return -ENOMEM;
        rc = curl_easy_perform(c->curl);
        if (b.failed) {
                free(b.data);
                return -ENOMEM;
        }
        if (rc != CURLE_OK) {
                free(b.data);
                return client_fail(reterr, -EHOSTUNREACH, "cannot reach %s: %s", c->source,
                                   curl_easy_strerror(rc));
        }
        (void) curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
        if (!b.data && !(b.data = strdup("")))
                return -ENOMEM;
        *ret_status = (unsigned) code;
        *ret_body = b.data;
        *ret_len = b.len;
        return 0;
}

int client_get_text(Client *c, const char *target, unsigned *ret_status, char **ret_body,
                    size_t *ret_len, char **reterr) {
        const char *type;

        if (c->curl)
                return http_get(c, target, ret_status, ret_body, ret_len, reterr);
        return web_local_get(c->local, target, ret_status, ret_body, ret_len, &type);
}

int client_get_json(Client *c, const char *target, json_t **ret, char **reterr) {
        _cleanup_free_ char *body = NULL;
        json_error_t error;
        unsigned status;
        size_t len;
        json_t *doc;
        int r;

        r = client_get_text(c, target, &status, &body, &len, reterr);
        if (r < 0)
                return r;
        doc = json_loadb(body, len, 0, &error);
        if (!doc)
                return client_fail(reterr, -EBADMSG, "%s%s: not JSON (HTTP %u): %s", c->source,
                                   target, status, error.text);
        if (status != 200) {
                const char *message = json_string_value(json_object_get(doc, "error"));

                r = client_fail(reterr, status == 404 ? -ENOENT : status == 400 ? -EINVAL : -EIO,
                                "%s%s: %s (HTTP %u)", c->source, target,
                                message ?: "error", status);
                json_decref(doc);
                return r;
        }
        *ret = doc;
        return 0;
}
