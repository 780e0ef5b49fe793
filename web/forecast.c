/* The /forecast body: on an epoch of a page_mapcount kernel with reconstructions, each
 * identity's reported figures against what a no_page_mapcount kernel would report
 * (compare_forecast()), the flagged ones heaviest first. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>

#include <jansson.h>
#include <microhttpd.h>

#include "alloc-util.h"
#include "web-internal.h"

static const char forecast_mode_message[] = "the forecast needs a page_mapcount kernel";
static const char forecast_none_message[] =
        "no reconstruction in this epoch: run with --pagemap full and CAP_SYS_ADMIN";

/* The six metrics and the exclusivity over all classes, reported against forecast. */
static size_t forecast_deltas(const ForecastComparison *c,
                              NamedDelta ret[static NAMED_DELTAS_MAX]) {
        size_t n = 0;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                ret[n++] = (NamedDelta) { compare_metric_to_string(m), "Rss", &c->metrics[m] };
        ret[n++] = (NamedDelta) { "Exclusive", "Present", &c->exclusivity };
        return n;
}

static json_t *forecast_comparison_to_json(const void *item, json_t *identity) {
        const ForecastComparison *c = item;
        NamedDelta d[NAMED_DELTAS_MAX];
        size_t n = forecast_deltas(c, d);

        return json_pack("{s:o, s:I, s:o, s:o, s:o}",
                         "identity", identity,
                         "samples", (json_int_t) c->n,
                         "Rss_kb", json_kb(c->rss_kb),
                         "metrics", named_deltas_to_json(d, n, "today", "forecast"),
                         "reasons", named_deltas_reasons(d, n));
}

static double forecast_weight(const void *item) {
        const ForecastComparison *c = item;
        double w = 0;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                w = flagged_delta_weight(w, &c->metrics[m]);
        return flagged_delta_weight(w, &c->exclusivity);
}

static const FlaggedKind forecast_comparisons = {
        .size = sizeof(ForecastComparison),
        .flagged_offset = offsetof(ForecastComparison, flagged),
        .identity_offset = offsetof(ForecastComparison, identity_id),
        .weight = forecast_weight,
        .to_json = forecast_comparison_to_json,
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

/* Compares the identities of one range of ids and appends them to *compared. */
static int forecast_range(Store *store, int64_t epoch, const ForecastRequest *req,
                          const SeriesSelection *sel, ForecastComparison **compared, size_t *n,
                          size_t *allocated) {
        _cleanup_free_ IdentitySeries *series = NULL;
        _cleanup_free_ IdentityPoint *points = NULL;
        size_t n_series = 0;
        int r, k;

        r = store_epoch_identity_series(store, epoch, sel, &series, &n_series, &points);
        if (r < 0)
                return r;
        if (GREEDY_REALLOC(*compared, *allocated, *n + n_series + 1) < 0)
                return -ENOMEM;
        k = compare_forecast(series, n_series, &req->thresholds, *compared + *n);
        if (k < 0)
                return k;
        *n += (size_t) k;
        return 0;
}

/* Adds the comparison of epoch's sweeps to root, COMPARE_IDENTITIES_AT_ONCE identities at a
 * time. Returns 0, -ENOMEM or a store error. */
static int forecast_identities(Store *store, int64_t epoch, const ForecastRequest *req,
                               json_t *root) {
        _cleanup_free_ ForecastComparison *compared = NULL;
        size_t n = 0, allocated = 0;
        json_t *identities = NULL;
        int64_t max_id;
        int r;

        r = store_identity_id_max(store, &max_id);
        if (r < 0)
                return r;
        for (int64_t first = 1; first <= max_id; first += COMPARE_IDENTITIES_AT_ONCE) {
                SeriesSelection sel = {
                        .window = req->window,
                        .first_identity = first,
                        .last_identity = first + COMPARE_IDENTITIES_AT_ONCE - 1,
                };

                r = forecast_range(store, epoch, req, &sel, &compared, &n, &allocated);
                if (r < 0)
                        return r;
        }
        if (n == 0)
                return forecast_result(root, forecast_none_message, 0, NULL);

        r = flagged_list_to_json(store, compared, n, &forecast_comparisons, req->redact,
                                 &identities);
        if (r < 0)
                return r;
        return forecast_result(root, NULL, (int) n, identities);
}

int forecast_build(Store *store, const ForecastRequest *req, WebReply *reply) {
        _cleanup_(epoch_pair_done) EpochPair pair = {};
        _cleanup_json_ json_t *root = NULL;
        const EpochInfo *epoch;
        int64_t unknown = 0;
        int r;

        r = store_epoch_pair(store, 0, req->epoch, &pair, &unknown);
        if (r == -ENOENT)
                return web_reply_error(reply, MHD_HTTP_BAD_REQUEST, "unknown epoch %" PRIi64,
                                       unknown);
        if (r < 0)
                return web_reply_store_error(reply, store, r);
        epoch = pair.candidate;

        root = json_pack("{s:o, s:o}",
                         "epoch", epoch_to_json(epoch),
                         "thresholds", thresholds_to_json(&req->thresholds));
        if (!root)
                return -ENOMEM;

        if (!epoch)
                r = forecast_result(root, WEB_NO_SWEEP_MESSAGE, 0, NULL);
        else if (epoch->mapcount_mode != MAPCOUNT_MODE_PAGE)
                r = forecast_result(root, forecast_mode_message, 0, NULL);
        else
                r = forecast_identities(store, epoch->id, req, root);
        if (r >= 0 && epoch && epoch->mapcount_mode == MAPCOUNT_MODE_PAGE)
                r = forecast_cgroups(store, epoch->id, req->window, &req->thresholds, root);
        else if (r >= 0 && json_object_set_new(root, "cgroups",
                                               json_pack("{s:i, s:[]}", "compared", 0,
                                                         "flagged")) < 0)
                r = -ENOMEM;
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        return web_reply_json(reply, MHD_HTTP_OK, TAKE_PTR(root));
}
