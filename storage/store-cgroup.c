/* Memory cgroups and the per-size THP statistics: writing them with a sweep, and the queries
 * behind /cgroups, the report's cgroup and THP sections and the metrics. The tables are
 * described in schema.c (version 5). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "alloc-util.h"
#include "macro.h"
#include "store-internal.h"
#include "store.h"
#include "string-util.h"

/* ---- the memory.stat name dictionary ---- */

typedef struct CgroupStatName {
        char name[CGROUP_STAT_NAME_MAX];
        int64_t id;
} CgroupStatName;

void store_stat_names_clear(Store *s) {
        s->stat_names = mfree(s->stat_names);
        s->n_stat_names = s->allocated_stat_names = 0;
        s->stat_names_loaded = false;
}

static int stat_name_compare(const void *a, const void *b) {
        return strcmp(((const CgroupStatName *) a)->name, ((const CgroupStatName *) b)->name);
}

static int stat_names_add(Store *s, const char *name, int64_t id) {
        int r;

        if (strlen(name) >= CGROUP_STAT_NAME_MAX)
                return -EBADMSG;
        r = GREEDY_REALLOC(s->stat_names, s->allocated_stat_names, s->n_stat_names + 1);
        if (r < 0)
                return r;
        s->stat_names[s->n_stat_names] = (CgroupStatName) { .id = id };
        strcpy(s->stat_names[s->n_stat_names].name, name);
        s->n_stat_names++;
        return 0;
}

static int stat_names_load(Store *s) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        if (s->stat_names_loaded)
                return 0;
        r = store_prepare(s, "SELECT id, name FROM cgroup_stat_names", &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                const char *name = (const char *) sqlite3_column_text(st, 1);

                if (!name)
                        return -ENOMEM;
                r = stat_names_add(s, name, sqlite3_column_int64(st, 0));
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        if (s->n_stat_names > 0)
                qsort(s->stat_names, s->n_stat_names, sizeof(CgroupStatName), stat_name_compare);
        s->stat_names_loaded = true;
        return 0;
}

/* The id of a memory.stat name, added to the dictionary when new. */
static int stat_name_id(Store *s, const char *name, int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        CgroupStatName key = {}, *found;
        int64_t id;
        int r;

        r = stat_names_load(s);
        if (r < 0)
                return r;
        if (strlen(name) >= CGROUP_STAT_NAME_MAX)
                return -EINVAL;
        strcpy(key.name, name);
        found = s->n_stat_names == 0 ? NULL :
                bsearch(&key, s->stat_names, s->n_stat_names, sizeof(CgroupStatName),
                        stat_name_compare);
        if (found) {
                *ret = found->id;
                return 0;
        }

        r = store_statement(s, STORE_STMT_CGROUP_NAME_INSERT, &st);
        if (r < 0)
                return r;
        r = store_bind_text(s, st, 1, name);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        id = sqlite3_column_int64(st, 0);
        r = stat_names_add(s, name, id);
        if (r < 0)
                return r;
        qsort(s->stat_names, s->n_stat_names, sizeof(CgroupStatName), stat_name_compare);
        *ret = id;
        return 0;
}

/* ---- packing: (name id, value) pairs of unsigned LEB128 varints ---- */

