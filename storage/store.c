/* The Store: opening and checking a database file (refused files are never written), the one
 * conversion of SQLite result codes to -errno, transactions, and the writers: epochs, sweeps
 * with their processes, samples and meminfo, the per-identity aggregates computed at commit,
 * and retention. Everything on the sweep path uses statements prepared once per connection.
 * The schema is described in schema.c, the read queries live in store-query.c. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "macro.h"
#include "schema.h"
#include "store-internal.h"
#include "store.h"

#define STORE_BUSY_TIMEOUT_MSEC 5000

/* The spelling of mapcount_mode_to_string() (collectors/kernel-id.h): storage never calls a
 * collector, and the strings are part of the database format. */
static const char *const mapcount_mode_names[_MAPCOUNT_MODE_MAX] = {
        [MAPCOUNT_MODE_PAGE] = "page_mapcount",
        [MAPCOUNT_MODE_NO_PAGE] = "no_page_mapcount",
        [MAPCOUNT_MODE_UNKNOWN] = "unknown",
};

#define STORE_COLUMN_LIST_(c) ", " #c
#define STORE_COLUMN_PARAM_(c) ", ?"
#define STORE_TRUTH_FIELD_LIST_(f, c) ", " #f
#define STORE_TRUTH_COLUMN_LIST_(f, c) ", " #c
#define STORE_TRUTH_PARAM_(f, c) ", ?"

static const char *const store_statement_sql[_STORE_STMT_MAX] = {
        [STORE_STMT_BEGIN] = "BEGIN IMMEDIATE",
        [STORE_STMT_COMMIT] = "COMMIT",
        [STORE_STMT_ROLLBACK] = "ROLLBACK",
        [STORE_STMT_SAVEPOINT] = "SAVEPOINT store_step",
        [STORE_STMT_RELEASE] = "RELEASE store_step",
        [STORE_STMT_ROLLBACK_TO] = "ROLLBACK TO store_step",
        [STORE_STMT_EPOCH_FIND] =
                "SELECT id FROM epochs WHERE boot_id = ?1 AND release = ?2 AND mapcount_mode = ?3",
        [STORE_STMT_EPOCH_INSERT] =
                "INSERT INTO epochs (boot_id, release, mapcount_mode, version, page_size,"
                " config_source, config_lines, first_seen_usec, last_seen_usec)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
        [STORE_STMT_EPOCH_LOOKUP] =
                "SELECT id, mapcount_mode, page_size FROM epochs WHERE boot_id = ?1 AND release = ?2"
                " ORDER BY id DESC LIMIT 1",
        [STORE_STMT_EPOCH_TOUCH] =
                "UPDATE epochs SET last_seen_usec = max(last_seen_usec, ?2) WHERE id = ?1",
        [STORE_STMT_SETTING_INSERT] =
                "INSERT INTO epoch_settings (epoch_id, key, value) VALUES (?1, ?2, ?3)",
        [STORE_STMT_SWEEP_INSERT] = "INSERT INTO sweeps (epoch_id, start_usec) VALUES (?1, ?2)",
        [STORE_STMT_SWEEP_FINISH] =
                "UPDATE sweeps SET duration_usec = ?2, sampled = ?3, skipped = ?4,"
                " vanished = ?5, denied = ?6, malformed = ?7, pagemap_truncated = ?8,"
                " pagemap_failed = ?9 WHERE id = ?1",
        /* Most processes are already known and unchanged: a lookup that compares every
         * stored string spares the write (NULL-safe comparisons with IS). */
        [STORE_STMT_IDENTITY_FIND] =
                "SELECT id FROM identities WHERE key = ?1 AND comm IS ?2 AND exe IS ?3"
                " AND cmdline IS ?4 AND unit IS ?5",
        [STORE_STMT_IDENTITY_UPSERT] =
                "INSERT INTO identities (key, comm, exe, cmdline, unit, first_seen_usec,"
                " last_seen_usec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)"
                " ON CONFLICT (key) DO UPDATE SET comm = excluded.comm, exe = excluded.exe,"
                " cmdline = excluded.cmdline, unit = excluded.unit,"
                " last_seen_usec = max(last_seen_usec, excluded.last_seen_usec)"
                " RETURNING id",

        /* The processes of the epoch's last committed sweep (?2 is the open one), to fill the
         * writer's cache after a start. */
        [STORE_STMT_PROCESS_LOAD] =
                "SELECT p.pid, p.start_time_ticks, p.id, p.identity_id, p.comm, p.exe, p.cmdline,"
                " p.cgroup, p.unit, i.key FROM process_samples ps"
                " JOIN processes p ON p.id = ps.process_id JOIN identities i ON i.id = p.identity_id"
                " WHERE ps.sweep_id = (SELECT max(id) FROM sweeps WHERE epoch_id = ?1 AND id < ?2)",
        [STORE_STMT_PROCESS_UPSERT] =
                "INSERT INTO processes (epoch_id, pid, start_time_ticks, identity_id, comm, exe,"
                " cmdline, cgroup, unit) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                " ON CONFLICT (epoch_id, pid, start_time_ticks) DO UPDATE SET"
                " identity_id = excluded.identity_id, comm = excluded.comm, exe = excluded.exe,"
                " cmdline = excluded.cmdline, cgroup = excluded.cgroup, unit = excluded.unit"
                " RETURNING id",
        [STORE_STMT_SAMPLE_INSERT] =
                "INSERT INTO process_samples (sweep_id, process_id, present"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_) ") VALUES (?, ?, ?"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_PARAM_) ")",
        [STORE_STMT_SAMPLE_PAGEMAP_INSERT] =
                "INSERT INTO process_samples (sweep_id, process_id, present"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_) ", pagemap_truncated"
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_) ") VALUES (?, ?, ?"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_PARAM_) ", ?"
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_PARAM_) ")",
        [STORE_STMT_TRUTH_INSERT] =
                "INSERT INTO process_truth (sweep_id, process_id"
                STORE_TRUTH_COLUMNS(STORE_TRUTH_FIELD_LIST_) ") VALUES (?, ?"
                STORE_TRUTH_COLUMNS(STORE_TRUTH_PARAM_) ")",
        [STORE_STMT_EXTRA_INSERT] =
                "INSERT INTO process_extra (sweep_id, process_id, name, kb)"
                " VALUES (?1, ?2, ?3, ?4)",
        [STORE_STMT_MEMINFO_INSERT] =
                "INSERT INTO meminfo_samples (sweep_id, name, value, is_kb)"
                " VALUES (?1, ?2, ?3, ?4)",
        [STORE_STMT_IDENTITY_SAMPLE_INSERT] =
                "INSERT INTO identity_samples (sweep_id, identity_id, processes, present"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_) ", median_rss_kb, median_pss_kb,"
                " pagemap_processes" STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_)
                ", truth_processes" STORE_TRUTH_COLUMNS(STORE_TRUTH_COLUMN_LIST_) ")"
                " VALUES (?, ?, ?, ?" STORE_SMAPS_COLUMNS(STORE_COLUMN_PARAM_) ", ?, ?, ?"
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_PARAM_) ", ?"
                STORE_TRUTH_COLUMNS(STORE_TRUTH_PARAM_) ")",
};

