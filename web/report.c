/* The /report body: picks the baseline and candidate epochs, compares every identity present in
 * both with compare_identities() and every kB meminfo field with series_stats() and
 * metric_delta_compute(), and turns the result into JSON. The /forecast body: one epoch's
 * reported figures against the NO_PAGE_MAPCOUNT forecast, with compare_forecast(). All figures
 * come from the store's per-epoch series; the statistics are compare/'s. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "web-internal.h"

#define REASON_MAX 256

static const char no_sweep_message[] = "no sweep stored yet: nothing to compare";
static const char forecast_mode_message[] = "the forecast needs a page_mapcount kernel";
static const char forecast_none_message[] =
        "no reconstruction in this epoch: run with --pagemap full and CAP_SYS_ADMIN";
static const char no_baseline_message[] =
        "no earlier epoch with a different kernel (release or mapcount mode) to compare with";

typedef struct EpochList {
        EpochInfo *epochs;
        size_t n;
} EpochList;

static void epoch_list_done(EpochList *l) {
        epoch_info_array_free(l->epochs, l->n);
        *l = (EpochList) {};
}

static bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

static const EpochInfo *epoch_find(const EpochList *l, int64_t id) {
        for (size_t i = 0; i < l->n; i++)
                if (l->epochs[i].id == id)
                        return &l->epochs[i];
        return NULL;
}

/* The default baseline for an explicitly chosen candidate, by the rule store_default_epochs()
 * applies to the latest one: the most recent earlier epoch whose release or mapcount mode
 * differs. Returns NULL when there is none. */
static const EpochInfo *epoch_default_baseline(const EpochList *l, const EpochInfo *candidate) {
        for (size_t i = (size_t) (candidate - l->epochs); i > 0; i--) {
                const EpochInfo *e = &l->epochs[i - 1];

                if (!streq_ptr(e->release, candidate->release) ||
                    !streq_ptr(e->mapcount_mode, candidate->mapcount_mode))
                        return e;
        }
        return NULL;
}

/* ---- JSON pieces ---- */

static json_t *epoch_to_json(const EpochInfo *e) {
        if (!e)
                return json_null();

        return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I}",
                         "epoch", (json_int_t) e->id,
                         "release", json_string_lossy(e->release),
                         "version", json_string_lossy(e->version),
                         "boot_id", json_string_lossy(e->boot_id),
                         "mapcount_mode", json_string_lossy(e->mapcount_mode),
                         "first_sweep", json_timestamp(e->first_sweep_usec),
                         "last_sweep", json_timestamp(e->last_sweep_usec),
                         "sweeps", (json_int_t) e->sweeps);
}

static json_t *thresholds_to_json(const Thresholds *t) {
        return json_pack("{s:f, s:f, s:f}",
                         "min_delta_kb", t->min_delta_kb,
                         "min_delta_points", t->min_delta_points,
                         "noise_factor", t->noise_factor);
}

static json_t *metric_to_json(const MetricDelta *d) {
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
                         "before_kb", json_kb(d->before.median_kb),
                         "after_kb", json_kb(d->after.median_kb),
                         "delta_kb", json_kb(d->delta_kb),
                         "before_ratio", json_rounded(d->before.median_ratio, 4),
                         "after_ratio", json_rounded(d->after.median_ratio, 4),
                         "delta_points", json_rounded(d->delta_points, 2),
                         "noise_points", json_rounded(d->noise_points, 2),
                         "flagged", (int) d->flagged);
}

/* Appends the reason line of a flagged delta: name ("Shared") normalized by base ("Rss"). */
static int reason_append(json_t *reasons, const char *name, const char *base,
                         const MetricDelta *d) {
        char buf[REASON_MAX];

        return json_array_append_new(reasons,
                                     json_string_lossy(metric_delta_reason(name, base, d, buf,
                                                                           sizeof buf)));
}

/* The six metrics, and the exclusivity classes (exclusive kB of present kB) when both sides
 * were scanned. */
static json_t *comparison_metrics_to_json(const IdentityComparison *c) {
        _cleanup_json_ json_t *o = json_object();

        if (!o)
                return NULL;
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                if (json_object_set_new(o, compare_metric_to_string(m),
                                        metric_to_json(&c->metrics[m])) < 0)
                        return NULL;
        for (ExclusivityClass k = 0; c->has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++)
                if (json_object_set_new(o, exclusivity_class_to_string(k),
                                        metric_to_json(&c->exclusivity[k])) < 0)
                        return NULL;
        return TAKE_PTR(o);
}

