/* What the files of web/ share: the server object, the request a handler answers and the reply
 * it fills (request.c), the route table (routes.c), the response cache (cache.c), the embedded
 * dashboard (assets), the JSON helpers (json.c), the flagged lists (flagged.c) and the bodies
 * of the endpoints. A request is answered on one of the server's threads from start to end. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "compare.h"
#include "identity.h"
#include "macro.h"
#include "server.h"
#include "store.h"

/* json_decrefp() comes with jansson (>= 2.9). */
#define _cleanup_json_ _cleanup_(json_decrefp)

typedef struct WebCache WebCache;
typedef struct ReportMemo ReportMemo;
typedef struct WebReply WebReply;
typedef struct WebBody WebBody;

struct WebServer {
        struct MHD_Daemon *daemon;
        char *db_path;
        WebStatus *status;              /* borrowed */
        pthread_key_t thread_key;       /* each HTTP thread's WebThread */
        bool thread_key_made;
        WebCache *cache;
        ReportMemo *memo;
        pthread_t refresher;
        bool refresher_started;
        bool stopping;                  /* guarded by status->lock */
        bool textfile_failing;          /* the refresher's (or --once's) last textfile write */
        pthread_mutex_t lock;           /* guards store_failing */
        bool store_failing;             /* opening failed: logged once, retried per request */
};

/* A server without threads or listener yet: status borrowed, db_path copied, a response cache
 * of cache_bytes (0: none), the thread key made. 0, -ENOMEM or -EAGAIN. */
int web_server_new(WebServer **ret, const char *db_path, WebStatus *status,
                   size_t cache_bytes);

/* Frees a WebThread (the thread key's destructor). */
void web_thread_free(void *p);

/* What one HTTP thread keeps across requests: its own read-only Store (SQLite connections are
 * not shared between threads), freed when the thread ends. */
typedef struct WebThread {
        Store *store;                   /* opened on first use */
        char *store_open_error;         /* why the last open failed; NULL once open */
        bool in_snapshot;               /* the request being answered holds a read snapshot */
} WebThread;

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

/* Records name=value (value borrowed; NULL for "?name" without "=") among p's route
 * parameters. Returns 1, 0 when reply now holds the 400 of an unknown or repeated parameter,
 * or -ENOMEM. */
int web_params_add(WebParams *p, const char *name, const char *value, WebReply *reply);

/* The request a handler answers. */
typedef struct WebRequest {
        WebServer *server;
        WebParams params;
        int64_t id;                     /* the {id} of the path, for routes that take one */
        WebStatusData status;           /* the daemon's status, copied when the request came */
} WebRequest;

/* The answer a handler produces: an HTTP status and a JSON body, or a text body of another
 * type (/metrics). */
struct WebReply {
        unsigned status;
        json_t *body;
        char *text;                     /* owned; instead of body */
        size_t text_len;
        const char *content_type;       /* static; NULL: application/json */
};

void web_reply_done(WebReply *r);

/* The body of a reply as sent (JSON: indented, and a newline). NULL when out of memory. */
WebBody *web_reply_body(const WebReply *reply);

/* Sets the reply; takes over body (also on failure). Returns 0 or -ENOMEM (body NULL). */
int web_reply_json(WebReply *r, unsigned status, json_t *body);

/* Sets a 200 reply with a text body (taken over, also on failure) of content_type (static).
 * Returns 0 or -ENOMEM (text NULL). */
int web_reply_text(WebReply *r, char *text, size_t len, const char *content_type);

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
/* A time: RFC 3339 ("2026-11-21T20:19:42Z", "…+01:00", fractions of a second) or Unix
 * seconds, into CLOCK_REALTIME microseconds. */
int web_params_time(const WebParams *p, const char *name, uint64_t *ret, WebReply *reply);
/* A duration: seconds, or with a unit ("90s", "5min", "1h"), at least 1 s. */
int web_params_duration(const WebParams *p, const char *name, uint64_t *ret, WebReply *reply);

/* Returns the calling thread's read-only Store in *ret, opening it on first use, with a read
 * snapshot begun that lasts until the request is answered: every query of one request sees
 * one state of the database. When it cannot be opened, sets a 503 reply naming the reason and
 * returns a negative errno (-ENOMEM: no reply could be built); the next request tries again.
 * Only to be called on an HTTP thread, while answering a request. */
int web_server_get_store(WebServer *s, Store **ret, WebReply *reply);

/* Why the calling thread's Store could not be opened, or NULL. */
const char *web_server_store_error(WebServer *s);

