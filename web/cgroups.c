/* Memory cgroups and THP in the API: GET /cgroups (the latest sweep's cgroups), and the report's
 * "cgroups" and "thp" sections. A cgroup's compared fields are normalized by its usage and
 * flagged with compare/'s thresholds and noise rule, as processes and meminfo are. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "web-internal.h"

#define CGROUP_USAGE_NAME "usage"

json_t *cgroup_info_to_json(const CgroupInfo *c) {
        return json_pack("{s:I, s:o, s:o, s:o, s:o}",
                         "id", (json_int_t) c->id,
                         "key", json_string_lossy(c->key),
                         "path", json_string_lossy(c->path),
                         "unit", json_string_lossy(c->unit),
                         "container", json_string_lossy(c->container));
}

/* ---- GET /cgroups ---- */

static json_t *cgroup_row_to_json(const CgroupRow *row) {
        _cleanup_json_ json_t *fields = json_object(), *stat = json_object();

        if (!fields || !stat)
                return NULL;
        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                if (json_object_set_new(fields, cgroup_field_to_string(f),
                                        row->present & (1u << f) ? json_integer((json_int_t)
                                                                                row->kb[f])
                                                                 : json_null()) < 0)
                        return NULL;
        for (size_t i = 0; i < row->n_stat; i++)
                if (json_object_set_new(stat, row->stat[i].name,
                                        json_integer((json_int_t) MIN(row->stat[i].value,
                                                                      (uint64_t) INT64_MAX))) < 0)
                        return NULL;

        return json_pack("{s:o, s:s, s:o, s:o, s:o}",
                         "cgroup", cgroup_info_to_json(&row->cgroup),
                         "controller", row->v1 ? "v1" : "v2",
                         "usage_kb", row->has_usage ? json_integer((json_int_t) row->usage_kb)
                                                    : json_null(),
                         "fields_kb", TAKE_PTR(fields),
                         "memory.stat", TAKE_PTR(stat));
}

int route_cgroups(WebRequest *req, WebReply *reply) {
        _cleanup_json_ json_t *list = json_array();
        CgroupRow *rows = NULL;
        int64_t sweep_id = 0;
        size_t n = 0;
        Store *store;
        int r;

        if (!list)
                return -ENOMEM;
        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        r = store_latest_cgroups(store, &rows, &n, &sweep_id);
        if (r < 0)
                return web_reply_store_error(reply, store, r);
        for (size_t i = 0; i < n; i++)
                if (json_array_append_new(list, cgroup_row_to_json(&rows[i])) < 0) {
                        cgroup_row_array_free(rows, n);
                        return -ENOMEM;
                }
        cgroup_row_array_free(rows, n);

        return web_reply_json(reply, MHD_HTTP_OK,
                              json_pack("{s:o, s:I, s:o}",
                                        "sweep", sweep_id > 0 ? json_integer(sweep_id)
                                                              : json_null(),
                                        "total", (json_int_t) n,
                                        "cgroups", TAKE_PTR(list)));
}

/* ---- the report's "cgroups" ---- */

/* One cgroup present in both epochs. */
typedef struct CgroupComparison {
        int64_t cgroup_id;
        size_t n_before, n_after;
        unsigned fields;                        /* bit per CgroupField compared */
        MetricDelta deltas[_CGROUP_FIELD_MAX];
        bool flagged;
} CgroupComparison;

/* The series of one cgroup: list[*i..end) all have its id. Returns the end. */
static size_t cgroup_run_end(const CgroupSeries *list, size_t n, size_t i) {
        size_t end = i;

        while (end < n && list[end].cgroup_id == list[i].cgroup_id)
                end++;
        return end;
}

static void cgroup_compare_runs(const CgroupSeries *before, size_t nb, const CgroupSeries *after,
                                size_t na, const Thresholds *t, double *scratch,
                                CgroupComparison *ret) {
        *ret = (CgroupComparison) {
                .cgroup_id = before[0].cgroup_id,
                .n_before = before[0].n,
                .n_after = after[0].n,
        };
        for (size_t i = 0, j = 0; i < nb && j < na; ) {
                if (before[i].field < after[j].field)
                        i++;
                else if (before[i].field > after[j].field)
                        j++;
                else {
                        SeriesStats sb, sa;
                        CgroupField f = before[i].field;

                        series_stats(before[i].points, before[i].n, scratch, &sb);
                        series_stats(after[j].points, after[j].n, scratch, &sa);
                        metric_delta_compute(&sb, &sa, t, &ret->deltas[f]);
                        ret->fields |= 1u << f;
                        ret->flagged = ret->flagged || ret->deltas[f].flagged;
                        i++;
                        j++;
                }
        }
}