/* The directory part of path ("." when it has none); NULL on ENOMEM. */
static char *path_dirname_malloc(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        return strndup(path, slash == path ? 1 : (size_t) (slash - path));
}

int store_error(Store *s, int rc) {
        const char *msg;

        assert(s);
        assert(rc != SQLITE_OK && rc != SQLITE_ROW && rc != SQLITE_DONE);

        msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
        free(s->last_error);
        s->last_error = strdup(msg);    /* on ENOMEM store_last_error() just has nothing to say */

        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_NOTADB:
        case SQLITE_CORRUPT:
                return -EBADMSG;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CANTOPEN: {
                /* SQLite does not say why; the errno of its failed open(), then the directory,
                 * tell a missing file or directory from one we may not write. */
                _cleanup_free_ char *dir = NULL;
                struct stat st;
                int e;

                e = s->db ? sqlite3_system_errno(s->db) : 0;
                if (e == EACCES || e == EPERM)
                        return -EACCES;
                if (e == EROFS)
                        return -EROFS;

                dir = path_dirname_malloc(s->path ?: "");
                if (!dir)
                        return -ENOMEM;
                if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
                        return -ENOENT;
                if (s->mode == STORE_READ_WRITE && access(dir, W_OK) < 0)
                        return errno == EROFS ? -EROFS : -EACCES;
                return -ENOENT;
        }
        default:
                return -EIO;
        }
}

int store_statement(Store *s, StoreStatement id, sqlite3_stmt **ret) {
        int rc;

        assert(s);
        assert(id >= 0 && id < _STORE_STMT_MAX);
        assert(ret);

        if (!s->statements[id]) {
                rc = sqlite3_prepare_v3(s->db, store_statement_sql[id], -1,
                                        SQLITE_PREPARE_PERSISTENT, &s->statements[id], NULL);
                if (rc != SQLITE_OK)
                        return store_error(s, rc);
        }
        *ret = s->statements[id];
        return 0;
}

int store_step(Store *s, sqlite3_stmt *st) {
        int rc;

        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_error(s, rc);
}

int store_run(Store *s, StoreStatement id) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, id, &st);
        if (r < 0)
                return r;
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

int store_reserve(void **p, size_t *allocated, size_t need, size_t size) {
        size_t n;
        void *q;

        if (*allocated >= need)
                return 0;
        n = MAX(need, MAX(*allocated * 2, (size_t) 16));
        q = reallocarray(*p, n, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = n;
        return 0;
}

int store_prepare(Store *s, const char *sql, sqlite3_stmt **ret) {
        sqlite3_stmt *st;
        int rc;

        assert(s);
        assert(sql);
        assert(ret);

        rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc);
        *ret = st;
        return 0;
}

int store_exec(Store *s, const char *sql) {
        int rc;

        rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
                return store_error(s, rc);
        return 0;
}

int store_query_int64(Store *s, const char *sql, int64_t *ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENODATA;
        *ret = sqlite3_column_int64(st, 0);
        return 0;
}

int store_bind_int64(Store *s, sqlite3_stmt *st, int i, int64_t v) {
        int rc;

        rc = sqlite3_bind_int64(st, i, v);
        return rc == SQLITE_OK ? 0 : store_error(s, rc);
}

int store_bind_uint64(Store *s, sqlite3_stmt *st, int i, uint64_t v) {
        if (v > INT64_MAX)
                return -ERANGE;
        return store_bind_int64(s, st, i, (int64_t) v);
}

int store_bind_text(Store *s, sqlite3_stmt *st, int i, const char *v) {
        int rc;

        if (!v)
                return store_bind_null(s, st, i);
        rc = sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
        return rc == SQLITE_OK ? 0 : store_error(s, rc);
}

int store_bind_null(Store *s, sqlite3_stmt *st, int i) {
        int rc;

        rc = sqlite3_bind_null(st, i);
        return rc == SQLITE_OK ? 0 : store_error(s, rc);
}

int store_column_strdup(sqlite3_stmt *st, int i, char **ret) {
        const unsigned char *v;
        char *copy;

        v = sqlite3_column_text(st, i);
        if (!v) {
                if (sqlite3_column_type(st, i) != SQLITE_NULL)
                        return -ENOMEM;
                *ret = NULL;
                return 0;
        }
        copy = strdup((const char *) v);
        if (!copy)
                return -ENOMEM;
        *ret = copy;
        return 0;
}

/* ---- opening ---- */

/* Formats the reason for a refused open into *reterr (when wanted) and returns r. */
_printf_(3, 4)
static int store_open_fail(int r, char **reterr, const char *fmt, ...) {
        char buf[1024];
        va_list ap;

        if (!reterr)
                return r;

        va_start(ap, fmt);
        (void) vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        *reterr = strdup(buf);  /* NULL on ENOMEM: the caller then has only r */
        return r;
}

static int store_open_connection(Store *s, char **reterr) {
        int flags, rc, r;

        flags = SQLITE_OPEN_NOMUTEX;
        flags |= s->mode == STORE_READ_ONLY ? SQLITE_OPEN_READONLY :
                                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;

        rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
        if (rc != SQLITE_OK) {
                _cleanup_free_ char *dir = NULL;
                struct stat st;

                if (!s->db)
                        return -ENOMEM;
                r = store_error(s, rc);
                dir = path_dirname_malloc(s->path);
                if (r == -ENOENT && dir && (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)))
                        return store_open_fail(r, reterr, "directory '%s' does not exist", dir);
                if (r == -ENOENT)
                        return store_open_fail(r, reterr, "the file does not exist");
                if (r == -EACCES || r == -EROFS)
                        return store_open_fail(r, reterr, "cannot %s it: %s",
                                               s->mode == STORE_READ_ONLY ? "read" : "create",
                                               strerror(-r));
                return store_open_fail(r, reterr, "%s", s->last_error ?: "cannot open");
        }

        (void) sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MSEC);
        /* No writable_schema tricks, no corrupting the file through SQL. */
        (void) sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);

        if (s->mode == STORE_READ_WRITE && sqlite3_db_readonly(s->db, "main") == 1)
                return store_open_fail(-EACCES, reterr, "the file is not writable");
        return 0;
}

