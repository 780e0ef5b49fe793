/* The read queries behind the HTTP API and /healthz: identities, per-epoch identity and meminfo
 * series, the latest sweep's process groups and the store's health. Per-identity figures are
 * read from identity_samples, where the writer stored them at commit (aggregate.c): nothing is
 * summed again here. Each query runs in a read snapshot (STORE_IN_SNAPSHOT), or in the
 * caller's. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "alloc-util.h"
#include "macro.h"
#include "schema.h"
#include "store-internal.h"
#include "store.h"

/* ---- identities ---- */

void identity_info_done(IdentityInfo *i) {
        if (!i)
                return;
        free(i->key);
        free(i->comm);
        free(i->exe);
        free(i->cmdline);
        free(i->unit);
        *i = (IdentityInfo) {};
}

static int get_identity(Store *s, int64_t identity_id, IdentityInfo *ret) {
        _cleanup_(identity_info_done) IdentityInfo i = { .id = identity_id };
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, "SELECT key, comm, exe, cmdline, unit FROM identities WHERE id = ?1",
                          &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, identity_id);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if ((r = store_column_strdup(st, 0, &i.key)) < 0 ||
            (r = store_column_strdup(st, 1, &i.comm)) < 0 ||
            (r = store_column_strdup(st, 2, &i.exe)) < 0 ||
            (r = store_column_strdup(st, 3, &i.cmdline)) < 0 ||
            (r = store_column_strdup(st, 4, &i.unit)) < 0)
                return r;

        *ret = TAKE_STRUCT(i);
        return 0;
}

int store_get_identity(Store *s, int64_t identity_id, IdentityInfo *ret) {
        assert(s);
        assert(ret);

        return get_identity(s, identity_id, ret);
}

/* ---- series ---- */

/* IdentityPoint's per-class arrays are filled from the pagemap counts, in VmaClass order. */
static_assert((int) EXCLUSIVITY_ANON == (int) VMA_CLASS_ANON &&
              (int) EXCLUSIVITY_FILE == (int) VMA_CLASS_FILE &&
              (int) EXCLUSIVITY_SHARED_FILE == (int) VMA_CLASS_SHARED_FILE &&
              (int) EXCLUSIVITY_SHMEM == (int) VMA_CLASS_SHMEM &&
              (int) EXCLUSIVITY_HUGETLB == (int) VMA_CLASS_HUGETLB &&
              (int) _EXCLUSIVITY_CLASS_MAX == (int) _VMA_CLASS_MAX,
              "ExclusivityClass follows VmaClass");

#define STORE_PAGE_SIZE_DEFAULT 4096

/* pages × page_size in kB, exact, without overflowing before the result does. */
static uint64_t pages_to_kb(uint64_t pages, uint64_t page_size) {
        return pages / 1024 * page_size + pages % 1024 * page_size / 1024;
}

/* What compare/ takes of one sweep's aggregate: the six metrics (absent fields count as 0),
 * the pagemap counts and the reconstruction as kB, each only when every member has them. */
