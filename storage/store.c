/* The Store: opening and checking a database file (refused files are never written), its
 * connection settings, and the statements of the sweep path, prepared once per connection. The
 * schema is described in schema.c; epochs are store-epoch.c, the sweep writer store-sweep.c,
 * retention store-prune.c, the read queries store-query.c. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
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
#include "string-util.h"

#define STORE_BUSY_TIMEOUT_MSEC 5000

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
                " config_source, config_lines, first_seen_usec, last_seen_usec, hostname,"
                " machine_id, cgroup_layout, mapcount_config, mapcount_probe,"
                " mapcount_probe_detail)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
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
                " pagemap_failed = ?9, reused = ?10 WHERE id = ?1",
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

        /* The processes of the epoch's sweep before the open one (?1: sweep_previous_id, found
         * by store_runs_begin()), to fill the writer's cache after a start. */
        [STORE_STMT_PROCESS_LOAD] =
                "SELECT p.pid, p.start_time_ticks, p.id, p.identity_id, p.comm, p.exe, p.cmdline,"
                " p.cgroup, p.unit, i.key FROM process_samples ps"
                " JOIN processes p ON p.id = ps.process_id JOIN identities i ON i.id = p.identity_id"
                " WHERE ps.last_sweep_id = ?1",
        [STORE_STMT_PROCESS_UPSERT] =
                "INSERT INTO processes (epoch_id, pid, start_time_ticks, identity_id, comm, exe,"
                " cmdline, cgroup, unit) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                " ON CONFLICT (epoch_id, pid, start_time_ticks) DO UPDATE SET"
                " identity_id = excluded.identity_id, comm = excluded.comm, exe = excluded.exe,"
                " cmdline = excluded.cmdline, cgroup = excluded.cgroup, unit = excluded.unit"
                " RETURNING id",
        /* A new run: a read, or a reused read (?4) that no run ending at the previous sweep
         * holds. */
        [STORE_STMT_SAMPLE_INSERT] =
                "INSERT INTO process_samples (sweep_id, last_sweep_id, process_id, present,"
                " reused_sweep_id" STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_) ")"
                " VALUES (?1, ?1, ?2, ?3, ?4" STORE_SMAPS_COLUMNS(STORE_COLUMN_PARAM_) ")",
        [STORE_STMT_SAMPLE_PAGEMAP_INSERT] =
                "INSERT INTO process_samples (sweep_id, last_sweep_id, process_id, present,"
                " reused_sweep_id" STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_) ", pagemap_truncated"
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_) ") VALUES (?1, ?1, ?2, ?3, ?4"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_PARAM_) ", ?"
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_PARAM_) ")",
        /* The process's run ending at the previous sweep (?2), if it can be extended: not a
         * figureless reused row of version 8, and nothing attached to its first sweep. */
        [STORE_STMT_SAMPLE_LAST] =
                "SELECT sweep_id, present, pagemap_truncated"
                STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_) STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_)
                " FROM process_samples ps"
                " WHERE process_id = ?1 AND last_sweep_id = ?2"
                " AND (reused_sweep_id IS NULL OR rss_kb IS NOT NULL)"
                " AND NOT EXISTS (SELECT 1 FROM process_extra e"
                " WHERE e.sweep_id = ps.sweep_id AND e.process_id = ps.process_id)"
                " AND NOT EXISTS (SELECT 1 FROM process_truth t"
                " WHERE t.sweep_id = ps.sweep_id AND t.process_id = ps.process_id)",
        /* A reused read (?4) extends the run ending at the previous sweep (?2) that holds it,
         * unlooked-at: every sweep since the read reused it. */
        [STORE_STMT_SAMPLE_EXTEND_REUSED] =
                "UPDATE process_samples SET last_sweep_id = ?3 WHERE process_id = ?1"
                " AND last_sweep_id = ?2 AND sweep_id <= ?4",
        [STORE_STMT_SAMPLE_EXTEND] =
                "UPDATE process_samples SET last_sweep_id = ?3"
                " WHERE sweep_id = ?1 AND process_id = ?2",
        /* A run the open sweep (?1) extended gets a reconstruction: the sweep's sample becomes
         * a run of its own, a copy of the figures, and the old run ends at the previous sweep
         * (?3) again. */
        [STORE_STMT_SAMPLE_SPLIT] =
                "INSERT INTO process_samples (sweep_id, last_sweep_id, process_id, present,"
                " reused_sweep_id, pagemap_truncated" STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_)
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_) ") SELECT ?1, ?1, process_id, present,"
                " NULL, pagemap_truncated" STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_)
                STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_) " FROM process_samples"
                " WHERE process_id = ?2 AND last_sweep_id = ?1 AND sweep_id < ?1",
        [STORE_STMT_SAMPLE_TRIM] =
                "UPDATE process_samples SET last_sweep_id = ?3"
                " WHERE process_id = ?2 AND last_sweep_id = ?1 AND sweep_id < ?1",
        [STORE_STMT_TRUTH_INSERT] =
                "INSERT INTO process_truth (sweep_id, process_id"
                STORE_TRUTH_COLUMNS(STORE_TRUTH_FIELD_LIST_) ") VALUES (?, ?"
                STORE_TRUTH_COLUMNS(STORE_TRUTH_PARAM_) ")",
        [STORE_STMT_EXTRA_INSERT] =
                "INSERT INTO process_extra (sweep_id, process_id, name, kb)"
                " VALUES (?1, ?2, ?3, ?4)",
        [STORE_STMT_MEMINFO_INSERT] =
                "INSERT INTO meminfo_samples (sweep_id, last_sweep_id, name, value, is_kb)"
                " VALUES (?1, ?1, ?2, ?3, ?4)",
        [STORE_STMT_IDENTITY_SAMPLE_INSERT] =
                "INSERT INTO identity_samples (sweep_id, last_sweep_id, sweeps, observations, "
                STORE_IDENTITY_AGGREGATE_COLUMNS ") VALUES (?1, ?1, 1, ?2"
                STORE_IDENTITY_AGGREGATE_PARAMS ")",
        [STORE_STMT_IDENTITY_SAMPLE_LAST] =
                "SELECT sweep_id, " STORE_IDENTITY_AGGREGATE_COLUMNS " FROM identity_samples"
                " WHERE identity_id = ?1 AND last_sweep_id = ?2",
        [STORE_STMT_IDENTITY_SAMPLE_EXTEND] =
                "UPDATE identity_samples SET last_sweep_id = ?3, sweeps = sweeps + 1,"
                " observations = observations + ?4, reused_processes = ?5"
                " WHERE sweep_id = ?1 AND identity_id = ?2",
        /* Every member extended its own run: the run ending at the previous sweep (?1) holds
         * the same figures if it had as many members (?6). */
        [STORE_STMT_IDENTITY_SAMPLE_EXTEND_MEMBERS] =
                "UPDATE identity_samples SET last_sweep_id = ?3, sweeps = sweeps + 1,"
                " observations = observations + ?4, reused_processes = ?5"
                " WHERE last_sweep_id = ?1 AND identity_id = ?2 AND processes = ?6",
        /* The epoch's sweep before the open one (?2): the runs ending there can be extended. */
        [STORE_STMT_SWEEP_PREVIOUS] =
                "SELECT id FROM sweeps WHERE epoch_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT 1",
        [STORE_STMT_CGROUP_FIND] =
                "SELECT id, path, unit, container FROM cgroups WHERE key = ?1",
        [STORE_STMT_CGROUP_UPSERT] =
                "INSERT INTO cgroups (key, path, unit, container, first_seen_usec, last_seen_usec)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (key) DO UPDATE SET"
                " path = excluded.path, unit = excluded.unit, container = excluded.container,"
                " last_seen_usec = max(last_seen_usec, excluded.last_seen_usec)"
                " RETURNING id",
        [STORE_STMT_CGROUP_NAME_INSERT] =
                "INSERT INTO cgroup_stat_names (name) VALUES (?1) RETURNING id",
        [STORE_STMT_CGROUP_SAMPLE_INSERT] =
                "INSERT INTO cgroup_samples (sweep_id, last_sweep_id, cgroup_id, v1, usage_kb,"
                " anon_kb, file_kb, file_mapped_kb, shmem_kb, anon_thp_kb, file_thp_kb,"
                " shmem_thp_kb, stat, forecast_anon_kb, forecast_file_mapped_kb)"
                " VALUES (?1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        [STORE_STMT_THP_SIZE_INSERT] =
                "INSERT INTO thp_sizes (sweep_id, size_kb, enabled) VALUES (?1, ?2, ?3)",
        [STORE_STMT_THP_SAMPLE_INSERT] =
                "INSERT INTO thp_samples (sweep_id, last_sweep_id, size_kb, name, value)"
                " VALUES (?1, ?1, ?2, ?3, ?4)",
        /* At commit: the runs ending at the previous sweep (?2) whose value the open sweep
         * (?1) repeats extend to it, and the open sweep's rows they now stand for go. */
        [STORE_STMT_MEMINFO_EXTEND] =
                "UPDATE meminfo_samples SET last_sweep_id = ?1 WHERE last_sweep_id = ?2"
                " AND EXISTS (SELECT 1 FROM meminfo_samples n WHERE n.sweep_id = ?1"
                " AND n.name = meminfo_samples.name AND n.value = meminfo_samples.value"
                " AND n.is_kb = meminfo_samples.is_kb)",
        [STORE_STMT_MEMINFO_MERGED_DELETE] =
                "DELETE FROM meminfo_samples WHERE sweep_id = ?1 AND EXISTS (SELECT 1"
                " FROM meminfo_samples o WHERE o.last_sweep_id = ?1"
                " AND o.name = meminfo_samples.name AND o.sweep_id < ?1)",
        [STORE_STMT_CGROUP_EXTEND] =
                "UPDATE cgroup_samples SET last_sweep_id = ?1 WHERE last_sweep_id = ?2"
                " AND EXISTS (SELECT 1 FROM cgroup_samples n WHERE n.sweep_id = ?1"
                " AND n.cgroup_id = cgroup_samples.cgroup_id"
                " AND (n.v1, n.usage_kb, n.anon_kb, n.file_kb, n.file_mapped_kb, n.shmem_kb,"
                " n.anon_thp_kb, n.file_thp_kb, n.shmem_thp_kb, n.stat, n.forecast_anon_kb,"
                " n.forecast_file_mapped_kb) IS (cgroup_samples.v1, cgroup_samples.usage_kb,"
                " cgroup_samples.anon_kb, cgroup_samples.file_kb, cgroup_samples.file_mapped_kb,"
                " cgroup_samples.shmem_kb, cgroup_samples.anon_thp_kb, cgroup_samples.file_thp_kb,"
                " cgroup_samples.shmem_thp_kb, cgroup_samples.stat,"
                " cgroup_samples.forecast_anon_kb, cgroup_samples.forecast_file_mapped_kb))",
        [STORE_STMT_CGROUP_MERGED_DELETE] =
                "DELETE FROM cgroup_samples WHERE sweep_id = ?1 AND EXISTS (SELECT 1"
                " FROM cgroup_samples o WHERE o.last_sweep_id = ?1"
                " AND o.cgroup_id = cgroup_samples.cgroup_id AND o.sweep_id < ?1)",
        [STORE_STMT_THP_EXTEND] =
                "UPDATE thp_samples SET last_sweep_id = ?1 WHERE last_sweep_id = ?2"
                " AND EXISTS (SELECT 1 FROM thp_samples n WHERE n.sweep_id = ?1"
                " AND n.size_kb = thp_samples.size_kb AND n.name = thp_samples.name"
                " AND n.value = thp_samples.value)",
        [STORE_STMT_THP_MERGED_DELETE] =
                "DELETE FROM thp_samples WHERE sweep_id = ?1 AND EXISTS (SELECT 1"
                " FROM thp_samples o WHERE o.last_sweep_id = ?1 AND o.size_kb = thp_samples.size_kb"
                " AND o.name = thp_samples.name AND o.sweep_id < ?1)",
};

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

