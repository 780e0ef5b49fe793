/* A portable snapshot of one host (GET /snapshot, mapstatctl export): for each epoch, the kernel
 * and, per identity, the summary a comparison needs (compare/'s IdentitySummary over the epoch's
 * window: medians and spreads of every compared figure, the exclusivity, the reconstruction and
 * the forecast where present), with the host's name and machine id and the thresholds in force.
 * Identities are named by their key (exe and normalized arguments, or whatever Identity= says),
 * never by PID or a row id of this host, so that the same workload matches across hosts. The
 * document is compact JSON described by docs/snapshot.schema.json. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "alloc-util.h"
#include "config.h"
#include "parse-util.h"
#include "time-util.h"
#include "web-internal.h"

/* [median_kb, median_ratio, spread_kb, spread_ratio]: kB to a tenth, ratios to 1e-6. */
static json_t *stats_to_json(const SeriesStats *st) {
        return json_pack("[o, o, o, o]",
                         json_kb(st->median_kb), json_rounded(st->median_ratio, 6),
                         json_kb(st->spread_kb), json_rounded(st->spread_ratio, 6));
}

/* {name: stats} of the compare metrics; with truth, of those the reconstruction has: Shared,
 * Private and Pss. */
static json_t *metrics_to_json(const SeriesStats stats[static _COMPARE_METRIC_MAX], bool truth) {
        _cleanup_json_ json_t *o = json_object();

        if (!o)
                return NULL;
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                if (truth && m != COMPARE_METRIC_SHARED && m != COMPARE_METRIC_PRIVATE &&
                    m != COMPARE_METRIC_PSS)
                        continue;
                if (json_object_set_new(o, compare_metric_to_string(m),
                                        stats_to_json(&stats[m])) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

static json_t *exclusivity_to_json(const IdentitySummary *u) {
        _cleanup_json_ json_t *o = NULL;

        if (!u->has_pagemap)
                return json_null();
        o = json_object();
        if (!o)
                return NULL;
        for (ExclusivityClass k = 0; k < _EXCLUSIVITY_CLASS_MAX; k++) {
                json_t *a = stats_to_json(&u->exclusivity[k]);

                if (!a || json_array_append_new(a, json_kb(u->present_kb[k])) < 0 ||
                    json_object_set_new(o, exclusivity_class_to_string(k), a) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

static json_t *summary_to_json(const IdentitySummary *u, const IdentityInfo *info, bool redact,
                               bool forecast) {
        _cleanup_json_ json_t *identity = identity_to_json(info, redact);

        if (!identity)
                return NULL;
        return json_pack("{s:O, s:O, s:O, s:I, s:o, s:o, s:o, s:o, s:o, s:o}",
                         "key", json_object_get(identity, "key"),
                         "comm", json_object_get(identity, "comm"),
                         "unit", json_object_get(identity, "unit"),
                         "samples", (json_int_t) u->n,
                         "processes", json_rounded(u->processes, 2),
                         "Rss_kb", json_kb(u->rss_kb),
                         "metrics", metrics_to_json(u->metrics, false),
                         "exclusivity", exclusivity_to_json(u),
                         "truth", u->has_truth ? metrics_to_json(u->truth, true) : json_null(),
                         "forecast",
                         u->has_truth && forecast ? metrics_to_json(u->forecast, false)
                                                  : json_null());
}

/* Appends the summaries of one range of identity ids of epoch e to list. */
static int summaries_range(Store *store, const EpochInfo *e, const SnapshotRequest *req,
                           const SeriesSelection *sel, json_t *list) {
        _cleanup_free_ IdentitySeries *series = NULL;
        _cleanup_free_ IdentityPoint *points = NULL;
        _cleanup_free_ SeriesPoint *scratch_points = NULL;
        _cleanup_free_ double *scratch = NULL;
        size_t n = 0, most;
        int r;

        r = store_epoch_identity_series(store, e->id, sel, &series, &n, &points);
        if (r < 0)
                return r;
        most = SERIES_MOST_POINTS(series, n);
        scratch_points = calloc(most, sizeof *scratch_points);
        scratch = calloc(most, sizeof *scratch);
        if (!scratch_points || !scratch)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(identity_info_done) IdentityInfo info = {};
                IdentitySummary u;

                r = store_get_identity(store, series[i].identity_id, &info);
                if (r < 0)
                        return r;
                identity_summarize(&series[i], scratch_points, scratch, &u);
                if (json_array_append_new(list, summary_to_json(&u, &info, req->redact,
                                                                e->mapcount_mode ==
                                                                MAPCOUNT_MODE_PAGE)) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int epoch_snapshot(Store *store, const EpochInfo *e, const SnapshotRequest *req,
                          int64_t max_id, json_t *epochs) {
        _cleanup_json_ json_t *list = json_array(), *o = NULL;
        int r;

        if (!list)
                return -ENOMEM;
        for (int64_t first = 1; first <= max_id; first += COMPARE_IDENTITIES_AT_ONCE) {
                SeriesSelection sel = {
                        .window = req->window,
                        .first_identity = first,
                        .last_identity = first + COMPARE_IDENTITIES_AT_ONCE - 1,
                };

                r = summaries_range(store, e, req, &sel, list);
                if (r < 0)
                        return r;
        }
        o = epoch_to_json(e);
        if (!o || json_object_del(o, "epoch") < 0 ||
            json_object_set_new(o, "window", json_integer((json_int_t) MIN(
                    req->window > 0 ? req->window : e->sweeps, e->sweeps))) < 0 ||
            json_object_set_new(o, "identities", TAKE_PTR(list)) < 0 ||
            json_array_append_new(epochs, TAKE_PTR(o)) < 0)
                return -ENOMEM;
        return 0;
}

/* Whether epoch id was asked for (every epoch with sweeps when none was). */
static bool epoch_wanted(const SnapshotRequest *req, const EpochInfo *e) {
        if (e->sweeps == 0)
                return false;
        if (req->n_epochs == 0)
                return true;
        for (size_t i = 0; i < req->n_epochs; i++)
                if (req->epochs[i] == e->id)
                        return true;
        return false;
}

int snapshot_build(Store *store, const SnapshotRequest *req, WebReply *reply) {
        _cleanup_json_ json_t *root = NULL, *epochs = json_array();
        const EpochInfo *host = NULL;
        EpochInfo *all = NULL;
        char *text;
        int64_t max_id;
        size_t n = 0;
        int r;

        if (!epochs)
                return -ENOMEM;
        r = store_list_epochs(store, &all, &n);
        if (r >= 0)
                r = store_identity_id_max(store, &max_id);
        if (r < 0) {
                epoch_info_array_free(all, n);
                return web_reply_store_error(reply, store, r);
        }

        for (size_t k = 0; k < req->n_epochs; k++) {
                bool known = false;

                for (size_t i = 0; i < n; i++)
                        known = known || all[i].id == req->epochs[k];
                if (!known) {
                        epoch_info_array_free(all, n);
                        return web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                               "unknown epoch %" PRIi64, req->epochs[k]);
                }
        }

        for (size_t i = 0; i < n && r >= 0; i++) {
                if (!epoch_wanted(req, &all[i]))
                        continue;
                if (all[i].hostname || all[i].machine_id)
                        host = &all[i];
                r = epoch_snapshot(store, &all[i], req, max_id, epochs);
        }
        if (r >= 0) {
                root = json_pack("{s:s, s:i, s:o, s:s, s:{s:o, s:o}, s:s, s:o, s:O}",
                                 "format", SNAPSHOT_FORMAT,
                                 "version", SNAPSHOT_VERSION,
                                 "created", json_time(now_usec(CLOCK_REALTIME)),
                                 "generator", PACKAGE_NAME " " PACKAGE_VERSION,
                                 "host",
                                 "hostname", json_string_lossy(host ? host->hostname : NULL),
                                 "machine_id", json_string_lossy(host ? host->machine_id : NULL),
                                 "identity_mode",
                                 identity_mode_to_string(req->identity_mode) ?: "unknown",
                                 "thresholds", thresholds_to_json(&req->thresholds),
                                 "epochs", epochs);
                r = root ? 0 : -ENOMEM;
        }
        epoch_info_array_free(all, n);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        /* Compact: a snapshot travels, and a fleet has thousands. */
        text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(15));
        if (!text)
                return -ENOMEM;
        return web_reply_text(reply, text, strlen(text), "application/json");
}

/* epochs=1,3: the epoch ids. Returns 1, 0 (reply holds the 400) or -ENOMEM. */
static int snapshot_epochs(const WebParams *p, SnapshotRequest *req, WebReply *reply) {
        const char *value = web_params_get(p, "epochs");
        const char *s = value;
        int r;

        if (!value)
                return 1;
        for (;;) {
                char buf[24];
                size_t len = strcspn(s, ",");
                uint64_t id;

                if (len == 0 || len >= sizeof buf || req->n_epochs >= SNAPSHOT_EPOCHS_MAX)
                        goto bad;
                memcpy(buf, s, len);
                buf[len] = '\0';
                if (safe_atou64(buf, &id) < 0 || id == 0 || id > INT64_MAX)
                        goto bad;
                req->epochs[req->n_epochs++] = (int64_t) id;
                if (s[len] == '\0')
                        return 1;
                s += len + 1;
        }
bad:
        r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                            "invalid value '%.200s' for parameter 'epochs': expected up to %d "
                            "epoch ids separated by commas", value, SNAPSHOT_EPOCHS_MAX);
        return r < 0 ? r : 0;
}

int route_snapshot(WebRequest *req, WebReply *reply) {
        SnapshotRequest s = {
                .window = req->status.report_window,
                .thresholds = req->status.thresholds,
                .identity_mode = req->status.identity_mode,
                .redact = req->status.redact_cmdline,
        };
        Store *store;
        int r;

        r = snapshot_epochs(&req->params, &s, reply);
        if (r <= 0)
                return r;
        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        return snapshot_build(store, &s, reply);
}