static size_t varint_put(uint8_t *p, uint64_t v) {
        size_t n = 0;

        do {
                p[n++] = (uint8_t) ((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
                v >>= 7;
        } while (v > 0);
        return n;
}

/* Reads a varint from p[0..len): bytes used, or 0 when truncated or longer than 64 bits. */
static size_t varint_get(const uint8_t *p, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        for (size_t i = 0; i < len && i < 10; i++) {
                v |= (uint64_t) (p[i] & 0x7f) << (7 * i);
                if (!(p[i] & 0x80)) {
                        *ret = v;
                        return i + 1;
                }
        }
        return 0;
}

static int stat_pack(Store *s, const CgroupStat *stat, size_t *ret_len) {
        size_t len = 0;
        int r;

        r = GREEDY_REALLOC(s->stat_pack, s->allocated_stat_pack, stat->n * 20);
        if (r < 0)
                return r;
        for (size_t i = 0; i < stat->n; i++) {
                int64_t id;

                r = stat_name_id(s, stat->fields[i].name, &id);
                if (r < 0)
                        return r;
                len += varint_put(s->stat_pack + len, (uint64_t) id);
                len += varint_put(s->stat_pack + len, stat->fields[i].value);
        }
        *ret_len = len;
        return 0;
}

/* ---- writing ---- */

/* Whether text column i holds v (both NULL counts as equal). */
static bool column_is(sqlite3_stmt *st, int i, const char *v) {
        const char *c = (const char *) sqlite3_column_text(st, i);

        return c && v ? strcmp(c, v) == 0 : !c && !v;
}

/* The row of key, written only when new or changed (a read costs less than a write). */
static int cgroup_upsert(Store *s, const CgroupSample *c, const char *key, int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL, *find = NULL;
        int r;

        r = store_statement(s, STORE_STMT_CGROUP_FIND, &find);
        if (r < 0)
                return r;
        r = store_bind_text(s, find, 1, key);
        if (r < 0)
                return r;
        r = store_step(s, find);
        if (r < 0)
                return r;
        if (r > 0 && column_is(find, 1, c->path) && column_is(find, 2, c->unit) &&
            column_is(find, 3, c->container)) {
                *ret = sqlite3_column_int64(find, 0);
                return 0;
        }

        r = store_statement(s, STORE_STMT_CGROUP_UPSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, st, 1, key)) < 0 ||
            (r = store_bind_text(s, st, 2, c->path)) < 0 ||
            (r = store_bind_text(s, st, 3, c->unit)) < 0 ||
            (r = store_bind_text(s, st, 4, c->container)) < 0 ||
            (r = store_bind_uint64(s, st, 5, s->sweep_start_usec)) < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -EIO;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

static int cgroup_sample_insert(Store *s, const CgroupSample *c, int64_t cgroup_id,
                                const GroupForecast *forecast) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        size_t len = 0;
        int r;

        if (c->stat) {
                r = stat_pack(s, c->stat, &len);
                if (r < 0)
                        return r;
        }
        r = store_statement(s, STORE_STMT_CGROUP_SAMPLE_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, cgroup_id)) < 0 ||
            (r = store_bind_int64(s, st, 3, c->v1)) < 0 ||
            (r = c->has_usage ? store_bind_uint64(s, st, 4, c->usage_bytes / 1024) :
                                store_bind_null(s, st, 4)) < 0)
                return r;
        for (CgroupField f = 0; c->stat && f < _CGROUP_FIELD_MAX; f++) {
                uint64_t v;

                if (cgroup_stat_get_field(c->stat, c->v1, f, &v) <= 0)
                        continue;
                if ((r = store_bind_uint64(s, st, 5 + f, v / 1024)) < 0)
                        return r;
                if (forecast && f == CGROUP_ANON &&
                    (r = store_bind_uint64(s, st, 13, v / 1024 + forecast->anon_extra_kb)) < 0)
                        return r;
                if (forecast && f == CGROUP_FILE_MAPPED &&
                    (r = store_bind_uint64(s, st, 14,
                                           v / 1024 + forecast->file_mapped_extra_kb)) < 0)
                        return r;
        }
        if (c->stat) {
                int rc = sqlite3_bind_blob(st, 12, s->stat_pack, (int) len, SQLITE_STATIC);

                if (rc != SQLITE_OK)
                        return store_error(s, rc);
        }
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

int store_sweep_add_cgroup(Store *s, const CgroupSample *c, const char *key,
                           const GroupForecast *forecast) {
        int64_t cgroup_id = 0;
        int r;

        assert(s);
        assert(c);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        if (!key || !c->path)
                return -EINVAL;
        if (c->stat && c->stat->n > CGROUP_STAT_MAX)
                return -EINVAL;

        r = store_run(s, STORE_STMT_SAVEPOINT);
        if (r < 0)
                return store_sweep_failed(s, r);
        r = cgroup_upsert(s, c, key, &cgroup_id);
        if (r >= 0)
                r = cgroup_sample_insert(s, c, cgroup_id, forecast);
        if (r < 0)
                /* Names added in the savepoint are gone with it. */
                store_stat_names_clear(s);
        return store_savepoint_end(s, r);
}

