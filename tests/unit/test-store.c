/* Unit tests of storage/ opening files: creating and reopening a database, the files
 * store_open() must refuse without changing a byte (garbage, foreign, newer, missing, not
 * writable), and the migration of a version 1 file. Each test works in its own directory
 * under /tmp. */
#include <errno.h>
#include <sys/stat.h>

#include "store-test.h"

static void test_create_reopen(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        Store *s = NULL;
        char *err = NULL, *mode;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, &err), 0);
        ASSERT_NULL(err);
        ASSERT_TRUE(s != NULL);
        ASSERT_INT_EQ(store_opened_version(s), 0);
        ASSERT_NULL(store_last_error(s));
        s = store_free(s);
        ASSERT_NULL(s);

        ASSERT_INT_EQ(sql_int(db, "PRAGMA application_id"), 0x6D617073);
        ASSERT_INT_EQ(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        mode = sql_text(db, "PRAGMA journal_mode");
        ASSERT_STR_EQ(mode, "wal");
        free(mode);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 16);

        /* Reopening: nothing to migrate; read-only works too. */
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        ASSERT_INT_EQ(store_opened_version(s), STORE_SCHEMA_VERSION);
        s = store_free(s);
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_ONLY, NULL), 0);
        ASSERT_INT_EQ(store_opened_version(s), STORE_SCHEMA_VERSION);
        s = store_free(s);

        free(db);
        test_tmpdir_remove(dir);
}

/* store_open() must fail with `want` and leave the file exactly as it was. */
static void check_refused(const char *path, StoreMode mode, int want, const char *reason_part) {
        FileBytes before = file_bytes(path), after;
        Store *s = NULL;
        char *err = NULL;

        ASSERT_INT_EQ(store_open(&s, path, mode, &err), want);
        ASSERT_NULL(s);
        ASSERT_TRUE(err != NULL);
        if (err && reason_part && !strstr(err, reason_part)) {
                fprintf(stderr, "reason '%s' lacks '%s'\n", err, reason_part);
                ASSERT_TRUE(false);
        }
        after = file_bytes(path);
        ASSERT_TRUE(file_bytes_equal(&before, &after));
        store_free(s);
        free(err);
        free(before.data);
        free(after.data);
}

static void check_refused_unwritable(void *path) {
        check_refused(path, STORE_READ_WRITE, -EACCES, "cannot create it");
}

static void test_refusals(void) {
        char *dir = test_tmpdir_new("test-store");
        char *garbage = path_join(dir, "garbage.db"), *foreign = path_join(dir, "foreign.db");
        char *other_id = path_join(dir, "other-id.db"), *newer = path_join(dir, "newer.db");
        char *missing_dir = path_join(dir, "nonexistent/mapstatd.db");
        char *missing = path_join(dir, "missing.db"), *sub = path_join(dir, "nonexistent");
        char junk[8192];
        Store *s = NULL;
        struct stat st;
        char bump[64];

        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (char) ('a' + i % 26);
        write_file(garbage, junk, sizeof junk);
        check_refused(garbage, STORE_READ_WRITE, -EBADMSG, "not an SQLite database");
        check_refused(garbage, STORE_READ_ONLY, -EBADMSG, NULL);

        sql_exec(foreign, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
        check_refused(foreign, STORE_READ_WRITE, -EBADMSG, "not a mapstatd database");
        check_refused(foreign, STORE_READ_ONLY, -EBADMSG, "not a mapstatd database");

        sql_exec(other_id, "PRAGMA application_id = 42;");
        check_refused(other_id, STORE_READ_WRITE, -EBADMSG, "0x0000002a");

        ASSERT_INT_EQ(store_open(&s, newer, STORE_READ_WRITE, NULL), 0);
        s = store_free(s);
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION + 1);
        sql_exec(newer, bump);
        check_refused(newer, STORE_READ_WRITE, -EPROTONOSUPPORT, "newer");
        check_refused(newer, STORE_READ_ONLY, -EPROTONOSUPPORT, NULL);
        snprintf(bump, sizeof bump, "version %d", STORE_SCHEMA_VERSION + 1);
        check_refused(newer, STORE_READ_WRITE, -EPROTONOSUPPORT, bump);

        check_refused(missing_dir, STORE_READ_WRITE, -ENOENT, "does not exist");
        ASSERT_TRUE(stat(sub, &st) < 0 && errno == ENOENT);
        check_refused(missing, STORE_READ_ONLY, -ENOENT, "does not exist");
        ASSERT_TRUE(stat(missing, &st) < 0 && errno == ENOENT);

        {
                /* Root writes any directory: the check runs as nobody then. */
                char *locked = path_join(dir, "locked"), *inside = path_join(locked, "mapstatd.db");

                ASSERT_INT_EQ(chmod(dir, 0755), 0);
                ASSERT_INT_EQ(mkdir(locked, 0555), 0);
                test_run_unprivileged(check_refused_unwritable, inside);
                ASSERT_TRUE(stat(inside, &st) < 0 && errno == ENOENT);
                (void) chmod(locked, 0700);
                free(inside);
                free(locked);
        }

        free(garbage);
        free(foreign);
        free(other_id);
        free(newer);
        free(missing_dir);
        free(missing);
        free(sub);
        test_tmpdir_remove(dir);
}


