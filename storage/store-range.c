/* Series over time for the charts: one identity's figures, or meminfo fields, over a time
 * range, one point per sweep or aggregated into buckets of a step (means; exclusivity as the
 * ratio of sums), a bucket never mixing two epochs. Reads identity_samples and meminfo_samples
 * through the indexes of schema version 3. */
#include <assert.h>
#include <errno.h>
#include <math.h>
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

const char *range_figure_to_string(RangeFigure f) {
        static const char *const names[_RANGE_FIGURE_MAX] = {
                [RANGE_RSS] = "Rss",
                [RANGE_PSS] = "Pss",
                [RANGE_PSS_ANON] = "Pss_Anon",
                [RANGE_PSS_FILE] = "Pss_File",
                [RANGE_PSS_SHMEM] = "Pss_Shmem",
                [RANGE_SHARED] = "Shared",
                [RANGE_PRIVATE] = "Private",
                [RANGE_SWAP] = "Swap",
        };

        return f >= 0 && f < _RANGE_FIGURE_MAX ? names[f] : NULL;
}

/* The ids of the first and last sweep that started in the range: the series queries scan that
 * id range of their (…, sweep_id) indexes. Returns 1, or 0 when no sweep started in it. */
static int range_sweep_ids(Store *s, const TimeRange *range, int64_t *ret_first,
                           int64_t *ret_last) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, "SELECT min(id), max(id) FROM sweeps"
                          " WHERE start_usec BETWEEN ?1 AND ?2", &st);
        if (r < 0)
                return r;
        if ((r = store_bind_uint64(s, st, 1, MIN(range->from_usec, (uint64_t) INT64_MAX))) < 0 ||
            (r = store_bind_uint64(s, st, 2, MIN(range->to_usec, (uint64_t) INT64_MAX))) < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0 || sqlite3_column_type(st, 0) == SQLITE_NULL)
                return r < 0 ? r : 0;
        *ret_first = sqlite3_column_int64(st, 0);
        *ret_last = sqlite3_column_int64(st, 1);
        return 1;
}

/* Binds ?1 first sweep id, ?2 last, ?3 from, ?4 to, ?5 step (0: per sweep), ?6 the row limit
 * (max_points + 1, to tell "too many" from "exactly enough"). */
static int range_bind(Store *s, sqlite3_stmt *st, const TimeRange *range, int64_t first,
                      int64_t last) {
        int r;

        if ((r = store_bind_int64(s, st, 1, first)) < 0 ||
            (r = store_bind_int64(s, st, 2, last)) < 0 ||
            (r = store_bind_uint64(s, st, 3, MIN(range->from_usec, (uint64_t) INT64_MAX))) < 0 ||
            (r = store_bind_uint64(s, st, 4, MIN(range->to_usec, (uint64_t) INT64_MAX))) < 0 ||
            (r = store_bind_uint64(s, st, 5, MIN(range->step_usec, (uint64_t) INT64_MAX))) < 0 ||
            (r = store_bind_uint64(s, st, 6, MIN(range->max_points, (size_t) INT64_MAX - 1) + 1)) < 0)
                return r;
        return 0;
}

/* The bucket of a sweep w: its own id without a step, else its step since ?3. */
#define RANGE_BUCKET_SQL "CASE WHEN ?5 > 0 THEN (w.start_usec - ?3) / ?5 ELSE w.id END"

