/* What a handler works with: the query parameters of the request (and their checked parsers,
 * each naming the parameter and the value it rejects), and the reply it fills (a status and a
 * JSON body, or a JSON error). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "parse-util.h"
#include "time-util.h"
#include "web-internal.h"

void web_reply_done(WebReply *r) {
        if (r->body)
                json_decref(r->body);
        free(r->text);
        *r = (WebReply) {};
}

int web_reply_text(WebReply *r, char *text, size_t len, const char *content_type) {
        web_reply_done(r);
        if (!text)
                return -ENOMEM;
        *r = (WebReply) {
                .status = MHD_HTTP_OK,
                .text = text,
                .text_len = len,
                .content_type = content_type,
        };
        return 0;
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

WebBody *web_reply_body(const WebReply *reply) {
        if (reply->text)
                return web_body_new(reply->text, reply->text_len);
        if (reply->body)
                return json_dump_body(reply->body);
        return NULL;
}

int web_params_add(WebParams *p, const char *name, const char *value, WebReply *reply) {
        int r;

        for (size_t i = 0; p->names[i]; i++) {
                if (strcmp(p->names[i], name) != 0)
                        continue;
                if (p->values[i]) {
                        r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                            "parameter '%s' given more than once", name);
                        return r < 0 ? r : 0;
                }
                /* "?limit" without "=" has no value; treat it as empty so it fails to parse. */
                p->values[i] = value ?: "";
                return 1;
        }
        r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST, "unknown parameter '%.200s'", name);
        return r < 0 ? r : 0;
}

const char *web_params_get(const WebParams *p, const char *name) {
        for (size_t i = 0; p->names && p->names[i]; i++)
                if (strcmp(p->names[i], name) == 0)
                        return p->values[i];
        return NULL;
}

/* ---- parameters ---- */

static int param_reject(WebReply *reply, const char *name, const char *value,
                        const char *expected) {
        int r;

        r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                            "invalid value '%.200s' for parameter '%s': expected %s",
                            value, name, expected);
        return r < 0 ? r : 0;
}

int web_params_u64(const WebParams *p, const char *name, uint64_t min, uint64_t max,
                   const char *expected, uint64_t *ret, WebReply *reply) {
        const char *value = web_params_get(p, name);
        uint64_t v;

        if (!value)
                return 1;
        if (safe_atou64(value, &v) < 0 || v < min || v > max)
                return param_reject(reply, name, value, expected);
        *ret = v;
        return 1;
}

static int param_threshold(const WebParams *p, const char *name, double *ret, WebReply *reply) {
        const char *value = web_params_get(p, name);
        Thresholds check;
        double v;

        if (!value)
                return 1;
        if (safe_atod(value, &v) < 0)
                return param_reject(reply, name, value, "a non-negative finite number");

        /* compare/ owns the rule; every threshold obeys the same one, so checking the value in
         * all three places checks it for this parameter. */
        check = (Thresholds) { .min_delta_kb = v, .min_delta_points = v, .noise_factor = v };
        if (thresholds_validate(&check) < 0)
                return param_reject(reply, name, value, "a non-negative finite number");
        *ret = v;
        return 1;
}

int web_params_thresholds(const WebParams *p, Thresholds *t, WebReply *reply) {
        int r;

        r = param_threshold(p, "min_delta_kb", &t->min_delta_kb, reply);
        if (r > 0)
                r = param_threshold(p, "min_delta_points", &t->min_delta_points, reply);
        if (r > 0)
                r = param_threshold(p, "noise_factor", &t->noise_factor, reply);
        return r;
}

int web_params_time(const WebParams *p, const char *name, uint64_t *ret, WebReply *reply) {
        const char *value = web_params_get(p, name);
        double seconds;

        if (!value)
                return 1;
        if (parse_rfc3339_usec(value, ret) >= 0)
                return 1;
        if (safe_atod(value, &seconds) >= 0 && seconds >= 0 && seconds < 1e12) {
                *ret = (uint64_t) (seconds * USEC_PER_SEC);
                return 1;
        }
        return param_reject(reply, name, value,
                            "an RFC 3339 time such as 2026-11-21T20:00:00Z, or Unix seconds");
}

int web_params_duration(const WebParams *p, const char *name, uint64_t *ret, WebReply *reply) {
        const char *value = web_params_get(p, name);
        uint64_t usec;

        if (!value)
                return 1;
        if (parse_duration_usec(value, &usec) < 0 || usec < USEC_PER_SEC)
                return param_reject(reply, name, value,
                                    "a duration of at least 1s, such as 300, 5min or 1h");
        *ret = usec;
        return 1;
}
