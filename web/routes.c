/* The route table, and the handlers of /healthz, /epochs, /processes and the parameters of
 * /report and /forecast. Each checks its query parameters (the server already rejected unknown
 * ones), reads through the read-only Store and answers JSON; the /report and /forecast bodies
 * are built by report.c and forecast.c, /metrics by metrics.c, the series by series.c. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <microhttpd.h>

#include "parse-util.h"
#include "time-util.h"
#include "web-internal.h"

#define PROCESSES_LIMIT_DEFAULT 100
#define PROCESSES_LIMIT_MAX 10000

/* ---- /healthz ---- */

static json_t *last_sweep_to_json(const WebStatusData *st) {
        if (st->last_sweep_usec == 0)
                return json_null();

        return json_pack("{s:o, s:o, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I}, s:I}",
                         "time", json_timestamp(st->last_sweep_usec),
                         "duration_seconds", json_seconds(st->last_duration_usec),
                         "processes_sampled", (json_int_t) st->sampled,
                         "processes_reused", (json_int_t) st->reused,
                         "processes_read_through_pagemap", (json_int_t) st->derived,
                         "processes_skipped",
                         (json_int_t) ((uint64_t) st->vanished + st->denied + st->malformed),
                         "skipped",
                         "vanished", (json_int_t) st->vanished,
                         "denied", (json_int_t) st->denied,
                         "malformed", (json_int_t) st->malformed,
                         "kernel_threads", (json_int_t) st->kernel_threads);
}

static json_t *cgroups_status_to_json(const WebStatusData *st) {
        if (!st->cgroup_layout)
                return json_null();
        return json_pack("{s:s, s:I, s:I, s:b}",
                         "layout", st->cgroup_layout,
                         "sampled", (json_int_t) st->cgroups_sampled,
                         "skipped", (json_int_t) st->cgroups_skipped,
                         "cut_short", (int) st->cgroups_truncated);
}

static json_t *pagemap_status_to_json(const WebStatusData *st) {
        return json_pack("{s:s, s:I, s:I, s:b, s:o}",
                         "mode", st->pagemap_mode ?: "off",
                         "processes_cut_short", (json_int_t) st->pagemap_truncated,
                         "processes_without_pagemap", (json_int_t) st->pagemap_failed,
                         "budget_exhausted", (int) st->pagemap_budget_exhausted,
                         "reconstruction",
                         st->reconstruction[0] != '\0' ? json_string_lossy(st->reconstruction)
                                                        : json_null());
}

/* /healthz: beyond twice the interval and the last sweep's duration, this much more without a
 * sweep ending makes the daemon unhealthy. */
#define HEALTHZ_OVERDUE_SLACK_USEC (5 * USEC_PER_SEC)

