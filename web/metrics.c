/* GET /metrics: the Prometheus text exposition format 0.0.4, read from what the last sweep
 * stored and the daemon's counters; a scrape never triggers a sweep. Names follow Prometheus'
 * conventions: the mapstatd_ prefix, base units (_bytes, _seconds, _ratio), _total for
 * counters, snake_case labels. Per-identity series are capped at the top N identities by Rss
 * (MetricsIdentities=), with the cap and the number left out exported, so the series count stays
 * bounded whatever the host runs. The command line is never a label (cardinality, secrets). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "config.h"
#include "string-util.h"
#include "web-internal.h"

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

typedef enum MetricType {
        METRIC_GAUGE,
        METRIC_COUNTER,
} MetricType;

static void family(FILE *f, const char *name, MetricType type, const char *help) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
                type == METRIC_COUNTER ? "counter" : "gauge");
}

/* Appends name="value" (with a leading comma unless first), the value made valid UTF-8 (a
 * process's comm or command line may be any bytes, and one invalid label value fails the whole
 * scrape: a byte that starts no UTF-8 sequence becomes U+FFFD) and escaped as the format wants:
 * backslash, double quote and newline. */
static void label(FILE *f, bool first, const char *name, const char *value) {
        fprintf(f, "%s%s=\"", first ? "" : ",", name);
        for (const char *p = value ?: ""; *p; ) {
                size_t l = utf8_sequence_length(p);

                if (l == 0) {
                        fputs(UTF8_REPLACEMENT_CHARACTER, f);
                        p++;
                        continue;
                }
                if (*p == '\\')
                        fputs("\\\\", f);
                else if (*p == '"')
                        fputs("\\\"", f);
                else if (*p == '\n')
                        fputs("\\n", f);
                else
                        fwrite(p, 1, l, f);
                p += l;
        }
        fputc('"', f);
}

/* One sample: name{labels} value. labels may be NULL or "" for none. */
static void sample(FILE *f, const char *name, const char *labels, double value) {
        if (labels && *labels)
                fprintf(f, "%s{%s} ", name, labels);
        else
                fprintf(f, "%s ", name);
        if (isnan(value))
                fputs("NaN\n", f);
        else if (value == floor(value) && fabs(value) < 9.0e15)
                fprintf(f, "%.0f\n", value);
        else
                fprintf(f, "%.17g\n", value);
}

static void sample_u64(FILE *f, const char *name, const char *labels, uint64_t value) {
        if (labels && *labels)
                fprintf(f, "%s{%s} %" PRIu64 "\n", name, labels, value);
        else
                fprintf(f, "%s %" PRIu64 "\n", name, value);
}

/* ---- the daemon ---- */