/* Ends the calling thread's read snapshot, when the request is answered. */
void web_server_request_done(WebServer *s);

/* The refresher thread (http.c): after each new status generation, computes again the cached
 * answers used lately. Runs until s->stopping. */
void *web_refresher(void *userdata);

/* libmicrohttpd's access handler (http.c): answers every request. */
/* MHD_OPTION_URI_LOG_CALLBACK: sees the request target before libmicrohttpd decodes it in place,
 * where a %00 would cut the path or a value short unseen, and before it parses the query, which
 * more than WEB_QUERY_PARAMS_MAX parameters would make it choke on; web_access_handler() refuses
 * either request (400). */
void *web_uri_seen(void *cls, const char *uri, struct MHD_Connection *connection);

enum MHD_Result web_access_handler(void *userdata, struct MHD_Connection *connection,
                                   const char *url, const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **req_cls);

/* A handler fills reply (a result or an error) and returns 0, or returns a negative errno
 * (-ENOMEM) when it could not even build a reply; the server then answers 500. */
typedef int (*WebHandler)(WebRequest *req, WebReply *reply);

typedef struct WebRoute WebRoute;

/* Runs the route's handler into reply (a 500 when it could not build one); the request's read
 * snapshot ends with it. method and url are for the debug log. */
void web_run_handler(WebServer *s, const WebRoute *route, WebRequest *req, WebReply *reply,
                     const char *method, const char *url);

struct WebRoute {
        const char *path;               /* "/processes/{id}": {id} is a positive integer */
        const char *const *params;      /* accepted parameter names, NULL-terminated */
        WebHandler handler;
        bool cacheable;                 /* depends only on stored data and the settings */
};

/* The route for a path, with the {id} of the path in *ret_id (0 when the route takes none; -1
 * when the path has the route's form but its id is not a positive integer). NULL when no route
 * matches. */
const WebRoute *web_route_find(const char *path, int64_t *ret_id);
/* Every route, for documentation checks. */
const WebRoute *web_routes(size_t *ret_n);

/* ---- the response cache, cache.c ---- */

/* An immutable response body, reference counted: the cache and the responses on the wire share
 * it. */
struct WebBody {
        unsigned n_ref;
        size_t len;
        char data[];                    /* len bytes and a NUL */
};

/* A copy of data[0..len) with one reference, or NULL. */
WebBody *web_body_new(const char *data, size_t len);
WebBody *web_body_ref(WebBody *b);
/* Drops a reference (NULL-safe); a void * for libmicrohttpd's free callback. */
void web_body_unref(void *b);

/* The gzip of in[0..len) as a new body. 0, -ENOMEM or -EIO. */
int web_gzip(const char *in, size_t len, WebBody **ret);

/* A cached response: references of its bodies. */
typedef struct WebCached {
        unsigned status;
        const char *content_type;       /* static */
        uint64_t generation;            /* the status generation it was computed at */
        WebBody *body, *body_gzip;      /* body_gzip: NULL unless asked for */
} WebCached;

void web_cached_done(WebCached *c);

/* What it takes to answer a request again, outside the request: its route, the {id} of its path
 * and copies of its parameter values (values[i] for route->params[i]; NULL when not given). */
typedef struct WebRecipe {
        const WebRoute *route;
        int64_t id;
        char *values[WEB_PARAMS_MAX];
} WebRecipe;

void web_recipe_done(WebRecipe *r);
int web_recipe_copy(WebRecipe *dst, const WebRecipe *src);

/* A stale entry claimed by the refresher: its key and recipe (copies). */
typedef struct WebRefresh {
        char *key;
        WebRecipe recipe;
} WebRefresh;

void web_refresh_array_free(WebRefresh *a, size_t n);

/* The responses that depend only on stored data and the settings, keyed by the request (path
 * and parameters) and stamped with the status generation they were computed at. At most
 * max_bytes of bodies; the least recently used go first. */
int web_cache_new(WebCache **ret, size_t max_bytes);
WebCache *web_cache_free(WebCache *c);

/* Returns 1 with *ret (caller frees with web_cached_done()) when key has a response of
 * generation or newer, or, unless fresh, one of the previous generation (the refresher computes
 * the new one), or an older one while a request or the refresher computes the new one; with
 * gzip, its gzip body too (compressed and kept on first use). Otherwise returns 0: the caller now computes the response and must hand it over with
 * web_cache_put() or give up with web_cache_abandon(); requests for key without any response,
 * and fresh ones, wait meanwhile. -ENOMEM. */
