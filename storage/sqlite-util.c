/* The SQLite plumbing every storage file uses: the one conversion of result codes to -errno,
 * prepare/step/bind/column helpers, write transactions and savepoints, and read snapshots. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "macro.h"
#include "store-internal.h"
#include "string-util.h"

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

                dir = path_dirname(s->path ?: "");
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

int store_step(Store *s, sqlite3_stmt *st) {
        int rc;

        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                return 1;
        if (rc == SQLITE_DONE)
                return 0;
        return store_error(s, rc);
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

int store_bind_int64_list(Store *s, sqlite3_stmt *st, const int64_t *values, size_t n) {
        size_t count = (size_t) sqlite3_bind_parameter_count(st);
        int r;

        for (size_t i = 0; i < n && i < count; i++) {
                r = store_bind_int64(s, st, (int) i + 1, values[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_step_bound(Store *s, sqlite3_stmt *st, const int64_t *values, size_t n,
                     int *ret_changes) {
        int r;

        r = store_bind_int64_list(s, st, values, n);
        if (r >= 0)
                r = store_step(s, st);
        if (r < 0)
                return r;
        if (ret_changes)
                *ret_changes = sqlite3_changes(s->db);
        return 0;
}

int store_exec_bound(Store *s, const char *sql, const int64_t *values, size_t n,
                     int *ret_changes) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, sql, &st);
        if (r < 0)
                return r;
        return store_step_bound(s, st, values, n, ret_changes);
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

int store_sweep_failed(Store *s, int r) {
        if (s->sweep_id > 0 && sqlite3_get_autocommit(s->db) && s->sweep_error == 0)
                s->sweep_error = r;
        return r;
}

int store_savepoint_end(Store *s, int r) {
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

int store_write_begin(Store *s, bool *ret_nested) {
        bool nested;
        int r;

        nested = !sqlite3_get_autocommit(s->db);
        r = store_run(s, nested ? STORE_STMT_SAVEPOINT : STORE_STMT_BEGIN);
        if (r < 0)
                return r;
        *ret_nested = nested;
        return 0;
}

int store_write_end(Store *s, bool nested, int r) {
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


/* ---- read snapshots ---- */

int store_snapshot_begin(Store *s, bool *ret_began) {
        int r;

        assert(s);
        assert(ret_began);

        /* Inside a transaction (a sweep, an outer snapshot) the reads already see one state. */
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

void store_snapshot_end(Store *s, bool began) {
        /* Nothing was written: ending the snapshot cannot lose anything. */
        if (s && began && !sqlite3_get_autocommit(s->db))
                (void) sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}