static void metrics_daemon(FILE *f, const WebStatusData *st, const StoreHealth *h) {
        static const struct {
                const char *reason;
                size_t offset;
        } skipped[] = {
                { "vanished", offsetof(WebStatusData, vanished_total) },
                { "denied", offsetof(WebStatusData, denied_total) },
                { "malformed", offsetof(WebStatusData, malformed_total) },
        };

        family(f, "mapstatd_build_info", METRIC_GAUGE, "The mapstatd build, always 1.");
        fputs("mapstatd_build_info{version=\"" PACKAGE_VERSION "\"} 1\n", f);

        family(f, "mapstatd_start_time_seconds", METRIC_GAUGE,
               "When the daemon started, seconds since the Unix epoch.");
        sample(f, "mapstatd_start_time_seconds", NULL, (double) st->started_usec / 1e6);

        family(f, "mapstatd_sweep_interval_seconds", METRIC_GAUGE,
               "The configured time between sweeps.");
        sample(f, "mapstatd_sweep_interval_seconds", NULL, (double) st->interval_usec / 1e6);

        family(f, "mapstatd_sweeps_total", METRIC_COUNTER, "Sweeps attempted since the start.");
        sample_u64(f, "mapstatd_sweeps_total", NULL, st->sweeps_total);
        family(f, "mapstatd_sweeps_failed_total", METRIC_COUNTER,
               "Sweeps that could not be stored since the start.");
        sample_u64(f, "mapstatd_sweeps_failed_total", NULL, st->sweeps_failed_total);

        family(f, "mapstatd_processes_sampled_total", METRIC_COUNTER,
               "Processes sampled since the start.");
        sample_u64(f, "mapstatd_processes_sampled_total", NULL, st->sampled_total);
        family(f, "mapstatd_processes_reused_total", METRIC_COUNTER,
               "Processes sampled since the start whose figures were an earlier read (their "
               "stat showed no change).");
        sample_u64(f, "mapstatd_processes_reused_total", NULL, st->reused_total);
        family(f, "mapstatd_processes_read_through_pagemap_total", METRIC_COUNTER,
               "Processes sampled since the start whose smaps_rollup figures were derived from "
               "pagemap, because one walk of their largest mapping could exceed StallBudget=.");
        sample_u64(f, "mapstatd_processes_read_through_pagemap_total", NULL, st->derived_total);
        family(f, "mapstatd_processes_skipped_total", METRIC_COUNTER,
               "Processes skipped since the start, by reason.");
        for (size_t i = 0; i < ELEMENTSOF(skipped); i++) {
                char labels[64];

                (void) snprintf(labels, sizeof labels, "reason=\"%s\"", skipped[i].reason);
                sample_u64(f, "mapstatd_processes_skipped_total", labels,
                           *(const uint64_t *) ((const char *) st + skipped[i].offset));
        }

        family(f, "mapstatd_sweeps_stored", METRIC_GAUGE, "Sweeps held by the database.");
        sample_u64(f, "mapstatd_sweeps_stored", NULL, h->sweeps_stored);

        if (h->last_sweep_id == 0)
                return;
        family(f, "mapstatd_last_sweep_timestamp_seconds", METRIC_GAUGE,
               "Start of the last stored sweep, seconds since the Unix epoch.");
        sample(f, "mapstatd_last_sweep_timestamp_seconds", NULL,
               (double) h->last_sweep_usec / 1e6);
        family(f, "mapstatd_last_sweep_duration_seconds", METRIC_GAUGE,
               "How long the last stored sweep took.");
        sample(f, "mapstatd_last_sweep_duration_seconds", NULL,
               (double) h->last_duration_usec / 1e6);
}

/* mapstatd_kernel_info of the epoch of the last sweep. */
static void metrics_kernel(FILE *f, const EpochInfo *e) {
        char epoch[32];

        if (!e)
                return;
        family(f, "mapstatd_kernel_info", METRIC_GAUGE,
               "The kernel of the last sweep (its epoch), always 1.");
        (void) snprintf(epoch, sizeof epoch, "%" PRIi64, e->id);
        fputs("mapstatd_kernel_info{", f);
        label(f, true, "release", e->release);
        label(f, false, "mapcount_mode", mapcount_mode_to_string(e->mapcount_mode));
        label(f, false, "boot_id", e->boot_id);
        label(f, false, "epoch", epoch);
        fputs("} 1\n", f);
}

/* ---- /proc/meminfo ---- */

/* One family with a field label rather than node_exporter's family per field: the fields differ
 * between kernels, and the point of mapstatd is to put a field of one kernel next to the same
 * field of another, which one selector on one family does. */
static void metrics_meminfo(FILE *f, const Meminfo *m) {
        bool any_count = false;

        if (m->n == 0)
                return;
        family(f, "mapstatd_meminfo_bytes", METRIC_GAUGE,
               "Each kB field of /proc/meminfo at the last sweep, in bytes.");
        for (size_t i = 0; i < m->n; i++) {
                char labels[MEMINFO_NAME_MAX + 16];

                if (!m->fields[i].is_kb) {
                        any_count = true;
                        continue;
                }
                (void) snprintf(labels, sizeof labels, "field=\"%s\"", m->fields[i].name);
                sample(f, "mapstatd_meminfo_bytes", labels, (double) m->fields[i].value * 1024.0);
        }
        if (!any_count)
                return;
        family(f, "mapstatd_meminfo_pages", METRIC_GAUGE,
               "Each count field of /proc/meminfo at the last sweep (HugePages_*), in pages.");
        for (size_t i = 0; i < m->n; i++) {
                char labels[MEMINFO_NAME_MAX + 16];

                if (m->fields[i].is_kb)
                        continue;
                (void) snprintf(labels, sizeof labels, "field=\"%s\"", m->fields[i].name);
                sample_u64(f, "mapstatd_meminfo_pages", labels, m->fields[i].value);
        }
}