int web_cache_lookup(WebCache *c, const char *key, uint64_t generation, bool gzip, bool fresh,
                     WebCached *ret);
/* Stores body (a reference is taken) as key's response at generation, with the recipe to
 * compute it again, and ends its computation. 0, or -ENOMEM (the entry is left as it was, and
 * no longer computing). */
int web_cache_put(WebCache *c, const char *key, uint64_t generation, unsigned status,
                  const char *content_type, WebBody *body, const WebRecipe *recipe);
void web_cache_abandon(WebCache *c, const char *key);

/* Claims every entry older than generation that a request used since used_since_usec
 * (CLOCK_MONOTONIC) and nobody computes, for the refresher: until each is put or abandoned,
 * requests get its previous body. *ret is freed with web_refresh_array_free(). 0 or -ENOMEM. */
int web_cache_claim_stale(WebCache *c, uint64_t generation, uint64_t used_since_usec,
                          WebRefresh **ret, size_t *ret_n);

/* ---- the dashboard's files, assets.c (generated at build time from web/ui/) ---- */

typedef struct WebAsset {
        const char *path;               /* "/", "/static/app.js" */
        const char *content_type;
        const unsigned char *data;
        size_t len;
        const unsigned char *data_gzip; /* NULL when gzip would not be smaller */
        size_t len_gzip;
        const char *etag;               /* a hash of the content, unquoted */
} WebAsset;

/* The asset served at path, or NULL. */
const WebAsset *web_asset_find(const char *path);
/* Every asset, for documentation checks. */
const WebAsset *web_assets(size_t *ret_n);

/* ---- endpoint bodies ---- */

/* The comparisons read this many identity ids at a time: the points of 32 identities over two
 * windows of 120 sweeps take 2 MiB. */
#define COMPARE_IDENTITIES_AT_ONCE 32

/* ---- the comparison of two epochs' identities, comparison.c ---- */

/* What compare_identities() says of two epochs, the flagged comparisons only. */
typedef struct IdentityCompared {
        IdentityComparison *flagged;    /* in identity id order */
        size_t n_flagged;
        size_t n_compared;              /* identities in both epochs */
        int64_t *appeared, *disappeared;
        size_t n_appeared, n_disappeared;
} IdentityCompared;

void identity_compared_done(IdentityCompared *c);

/* The last few comparisons, shared by the HTTP threads and the refresher. */
int report_memo_new(ReportMemo **ret);
ReportMemo *report_memo_free(ReportMemo *m);

/* Compares every identity of the two epochs' newest `window` sweeps (0: all) with the
 * thresholds, or takes the result kept in memo (may be NULL) for the same epochs, last sweeps,
 * window and thresholds. Returns 0, -ENOMEM or a store error. */
int identities_compare(Store *store, const EpochInfo *baseline, const EpochInfo *candidate,
                       size_t window, const Thresholds *t, ReportMemo *memo,
                       IdentityCompared *ret);

/* /report, after its parameters were parsed: baseline/candidate 0 mean "the default". */
typedef struct ReportRequest {
        int64_t baseline, candidate;
        Thresholds thresholds;
        IdentityMode identity_mode;
        unsigned window;                /* sweeps per epoch compared; 0: all */
        bool redact;                    /* show argv[0] only */
        ReportMemo *memo;               /* may be NULL */
} ReportRequest;

/* Builds the /report answer (or its 400/503 error) into reply. Returns 0 or -ENOMEM. */
int report_build(Store *store, const ReportRequest *req, WebReply *reply);

/* The default report's flagged identities per classification, for /metrics: the same
 * comparison as /report with the settings in force. Returns 0 with *ret_available false when
 * there is nothing to compare, or a negative errno. */
typedef struct ReportSummary {
        bool available;
        int64_t baseline, candidate;
        unsigned compared;
        unsigned flagged[_SHIFT_KIND_MAX];
} ReportSummary;
int report_summary(Store *store, const ReportRequest *req, ReportSummary *ret);

/* /forecast, after its parameters were parsed: epoch 0 means "the epoch of the latest sweep". */
typedef struct ForecastRequest {
        int64_t epoch;
        Thresholds thresholds;
        unsigned window;
        bool redact;
} ForecastRequest;

/* Builds the /forecast answer (or its 400/503 error) into reply: the epoch's reported figures
 * against the NO_PAGE_MAPCOUNT forecast, flagged identities only. Returns 0 or -ENOMEM. */