static void identity_point_from_aggregate(const IdentityAggregate *a, uint64_t page_size,
                                          IdentityPoint *ret) {
        const uint64_t *kb = a->sum_kb;
        const ProcessTruth *t = &a->truth;
        IdentityPoint p = {
                .processes = a->processes,
                .rss_kb = kb[SMAPS_RSS],
                .metric_kb = {
                        [COMPARE_METRIC_SHARED] = kb[SMAPS_SHARED_CLEAN] + kb[SMAPS_SHARED_DIRTY],
                        [COMPARE_METRIC_PRIVATE] = kb[SMAPS_PRIVATE_CLEAN] +
                                                   kb[SMAPS_PRIVATE_DIRTY],
                        [COMPARE_METRIC_PSS] = kb[SMAPS_PSS],
                        [COMPARE_METRIC_PSS_ANON] = kb[SMAPS_PSS_ANON],
                        [COMPARE_METRIC_PSS_FILE] = kb[SMAPS_PSS_FILE],
                        [COMPARE_METRIC_PSS_SHMEM] = kb[SMAPS_PSS_SHMEM],
                },
                .has_pagemap = identity_aggregate_has_pagemap(a),
                .has_truth = identity_aggregate_has_truth(a),
        };

        for (int c = 0; p.has_pagemap && c < _EXCLUSIVITY_CLASS_MAX; c++) {
                p.present_kb[c] = pages_to_kb(a->pagemap[c].present_pages, page_size);
                p.exclusive_kb[c] = pages_to_kb(a->pagemap[c].exclusive_pages, page_size);
        }
        if (p.has_truth) {
                p.truth_kb[COMPARE_METRIC_SHARED] = t->shared_kb;
                p.truth_kb[COMPARE_METRIC_PRIVATE] = t->private_kb;
                p.truth_kb[COMPARE_METRIC_PSS] = t->pss_kb;
                p.truth_uss_kb = t->uss_kb;
                p.truth_unseen_kb = pages_to_kb(t->unseen_pages, page_size);
                p.forecast_kb[COMPARE_METRIC_SHARED] = t->forecast_shared_kb;
                p.forecast_kb[COMPARE_METRIC_PRIVATE] = t->forecast_private_kb;
                p.forecast_kb[COMPARE_METRIC_PSS] = t->forecast_pss_kb;
                p.forecast_kb[COMPARE_METRIC_PSS_ANON] = t->forecast_pss_anon_kb;
                p.forecast_kb[COMPARE_METRIC_PSS_FILE] = t->forecast_pss_file_kb;
                p.forecast_kb[COMPARE_METRIC_PSS_SHMEM] = t->forecast_pss_shmem_kb;
                p.forecast_exclusive_kb = pages_to_kb(t->forecast_exclusive_pages, page_size);
        }
        *ret = p;
}

/* The sweep ids of an epoch's newest ?2 sweeps (all of them when ?2 is -1: SQLite's LIMIT -1). */
/* The ?2 of STORE_EPOCH_WINDOW_SQL for a window of that many sweeps (0: all). */
static int64_t store_window_limit(size_t window) {
        return window == 0 || window > INT64_MAX ? -1 : (int64_t) window;
}

int store_prepare_epoch_window(Store *s, const char *sql, int64_t epoch_id, size_t window,
                               sqlite3_stmt **ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, epoch_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, store_window_limit(window))) < 0)
                return r;
        *ret = TAKE_PTR(st);
        return 0;
}

/* The window's runs of identities ?3..?4 that hold an observation: the aggregate, then the
 * sweeps and observations of the run and how many of its sweeps are in the window. A run is in
 * the window when its last sweep is; sweeps of other epochs between its ends are not its. */
static const char identity_window_sql[] =
        "WITH win(id) AS MATERIALIZED (" STORE_EPOCH_WINDOW_SQL ")"
        " SELECT " STORE_IDENTITY_AGGREGATE_COLUMNS ", sweeps, observations,"
        /* (from the window's first sweep: a run may be days long, the window is not) */
        " (SELECT count(*) FROM sweeps w WHERE w.id BETWEEN max(i.sweep_id,"
        " (SELECT min(id) FROM win)) AND i.last_sweep_id AND w.id IN win) AS in_window"
        " FROM identity_samples i"
        /* through (identity_id, last_sweep_id): the + keeps SQLite from taking every
         * identity's runs of each window sweep through (last_sweep_id) instead */
        " WHERE +i.last_sweep_id IN win AND i.identity_id BETWEEN ?3 AND ?4"
        " AND i.observations > 0"
        " ORDER BY i.identity_id, i.last_sweep_id";