static int route_healthz(WebRequest *req, WebReply *reply) {
        _cleanup_free_ char *read_error = NULL;
        WebReply store_reply = {};
        const WebStatusData *st = &req->status;
        StoreHealth health = {};
        const char *state, *storage_error = NULL, *sweep_error = NULL;
        char overdue[160];
        bool have_health = false;
        uint64_t now;
        Store *store;
        int r;

        /* The health document is answered even when the database cannot be read: that is then
         * the storage error it reports. */
        r = web_server_get_store(req->server, &store, &store_reply);
        web_reply_done(&store_reply);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                read_error = strdup(web_server_store_error(req->server) ?: strerror(-r));
        else {
                r = store_health(store, &health);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        read_error = strdup(store_last_error(store) ?: strerror(-r));
                else
                        have_health = true;
        }
        if (!have_health && !read_error)
                return -ENOMEM;

        if (st->storage_error[0] != '\0')
                storage_error = st->storage_error;
        else if (read_error)
                storage_error = read_error;

        /* A sweep that never ends (a read that blocks) publishes nothing: it shows as the time
         * since the last sweep ended, or since the start, beyond what the interval and the last
         * duration explain. */
        now = now_usec(CLOCK_REALTIME);
        uint64_t since = st->last_sweep_usec > 0 ? st->last_sweep_usec + st->last_duration_usec
                                                 : st->started_usec;
        uint64_t bound = 2 * st->interval_usec + 2 * st->last_duration_usec +
                         HEALTHZ_OVERDUE_SLACK_USEC;
        if (st->sweep_error[0] != '\0')
                sweep_error = st->sweep_error;
        else if (now > since && now - since > bound) {
                (void) snprintf(overdue, sizeof overdue, "no sweep has finished for %.0f s "
                                "(interval %.0f s): a sweep is stuck",
                                (double) (now - since) / 1e6, (double) st->interval_usec / 1e6);
                sweep_error = overdue;
        }

        if (storage_error || sweep_error)
                state = "degraded";
        else if (st->last_sweep_usec == 0)
                state = "starting";
        else
                state = "ok";

        return web_reply_json(reply,
                              storage_error || sweep_error ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                           : MHD_HTTP_OK,
                              json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
                                        "status", state,
                                        "last_sweep", last_sweep_to_json(st),
                                        "sweeps_stored",
                                        have_health ? json_integer((json_int_t) health.sweeps_stored)
                                                    : json_null(),
                                        "epoch",
                                        have_health && health.current_epoch_id > 0
                                                ? json_integer(health.current_epoch_id)
                                                : json_null(),
                                        "storage_error", json_string_lossy(storage_error),
                                        "sweep_error", json_string_lossy(sweep_error),
                                        "interval_seconds", json_seconds(st->interval_usec),
                                        "uptime_seconds",
                                        json_seconds(now > st->started_usec
                                                             ? now - st->started_usec : 0),
                                        "pagemap", pagemap_status_to_json(st),
                                        "cgroups", cgroups_status_to_json(st)));
}

/* ---- /epochs ---- */

static json_t *epoch_settings_to_json(const EpochInfo *e) {
        _cleanup_json_ json_t *thp = json_object();

        if (!thp)
                return NULL;
        for (size_t i = 0; i < e->n_settings; i++)
                if (json_object_set_new(thp, e->settings[i].key,
                                        json_string_lossy(e->settings[i].value)) < 0)
                        return NULL;
        return TAKE_PTR(thp);
}

static json_t *epoch_info_to_json(const EpochInfo *e) {
        return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o,"
                         " s:I, s:o, s:o, s:{s:o, s:o, s:o}}",
                         "id", (json_int_t) e->id,
                         "hostname", json_string_lossy(e->hostname),
                         "machine_id", json_string_lossy(e->machine_id),
                         "boot_id", json_string_lossy(e->boot_id),
                         "release", json_string_lossy(e->release),
                         "version", json_string_lossy(e->version),
                         "mapcount_mode", json_string(mapcount_mode_to_string(e->mapcount_mode)),
                         "page_size", (json_int_t) e->page_size,
                         "config_source", json_string_lossy(e->config_source),
                         "config_lines", json_string_lossy(e->config_lines),
                         "first_seen", json_timestamp(e->first_seen_usec),
                         "last_seen", json_timestamp(e->last_seen_usec),
                         "first_sweep", json_timestamp(e->first_sweep_usec),
                         "last_sweep", json_timestamp(e->last_sweep_usec),
                         "sweeps", (json_int_t) e->sweeps,
                         "thp", epoch_settings_to_json(e),
                         "cgroup_layout", json_string_lossy(e->cgroup_layout),
                         "mapcount",
                         "config", json_string_lossy(e->mapcount_config),
                         "probe", json_string_lossy(e->mapcount_probe),
                         "probe_detail", json_string_lossy(e->mapcount_probe_detail));
}

static int route_epochs(WebRequest *req, WebReply *reply) {
        _cleanup_json_ json_t *list = NULL;
        EpochInfo *epochs = NULL;
        size_t n = 0;
        Store *store;
        int r;

        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        r = store_list_epochs(store, &epochs, &n);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        list = json_array();
        for (size_t i = 0; list && i < n; i++)
                if (json_array_append_new(list, epoch_info_to_json(&epochs[i])) < 0) {
                        json_decref(TAKE_PTR(list));
                        break;
                }
        epoch_info_array_free(epochs, n);
        if (!list)
                return -ENOMEM;

        return web_reply_json(reply, MHD_HTTP_OK, json_pack("{s:o}", "epochs", TAKE_PTR(list)));
}

