/* The /report body: the baseline and candidate epochs (store_epoch_pair()), every identity
 * present in both compared with compare_identities() and every kB meminfo field with
 * series_stats() and metric_delta_compute(), turned into JSON. All figures come from the
 * store's per-epoch series; the statistics are compare/'s. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "web-internal.h"

static const char no_baseline_message[] =
        "no earlier epoch with a different kernel (release or mapcount mode) to compare with";

/* The six metrics, and the exclusivity classes (exclusive kB of present kB) when both sides
 * were scanned. */
static size_t comparison_deltas(const IdentityComparison *c,
                                NamedDelta ret[static NAMED_DELTAS_MAX]) {
        size_t n = 0;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                ret[n++] = (NamedDelta) { compare_metric_to_string(m), "Rss", &c->metrics[m] };
        for (ExclusivityClass k = 0; c->has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++)
                ret[n++] = (NamedDelta) { exclusivity_class_to_string(k), "Present",
                                          &c->exclusivity[k] };
        return n;
}

/* The truth figures of both sides, or null without a reconstruction on both. */
static json_t *comparison_truth_to_json(const IdentityComparison *c) {
        if (!c->has_truth)
                return json_null();

        return json_pack("{s:o, s:o, s:o, s:{s:o, s:o}}",
                         "Shared", metric_to_json(&c->truth[COMPARE_METRIC_SHARED]),
                         "Private", metric_to_json(&c->truth[COMPARE_METRIC_PRIVATE]),
                         "Pss", metric_to_json(&c->truth[COMPARE_METRIC_PSS]),
                         "unseen_kb",
                         "before", json_kb(c->unseen_before_kb),
                         "after", json_kb(c->unseen_after_kb));
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

static json_t *comparison_to_json(const void *item, json_t *identity) {
        const IdentityComparison *c = item;
        NamedDelta d[NAMED_DELTAS_MAX];
        size_t n = comparison_deltas(c, d);

        return json_pack("{s:o, s:{s:I, s:I}, s:{s:o, s:o}, s:{s:o, s:o}, s:o, s:o, s:s, s:o,"
                         " s:o}",
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
                         "metrics", named_deltas_to_json(d, n, "before", "after"),
                         "reasons", named_deltas_reasons(d, n),
                         "kind", shift_kind_to_string(c->kind) ?: "unknown",
                         "truth", comparison_truth_to_json(c),
                         "forecast", comparison_forecast_to_json(c));
}

/* ---- identities ---- */

static double comparison_weight(const void *item) {
        const IdentityComparison *c = item;
        double w = 0;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                w = flagged_delta_weight(w, &c->metrics[m]);
        for (ExclusivityClass k = 0; c->has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++)
                w = flagged_delta_weight(w, &c->exclusivity[k]);
        return w;
}

static const FlaggedKind identity_comparisons = {
        .size = sizeof(IdentityComparison),
        .flagged_offset = offsetof(IdentityComparison, flagged),
        .identity_offset = offsetof(IdentityComparison, identity_id),
        .weight = comparison_weight,
        .to_json = comparison_to_json,
};

/* Adds "compared", "flagged", "appeared" and "disappeared" to root. Returns 0, -ENOMEM or a
 * store error. */
static int report_identities(Store *store, const EpochInfo *baseline, const EpochInfo *candidate,
                             const ReportRequest *req, json_t *root) {
        _cleanup_(identity_compared_done) IdentityCompared c = {};
        _cleanup_json_ json_t *flagged = NULL, *appeared_json = NULL, *disappeared_json = NULL;
        int r;

        r = identities_compare(store, baseline, candidate, req->window, &req->thresholds,
                               req->memo, &c);
        if (r < 0)
                return r;

        r = flagged_list_to_json(store, c.flagged, c.n_flagged, &identity_comparisons,
                                 req->redact, &flagged);
        if (r < 0)
                return r;
        r = identities_to_json(store, c.appeared, c.n_appeared, req->redact, &appeared_json);
        if (r < 0)
                return r;
        r = identities_to_json(store, c.disappeared, c.n_disappeared, req->redact,
                               &disappeared_json);
        if (r < 0)
                return r;

        if (json_object_set_new(root, "compared", json_integer((json_int_t) c.n_compared)) < 0 ||
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
static int report_system(Store *store, int64_t baseline, int64_t candidate,
                         const ReportRequest *req, json_t *root) {
        _cleanup_free_ SystemSeries *before = NULL, *after = NULL;
        _cleanup_free_ SeriesPoint *before_points = NULL, *after_points = NULL;
        _cleanup_free_ double *scratch = NULL;
        _cleanup_json_ json_t *fields = json_object(), *flagged = json_array(),
                *reasons = json_array();
        size_t n_before = 0, n_after = 0, most;
        int r;

        if (!fields || !flagged || !reasons)
                return -ENOMEM;

        r = store_epoch_system_series(store, baseline, req->window, &before, &n_before,
                                      &before_points);
        if (r < 0)
                return r;
        r = store_epoch_system_series(store, candidate, req->window, &after, &n_after,
                                      &after_points);
        if (r < 0)
                return r;

        most = MAX(SERIES_MOST_POINTS(before, n_before), SERIES_MOST_POINTS(after, n_after));
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
                                r = system_field_add(&before[i], &after[j], &req->thresholds,
                                                     scratch, fields,
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
            json_object_set_new(root, "cgroups",
                                json_pack("{s:i, s:[], s:[], s:[]}", "compared", 0, "flagged",
                                          "appeared", "disappeared")) < 0 ||
            json_object_set_new(root, "thp", json_pack("{s:[]}", "sizes")) < 0 ||
            json_object_set_new(root, "message", json_string(message)) < 0)
                return -ENOMEM;
        return 0;
}

int report_build(Store *store, const ReportRequest *req, WebReply *reply) {
        _cleanup_(epoch_pair_done) EpochPair pair = {};
        _cleanup_json_ json_t *root = NULL;
        const EpochInfo *baseline, *candidate;
        int64_t unknown = 0;
        int r;

        r = store_epoch_pair(store, req->baseline, req->candidate, &pair, &unknown);
        if (r == -ENOENT)
                return web_reply_error(reply, MHD_HTTP_BAD_REQUEST, "unknown epoch %" PRIi64,
                                       unknown);
        if (r == -EINVAL)
                return web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                       "baseline and candidate are the same epoch (%" PRIi64 ")",
                                       req->baseline);
        if (r < 0)
                return web_reply_store_error(reply, store, r);
        baseline = pair.baseline;
        candidate = pair.candidate;

        root = json_pack("{s:o, s:o, s:s, s:o}",
                         "baseline", epoch_to_json(baseline),
                         "candidate", epoch_to_json(candidate),
                         "identity_mode", identity_mode_to_string(req->identity_mode) ?: "unknown",
                         "thresholds", thresholds_to_json(&req->thresholds));
        if (!root)
                return -ENOMEM;

        if (!candidate || !baseline)
                r = report_nothing(root, candidate ? no_baseline_message : WEB_NO_SWEEP_MESSAGE);
        else {
                r = report_identities(store, baseline, candidate, req, root);
                if (r >= 0)
                        r = report_system(store, baseline->id, candidate->id, req, root);
                if (r >= 0)
                        r = report_cgroups(store, baseline->id, candidate->id, req, root);
                if (r >= 0)
                        r = report_thp(store, baseline->id, candidate->id, req, root);
        }
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(root));
}

int report_summary(Store *store, const ReportRequest *req, ReportSummary *ret) {
        _cleanup_(epoch_pair_done) EpochPair pair = {};
        _cleanup_(identity_compared_done) IdentityCompared c = {};
        ReportSummary summary = {};
        int64_t unknown = 0;
        int r;

        r = store_epoch_pair(store, req->baseline, req->candidate, &pair, &unknown);
        if (r < 0)
                return r;
        if (!pair.baseline || !pair.candidate) {
                *ret = summary;
                return 0;
        }

        r = identities_compare(store, pair.baseline, pair.candidate, req->window,
                               &req->thresholds, req->memo, &c);
        if (r < 0)
                return r;

        summary = (ReportSummary) {
                .available = true,
                .baseline = pair.baseline->id,
                .candidate = pair.candidate->id,
                .compared = (unsigned) c.n_compared,
        };
        for (size_t i = 0; i < c.n_flagged; i++)
                if (c.flagged[i].kind >= 0 && c.flagged[i].kind < _SHIFT_KIND_MAX)
                        summary.flagged[c.flagged[i].kind]++;
        *ret = summary;
        return 0;
}