/* ---- identities ---- */

/* A figure of an identity: NAN when the identity does not have it. */
typedef double (*IdentityFigure)(const ProcessGroup *g, bool forecast);

static double smaps_figure(const ProcessGroup *g, SmapsField a, SmapsField b) {
        uint32_t need = (1u << a) | (b >= 0 ? 1u << b : 0);

        if ((g->sums.present_all & need) != need)
                return NAN;
        return ((double) g->sums.sum_kb[a] + (b >= 0 ? (double) g->sums.sum_kb[b] : 0)) * 1024.0;
}

#define SMAPS_FIGURE(fn, a, b)                                                  \
        static double fn(const ProcessGroup *g, bool forecast) {                \
                (void) forecast;                                                \
                return smaps_figure(g, a, b);                                   \
        }
SMAPS_FIGURE(figure_rss, SMAPS_RSS, -1)
SMAPS_FIGURE(figure_pss, SMAPS_PSS, -1)
SMAPS_FIGURE(figure_pss_anon, SMAPS_PSS_ANON, -1)
SMAPS_FIGURE(figure_pss_file, SMAPS_PSS_FILE, -1)
SMAPS_FIGURE(figure_pss_shmem, SMAPS_PSS_SHMEM, -1)
SMAPS_FIGURE(figure_shared, SMAPS_SHARED_CLEAN, SMAPS_SHARED_DIRTY)
SMAPS_FIGURE(figure_private, SMAPS_PRIVATE_CLEAN, SMAPS_PRIVATE_DIRTY)
SMAPS_FIGURE(figure_swap, SMAPS_SWAP, -1)
#undef SMAPS_FIGURE

static double figure_processes(const ProcessGroup *g, bool forecast) {
        (void) forecast;
        return (double) g->sums.processes;
}

/* The reconstruction's figures: the truth wherever one was made, the forecast only on a
 * page_mapcount kernel. */
#define TRUTH_FIGURE(fn, member, is_forecast)                                           \
        static double fn(const ProcessGroup *g, bool forecast) {                        \
                if (!identity_aggregate_has_truth(&g->sums) || (is_forecast && !forecast)) \
                        return NAN;                                                     \
                return (double) g->sums.truth.member * 1024.0;                          \
        }
TRUTH_FIGURE(figure_truth_pss, pss_kb, false)
TRUTH_FIGURE(figure_truth_uss, uss_kb, false)
TRUTH_FIGURE(figure_forecast_pss, forecast_pss_kb, true)
TRUTH_FIGURE(figure_forecast_shared, forecast_shared_kb, true)
TRUTH_FIGURE(figure_forecast_private, forecast_private_kb, true)
#undef TRUTH_FIGURE

static const struct {
        const char *name;
        IdentityFigure figure;
        const char *help;
} identity_families[] = {
        { "mapstatd_identity_processes", figure_processes,
          "Processes of the identity at the last sweep." },
        { "mapstatd_identity_rss_bytes", figure_rss, "Rss summed over the identity's processes." },
        { "mapstatd_identity_pss_bytes", figure_pss, "Pss summed over the identity's processes." },
        { "mapstatd_identity_pss_anon_bytes", figure_pss_anon, "Pss_Anon summed." },
        { "mapstatd_identity_pss_file_bytes", figure_pss_file, "Pss_File summed." },
        { "mapstatd_identity_pss_shmem_bytes", figure_pss_shmem, "Pss_Shmem summed." },
        { "mapstatd_identity_shared_bytes", figure_shared,
          "Shared_Clean + Shared_Dirty summed over the identity's processes." },
        { "mapstatd_identity_private_bytes", figure_private,
          "Private_Clean + Private_Dirty summed over the identity's processes." },
        { "mapstatd_identity_swap_bytes", figure_swap, "Swap summed." },
        { "mapstatd_identity_truth_pss_bytes", figure_truth_pss,
          "Pss reconstructed from PFNs, independent of the mapcount configuration." },
        { "mapstatd_identity_truth_uss_bytes", figure_truth_uss,
          "Memory mapped by this identity's processes only, reconstructed from PFNs." },
        { "mapstatd_identity_forecast_pss_bytes", figure_forecast_pss,
          "Pss a CONFIG_NO_PAGE_MAPCOUNT kernel would report." },
        { "mapstatd_identity_forecast_shared_bytes", figure_forecast_shared,
          "Shared_Clean + Shared_Dirty a CONFIG_NO_PAGE_MAPCOUNT kernel would report." },
        { "mapstatd_identity_forecast_private_bytes", figure_forecast_private,
          "Private_Clean + Private_Dirty a CONFIG_NO_PAGE_MAPCOUNT kernel would report." },
};

