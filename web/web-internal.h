/* What the files of web/ share: the server object, the route table, the request's parameters and
 * the reply a handler fills (request.c), the JSON helpers (json.c), the flagged lists
 * (flagged.c) and the bodies of /report and /forecast. Everything here runs on the one HTTP
 * thread, except web_status_snapshot(), which takes the WebStatus lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "compare.h"
#include "identity.h"
#include "macro.h"
#include "server.h"
#include "store.h"

/* json_decrefp() comes with jansson (>= 2.9). */
#define _cleanup_json_ _cleanup_(json_decrefp)

struct WebServer {
        struct MHD_Daemon *daemon;
        char *db_path;
        WebStatus *status;              /* borrowed */
        Store *store;                   /* opened lazily by the HTTP thread, used only by it */
        char *store_open_error;         /* why the last open failed; NULL once open */
        bool store_failing;             /* the last open failed: logged once, retried per request */
        bool in_request_snapshot;       /* the request being answered holds a read snapshot */
};

/* /report and /forecast before anything was stored. */
#define WEB_NO_SWEEP_MESSAGE "no sweep stored yet: nothing to compare"

/* Most parameters any route accepts. */
#define WEB_PARAMS_MAX 8

/* The query parameters of one request, checked against the route's list: values[i] belongs to
 * names[i] and is NULL when the parameter was not given. The strings belong to libmicrohttpd and
 * live as long as the request. */
typedef struct WebParams {
        const char *const *names;
        const char *values[WEB_PARAMS_MAX];
} WebParams;

/* Returns the value of the named parameter, or NULL when it was not given. */
const char *web_params_get(const WebParams *p, const char *name);


/* The answer a handler produces: an HTTP status and a JSON body (owned). */
typedef struct WebReply {
        unsigned status;
        json_t *body;
} WebReply;

void web_reply_done(WebReply *r);

/* Sets the reply; takes over body (also on failure). Returns 0 or -ENOMEM (body NULL). */
int web_reply_json(WebReply *r, unsigned status, json_t *body);

/* Sets the reply to {"error": message, "status": status}. Returns 0 or -ENOMEM. */
int web_reply_error(WebReply *r, unsigned status, const char *fmt, ...) _printf_(3, 4);

/* Sets a 503 reply for a storage failure, with the store's last SQLite message when there is
 * one, else the errno text. -ENOMEM is passed back unchanged (the caller answers 500); other
 * errors return 0. */
int web_reply_store_error(WebReply *r, const Store *store, int error);

/* Parsers of parameter values. Each leaves *ret untouched when the parameter is absent and
 * returns 1 when the value (or the default) is usable, 0 when reply now holds the 400 naming
 * the parameter and the value, or -ENOMEM. */
int web_params_u64(const WebParams *p, const char *name, uint64_t min, uint64_t max,
                   const char *expected, uint64_t *ret, WebReply *reply);
/* min_delta_kb=, min_delta_points=, noise_factor= over *t (the configured thresholds). */
int web_params_thresholds(const WebParams *p, Thresholds *t, WebReply *reply);

/* Returns the server's read-only Store in *ret, opening it on first use, with a read snapshot
 * begun that lasts until the request is answered: every query of one request sees one state of
 * the database. When it cannot be opened, sets a 503 reply naming the reason (also kept in
 * s->store_open_error) and returns a negative errno (-ENOMEM: no reply could be built); the
 * next request tries again. Only to be called on the HTTP thread. */
int web_server_get_store(WebServer *s, Store **ret, WebReply *reply);

/* The figures of WebStatus, copied under its lock. */
typedef struct WebStatusSnapshot {
        uint64_t started_usec, interval_usec;
        uint64_t last_sweep_usec, last_duration_usec;
        unsigned sampled, vanished, denied, malformed, kernel_threads;
        char storage_error[sizeof(((WebStatus *) NULL)->storage_error)];
        char sweep_error[sizeof(((WebStatus *) NULL)->sweep_error)];
        unsigned consecutive_failures;
        Thresholds thresholds;
        IdentityMode identity_mode;
        const char *pagemap_mode;       /* static string; NULL when the daemon never set it */
        unsigned pagemap_truncated, pagemap_failed;
        bool pagemap_budget_exhausted;
        char reconstruction[sizeof(((WebStatus *) NULL)->reconstruction)];
} WebStatusSnapshot;

void web_status_snapshot(WebStatus *s, WebStatusSnapshot *ret);

/* A handler fills reply (a result or an error) and returns 0, or returns a negative errno
 * (-ENOMEM) when it could not even build a reply; the server then answers 500. */
typedef int (*WebHandler)(WebServer *s, const WebParams *p, WebReply *reply);

typedef struct WebRoute {
        const char *path;
        const char *const *params;      /* accepted parameter names, NULL-terminated */
        WebHandler handler;
} WebRoute;

/* The route for an exact path, or NULL. */
const WebRoute *web_route_find(const char *path);
/* Every route, for documentation checks. */
const WebRoute *web_routes(size_t *ret_n);

