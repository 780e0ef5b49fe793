/* Unit tests of storage/ writing and reading sweeps: hand-built samples across several epochs,
 * every query checked against sums, medians and series worked out here; retention; rollback and
 * a failed statement; pagemap counts and reconstructions summed per identity and converted with
 * the epoch's page size. Each test works in its own directory under /tmp. */
#include <errno.h>

#include "store-test.h"

/* The default pair of store_epoch_pair(), as ids (0 for none). */
static int default_pair(Store *s, int64_t *ret_baseline, int64_t *ret_candidate) {
        EpochPair pair = {};
        int64_t unknown = 0;
        int r;

        r = store_epoch_pair(s, 0, 0, &pair, &unknown);
        if (r < 0)
                return r;
        *ret_baseline = pair.baseline ? pair.baseline->id : 0;
        *ret_candidate = pair.candidate ? pair.candidate->id : 0;
        epoch_pair_done(&pair);
        return 0;
}

static void check_groups_after_full_sweep(Store *s, int64_t sweep_id) {
        ProcessGroup *g = NULL;
        size_t n = 99, total = 99;
        int64_t sid = -1;

        ASSERT_INT_EQ(store_latest_process_groups(s, PROCESS_SORT_PSS, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(sid, sweep_id);
        ASSERT_INT_EQ(total, 2);
        ASSERT_INT_EQ(n, 2);
        if (n != 2)
                return;

        /* bar's Pss (2200 kB) is above foo's (50 + 70 + 10). */
        ASSERT_STR_EQ(g[0].identity.key, KEY_BAR);
        ASSERT_STR_EQ(g[0].identity.comm, "bar");
        ASSERT_STR_EQ(g[0].identity.unit, "test.service");
        ASSERT_INT_EQ(g[0].n_pids, 1);
        ASSERT_INT_EQ(g[0].pids[0], 200);
        ASSERT_U64_EQ(g[0].sums.present_all, ALL_FIELDS);
        ASSERT_U64_EQ(g[0].sums.sum_kb[SMAPS_PSS], 2200);
        ASSERT_INT_EQ(g[0].n_extra, 2);
        ASSERT_STR_EQ(g[0].extra[0].name, "Bar_New");
        ASSERT_U64_EQ(g[0].extra[0].kb, 3);
        ASSERT_STR_EQ(g[0].extra[1].name, "Foo_New");
        ASSERT_U64_EQ(g[0].extra[1].kb, 7);

        ASSERT_STR_EQ(g[1].identity.key, KEY_FOO);
        ASSERT_STR_EQ(g[1].identity.exe, "/usr/bin/foo");
        ASSERT_INT_EQ(g[1].n_pids, 3);
        ASSERT_INT_EQ(g[1].pids[0], 100);
        ASSERT_INT_EQ(g[1].pids[1], 101);
        ASSERT_INT_EQ(g[1].pids[2], 102);
        ASSERT_U64_EQ(g[1].sums.present_all, ALL_FIELDS & ~(1u << SMAPS_KSM));
        ASSERT_U64_EQ(g[1].sums.sum_kb[SMAPS_RSS], 600);
        ASSERT_U64_EQ(g[1].sums.sum_kb[SMAPS_PSS], 130);
        ASSERT_U64_EQ(g[1].sums.sum_kb[SMAPS_KSM], 13100 + 13102);      /* 101 has no Ksm */
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                uint64_t want = field_of(f, 100, 0) + field_of(f, 101, 0) + field_of(f, 102, 0);

                ASSERT_U64_EQ(g[1].sums.sum_kb[f], want);
        }
        ASSERT_INT_EQ(g[1].n_extra, 0);
        process_group_array_free(g, n);

        /* Paging. */
        ASSERT_INT_EQ(store_latest_process_groups(s, PROCESS_SORT_PSS, 1, 1, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(n, 1);
        ASSERT_INT_EQ(total, 2);
        if (n == 1)
                ASSERT_STR_EQ(g[0].identity.key, KEY_FOO);
        process_group_array_free(g, n);
        ASSERT_INT_EQ(store_latest_process_groups(s, PROCESS_SORT_PSS, 5, 2, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(n, 0);
        ASSERT_INT_EQ(total, 2);
        process_group_array_free(g, n);
}

static void check_identity_series_a(Store *s, int64_t epoch_a, size_t n_expected_points,
                                    bool first_pruned) {
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        size_t n = 0;
        /* Sweeps A1 (full), A2 (two foo), A3 (full); A1 is gone after pruning. */
        const int kinds[] = { SWEEP_FULL, SWEEP_TWO_FOO, SWEEP_FULL };
        size_t first = first_pruned ? 1 : 0;

        ASSERT_INT_EQ(store_epoch_identity_series(s, epoch_a, &(SeriesSelection) {}, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        if (n != 2)
                goto finish;
        ASSERT_TRUE(series[0].identity_id < series[1].identity_id);
        ASSERT_INT_EQ(series[0].n, n_expected_points);
        ASSERT_INT_EQ(series[1].n, n_expected_points);
        ASSERT_TRUE(series[0].points == points);
        ASSERT_TRUE(series[1].points == points + series[0].n);

        for (size_t i = 0; i < series[0].n && i + first < 3; i++) {
                const IdentityPoint *p = series[0].points + i;
                int kind = kinds[i + first];
                int variant = kind == SWEEP_TWO_FOO ? 2 : 0;
                int pids[3] = { 100, 101, 102 };
                size_t np = kind == SWEEP_TWO_FOO ? 2 : 3;
                uint64_t rss = 0, shared = 0, priv = 0, pss = 0, anon = 0, file = 0, shmem = 0;

                for (size_t j = 0; j < np; j++) {
                        rss += field_of(SMAPS_RSS, pids[j], variant);
                        shared += field_of(SMAPS_SHARED_CLEAN, pids[j], variant) +
                                  field_of(SMAPS_SHARED_DIRTY, pids[j], variant);
                        priv += field_of(SMAPS_PRIVATE_CLEAN, pids[j], variant) +
                                field_of(SMAPS_PRIVATE_DIRTY, pids[j], variant);
                        pss += field_of(SMAPS_PSS, pids[j], variant);
                        anon += field_of(SMAPS_PSS_ANON, pids[j], variant);
                        file += field_of(SMAPS_PSS_FILE, pids[j], variant);
                        shmem += field_of(SMAPS_PSS_SHMEM, pids[j], variant);
                }
                ASSERT_INT_EQ(p->processes, np);
                ASSERT_U64_EQ(p->rss_kb, rss);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_SHARED], shared);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PRIVATE], priv);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS], pss);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS_ANON], anon);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS_FILE], file);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS_SHMEM], shmem);
        }
        /* Hand-checked: A1 foo Rss 300 + 100 + 200, A2 400 + 100. */
        if (!first_pruned) {
                ASSERT_U64_EQ(series[0].points[0].rss_kb, 600);
                ASSERT_U64_EQ(series[0].points[1].rss_kb, 500);
                ASSERT_U64_EQ(series[0].points[1].metric_kb[COMPARE_METRIC_PSS], 120);
        }
        for (size_t i = 0; i < series[1].n; i++) {
                ASSERT_INT_EQ(series[1].points[i].processes, 1);
                ASSERT_U64_EQ(series[1].points[i].rss_kb, kb_of(SMAPS_RSS, 200));
        }