static int thp_size_insert(Store *s, const ThpSize *z) {
        int r;

        {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                r = store_statement(s, STORE_STMT_THP_SIZE_INSERT, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
                    (r = store_bind_uint64(s, st, 2, z->size_kb)) < 0 ||
                    (r = store_bind_text(s, st, 3, z->enabled[0] ? z->enabled : NULL)) < 0)
                        return r;
                r = store_step(s, st);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < z->n && i < THP_STATS_MAX; i++) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                r = store_statement(s, STORE_STMT_THP_SAMPLE_INSERT, &st);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
                    (r = store_bind_uint64(s, st, 2, z->size_kb)) < 0 ||
                    (r = store_bind_text(s, st, 3, z->counters[i].name)) < 0 ||
                    (r = store_bind_uint64(s, st, 4, z->counters[i].value)) < 0)
                        return r;
                r = store_step(s, st);
                if (r < 0)
                        return r;
        }
        return 0;
}

bool store_sweep_lost(const Store *s) {
        return s->sweep_error < 0;
}

int store_sweep_add_thp(Store *s, const ThpStats *t) {
        int r;

        assert(s);
        assert(t);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        if (t->n > THP_SIZES_MAX)
                return -EINVAL;

        r = store_run(s, STORE_STMT_SAVEPOINT);
        if (r < 0)
                return store_sweep_failed(s, r);
        for (size_t i = 0; r >= 0 && i < t->n; i++)
                r = thp_size_insert(s, t->sizes + i);
        return store_savepoint_end(s, r);
}

/* ---- reading ---- */

void cgroup_info_done(CgroupInfo *c) {
        if (!c)
                return;
        free(c->key);
        free(c->path);
        free(c->unit);
        free(c->container);
        *c = (CgroupInfo) {};
}

/* Reads id, key, path, unit, container from columns col… */
static int cgroup_info_read(sqlite3_stmt *st, int col, CgroupInfo *ret) {
        int r;

        ret->id = store_column_int64(st, col);
        if ((r = store_column_strdup(st, col + 1, &ret->key)) < 0 ||
            (r = store_column_strdup(st, col + 2, &ret->path)) < 0 ||
            (r = store_column_strdup(st, col + 3, &ret->unit)) < 0 ||
            (r = store_column_strdup(st, col + 4, &ret->container)) < 0)
                return r;
        return 0;
}

int store_get_cgroup(Store *s, int64_t cgroup_id, CgroupInfo *ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        _cleanup_(cgroup_info_done) CgroupInfo c = {};
        int r;

        assert(s);
        assert(ret);

        r = store_prepare(s, "SELECT id, key, path, unit, container FROM cgroups WHERE id = ?1",
                          &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, cgroup_id);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0)
                return r < 0 ? r : -ENOENT;
        r = cgroup_info_read(st, 0, &c);
        if (r < 0)
                return r;
        *ret = c;
        c = (CgroupInfo) {};
        return 0;
}

void cgroup_row_array_free(CgroupRow *a, size_t n) {
        for (size_t i = 0; a && i < n; i++) {
                cgroup_info_done(&a[i].cgroup);
                free(a[i].stat);
        }
        free(a);
}

/* The dictionary's names by id, for unpacking: ids are small and dense (INTEGER PRIMARY KEY of
 * a table only ever appended to), so an array indexed by id. *ret_n is one past the largest. */
static int stat_names_by_id(Store *s, const char ***ret, size_t *ret_n) {
        const char **by_id;
        size_t n = 0;
        int r;

        r = stat_names_load(s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < s->n_stat_names; i++)
                n = MAX(n, (size_t) s->stat_names[i].id + 1);
        by_id = calloc(MAX(n, (size_t) 1), sizeof *by_id);
        if (!by_id)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_stat_names; i++)
                if (s->stat_names[i].id >= 0)
                        by_id[s->stat_names[i].id] = s->stat_names[i].name;
        *ret = by_id;
        *ret_n = n;
        return 0;
}

/* Unpacks a stat blob with the dictionary's names; unknown ids and a damaged blob are
 * -EBADMSG. */