static size_t cgroup_deltas(const CgroupComparison *c, NamedDelta ret[static _CGROUP_FIELD_MAX]) {
        size_t n = 0;

        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                if (c->fields & (1u << f))
                        ret[n++] = (NamedDelta) { cgroup_field_to_string(f), CGROUP_USAGE_NAME,
                                                  &c->deltas[f] };
        return n;
}

static double cgroup_weight(const CgroupComparison *c) {
        double w = 0;

        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                if (c->fields & (1u << f))
                        w = flagged_delta_weight(w, &c->deltas[f]);
        return w;
}

static int cgroup_comparison_compare(const void *a, const void *b) {
        const CgroupComparison *x = a, *y = b;
        double wx = cgroup_weight(x), wy = cgroup_weight(y);

        if (wx != wy)
                return wx > wy ? -1 : 1;
        return x->cgroup_id < y->cgroup_id ? -1 : x->cgroup_id > y->cgroup_id;
}

static int cgroup_json(Store *store, int64_t id, json_t **ret) {
        _cleanup_(cgroup_info_done) CgroupInfo c = {};
        int r;

        r = store_get_cgroup(store, id, &c);
        if (r < 0)
                return r;
        *ret = cgroup_info_to_json(&c);
        return *ret ? 0 : -ENOMEM;
}

/* The names of the two sides: "before"/"after" in the report, "today"/"forecast" in the
 * forecast. */
typedef struct CgroupSides {
        int64_t epoch[2];
        CgroupSeriesKind kind[2];
        const char *name[2];
        bool others;                    /* list the cgroups on one side only */
} CgroupSides;

static int cgroup_comparison_to_json(Store *store, const CgroupComparison *c,
                                     const CgroupSides *sides, json_t **ret) {
        NamedDelta d[_CGROUP_FIELD_MAX];
        size_t n = cgroup_deltas(c, d);
        json_t *cgroup;
        int r;

        r = cgroup_json(store, c->cgroup_id, &cgroup);
        if (r < 0)
                return r;
        *ret = json_pack("{s:o, s:{s:I, s:I}, s:o, s:o}",
                         "cgroup", cgroup,
                         "samples",
                         sides->others ? "baseline" : "today", (json_int_t) c->n_before,
                         sides->others ? "candidate" : "forecast", (json_int_t) c->n_after,
                         "metrics", named_deltas_to_json(d, n, sides->name[0], sides->name[1]),
                         "reasons", named_deltas_reasons(d, n));
        return *ret ? 0 : -ENOMEM;
}

/* Appends the cgroup of a run present on one side only. */
static int cgroup_append_id(Store *store, json_t *list, int64_t id) {
        json_t *j;
        int r;

        r = cgroup_json(store, id, &j);
        if (r < 0)
                return r;
        return json_array_append_new(list, j) < 0 ? -ENOMEM : 0;
}

/* Compares every cgroup of the two sides: {"compared", "flagged"} and, with sides->others,
 * "appeared" and "disappeared". */