finish:
        free(series);
        free(points);
}

static void check_system_series_a(Store *s, int64_t epoch_a) {
        SystemSeries *series = NULL;
        SeriesPoint *points = NULL;
        size_t n = 0;

        ASSERT_INT_EQ(store_epoch_system_series(s, epoch_a, 0, &series, &n, &points), 0);
        /* HugePages_Total is a count, not kB: left out. */
        ASSERT_INT_EQ(n, 3);
        if (n == 3) {
                ASSERT_STR_EQ(series[0].name, "AnonPages");
                ASSERT_STR_EQ(series[1].name, "MemFree");
                ASSERT_STR_EQ(series[2].name, "MemTotal");
                ASSERT_INT_EQ(series[1].n, 3);
                for (size_t i = 0; i < series[1].n; i++) {
                        ASSERT_DOUBLE_NEAR(series[1].points[i].value_kb, 501000 + 1000.0 * i, 0);
                        ASSERT_DOUBLE_NEAR(series[1].points[i].base_kb, 1000000, 0);
                }
                ASSERT_DOUBLE_NEAR(series[0].points[2].value_kb, 200000, 0);
                ASSERT_TRUE(series[2].points == points + 6);
        }
        free(series);
        free(points);
}


static void test_sweeps_and_queries(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        int64_t a, b, c, d, a1, a3, b2, c1, baseline = -1, candidate = -1;
        Store *s = NULL, *ro = NULL;
        EpochInfo *epochs = NULL;
        StoreHealth h;
        size_t n = 0;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;

        /* Nothing yet. */
        ASSERT_INT_EQ(default_pair(s, &baseline, &candidate), 0);
        ASSERT_INT_EQ(baseline, 0);
        ASSERT_INT_EQ(candidate, 0);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, 0);
        ASSERT_INT_EQ(h.sweeps_stored, 0);

        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 500000, true, true);
        ASSERT_INT_EQ(epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 900000, true, false),
                      a);

        a1 = sweep_write(s, a, 1000000, SWEEP_FULL, 1);
        check_groups_after_full_sweep(s, a1);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_rss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 200);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_pss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 50);
        (void) sweep_write(s, a, 2000000, SWEEP_TWO_FOO, 2);
        /* Two processes: the lower median. */
        ASSERT_INT_EQ(sql_int(db, "SELECT median_rss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"
                              " ORDER BY sweep_id DESC"), 100);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_pss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"
                              " ORDER BY sweep_id DESC"), 50);
        ASSERT_INT_EQ(sql_int(db, "SELECT present FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"),
                      ALL_FIELDS & ~(1u << SMAPS_KSM));
        a3 = sweep_write(s, a, 3000000, SWEEP_FULL, 3);

        b = epoch_make(s, "6.18.0", "boot-b", MAPCOUNT_MODE_NO_PAGE, 3500000, false, true);
        ASSERT_TRUE(b > a);
        (void) sweep_write(s, b, 4000000, SWEEP_FULL, 4);
        b2 = sweep_write(s, b, 5000000, SWEEP_REUSED_PID, 5);

        /* A reused PID with a new start time is another process. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes WHERE pid = 100 AND"
                              " epoch_id = (SELECT id FROM epochs WHERE boot_id = 'boot-b')"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes WHERE pid = 100 AND"
                              " epoch_id = (SELECT id FROM epochs WHERE boot_id = 'boot-a')"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identities"), 2);

        ASSERT_INT_EQ(default_pair(s, &baseline, &candidate), 0);
        ASSERT_INT_EQ(candidate, b);
        ASSERT_INT_EQ(baseline, a);

        /* Same release and mode as b on another boot: b is no baseline for c. */
        c = epoch_make(s, "6.18.0", "boot-c", MAPCOUNT_MODE_NO_PAGE, 5500000, false, true);
        c1 = sweep_write(s, c, 6000000, SWEEP_FOO_ONLY, 6);
        d = epoch_make(s, "6.19.0", "boot-d", MAPCOUNT_MODE_NO_PAGE, 7000000, false, true);
        ASSERT_INT_EQ(default_pair(s, &baseline, &candidate), 0);
        ASSERT_INT_EQ(candidate, c);
        ASSERT_INT_EQ(baseline, a);

        /* The web server's view: a read-only connection while the writer is open. */
        ASSERT_INT_EQ(store_open(&ro, db, STORE_READ_ONLY, NULL), 0);
        if (!ro)
                goto finish;
        ASSERT_INT_EQ(store_sweep_begin(ro, c, 8000000), -EROFS);
        ASSERT_TRUE(store_last_error(ro) != NULL);

        ASSERT_INT_EQ(store_list_epochs(ro, &epochs, &n), 0);
        ASSERT_INT_EQ(n, 4);
        if (n == 4) {
                ASSERT_INT_EQ(epochs[0].id, a);
                ASSERT_STR_EQ(epochs[0].boot_id, "boot-a");
                ASSERT_STR_EQ(epochs[0].release, "6.12.0");
                ASSERT_STR_EQ(epochs[0].version, "Linux version test");
                ASSERT_INT_EQ(epochs[0].mapcount_mode, MAPCOUNT_MODE_PAGE);
                ASSERT_U64_EQ(epochs[0].page_size, 4096);
                ASSERT_NULL(epochs[0].config_source);
                ASSERT_STR_EQ(epochs[0].hostname, "host-a");
                ASSERT_STR_EQ(epochs[0].machine_id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
                ASSERT_U64_EQ(epochs[0].first_seen_usec, 500000);
                ASSERT_U64_EQ(epochs[0].last_seen_usec, 3000000);  /* its last sweep, after the last ensure */
                ASSERT_U64_EQ(epochs[0].sweeps, 3);
                ASSERT_U64_EQ(epochs[0].first_sweep_usec, 1000000);
                ASSERT_U64_EQ(epochs[0].last_sweep_usec, 3000000);
                ASSERT_INT_EQ(epochs[0].n_settings, 2);
                if (epochs[0].n_settings == 2) {
                        ASSERT_STR_EQ(epochs[0].settings[0].key, "transparent_hugepage/defrag");
                        ASSERT_STR_EQ(epochs[0].settings[0].value, "never");
                        ASSERT_STR_EQ(epochs[0].settings[1].key, "transparent_hugepage/enabled");
                        ASSERT_STR_EQ(epochs[0].settings[1].value, "madvise");
                }
                ASSERT_INT_EQ(epochs[1].mapcount_mode, MAPCOUNT_MODE_NO_PAGE);
                ASSERT_NULL(epochs[1].hostname);
                ASSERT_NULL(epochs[1].machine_id);
                ASSERT_U64_EQ(epochs[1].sweeps, 2);
                ASSERT_INT_EQ(epochs[1].n_settings, 0);
                ASSERT_INT_EQ(epochs[3].id, d);
                ASSERT_U64_EQ(epochs[3].sweeps, 0);
                ASSERT_U64_EQ(epochs[3].first_sweep_usec, 0);
                ASSERT_U64_EQ(epochs[3].last_sweep_usec, 0);
        }
        epoch_info_array_free(epochs, n);

        check_identity_series_a(ro, a, 3, false);
        check_system_series_a(ro, a);
        {
                IdentitySeries *series = NULL;
                IdentityPoint *points = NULL;
                SystemSeries *ss = NULL;
                SeriesPoint *sp = NULL;

                ASSERT_INT_EQ(store_epoch_identity_series(ro, 9999, &(SeriesSelection) {}, &series, &n, &points),
                              -ENOENT);
                ASSERT_INT_EQ(store_epoch_system_series(ro, 9999, 0, &ss, &n, &sp), -ENOENT);
                /* An epoch without sweeps: empty, not an error. */
                ASSERT_INT_EQ(store_epoch_identity_series(ro, d, &(SeriesSelection) {}, &series, &n, &points), 0);
                ASSERT_INT_EQ(n, 0);
                free(series);
                free(points);
        }

        ASSERT_INT_EQ(store_health(ro, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, c1);
        ASSERT_U64_EQ(h.last_sweep_usec, 6000000);
        ASSERT_U64_EQ(h.last_duration_usec, 1234);
        ASSERT_INT_EQ(h.last_sampled, 4);
        ASSERT_INT_EQ(h.last_skipped, 3);
        ASSERT_U64_EQ(h.sweeps_stored, 6);
        ASSERT_INT_EQ(h.current_epoch_id, c);

        {
                IdentityInfo info = {};

                ASSERT_INT_EQ(store_get_identity(ro, 9999, &info), -ENOENT);
                ASSERT_NULL(info.key);
        }

        /* Retention: everything before 4.5 s is old; the newest 2 sweeps of each epoch stay. */
        ASSERT_INT_EQ(store_prune(s, 4500000, 2), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps"), 5);
        ASSERT_INT_EQ(sql_int(db, "SELECT min(start_usec) FROM sweeps"), 2000000);
        /* Raw samples only of sweeps at or after the cutoff: b2 (2 processes), c1 (1). */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 3);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(DISTINCT sweep_id) FROM process_samples"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_extra"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes"), 3);
        /* Aggregates and meminfo of the kept sweeps: foo's a2, a3, b1, b2 and c1, and bar's
         * runs (its figures never change) a2-a3, now beginning after the deleted a1, and
         * b1-b2. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples"), 7);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples i JOIN identities d"
                              " ON d.id = i.identity_id WHERE d.key = '" KEY_BAR "'"
                              " AND i.sweep_id < i.last_sweep_id"), 2);
        /* Every kept sweep still has its 4 meminfo fields, in fewer rows: runs of the values
         * that did not change. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps w JOIN meminfo_samples m"
                              " ON m.sweep_id <= w.id AND m.last_sweep_id >= w.id"
                              " AND w.epoch_id = (SELECT epoch_id FROM sweeps"
                              " WHERE id = m.last_sweep_id)"), 5 * 4);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM meminfo_samples"), 14);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identities"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM epochs"), 4);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        check_identity_series_a(ro, a, 2, true);
        ASSERT_INT_EQ(store_prune(s, 4500000, 2), 0);
        (void) a3;
        (void) b2;

finish:
        store_free(ro);
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}


static void test_abort_and_failed_statement(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        SweepSummary sum = { .sampled = 2 };
        Store *s = NULL;
        int64_t a, id;
        StoreHealth h;
        int r;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        store_sweep_abort(s);   /* nothing begun: harmless */
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);

        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), 0);
        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), -EBUSY);
        ASSERT_INT_EQ(add_foo(s, 100, 10, 0), 0);
        store_sweep_abort(s);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.sweeps_stored, 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identities"), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes"), 0);
        ASSERT_INT_EQ(add_foo(s, 100, 10, 0), -EINVAL);    /* no sweep open */

        /* The same process twice violates the primary key; the sweep goes on without it. */
        ASSERT_INT_EQ(store_sweep_begin(s, a, 2000), 0);
        ASSERT_INT_EQ(add_foo(s, 100, 10, 0), 0);
        r = add_foo(s, 100, 10, 0);
        ASSERT_INT_EQ(r, -EIO);
        ASSERT_TRUE(store_last_error(s) && strstr(store_last_error(s), "UNIQUE") != NULL);
        ASSERT_INT_EQ(add_bar(s), 0);
        id = store_sweep_commit(s, &sum);
        ASSERT_TRUE(id > 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_extra"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT sum(processes) FROM identity_samples"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT rss_kb FROM identity_samples i JOIN identities d"
                              " ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 300);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, id);
        ASSERT_INT_EQ(h.last_sampled, 2);

        /* A sweep of an epoch that does not exist fails and leaves nothing behind. */
        ASSERT_INT_EQ(store_sweep_begin(s, 9999, 3000), -EIO);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps"), 1);
        /* ... and the connection is still usable. */
        ASSERT_INT_EQ(store_sweep_begin(s, a, 3000), 0);
        store_sweep_abort(s);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}