static json_t *comparison_reasons_to_json(const IdentityComparison *c) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                if (c->metrics[m].flagged &&
                    reason_append(a, compare_metric_to_string(m), "Rss", &c->metrics[m]) < 0)
                        return NULL;
        for (ExclusivityClass k = 0; c->has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++)
                if (c->exclusivity[k].flagged &&
                    reason_append(a, exclusivity_class_to_string(k), "Present",
                                  &c->exclusivity[k]) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

/* The truth figures of both sides, or null without a reconstruction on both. */
static json_t *comparison_truth_to_json(const IdentityComparison *c) {
        if (!c->has_truth)
                return json_null();

        return json_pack("{s:o, s:o, s:o}",
                         "Shared", metric_to_json(&c->truth[COMPARE_METRIC_SHARED]),
                         "Private", metric_to_json(&c->truth[COMPARE_METRIC_PRIVATE]),
                         "Pss", metric_to_json(&c->truth[COMPARE_METRIC_PSS]));
}

/* How the baseline's forecast compares with what the candidate reports, or null without a
 * reconstruction in the baseline. */
static json_t *comparison_forecast_to_json(const IdentityComparison *c) {
        _cleanup_json_ json_t *o = NULL;

        if (!c->has_forecast)
                return json_null();

        o = json_object();
        if (!o)
                return NULL;
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                const MetricDelta *d = &c->forecast[m];

                if (json_object_set_new(o, compare_metric_to_string(m),
                                        json_pack("{s:o, s:o, s:o, s:o}",
                                                  "forecast_kb", json_kb(d->before.median_kb),
                                                  "actual_kb", json_kb(d->after.median_kb),
                                                  "error_kb", json_kb(d->delta_kb),
                                                  "error_points",
                                                  json_rounded(d->delta_points, 2))) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

/* Looks the identity up and converts it. Returns 0 or the store's negative errno. */
static int identity_lookup_json(Store *store, int64_t id, json_t **ret) {
        _cleanup_(identity_info_done) IdentityInfo info = {};
        json_t *j;
        int r;

        r = store_get_identity(store, id, &info);
        if (r < 0)
                return r;
        j = identity_to_json(&info);
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

static int identities_to_json(Store *store, const int64_t *ids, size_t n, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *j;

                r = identity_lookup_json(store, ids[i], &j);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, j) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static int comparison_to_json(Store *store, const IdentityComparison *c, json_t **ret) {
        json_t *identity, *j;
        int r;

        r = identity_lookup_json(store, c->identity_id, &identity);
        if (r < 0)
                return r;

        j = json_pack("{s:o, s:{s:I, s:I}, s:{s:o, s:o}, s:{s:o, s:o}, s:o, s:o, s:s, s:o, s:o}",
                      "identity", identity,
                      "samples",
                      "baseline", (json_int_t) c->n_before,
                      "candidate", (json_int_t) c->n_after,
                      "processes",
                      "baseline", json_rounded(c->processes_before, 1),
                      "candidate", json_rounded(c->processes_after, 1),
                      "Rss",
                      "before_kb", json_kb(c->rss_before_kb),
                      "after_kb", json_kb(c->rss_after_kb),
                      "metrics", comparison_metrics_to_json(c),
                      "reasons", comparison_reasons_to_json(c),
                      "kind", shift_kind_to_string(c->kind) ?: "unknown",
                      "truth", comparison_truth_to_json(c),
                      "forecast", comparison_forecast_to_json(c));
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

/* ---- identities ---- */

/* One flagged identity of /report or /forecast, for sorting. */
typedef struct FlaggedEntry {
        double weight;          /* largest |delta_points| among the flagged figures */
        int64_t identity_id;
        const void *comparison; /* IdentityComparison or ForecastComparison */
} FlaggedEntry;

static int flagged_entry_compare(const void *a, const void *b) {
        const FlaggedEntry *x = a, *y = b;

        if (x->weight != y->weight)
                return x->weight > y->weight ? -1 : 1;
        if (x->identity_id != y->identity_id)
                return x->identity_id < y->identity_id ? -1 : 1;
        return 0;
}

static double delta_weight(double w, const MetricDelta *d) {
        return d->flagged && fabs(d->delta_points) > w ? fabs(d->delta_points) : w;
}

static double comparison_weight(const IdentityComparison *c) {
        double w = 0;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                w = delta_weight(w, &c->metrics[m]);
        for (ExclusivityClass k = 0; c->has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++)
                w = delta_weight(w, &c->exclusivity[k]);
        return w;
}

/* How flagged_list_to_json() reads one kind of comparison. */
typedef struct FlaggedKind {
        size_t size;                                    /* of one item */
        bool (*flagged)(const void *item);
        double (*weight)(const void *item);
        int64_t (*identity_id)(const void *item);
        int (*to_json)(Store *store, const void *item, json_t **ret);
} FlaggedKind;

/* The flagged items of an array of comparisons, heaviest first, as a JSON array. */
static int flagged_list_to_json(Store *store, const void *items, size_t n, const FlaggedKind *kind,
                                json_t **ret) {
        _cleanup_free_ FlaggedEntry *entries = NULL;
        _cleanup_json_ json_t *a = json_array();
        size_t k = 0;
        int r;

        if (!a)
                return -ENOMEM;
        entries = calloc(MAX(n, (size_t) 1), sizeof *entries);
        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const void *item = (const char *) items + i * kind->size;

                if (kind->flagged(item))
                        entries[k++] = (FlaggedEntry) {
                                .weight = kind->weight(item),
                                .identity_id = kind->identity_id(item),
                                .comparison = item,
                        };
        }
        qsort(entries, k, sizeof *entries, flagged_entry_compare);

        for (size_t i = 0; i < k; i++) {
                json_t *j;

                r = kind->to_json(store, entries[i].comparison, &j);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, j) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

static bool comparison_flagged(const void *item) {
        return ((const IdentityComparison *) item)->flagged;
}

static double comparison_weight_any(const void *item) {
        return comparison_weight(item);
}

static int64_t comparison_identity(const void *item) {
        return ((const IdentityComparison *) item)->identity_id;
}

static int comparison_to_json_any(Store *store, const void *item, json_t **ret) {
        return comparison_to_json(store, item, ret);
}

static const FlaggedKind identity_comparisons = {
        .size = sizeof(IdentityComparison),
        .flagged = comparison_flagged,
        .weight = comparison_weight_any,
        .identity_id = comparison_identity,
        .to_json = comparison_to_json_any,
};

/* Adds "compared", "flagged", "appeared" and "disappeared" to root. Returns 0, -ENOMEM or a
 * store error. */
static int report_identities(Store *store, const EpochInfo *baseline, const EpochInfo *candidate,
                             const Thresholds *t, json_t *root) {
        _cleanup_free_ IdentitySeries *before = NULL, *after = NULL;
        _cleanup_free_ IdentityPoint *before_points = NULL, *after_points = NULL;
        _cleanup_free_ IdentityComparison *compared = NULL;
        _cleanup_free_ int64_t *appeared = NULL, *disappeared = NULL;
        _cleanup_json_ json_t *flagged = NULL, *appeared_json = NULL, *disappeared_json = NULL;
        size_t n_before = 0, n_after = 0, n_appeared = 0, n_disappeared = 0;
        int r, n;

        r = store_epoch_identity_series(store, baseline->id, &before, &n_before, &before_points);
        if (r < 0)
                return r;
        r = store_epoch_identity_series(store, candidate->id, &after, &n_after, &after_points);
        if (r < 0)
                return r;

        compared = calloc(MAX(MIN(n_before, n_after), (size_t) 1), sizeof *compared);
        appeared = calloc(MAX(n_after, (size_t) 1), sizeof *appeared);
        disappeared = calloc(MAX(n_before, (size_t) 1), sizeof *disappeared);
        if (!compared || !appeared || !disappeared)
                return -ENOMEM;

        n = compare_identities(before, n_before, after, n_after, t, compared, appeared,
                               &n_appeared, disappeared, &n_disappeared);
        if (n < 0)
                return n;

        /* A forecast exists only for a page_mapcount baseline: on no_page_mapcount, kpagecount
         * already holds folio averages and the forecast rules do not apply. */
        if (!streq_ptr(baseline->mapcount_mode, mapcount_mode_to_string(MAPCOUNT_MODE_PAGE)))
                for (int i = 0; i < n; i++)
                        compared[i].has_forecast = false;

        r = flagged_list_to_json(store, compared, (size_t) n, &identity_comparisons, &flagged);
        if (r < 0)
                return r;
        r = identities_to_json(store, appeared, n_appeared, &appeared_json);
        if (r < 0)
                return r;
        r = identities_to_json(store, disappeared, n_disappeared, &disappeared_json);
        if (r < 0)
                return r;

        if (json_object_set_new(root, "compared", json_integer(n)) < 0 ||
            json_object_set_new(root, "flagged", TAKE_PTR(flagged)) < 0 ||
            json_object_set_new(root, "appeared", TAKE_PTR(appeared_json)) < 0 ||
            json_object_set_new(root, "disappeared", TAKE_PTR(disappeared_json)) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- system (meminfo) ---- */

static int system_field_add(const SystemSeries *before, const SystemSeries *after,
                            const Thresholds *t, double *scratch, json_t *fields,
                            json_t *flagged, json_t *reasons) {
        SeriesStats sb, sa;
        MetricDelta d;

        series_stats(before->points, before->n, scratch, &sb);
        series_stats(after->points, after->n, scratch, &sa);
        metric_delta_compute(&sb, &sa, t, &d);

        if (json_object_set_new(fields, before->name, metric_to_json(&d)) < 0)
                return -ENOMEM;
        if (!d.flagged)
                return 0;

        if (json_array_append_new(flagged, json_string_lossy(before->name)) < 0 ||
            reason_append(reasons, before->name, "MemTotal", &d) < 0)
                return -ENOMEM;
        return 0;
}

static json_t *system_empty_json(void) {
        return json_pack("{s:{}, s:[], s:[]}", "fields", "flagged", "reasons");
}

/* Adds "system" to root: every kB meminfo field of both epochs but MemTotal, by name. Returns
 * 0, -ENOMEM or a store error. */
static int report_system(Store *store, int64_t baseline, int64_t candidate, const Thresholds *t,
                         json_t *root) {
        _cleanup_free_ SystemSeries *before = NULL, *after = NULL;
        _cleanup_free_ SeriesPoint *before_points = NULL, *after_points = NULL;
        _cleanup_free_ double *scratch = NULL;
        _cleanup_json_ json_t *fields = json_object(), *flagged = json_array(),
                *reasons = json_array();
        size_t n_before = 0, n_after = 0, most = 1;
        int r;

        if (!fields || !flagged || !reasons)
                return -ENOMEM;

        r = store_epoch_system_series(store, baseline, &before, &n_before, &before_points);
        if (r < 0)
                return r;
        r = store_epoch_system_series(store, candidate, &after, &n_after, &after_points);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n_before; i++)
                most = MAX(most, before[i].n);
        for (size_t i = 0; i < n_after; i++)
                most = MAX(most, after[i].n);
        scratch = calloc(most, sizeof *scratch);
        if (!scratch)
                return -ENOMEM;

        /* Both lists are sorted by name: walk them together. */
        for (size_t i = 0, j = 0; i < n_before && j < n_after; ) {
                int c = strcmp(before[i].name, after[j].name);

                if (c < 0)
                        i++;
                else if (c > 0)
                        j++;
                else {
                        if (strcmp(before[i].name, "MemTotal") != 0) {
                                r = system_field_add(&before[i], &after[j], t, scratch, fields,
                                                     flagged, reasons);
                                if (r < 0)
                                        return r;
                        }
                        i++;
                        j++;
                }
        }

        if (json_object_set_new(root, "system",
                                json_pack("{s:o, s:o, s:o}",
                                          "fields", TAKE_PTR(fields),
                                          "flagged", TAKE_PTR(flagged),
                                          "reasons", TAKE_PTR(reasons))) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- the report ---- */

/* Nothing can be compared: empty results and the reason. */
static int report_nothing(json_t *root, const char *message) {
        if (json_object_set_new(root, "compared", json_integer(0)) < 0 ||
            json_object_set_new(root, "flagged", json_array()) < 0 ||
            json_object_set_new(root, "appeared", json_array()) < 0 ||
            json_object_set_new(root, "disappeared", json_array()) < 0 ||
            json_object_set_new(root, "system", system_empty_json()) < 0 ||
            json_object_set_new(root, "message", json_string(message)) < 0)
                return -ENOMEM;
        return 0;
}

int report_build(Store *store, const ReportRequest *req, WebReply *reply) {
        _cleanup_(epoch_list_done) EpochList list = {};
        _cleanup_json_ json_t *root = NULL;
        const EpochInfo *baseline = NULL, *candidate = NULL;
        int64_t default_baseline = 0, default_candidate = 0;
        int r;

        r = store_list_epochs(store, &list.epochs, &list.n);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        if (req->baseline != 0 && !(baseline = epoch_find(&list, req->baseline)))
                return web_reply_error(reply, MHD_HTTP_BAD_REQUEST, "unknown epoch %" PRIi64,
                                       req->baseline);
        if (req->candidate != 0 && !(candidate = epoch_find(&list, req->candidate)))
                return web_reply_error(reply, MHD_HTTP_BAD_REQUEST, "unknown epoch %" PRIi64,
                                       req->candidate);

        r = store_default_epochs(store, &default_baseline, &default_candidate);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        if (!candidate && default_candidate > 0)
                candidate = epoch_find(&list, default_candidate);
        if (!baseline) {
                if (req->candidate != 0)
                        baseline = epoch_default_baseline(&list, candidate);
                else if (default_baseline > 0)
                        baseline = epoch_find(&list, default_baseline);
        }
        if (baseline && candidate && baseline->id == candidate->id)
                return web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                       "baseline and candidate are the same epoch (%" PRIi64 ")",
                                       baseline->id);

        root = json_pack("{s:o, s:o, s:s, s:o}",
                         "baseline", epoch_to_json(baseline),
                         "candidate", epoch_to_json(candidate),
                         "identity_mode", identity_mode_to_string(req->identity_mode) ?: "unknown",
                         "thresholds", thresholds_to_json(&req->thresholds));
        if (!root)
                return -ENOMEM;

        if (!candidate || !baseline)
                r = report_nothing(root, candidate ? no_baseline_message : no_sweep_message);
        else {
                r = report_identities(store, baseline, candidate, &req->thresholds, root);
                if (r >= 0)
                        r = report_system(store, baseline->id, candidate->id, &req->thresholds,
                                          root);
        }
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(root));
}

/* ---- the forecast ---- */

static json_t *forecast_metric_to_json(const MetricDelta *d) {
        return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
                         "today_kb", json_kb(d->before.median_kb),
                         "forecast_kb", json_kb(d->after.median_kb),
                         "delta_kb", json_kb(d->delta_kb),
                         "today_ratio", json_rounded(d->before.median_ratio, 4),
                         "forecast_ratio", json_rounded(d->after.median_ratio, 4),
                         "delta_points", json_rounded(d->delta_points, 2),
                         "noise_points", json_rounded(d->noise_points, 2),
                         "flagged", (int) d->flagged);
}

static json_t *forecast_metrics_to_json(const ForecastComparison *c) {
        _cleanup_json_ json_t *o = json_object();

        if (!o)
                return NULL;
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                if (json_object_set_new(o, compare_metric_to_string(m),
                                        forecast_metric_to_json(&c->metrics[m])) < 0)
                        return NULL;
        if (json_object_set_new(o, "Exclusive", forecast_metric_to_json(&c->exclusivity)) < 0)
                return NULL;
        return TAKE_PTR(o);
}

static json_t *forecast_reasons_to_json(const ForecastComparison *c) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                if (c->metrics[m].flagged &&
                    reason_append(a, compare_metric_to_string(m), "Rss", &c->metrics[m]) < 0)
                        return NULL;
        if (c->exclusivity.flagged &&
            reason_append(a, "Exclusive", "Present", &c->exclusivity) < 0)
                return NULL;
        return TAKE_PTR(a);
}

static int forecast_comparison_to_json(Store *store, const ForecastComparison *c, json_t **ret) {
        json_t *identity, *j;
        int r;

        r = identity_lookup_json(store, c->identity_id, &identity);
        if (r < 0)
                return r;

        j = json_pack("{s:o, s:I, s:o, s:o, s:o}",
                      "identity", identity,
                      "samples", (json_int_t) c->n,
                      "Rss_kb", json_kb(c->rss_kb),
                      "metrics", forecast_metrics_to_json(c),
                      "reasons", forecast_reasons_to_json(c));
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

static double forecast_weight(const ForecastComparison *c) {
        double w = 0;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                w = delta_weight(w, &c->metrics[m]);
        return delta_weight(w, &c->exclusivity);
}

static bool forecast_flagged(const void *item) {
        return ((const ForecastComparison *) item)->flagged;
}

static double forecast_weight_any(const void *item) {
        return forecast_weight(item);
}

static int64_t forecast_identity(const void *item) {
        return ((const ForecastComparison *) item)->identity_id;
}

static int forecast_to_json_any(Store *store, const void *item, json_t **ret) {
        return forecast_comparison_to_json(store, item, ret);
}

static const FlaggedKind forecast_comparisons = {
        .size = sizeof(ForecastComparison),
        .flagged = forecast_flagged,
        .weight = forecast_weight_any,
        .identity_id = forecast_identity,
        .to_json = forecast_to_json_any,
};

/* Sets "available", "message" (when not available), "compared" and "identities" in root. */
static int forecast_result(json_t *root, const char *message, int compared, json_t *identities) {
        _cleanup_json_ json_t *list = identities;

        if (!list)
                list = json_array();
        if (!list)
                return -ENOMEM;
        if (json_object_set_new(root, "available", json_boolean(!message)) < 0 ||
            (message && json_object_set_new(root, "message", json_string(message)) < 0) ||
            json_object_set_new(root, "compared", json_integer(compared)) < 0 ||
            json_object_set_new(root, "identities", TAKE_PTR(list)) < 0)
                return -ENOMEM;
        return 0;
}

/* Adds the comparison of epoch's sweeps to root. Returns 0, -ENOMEM or a store error. */
static int forecast_identities(Store *store, int64_t epoch, const Thresholds *t, json_t *root) {
        _cleanup_free_ IdentitySeries *series = NULL;
        _cleanup_free_ IdentityPoint *points = NULL;
        _cleanup_free_ ForecastComparison *compared = NULL;
        json_t *identities = NULL;
        size_t n_series = 0;
        int r, n;

        r = store_epoch_identity_series(store, epoch, &series, &n_series, &points);
        if (r < 0)
                return r;

        compared = calloc(MAX(n_series, (size_t) 1), sizeof *compared);
        if (!compared)
                return -ENOMEM;
        n = compare_forecast(series, n_series, t, compared);
        if (n < 0)
                return n;
        if (n == 0)
                return forecast_result(root, forecast_none_message, 0, NULL);

        r = flagged_list_to_json(store, compared, (size_t) n, &forecast_comparisons, &identities);
        if (r < 0)
                return r;
        return forecast_result(root, NULL, n, identities);
}

int forecast_build(Store *store, const ForecastRequest *req, WebReply *reply) {
        _cleanup_(epoch_list_done) EpochList list = {};
        _cleanup_json_ json_t *root = NULL;
        const EpochInfo *epoch = NULL;
        int64_t default_baseline = 0, default_candidate = 0;
        int r;

        r = store_list_epochs(store, &list.epochs, &list.n);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        if (req->epoch != 0) {
                epoch = epoch_find(&list, req->epoch);
                if (!epoch)
                        return web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                               "unknown epoch %" PRIi64, req->epoch);
        } else {
                r = store_default_epochs(store, &default_baseline, &default_candidate);
                if (r < 0)
                        return web_reply_store_error(reply, store, r);
                if (default_candidate > 0)
                        epoch = epoch_find(&list, default_candidate);
        }

        root = json_pack("{s:o, s:o}",
                         "epoch", epoch_to_json(epoch),
                         "thresholds", thresholds_to_json(&req->thresholds));
        if (!root)
                return -ENOMEM;

        if (!epoch)
                r = forecast_result(root, no_sweep_message, 0, NULL);
        else if (!streq_ptr(epoch->mapcount_mode, mapcount_mode_to_string(MAPCOUNT_MODE_PAGE)))
                r = forecast_result(root, forecast_mode_message, 0, NULL);
        else
                r = forecast_identities(store, epoch->id, &req->thresholds, root);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(root));
}