/* Decides from what the file holds whether we may use it; touches nothing. */
static int store_check_identity(Store *s, const SchemaInfo *info, char **reterr) {
        if (info->application_id == 0 && info->n_objects == 0 && info->user_version == 0) {
                if (s->mode == STORE_READ_ONLY)
                        return store_open_fail(-ENOENT, reterr,
                                               "the database is empty (never initialized)");
                return 0;
        }
        if (info->application_id != STORE_APPLICATION_ID)
                return store_open_fail(-EBADMSG, reterr,
                                       "not a mapstatd database (application_id 0x%08" PRIx32
                                       ", %" PRIi64 " schema objects)",
                                       (uint32_t) info->application_id, info->n_objects);
        if (info->user_version > STORE_SCHEMA_VERSION)
                return store_open_fail(-EPROTONOSUPPORT, reterr,
                                       "database schema version %" PRIi64 " is newer than the "
                                       "version %d this build supports",
                                       info->user_version, STORE_SCHEMA_VERSION);
        if (info->user_version < 0)
                return store_open_fail(-EBADMSG, reterr,
                                       "invalid schema version %" PRIi64, info->user_version);
        if (info->user_version < STORE_SCHEMA_VERSION && s->mode == STORE_READ_ONLY)
                return store_open_fail(-EPROTONOSUPPORT, reterr,
                                       "database schema version %" PRIi64 " is older than the "
                                       "version %d this build reads; open it read-write once "
                                       "to migrate", info->user_version, STORE_SCHEMA_VERSION);
        return 0;
}

static int store_configure(Store *s, char **reterr) {
        int r;

        if (s->mode == STORE_READ_WRITE) {
                _cleanup_finalize_ sqlite3_stmt *st = NULL;
                const unsigned char *mode;

                r = store_prepare(s, "PRAGMA journal_mode = WAL", &st);
                if (r >= 0)
                        r = store_step(s, st);
                if (r < 0)
                        return store_open_fail(r, reterr, "cannot enable WAL: %s",
                                               s->last_error ?: strerror(-r));
                mode = r > 0 ? sqlite3_column_text(st, 0) : NULL;
                if (!mode || strcmp((const char *) mode, "wal") != 0)
                        return store_open_fail(-EIO, reterr,
                                               "cannot enable WAL (journal mode stays '%s')",
                                               mode ? (const char *) mode : "?");

                r = store_exec(s, "PRAGMA synchronous = NORMAL");
                if (r < 0)
                        return store_open_fail(r, reterr, "%s", s->last_error ?: "");

                /* No checkpoint when the connection closes: the WAL stays beside the database
                 * (it is part of it) and is checkpointed by SQLite every 1000 pages. Otherwise
                 * each --once run would copy its WAL into the database, fsync both, and make
                 * the next run start a fresh WAL, whose header costs another two fsyncs. */
                int rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
                if (rc != SQLITE_OK)
                        return store_open_fail(store_error(s, rc), reterr, "%s",
                                               s->last_error ?: "");
        }

        r = store_exec(s, "PRAGMA foreign_keys = ON; PRAGMA cache_size = -512");
        if (r < 0)
                return store_open_fail(r, reterr, "%s", s->last_error ?: "");
        return 0;
}

int store_open(Store **ret, const char *path, StoreMode mode, char **reterr) {
        _cleanup_(store_freep) Store *s = NULL;
        SchemaInfo info;
        int r;

        assert(ret);
        assert(path);

        if (mode != STORE_READ_WRITE && mode != STORE_READ_ONLY)
                return -EINVAL;

        s = calloc(1, sizeof(Store));
        if (!s)
                return -ENOMEM;
        s->mode = mode;
        s->path = strdup(path);
        if (!s->path)
                return -ENOMEM;

        r = store_open_connection(s, reterr);
        if (r < 0)
                return r;

        /* Nothing has been written yet; these reads fail on a file that is not a database. */
        r = schema_inspect(s, &info);
        if (r == -EBADMSG)
                return store_open_fail(r, reterr, "not an SQLite database or corrupt: %s",
                                       s->last_error ?: "");
        if (r < 0)
                return store_open_fail(r, reterr, "cannot read the schema: %s",
                                       s->last_error ?: strerror(-r));
        r = store_check_identity(s, &info, reterr);
        if (r < 0)
                return r;
        s->opened_version = (int) info.user_version;

        r = store_configure(s, reterr);
        if (r < 0)
                return r;

        if (mode == STORE_READ_WRITE) {
                r = schema_migrate(s);
                if (r < 0)
                        return store_open_fail(r, reterr,
                                               "cannot migrate schema version %d to %d: %s",
                                               s->opened_version, STORE_SCHEMA_VERSION,
                                               s->last_error ?: strerror(-r));

                /* Prepared now rather than inside the first sweep: a sweep then costs the same
                 * every time, and a schema the statements do not fit fails here. */
                for (StoreStatement i = 0; i < _STORE_STMT_MAX; i++) {
                        _cleanup_reset_ sqlite3_stmt *st = NULL;

                        r = store_statement(s, i, &st);
                        if (r < 0)
                                return store_open_fail(r, reterr, "cannot prepare statements: %s",
                                                       s->last_error ?: strerror(-r));
                }
        }

        *ret = TAKE_PTR(s);
        return 0;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;

        for (size_t i = 0; i < _STORE_STMT_MAX; i++)
                (void) sqlite3_finalize(s->statements[i]);
        /* Closing rolls back an open transaction (an unfinished sweep). */
        (void) sqlite3_close_v2(s->db);
        free(s->path);
        free(s->last_error);
        free(s->rows);
        free(s->pagemaps);
        free(s->truths);
        free(s->row_slots);
        free(s->scratch);
        free(s->pack);
        process_cache_done(&s->cache_prev);
        process_cache_done(&s->cache_next);
        free(s);
        return NULL;
}

const char *store_last_error(const Store *s) {
        return s ? s->last_error : NULL;
}

int store_opened_version(const Store *s) {
        assert(s);
        return s->opened_version;
}

/* ---- transactions ---- */

/* Runs a cleanup statement (rollback, release) keeping the message of the failure that made it
 * necessary. */
static void store_run_quietly(Store *s, StoreStatement id) {
        char *saved = TAKE_PTR(s->last_error);

        (void) store_run(s, id);
        if (saved) {
                free(s->last_error);
                s->last_error = saved;
        }
}

void store_rollback(Store *s) {
        if (!sqlite3_get_autocommit(s->db))
                store_run_quietly(s, STORE_STMT_ROLLBACK);
}

/* SQLite rolls the whole transaction back on some errors (I/O, full disk, out of memory): the
 * open sweep can then only be aborted, and says so from now on. Returns r. */
static int store_sweep_failed(Store *s, int r) {
        if (s->sweep_id > 0 && sqlite3_get_autocommit(s->db) && s->sweep_error == 0)
                s->sweep_error = r;
        return r;
}

/* Ends a savepoint: released on success; on failure rolled back to and released while the
 * transaction is still there. Returns r or the release failure. */
static int store_savepoint_end(Store *s, int r) {
        if (r >= 0) {
                r = store_run(s, STORE_STMT_RELEASE);
                if (r >= 0)
                        return 0;
        }
        if (!sqlite3_get_autocommit(s->db)) {
                store_run_quietly(s, STORE_STMT_ROLLBACK_TO);
                store_run_quietly(s, STORE_STMT_RELEASE);
        }
        return store_sweep_failed(s, r);
}

