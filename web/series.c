/* GET /processes/{id} and GET /meminfo: series over a time range for the charts, one point per
 * sweep or per step= bucket (means: aggregated, never dropped), with the kernel changes marked.
 * The range is from= to to= (RFC 3339 or Unix seconds), the last day by default. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

/* Parses the range and takes the Store. Returns 1, 0 (reply holds the error) or -ENOMEM. */
static int series_start(WebRequest *req, TimeRange *range, Store **store, WebReply *reply) {
        int r;

        r = series_range(&req->params, range, reply);
        if (r <= 0)
                return r;
        r = web_server_get_store(req->server, store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return 1;
}

/* How series_finish() reads one kind of point. */
typedef struct SeriesKind {
        size_t size;                    /* of one point */
        size_t time_offset;             /* of its uint64_t time_usec */
        size_t epoch_offset;            /* of its int64_t epoch_id */
        /* The point's object; epoch is its epoch, NULL when unknown. NULL when out of
         * memory. */
        json_t *(*to_json)(const void *point, const EpochInfo *epoch);
} SeriesKind;

/* Adds "from", "to", "step_seconds", "epochs" (the marks) and "points" to root. Returns 0,
 * -ENOMEM or a store error. */
static int series_finish(Store *store, const TimeRange *range, const void *points, size_t n,
                         const SeriesKind *kind, json_t *root) {
        _cleanup_(epoch_marks_done) EpochMarks marks = {};
        _cleanup_json_ json_t *list = json_array();
        int r;

        if (!list)
                return -ENOMEM;
        r = series_header(root, range);
        if (r < 0)
                return r;
        r = epoch_marks_init(&marks, store);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                const char *p = (const char *) points + i * kind->size;
                uint64_t time_usec;
                int64_t epoch;

                memcpy(&time_usec, p + kind->time_offset, sizeof time_usec);
                memcpy(&epoch, p + kind->epoch_offset, sizeof epoch);
                r = epoch_marks_add(&marks, epoch, time_usec);
                if (r < 0)
                        return r;
                if (json_array_append_new(list, kind->to_json(p, marks.current)) < 0)
                        return -ENOMEM;
        }

        if (json_object_set_new(root, "epochs", TAKE_PTR(marks.marks)) < 0 ||
            json_object_set_new(root, "points", TAKE_PTR(list)) < 0)
                return -ENOMEM;
        return 0;
}

/* The answer of a series query that returned r with points[0..n): the series into root (taken
 * over), or the 400 of too many points, or the store's error. Returns 0 or -ENOMEM. */
static int series_answer(Store *store, const TimeRange *range, int r, const void *points,
                         size_t n, const SeriesKind *kind, json_t *root, WebReply *reply) {
        _cleanup_json_ json_t *body = root;

        if (r == -E2BIG)
                return series_too_many(range, reply);
        if (r < 0)
                return web_reply_store_error(reply, store, r);
        if (!body)
                return -ENOMEM;
        r = series_finish(store, range, points, n, kind, body);
        if (r < 0)
                return web_reply_store_error(reply, store, r);
        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(body));
}

/* ---- /processes/{id} ---- */

/* An IdentityRangePoint. The forecast is shown only where it applies: on a page_mapcount
 * kernel. */