/* /report, after its parameters were parsed: baseline/candidate 0 mean "the default". */
typedef struct ReportRequest {
        int64_t baseline, candidate;
        Thresholds thresholds;
        IdentityMode identity_mode;
} ReportRequest;

/* Builds the /report answer (or its 400/503 error) into reply. Returns 0 or -ENOMEM. */
int report_build(Store *store, const ReportRequest *req, WebReply *reply);

/* /forecast, after its parameters were parsed: epoch 0 means "the epoch of the latest sweep". */
typedef struct ForecastRequest {
        int64_t epoch;
        Thresholds thresholds;
} ForecastRequest;

/* Builds the /forecast answer (or its 400/503 error) into reply: the epoch's reported figures
 * against the NO_PAGE_MAPCOUNT forecast, flagged identities only. Returns 0 or -ENOMEM. */
int forecast_build(Store *store, const ForecastRequest *req, WebReply *reply);

/* ---- JSON helpers (NULL on allocation failure), json.c ---- */

/* A JSON string from text that may not be UTF-8 (process names, command lines, request paths):
 * invalid bytes become U+FFFD. NULL text gives JSON null. */
json_t *json_string_lossy(const char *s);

/* RFC 3339 UTC string, or JSON null for 0 ("never"). */
json_t *json_timestamp(uint64_t usec);

/* Seconds as a real. */
json_t *json_seconds(uint64_t usec);

/* value rounded to the given decimals, as a real; null when not finite. */
json_t *json_rounded(double value, unsigned decimals);

/* kB rounded to one decimal: an integer when whole, else a real; null when not finite. */
json_t *json_kb(double kb);

/* {"id", "key", "comm", "exe", "cmdline", "unit"}. */
json_t *identity_to_json(const IdentityInfo *i);

/* {"epoch", "release", "version", "boot_id", "mapcount_mode", "first_sweep", "last_sweep",
 * "sweeps"}, or null for NULL. */
json_t *epoch_to_json(const EpochInfo *e);

/* {"min_delta_kb", "min_delta_points", "noise_factor"}. */
json_t *thresholds_to_json(const Thresholds *t);

/* One compared metric: "<before>_kb", "<after>_kb", "delta_kb", "<before>_ratio",
 * "<after>_ratio", "delta_points", "noise_points" and "flagged"; metric_to_json() names the sides
 * "before" and "after". */
json_t *metric_to_json_named(const MetricDelta *d, const char *before, const char *after);
static inline json_t *metric_to_json(const MetricDelta *d) {
        return metric_to_json_named(d, "before", "after");
}

/* One figure of a comparison: its name ("Shared", "Exclusive_Anon"), what it is normalized by
 * ("Rss", "Present") and its delta. */
typedef struct NamedDelta {
        const char *name;
        const char *base;
        const MetricDelta *delta;
} NamedDelta;

/* The most figures one comparison has: the metrics and every exclusivity class. */
#define NAMED_DELTAS_MAX (_COMPARE_METRIC_MAX + _EXCLUSIVITY_CLASS_MAX)

/* {name: metric_to_json_named(delta, before, after)} for each of d[0..n). */
json_t *named_deltas_to_json(const NamedDelta *d, size_t n, const char *before, const char *after);
/* Appends the reason line of a flagged delta: name ("Shared") normalized by base ("Rss").
 * Returns 0 or -1 (out of memory), as jansson does. */
int reason_append(json_t *reasons, const char *name, const char *base, const MetricDelta *d);
/* The reason lines of the flagged ones of d[0..n), in order. */
json_t *named_deltas_reasons(const NamedDelta *d, size_t n);

/* The body as sent: indented JSON and a newline. A malloc'd string, or NULL. */
char *json_dump_body(const json_t *body, size_t *ret_len);

/* ---- flagged lists, flagged.c ---- */

/* How flagged_list_to_json() reads one kind of comparison. */
typedef struct FlaggedKind {
        size_t size;                    /* of one item */
        size_t flagged_offset;          /* of its bool "flagged" */
        size_t identity_offset;         /* of its int64_t identity id */
        double (*weight)(const void *item);
        /* The item's object, with its identity's JSON (taken over, also on failure); NULL on
         * allocation failure. */
        json_t *(*to_json)(const void *item, json_t *identity);
} FlaggedKind;

/* The larger of w and |delta_points| when d is flagged: the weight that orders the list. */
double flagged_delta_weight(double w, const MetricDelta *d);

/* The flagged items of items[0..n) (each kind->size bytes), heaviest first (then by identity
 * id), each with its identity looked up, as a JSON array. Returns 0, -ENOMEM or a store error
 * of an identity lookup. */
int flagged_list_to_json(Store *store, const void *items, size_t n, const FlaggedKind *kind,
                         json_t **ret);

/* The identity as JSON, looked up. Returns 0 or the store's negative errno. */
int identity_lookup_json(Store *store, int64_t id, json_t **ret);
/* A JSON array of the identities ids[0..n). Returns 0 or the store's negative errno. */
int identities_to_json(Store *store, const int64_t *ids, size_t n, json_t **ret);