int forecast_build(Store *store, const ForecastRequest *req, WebReply *reply);

/* The snapshot document (snapshot.c, docs/snapshot.schema.json). */
#define SNAPSHOT_FORMAT "mapstatd-snapshot"
#define SNAPSHOT_VERSION 1
/* Most epochs one snapshot request names. */
#define SNAPSHOT_EPOCHS_MAX 64

typedef struct SnapshotRequest {
        int64_t epochs[SNAPSHOT_EPOCHS_MAX];    /* the epochs wanted; none: all with sweeps */
        size_t n_epochs;
        unsigned window;                        /* sweeps per epoch summarized; 0: all */
        Thresholds thresholds;                  /* in force, recorded */
        IdentityMode identity_mode;
        bool redact;
} SnapshotRequest;

/* Builds the snapshot (or its 400/503 error) into reply. Returns 0 or -ENOMEM. */
int snapshot_build(Store *store, const SnapshotRequest *req, WebReply *reply);

/* The report's "cgroups" (every cgroup of both epochs, its compared fields normalized by its
 * usage, flagged as identities are) and "thp" (per size: the setting, each counter's level or
 * rate, before → after) sections, added to root (cgroups.c). 0, -ENOMEM or a store error. */
int report_cgroups(Store *store, int64_t baseline, int64_t candidate, const ReportRequest *req,
                   json_t *root);
int report_thp(Store *store, int64_t baseline, int64_t candidate, const ReportRequest *req,
               json_t *root);

/* The forecast's "cgroups": each cgroup's anon and file_mapped today against the
 * NO_PAGE_MAPCOUNT forecast, over the sweeps of the epoch that have one. */
int forecast_cgroups(Store *store, int64_t epoch, unsigned window, const Thresholds *t,
                     json_t *root);

/* {"id", "key", "path", "unit", "container"}. */
json_t *cgroup_info_to_json(const CgroupInfo *c);

/* GET /snapshot (snapshot.c), GET /metrics (metrics.c), GET /processes/{id}, GET /meminfo and
 * GET /cgroups/{id} (series.c), GET /cgroups (cgroups.c). */
int route_cgroups(WebRequest *req, WebReply *reply);
int route_cgroup_series(WebRequest *req, WebReply *reply);
int route_snapshot(WebRequest *req, WebReply *reply);
int route_metrics(WebRequest *req, WebReply *reply);
int route_identity_series(WebRequest *req, WebReply *reply);
int route_meminfo(WebRequest *req, WebReply *reply);

/* The most points of any series list[0..count) has (.n), and at least 1: the size of the
 * scratch series_stats() needs for each of them. */
#define SERIES_MOST_POINTS(list, count)                                                          \
        ({                                                                                       \
                size_t _most_ = 1;                                                               \
                for (size_t _i_ = 0; _i_ < (count); _i_++)                                       \
                        _most_ = MAX(_most_, (list)[_i_].n);                                     \
                _most_;                                                                          \
        })

/* ---- JSON helpers (NULL on allocation failure), json.c ---- */

/* A JSON string from text that may not be UTF-8 (process names, command lines, request paths):
 * invalid bytes become U+FFFD. NULL text gives JSON null. */
json_t *json_string_lossy(const char *s);

/* RFC 3339 UTC string; json_timestamp() gives JSON null for 0 ("never"). */
json_t *json_time(uint64_t usec);
json_t *json_timestamp(uint64_t usec);

/* Seconds as a real. */
json_t *json_seconds(uint64_t usec);

/* value rounded to the given decimals, as a real; null when not finite. */
json_t *json_rounded(double value, unsigned decimals);

/* kB rounded to one decimal: an integer when whole, else a real; null when not finite. */
json_t *json_kb(double kb);

/* {"id", "key", "comm", "exe", "cmdline", "unit"}. With redact, cmdline is argv[0] only and
 * the key leaves the arguments out (the identity_key_build() of the same mode without them). */
json_t *identity_to_json(const IdentityInfo *i, bool redact);

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

/* The body as sent: indented JSON and a newline. NULL when out of memory. */
WebBody *json_dump_body(const json_t *body);

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
                         bool redact, json_t **ret);

/* The identity as JSON, looked up. Returns 0 or the store's negative errno. */
int identity_lookup_json(Store *store, int64_t id, bool redact, json_t **ret);
/* A JSON array of the identities ids[0..n). Returns 0 or the store's negative errno. */
int identities_to_json(Store *store, const int64_t *ids, size_t n, bool redact, json_t **ret);