/* ---- migration ---- */

/* The schema of version 1 as released (storage/schema.c, step 0), frozen here so that the
 * migration is tested from the file an earlier build wrote. */
static const char schema_v1_sql[] =
        "PRAGMA application_id = 1835102323;\n" /* 0x6D617073 */
        "CREATE TABLE epochs (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        boot_id TEXT NOT NULL,\n"
        "        release TEXT NOT NULL,\n"
        "        version TEXT,\n"
        "        page_size INTEGER,\n"
        "        mapcount_mode TEXT NOT NULL,\n"
        "        config_source TEXT,\n"
        "        config_lines TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL,\n"
        "        UNIQUE (boot_id, release, mapcount_mode)\n"
        ");\n"
        "CREATE TABLE epoch_settings (\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        key TEXT NOT NULL,\n"
        "        value TEXT NOT NULL,\n"
        "        PRIMARY KEY (epoch_id, key)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE sweeps (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        start_usec INTEGER NOT NULL,\n"
        "        duration_usec INTEGER,\n"
        "        sampled INTEGER,\n"
        "        skipped INTEGER,\n"
        "        vanished INTEGER,\n"
        "        denied INTEGER,\n"
        "        malformed INTEGER\n"
        ");\n"
        "CREATE INDEX sweeps_epoch_start ON sweeps (epoch_id, start_usec);\n"
        "CREATE TABLE identities (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        key TEXT NOT NULL UNIQUE,\n"
        "        comm TEXT,\n"
        "        exe TEXT,\n"
        "        cmdline TEXT,\n"
        "        unit TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL\n"
        ");\n"
        "CREATE TABLE processes (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        pid INTEGER NOT NULL,\n"
        "        start_time_ticks INTEGER NOT NULL,\n"
        "        identity_id INTEGER NOT NULL REFERENCES identities (id),\n"
        "        comm TEXT,\n"
        "        exe TEXT,\n"
        "        cmdline TEXT,\n"
        "        cgroup TEXT,\n"
        "        unit TEXT,\n"
        "        UNIQUE (epoch_id, pid, start_time_ticks)\n"
        ");\n"
        "CREATE TABLE process_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        process_id INTEGER NOT NULL REFERENCES processes (id),\n"
        "        present INTEGER NOT NULL,\n"
        "        rss_kb INTEGER,\n"
        "        pss_kb INTEGER,\n"
        "        pss_dirty_kb INTEGER,\n"
        "        pss_anon_kb INTEGER,\n"
        "        pss_file_kb INTEGER,\n"
        "        pss_shmem_kb INTEGER,\n"
        "        shared_clean_kb INTEGER,\n"
        "        shared_dirty_kb INTEGER,\n"
        "        private_clean_kb INTEGER,\n"
        "        private_dirty_kb INTEGER,\n"
        "        referenced_kb INTEGER,\n"
        "        anonymous_kb INTEGER,\n"
        "        ksm_kb INTEGER,\n"
        "        lazyfree_kb INTEGER,\n"
        "        anon_huge_pages_kb INTEGER,\n"
        "        shmem_pmd_mapped_kb INTEGER,\n"
        "        file_pmd_mapped_kb INTEGER,\n"
        "        shared_hugetlb_kb INTEGER,\n"
        "        private_hugetlb_kb INTEGER,\n"
        "        swap_kb INTEGER,\n"
        "        swap_pss_kb INTEGER,\n"
        "        locked_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX process_samples_process ON process_samples (process_id);\n"
        "CREATE TABLE process_extra (\n"
        "        sweep_id INTEGER NOT NULL,\n"
        "        process_id INTEGER NOT NULL,\n"
        "        name TEXT NOT NULL,\n"
        "        kb INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, process_id, name),\n"
        "        FOREIGN KEY (sweep_id, process_id)\n"
        "                REFERENCES process_samples (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE identity_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        identity_id INTEGER NOT NULL REFERENCES identities (id),\n"
        "        processes INTEGER NOT NULL,\n"
        "        present INTEGER NOT NULL,\n"
        "        rss_kb INTEGER,\n"
        "        pss_kb INTEGER,\n"
        "        pss_dirty_kb INTEGER,\n"
        "        pss_anon_kb INTEGER,\n"
        "        pss_file_kb INTEGER,\n"
        "        pss_shmem_kb INTEGER,\n"
        "        shared_clean_kb INTEGER,\n"
        "        shared_dirty_kb INTEGER,\n"
        "        private_clean_kb INTEGER,\n"
        "        private_dirty_kb INTEGER,\n"
        "        referenced_kb INTEGER,\n"
        "        anonymous_kb INTEGER,\n"
        "        ksm_kb INTEGER,\n"
        "        lazyfree_kb INTEGER,\n"
        "        anon_huge_pages_kb INTEGER,\n"
        "        shmem_pmd_mapped_kb INTEGER,\n"
        "        file_pmd_mapped_kb INTEGER,\n"
        "        shared_hugetlb_kb INTEGER,\n"
        "        private_hugetlb_kb INTEGER,\n"
        "        swap_kb INTEGER,\n"
        "        swap_pss_kb INTEGER,\n"
        "        locked_kb INTEGER,\n"
        "        median_rss_kb INTEGER,\n"
        "        median_pss_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, identity_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE meminfo_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        name TEXT NOT NULL,\n"
        "        value INTEGER NOT NULL,\n"
        "        is_kb INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, name)\n"
        ") WITHOUT ROWID;\n";