static void test_pagemap_and_truth(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        const int foo1[] = { 100, 101, 102 }, bar[] = { 200 };
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        ProcessGroup *g = NULL;
        size_t n = 0, total = 0;
        int64_t a, big, ids[2], big_ids[2], sid;
        Store *s = NULL, *ro = NULL;
        ProcessTruth t = truth_of(1);
        StoreHealth h;
        char column[64];

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        ASSERT_INT_EQ(store_sweep_add_truth(s, 100, 10, &t), -EINVAL);     /* no sweep open */

        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        write_pagemap_sweeps(s, a, 1000000, ids);

        /* The rows as written: pagemap columns NULL for the process not scanned. */
        ASSERT_INT_EQ(process_column(db, ids[0], 100, "pagemap_truncated"), 0);
        ASSERT_INT_EQ(process_column(db, ids[0], 101, "pagemap_truncated"), 1);
        ASSERT_INT_EQ(process_column(db, ids[0], 102, "pagemap_truncated"), -1);
        for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                static const char *const fields[] = { "present", "swapped", "exclusive" };

                for (int f = 0; f < 3; f++) {
                        snprintf(column, sizeof column, "%s_%s_pages", class_names[c], fields[f]);
                        ASSERT_INT_EQ(process_column(db, ids[0], 101, column), pages_of(101, c, f));
                        ASSERT_INT_EQ(process_column(db, ids[0], 102, column), -1);
                        /* Summed over the members scanned completely only: 101's scan was
                         * cut short, its raw counts stay in its own row. */
                        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, column),
                                      pages_of(100, c, f));
                        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, column),
                                      pages_of(100, c, f) + pages_of(101, c, f) +
                                      pages_of(102, c, f));
                }
        }
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "pagemap_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "truth_processes"), 3);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "truth_uss_kb"),
                      100001 + 101001 + 102001);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "partially_mapped_folios"),
                      100012 + 101012 + 102012);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_BAR, "pagemap_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_BAR, "truth_processes"), 0);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_BAR, "truth_pss_kb"), -1);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "truth_processes"), 2);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "forecast_exclusive_pages"),
                      100011 + 102011);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 5);
        ASSERT_INT_EQ(sql_int(db, "SELECT forecast_pss_shmem_kb FROM process_truth t"
                              " JOIN processes p ON p.id = t.process_id WHERE p.pid = 101"),
                      101008);

        /* The series, from a read-only connection. */
        ASSERT_INT_EQ(store_open(&ro, db, STORE_READ_ONLY, NULL), 0);
        if (!ro)
                goto finish;
        ASSERT_INT_EQ(store_epoch_identity_series(ro, a, &(SeriesSelection) {}, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        if (n == 2 && series[0].n == 2 && series[1].n == 2) {
                /* foo was created first. Sweep 1: one member not scanned, all reconstructed. */
                check_point(series[0].points + 0, foo1, 3, false, true, 4);
                check_point(series[0].points + 1, foo1, 3, true, false, 4);
                check_point(series[1].points + 0, bar, 1, true, false, 4);
                check_point(series[1].points + 1, bar, 1, true, false, 4);
                /* A hand-computed figure: anon present pages 10001 + 10101 + 10201 at 4 kB. */
                ASSERT_U64_EQ(series[0].points[1].present_kb[EXCLUSIVITY_ANON], 121212);
                ASSERT_U64_EQ(series[0].points[0].truth_kb[COMPARE_METRIC_PSS], 303006);
                /* forecast_exclusive_pages 100011 + 101011 + 102011 at 4 kB. */
                ASSERT_U64_EQ(series[0].points[0].forecast_exclusive_kb, 4 * 303033);
        } else
                ASSERT_TRUE(false);
        free(series);
        free(points);

        /* The latest sweep's groups: sums, has_* false when one member lacks the data. */
        ASSERT_INT_EQ(store_latest_process_groups(ro, PROCESS_SORT_PSS, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(sid, ids[1]);
        ASSERT_INT_EQ(n, 2);
        if (n == 2) {
                ASSERT_STR_EQ(g[0].identity.key, KEY_BAR);
                ASSERT_TRUE(identity_aggregate_has_pagemap(&g[0].sums));
                ASSERT_FALSE(identity_aggregate_has_truth(&g[0].sums));
                ASSERT_U64_EQ(g[0].sums.pagemap[VMA_CLASS_SHMEM].swapped_pages,
                              pages_of(200, VMA_CLASS_SHMEM, 1));
                ASSERT_U64_EQ(g[0].sums.truth.pss_kb, 0);
                ASSERT_STR_EQ(g[1].identity.key, KEY_FOO);
                ASSERT_TRUE(identity_aggregate_has_pagemap(&g[1].sums));
                ASSERT_FALSE(identity_aggregate_has_truth(&g[1].sums));   /* 101 not reconstructed in sweep 2 */
                for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                        ASSERT_U64_EQ(g[1].sums.pagemap[c].present_pages,
                                      pages_of(100, c, 0) + pages_of(101, c, 0) +
                                      pages_of(102, c, 0));
                        ASSERT_U64_EQ(g[1].sums.pagemap[c].exclusive_pages,
                                      pages_of(100, c, 2) + pages_of(101, c, 2) +
                                      pages_of(102, c, 2));
                }
        }
        process_group_array_free(g, n);

        ASSERT_INT_EQ(store_health(ro, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, ids[1]);
        ASSERT_INT_EQ(h.last_pagemap_truncated, 2);
        ASSERT_INT_EQ(h.last_pagemap_failed, 0);

        /* An epoch of 16 KiB pages: pages count 16 kB each. Its groups have every member
         * reconstructed in the first sweep. */
        {
                KernelId k = kernel_make("6.18.0", "boot-arm", MAPCOUNT_MODE_NO_PAGE);
                bool created = false;

                k.page_size = 16384;
                ASSERT_INT_EQ(store_epoch_ensure(s, &k, 2, &big, &created), 0);
                ASSERT_TRUE(created);
        }
        write_pagemap_sweeps(s, big, 5000000, big_ids);
        ASSERT_INT_EQ(store_epoch_identity_series(ro, big, &(SeriesSelection) {}, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        if (n == 2 && series[0].n == 2) {
                check_point(series[0].points + 0, foo1, 3, false, true, 16);
                check_point(series[0].points + 1, foo1, 3, true, false, 16);
                check_point(series[1].points + 0, bar, 1, true, false, 16);
                ASSERT_U64_EQ(series[0].points[1].present_kb[EXCLUSIVITY_ANON], 16 * 30303);
                ASSERT_U64_EQ(series[0].points[0].forecast_exclusive_kb, 16 * 303033);
        } else
                ASSERT_TRUE(false);
        free(series);
        free(points);

        ASSERT_INT_EQ(store_latest_process_groups(ro, PROCESS_SORT_PSS, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(sid, big_ids[1]);
        process_group_array_free(g, n);

        /* Retention removes the reconstructions with their samples: before 5 s, epoch a's
         * (3 + 2) go and its first sweep; then big's first sweep, and every raw row. */
        ASSERT_INT_EQ(store_prune(s, 5000000, 1), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 5);
        ASSERT_INT_EQ(store_prune(s, 7000000, 1), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

finish:
        store_free(ro);
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

/* Many processes of one identity, reconstructed in reverse order of adding: the lookup index
 * grows past its first size and finds each of them. */

static void test_truth_many(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        SweepSummary sum = { .sampled = 700 };
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        uint64_t want_uss = 0, want_private = 0;
        size_t n = 0;
        Store *s = NULL;
        int64_t a, id;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), 0);
        for (int pid = 1000; pid < 1400; pid++)
                ASSERT_INT_EQ(add_foo_pagemap(s, pid, 7, false, false), 0);
        /* One truth while rows are still coming: the index is then extended, then grown. */
        ASSERT_INT_EQ(add_truth(s, 1000, 7), 0);
        for (int pid = 1400; pid < 1700; pid++)
                ASSERT_INT_EQ(add_foo_pagemap(s, pid, 7, false, false), 0);
        for (int pid = 1699; pid > 1000; pid--)
                ASSERT_INT_EQ(add_truth(s, pid, 7), 0);
        ASSERT_INT_EQ(add_truth(s, 1700, 7), -ENOENT);
        for (int pid = 1000; pid < 1700; pid++) {
                want_uss += truth_of(pid).uss_kb;
                want_private += truth_of(pid).private_kb;
        }
        id = store_sweep_commit(s, &sum);
        ASSERT_TRUE(id > 0);

        ASSERT_INT_EQ(store_epoch_identity_series(s, a, &(SeriesSelection) {}, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1 && series[0].n == 1) {
                ASSERT_INT_EQ(points[0].processes, 700);
                ASSERT_FALSE(points[0].has_pagemap);
                ASSERT_TRUE(points[0].has_truth);
                ASSERT_U64_EQ(points[0].truth_uss_kb, want_uss);
                ASSERT_U64_EQ(points[0].truth_kb[COMPARE_METRIC_PRIVATE], want_private);
        }
        free(series);
        free(points);
        ASSERT_INT_EQ(identity_column(db, id, KEY_FOO, "pagemap_processes"), 0);
        ASSERT_INT_EQ(identity_column(db, id, KEY_FOO, "anon_present_pages"), -1);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}


/* A cgroup sample with the given stat lines ("name value" pairs). */
static CgroupSample cgroup_make(const char *path, const char *unit, bool v1, CgroupStat *stat,
                                uint64_t usage) {
        return (CgroupSample) {
                .path = (char *) path,
                .unit = (char *) unit,
                .v1 = v1,
                .has_usage = usage > 0,
                .usage_bytes = usage,
                .stat = stat,
        };
}

static void stat_set(CgroupStat *st, size_t n, const char *const *names, const uint64_t *values) {
        *st = (CgroupStat) { .n = n };
        for (size_t i = 0; i < n; i++) {
                snprintf(st->fields[i].name, sizeof st->fields[i].name, "%s", names[i]);
                st->fields[i].value = values[i];
        }
}

static void test_cgroups_and_thp(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        static const char *const v1_names[] = { "rss", "total_rss", "total_mapped_file",
                                                "total_rss_huge", "hierarchical_memory_limit" };
        static const uint64_t v1_values[] = { 4096, 8 << 20, 2 << 20, 0, INT64_MAX };
        static const char *const v2_names[] = { "anon", "file_mapped", "brand_new_counter" };
        static const uint64_t v2_values[] = { 12 << 20, 2 << 20, 7 };
        SweepSummary sum = { .sampled = 0 };
        GroupForecast forecast = { .anon_extra_kb = 100, .file_mapped_extra_kb = 20 };
        CgroupStat st1, st2;
        ThpStats thp = { .n = 1 };
        CgroupRow *rows = NULL;
        size_t n = 0;
        int64_t a, sid;
        Store *s = NULL;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        stat_set(&st1, ELEMENTSOF(v1_names), v1_names, v1_values);
        stat_set(&st2, ELEMENTSOF(v2_names), v2_names, v2_values);

        /* v1: the total_* forms are the compared fields, the forecast is added to them. */
        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), 0);
        CgroupSample c1 = cgroup_make("/system.slice/a.service", "a.service", true, &st1, 9 << 20);
        ASSERT_INT_EQ(store_sweep_add_cgroup(s, &c1, "unit:a.service", &forecast), 0);
        ASSERT_INT_EQ(store_sweep_add_cgroup(s, &c1, "unit:a.service", NULL), -EIO);
        thp.sizes[0] = (ThpSize) { .size_kb = 2048, .enabled = "inherit", .n = 1 };
        snprintf(thp.sizes[0].counters[0].name, THP_NAME_MAX, "nr_anon");
        thp.sizes[0].counters[0].value = 3;
        ASSERT_INT_EQ(store_sweep_add_thp(s, &thp), 0);
        ASSERT_TRUE(store_sweep_commit(s, &sum) > 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT anon_kb FROM cgroup_samples"), 8192);
        ASSERT_INT_EQ(sql_int(db, "SELECT forecast_anon_kb FROM cgroup_samples"), 8292);
        ASSERT_INT_EQ(sql_int(db, "SELECT forecast_file_mapped_kb FROM cgroup_samples"), 2068);
        ASSERT_INT_EQ(sql_int(db, "SELECT usage_kb FROM cgroup_samples"), 9216);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM cgroup_samples WHERE file_thp_kb IS NULL"),
                      1);
        ASSERT_INT_EQ(sql_int(db, "SELECT value FROM thp_samples WHERE name = 'nr_anon'"), 3);

        /* A name first seen in a sweep that is rolled back must not leave a stale id behind. */
        ASSERT_INT_EQ(store_sweep_begin(s, a, 2000), 0);
        CgroupSample c2 = cgroup_make("/b", NULL, false, &st2, 0);
        ASSERT_INT_EQ(store_sweep_add_cgroup(s, &c2, "path:/b", NULL), 0);
        store_sweep_abort(s);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM cgroup_stat_names"
                              " WHERE name = 'brand_new_counter'"), 0);
        ASSERT_INT_EQ(store_sweep_begin(s, a, 3000), 0);
        ASSERT_INT_EQ(store_sweep_add_cgroup(s, &c2, "path:/b", NULL), 0);
        sid = store_sweep_commit(s, &sum);
        ASSERT_TRUE(sid > 0);

        /* Read back: every line, by name and in order, and the fields. */
        ASSERT_INT_EQ(store_latest_cgroups(s, &rows, &n, &sid), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1) {
                ASSERT_STR_EQ(rows[0].cgroup.key, "path:/b");
                ASSERT_TRUE(!rows[0].has_usage && !rows[0].v1);
                ASSERT_INT_EQ(rows[0].n_stat, 3);
                for (size_t i = 0; i < rows[0].n_stat && i < 3; i++) {
                        ASSERT_STR_EQ(rows[0].stat[i].name, v2_names[i]);
                        ASSERT_U64_EQ(rows[0].stat[i].value, v2_values[i]);
                }
                ASSERT_U64_EQ(rows[0].kb[CGROUP_ANON], 12 * 1024);
                ASSERT_INT_EQ(rows[0].present, (1u << CGROUP_ANON) | (1u << CGROUP_FILE_MAPPED));
        }
        cgroup_row_array_free(rows, n);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

int main(void) {
        test_sweeps_and_queries();
        test_abort_and_failed_statement();
        test_pagemap_and_truth();
        test_truth_many();
        test_cgroups_and_thp();
        return test_exit();
}