/* identity="…",comm="…"[,exe="…"][,unit="…"] of each group: the id is this host's, exe, comm
 * and unit match the same workload on other hosts (the fleet rules aggregate by them). */
static int identity_labels(const ProcessGroup *groups, size_t n, char ***ret) {
        char **labels = calloc(MAX(n, (size_t) 1), sizeof *labels);

        if (!labels)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                char id[32];
                size_t len;
                FILE *f = open_memstream(&labels[i], &len);

                if (!f)
                        goto fail;
                (void) snprintf(id, sizeof id, "%" PRIi64, groups[i].identity.id);
                label(f, true, "identity", id);
                label(f, false, "comm", groups[i].identity.comm);
                if (groups[i].identity.exe)
                        label(f, false, "exe", groups[i].identity.exe);
                if (groups[i].identity.unit)
                        label(f, false, "unit", groups[i].identity.unit);
                if (fclose(f) != 0)
                        goto fail;
        }
        *ret = labels;
        return 0;
fail:
        for (size_t i = 0; i < n; i++)
                free(labels[i]);
        free(labels);
        return -ENOMEM;
}

static void metrics_identities(FILE *f, const ProcessGroup *groups, size_t n, char **labels,
                               bool forecast) {
        for (size_t k = 0; k < ELEMENTSOF(identity_families); k++) {
                bool header = false;

                for (size_t i = 0; i < n; i++) {
                        double v = identity_families[k].figure(&groups[i], forecast);

                        if (isnan(v))
                                continue;
                        if (!header)
                                family(f, identity_families[k].name, METRIC_GAUGE,
                                       identity_families[k].help);
                        header = true;
                        sample(f, identity_families[k].name, labels[i], v);
                }
        }

        bool header = false;
        for (size_t i = 0; i < n; i++) {
                const IdentityAggregate *a = &groups[i].sums;

                if (!identity_aggregate_has_pagemap(a))
                        continue;
                for (VmaClass c = 0; c < _VMA_CLASS_MAX; c++) {
                        char buf[512];

                        if (a->pagemap[c].present_pages == 0)
                                continue;
                        if (!header)
                                family(f, "mapstatd_identity_exclusive_ratio", METRIC_GAUGE,
                                       "Present pages pagemap marks exclusively mapped "
                                       "(PM_MMAP_EXCLUSIVE), of all present, per mapping class.");
                        header = true;
                        (void) snprintf(buf, sizeof buf, "%s,class=\"%s\"", labels[i],
                                        vma_class_to_string(c));
                        sample(f, "mapstatd_identity_exclusive_ratio", buf,
                               (double) a->pagemap[c].exclusive_pages /
                               (double) a->pagemap[c].present_pages);
                }
        }
}

/* ---- the report ---- */

static void metrics_report(FILE *f, const ReportSummary *s) {
        char pair[96];

        if (!s->available)
                return;
        (void) snprintf(pair, sizeof pair, "baseline_epoch=\"%" PRIi64 "\",candidate_epoch=\"%"
                        PRIi64 "\"", s->baseline, s->candidate);
        family(f, "mapstatd_report_compared_identities", METRIC_GAUGE,
               "Identities /report compares between its baseline and candidate epochs.");
        sample_u64(f, "mapstatd_report_compared_identities", pair, s->compared);
        family(f, "mapstatd_report_flagged_identities", METRIC_GAUGE,
               "Identities /report flags, by classification: accounting, behavior, mixed, "
               "unknown.");
        for (ShiftKind k = 0; k < _SHIFT_KIND_MAX; k++) {
                char labels[160];

                (void) snprintf(labels, sizeof labels, "%s,kind=\"%s\"", pair,
                                shift_kind_to_string(k));
                sample_u64(f, "mapstatd_report_flagged_identities", labels, s->flagged[k]);
        }
}