/* A write transaction of its own, or a savepoint inside the open sweep. */
static int store_write_begin(Store *s, bool *ret_nested) {
        bool nested;
        int r;

        nested = !sqlite3_get_autocommit(s->db);
        r = store_run(s, nested ? STORE_STMT_SAVEPOINT : STORE_STMT_BEGIN);
        if (r < 0)
                return r;
        *ret_nested = nested;
        return 0;
}

static int store_write_end(Store *s, bool nested, int r) {
        if (nested)
                return store_savepoint_end(s, r);
        if (r >= 0) {
                r = store_run(s, STORE_STMT_COMMIT);
                if (r >= 0)
                        return 0;
        }
        store_rollback(s);
        return r;
}

/* ---- epochs ---- */

static int store_epoch_insert(Store *s, const KernelId *k, const char *mode, uint64_t now_usec,
                              int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int64_t id;
        int r;

        r = store_statement(s, STORE_STMT_EPOCH_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, st, 1, k->boot_id)) < 0 ||
            (r = store_bind_text(s, st, 2, k->release)) < 0 ||
            (r = store_bind_text(s, st, 3, mode)) < 0 ||
            (r = store_bind_text(s, st, 4, k->version)) < 0 ||
            (r = k->page_size > 0 ? store_bind_uint64(s, st, 5, k->page_size) :
                                    store_bind_null(s, st, 5)) < 0 ||
            (r = store_bind_text(s, st, 6, k->config_source)) < 0 ||
            (r = store_bind_text(s, st, 7, k->config_lines)) < 0 ||
            (r = store_bind_uint64(s, st, 8, now_usec)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(s->db);

        for (size_t i = 0; i < k->n_settings; i++) {
                _cleanup_reset_ sqlite3_stmt *set = NULL;

                if (!k->settings[i].key || !k->settings[i].value)
                        return -EINVAL;
                r = store_statement(s, STORE_STMT_SETTING_INSERT, &set);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, set, 1, id)) < 0 ||
                    (r = store_bind_text(s, set, 2, k->settings[i].key)) < 0 ||
                    (r = store_bind_text(s, set, 3, k->settings[i].value)) < 0)
                        return r;
                r = store_step(s, set);
                if (r < 0)
                        return r;
        }

        *ret = id;
        return 0;
}

static int store_epoch_find_or_insert(Store *s, const KernelId *k, const char *mode,
                                      uint64_t now_usec, int64_t *ret_id, bool *ret_created) {
        _cleanup_reset_ sqlite3_stmt *find = NULL, *touch = NULL;
        int64_t id;
        int r;

        r = store_statement(s, STORE_STMT_EPOCH_FIND, &find);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, find, 1, k->boot_id)) < 0 ||
            (r = store_bind_text(s, find, 2, k->release)) < 0 ||
            (r = store_bind_text(s, find, 3, mode)) < 0)
                return r;
        r = store_step(s, find);
        if (r < 0)
                return r;
        if (r == 0) {
                r = store_epoch_insert(s, k, mode, now_usec, &id);
                if (r < 0)
                        return r;
                *ret_id = id;
                *ret_created = true;
                return 0;
        }
        id = sqlite3_column_int64(find, 0);

        r = store_statement(s, STORE_STMT_EPOCH_TOUCH, &touch);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, touch, 1, id)) < 0 ||
            (r = store_bind_uint64(s, touch, 2, now_usec)) < 0)
                return r;
        r = store_step(s, touch);
        if (r < 0)
                return r;
        *ret_id = id;
        *ret_created = false;
        return 0;
}

int store_epoch_lookup(Store *s, const char *boot_id, const char *release,
                       int64_t *ret_epoch_id, MapcountMode *ret_mode, uint64_t *ret_page_size) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        MapcountMode mode = MAPCOUNT_MODE_UNKNOWN;
        const char *text;
        int64_t id;
        int r;

        assert(s);
        assert(boot_id);
        assert(release);

        r = store_statement(s, STORE_STMT_EPOCH_LOOKUP, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, st, 1, boot_id)) < 0 ||
            (r = store_bind_text(s, st, 2, release)) < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0)
                return r;
        id = sqlite3_column_int64(st, 0);
        text = (const char *) sqlite3_column_text(st, 1);
        for (MapcountMode m = 0; text && m < _MAPCOUNT_MODE_MAX; m++)
                if (strcmp(text, mapcount_mode_names[m]) == 0)
                        mode = m;

        *ret_epoch_id = id;
        *ret_mode = mode;
        *ret_page_size = (uint64_t) MAX(sqlite3_column_int64(st, 2), (int64_t) 0);
        return 1;
}

int store_epoch_ensure(Store *s, const KernelId *k, uint64_t now_usec, int64_t *ret_epoch_id,
                       bool *ret_created) {
        const char *mode;
        bool nested, created = false;
        int64_t id = 0;
        int r;

        assert(s);
        assert(k);
        assert(ret_epoch_id);

        if (!k->boot_id || !k->release)
                return -EINVAL;
        if (k->mapcount_mode < 0 || k->mapcount_mode >= _MAPCOUNT_MODE_MAX)
                return -EINVAL;
        if (s->sweep_error < 0)
                return s->sweep_error;
        mode = mapcount_mode_names[k->mapcount_mode];

        r = store_write_begin(s, &nested);
        if (r < 0)
                return r;
        r = store_epoch_find_or_insert(s, k, mode, now_usec, &id, &created);
        r = store_write_end(s, nested, r);
        if (r < 0)
                return r;

        *ret_epoch_id = id;
        if (ret_created)
                *ret_created = created;
        return 0;
}

/* ---- the sweep ---- */

int store_sweep_begin(Store *s, int64_t epoch_id, uint64_t start_usec) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);

        if (s->sweep_id > 0)
                return -EBUSY;
        if (epoch_id <= 0)
                return -EINVAL;
        if (start_usec > INT64_MAX)
                return -ERANGE;

        r = store_run(s, STORE_STMT_BEGIN);
        if (r < 0)
                return r;

        r = store_statement(s, STORE_STMT_SWEEP_INSERT, &st);
        if (r >= 0)
                r = store_bind_int64(s, st, 1, epoch_id);
        if (r >= 0)
                r = store_bind_uint64(s, st, 2, start_usec);
        if (r >= 0)
                r = store_step(s, st);
        if (r < 0) {
                store_rollback(s);
                return r;
        }

        s->sweep_id = sqlite3_last_insert_rowid(s->db);
        s->n_rows = 0;
        s->n_pagemaps = 0;
        s->n_truths = 0;
        s->n_rows_indexed = 0;
        s->sweep_epoch_id = epoch_id;
        process_cache_clear(&s->cache_next);
        s->sweep_start_usec = start_usec;
        s->sweep_error = 0;
        return 0;
}

