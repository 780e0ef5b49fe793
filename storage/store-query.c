/* The read queries behind the HTTP API and /healthz: epochs, the default comparison pair,
 * identities, per-epoch identity and meminfo series, the latest sweep's process groups and the
 * store's health. Each query that reads more than one statement runs in one read transaction,
 * so it sees one snapshot while the daemon keeps committing sweeps. */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "macro.h"
#include "schema.h"
#include "store-internal.h"
#include "store.h"

/* Starts a read transaction unless one (a sweep) is already open on this connection. */
static int query_begin(Store *s, bool *ret_began) {
        int r;

        if (!sqlite3_get_autocommit(s->db)) {
                *ret_began = false;
                return 0;
        }
        r = store_exec(s, "BEGIN");
        if (r < 0)
                return r;
        *ret_began = true;
        return 0;
}

static void query_end(Store *s, bool began) {
        /* Nothing was written: ending the snapshot cannot lose anything. */
        if (began && !sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Returns 1 when the epoch exists, with its page size in bytes (0 when unknown) in
 * *ret_page_size if not NULL; 0 when it does not. */
static int epoch_exists(Store *s, int64_t epoch_id, uint64_t *ret_page_size) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, "SELECT page_size FROM epochs WHERE id = ?1", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, epoch_id);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r > 0 && ret_page_size)
                *ret_page_size = store_column_uint64(st, 0);
        return r;
}

/* ---- epochs ---- */

void epoch_info_done(EpochInfo *e) {
        if (!e)
                return;
        free(e->boot_id);
        free(e->release);
        free(e->version);
        free(e->mapcount_mode);
        free(e->config_source);
        free(e->config_lines);
        for (size_t i = 0; i < e->n_settings; i++) {
                free(e->settings[i].key);
                free(e->settings[i].value);
        }
        free(e->settings);
        *e = (EpochInfo) {};
}

void epoch_info_array_free(EpochInfo *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                epoch_info_done(a + i);
        free(a);
}

typedef struct EpochArray {
        EpochInfo *items;
        size_t n;
} EpochArray;

static void epoch_array_done(EpochArray *a) {
        epoch_info_array_free(a->items, a->n);
}

static int epoch_read_settings(Store *s, EpochInfo *e) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t allocated = 0;
        int r;

        r = store_prepare(s, "SELECT key, value FROM epoch_settings WHERE epoch_id = ?1"
                          " ORDER BY key", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, e->id);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                KernelSetting *k;

                r = store_reserve((void **) &e->settings, &allocated, e->n_settings + 1,
                                  sizeof(KernelSetting));
                if (r < 0)
                        return r;
                /* Counted first so that epoch_info_done() frees a half-read setting. */
                k = e->settings + e->n_settings++;
                *k = (KernelSetting) {};
                if ((r = store_column_strdup(st, 0, &k->key)) < 0 ||
                    (r = store_column_strdup(st, 1, &k->value)) < 0)
                        return r;
        }
        return r;
}

static int list_epochs(Store *s, EpochInfo **ret, size_t *ret_n) {
        _cleanup_(epoch_array_done) EpochArray a = {};
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int64_t count;
        size_t i = 0;
        int r;

        r = store_query_int64(s, "SELECT count(*) FROM epochs", &count);
        if (r < 0)
                return r;
        if (count > 0) {
                a.items = calloc((size_t) count, sizeof(EpochInfo));
                if (!a.items)
                        return -ENOMEM;
                a.n = (size_t) count;
        }

        r = store_prepare(s,
                          "SELECT e.id, e.boot_id, e.release, e.version, e.page_size,"
                          " e.mapcount_mode, e.config_source, e.config_lines,"
                          " e.first_seen_usec, e.last_seen_usec, w.first_usec, w.last_usec,"
                          " w.n_sweeps"
                          " FROM epochs e LEFT JOIN (SELECT epoch_id,"
                          " min(start_usec) AS first_usec, max(start_usec) AS last_usec,"
                          " count(*) AS n_sweeps FROM sweeps GROUP BY epoch_id) w"
                          " ON w.epoch_id = e.id ORDER BY e.id", &st);
        if (r < 0)
                return r;
        while (i < a.n && (r = store_step(s, st)) > 0) {
                EpochInfo *e = a.items + i++;

                e->id = store_column_int64(st, 0);
                if ((r = store_column_strdup(st, 1, &e->boot_id)) < 0 ||
                    (r = store_column_strdup(st, 2, &e->release)) < 0 ||
                    (r = store_column_strdup(st, 3, &e->version)) < 0 ||
                    (r = store_column_strdup(st, 5, &e->mapcount_mode)) < 0 ||
                    (r = store_column_strdup(st, 6, &e->config_source)) < 0 ||
                    (r = store_column_strdup(st, 7, &e->config_lines)) < 0)
                        return r;
                e->page_size = store_column_uint64(st, 4);
                e->first_seen_usec = store_column_uint64(st, 8);
                e->last_seen_usec = store_column_uint64(st, 9);
                e->first_sweep_usec = store_column_uint64(st, 10);
                e->last_sweep_usec = store_column_uint64(st, 11);
                e->sweeps = store_column_uint64(st, 12);
                r = epoch_read_settings(s, e);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(a.items);
        *ret_n = i;
        return 0;
}

int store_list_epochs(Store *s, EpochInfo **ret, size_t *ret_n) {
        bool began;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);

        r = query_begin(s, &began);
        if (r < 0)
                return r;
        r = list_epochs(s, ret, ret_n);
        query_end(s, began);
        return r;
}

