/* GET /processes/{id} and GET /meminfo: series over a time range for the charts, one point per
 * sweep or per step= bucket (means: aggregated, never dropped), with the kernel changes marked.
 * The range is from= to to= (RFC 3339 or Unix seconds), the last day by default. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

#include <jansson.h>
#include <microhttpd.h>

#include "time-util.h"
#include "web-internal.h"

/* Without from=: this long before to=. */
#define SERIES_DEFAULT_SPAN_USEC (24 * 3600 * USEC_PER_SEC)
/* Most points one answer holds: a chart is not wider than this many pixels. */
#define SERIES_POINTS_MAX 5000u

/* The meminfo fields /meminfo charts: what mapcount accounting moves (AnonPages, Mapped,
 * Shmem), what it is read against, and the huge page counters that show how much is at stake. */
static const char *const meminfo_fields[] = {
        "MemTotal", "MemAvailable", "AnonPages", "Mapped", "Shmem", "AnonHugePages",
        "ShmemPmdMapped", "FilePmdMapped",
};

/* Reads from=, to= and step= into *ret. Returns 1, 0 (reply holds the 400) or -ENOMEM. */
static int series_range(const WebParams *p, TimeRange *ret, WebReply *reply) {
        uint64_t to = now_usec(CLOCK_REALTIME), from = 0, step = 0;
        int r;

        r = web_params_time(p, "to", &to, reply);
        if (r <= 0)
                return r;
        from = to > SERIES_DEFAULT_SPAN_USEC ? to - SERIES_DEFAULT_SPAN_USEC : 0;
        r = web_params_time(p, "from", &from, reply);
        if (r <= 0)
                return r;
        r = web_params_duration(p, "step", &step, reply);
        if (r <= 0)
                return r;
        if (from > to) {
                r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                    "invalid range: 'from' (%s) is after 'to'",
                                    web_params_get(p, "from"));
                return r < 0 ? r : 0;
        }
        *ret = (TimeRange) {
                .from_usec = from,
                .to_usec = to,
                .step_usec = step,
                .max_points = SERIES_POINTS_MAX,
        };
        return 1;
}

/* The 400 for a range with more points than an answer holds, with the step that would do. */
static int series_too_many(const TimeRange *range, WebReply *reply) {
        uint64_t span = range->to_usec - range->from_usec;
        uint64_t step = span / SERIES_POINTS_MAX / USEC_PER_SEC + 1;

        return web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                               "invalid value for parameter 'step': the range holds more than "
                               "%u points; give step=%" PRIu64 " (seconds) or more",
                               SERIES_POINTS_MAX, step);
}

/* {"from", "to", "step_seconds"} into root. */
static int series_header(json_t *root, const TimeRange *range) {
        if (json_object_set_new(root, "from", json_time(range->from_usec)) < 0 ||
            json_object_set_new(root, "to", json_time(range->to_usec)) < 0 ||
            json_object_set_new(root, "step_seconds",
                                range->step_usec > 0 ? json_seconds(range->step_usec)
                                                     : json_null()) < 0)
                return -ENOMEM;
        return 0;
}

/* The kernel changes of a series: one mark per run of points of one epoch, at its first point,
 * with the epoch's kernel. */
typedef struct EpochMarks {
        EpochInfo *epochs;
        size_t n_epochs;
        json_t *marks;
        int64_t last;                   /* the epoch of the previous point */
        const EpochInfo *current;       /* its EpochInfo, NULL when unknown */
} EpochMarks;

static void epoch_marks_done(EpochMarks *m) {
        epoch_info_array_free(m->epochs, m->n_epochs);
        json_decref(m->marks);
        *m = (EpochMarks) {};
}

static int epoch_marks_init(EpochMarks *m, Store *store) {
        int r;

        r = store_list_epochs(store, &m->epochs, &m->n_epochs);
        if (r < 0)
                return r;
        m->marks = json_array();
        return m->marks ? 0 : -ENOMEM;
}