/* Binds key, comm, exe, cmdline, unit to parameters 1-5 of an identity statement. */
static int store_bind_identity(Store *s, sqlite3_stmt *st, const ProcSample *p,
                               const char *identity_key) {
        int r;

        if ((r = store_bind_text(s, st, 1, identity_key)) < 0 ||
            (r = store_bind_text(s, st, 2, p->comm)) < 0 ||
            (r = store_bind_text(s, st, 3, p->exe)) < 0 ||
            (r = store_bind_text(s, st, 4, p->cmdline)) < 0 ||
            (r = store_bind_text(s, st, 5, p->unit)) < 0)
                return r;
        return 0;
}

/* Steps a bound statement whose first column is a row id (a lookup, or RETURNING id); returns
 * 1 with the id, 0 when it yields no row. */
static int store_find_id(Store *s, sqlite3_stmt *st, int64_t *ret) {
        int r;

        r = store_step(s, st);
        if (r <= 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        return 1;
}

static int store_upsert_identity(Store *s, const ProcSample *p, const char *identity_key,
                                 int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *find = NULL, *st = NULL;
        int r;

        r = store_statement(s, STORE_STMT_IDENTITY_FIND, &find);
        if (r < 0)
                return r;
        r = store_bind_identity(s, find, p, identity_key);
        if (r < 0)
                return r;
        r = store_find_id(s, find, ret);
        if (r != 0)
                return r < 0 ? r : 0;

        r = store_statement(s, STORE_STMT_IDENTITY_UPSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_identity(s, st, p, identity_key)) < 0 ||
            (r = store_bind_uint64(s, st, 6, s->sweep_start_usec)) < 0)
                return r;
        r = store_find_id(s, st, ret);
        if (r == 0)
                return -EIO;    /* RETURNING always yields the row */
        return r < 0 ? r : 0;
}

/* Binds the nine parameters shared by the process lookup and upsert. */
static int store_bind_process(Store *s, sqlite3_stmt *st, const ProcSample *p,
                              int64_t identity_id) {
        int r;

        if ((r = store_bind_int64(s, st, 1, s->sweep_epoch_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, p->pid)) < 0 ||
            (r = store_bind_uint64(s, st, 3, p->start_time_ticks)) < 0 ||
            (r = store_bind_int64(s, st, 4, identity_id)) < 0 ||
            (r = store_bind_text(s, st, 5, p->comm)) < 0 ||
            (r = store_bind_text(s, st, 6, p->exe)) < 0 ||
            (r = store_bind_text(s, st, 7, p->cmdline)) < 0 ||
            (r = store_bind_text(s, st, 8, p->cgroup)) < 0 ||
            (r = store_bind_text(s, st, 9, p->unit)) < 0)
                return r;
        return 0;
}

static int store_upsert_process(Store *s, const ProcSample *p, int64_t identity_id,
                                int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, STORE_STMT_PROCESS_UPSERT, &st);
        if (r < 0)
                return r;
        r = store_bind_process(s, st, p, identity_id);
        if (r < 0)
                return r;
        r = store_find_id(s, st, ret);
        if (r == 0)
                return -EIO;    /* RETURNING always yields the row */
        return r < 0 ? r : 0;
}

/* Binds the STORE_PAGEMAP_COLUMNS parameters, from index i on, to pm[0.._VMA_CLASS_MAX). */
static int store_bind_pagemap_classes(Store *s, sqlite3_stmt *st, int i,
                                      const PagemapClassCounts *pm) {
        int r;

        for (int c = 0; c < _VMA_CLASS_MAX; c++)
                if ((r = store_bind_uint64(s, st, i++, pm[c].present_pages)) < 0 ||
                    (r = store_bind_uint64(s, st, i++, pm[c].swapped_pages)) < 0 ||
                    (r = store_bind_uint64(s, st, i++, pm[c].exclusive_pages)) < 0)
                        return r;
        return 0;
}

#define STORE_TRUTH_VALUE_(f, c) t->f,

/* Binds the STORE_TRUTH_COLUMNS parameters, from index i on, to *t. */
static int store_bind_truth(Store *s, sqlite3_stmt *st, int i, const ProcessTruth *t) {
        const uint64_t values[] = { STORE_TRUTH_COLUMNS(STORE_TRUTH_VALUE_) };
        int r;

        for (size_t k = 0; k < ELEMENTSOF(values); k++) {
                r = store_bind_uint64(s, st, i + (int) k, values[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The process_samples row (with the pagemap columns when the process was scanned; a process
 * without costs the same statement as in schema version 1) and its process_extra rows. */
static int store_insert_sample(Store *s, const ProcSample *p, int64_t process_id) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        const SmapsRollup *rollup = &p->rollup;
        int r;

        r = store_statement(s, p->has_pagemap ? STORE_STMT_SAMPLE_PAGEMAP_INSERT :
                                                STORE_STMT_SAMPLE_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, process_id)) < 0 ||
            (r = store_bind_int64(s, st, 3, rollup->present)) < 0)
                return r;
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                r = smaps_rollup_has(rollup, f) ? store_bind_uint64(s, st, 4 + f, rollup->kb[f]) :
                                                  store_bind_null(s, st, 4 + f);
                if (r < 0)
                        return r;
        }
        if (p->has_pagemap) {
                r = store_bind_int64(s, st, 4 + _SMAPS_FIELD_MAX, p->pagemap.truncated);
                if (r < 0)
                        return r;
                r = store_bind_pagemap_classes(s, st, 5 + _SMAPS_FIELD_MAX, p->pagemap.class);
                if (r < 0)
                        return r;
        }
        r = store_step(s, st);
        if (r < 0)
                return r;

        for (size_t i = 0; i < rollup->n_extra; i++) {
                _cleanup_reset_ sqlite3_stmt *ex = NULL;
                const SmapsExtra *e = rollup->extra + i;
                int rc;

                r = store_statement(s, STORE_STMT_EXTRA_INSERT, &ex);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, ex, 1, s->sweep_id)) < 0 ||
                    (r = store_bind_int64(s, ex, 2, process_id)) < 0 ||
                    (r = store_bind_uint64(s, ex, 4, e->kb)) < 0)
                        return r;
                rc = sqlite3_bind_text(ex, 3, e->name, (int) strnlen(e->name, SMAPS_NAME_MAX),
                                       SQLITE_STATIC);
                r = rc != SQLITE_OK ? store_error(s, rc) : store_step(s, ex);
                if (r < 0) {
                        /* The sample row is in: without all its fields the sweep is wrong. */
                        s->sweep_error = r;
                        return r;
                }
        }
        return 0;
}

static int store_sweep_check(Store *s) {
        if (s->sweep_id <= 0)
                return -EINVAL;
        return s->sweep_error;
}