static int default_epochs(Store *s, int64_t *ret_baseline, int64_t *ret_candidate) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int64_t candidate = 0, baseline = 0;
        int r;

        /* The latest sweep is the last one written (highest id). */
        r = store_query_int64(s, "SELECT epoch_id FROM sweeps ORDER BY id DESC LIMIT 1",
                              &candidate);
        if (r == -ENODATA) {
                *ret_baseline = *ret_candidate = 0;
                return 0;
        }
        if (r < 0)
                return r;

        r = store_prepare(s,
                          "SELECT w.epoch_id FROM sweeps w"
                          " JOIN epochs e ON e.id = w.epoch_id"
                          " JOIN epochs c ON c.id = ?1"
                          " WHERE w.epoch_id != ?1"
                          " AND (e.release != c.release OR e.mapcount_mode != c.mapcount_mode)"
                          " GROUP BY w.epoch_id"
                          " ORDER BY max(w.start_usec) DESC, w.epoch_id DESC LIMIT 1", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, candidate);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r > 0)
                baseline = sqlite3_column_int64(st, 0);

        *ret_baseline = baseline;
        *ret_candidate = candidate;
        return 0;
}

int store_default_epochs(Store *s, int64_t *ret_baseline, int64_t *ret_candidate) {
        int64_t baseline = 0, candidate = 0;
        bool began;
        int r;

        assert(s);
        assert(ret_baseline);
        assert(ret_candidate);

        r = query_begin(s, &began);
        if (r < 0)
                return r;
        r = default_epochs(s, &baseline, &candidate);
        query_end(s, began);
        if (r < 0)
                return r;
        *ret_baseline = baseline;
        *ret_candidate = candidate;
        return 0;
}

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

        *ret = i;
        i = (IdentityInfo) {};
        return 0;
}

int store_get_identity(Store *s, int64_t identity_id, IdentityInfo *ret) {
        assert(s);
        assert(ret);

        return get_identity(s, identity_id, ret);
}

/* ---- series ---- */

static_assert(_COMPARE_METRIC_MAX == 6, "one column per CompareMetric below");
/* IdentityPoint's per-class arrays are filled from the pagemap columns, in VmaClass order. */
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

#define STORE_IDENTITY_COLUMN_SQL_(c) ", i." #c
#define STORE_IDENTITY_TRUTH_SQL_(f, c) ", i." #c

/* Column numbers of the series query below. */
enum {
        SERIES_COL_PAGEMAP_N = 9,
        SERIES_COL_PAGEMAP,
        SERIES_COL_TRUTH_N = SERIES_COL_PAGEMAP + STORE_PAGEMAP_N_COLUMNS,
        SERIES_COL_TRUTH,
};

#define STORE_TRUTH_READ_(f, c) t->f = store_column_uint64(st, col++);

/* Reads the columns of STORE_TRUTH_COLUMNS, in its order, from column col on. */
static void process_truth_read(sqlite3_stmt *st, int col, ProcessTruth *t) {
        STORE_TRUTH_COLUMNS(STORE_TRUTH_READ_)
}