/* Adds a mark when the point's epoch differs from the previous point's. */
static int epoch_marks_add(EpochMarks *m, int64_t epoch, uint64_t time_usec) {
        const EpochInfo *e = NULL;

        if (epoch == m->last)
                return 0;
        for (size_t i = 0; i < m->n_epochs; i++)
                if (m->epochs[i].id == epoch)
                        e = &m->epochs[i];
        m->last = epoch;
        m->current = e;
        if (json_array_append_new(m->marks,
                                  json_pack("{s:o, s:I, s:o, s:s}",
                                            "time", json_timestamp(time_usec),
                                            "epoch", (json_int_t) epoch,
                                            "release", json_string_lossy(e ? e->release : NULL),
                                            "mapcount_mode",
                                            e ? mapcount_mode_to_string(e->mapcount_mode)
                                              : "unknown")) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- /processes/{id} ---- */

/* forecast: whether the point's kernel is one the forecast applies to (page_mapcount). */
static json_t *range_point_to_json(const IdentityRangePoint *p, bool forecast) {
        _cleanup_json_ json_t *figures = json_object(), *ratios = json_object();
        bool reconstructed = isfinite(p->truth_kb[RANGE_TRUTH_PSS]);

        if (!figures || !ratios)
                return NULL;
        for (RangeFigure f = 0; f < _RANGE_FIGURE_MAX; f++)
                if (json_object_set_new(figures, range_figure_to_string(f), json_kb(p->kb[f])) < 0)
                        return NULL;
        for (VmaClass c = 0; c < _VMA_CLASS_MAX; c++)
                if (json_object_set_new(ratios, vma_class_to_string(c),
                                        json_rounded(p->exclusive_ratio[c], 4)) < 0)
                        return NULL;

        return json_pack("{s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o}",
                         "time", json_timestamp(p->time_usec),
                         "epoch", (json_int_t) p->epoch_id,
                         "sweeps", (json_int_t) p->sweeps,
                         "processes", json_rounded(p->processes, 2),
                         "smaps_rollup", TAKE_PTR(figures),
                         "exclusive_ratio", TAKE_PTR(ratios),
                         "truth",
                         reconstructed
                                 ? json_pack("{s:o, s:o, s:o, s:o}",
                                             "Pss", json_kb(p->truth_kb[RANGE_TRUTH_PSS]),
                                             "Uss", json_kb(p->truth_kb[RANGE_TRUTH_USS]),
                                             "Shared", json_kb(p->truth_kb[RANGE_TRUTH_SHARED]),
                                             "Private", json_kb(p->truth_kb[RANGE_TRUTH_PRIVATE]))
                                 : json_null(),
                         "forecast",
                         reconstructed && forecast
                                 ? json_pack("{s:o, s:o, s:o}",
                                             "Pss", json_kb(p->truth_kb[RANGE_FORECAST_PSS]),
                                             "Shared",
                                             json_kb(p->truth_kb[RANGE_FORECAST_SHARED]),
                                             "Private",
                                             json_kb(p->truth_kb[RANGE_FORECAST_PRIVATE]))
                                 : json_null());
}

/* Adds "epochs" (the marks) and "points" to root. */
static int identity_points_to_json(Store *store, const IdentityRangePoint *points, size_t n,
                                   json_t *root) {
        _cleanup_(epoch_marks_done) EpochMarks marks = {};
        _cleanup_json_ json_t *list = json_array();
        int r;

        if (!list)
                return -ENOMEM;
        r = epoch_marks_init(&marks, store);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                r = epoch_marks_add(&marks, points[i].epoch_id, points[i].time_usec);
                if (r < 0)
                        return r;
                if (json_array_append_new(
                            list, range_point_to_json(&points[i],
                                                      marks.current &&
                                                      marks.current->mapcount_mode ==
                                                      MAPCOUNT_MODE_PAGE)) < 0)
                        return -ENOMEM;
        }

        if (json_object_set_new(root, "epochs", TAKE_PTR(marks.marks)) < 0 ||
            json_object_set_new(root, "points", TAKE_PTR(list)) < 0)
                return -ENOMEM;
        return 0;
}

int route_identity_series(WebRequest *req, WebReply *reply) {
        _cleanup_(identity_info_done) IdentityInfo identity = {};
        _cleanup_free_ IdentityRangePoint *points = NULL;
        _cleanup_json_ json_t *root = NULL;
        TimeRange range;
        size_t n = 0;
        Store *store;
        int r;

        r = series_range(&req->params, &range, reply);
        if (r <= 0)
                return r;

        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        r = store_get_identity(store, req->id, &identity);
        if (r == -ENOENT)
                return web_reply_error(reply, MHD_HTTP_NOT_FOUND, "no identity %" PRIi64,
                                       req->id);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        r = store_identity_range(store, req->id, &range, &points, &n);
        if (r == -E2BIG)
                return series_too_many(&range, reply);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        root = json_pack("{s:o}", "identity", identity_to_json(&identity,
                                                               req->status.redact_cmdline));
        if (!root)
                return -ENOMEM;
        r = series_header(root, &range);
        if (r >= 0)
                r = identity_points_to_json(store, points, n, root);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(root));
}

/* ---- /meminfo ---- */

static json_t *meminfo_point_to_json(const MeminfoRangePoint *p) {
        _cleanup_json_ json_t *fields = json_object();

        if (!fields)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(meminfo_fields); i++)
                if (json_object_set_new(fields, meminfo_fields[i], json_kb(p->kb[i])) < 0)
                        return NULL;

        return json_pack("{s:o, s:I, s:I, s:o}",
                         "time", json_timestamp(p->time_usec),
                         "epoch", (json_int_t) p->epoch_id,
                         "sweeps", (json_int_t) p->sweeps,
                         "fields", TAKE_PTR(fields));
}

int route_meminfo(WebRequest *req, WebReply *reply) {
        _cleanup_(epoch_marks_done) EpochMarks marks = {};
        _cleanup_free_ MeminfoRangePoint *points = NULL;
        _cleanup_free_ double *values = NULL;
        _cleanup_json_ json_t *root = NULL, *list = NULL;
        TimeRange range;
        size_t n = 0;
        Store *store;
        int r;

        r = series_range(&req->params, &range, reply);
        if (r <= 0)
                return r;

        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        r = store_meminfo_range(store, meminfo_fields, ELEMENTSOF(meminfo_fields), &range,
                                &points, &values, &n);
        if (r == -E2BIG)
                return series_too_many(&range, reply);
        if (r >= 0)
                r = epoch_marks_init(&marks, store);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        root = json_object();
        list = json_array();
        if (!root || !list)
                return -ENOMEM;
        r = series_header(root, &range);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = epoch_marks_add(&marks, points[i].epoch_id, points[i].time_usec);
                if (r < 0)
                        return r;
                if (json_array_append_new(list, meminfo_point_to_json(&points[i])) < 0)
                        return -ENOMEM;
        }
        if (json_object_set_new(root, "epochs", TAKE_PTR(marks.marks)) < 0 ||
            json_object_set_new(root, "points", TAKE_PTR(list)) < 0)
                return -ENOMEM;

        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(root));
}