static int store_sweep_row_add(Store *s, const ProcSample *p, int64_t identity_id,
                               int64_t process_id) {
        SweepRow *row;
        int r;

        /* Row indices are int32_t and the index stores them + 1 in a uint32_t. */
        if (s->n_rows >= INT32_MAX)
                return -E2BIG;
        r = store_reserve((void **) &s->rows, &s->allocated_rows, s->n_rows + 1, sizeof *s->rows);
        if (r < 0)
                return r;
        /* A scan cut short is stored with the sample (flagged) but not summed: the identity's
         * figures would look complete while missing pages. */
        bool complete = p->has_pagemap && !p->pagemap.truncated;

        if (complete) {
                r = store_reserve((void **) &s->pagemaps, &s->allocated_pagemaps,
                                  s->n_pagemaps + 1, sizeof *s->pagemaps);
                if (r < 0)
                        return r;
        }

        row = s->rows + s->n_rows++;
        *row = (SweepRow) {
                .identity_id = identity_id,
                .process_id = process_id,
                .start_time_ticks = p->start_time_ticks,
                .pid = p->pid,
                .present = p->rollup.present,
                .pagemap = -1,
                .truth = -1,
        };
        memcpy(row->kb, p->rollup.kb, sizeof row->kb);
        if (complete) {
                row->pagemap = (int32_t) s->n_pagemaps;
                memcpy(s->pagemaps[s->n_pagemaps++], p->pagemap.class, sizeof *s->pagemaps);
        }
        return 0;
}

/* Packs the strings a process row and its identity key hold, for the cache. */
static int store_pack_process(Store *s, const ProcSample *p, const char *identity_key) {
        const char *const fields[] = { p->comm, p->exe, p->cmdline, p->cgroup, p->unit,
                                       identity_key };

        return process_pack(&s->pack, &s->pack_size, fields, ELEMENTSOF(fields));
}

/* Fills the previous-sweep cache from the database when it does not describe this epoch (first
 * sweep of this process, or after an abort). */
static int store_cache_load(Store *s) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (s->cache_prev.epoch_id == s->sweep_epoch_id)
                return 0;
        process_cache_clear(&s->cache_prev);

        r = store_statement(s, STORE_STMT_PROCESS_LOAD, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_epoch_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, s->sweep_id)) < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                const char *fields[6];
                char *copy;

                for (int i = 0; i < 6; i++)
                        fields[i] = (const char *) sqlite3_column_text(st, 4 + i);
                r = process_pack(&s->pack, &s->pack_size, fields, ELEMENTSOF(fields));
                if (r < 0)
                        return r;
                copy = memdup(s->pack, (size_t) r);
                if (!copy)
                        return -ENOMEM;
                r = process_cache_put(&s->cache_prev, sqlite3_column_int64(st, 0),
                                      (uint64_t) sqlite3_column_int64(st, 1),
                                      sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                      copy, (size_t) r);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        s->cache_prev.epoch_id = s->sweep_epoch_id;
        return 0;
}

int store_sweep_add_process(Store *s, const ProcSample *p, const char *identity_key) {
        int64_t identity_id = 0, process_id = 0;
        _cleanup_free_ char *packed = NULL;
        size_t packed_len;
        int r;

        assert(s);
        assert(p);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        if (!identity_key || p->rollup.n_extra > SMAPS_EXTRA_MAX)
                return -EINVAL;

        /* No savepoint per process: it would double the statements of the sweep. A failed
         * statement is undone by SQLite on its own; identity and process rows written before a
         * failure are harmless (nothing refers to them); a failure after the sample row was
         * written makes the sweep fail as a whole (store_insert_sample()). */
        /* On the first add rather than at begin: with a pipelined sweep it runs while the
         * processes are still being read. */
        r = store_cache_load(s);
        if (r < 0)
                return store_sweep_failed(s, r);
        r = store_pack_process(s, p, identity_key);
        if (r < 0)
                return r;
        packed_len = (size_t) r;
        r = process_cache_take(&s->cache_prev, p->pid, p->start_time_ticks, s->pack, packed_len,
                               &process_id, &identity_id, &packed);
        if (r == 0) {
                r = store_upsert_identity(s, p, identity_key, &identity_id);
                if (r >= 0)
                        r = store_upsert_process(s, p, identity_id, &process_id);
                if (r >= 0) {
                        packed = memdup(s->pack, packed_len);
                        if (!packed)
                                r = -ENOMEM;
                }
        }
        if (r >= 0)
                r = store_insert_sample(s, p, process_id);
        if (r < 0)
                return store_sweep_failed(s, r);
        r = store_sweep_row_add(s, p, identity_id, process_id);
        if (r < 0) {
                s->sweep_error = r;     /* the sample row is in but would miss its aggregate */
                return r;
        }
        /* Only an optimization: a process missing from the cache is looked up next time. */
        (void) process_cache_put(&s->cache_next, p->pid, p->start_time_ticks, process_id,
                                 identity_id, TAKE_PTR(packed), packed_len);
        return 0;
}

int store_sweep_add_meminfo(Store *s, const Meminfo *m) {
        int r;

        assert(s);
        assert(m);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        if (m->n > MEMINFO_MAX)
                return -EINVAL;

        r = store_run(s, STORE_STMT_SAVEPOINT);
        if (r < 0)
                return store_sweep_failed(s, r);
        for (size_t i = 0; r >= 0 && i < m->n; i++) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                const MeminfoField *f = m->fields + i;
                int rc;

                r = store_statement(s, STORE_STMT_MEMINFO_INSERT, &st);
                if (r < 0)
                        break;
                rc = sqlite3_bind_text(st, 2, f->name, (int) strnlen(f->name, MEMINFO_NAME_MAX),
                                       SQLITE_STATIC);
                if (rc != SQLITE_OK) {
                        r = store_error(s, rc);
                        break;
                }
                if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
                    (r = store_bind_uint64(s, st, 3, f->value)) < 0 ||
                    (r = store_bind_int64(s, st, 4, f->is_kb)) < 0)
                        break;
                r = store_step(s, st);
        }
        return store_savepoint_end(s, r);
}

static size_t row_slot_hash(int64_t pid, uint64_t start_time_ticks, size_t mask) {
        uint64_t h = ((uint64_t) pid ^ (start_time_ticks << 22)) * UINT64_C(0x9E3779B97F4A7C15);

        return (size_t) (h >> 32) & mask;
}

/* Finds the open sweep's row of pid/start. The index is built on the first call of a sweep and
 * extended by the rows added since the last call; rows keep their order until the commit, so
 * slots stay valid. Returns 1 with *ret, 0 when no such row, -ENOMEM. */