/* The truth and forecast of one identity_samples row, from column col on, into p. */
static void identity_point_read_truth(sqlite3_stmt *st, int col, uint64_t page_size,
                                      IdentityPoint *p) {
        ProcessTruth t;

        process_truth_read(st, col, &t);

        p->truth_kb[COMPARE_METRIC_SHARED] = t.shared_kb;
        p->truth_kb[COMPARE_METRIC_PRIVATE] = t.private_kb;
        p->truth_kb[COMPARE_METRIC_PSS] = t.pss_kb;
        p->truth_uss_kb = t.uss_kb;
        p->forecast_kb[COMPARE_METRIC_SHARED] = t.forecast_shared_kb;
        p->forecast_kb[COMPARE_METRIC_PRIVATE] = t.forecast_private_kb;
        p->forecast_kb[COMPARE_METRIC_PSS] = t.forecast_pss_kb;
        p->forecast_kb[COMPARE_METRIC_PSS_ANON] = t.forecast_pss_anon_kb;
        p->forecast_kb[COMPARE_METRIC_PSS_FILE] = t.forecast_pss_file_kb;
        p->forecast_kb[COMPARE_METRIC_PSS_SHMEM] = t.forecast_pss_shmem_kb;
        p->forecast_exclusive_kb = pages_to_kb(t.forecast_exclusive_pages, page_size);
}

/* Whether every member of a group of n processes has a count, from the count column. */
static bool column_covers(sqlite3_stmt *st, int col, uint64_t n) {
        return sqlite3_column_type(st, col) != SQLITE_NULL && n > 0 &&
               store_column_uint64(st, col) == n;
}

static int identity_series(Store *s, int64_t epoch_id, IdentitySeries **ret_series,
                           size_t *ret_n, IdentityPoint **ret_points) {
        _cleanup_free_ IdentitySeries *series = NULL;
        _cleanup_free_ IdentityPoint *points = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n_series = 0, n_points = 0, allocated_series = 0, allocated_points = 0, offset;
        uint64_t page_size = 0;
        int r;

        r = epoch_exists(s, epoch_id, &page_size);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        if (page_size == 0)
                page_size = STORE_PAGE_SIZE_DEFAULT;

        /* Columns 3-8 are in CompareMetric order: Shared, Private, Pss, Pss_Anon, Pss_File,
         * Pss_Shmem. Absent fields count as 0. Then pagemap_processes and the pagemap sums,
         * truth_processes and the truth sums (SERIES_COL_*). */
        r = store_prepare(s,
                          "SELECT i.identity_id, i.processes, coalesce(i.rss_kb, 0),"
                          " coalesce(i.shared_clean_kb, 0) + coalesce(i.shared_dirty_kb, 0),"
                          " coalesce(i.private_clean_kb, 0) + coalesce(i.private_dirty_kb, 0),"
                          " coalesce(i.pss_kb, 0), coalesce(i.pss_anon_kb, 0),"
                          " coalesce(i.pss_file_kb, 0), coalesce(i.pss_shmem_kb, 0),"
                          " i.pagemap_processes"
                          STORE_PAGEMAP_COLUMNS(STORE_IDENTITY_COLUMN_SQL_)
                          ", i.truth_processes"
                          STORE_TRUTH_COLUMNS(STORE_IDENTITY_TRUTH_SQL_)
                          " FROM identity_samples i JOIN sweeps w ON w.id = i.sweep_id"
                          " WHERE w.epoch_id = ?1"
                          " ORDER BY i.identity_id, w.start_usec, w.id", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, epoch_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                int64_t identity_id = sqlite3_column_int64(st, 0);
                IdentityPoint *p;

                if (n_series == 0 || series[n_series - 1].identity_id != identity_id) {
                        r = store_reserve((void **) &series, &allocated_series, n_series + 1,
                                          sizeof(IdentitySeries));
                        if (r < 0)
                                return r;
                        series[n_series++] = (IdentitySeries) { .identity_id = identity_id };
                }
                r = store_reserve((void **) &points, &allocated_points, n_points + 1,
                                  sizeof(IdentityPoint));
                if (r < 0)
                        return r;
                p = points + n_points++;
                *p = (IdentityPoint) {
                        .processes = (uint32_t) MIN(store_column_uint64(st, 1), UINT32_MAX),
                        .rss_kb = store_column_uint64(st, 2),
                };
                for (int m = 0; m < _COMPARE_METRIC_MAX; m++)
                        p->metric_kb[m] = store_column_uint64(st, 3 + m);
                p->has_pagemap = column_covers(st, SERIES_COL_PAGEMAP_N, p->processes);
                for (int c = 0; p->has_pagemap && c < _EXCLUSIVITY_CLASS_MAX; c++) {
                        int col = SERIES_COL_PAGEMAP + STORE_PAGEMAP_CLASS_FIELDS * c;

                        /* present, swapped, exclusive: swapped pages are not compared. */
                        p->present_kb[c] = pages_to_kb(store_column_uint64(st, col), page_size);
                        p->exclusive_kb[c] = pages_to_kb(store_column_uint64(st, col + 2),
                                                         page_size);
                }
                p->has_truth = column_covers(st, SERIES_COL_TRUTH_N, p->processes);
                if (p->has_truth)
                        identity_point_read_truth(st, SERIES_COL_TRUTH, page_size, p);
                series[n_series - 1].n++;
        }
        if (r < 0)
                return r;

        /* Only now that the points array has stopped moving. */
        offset = 0;
        for (size_t i = 0; i < n_series; i++) {
                series[i].points = points + offset;
                offset += series[i].n;
        }

        *ret_series = TAKE_PTR(series);
        *ret_n = n_series;
        *ret_points = TAKE_PTR(points);
        return 0;
}