int store_run(Store *s, StoreStatement id) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, id, &st);
        if (r < 0)
                return r;
        r = store_step(s, st);
        return r < 0 ? r : 0;
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

        /* A new database is created here, 0600 and never through a symlink, rather than by
         * SQLite (0644 less the umask): it holds every process's command line. SQLite gives
         * the -wal and -shm files the mode of the database. An existing file is left alone. A
         * symlink as the file itself is refused (a dangling one would create its target
         * elsewhere); directories may be links (StateDirectory= with DynamicUser=). */
        if (s->mode == STORE_READ_WRITE) {
                int fd = open(s->path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                struct stat st;

                if (fd >= 0)
                        (void) close(fd);
                else if (lstat(s->path, &st) >= 0 && S_ISLNK(st.st_mode))
                        return store_open_fail(-ELOOP, reterr, "it is a symbolic link: the "
                                               "database is written at its real path only");
        }

        rc = sqlite3_open_v2(s->path, &s->db, flags, NULL);
        if (rc != SQLITE_OK) {
                _cleanup_free_ char *dir = NULL;
                struct stat st;

                if (!s->db)
                        return -ENOMEM;
                r = store_error(s, rc);
                dir = path_dirname(s->path);
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

        /* No automatic checkpoint when the connection closes: SQLite's would merge a -wal
         * into a file store_check_identity() then refuses (a foreign database whose owner died
         * before its checkpoint), or run for a read-only process that happens to close last.
         * store_free() asks for one itself, as a read-write connection with no sweep open. */
        rc = sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
        if (rc != SQLITE_OK)
                return store_open_fail(store_error(s, rc), reterr, "%s", s->last_error ?: "");
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
        if (mode == STORE_READ_WRITE && stat(path, &s->file) < 0)
                s->file.st_ino = 0;

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
        s->ours = true;
        s->opened_version = (int) info.user_version;

        r = store_configure(s, reterr);
        if (r < 0)
                return r;

        if (mode == STORE_READ_WRITE) {
                r = schema_migrate(s);
                if (r == -EBUSY)
                        return store_open_fail(r, reterr, "locked by another writer (another "
                                               "mapstatd, or a tool holding a write "
                                               "transaction): %s",
                                               s->last_error ?: strerror(-r));
                if (r < 0 && s->opened_version == STORE_SCHEMA_VERSION)
                        return store_open_fail(r, reterr, "cannot prepare schema version %d: %s",
                                               s->opened_version,
                                               s->last_error ?: strerror(-r));
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

int store_check_file(Store *s) {
        struct stat st;
        const char *why;

        if (s->mode != STORE_READ_WRITE || s->file.st_ino == 0)
                return 0;
        if (stat(s->path, &st) < 0)
                why = errno == ENOENT ? "deleted" : "made unreachable";
        else if (st.st_dev == s->file.st_dev && st.st_ino == s->file.st_ino)
                return 0;
        else
                why = "replaced";
        free(s->last_error);
        if (asprintf(&s->last_error, "the database file was %s while open; nothing is recorded "
                     "until mapstatd is restarted", why) < 0)
                s->last_error = NULL;
        return -ESTALE;
}

Store *store_free(Store *s) {
        if (!s)
                return NULL;

        for (size_t i = 0; i < _STORE_STMT_MAX; i++)
                (void) sqlite3_finalize(s->statements[i]);
        /* Merge the WAL into the database before leaving, so that a `--once` run (or a stopped
         * daemon) leaves one self-contained file; best effort: a reader may still hold it. A
         * refused file is left as it was found, -wal included. */
        if (s->db && s->ours && s->mode == STORE_READ_WRITE && s->sweep_id <= 0)
                (void) sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                                 NULL);
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
        store_stat_names_clear(s);
        free(s->stat_pack);
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