/* How many observations a run counts for in a window: all of them when the run lies in it,
 * else its share of them, rounded up, at most one per sweep. The sweeps of a run are
 * observations or reuses, and a reuse lasts at most MaxStaleness, so the observations are
 * spread through the run and its share of them is what one row per sweep would have counted
 * there, give or take one. */
static size_t run_observations_in_window(uint64_t sweeps, uint64_t observations,
                                         uint64_t in_window) {
        if (in_window == 0 || observations == 0)
                return 0;
        if (in_window >= sweeps)
                return (size_t) MIN(observations, (uint64_t) SIZE_MAX);
        return (size_t) MIN((observations * in_window + sweeps - 1) / sweeps, in_window);
}

static int identity_series(Store *s, int64_t epoch_id, const SeriesSelection *sel,
                           IdentitySeries **ret_series, size_t *ret_n,
                           IdentityPoint **ret_points) {
        _cleanup_free_ IdentitySeries *series = NULL;
        _cleanup_free_ IdentityPoint *points = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n_series = 0, n_points = 0, allocated_series = 0, allocated_points = 0;
        uint64_t page_size = 0;
        int r;

        r = store_epoch_require(s, epoch_id, &page_size);
        if (r < 0)
                return r;
        if (page_size == 0)
                page_size = STORE_PAGE_SIZE_DEFAULT;

        r = store_prepare_epoch_window(s, identity_window_sql, epoch_id, sel->window, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 3, sel->first_identity)) < 0 ||
            (r = store_bind_int64(s, st, 4, sel->last_identity > 0 ? sel->last_identity
                                                                    : INT64_MAX)) < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                IdentityAggregate a;
                IdentityPoint p;
                size_t weight;

                schema_read_identity_aggregate(st, 0, &a);
                weight = run_observations_in_window(store_column_uint64(st, _IDENTITY_COL_MAX),
                                                    store_column_uint64(st, _IDENTITY_COL_MAX + 1),
                                                    store_column_uint64(st, _IDENTITY_COL_MAX + 2));
                if (weight == 0)
                        continue;
                if (n_series == 0 || series[n_series - 1].identity_id != a.identity_id) {
                        r = GREEDY_REALLOC(series, allocated_series, n_series + 1);
                        if (r < 0)
                                return r;
                        series[n_series++] = (IdentitySeries) { .identity_id = a.identity_id };
                }
                r = GREEDY_REALLOC(points, allocated_points, n_points + weight);
                if (r < 0)
                        return r;
                identity_point_from_aggregate(&a, page_size, &p);
                for (size_t k = 0; k < weight; k++)
                        points[n_points++] = p;
                series[n_series - 1].n += weight;
        }
        if (r < 0)
                return r;

        SERIES_POINT_INTO(series, n_series, points);

        *ret_series = TAKE_PTR(series);
        *ret_n = n_series;
        *ret_points = TAKE_PTR(points);
        return 0;
}

int store_epoch_identity_series(Store *s, int64_t epoch_id, const SeriesSelection *sel,
                                IdentitySeries **ret_series, size_t *ret_n,
                                IdentityPoint **ret_points) {
        assert(s);
        assert(sel);
        assert(ret_series);
        assert(ret_n);
        assert(ret_points);

        return STORE_IN_SNAPSHOT(s, identity_series(s, epoch_id, sel, ret_series, ret_n,
                                                    ret_points));
}

int store_identity_id_max(Store *s, int64_t *ret) {
        assert(s);
        assert(ret);

        return store_query_int64(s, "SELECT coalesce(max(id), 0) FROM identities", ret);
}

/* The last sweep of the epoch ?1. */
#define EPOCH_LAST_SWEEP_SQL "(SELECT max(id) FROM sweeps WHERE epoch_id = ?1)"

/* A sweep's MemTotal, to look up by sweep id. */
typedef struct SweepTotal {
        int64_t sweep_id;
        double value_kb;
} SweepTotal;

static int sweep_total_compare(const void *a, const void *b) {
        const SweepTotal *x = a, *y = b;

        return CMP(x->sweep_id, y->sweep_id);
}