/* ---- cgroups and THP ---- */

/* The largest `limit` cgroups by usage (rows come sorted so), with the rest counted. */
static void metrics_cgroups(FILE *f, const CgroupRow *rows, size_t n, size_t limit) {
        size_t shown = MIN(n, limit);

        family(f, "mapstatd_cgroups", METRIC_GAUGE, "Memory cgroups in the last sweep.");
        sample_u64(f, "mapstatd_cgroups", NULL, n);
        family(f, "mapstatd_cgroups_omitted", METRIC_GAUGE,
               "Cgroups of the last sweep left out of the per-cgroup families by the limit.");
        sample_u64(f, "mapstatd_cgroups_omitted", NULL, n - shown);

        /* A family is announced only with samples: none on a host without memory cgroups. */
        for (size_t i = 0; i < shown; i++)
                if (rows[i].has_usage) {
                        family(f, "mapstatd_cgroup_usage_bytes", METRIC_GAUGE,
                               "memory.current (v2) or memory.usage_in_bytes (v1) of the "
                               "cgroup.");
                        break;
                }
        for (size_t i = 0; i < shown; i++) {
                _cleanup_free_ char *labels = NULL;
                size_t len = 0;
                FILE *l = open_memstream(&labels, &len);

                if (!l || !rows[i].has_usage) {
                        if (l)
                                fclose(l);
                        continue;
                }
                label(l, true, "cgroup", rows[i].cgroup.path);
                label(l, false, "unit", rows[i].cgroup.unit);
                if (fclose(l) != 0)
                        continue;
                sample_u64(f, "mapstatd_cgroup_usage_bytes", labels, rows[i].usage_kb * 1024);
        }

        for (size_t i = 0; i < shown; i++)
                if (rows[i].present) {
                        family(f, "mapstatd_cgroup_memory_bytes", METRIC_GAUGE,
                               "memory.stat counters of the cgroup under their v2 names (v1: "
                               "the total_* forms).");
                        break;
                }
        for (size_t i = 0; i < shown; i++)
                for (CgroupField k = 0; k < _CGROUP_FIELD_MAX; k++) {
                        _cleanup_free_ char *labels = NULL;
                        size_t len = 0;
                        FILE *l;

                        if (!(rows[i].present & (1u << k)))
                                continue;
                        l = open_memstream(&labels, &len);
                        if (!l)
                                continue;
                        label(l, true, "cgroup", rows[i].cgroup.path);
                        label(l, false, "unit", rows[i].cgroup.unit);
                        label(l, false, "field", cgroup_field_to_string(k));
                        if (fclose(l) != 0)
                                continue;
                        sample_u64(f, "mapstatd_cgroup_memory_bytes", labels,
                                   rows[i].kb[k] * 1024);
                }
}

/* The latest value of every THP counter: folios for the nr_* levels, counters for the events. */
static void metrics_thp(FILE *f, const ThpSeries *series, size_t n) {
        static const struct {
                bool level;
                const char *name, *label, *help;
        } families[] = {
                { true, "mapstatd_thp_folios", "counter",
                  "THP levels of the size's stats/ (nr_anon, nr_anon_partially_mapped)." },
                { false, "mapstatd_thp_events_total", "event",
                  "THP event counters of the size's stats/ since boot." },
        };

        for (size_t k = 0; k < ELEMENTSOF(families); k++) {
                bool announced = false;

                for (size_t i = 0; i < n; i++) {
                        char size[32], labels[160];

                        if (series[i].n == 0 ||
                            thp_counter_is_level(series[i].name) != families[k].level)
                                continue;
                        if (!announced)
                                family(f, families[k].name,
                                       families[k].level ? METRIC_GAUGE : METRIC_COUNTER,
                                       families[k].help);
                        announced = true;
                        (void) snprintf(size, sizeof size, "%" PRIu64 "kB", series[i].size_kb);
                        (void) snprintf(labels, sizeof labels, "size=\"%s\",%s=\"%s\"", size,
                                        families[k].label, series[i].name);
                        sample(f, families[k].name, labels,
                               series[i].points[series[i].n - 1].value);
                }
        }
}

/* ---- the route ---- */