static int store_sweep_row_find(Store *s, int64_t pid, uint64_t start_time_ticks,
                                SweepRow **ret) {
        size_t mask;

        if (s->n_row_slots < 2 * s->n_rows || s->n_rows_indexed == 0) {
                size_t n = MAX(s->n_row_slots, (size_t) 256);
                uint32_t *slots;

                while (n < 2 * s->n_rows)
                        n *= 2;
                if (n != s->n_row_slots) {
                        slots = reallocarray(s->row_slots, n, sizeof *slots);
                        if (!slots)
                                return -ENOMEM;
                        s->row_slots = slots;
                        s->n_row_slots = n;
                }
                memset(s->row_slots, 0, s->n_row_slots * sizeof *s->row_slots);
                s->n_rows_indexed = 0;
        }
        mask = s->n_row_slots - 1;
        for (; s->n_rows_indexed < s->n_rows; s->n_rows_indexed++) {
                const SweepRow *row = s->rows + s->n_rows_indexed;
                size_t i = row_slot_hash(row->pid, row->start_time_ticks, mask);

                while (s->row_slots[i] != 0)
                        i = (i + 1) & mask;
                s->row_slots[i] = (uint32_t) s->n_rows_indexed + 1;
        }

        for (size_t i = row_slot_hash(pid, start_time_ticks, mask); s->row_slots[i] != 0;
             i = (i + 1) & mask) {
                SweepRow *row = s->rows + s->row_slots[i] - 1;

                if (row->pid == pid && row->start_time_ticks == start_time_ticks) {
                        *ret = row;
                        return 1;
                }
        }
        return 0;
}

int store_sweep_add_truth(Store *s, pid_t pid, uint64_t start_time_ticks, const ProcessTruth *t) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        SweepRow *row;
        int r;

        assert(s);
        assert(t);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        r = store_sweep_row_find(s, pid, start_time_ticks, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        /* Before the insert, so that a written row always gets its place in the sums. */
        r = store_reserve((void **) &s->truths, &s->allocated_truths, s->n_truths + 1,
                          sizeof *s->truths);
        if (r < 0)
                return r;

        /* One statement: SQLite undoes it alone if it fails (a second truth for the same
         * process violates the primary key, -EIO), and the row stays as it was. */
        r = store_statement(s, STORE_STMT_TRUTH_INSERT, &st);
        if (r < 0)
                return store_sweep_failed(s, r);
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, row->process_id)) < 0 ||
            (r = store_bind_truth(s, st, 3, t)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return store_sweep_failed(s, r);

        row->truth = (int32_t) s->n_truths;
        s->truths[s->n_truths++] = *t;
        return 0;
}

static int sweep_row_compare(const void *a, const void *b) {
        const SweepRow *x = a, *y = b;

        return (x->identity_id > y->identity_id) - (x->identity_id < y->identity_id);
}

static int u64_compare(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

/* The lower median (the member ranked (n + 1) / 2) of one field over rows[0..n). */
/* a + b, saturating at INT64_MAX: the largest figure SQLite stores (each input is at most that,
 * the collectors reject more). An identity summing absurd figures stays storable. */
static uint64_t add_sat(uint64_t a, uint64_t b) {
        if (a > (uint64_t) INT64_MAX || b > (uint64_t) INT64_MAX - a)
                return (uint64_t) INT64_MAX;
        return a + b;
}

static uint64_t sweep_rows_median(Store *s, const SweepRow *rows, size_t n, SmapsField f) {
        for (size_t i = 0; i < n; i++)
                s->scratch[i] = rows[i].kb[f];
        qsort(s->scratch, n, sizeof *s->scratch, u64_compare);
        return s->scratch[(n - 1) / 2];
}

#define STORE_TRUTH_ADD_(f, c) sum->f = add_sat(sum->f, t->f);

static void process_truth_add(ProcessTruth *sum, const ProcessTruth *t) {
        STORE_TRUTH_COLUMNS(STORE_TRUTH_ADD_)
}

/* Binds the pagemap and truth parameters of an identity_samples row from index i on: the
 * number of members with pagemap counts and their sums (NULL when none), the same for the
 * reconstruction. */
static int store_bind_identity_extras(Store *s, sqlite3_stmt *st, int i, const SweepRow *rows,
                                      size_t n) {
        PagemapClassCounts pagemap[_VMA_CLASS_MAX] = {};
        ProcessTruth truth = {};
        size_t n_pagemap = 0, n_truth = 0;
        int r;

        for (size_t j = 0; j < n; j++) {
                if (rows[j].pagemap >= 0) {
                        const PagemapClassCounts *pm = s->pagemaps[rows[j].pagemap];

                        for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                                pagemap[c].present_pages = add_sat(pagemap[c].present_pages,
                                                                   pm[c].present_pages);
                                pagemap[c].swapped_pages = add_sat(pagemap[c].swapped_pages,
                                                                   pm[c].swapped_pages);
                                pagemap[c].exclusive_pages = add_sat(pagemap[c].exclusive_pages,
                                                                     pm[c].exclusive_pages);
                        }
                        n_pagemap++;
                }
                if (rows[j].truth >= 0) {
                        process_truth_add(&truth, s->truths + rows[j].truth);
                        n_truth++;
                }
        }

        /* Sums left unbound are NULL: statements are cleared after each use. */
        r = store_bind_uint64(s, st, i, n_pagemap);
        if (r >= 0 && n_pagemap > 0)
                r = store_bind_pagemap_classes(s, st, i + 1, pagemap);
        if (r < 0)
                return r;
        i += 1 + STORE_PAGEMAP_N_COLUMNS;
        r = store_bind_uint64(s, st, i, n_truth);
        if (r >= 0 && n_truth > 0)
                r = store_bind_truth(s, st, i + 1, &truth);
        return r;
}

/* Writes one identity_samples row for the group rows[0..n) of one identity: every field summed
 * (NULL when no member has it), present = AND over the members, lower medians of Rss and Pss,
 * and the sums of pagemap counts and reconstructions over the members that have them. */
static int store_insert_identity_sample(Store *s, const SweepRow *rows, size_t n) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        uint32_t present_all = UINT32_MAX, present_any = 0;
        uint64_t sum[_SMAPS_FIELD_MAX] = {};
        int r;

        for (size_t i = 0; i < n; i++) {
                present_all &= rows[i].present;
                present_any |= rows[i].present;
                for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                        sum[f] = add_sat(sum[f], rows[i].kb[f]);
        }

        r = store_statement(s, STORE_STMT_IDENTITY_SAMPLE_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, rows[0].identity_id)) < 0 ||
            (r = store_bind_int64(s, st, 3, (int64_t) n)) < 0 ||
            (r = store_bind_int64(s, st, 4, present_all)) < 0)
                return r;
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                r = present_any & (1u << f) ? store_bind_uint64(s, st, 5 + f, sum[f]) :
                                              store_bind_null(s, st, 5 + f);
                if (r < 0)
                        return r;
        }
        if ((r = store_bind_uint64(s, st, 5 + _SMAPS_FIELD_MAX,
                                   sweep_rows_median(s, rows, n, SMAPS_RSS))) < 0 ||
            (r = store_bind_uint64(s, st, 6 + _SMAPS_FIELD_MAX,
                                   sweep_rows_median(s, rows, n, SMAPS_PSS))) < 0)
                return r;
        r = store_bind_identity_extras(s, st, 7 + _SMAPS_FIELD_MAX, rows, n);
        if (r < 0)
                return r;
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