static json_t *identity_point_json(const void *point, const EpochInfo *epoch) {
        _cleanup_json_ json_t *figures = json_object(), *ratios = json_object();
        const IdentityRangePoint *p = point;
        bool reconstructed = isfinite(p->truth_kb[RANGE_TRUTH_PSS]);
        bool forecast = epoch && epoch->mapcount_mode == MAPCOUNT_MODE_PAGE;

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

static const SeriesKind identity_points = {
        .size = sizeof(IdentityRangePoint),
        .time_offset = offsetof(IdentityRangePoint, time_usec),
        .epoch_offset = offsetof(IdentityRangePoint, epoch_id),
        .to_json = identity_point_json,
};

int route_identity_series(WebRequest *req, WebReply *reply) {
        _cleanup_(identity_info_done) IdentityInfo identity = {};
        _cleanup_free_ IdentityRangePoint *points = NULL;
        TimeRange range;
        size_t n = 0;
        Store *store;
        int r;

        r = series_start(req, &range, &store, reply);
        if (r <= 0)
                return r;

        r = store_get_identity(store, req->id, &identity);
        if (r == -ENOENT)
                return web_reply_error(reply, MHD_HTTP_NOT_FOUND, "no identity %" PRIi64,
                                       req->id);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        r = store_identity_range(store, req->id, &range, &points, &n);
        return series_answer(store, &range, r, points, n, &identity_points,
                             json_pack("{s:o}", "identity",
                                       identity_to_json(&identity, req->status.redact_cmdline)),
                             reply);
}

/* ---- /meminfo ---- */

/* A MeminfoRangePoint. */
static json_t *meminfo_point_json(const void *point, const EpochInfo *epoch) {
        _cleanup_json_ json_t *fields = json_object();
        const MeminfoRangePoint *p = point;

        (void) epoch;
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

static const SeriesKind meminfo_points = {
        .size = sizeof(MeminfoRangePoint),
        .time_offset = offsetof(MeminfoRangePoint, time_usec),
        .epoch_offset = offsetof(MeminfoRangePoint, epoch_id),
        .to_json = meminfo_point_json,
};

int route_meminfo(WebRequest *req, WebReply *reply) {
        _cleanup_free_ MeminfoRangePoint *points = NULL;
        _cleanup_free_ double *values = NULL;
        TimeRange range;
        size_t n = 0;
        Store *store;
        int r;

        r = series_start(req, &range, &store, reply);
        if (r <= 0)
                return r;

        r = store_meminfo_range(store, meminfo_fields, ELEMENTSOF(meminfo_fields), &range,
                                &points, &values, &n);
        return series_answer(store, &range, r, points, n, &meminfo_points, json_object(), reply);
}

/* ---- /cgroups/{id} ---- */

static json_t *cgroup_point_json(const void *point, const EpochInfo *epoch) {
        _cleanup_json_ json_t *fields = json_object();
        const CgroupRangePoint *p = point;

        (void) epoch;
        if (!fields)
                return NULL;
        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                if (json_object_set_new(fields, cgroup_field_to_string(f), json_kb(p->kb[f])) < 0)
                        return NULL;

        return json_pack("{s:o, s:I, s:I, s:o, s:o}",
                         "time", json_timestamp(p->time_usec),
                         "epoch", (json_int_t) p->epoch_id,
                         "sweeps", (json_int_t) p->sweeps,
                         "usage_kb", json_kb(p->usage_kb),
                         "fields_kb", TAKE_PTR(fields));
}

static const SeriesKind cgroup_points = {
        .size = sizeof(CgroupRangePoint),
        .time_offset = offsetof(CgroupRangePoint, time_usec),
        .epoch_offset = offsetof(CgroupRangePoint, epoch_id),
        .to_json = cgroup_point_json,
};

int route_cgroup_series(WebRequest *req, WebReply *reply) {
        _cleanup_(cgroup_info_done) CgroupInfo cgroup = {};
        _cleanup_free_ CgroupRangePoint *points = NULL;
        TimeRange range;
        size_t n = 0;
        Store *store;
        int r;

        r = series_start(req, &range, &store, reply);
        if (r <= 0)
                return r;

        r = store_get_cgroup(store, req->id, &cgroup);
        if (r == -ENOENT)
                return web_reply_error(reply, MHD_HTTP_NOT_FOUND, "no cgroup %" PRIi64, req->id);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        r = store_cgroup_range(store, req->id, &range, &points, &n);
        return series_answer(store, &range, r, points, n, &cgroup_points,
                             json_pack("{s:o}", "cgroup", cgroup_info_to_json(&cgroup)), reply);
}