/* Sets every point's base_kb to MemTotal of its sweep (sweep_ids[] holds each point's), 0 where
 * the sweep has none. MemTotal comes from its own series rather than from a second join of
 * meminfo_samples per row, which costs 20 times the query. */
static int system_series_base(SystemSeries *series, size_t n_series, SeriesPoint *points,
                              const int64_t *sweep_ids) {
        _cleanup_free_ SweepTotal *totals = NULL;
        const SystemSeries *total = NULL;
        size_t first = 0;

        for (size_t i = 0; i < n_series && !total; i++) {
                if (strcmp(series[i].name, "MemTotal") == 0)
                        total = series + i;
                else
                        first += series[i].n;
        }
        if (!total)
                return 0;

        totals = malloc(MAX(total->n, (size_t) 1) * sizeof *totals);
        if (!totals)
                return -ENOMEM;
        for (size_t i = 0; i < total->n; i++)
                totals[i] = (SweepTotal) { sweep_ids[first + i], points[first + i].value_kb };
        qsort(totals, total->n, sizeof *totals, sweep_total_compare);

        for (size_t i = 0, off = 0; i < n_series; off += series[i].n, i++)
                for (size_t k = off; k < off + series[i].n; k++) {
                        SweepTotal key = { .sweep_id = sweep_ids[k] };
                        const SweepTotal *t = bsearch(&key, totals, total->n, sizeof *totals,
                                                      sweep_total_compare);

                        points[k].base_kb = t ? t->value_kb : 0;
                }
        return 0;
}

static int system_series(Store *s, int64_t epoch_id, size_t window, SystemSeries **ret_series,
                         size_t *ret_n, SeriesPoint **ret_points) {
        _cleanup_free_ SystemSeries *series = NULL;
        _cleanup_free_ SeriesPoint *points = NULL;
        _cleanup_free_ int64_t *sweep_ids = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n_series = 0, n_points = 0, allocated_series = 0, allocated_points = 0,
               allocated_ids = 0;
        int r;

        r = store_epoch_require(s, epoch_id, NULL);
        if (r < 0)
                return r;

        r = store_prepare_epoch_window(s,
                                       "SELECT m.name, m.value, w.id"
                                       /* runs ending within the epoch: a window of an
                                        * old epoch does not look through every later run */
                                       " FROM sweeps w JOIN meminfo_samples m"
                                       " ON " STORE_RUN_COVERS_SQL("m", "w")
                                       " AND m.last_sweep_id <= " EPOCH_LAST_SWEEP_SQL
                                       " WHERE w.id IN (" STORE_EPOCH_WINDOW_SQL ")"
                                       " AND m.is_kb = 1 ORDER BY m.name, w.start_usec, w.id",
                                       epoch_id, window, &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                const char *name = (const char *) sqlite3_column_text(st, 0);

                if (!name)
                        return -ENOMEM;
                if (strlen(name) >= MEMINFO_NAME_MAX)
                        return -EBADMSG;
                if (n_series == 0 || strcmp(series[n_series - 1].name, name) != 0) {
                        r = GREEDY_REALLOC(series, allocated_series, n_series + 1);
                        if (r < 0)
                                return r;
                        series[n_series] = (SystemSeries) {};
                        strcpy(series[n_series].name, name);
                        n_series++;
                }
                if (GREEDY_REALLOC(points, allocated_points, n_points + 1) < 0 ||
                    GREEDY_REALLOC(sweep_ids, allocated_ids, n_points + 1) < 0)
                        return -ENOMEM;
                points[n_points] = (SeriesPoint) {
                        .value_kb = (double) store_column_uint64(st, 1),
                };
                sweep_ids[n_points++] = sqlite3_column_int64(st, 2);
                series[n_series - 1].n++;
        }
        if (r < 0)
                return r;
        r = system_series_base(series, n_series, points, sweep_ids);
        if (r < 0)
                return r;

        SERIES_POINT_INTO(series, n_series, points);

        *ret_series = TAKE_PTR(series);
        *ret_n = n_series;
        *ret_points = TAKE_PTR(points);
        return 0;
}