static int cgroups_compare(Store *store, const CgroupSides *sides, unsigned window,
                           const Thresholds *t, json_t **ret) {
        _cleanup_free_ CgroupSeries *before = NULL, *after = NULL;
        _cleanup_free_ SeriesPoint *before_points = NULL, *after_points = NULL;
        _cleanup_free_ CgroupComparison *compared = NULL;
        _cleanup_free_ double *scratch = NULL;
        _cleanup_json_ json_t *flagged = json_array(), *appeared = json_array(),
                *disappeared = json_array();
        size_t nb = 0, na = 0, n_compared = 0, most;
        int r = 0;

        if (!flagged || !appeared || !disappeared)
                return -ENOMEM;
        r = store_epoch_cgroup_series(store, sides->epoch[0], window, sides->kind[0], &before,
                                      &nb, &before_points);
        if (r < 0)
                return r;
        r = store_epoch_cgroup_series(store, sides->epoch[1], window, sides->kind[1], &after,
                                      &na, &after_points);
        if (r < 0)
                return r;
        most = MAX(SERIES_MOST_POINTS(before, nb), SERIES_MOST_POINTS(after, na));
        scratch = calloc(most, sizeof *scratch);
        compared = calloc(MAX(MIN(nb, na), (size_t) 1), sizeof *compared);
        if (!scratch || !compared)
                return -ENOMEM;

        /* Both lists are sorted by cgroup id, then field: walk the runs of one id together. */
        for (size_t i = 0, j = 0; i < nb || j < na; ) {
                size_t ie = i < nb ? cgroup_run_end(before, nb, i) : i;
                size_t je = j < na ? cgroup_run_end(after, na, j) : j;

                if (j >= na || (i < nb && before[i].cgroup_id < after[j].cgroup_id)) {
                        if (sides->others)
                                r = cgroup_append_id(store, disappeared, before[i].cgroup_id);
                        i = ie;
                } else if (i >= nb || after[j].cgroup_id < before[i].cgroup_id) {
                        if (sides->others)
                                r = cgroup_append_id(store, appeared, after[j].cgroup_id);
                        j = je;
                } else {
                        cgroup_compare_runs(before + i, ie - i, after + j, je - j, t, scratch,
                                            &compared[n_compared++]);
                        i = ie;
                        j = je;
                }
                if (r < 0)
                        return r;
        }

        qsort(compared, n_compared, sizeof *compared, cgroup_comparison_compare);
        for (size_t k = 0; k < n_compared && compared[k].flagged; k++) {
                json_t *j;

                r = cgroup_comparison_to_json(store, &compared[k], sides, &j);
                if (r < 0)
                        return r;
                if (json_array_append_new(flagged, j) < 0)
                        return -ENOMEM;
        }

        *ret = json_pack("{s:I, s:o}", "compared", (json_int_t) n_compared,
                         "flagged", TAKE_PTR(flagged));
        if (!*ret)
                return -ENOMEM;
        if (sides->others &&
            (json_object_set_new(*ret, "appeared", TAKE_PTR(appeared)) < 0 ||
             json_object_set_new(*ret, "disappeared", TAKE_PTR(disappeared)) < 0))
                return -ENOMEM;
        return 0;
}

int report_cgroups(Store *store, int64_t baseline, int64_t candidate, const ReportRequest *req,
                   json_t *root) {
        const CgroupSides sides = {
                .epoch = { baseline, candidate },
                .kind = { CGROUP_SERIES_REPORTED, CGROUP_SERIES_REPORTED },
                .name = { "before", "after" },
                .others = true,
        };
        json_t *o = NULL;
        int r;

        r = cgroups_compare(store, &sides, req->window, &req->thresholds, &o);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        return json_object_set_new(root, "cgroups", o) < 0 ? -ENOMEM : 0;
}

int forecast_cgroups(Store *store, int64_t epoch, unsigned window, const Thresholds *t,
                     json_t *root) {
        const CgroupSides sides = {
                .epoch = { epoch, epoch },
                .kind = { CGROUP_SERIES_FORECAST_BASE, CGROUP_SERIES_FORECAST },
                .name = { "today", "forecast" },
        };
        json_t *o = NULL;
        int r;

        r = cgroups_compare(store, &sides, window, t, &o);
        if (r < 0) {
                json_decref(o);
                return r;
        }
        return json_object_set_new(root, "cgroups", o) < 0 ? -ENOMEM : 0;
}

/* ---- the report's "thp" ---- */