/* The per-identity aggregates of the open sweep, from the rows kept in memory. */
static int store_sweep_aggregate(Store *s) {
        int r;

        if (s->allocated_scratch < s->n_rows) {
                uint64_t *p = reallocarray(s->scratch, s->n_rows, sizeof *p);
                if (!p)
                        return -ENOMEM;
                s->scratch = p;
                s->allocated_scratch = s->n_rows;
        }
        qsort(s->rows, s->n_rows, sizeof *s->rows, sweep_row_compare);
        for (size_t i = 0, j; i < s->n_rows; i = j) {
                for (j = i + 1; j < s->n_rows && s->rows[j].identity_id == s->rows[i].identity_id; j++)
                        ;
                r = store_insert_identity_sample(s, s->rows + i, j - i);
                if (r < 0)
                        return r;
        }

        /* The epoch is marked seen in the sweep's transaction rather than in one of its own. */
        _cleanup_reset_ sqlite3_stmt *epoch = NULL;
        r = store_statement(s, STORE_STMT_EPOCH_TOUCH, &epoch);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, epoch, 1, s->sweep_epoch_id)) < 0 ||
            (r = store_bind_uint64(s, epoch, 2, s->sweep_start_usec)) < 0)
                return r;
        r = store_step(s, epoch);
        return r < 0 ? r : 0;
}

static int store_sweep_finish(Store *s, const SweepSummary *summary) {
        _cleanup_reset_ sqlite3_stmt *fin = NULL;
        int r;

        r = store_sweep_aggregate(s);
        if (r < 0)
                return r;

        r = store_statement(s, STORE_STMT_SWEEP_FINISH, &fin);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, fin, 1, s->sweep_id)) < 0 ||
            (r = store_bind_uint64(s, fin, 2, summary->duration_usec)) < 0 ||
            (r = store_bind_int64(s, fin, 3, summary->sampled)) < 0 ||
            (r = store_bind_int64(s, fin, 4, summary->skipped)) < 0 ||
            (r = store_bind_int64(s, fin, 5, summary->vanished)) < 0 ||
            (r = store_bind_int64(s, fin, 6, summary->denied)) < 0 ||
            (r = store_bind_int64(s, fin, 7, summary->malformed)) < 0 ||
            (r = store_bind_int64(s, fin, 8, summary->pagemap_truncated)) < 0 ||
            (r = store_bind_int64(s, fin, 9, summary->pagemap_failed)) < 0)
                return r;
        r = store_step(s, fin);
        if (r < 0)
                return r;

        return store_run(s, STORE_STMT_COMMIT);
}

int64_t store_sweep_commit(Store *s, const SweepSummary *summary) {
        int64_t id;
        int r;

        assert(s);
        assert(summary);

        r = store_sweep_check(s);
        if (r == -EINVAL)
                return r;
        if (r >= 0)
                r = store_sweep_finish(s, summary);
        if (r < 0) {
                store_sweep_abort(s);
                return r;
        }

        id = s->sweep_id;
        /* This sweep's processes are what the next sweep compares with. */
        ProcessCache t = s->cache_prev;
        s->cache_prev = s->cache_next;
        s->cache_prev.epoch_id = s->sweep_epoch_id;
        s->cache_next = t;
        process_cache_clear(&s->cache_next);
        s->sweep_id = 0;
        s->sweep_epoch_id = 0;
        s->sweep_start_usec = 0;
        return id;
}

void store_sweep_abort(Store *s) {
        if (!s)
                return;

        if (s->sweep_id > 0)
                store_rollback(s);
        /* Rows the cache names may have been rolled back: start over from the database. */
        process_cache_clear(&s->cache_prev);
        process_cache_clear(&s->cache_next);
        s->sweep_id = 0;
        s->sweep_epoch_id = 0;
        s->sweep_start_usec = 0;
        s->sweep_error = 0;
}

/* ---- retention ---- */

/* The sweeps retention deletes: older than ?1 and not among the newest ?2 of their epoch. */
#define STORE_DOOMED_SWEEPS_SQL                                                                  \
        "SELECT id FROM (SELECT id, start_usec, row_number() OVER"                               \
        " (PARTITION BY epoch_id ORDER BY start_usec DESC, id DESC) AS newest FROM sweeps)"      \
        " WHERE start_usec < ?1 AND newest > ?2"

static int store_prune_exec(Store *s, const char *sql, int64_t cutoff, int64_t keep,
                            int *ret_changes) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int n, r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        n = sqlite3_bind_parameter_count(st);
        if (n >= 1 && (r = store_bind_int64(s, st, 1, cutoff)) < 0)
                return r;
        if (n >= 2 && (r = store_bind_int64(s, st, 2, keep)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (ret_changes)
                *ret_changes = sqlite3_changes(s->db);
        return 0;
}

static int store_prune_locked(Store *s, int64_t cutoff, int64_t keep, int *ret_deleted) {
        static const char *const raw[] = {
                "DELETE FROM process_truth WHERE sweep_id IN"
                " (SELECT id FROM sweeps WHERE start_usec < ?1)",
                "DELETE FROM process_extra WHERE sweep_id IN"
                " (SELECT id FROM sweeps WHERE start_usec < ?1)",
                "DELETE FROM process_samples WHERE sweep_id IN"
                " (SELECT id FROM sweeps WHERE start_usec < ?1)",
                "DELETE FROM identity_samples WHERE sweep_id IN (" STORE_DOOMED_SWEEPS_SQL ")",
                "DELETE FROM meminfo_samples WHERE sweep_id IN (" STORE_DOOMED_SWEEPS_SQL ")",
        };
        int deleted, r;

        for (size_t i = 0; i < ELEMENTSOF(raw); i++) {
                r = store_prune_exec(s, raw[i], cutoff, keep, NULL);
                if (r < 0)
                        return r;
        }
        r = store_prune_exec(s, "DELETE FROM sweeps WHERE id IN (" STORE_DOOMED_SWEEPS_SQL ")",
                             cutoff, keep, &deleted);
        if (r < 0)
                return r;
        r = store_prune_exec(s, "DELETE FROM processes WHERE id NOT IN"
                             " (SELECT process_id FROM process_samples)", cutoff, keep, NULL);
        if (r < 0)
                return r;

        *ret_deleted = deleted;
        return 0;
}

int store_prune(Store *s, uint64_t cutoff_usec, unsigned keep_per_epoch) {
        bool nested;
        int deleted = 0, r;

        assert(s);

        if (s->sweep_id > 0)
                return -EBUSY;

        r = store_write_begin(s, &nested);
        if (r < 0)
                return r;
        r = store_prune_locked(s, (int64_t) MIN(cutoff_usec, (uint64_t) INT64_MAX),
                               keep_per_epoch, &deleted);
        r = store_write_end(s, nested, r);
        if (r < 0)
                return r;
        return deleted;
}