static double column_double_or_nan(sqlite3_stmt *st, int i) {
        return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

/* Per class: Σ exclusive / Σ present pages over the sweeps whose scan covers every process. */
#define RANGE_COMPLETE_SQL "i.pagemap_processes = i.processes"
#define RANGE_EXCLUSIVE_SQL(c)                                                                   \
        ", sum(CASE WHEN " RANGE_COMPLETE_SQL " THEN i." c "_exclusive_pages END) * 1.0 /"      \
        " sum(CASE WHEN " RANGE_COMPLETE_SQL " THEN i." c "_present_pages END)"
#define RANGE_TRUTH_SQL(c) ", avg(CASE WHEN i.truth_processes = i.processes THEN i." c " END)"

/* Columns: 0 epoch, 1 first start, 2 sweeps, 3 processes, then _RANGE_FIGURE_MAX figures,
 * _VMA_CLASS_MAX ratios, _RANGE_TRUTH_MAX truth figures. */
static const char identity_range_sql[] =
        "SELECT w.epoch_id, min(w.start_usec), count(*), avg(i.processes),"
        " avg(coalesce(i.rss_kb, 0)), avg(coalesce(i.pss_kb, 0)), avg(coalesce(i.pss_anon_kb, 0)),"
        " avg(coalesce(i.pss_file_kb, 0)), avg(coalesce(i.pss_shmem_kb, 0)),"
        " avg(coalesce(i.shared_clean_kb, 0) + coalesce(i.shared_dirty_kb, 0)),"
        " avg(coalesce(i.private_clean_kb, 0) + coalesce(i.private_dirty_kb, 0)),"
        " avg(coalesce(i.swap_kb, 0))"
        RANGE_EXCLUSIVE_SQL("anon") RANGE_EXCLUSIVE_SQL("file") RANGE_EXCLUSIVE_SQL("shared_file")
        RANGE_EXCLUSIVE_SQL("shmem") RANGE_EXCLUSIVE_SQL("hugetlb")
        RANGE_TRUTH_SQL("truth_pss_kb") RANGE_TRUTH_SQL("truth_uss_kb")
        RANGE_TRUTH_SQL("truth_shared_kb") RANGE_TRUTH_SQL("truth_private_kb")
        RANGE_TRUTH_SQL("forecast_pss_kb") RANGE_TRUTH_SQL("forecast_shared_kb")
        RANGE_TRUTH_SQL("forecast_private_kb")
        /* each run stands for every sweep of its epoch between its ends */
        " FROM identity_samples i JOIN sweeps w ON " STORE_RUN_COVERS_SQL("i", "w")
        " WHERE i.identity_id = ?7 AND i.last_sweep_id >= ?1 AND i.sweep_id <= ?2"
        " AND w.id BETWEEN ?1 AND ?2"
        " AND w.start_usec BETWEEN ?3 AND ?4"
        " GROUP BY w.epoch_id, " RANGE_BUCKET_SQL
        " ORDER BY min(w.start_usec), w.epoch_id LIMIT ?6";

static_assert(_VMA_CLASS_MAX == 5, "one RANGE_EXCLUSIVE_SQL per VmaClass, in its order");

/* Runs a series query (columns 0 epoch, 1 first start, 2 sweeps, then the point's own) of one
 * identity or cgroup (?7) over the range into an array of points of size bytes, each zeroed
 * and filled by read(). Returns 0, -E2BIG (more than max_points) or a storage error. */
static int range_run(Store *s, const char *sql, int64_t id, const TimeRange *range, size_t size,
                     void (*read)(sqlite3_stmt *st, void *point), void **ret, size_t *ret_n) {
        _cleanup_free_ void *points = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n = 0, allocated = 0;
        int64_t first, last;
        int r;

        r = range_sweep_ids(s, range, &first, &last);
        if (r <= 0) {
                *ret = NULL;
                *ret_n = 0;
                return r;
        }
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        if ((r = range_bind(s, st, range, first, last)) < 0 ||
            (r = store_bind_int64(s, st, 7, id)) < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                void *p;

                if (n >= range->max_points)
                        return -E2BIG;
                r = greedy_realloc(&points, &allocated, n + 1, size, 16);
                if (r < 0)
                        return r;
                p = (char *) points + n++ * size;
                memset(p, 0, size);
                read(st, p);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(points);
        *ret_n = n;
        return 0;
}

static void range_head_read(sqlite3_stmt *st, uint64_t *time_usec, int64_t *epoch_id,
                            uint32_t *sweeps) {
        *epoch_id = sqlite3_column_int64(st, 0);
        *time_usec = store_column_uint64(st, 1);
        *sweeps = (uint32_t) MIN(store_column_uint64(st, 2), UINT32_MAX);
}

static void identity_point_read(sqlite3_stmt *st, void *point) {
        IdentityRangePoint *p = point;
        int col = 4;

        range_head_read(st, &p->time_usec, &p->epoch_id, &p->sweeps);
        p->processes = sqlite3_column_double(st, 3);
        for (int f = 0; f < _RANGE_FIGURE_MAX; f++)
                p->kb[f] = sqlite3_column_double(st, col++);
        for (int c = 0; c < _VMA_CLASS_MAX; c++)
                p->exclusive_ratio[c] = column_double_or_nan(st, col++);
        for (int t = 0; t < _RANGE_TRUTH_MAX; t++)
                p->truth_kb[t] = column_double_or_nan(st, col++);
}

static int identity_range(Store *s, int64_t identity_id, const TimeRange *range,
                          IdentityRangePoint **ret, size_t *ret_n) {
        return range_run(s, identity_range_sql, identity_id, range, sizeof(IdentityRangePoint),
                         identity_point_read, (void **) ret, ret_n);
}

int store_identity_range(Store *s, int64_t identity_id, const TimeRange *range,
                         IdentityRangePoint **ret, size_t *ret_n) {
        assert(s);
        assert(range);
        assert(ret);
        assert(ret_n);

        return STORE_IN_SNAPSHOT(s, identity_range(s, identity_id, range, ret, ret_n));
}

/* Columns: 0 epoch, 1 first start, 2 sweeps, 3 usage, then one per CgroupField. */
static const char cgroup_range_sql[] =
        "SELECT w.epoch_id, min(w.start_usec), count(*), avg(c.usage_kb), avg(c.anon_kb),"
        " avg(c.file_kb), avg(c.file_mapped_kb), avg(c.shmem_kb), avg(c.anon_thp_kb),"
        " avg(c.file_thp_kb), avg(c.shmem_thp_kb)"
        " FROM cgroup_samples c JOIN sweeps w ON " STORE_RUN_COVERS_SQL("c", "w")
        " WHERE c.cgroup_id = ?7 AND c.last_sweep_id >= ?1 AND c.sweep_id <= ?2"
        " AND w.id BETWEEN ?1 AND ?2"
        " AND w.start_usec BETWEEN ?3 AND ?4"
        " GROUP BY w.epoch_id, " RANGE_BUCKET_SQL
        " ORDER BY min(w.start_usec), w.epoch_id LIMIT ?6";

static_assert(_CGROUP_FIELD_MAX == 7, "one avg() per CgroupField, in its order");

static void cgroup_point_read(sqlite3_stmt *st, void *point) {
        CgroupRangePoint *p = point;

        range_head_read(st, &p->time_usec, &p->epoch_id, &p->sweeps);
        p->usage_kb = column_double_or_nan(st, 3);
        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                p->kb[f] = column_double_or_nan(st, 4 + f);
}

static int cgroup_range(Store *s, int64_t cgroup_id, const TimeRange *range,
                        CgroupRangePoint **ret, size_t *ret_n) {
        return range_run(s, cgroup_range_sql, cgroup_id, range, sizeof(CgroupRangePoint),
                         cgroup_point_read, (void **) ret, ret_n);
}

int store_cgroup_range(Store *s, int64_t cgroup_id, const TimeRange *range,
                       CgroupRangePoint **ret, size_t *ret_n) {
        assert(s);
        assert(range);
        assert(ret);
        assert(ret_n);

        return STORE_IN_SNAPSHOT(s, cgroup_range(s, cgroup_id, range, ret, ret_n));
}

/* The meminfo rows of the range, one per (bucket, field), in time order: 0 epoch, 1 first
 * start, 2 sweeps, 3 name, 4 mean, 5 bucket. The fields asked for are bound from ?7 on (the IN
 * list is built for them). */
static int meminfo_range_sql(size_t n_fields, char **ret) {
        _cleanup_free_ char *in = NULL;
        size_t len = 0;
        char *sql;

        /* "?7, ?8, …": numbered, since an anonymous "?" would take the number after ?5. */
        in = malloc(n_fields * 8 + 1);
        if (!in)
                return -ENOMEM;
        in[0] = '\0';
        for (size_t i = 0; i < n_fields; i++)
                len += (size_t) sprintf(in + len, "%s?%zu", i == 0 ? "" : ", ", 7 + i);
        if (asprintf(&sql,
                     "SELECT w.epoch_id, min(w.start_usec), count(*), m.name, avg(m.value),"
                     " " RANGE_BUCKET_SQL " AS bucket"
                     " FROM meminfo_samples m JOIN sweeps w ON " STORE_RUN_COVERS_SQL("m", "w")
                     " WHERE m.last_sweep_id >= ?1 AND m.sweep_id <= ?2"
                     " AND w.id BETWEEN ?1 AND ?2 AND w.start_usec BETWEEN ?3 AND ?4"
                     " AND m.is_kb = 1 AND m.name IN (%s)"
                     " GROUP BY w.epoch_id, bucket, m.name"
                     " ORDER BY bucket, w.epoch_id, m.name", in) < 0)
                return -ENOMEM;
        *ret = sql;
        return 0;
}

static int meminfo_range(Store *s, const char *const *fields, size_t n_fields,
                         const TimeRange *range, MeminfoRangePoint **ret, double **ret_values,
                         size_t *ret_n) {
        _cleanup_free_ MeminfoRangePoint *points = NULL;
        _cleanup_free_ double *values = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *sql = NULL;
        size_t n = 0, allocated = 0, allocated_values = 0;
        int64_t first, last, bucket_epoch = 0, bucket = 0;
        int r;

        r = range_sweep_ids(s, range, &first, &last);
        if (r <= 0) {
                *ret = NULL;
                *ret_values = NULL;
                *ret_n = 0;
                return r;
        }
        r = meminfo_range_sql(n_fields, &sql);
        if (r < 0)
                return r;
        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = range_bind(s, st, range, first, last);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 6, -1);     /* rows are (bucket, field): no SQL limit */
        for (size_t i = 0; r >= 0 && i < n_fields; i++)
                r = store_bind_text(s, st, 7 + (int) i, fields[i]);
        if (r < 0)
                return r;

        while ((r = store_step(s, st)) > 0) {
                int64_t epoch = sqlite3_column_int64(st, 0), b = sqlite3_column_int64(st, 5);
                uint64_t time = store_column_uint64(st, 1);
                const char *name = (const char *) sqlite3_column_text(st, 3);
                MeminfoRangePoint *p;

                if (!name)
                        return -ENOMEM;
                if (n == 0 || epoch != bucket_epoch || b != bucket) {
                        if (n >= range->max_points)
                                return -E2BIG;
                        if ((r = GREEDY_REALLOC(points, allocated, n + 1)) < 0 ||
                            (r = GREEDY_REALLOC(values, allocated_values,
                                                (n + 1) * n_fields)) < 0)
                                return r;
                        points[n] = (MeminfoRangePoint) {
                                .time_usec = time,
                                .epoch_id = epoch,
                                .sweeps = (uint32_t) MIN(store_column_uint64(st, 2), UINT32_MAX),
                        };
                        for (size_t i = 0; i < n_fields; i++)
                                values[n * n_fields + i] = NAN;
                        n++;
                        bucket_epoch = epoch;
                        bucket = b;
                }
                p = &points[n - 1];
                p->time_usec = MIN(p->time_usec, time);
                p->sweeps = (uint32_t) MAX((uint64_t) p->sweeps,
                                           MIN(store_column_uint64(st, 2), UINT32_MAX));
                for (size_t i = 0; i < n_fields; i++)
                        if (strcmp(fields[i], name) == 0)
                                values[(n - 1) * n_fields + i] = sqlite3_column_double(st, 4);
        }
        if (r < 0)
                return r;

        /* Only now that the values array has stopped moving. */
        for (size_t i = 0; i < n; i++)
                points[i].kb = values + i * n_fields;
        *ret = TAKE_PTR(points);
        *ret_values = TAKE_PTR(values);
        *ret_n = n;
        return 0;
}

int store_meminfo_range(Store *s, const char *const *fields, size_t n_fields,
                        const TimeRange *range, MeminfoRangePoint **ret, double **ret_values,
                        size_t *ret_n) {
        assert(s);
        assert(fields || n_fields == 0);
        assert(range);
        assert(ret);
        assert(ret_values);
        assert(ret_n);

        if (n_fields == 0 || n_fields > MEMINFO_MAX)
                return -EINVAL;
        return STORE_IN_SNAPSHOT(s, meminfo_range(s, fields, n_fields, range, ret, ret_values,
                                                  ret_n));
}