static int stat_unpack(const char *const *names, size_t n_names, const uint8_t *p, size_t len,
                       CgroupRow *row) {
        row->stat = calloc(CGROUP_STAT_MAX, sizeof(CgroupStatField));
        if (!row->stat)
                return -ENOMEM;
        for (size_t off = 0; off < len;) {
                uint64_t id, value;
                size_t k;

                if (row->n_stat >= CGROUP_STAT_MAX ||
                    (k = varint_get(p + off, len - off, &id)) == 0)
                        return -EBADMSG;
                off += k;
                k = varint_get(p + off, len - off, &value);
                if (k == 0)
                        return -EBADMSG;
                off += k;
                if (id >= n_names || !names[id])
                        return -EBADMSG;
                strcpy(row->stat[row->n_stat].name, names[id]);
                row->stat[row->n_stat++].value = value;
        }
        return 0;
}

/* One column per CgroupField, in its order. */
#define CGROUP_FIELD_COLUMNS                                                                     \
        "s.anon_kb, s.file_kb, s.file_mapped_kb, s.shmem_kb, s.anon_thp_kb, s.file_thp_kb,"     \
        " s.shmem_thp_kb"
#define CGROUP_SAMPLE_COLUMNS "s.v1, s.usage_kb, " CGROUP_FIELD_COLUMNS ", s.stat"

static_assert(_CGROUP_FIELD_MAX == 7, "CGROUP_FIELD_COLUMNS names every CgroupField");

static int latest_cgroups(Store *s, CgroupRow **ret, size_t *ret_n, int64_t *ret_sweep_id) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        _cleanup_free_ const char **names = NULL;
        CgroupRow *rows = NULL;
        size_t n = 0, allocated = 0, n_names = 0;
        int64_t sweep_id;
        int r;

        r = store_latest_sweep_id(s, &sweep_id);
        if (r < 0)
                return r;
        r = stat_names_by_id(s, &names, &n_names);
        if (r < 0)
                return r;
        r = store_prepare(s,
                          "SELECT c.id, c.key, c.path, c.unit, c.container, " CGROUP_SAMPLE_COLUMNS
                          " FROM sweeps w JOIN cgroup_samples s ON " STORE_RUN_COVERS_SQL("s", "w")
                          " JOIN cgroups c ON c.id = s.cgroup_id"
                          " WHERE w.id = ?1 ORDER BY s.usage_kb DESC NULLS LAST, c.path",
                          &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, sweep_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                CgroupRow *row;

                r = GREEDY_REALLOC(rows, allocated, n + 1);
                if (r < 0)
                        break;
                row = rows + n++;
                *row = (CgroupRow) {
                        .v1 = sqlite3_column_int64(st, 5) != 0,
                        .has_usage = sqlite3_column_type(st, 6) != SQLITE_NULL,
                        .usage_kb = store_column_uint64(st, 6),
                };
                r = cgroup_info_read(st, 0, &row->cgroup);
                if (r < 0)
                        break;
                for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                        if (sqlite3_column_type(st, 7 + f) != SQLITE_NULL) {
                                row->kb[f] = store_column_uint64(st, 7 + f);
                                row->present |= 1u << f;
                        }
                r = stat_unpack(names, n_names, sqlite3_column_blob(st, 14),
                                (size_t) sqlite3_column_bytes(st, 14), row);
                if (r < 0)
                        break;
        }
        if (r < 0) {
                cgroup_row_array_free(rows, n);
                return r;
        }
        *ret = rows;
        *ret_n = n;
        *ret_sweep_id = sweep_id;
        return 0;
}

int store_latest_cgroups(Store *s, CgroupRow **ret, size_t *ret_n, int64_t *ret_sweep_id) {
        assert(s);
        assert(ret);
        assert(ret_n);
        assert(ret_sweep_id);

        return STORE_IN_SNAPSHOT(s, latest_cgroups(s, ret, ret_n, ret_sweep_id));
}

/* The value columns of each kind, one per CgroupField; then the filter on the sweeps. */
static const char *const cgroup_series_sql[] = {
        [CGROUP_SERIES_REPORTED] = CGROUP_FIELD_COLUMNS " FROM sweeps w JOIN cgroup_samples s"
                " ON " STORE_RUN_COVERS_SQL("s", "w") " WHERE 1",
        [CGROUP_SERIES_FORECAST_BASE] = CGROUP_FIELD_COLUMNS " FROM sweeps w"
                " JOIN cgroup_samples s ON " STORE_RUN_COVERS_SQL("s", "w")
                " WHERE s.forecast_anon_kb IS NOT NULL",
        [CGROUP_SERIES_FORECAST] = "s.forecast_anon_kb, NULL, s.forecast_file_mapped_kb, NULL,"
                " NULL, NULL, NULL FROM sweeps w JOIN cgroup_samples s"
                " ON " STORE_RUN_COVERS_SQL("s", "w") " WHERE s.forecast_anon_kb IS NOT NULL",
};