/* ---- /processes ---- */

static json_t *pids_to_json(const ProcessGroup *g) {
        _cleanup_json_ json_t *a = json_array();

        if (!a)
                return NULL;
        for (size_t i = 0; i < g->n_pids; i++)
                if (json_array_append_new(a, json_integer(g->pids[i])) < 0)
                        return NULL;
        return TAKE_PTR(a);
}

static json_t *rollup_to_json(const ProcessGroup *g) {
        _cleanup_json_ json_t *o = json_object();

        if (!o)
                return NULL;
        for (SmapsField f = 0; f < _SMAPS_FIELD_MAX; f++) {
                if (!(g->sums.present_all & (1u << f)))
                        continue;
                if (json_object_set_new(o, smaps_field_to_string(f),
                                        json_integer((json_int_t) g->sums.sum_kb[f])) < 0)
                        return NULL;
        }
        for (size_t i = 0; i < g->n_extra && i < SMAPS_EXTRA_MAX; i++) {
                char name[SMAPS_NAME_MAX + 1];

                /* Names come from the kernel (ASCII); copy to guarantee termination. */
                memcpy(name, g->extra[i].name, SMAPS_NAME_MAX);
                name[SMAPS_NAME_MAX] = '\0';
                if (json_object_set_new(o, name, json_integer((json_int_t) g->extra[i].kb)) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

/* {"anon": {"present_pages", "swapped_pages", "exclusive_pages"}, "file": …} or null when not
 * every process of the group was scanned. */
static json_t *group_pagemap_to_json(const ProcessGroup *g) {
        _cleanup_json_ json_t *o = NULL;

        if (!identity_aggregate_has_pagemap(&g->sums))
                return json_null();

        o = json_object();
        if (!o)
                return NULL;
        for (VmaClass c = 0; c < _VMA_CLASS_MAX; c++) {
                const PagemapClassCounts *k = &g->sums.pagemap[c];

                if (json_object_set_new(o, vma_class_to_string(c),
                                        json_pack("{s:I, s:I, s:I}",
                                                  "present_pages", (json_int_t) k->present_pages,
                                                  "swapped_pages", (json_int_t) k->swapped_pages,
                                                  "exclusive_pages",
                                                  (json_int_t) k->exclusive_pages)) < 0)
                        return NULL;
        }
        return TAKE_PTR(o);
}

static json_t *group_truth_to_json(const ProcessGroup *g) {
        const ProcessTruth *t = &g->sums.truth;

        if (!identity_aggregate_has_truth(&g->sums))
                return json_null();

        return json_pack("{s:I, s:I, s:I, s:I, s:I}",
                         "Pss", (json_int_t) t->pss_kb,
                         "Uss", (json_int_t) t->uss_kb,
                         "Shared", (json_int_t) t->shared_kb,
                         "Private", (json_int_t) t->private_kb,
                         "unseen_pages", (json_int_t) MIN(t->unseen_pages,
                                                          (uint64_t) INT64_MAX));
}

static json_t *group_forecast_to_json(const ProcessGroup *g, bool forecast) {
        const ProcessTruth *t = &g->sums.truth;

        if (!identity_aggregate_has_truth(&g->sums) || !forecast)
                return json_null();

        return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                         "Pss", (json_int_t) t->forecast_pss_kb,
                         "Pss_Anon", (json_int_t) t->forecast_pss_anon_kb,
                         "Pss_File", (json_int_t) t->forecast_pss_file_kb,
                         "Pss_Shmem", (json_int_t) t->forecast_pss_shmem_kb,
                         "Shared", (json_int_t) t->forecast_shared_kb,
                         "Private", (json_int_t) t->forecast_private_kb,
                         "exclusive_pages", (json_int_t) t->forecast_exclusive_pages);
}

/* forecast: whether the sweep's kernel is one the forecast applies to (page_mapcount). */
static json_t *process_group_to_json(const ProcessGroup *g, bool forecast, bool redact) {
        return json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:o}",
                         "identity", identity_to_json(&g->identity, redact),
                         "pids", pids_to_json(g),
                         "reused_processes", (json_int_t) g->sums.reused_processes,
                         "smaps_rollup", rollup_to_json(g),
                         "pagemap", group_pagemap_to_json(g),
                         "truth", group_truth_to_json(g),
                         "forecast", group_forecast_to_json(g, forecast),
                         "partially_mapped_folios",
                         identity_aggregate_has_truth(&g->sums)
                                 ? json_integer((json_int_t) g->sums.truth.partially_mapped_folios)
                                 : json_null());
}