int store_epoch_system_series(Store *s, int64_t epoch_id, size_t window,
                              SystemSeries **ret_series, size_t *ret_n, SeriesPoint **ret_points) {
        assert(s);
        assert(ret_series);
        assert(ret_n);
        assert(ret_points);

        return STORE_IN_SNAPSHOT(s, system_series(s, epoch_id, window, ret_series, ret_n,
                                                  ret_points));
}

/* ---- the latest sweep's process groups ---- */

void process_group_array_free(ProcessGroup *a, size_t n) {
        for (size_t i = 0; a && i < n; i++) {
                identity_info_done(&a[i].identity);
                free(a[i].pids);
        }
        free(a);
}

typedef struct GroupArray {
        ProcessGroup *items;
        size_t n;
} GroupArray;

static void group_array_done(GroupArray *a) {
        process_group_array_free(a->items, a->n);
}

static int group_read_pids(Store *s, int64_t sweep_id, ProcessGroup *g) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n = g->sums.processes;
        int r;

        if (n == 0)
                return 0;
        g->pids = calloc(n, sizeof(int32_t));
        if (!g->pids)
                return -ENOMEM;

        r = store_prepare(s,
                          "SELECT p.pid FROM process_samples ps"
                          " JOIN processes p ON p.id = ps.process_id"
                          " WHERE ps.last_sweep_id >= ?1 AND ps.sweep_id <= ?1"
                          " AND p.identity_id = ?2 ORDER BY p.pid", &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, g->identity.id)) < 0)
                return r;
        while (g->n_pids < n && (r = store_step(s, st)) > 0)
                g->pids[g->n_pids++] = (int32_t) sqlite3_column_int64(st, 0);
        return r < 0 ? r : 0;
}

static int group_read_extra(Store *s, int64_t sweep_id, ProcessGroup *g) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        /* Fields this build does not know are not part of the aggregate: summed by name here,
         * at most SMAPS_EXTRA_MAX of them, the first by name, if the members disagree. */
        r = store_prepare(s,
                          "SELECT e.name, sum(e.kb) FROM process_extra e"
                          " JOIN processes p ON p.id = e.process_id"
                          " WHERE e.sweep_id = ?1 AND p.identity_id = ?2"
                          " GROUP BY e.name ORDER BY e.name", &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, g->identity.id)) < 0)
                return r;
        while (g->n_extra < SMAPS_EXTRA_MAX && (r = store_step(s, st)) > 0) {
                const char *name = (const char *) sqlite3_column_text(st, 0);
                SmapsExtra *e = g->extra + g->n_extra;

                if (!name)
                        return -ENOMEM;
                if (strlen(name) >= SMAPS_NAME_MAX)
                        return -EBADMSG;
                strcpy(e->name, name);
                e->kb = store_column_uint64(st, 1);
                g->n_extra++;
        }
        return r < 0 ? r : 0;
}

const char *process_sort_to_string(ProcessSort sort) {
        static const char *const names[_PROCESS_SORT_MAX] = {
                [PROCESS_SORT_PSS] = "pss",
                [PROCESS_SORT_RSS] = "rss",
                [PROCESS_SORT_SHARED] = "shared",
                [PROCESS_SORT_PRIVATE] = "private",
                [PROCESS_SORT_NAME] = "name",
        };

        return sort >= 0 && sort < _PROCESS_SORT_MAX ? names[sort] : NULL;
}

ProcessSort process_sort_from_string(const char *s) {
        for (ProcessSort sort = 0; s && sort < _PROCESS_SORT_MAX; sort++)
                if (strcmp(process_sort_to_string(sort), s) == 0)
                        return sort;
        return _PROCESS_SORT_INVALID;
}