static int cgroup_series(Store *s, int64_t epoch_id, size_t window, CgroupSeriesKind kind,
                         CgroupSeries **ret_series, size_t *ret_n, SeriesPoint **ret_points) {
        _cleanup_free_ char *sql = NULL;
        _cleanup_free_ CgroupSeries *series = NULL;
        _cleanup_free_ SeriesPoint *points = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t n_series = 0, n_points = 0, allocated_series = 0, allocated_points = 0;
        int r;

        r = store_epoch_require(s, epoch_id, NULL);
        if (r < 0)
                return r;

        if (kind < 0 || kind >= (CgroupSeriesKind) ELEMENTSOF(cgroup_series_sql))
                return -EINVAL;
        sql = strjoin("SELECT s.cgroup_id, coalesce(s.usage_kb, coalesce(s.anon_kb, 0) +"
                      " coalesce(s.file_kb, 0)), ", cgroup_series_sql[kind],
                      " AND w.id IN (" STORE_EPOCH_WINDOW_SQL ")"
                      " ORDER BY s.cgroup_id, w.start_usec, w.id");
        if (!sql)
                return -ENOMEM;
        r = store_prepare_epoch_window(s, sql, epoch_id, window, &st);
        if (r < 0)
                return r;
        /* Rows come per cgroup, sweeps in order; each is spread over the cgroup's field series,
         * which are appended on the cgroup's first row and filled as its rows come. */
        _cleanup_free_ SeriesPoint *rows = NULL;
        size_t n_rows = 0, allocated_rows = 0;
        int64_t current = 0;
        for (;;) {
                int64_t id = 0;
                int row;

                row = store_step(s, st);
                if (row < 0)
                        return row;
                if (row > 0)
                        id = store_column_int64(st, 0);
                if (n_rows > 0 && (row == 0 || id != current)) {
                        /* Flush the cgroup: one series per field it had. */
                        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++) {
                                size_t start = n_points;

                                for (size_t i = 0; i < n_rows; i++) {
                                        SeriesPoint p = rows[i * _CGROUP_FIELD_MAX + f];

                                        if (p.value_kb < 0)
                                                continue;
                                        r = GREEDY_REALLOC(points, allocated_points, n_points + 1);
                                        if (r < 0)
                                                return r;
                                        points[n_points++] = p;
                                }
                                if (n_points == start)
                                        continue;
                                r = GREEDY_REALLOC(series, allocated_series, n_series + 1);
                                if (r < 0)
                                        return r;
                                series[n_series++] = (CgroupSeries) {
                                        .cgroup_id = current,
                                        .field = f,
                                        .n = n_points - start,
                                };
                        }
                        n_rows = 0;
                }
                if (row == 0)
                        break;
                current = id;
                r = GREEDY_REALLOC(rows, allocated_rows, (n_rows + 1) * _CGROUP_FIELD_MAX);
                if (r < 0)
                        return r;
                for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                        rows[n_rows * _CGROUP_FIELD_MAX + f] = (SeriesPoint) {
                                .value_kb = sqlite3_column_type(st, 2 + f) == SQLITE_NULL ? -1 :
                                            (double) store_column_uint64(st, 2 + f),
                                .base_kb = (double) store_column_uint64(st, 1),
                        };
                n_rows++;
        }
        SERIES_POINT_INTO(series, n_series, points);
        *ret_series = TAKE_PTR(series);
        *ret_n = n_series;
        *ret_points = TAKE_PTR(points);
        return 0;
}

int store_epoch_cgroup_series(Store *s, int64_t epoch_id, size_t window, CgroupSeriesKind kind,
                              CgroupSeries **ret_series, size_t *ret_n, SeriesPoint **ret_points) {
        assert(s);
        assert(ret_series);
        assert(ret_n);
        assert(ret_points);

        return STORE_IN_SNAPSHOT(s, cgroup_series(s, epoch_id, window, kind, ret_series, ret_n,
                                                  ret_points));
}