int store_epoch_identity_series(Store *s, int64_t epoch_id, IdentitySeries **ret_series,
                                size_t *ret_n, IdentityPoint **ret_points) {
        bool began;
        int r;

        assert(s);
        assert(ret_series);
        assert(ret_n);
        assert(ret_points);

        r = query_begin(s, &began);
        if (r < 0)
                return r;
        r = identity_series(s, epoch_id, ret_series, ret_n, ret_points);
        query_end(s, began);
        return r;
}

static int system_series(Store *s, int64_t epoch_id, SystemSeries **ret_series, size_t *ret_n,
                         SeriesPoint **ret_points) {
        _cleanup_free_ SystemSeries *series = NULL;
        _cleanup_free_ SeriesPoint *points = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n_series = 0, n_points = 0, allocated_series = 0, allocated_points = 0, offset;
        int r;

        r = epoch_exists(s, epoch_id, NULL);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;

        r = store_prepare(s,
                          "SELECT m.name, m.value, coalesce(t.value, 0)"
                          " FROM meminfo_samples m JOIN sweeps w ON w.id = m.sweep_id"
                          " LEFT JOIN meminfo_samples t"
                          " ON t.sweep_id = m.sweep_id AND t.name = 'MemTotal'"
                          " WHERE w.epoch_id = ?1 AND m.is_kb = 1"
                          " ORDER BY m.name, w.start_usec, w.id", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, epoch_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                const char *name = (const char *) sqlite3_column_text(st, 0);

                if (!name)
                        return -ENOMEM;
                if (strlen(name) >= MEMINFO_NAME_MAX)
                        return -EBADMSG;
                if (n_series == 0 || strcmp(series[n_series - 1].name, name) != 0) {
                        r = store_reserve((void **) &series, &allocated_series, n_series + 1,
                                          sizeof(SystemSeries));
                        if (r < 0)
                                return r;
                        series[n_series] = (SystemSeries) {};
                        strcpy(series[n_series].name, name);
                        n_series++;
                }
                r = store_reserve((void **) &points, &allocated_points, n_points + 1,
                                  sizeof(SeriesPoint));
                if (r < 0)
                        return r;
                points[n_points++] = (SeriesPoint) {
                        .value_kb = (double) store_column_uint64(st, 1),
                        .base_kb = (double) store_column_uint64(st, 2),
                };
                series[n_series - 1].n++;
        }
        if (r < 0)
                return r;

        offset = 0;
        for (size_t i = 0; i < n_series; i++) {
                series[i].points = points + offset;
                offset += series[i].n;
        }

        *ret_series = TAKE_PTR(series);
        *ret_n = n_series;
        *ret_points = TAKE_PTR(points);
        return 0;
}