/* The ORDER BY of each ProcessSort over identity_samples (joined with identities as d). */
static const char *const process_sort_sql[_PROCESS_SORT_MAX] = {
        [PROCESS_SORT_PSS] = "coalesce(pss_kb, 0) DESC",
        [PROCESS_SORT_RSS] = "coalesce(rss_kb, 0) DESC",
        [PROCESS_SORT_SHARED] = "coalesce(shared_clean_kb, 0) + coalesce(shared_dirty_kb, 0) DESC",
        [PROCESS_SORT_PRIVATE] = ("coalesce(private_clean_kb, 0) + coalesce(private_dirty_kb, 0) "
                                  "DESC"),        /* one string: parenthesized for clang */
        [PROCESS_SORT_NAME] = "d.comm, d.key",
};

int store_latest_sweep_id(Store *s, int64_t *ret) {
        int r;

        r = store_query_int64(s, "SELECT id FROM sweeps ORDER BY id DESC LIMIT 1", ret);
        if (r == -ENODATA) {
                *ret = 0;
                return 0;
        }
        return r;
}

static int latest_process_groups(Store *s, ProcessSort sort, size_t limit, size_t offset,
                                 ProcessGroup **ret, size_t *ret_n, size_t *ret_total,
                                 int64_t *ret_sweep_id) {
        _cleanup_free_ char *sql = NULL;
        _cleanup_(group_array_done) GroupArray a = {};
        _cleanup_finalize_ sqlite3_stmt *st = NULL, *count = NULL;
        int64_t sweep_id, total;
        size_t want, i = 0;
        int r;

        r = store_latest_sweep_id(s, &sweep_id);
        if (r < 0)
                return r;
        if (sweep_id == 0) {
                *ret = NULL;
                *ret_n = *ret_total = 0;
                *ret_sweep_id = 0;
                return 0;
        }

        r = store_prepare(s, "SELECT count(*) FROM identity_samples"
                          " WHERE last_sweep_id >= ?1 AND sweep_id <= ?1", &count);
        if (r < 0)
                return r;
        r = store_bind_int64(s, count, 1, sweep_id);
        if (r < 0)
                return r;
        r = store_step(s, count);
        if (r < 0)
                return r;
        total = r > 0 ? sqlite3_column_int64(count, 0) : 0;

        want = (size_t) total > offset ? MIN(limit, (size_t) total - offset) : 0;
        if (want > 0) {
                a.items = calloc(want, sizeof(ProcessGroup));
                if (!a.items)
                        return -ENOMEM;
                a.n = want;

                if (asprintf(&sql, "SELECT " STORE_IDENTITY_AGGREGATE_COLUMNS
                             " FROM identity_samples JOIN identities d ON d.id = identity_id"
                             " WHERE last_sweep_id >= ?1 AND sweep_id <= ?1"
                             " ORDER BY %s, identity_id LIMIT ?2 OFFSET ?3",
                             process_sort_sql[sort]) < 0) {
                        sql = NULL;
                        return -ENOMEM;
                }
                r = store_prepare(s, sql, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, st, 1, sweep_id)) < 0 ||
                    (r = store_bind_uint64(s, st, 2, want)) < 0 ||
                    (r = store_bind_uint64(s, st, 3, offset)) < 0)
                        return r;
        }
        while (i < want && (r = store_step(s, st)) > 0) {
                ProcessGroup *g = a.items + i++;

                schema_read_identity_aggregate(st, 0, &g->sums);
                r = get_identity(s, g->sums.identity_id, &g->identity);
                if (r < 0)
                        return r;
                r = group_read_pids(s, sweep_id, g);
                if (r < 0)
                        return r;
                r = group_read_extra(s, sweep_id, g);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(a.items);
        *ret_n = i;
        *ret_total = (size_t) total;
        *ret_sweep_id = sweep_id;
        return 0;
}

