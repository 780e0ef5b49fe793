/* JSON values of the API: text that may not be UTF-8, timestamps, seconds, rounded figures and
 * kB, and the objects several endpoints share (an identity, an epoch, the thresholds, one
 * compared metric, a reason line); and the body of a reply as text. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "string-util.h"
#include "time-util.h"
#include "web-internal.h"

#define REASON_MAX 256

json_t *json_string_lossy(const char *s) {
        _cleanup_free_ char *copy = NULL;

        if (!s)
                return json_null();
        if (utf8_is_valid(s))
                return json_string(s);
        copy = utf8_make_valid(s);
        return copy ? json_string(copy) : NULL;
}

json_t *json_time(uint64_t usec) {
        char buf[RFC3339_MAX];

        return json_string(format_timestamp_rfc3339(buf, sizeof buf, usec));
}

json_t *json_timestamp(uint64_t usec) {
        return usec == 0 ? json_null() : json_time(usec);
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

/* The key of an identity without its arguments: the mode's key built from exe, comm and unit
 * alone ("exe-args:/usr/bin/foo --password=x" → "exe-args:/usr/bin/foo"). */
static char *identity_key_redacted(const IdentityInfo *i) {
        _cleanup_free_ char *mode = NULL;
        const char *colon;
        IdentityMode m;
        char *key;

        colon = i->key ? strchr(i->key, ':') : NULL;
        if (!colon)
                return NULL;
        mode = strndup(i->key, (size_t) (colon - i->key));
        if (!mode)
                return NULL;
        m = identity_mode_from_string(mode);
        if (m < 0 || identity_key_build(m, i->comm ?: "", i->exe, NULL, i->unit, &key) < 0)
                return NULL;
        return key;
}

json_t *identity_to_json(const IdentityInfo *i, bool redact) {
        _cleanup_free_ char *key = NULL, *cmdline = NULL;

        if (redact) {
                key = identity_key_redacted(i);
                cmdline = i->cmdline ? strndup(i->cmdline, strcspn(i->cmdline, " ")) : NULL;
                if ((i->key && !key) || (i->cmdline && !cmdline))
                        return NULL;
        }
        return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o}",
                         "id", (json_int_t) i->id,
                         "key", json_string_lossy(redact ? key : i->key),
                         "comm", json_string_lossy(i->comm),
                         "exe", json_string_lossy(i->exe),
                         "cmdline", json_string_lossy(redact ? cmdline : i->cmdline),
                         "unit", json_string_lossy(i->unit));
}

/* Serializes body with a trailing newline. Returns a malloc'd string or NULL. */
WebBody *json_dump_body(const json_t *body) {
        const size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(15);
        size_t len = json_dumpb(body, NULL, 0, flags);
        WebBody *b;

        if (len == 0)
                return NULL;
        b = web_body_new(NULL, len + 1);
        if (!b)
                return NULL;
        if (json_dumpb(body, b->data, len, flags) != len) {
                web_body_unref(b);
                return NULL;
        }
        b->data[len] = '\n';
        return b;
}

/* ---- objects several endpoints share ---- */

json_t *epoch_to_json(const EpochInfo *e) {
        if (!e)
                return json_null();

        return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I}",
                         "epoch", (json_int_t) e->id,
                         "release", json_string_lossy(e->release),
                         "version", json_string_lossy(e->version),
                         "boot_id", json_string_lossy(e->boot_id),
                         "mapcount_mode", json_string(mapcount_mode_to_string(e->mapcount_mode)),
                         "first_sweep", json_timestamp(e->first_sweep_usec),
                         "last_sweep", json_timestamp(e->last_sweep_usec),
                         "sweeps", (json_int_t) e->sweeps);
}

json_t *thresholds_to_json(const Thresholds *t) {
        return json_pack("{s:f, s:f, s:f}",
                         "min_delta_kb", t->min_delta_kb,
                         "min_delta_points", t->min_delta_points,
                         "noise_factor", t->noise_factor);
}

json_t *metric_to_json_named(const MetricDelta *d, const char *before, const char *after) {
        char before_kb[32], after_kb[32], before_ratio[32], after_ratio[32];

        (void) snprintf(before_kb, sizeof before_kb, "%s_kb", before);
        (void) snprintf(after_kb, sizeof after_kb, "%s_kb", after);
        (void) snprintf(before_ratio, sizeof before_ratio, "%s_ratio", before);
        (void) snprintf(after_ratio, sizeof after_ratio, "%s_ratio", after);
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
                         before_kb, json_kb(d->before.median_kb),
                         after_kb, json_kb(d->after.median_kb),
                         "delta_kb", json_kb(d->delta_kb),
                         before_ratio, json_rounded(d->before.median_ratio, 4),
                         after_ratio, json_rounded(d->after.median_ratio, 4),
                         "delta_points", json_rounded(d->delta_points, 2),
                         "noise_points", json_rounded(d->noise_points, 2),
                         "flagged", (int) d->flagged);
}

json_t *named_deltas_to_json(const NamedDelta *d, size_t n, const char *before, const char *after) {
        _cleanup_json_ json_t *o = json_object();

        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (json_object_set_new(o, d[i].name,
                                        metric_to_json_named(d[i].delta, before, after)) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

int reason_append(json_t *reasons, const char *name, const char *base, const MetricDelta *d) {
        char buf[REASON_MAX];

        return json_array_append_new(reasons,
                                     json_string_lossy(metric_delta_reason(name, base, d, buf,
                                                                           sizeof buf)));
}

json_t *named_deltas_reasons(const NamedDelta *d, size_t n) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (d[i].delta->flagged && reason_append(a, d[i].name, d[i].base, d[i].delta) < 0)
                        return NULL;
        return TAKE_PTR(a);
}