static int thp_series(Store *s, int64_t epoch_id, size_t window, ThpSeries **ret_series,
                      size_t *ret_n, ThpPoint **ret_points, ThpSize **ret_enabled,
                      size_t *ret_n_sizes) {
        _cleanup_free_ ThpSeries *series = NULL;
        _cleanup_free_ ThpPoint *points = NULL;
        _cleanup_free_ ThpSize *sizes = NULL;
        _cleanup_finalize_ sqlite3_stmt *st = NULL, *en = NULL;
        size_t n_series = 0, n_points = 0, allocated_series = 0, allocated_points = 0;
        size_t n_sizes = 0, allocated_sizes = 0;
        int r;

        r = store_epoch_require(s, epoch_id, NULL);
        if (r < 0)
                return r;

        r = store_prepare_epoch_window(s,
                                       "SELECT t.size_kb, t.name, t.value, w.start_usec"
                                       " FROM sweeps w JOIN thp_samples t"
                                       " ON " STORE_RUN_COVERS_SQL("t", "w")
                                       " WHERE w.id IN (" STORE_EPOCH_WINDOW_SQL ")"
                                       " ORDER BY t.size_kb, t.name, w.start_usec, w.id",
                                       epoch_id, window, &st);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                uint64_t size_kb = store_column_uint64(st, 0);
                const char *name = (const char *) sqlite3_column_text(st, 1);

                if (!name)
                        return -ENOMEM;
                if (strlen(name) >= THP_NAME_MAX)
                        return -EBADMSG;
                if (n_series == 0 || series[n_series - 1].size_kb != size_kb ||
                    strcmp(series[n_series - 1].name, name) != 0) {
                        r = GREEDY_REALLOC(series, allocated_series, n_series + 1);
                        if (r < 0)
                                return r;
                        series[n_series] = (ThpSeries) { .size_kb = size_kb };
                        strcpy(series[n_series].name, name);
                        n_series++;
                }
                r = GREEDY_REALLOC(points, allocated_points, n_points + 1);
                if (r < 0)
                        return r;
                points[n_points++] = (ThpPoint) {
                        .time_sec = (double) store_column_uint64(st, 3) / 1e6,
                        .value = (double) store_column_uint64(st, 2),
                };
                series[n_series - 1].n++;
        }
        if (r < 0)
                return r;

        /* Each size's setting in the epoch's latest sweep that recorded it. */
        r = store_prepare_epoch_window(s,
                                       "SELECT z.size_kb, z.enabled, max(w.start_usec)"
                                       " FROM thp_sizes z JOIN sweeps w ON w.id = z.sweep_id"
                                       " WHERE z.sweep_id IN (" STORE_EPOCH_WINDOW_SQL ")"
                                       " GROUP BY z.size_kb ORDER BY z.size_kb",
                                       epoch_id, window, &en);
        if (r < 0)
                return r;
        while ((r = store_step(s, en)) > 0) {
                const char *enabled = (const char *) sqlite3_column_text(en, 1);

                r = GREEDY_REALLOC(sizes, allocated_sizes, n_sizes + 1);
                if (r < 0)
                        return r;
                sizes[n_sizes] = (ThpSize) { .size_kb = store_column_uint64(en, 0) };
                if (enabled)
                        (void) snprintf(sizes[n_sizes].enabled, THP_ENABLED_MAX, "%s", enabled);
                n_sizes++;
        }
        if (r < 0)
                return r;

        SERIES_POINT_INTO(series, n_series, points);
        *ret_series = TAKE_PTR(series);
        *ret_n = n_series;
        *ret_points = TAKE_PTR(points);
        *ret_enabled = TAKE_PTR(sizes);
        *ret_n_sizes = n_sizes;
        return 0;
}

int store_epoch_thp_series(Store *s, int64_t epoch_id, size_t window, ThpSeries **ret_series,
                           size_t *ret_n, ThpPoint **ret_points, ThpSize **ret_enabled,
                           size_t *ret_n_sizes) {
        assert(s);
        assert(ret_series);
        assert(ret_n);
        assert(ret_points);
        assert(ret_enabled);
        assert(ret_n_sizes);

        return STORE_IN_SNAPSHOT(s, thp_series(s, epoch_id, window, ret_series, ret_n,
                                               ret_points, ret_enabled, ret_n_sizes));
}
