/* Internal to storage/: the Store object shared by the storage files, the one conversion of
 * SQLite result codes to -errno (store_error()), statement and transaction helpers
 * (sqlite-util.c) and the prepared statements of the sweep path (store.c). Nothing here is part
 * of the API; store.h is the contract. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include <sys/stat.h>

#include <sqlite3.h>

#include "aggregate.h"
#include "process-cache.h"
#include "store.h"

/* Statements prepared once per connection (when a read-write Store opens) and reused: the
 * sweep path and the transaction control around it. Their text is in store.c. */
typedef enum StoreStatement {
        STORE_STMT_BEGIN,
        STORE_STMT_COMMIT,
        STORE_STMT_ROLLBACK,
        STORE_STMT_SAVEPOINT,
        STORE_STMT_RELEASE,
        STORE_STMT_ROLLBACK_TO,
        STORE_STMT_EPOCH_FIND,
        STORE_STMT_EPOCH_INSERT,
        STORE_STMT_EPOCH_LOOKUP,
        STORE_STMT_EPOCH_TOUCH,
        STORE_STMT_SETTING_INSERT,
        STORE_STMT_SWEEP_INSERT,
        STORE_STMT_SWEEP_FINISH,
        STORE_STMT_IDENTITY_FIND,
        STORE_STMT_IDENTITY_UPSERT,
        STORE_STMT_PROCESS_LOAD,
        STORE_STMT_PROCESS_UPSERT,
        STORE_STMT_SAMPLE_INSERT,
        STORE_STMT_SAMPLE_PAGEMAP_INSERT,       /* the same with the pagemap columns */
        STORE_STMT_SAMPLE_LAST,
        STORE_STMT_SAMPLE_EXTEND,
        STORE_STMT_SAMPLE_EXTEND_REUSED,
        STORE_STMT_SAMPLE_SPLIT,
        STORE_STMT_SAMPLE_TRIM,
        STORE_STMT_TRUTH_INSERT,
        STORE_STMT_EXTRA_INSERT,
        STORE_STMT_MEMINFO_INSERT,
        STORE_STMT_IDENTITY_SAMPLE_INSERT,
        STORE_STMT_IDENTITY_SAMPLE_LAST,
        STORE_STMT_IDENTITY_SAMPLE_EXTEND,
        STORE_STMT_IDENTITY_SAMPLE_EXTEND_MEMBERS,
        STORE_STMT_SWEEP_PREVIOUS,
        STORE_STMT_CGROUP_FIND,
        STORE_STMT_CGROUP_UPSERT,
        STORE_STMT_CGROUP_NAME_INSERT,
        STORE_STMT_CGROUP_SAMPLE_INSERT,
        STORE_STMT_THP_SIZE_INSERT,
        STORE_STMT_THP_SAMPLE_INSERT,
        STORE_STMT_MEMINFO_EXTEND,
        STORE_STMT_MEMINFO_MERGED_DELETE,
        STORE_STMT_CGROUP_EXTEND,
        STORE_STMT_CGROUP_MERGED_DELETE,
        STORE_STMT_THP_EXTEND,
        STORE_STMT_THP_MERGED_DELETE,
        _STORE_STMT_MAX,
} StoreStatement;

struct Store {
        sqlite3 *db;
        char *path;
        struct stat file;               /* read-write: the file at path when opened
                                         * (st_ino 0: unknown), see store_check_file() */
        StoreMode mode;
        bool ours;              /* store_check_identity() accepted the file: ours to checkpoint */
        int opened_version;             /* user_version found at open */
        char *last_error;               /* sqlite3_errmsg() of the last failure, or NULL */
        sqlite3_stmt *statements[_STORE_STMT_MAX];

        /* The open sweep (store-sweep.c): sweep_id > 0 between store_sweep_begin() and
         * commit/abort. */
        int64_t sweep_id;
        uint64_t sweep_start_usec;
        int64_t sweep_epoch_id;
        int64_t sweep_previous_id;      /* the epoch's sweep before it, whose runs it may
                                         * extend (store-runs.c); 0: none */
        int sweep_error;                /* < 0 once SQLite dropped the transaction: abort only */
        SweepRow *rows;                 /* the open sweep's processes; reused across sweeps */
        size_t n_rows, allocated_rows;
        PagemapClassCounts (*pagemaps)[_VMA_CLASS_MAX]; /* of rows with a complete scan */
        size_t n_pagemaps, allocated_pagemaps;
        ProcessTruth *truths;           /* of rows with a reconstruction; reused */
        size_t n_truths, allocated_truths;
        /* (pid, start time) → row, built by the sweep's first store_sweep_add_truth() and
         * extended as rows are added: open addressing, slot = row index + 1, 0 = empty. */
        uint32_t *row_slots;
        size_t n_row_slots;             /* 0 or a power of two, at least twice the rows */
        size_t n_rows_indexed;          /* rows[0..n_rows_indexed) are in row_slots */
        uint64_t *scratch;              /* medians; reused */
        size_t allocated_scratch;
        ProcessCache cache_prev;        /* processes of the last committed sweep */
        ProcessCache cache_next;        /* processes of the open sweep */
        char *pack;                     /* scratch for process_pack() */
        size_t pack_size;