int store_epoch_system_series(Store *s, int64_t epoch_id, SystemSeries **ret_series,
                              size_t *ret_n, SeriesPoint **ret_points) {
        bool began;
        int r;

        assert(s);
        assert(ret_series);
        assert(ret_n);
        assert(ret_points);

        r = query_begin(s, &began);
        if (r < 0)
                return r;
        r = system_series(s, epoch_id, ret_series, ret_n, ret_points);
        query_end(s, began);
        return r;
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

static int group_read_pids(Store *s, int64_t sweep_id, ProcessGroup *g, size_t n) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (n == 0)
                return 0;
        g->pids = calloc(n, sizeof(int32_t));
        if (!g->pids)
                return -ENOMEM;

        r = store_prepare(s,
                          "SELECT p.pid FROM process_samples ps"
                          " JOIN processes p ON p.id = ps.process_id"
                          " WHERE ps.sweep_id = ?1 AND p.identity_id = ?2 ORDER BY p.pid", &st);
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

        /* At most SMAPS_EXTRA_MAX names, the first by name, if the members disagree on them. */
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

/* Column numbers of STORE_GROUP_SELECT_SQL. */
enum {
        GROUP_COL_PAGEMAP_N = 3 + _SMAPS_FIELD_MAX,
        GROUP_COL_PAGEMAP,
        GROUP_COL_TRUTH_N = GROUP_COL_PAGEMAP + STORE_PAGEMAP_N_COLUMNS,
        GROUP_COL_TRUTH,
};

static int latest_process_groups(Store *s, size_t limit, size_t offset, ProcessGroup **ret,
                                 size_t *ret_n, size_t *ret_total, int64_t *ret_sweep_id) {
        _cleanup_(group_array_done) GroupArray a = {};
        _cleanup_finalize_ sqlite3_stmt *st = NULL, *count = NULL;
        int64_t sweep_id, total;
        size_t want, i = 0;
        int r;

        r = store_query_int64(s, "SELECT id FROM sweeps ORDER BY id DESC LIMIT 1", &sweep_id);
        if (r == -ENODATA) {
                *ret = NULL;
                *ret_n = *ret_total = 0;
                *ret_sweep_id = 0;
                return 0;
        }
        if (r < 0)
                return r;

        r = store_prepare(s,
                          "SELECT count(DISTINCT p.identity_id) FROM process_samples ps"
                          " JOIN processes p ON p.id = ps.process_id WHERE ps.sweep_id = ?1",
                          &count);
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

                r = store_prepare(s,
                                  "SELECT " STORE_GROUP_SELECT_SQL
                                  " FROM (" STORE_SWEEP_PROCESSES_SQL ") AS ps"
                                  " GROUP BY ps.identity_id"
                                  " ORDER BY coalesce(sum(ps.pss_kb), 0) DESC, ps.identity_id"
                                  " LIMIT ?2 OFFSET ?3", &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, st, 1, sweep_id)) < 0 ||
                    (r = store_bind_uint64(s, st, 2, want)) < 0 ||
                    (r = store_bind_uint64(s, st, 3, offset)) < 0)
                        return r;
        }
        while (i < want && (r = store_step(s, st)) > 0) {
                ProcessGroup *g = a.items + i++;
                int64_t identity_id = sqlite3_column_int64(st, 0);
                uint64_t members = store_column_uint64(st, 1);

                g->present = (uint32_t) store_column_uint64(st, 2);
                for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                        g->kb[f] = store_column_uint64(st, 3 + f);
                g->has_pagemap = column_covers(st, GROUP_COL_PAGEMAP_N, members);
                for (int c = 0; g->has_pagemap && c < _VMA_CLASS_MAX; c++) {
                        int col = GROUP_COL_PAGEMAP + STORE_PAGEMAP_CLASS_FIELDS * c;

                        g->pagemap[c] = (PagemapClassCounts) {
                                .present_pages = store_column_uint64(st, col),
                                .swapped_pages = store_column_uint64(st, col + 1),
                                .exclusive_pages = store_column_uint64(st, col + 2),
                        };
                }
                g->has_truth = column_covers(st, GROUP_COL_TRUTH_N, members);
                if (g->has_truth)
                        process_truth_read(st, GROUP_COL_TRUTH, &g->truth);
                r = get_identity(s, identity_id, &g->identity);
                if (r < 0)
                        return r;
                r = group_read_pids(s, sweep_id, g, (size_t) store_column_uint64(st, 1));
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

int store_latest_process_groups(Store *s, size_t limit, size_t offset, ProcessGroup **ret,
                                size_t *ret_n, size_t *ret_total, int64_t *ret_sweep_id) {
        bool began;
        int r;

        assert(s);
        assert(ret);
        assert(ret_n);
        assert(ret_total);
        assert(ret_sweep_id);

        if (offset > INT64_MAX)
                return -ERANGE;

        r = query_begin(s, &began);
        if (r < 0)
                return r;
        r = latest_process_groups(s, limit, offset, ret, ret_n, ret_total, ret_sweep_id);
        query_end(s, began);
        return r;
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
        bool began;
        int r;

        assert(s);
        assert(ret);

        r = query_begin(s, &began);
        if (r < 0)
                return r;
        r = health(s, ret);
        query_end(s, began);
        return r;
}