static int double_compare(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* A level's median, or an event counter's rate per second over the series (last - first over
 * the time between them); NAN when it cannot be told (one point, or a counter that went back:
 * never within one boot). */
static double thp_figure(const ThpSeries *s, double *scratch) {
        if (s->n == 0)
                return NAN;
        if (thp_counter_is_level(s->name)) {
                for (size_t i = 0; i < s->n; i++)
                        scratch[i] = s->points[i].value;
                qsort(scratch, s->n, sizeof *scratch, double_compare);
                return scratch[(s->n - 1) / 2];        /* the lower median, as everywhere */
        }
        if (s->n < 2 || s->points[s->n - 1].time_sec <= s->points[0].time_sec ||
            s->points[s->n - 1].value < s->points[0].value)
                return NAN;
        return (s->points[s->n - 1].value - s->points[0].value) /
               (s->points[s->n - 1].time_sec - s->points[0].time_sec);
}

static const char *thp_enabled_of(const ThpSize *sizes, size_t n, uint64_t size_kb) {
        for (size_t i = 0; i < n; i++)
                if (sizes[i].size_kb == size_kb && sizes[i].enabled[0])
                        return sizes[i].enabled;
        return NULL;
}

/* The size's object in sizes (created on first use). */
static json_t *thp_size_json(json_t *sizes, uint64_t size_kb, const ThpSize *eb, size_t neb,
                             const ThpSize *ea, size_t nea) {
        char key[32];
        json_t *o;

        (void) snprintf(key, sizeof key, "%" PRIu64, size_kb);
        o = json_object_get(sizes, key);
        if (o)
                return o;
        o = json_pack("{s:I, s:{s:o, s:o}, s:{}}",
                      "size_kb", (json_int_t) size_kb,
                      "enabled",
                      "before", json_string_lossy(thp_enabled_of(eb, neb, size_kb)),
                      "after", json_string_lossy(thp_enabled_of(ea, nea, size_kb)),
                      "counters");
        if (!o || json_object_set_new(sizes, key, o) < 0)
                return NULL;
        return o;
}

static int thp_size_object_compare(const void *a, const void *b) {
        json_int_t x = json_integer_value(json_object_get(*(json_t *const *) a, "size_kb"));
        json_int_t y = json_integer_value(json_object_get(*(json_t *const *) b, "size_kb"));

        return (x > y) - (x < y);
}

static int thp_series_compare(const ThpSeries *a, const ThpSeries *b) {
        if (a->size_kb != b->size_kb)
                return a->size_kb < b->size_kb ? -1 : 1;
        return strcmp(a->name, b->name);
}

int report_thp(Store *store, int64_t baseline, int64_t candidate, const ReportRequest *req,
               json_t *root) {
        _cleanup_free_ ThpSeries *before = NULL, *after = NULL;
        _cleanup_free_ ThpPoint *before_points = NULL, *after_points = NULL;
        _cleanup_free_ ThpSize *eb = NULL, *ea = NULL;
        _cleanup_free_ double *scratch = NULL;
        _cleanup_json_ json_t *sizes = json_object(), *list = json_array();
        size_t nb = 0, na = 0, neb = 0, nea = 0, most;
        const char *key;
        json_t *value;
        int r;

        if (!sizes || !list)
                return -ENOMEM;
        r = store_epoch_thp_series(store, baseline, req->window, &before, &nb, &before_points,
                                   &eb, &neb);
        if (r < 0)
                return r;
        r = store_epoch_thp_series(store, candidate, req->window, &after, &na, &after_points,
                                   &ea, &nea);
        if (r < 0)
                return r;
        most = MAX(SERIES_MOST_POINTS(before, nb), SERIES_MOST_POINTS(after, na));
        scratch = calloc(most, sizeof *scratch);
        if (!scratch)
                return -ENOMEM;

        /* Sorted by size, then name: a counter one side lacks is null there. */
        for (size_t i = 0, j = 0; i < nb || j < na; ) {
                int c = i >= nb ? 1 : j >= na ? -1 : thp_series_compare(&before[i], &after[j]);
                const ThpSeries *s = c <= 0 ? &before[i] : &after[j];
                double fb = c <= 0 ? thp_figure(&before[i], scratch) : NAN;
                double fa = c >= 0 ? thp_figure(&after[j], scratch) : NAN;
                bool level = thp_counter_is_level(s->name);
                json_t *size = thp_size_json(sizes, s->size_kb, eb, neb, ea, nea);

                if (!size ||
                    json_object_set_new(json_object_get(size, "counters"), s->name,
                                        json_pack("{s:s, s:o, s:o}",
                                                  "kind", level ? "level" : "rate_per_second",
                                                  "before", json_rounded(fb, 4),
                                                  "after", json_rounded(fa, 4))) < 0)
                        return -ENOMEM;
                if (c <= 0)
                        i++;
                if (c >= 0)
                        j++;
        }

        /* Sizes with a setting but no counter (kernels before 6.11) are listed too. */
        for (size_t i = 0; i < neb; i++)
                if (!thp_size_json(sizes, eb[i].size_kb, eb, neb, ea, nea))
                        return -ENOMEM;
        for (size_t i = 0; i < nea; i++)
                if (!thp_size_json(sizes, ea[i].size_kb, eb, neb, ea, nea))
                        return -ENOMEM;
        /* In ascending size. */
        size_t n_sizes = json_object_size(sizes), k = 0;
        _cleanup_free_ json_t **ordered = calloc(MAX(n_sizes, (size_t) 1), sizeof(json_t *));

        if (!ordered)
                return -ENOMEM;
        json_object_foreach(sizes, key, value)
                ordered[k++] = value;
        qsort(ordered, k, sizeof *ordered, thp_size_object_compare);
        for (size_t i = 0; i < k; i++)
                if (json_array_append(list, ordered[i]) < 0)
                        return -ENOMEM;

        if (json_object_set_new(root, "thp", json_pack("{s:o}", "sizes", TAKE_PTR(list))) < 0)
                return -ENOMEM;
        return 0;
}