static void test_migrate_v1(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        ProcessGroup *g = NULL;
        size_t n = 0, total = 0;
        Store *s = NULL;
        StoreHealth h;
        int64_t sid, id2;
        char *err = NULL;

        sql_exec(db, schema_v1_sql);
        sql_exec(db, "PRAGMA user_version = 1;"
                 "INSERT INTO epochs VALUES (1, 'boot-old', '6.1.0', 'v', 4096, 'page_mapcount',"
                 " NULL, NULL, 10, 20);"
                 "INSERT INTO sweeps VALUES (1, 1, 1000, 5, 1, 0, 0, 0, 0);"
                 "INSERT INTO identities VALUES (1, '" KEY_FOO "', 'foo', '/usr/bin/foo',"
                 " '/usr/bin/foo', NULL, 1000, 1000);"
                 "INSERT INTO processes VALUES (1, 1, 100, 10, 1, 'foo', '/usr/bin/foo',"
                 " '/usr/bin/foo', NULL, NULL);"
                 "INSERT INTO process_samples (sweep_id, process_id, present, rss_kb, pss_kb)"
                 " VALUES (1, 1, 3, 300, 50);"
                 "INSERT INTO identity_samples (sweep_id, identity_id, processes, present,"
                 " rss_kb, pss_kb, median_rss_kb, median_pss_kb)"
                 " VALUES (1, 1, 1, 3, 300, 50, 300, 50);");

        /* Read-only cannot migrate; read-write does, once. */
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_ONLY, &err), -EPROTONOSUPPORT);
        free(err);
        err = NULL;
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, &err), 0);
        ASSERT_NULL(err);
        if (!s)
                goto finish;
        ASSERT_INT_EQ(store_opened_version(s), 1);
        ASSERT_INT_EQ(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND"
                              " name IN ('identity_samples_identity', 'sweeps_start')"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 16);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_table_info('process_samples')"),
                      3 + 22 + 16 + 1 + 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_table_info('identity_samples')"),
                      4 + 22 + 2 + 16 + 14 + 1 + 3);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"
                              " WHERE reused_sweep_id IS NULL"), 1);

        /* Rows written before the runs are runs of their own sweep, one observation each. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"
                              " WHERE last_sweep_id = sweep_id"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples WHERE"
                              " last_sweep_id = sweep_id AND sweeps = 1 AND observations = 1"), 1);

        /* The data survives; the new columns read NULL. */
        ASSERT_INT_EQ(sql_int(db, "SELECT rss_kb FROM process_samples"), 300);
        ASSERT_INT_EQ(sql_int(db, "SELECT pss_kb FROM identity_samples"), 50);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_rss_kb FROM identity_samples"), 300);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples WHERE"
                              " pagemap_truncated IS NULL AND anon_present_pages IS NULL"
                              " AND hugetlb_exclusive_pages IS NULL"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples WHERE"
                              " pagemap_processes IS NULL AND truth_processes IS NULL"
                              " AND shmem_present_pages IS NULL AND truth_uss_kb IS NULL"
                              " AND partially_mapped_folios IS NULL"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps WHERE pagemap_truncated IS NULL"
                              " AND pagemap_failed IS NULL"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 0);

        /* The queries read the old rows as not scanned. */
        ASSERT_INT_EQ(store_epoch_identity_series(s, 1, &(SeriesSelection) {}, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1 && series[0].n == 1) {
                ASSERT_U64_EQ(points[0].rss_kb, 300);
                ASSERT_U64_EQ(points[0].metric_kb[COMPARE_METRIC_PSS], 50);
                ASSERT_FALSE(points[0].has_pagemap);
                ASSERT_FALSE(points[0].has_truth);
        }
        free(series);
        free(points);
        ASSERT_INT_EQ(store_latest_process_groups(s, PROCESS_SORT_PSS, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1) {
                ASSERT_U64_EQ(g[0].sums.sum_kb[SMAPS_RSS], 300);
                ASSERT_FALSE(identity_aggregate_has_pagemap(&g[0].sums));
                ASSERT_FALSE(identity_aggregate_has_truth(&g[0].sums));
        }
        process_group_array_free(g, n);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, 1);
        ASSERT_INT_EQ(h.last_pagemap_truncated, 0);
        ASSERT_INT_EQ(h.last_pagemap_failed, 0);

        /* And the migrated file takes new sweeps, with a reconstruction. */
        ASSERT_INT_EQ(store_sweep_begin(s, 1, 2000), 0);
        ASSERT_INT_EQ(add_foo_pagemap(s, 100, 10, true, false), 0);
        ASSERT_INT_EQ(add_truth(s, 100, 10), 0);
        id2 = store_sweep_commit(s, &(SweepSummary) { .sampled = 1 });
        ASSERT_TRUE(id2 > 1);
        ASSERT_INT_EQ(identity_column(db, id2, KEY_FOO, "truth_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, id2, KEY_FOO, "pagemap_processes"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes"), 1);  /* recognised */
        s = store_free(s);

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (s)
                ASSERT_INT_EQ(store_opened_version(s), STORE_SCHEMA_VERSION);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_integrity_check"
                              " WHERE integrity_check = 'ok'"), 1);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}


int main(void) {
        test_create_reopen();
        test_refusals();
        test_migrate_v1();
        return test_exit();
}