int store_latest_process_groups(Store *s, ProcessSort sort, size_t limit, size_t offset,
                                ProcessGroup **ret, size_t *ret_n, size_t *ret_total,
                                int64_t *ret_sweep_id) {
        assert(s);
        assert(sort >= 0 && sort < _PROCESS_SORT_MAX);
        assert(ret);
        assert(ret_n);
        assert(ret_total);
        assert(ret_sweep_id);

        if (offset > INT64_MAX)
                return -ERANGE;

        return STORE_IN_SNAPSHOT(s, latest_process_groups(s, sort, limit, offset, ret, ret_n,
                                                          ret_total, ret_sweep_id));
}

/* ---- the latest meminfo ---- */

static int latest_meminfo(Store *s, Meminfo *ret, int64_t *ret_sweep_id) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        Meminfo m = {};
        int64_t sweep_id;
        int r;

        r = store_latest_sweep_id(s, &sweep_id);
        if (r < 0)
                return r;
        if (sweep_id == 0) {
                *ret = m;
                *ret_sweep_id = 0;
                return 0;
        }
        r = store_prepare(s, "SELECT m.name, m.value, m.is_kb FROM sweeps w"
                          " JOIN meminfo_samples m ON " STORE_RUN_COVERS_SQL("m", "w")
                          " WHERE w.id = ?1 ORDER BY m.name", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, sweep_id);
        if (r < 0)
                return r;
        while (m.n < MEMINFO_MAX && (r = store_step(s, st)) > 0) {
                const char *name = (const char *) sqlite3_column_text(st, 0);

                if (!name)
                        return -ENOMEM;
                if (strlen(name) >= MEMINFO_NAME_MAX)
                        return -EBADMSG;
                strcpy(m.fields[m.n].name, name);
                m.fields[m.n].value = store_column_uint64(st, 1);
                m.fields[m.n].is_kb = sqlite3_column_int(st, 2) != 0;
                m.n++;
        }
        if (r < 0)
                return r;
        *ret = m;
        *ret_sweep_id = sweep_id;
        return 0;
}

int store_latest_meminfo(Store *s, Meminfo *ret, int64_t *ret_sweep_id) {
        assert(s);
        assert(ret);
        assert(ret_sweep_id);

        return STORE_IN_SNAPSHOT(s, latest_meminfo(s, ret, ret_sweep_id));
}

/* ---- health ---- */

static int health(Store *s, StoreHealth *ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        StoreHealth h = {};
        int64_t n;
        int r;

        r = store_prepare(s,
                          "SELECT id, start_usec, duration_usec, sampled, skipped, epoch_id,"
                          " pagemap_truncated, pagemap_failed"
                          " FROM sweeps ORDER BY id DESC LIMIT 1", &st);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r > 0) {
                h.last_sweep_id = sqlite3_column_int64(st, 0);
                h.last_sweep_usec = store_column_uint64(st, 1);
                h.last_duration_usec = store_column_uint64(st, 2);
                h.last_sampled = (unsigned) MIN(store_column_uint64(st, 3), UINT32_MAX);
                h.last_skipped = (unsigned) MIN(store_column_uint64(st, 4), UINT32_MAX);
                h.current_epoch_id = sqlite3_column_int64(st, 5);
                h.last_pagemap_truncated = (unsigned) MIN(store_column_uint64(st, 6), UINT32_MAX);
                h.last_pagemap_failed = (unsigned) MIN(store_column_uint64(st, 7), UINT32_MAX);
        }

        r = store_query_int64(s, "SELECT count(*) FROM sweeps", &n);
        if (r < 0)
                return r;
        h.sweeps_stored = n < 0 ? 0 : (uint64_t) n;

        *ret = h;
        return 0;
}

int store_health(Store *s, StoreHealth *ret) {
        assert(s);
        assert(ret);

        return STORE_IN_SNAPSHOT(s, health(s, ret));
}