        /* store-cgroup.c: cgroup_stat_names by name, loaded on first use and dropped when a
         * sweep is rolled back (its new names with it); the packed stat of one sample. */
        struct CgroupStatName *stat_names;
        size_t n_stat_names, allocated_stat_names;
        bool stat_names_loaded;
        uint8_t *stat_pack;
        size_t allocated_stat_pack;

        /* store-history.c: per step, where the next pass starts looking (runs that began
         * before were downsampled already); a step not listed starts from 0, as after an
         * open. */
        struct {
                uint64_t step_usec, from_usec;
        } history_from[4];
};

/* ---- store-runs.c: one sample row for consecutive sweeps whose figures did not change ---- */

/* Looks up the open sweep's previous sweep of its epoch into sweep_previous_id. */
int store_runs_begin(Store *s);
/* Extends the process's run ending at the previous sweep when p's figures equal it: returns 1
 * with *ret_run, the run's first sweep; 0 when p needs a row of its own. */
int store_sample_extend(Store *s, const ProcSample *p, int64_t process_id, int64_t *ret_run);
/* The open sweep's sample of row was stored by extending an earlier run, and now gets a
 * reconstruction: ends that run at the previous sweep and gives the sample a row of its own. */
int store_sample_split(Store *s, SweepRow *row);
/* Writes the open sweep's aggregate of one identity: extends the identity's run ending at the
 * previous sweep when the figures are the same (identity_aggregate_same()), else a new row.
 * members_extended: every member's sample extended its own run, so the aggregate equals the
 * previous sweep's if that had as many members (the lookup is spared). */
int store_identity_sample_write(Store *s, const IdentityAggregate *a, bool members_extended);
/* At commit: the open sweep's meminfo fields, cgroups and THP counters that kept their
 * values extend their runs, and their own rows go. */
int store_runs_merge_host(Store *s);

/* ---- sqlite-util.c ---- */

/* The one place an SQLite result code becomes -errno: keeps sqlite3_errmsg() for
 * store_last_error() and returns -EBUSY, -ENOSPC, -EROFS, -EACCES, -ENOENT, -EBADMSG, -ENOMEM
 * or -EIO. rc must be an error code (not SQLITE_OK, SQLITE_ROW or SQLITE_DONE). */
int store_error(Store *s, int rc);

/* Prepares a one-off statement (finalize it, _cleanup_finalize_). */
int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret);
/* Returns 1 for a row, 0 when done, or -errno. */
int store_step(Store *s, sqlite3_stmt *st);
/* Runs SQL text without parameters (may hold several statements). */
int store_exec(Store *s, const char *sql);
/* Runs a query returning one integer; -ENODATA when it returns no row. */
int store_query_int64(Store *s, const char *sql, int64_t *ret);

/* Binds values[i] to parameter i + 1, for as many parameters as st has (at most n), so that
 * statements of one family can use a prefix of the same values. */
int store_bind_int64_list(Store *s, sqlite3_stmt *st, const int64_t *values, size_t n);
/* Binds as store_bind_int64_list() and steps a statement that returns no rows; *ret_changes
 * (when not NULL) gets the rows it changed. store_exec_bound() prepares sql first. */
int store_step_bound(Store *s, sqlite3_stmt *st, const int64_t *values, size_t n,
                     int *ret_changes);
int store_exec_bound(Store *s, const char *sql, const int64_t *values, size_t n,
                     int *ret_changes);

/* Binders: 0 or -errno. A NULL string binds SQL NULL; a value above INT64_MAX is -ERANGE. */
int store_bind_int64(Store *s, sqlite3_stmt *st, int i, int64_t v);
int store_bind_uint64(Store *s, sqlite3_stmt *st, int i, uint64_t v);
int store_bind_text(Store *s, sqlite3_stmt *st, int i, const char *v);
int store_bind_null(Store *s, sqlite3_stmt *st, int i);

/* Column readers: SQL NULL (and, for the unsigned one, a negative value) reads as 0. */
static inline int64_t store_column_int64(sqlite3_stmt *st, int i) {
        return sqlite3_column_int64(st, i);
}
static inline uint64_t store_column_uint64(sqlite3_stmt *st, int i) {
        int64_t v = sqlite3_column_int64(st, i);

        return v < 0 ? 0 : (uint64_t) v;
}
/* A copy of a text column (NULL for SQL NULL) owned by the caller. 0 or -ENOMEM. */
int store_column_strdup(sqlite3_stmt *st, int i, char **ret);

/* -ESTALE, with last_error saying why, when the path no longer names the file the store was
 * opened on: deleted or replaced under it, every write would go where nobody reads it back. */
int store_check_file(Store *s);

/* Rolls back the open transaction, if any, keeping last_error (the failure that caused it). */
void store_rollback(Store *s);
/* SQLite rolls the whole transaction back on some errors (I/O, full disk, out of memory): the
 * open sweep can then only be aborted, and says so from now on. Returns r. */