typedef struct MetricsData {
        StoreHealth health;
        EpochPair pair;                 /* candidate: the epoch of the last sweep */
        Meminfo meminfo;
        ProcessGroup *groups;
        size_t n_groups, total;
        char **labels;
        ReportSummary report;
        CgroupRow *cgroups;
        size_t n_cgroups;
        ThpSeries *thp;
        size_t n_thp, n_thp_sizes;
        ThpPoint *thp_points;
        ThpSize *thp_sizes;
} MetricsData;

static void metrics_data_done(MetricsData *d) {
        epoch_pair_done(&d->pair);
        for (size_t i = 0; d->labels && i < d->n_groups; i++)
                free(d->labels[i]);
        free(d->labels);
        process_group_array_free(d->groups, d->n_groups);
        cgroup_row_array_free(d->cgroups, d->n_cgroups);
        free(d->thp);
        free(d->thp_points);
        free(d->thp_sizes);
}

static int metrics_read(Store *store, const WebStatusData *st, ReportMemo *memo,
                        MetricsData *d) {
        ReportRequest report = {
                .thresholds = st->thresholds,
                .identity_mode = st->identity_mode,
                .window = st->report_window,
                .memo = memo,
        };
        int64_t unknown, sweep_id;
        int r;

        if ((r = store_health(store, &d->health)) < 0 ||
            (r = store_epoch_pair(store, 0, 0, &d->pair, &unknown)) < 0 ||
            (r = store_latest_meminfo(store, &d->meminfo, &sweep_id)) < 0)
                return r;
        r = store_latest_process_groups(store, PROCESS_SORT_RSS, st->metrics_identities, 0,
                                        &d->groups, &d->n_groups, &d->total, &sweep_id);
        if (r < 0)
                return r;
        r = identity_labels(d->groups, d->n_groups, &d->labels);
        if (r < 0)
                return r;
        r = store_latest_cgroups(store, &d->cgroups, &d->n_cgroups, &sweep_id);
        if (r < 0)
                return r;
        if (d->pair.candidate) {
                r = store_epoch_thp_series(store, d->pair.candidate->id, 1, &d->thp, &d->n_thp,
                                           &d->thp_points, &d->thp_sizes, &d->n_thp_sizes);
                if (r < 0)
                        return r;
        }
        return report_summary(store, &report, &d->report);
}

int route_metrics(WebRequest *req, WebReply *reply) {
        _cleanup_(metrics_data_done) MetricsData d = {};
        const WebStatusData *st = &req->status;
        char *text = NULL;
        size_t len = 0;
        Store *store;
        FILE *f;
        int r;

        r = web_server_get_store(req->server, &store, reply);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        r = metrics_read(store, st, req->server->memo, &d);
        if (r < 0)
                return web_reply_store_error(reply, store, r);

        f = open_memstream(&text, &len);
        if (!f)
                return -ENOMEM;
        metrics_daemon(f, st, &d.health);
        metrics_kernel(f, d.pair.candidate);
        metrics_meminfo(f, &d.meminfo);

        family(f, "mapstatd_identities", METRIC_GAUGE, "Identities in the last sweep.");
        sample_u64(f, "mapstatd_identities", NULL, d.total);
        family(f, "mapstatd_identity_series_limit", METRIC_GAUGE,
               "Most identities exported per family (MetricsIdentities=), the largest by Rss.");
        sample_u64(f, "mapstatd_identity_series_limit", NULL, st->metrics_identities);
        family(f, "mapstatd_identities_omitted", METRIC_GAUGE,
               "Identities of the last sweep left out of the per-identity families by the limit.");
        sample_u64(f, "mapstatd_identities_omitted", NULL,
                   d.total > d.n_groups ? d.total - d.n_groups : 0);
        metrics_identities(f, d.groups, d.n_groups, d.labels,
                           d.pair.candidate &&
                           d.pair.candidate->mapcount_mode == MAPCOUNT_MODE_PAGE);
        metrics_report(f, &d.report);
        metrics_cgroups(f, d.cgroups, d.n_cgroups, st->metrics_identities);
        metrics_thp(f, d.thp, d.n_thp);

        if (fclose(f) != 0) {
                free(text);
                return -ENOMEM;
        }
        return web_reply_text(reply, text, len, CONTENT_TYPE_METRICS);
}