/* Whether the epoch of the latest sweep ran a page_mapcount kernel: the forecast of what
 * no_page_mapcount would report applies only there. */
static int latest_epoch_is_page_mapcount(Store *store, bool *ret) {
        _cleanup_(epoch_pair_done) EpochPair pair = {};
        int64_t unknown;
        int r;

        r = store_epoch_pair(store, 0, 0, &pair, &unknown);
        if (r < 0)
                return r;
        *ret = pair.candidate && pair.candidate->mapcount_mode == MAPCOUNT_MODE_PAGE;
        return 0;
}

static int route_processes(WebRequest *req, WebReply *reply) {
        const WebParams *p = &req->params;
        _cleanup_json_ json_t *list = NULL;
        const char *sort_name = web_params_get(p, "sort");
        ProcessSort sort = PROCESS_SORT_PSS;
        bool forecast;
        uint64_t limit = PROCESSES_LIMIT_DEFAULT, offset = 0;
        ProcessGroup *groups = NULL;
        size_t n = 0, total = 0;
        int64_t sweep_id = 0;
        Store *store;
        int r;

        r = web_params_u64(p, "limit", 1, PROCESSES_LIMIT_MAX, "an integer from 1 to 10000",
                            &limit, reply);
        if (r <= 0)
                return r;
        r = web_params_u64(p, "offset", 0, INT64_MAX, "a non-negative integer", &offset, reply);
        if (r <= 0)
                return r;
        if (sort_name) {
                sort = process_sort_from_string(sort_name);
                if (sort < 0) {
                        r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                            "invalid value '%.200s' for parameter 'sort': "
                                            "expected rss, pss, shared, private or name",
                                            sort_name);
                        return r < 0 ? r : 0;
                }
        }

        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        r = store_latest_process_groups(store, sort, (size_t) limit, (size_t) offset, &groups,
                                        &n, &total, &sweep_id);
        if (r < 0)
                return web_reply_store_error(reply, store, r);
        r = latest_epoch_is_page_mapcount(store, &forecast);
        if (r < 0) {
                process_group_array_free(groups, n);
                return web_reply_store_error(reply, store, r);
        }

        list = json_array();
        for (size_t i = 0; list && i < n; i++)
                if (json_array_append_new(list,
                                          process_group_to_json(&groups[i], forecast,
                                                                req->status.redact_cmdline)) < 0) {
                        json_decref(TAKE_PTR(list));
                        break;
                }
        process_group_array_free(groups, n);
        if (!list)
                return -ENOMEM;

        return web_reply_json(reply, MHD_HTTP_OK,
                              json_pack("{s:o, s:I, s:s, s:I, s:I, s:o}",
                                        "sweep", sweep_id > 0 ? json_integer(sweep_id) : json_null(),
                                        "total", (json_int_t) total,
                                        "sort", process_sort_to_string(sort),
                                        "limit", (json_int_t) limit,
                                        "offset", (json_int_t) offset,
                                        "processes", TAKE_PTR(list)));
}

/* ---- /report ---- */