int store_sweep_failed(Store *s, int r);
/* Ends a savepoint: released on success; on failure rolled back to and released while the
 * transaction is still there. Returns r or the release failure. */
int store_savepoint_end(Store *s, int r);
/* A write transaction of its own, or a savepoint inside the open sweep; ended by
 * store_write_end() with the result r of the work done in it (committed or released when
 * r >= 0, rolled back otherwise). Returns r or the failure to end it. */
int store_write_begin(Store *s, bool *ret_nested);
int store_write_end(Store *s, bool nested, int r);

/* Runs call (an int expression) inside a read snapshot of s: one statement or many, they see
 * one state of the database. Evaluates to call's result or the failure to begin. */
#define STORE_IN_SNAPSHOT(s, call)                                                               \
        ({                                                                                       \
                bool _sn_began_;                                                                 \
                int _sn_r_ = store_snapshot_begin((s), &_sn_began_);                             \
                if (_sn_r_ >= 0) {                                                               \
                        _sn_r_ = (call);                                                         \
                        store_snapshot_end((s), _sn_began_);                                     \
                }                                                                                \
                _sn_r_;                                                                          \
        })

/* ---- store.c ---- */

/* The cached statement id, prepared on first use. Reset it after use (_cleanup_reset_). */
int store_statement(Store *s, StoreStatement id, sqlite3_stmt **ret);
/* Steps and resets a cached statement that returns no rows. */
int store_run(Store *s, StoreStatement id);

/* A run (store-runs.c) of table t stands for sweep w: w lies between its ends and belongs to
 * its epoch (sweeps of another epoch written meanwhile have ids between them too). The unary +
 * keeps the epoch test a filter: as an index term it makes SQLite walk the whole epoch. */
#define STORE_RUN_EPOCH_SQL(t) "(SELECT epoch_id FROM sweeps WHERE id = " t ".last_sweep_id)"
#define STORE_RUN_COVERS_SQL(t, w)                                                               \
        t ".sweep_id <= " w ".id AND " t ".last_sweep_id >= " w ".id AND +" w ".epoch_id = "    \
        STORE_RUN_EPOCH_SQL(t)

/* The epoch's newest ?2 sweeps (a negative limit: all), for "sweep_id IN (…)"; ?1 the epoch. */
#define STORE_EPOCH_WINDOW_SQL                                                                   \
        "SELECT id FROM sweeps WHERE epoch_id = ?1 ORDER BY start_usec DESC, id DESC LIMIT ?2"

/* Prepares a query of one epoch's window (sql holds STORE_EPOCH_WINDOW_SQL) and binds ?1 the
 * epoch and ?2 the window (0: all sweeps); the caller binds the rest and finalizes. */
int store_prepare_epoch_window(Store *s, const char *sql, int64_t epoch_id, size_t window,
                               sqlite3_stmt **ret);

/* 0 when a sweep is open and can take more rows; -EINVAL when none is open; the error that
 * made SQLite drop it otherwise. */
static inline int store_sweep_check(Store *s) {
        if (s->sweep_id <= 0)
                return -EINVAL;
        return s->sweep_error;
}

/* Points each of series s_[0..count_) into points_, one after the other, each taking its .n
 * points: once the points array has stopped moving. */
#define SERIES_POINT_INTO(s_, count_, points_)                                                   \
        do {                                                                                     \
                size_t _off_ = 0;                                                                \
                for (size_t _i_ = 0; _i_ < (count_); _i_++) {                                    \
                        (s_)[_i_].points = (points_) + _off_;                                    \
                        _off_ += (s_)[_i_].n;                                                    \
                }                                                                                \
        } while (0)

/* ---- store-query.c ---- */

/* The id of the latest sweep, 0 when there is none. */
int store_latest_sweep_id(Store *s, int64_t *ret);

/* ---- store-cgroup.c ---- */

/* Forgets the cached memory.stat names (after a rollback) and frees them (at close). */
void store_stat_names_clear(Store *s);

/* ---- store-epoch.c ---- */

/* Returns 1 when the epoch exists, with its page size in bytes (0 when unknown) in
 * *ret_page_size if not NULL; 0 when it does not. */
int store_epoch_exists(Store *s, int64_t epoch_id, uint64_t *ret_page_size);

/* The same for the queries of one epoch: 0 when it exists, -ENOENT when not. */
static inline int store_epoch_require(Store *s, int64_t epoch_id, uint64_t *ret_page_size) {
        int r = store_epoch_exists(s, epoch_id, ret_page_size);

        return r < 0 ? r : r == 0 ? -ENOENT : 0;
}

static inline void store_statement_resetp(sqlite3_stmt **st) {
        if (*st) {
                (void) sqlite3_reset(*st);
                (void) sqlite3_clear_bindings(*st);
        }
}
#define _cleanup_reset_ _cleanup_(store_statement_resetp)

static inline void store_statement_finalizep(sqlite3_stmt **st) {
        if (*st)
                (void) sqlite3_finalize(*st);
}
#define _cleanup_finalize_ _cleanup_(store_statement_finalizep)