static int route_report(WebRequest *request, WebReply *reply) {
        const WebParams *p = &request->params;
        ReportRequest req = {
                .thresholds = request->status.thresholds,
                .identity_mode = request->status.identity_mode,
                .window = request->status.report_window,
                .redact = request->status.redact_cmdline,
                .memo = request->server->memo,
        };
        uint64_t baseline = 0, candidate = 0;
        Store *store;
        int r;

        r = web_params_u64(p, "baseline", 1, INT64_MAX, "a positive epoch id", &baseline, reply);
        if (r <= 0)
                return r;
        r = web_params_u64(p, "candidate", 1, INT64_MAX, "a positive epoch id", &candidate,
                            reply);
        if (r <= 0)
                return r;
        r = web_params_thresholds(p, &req.thresholds, reply);
        if (r <= 0)
                return r;

        if (baseline != 0 && baseline == candidate) {
                r = web_reply_error(reply, MHD_HTTP_BAD_REQUEST,
                                    "baseline and candidate are the same epoch (%" PRIu64 ")",
                                    baseline);
                return r < 0 ? r : 0;
        }
        req.baseline = (int64_t) baseline;
        req.candidate = (int64_t) candidate;

        r = web_server_get_store(request->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        return report_build(store, &req, reply);
}

/* ---- /forecast ---- */

static int route_forecast(WebRequest *request, WebReply *reply) {
        const WebParams *p = &request->params;
        ForecastRequest req = {
                .thresholds = request->status.thresholds,
                .window = request->status.report_window,
                .redact = request->status.redact_cmdline,
        };
        uint64_t epoch = 0;
        Store *store;
        int r;

        r = web_params_u64(p, "epoch", 1, INT64_MAX, "a positive epoch id", &epoch, reply);
        if (r <= 0)
                return r;
        r = web_params_thresholds(p, &req.thresholds, reply);
        if (r <= 0)
                return r;
        req.epoch = (int64_t) epoch;

        r = web_server_get_store(request->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;

        return forecast_build(store, &req, reply);
}

/* ---- the table ---- */

static const char *const no_params[] = { NULL };
static const char *const processes_params[] = { "limit", "offset", "sort", NULL };
static const char *const report_params[] = {
        "baseline", "candidate", "min_delta_kb", "min_delta_points", "noise_factor", NULL,
};
static const char *const forecast_params[] = {
        "epoch", "min_delta_kb", "min_delta_points", "noise_factor", NULL,
};
static const char *const series_params[] = { "from", "to", "step", NULL };
static const char *const snapshot_params[] = { "epochs", NULL };

/* cacheable: the answer depends only on stored data and the settings (not on the clock or the
 * daemon's counters), so it is cached per status generation and has an ETag. /metrics carries
 * the daemon's counters, which change only when the generation does. */
static const WebRoute routes[] = {
        { "/healthz",           no_params,              route_healthz,          false },
        { "/metrics",           no_params,              route_metrics,          true },
        { "/epochs",            no_params,              route_epochs,           true },
        { "/processes",         processes_params,       route_processes,        true },
        { "/processes/{id}",    series_params,          route_identity_series,  true },
        { "/meminfo",           series_params,          route_meminfo,          true },
        { "/cgroups",           no_params,              route_cgroups,          true },
        { "/cgroups/{id}",      series_params,          route_cgroup_series,    true },
        { "/report",            report_params,          route_report,           true },
        { "/forecast",          forecast_params,        route_forecast,         true },
        { "/snapshot",          snapshot_params,        route_snapshot,         true },
};

const WebRoute *web_routes(size_t *ret_n) {
        *ret_n = ELEMENTSOF(routes);
        return routes;
}

/* Whether path has the form of pattern, whose one "{id}" stands for a path segment; the segment
 * goes to *ret_id: a positive integer, or -1. */
static bool route_match(const char *pattern, const char *path, int64_t *ret_id) {
        const char *hole = strstr(pattern, "{id}");
        const char *tail;
        size_t prefix, suffix, len = strlen(path);
        uint64_t id;

        if (!hole) {
                *ret_id = 0;
                return strcmp(pattern, path) == 0;
        }
        prefix = (size_t) (hole - pattern);
        tail = hole + STRLEN("{id}");
        suffix = strlen(tail);
        if (len <= prefix + suffix || strncmp(path, pattern, prefix) != 0 ||
            strcmp(path + len - suffix, tail) != 0)
                return false;

        _cleanup_free_ char *segment = strndup(path + prefix, len - prefix - suffix);
        if (!segment || strchr(segment, '/'))
                return false;
        *ret_id = safe_atou64(segment, &id) >= 0 && id > 0 && id <= INT64_MAX ? (int64_t) id : -1;
        return true;
}

const WebRoute *web_route_find(const char *path, int64_t *ret_id) {
        for (size_t i = 0; i < ELEMENTSOF(routes); i++)
                if (route_match(routes[i].path, path, ret_id))
                        return &routes[i];
        return NULL;
}
