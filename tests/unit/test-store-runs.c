/* Unit tests of storage/store-runs.c: one sample row for consecutive sweeps whose figures did
 * not change, for processes and identities; what starts a new run; the observations a series
 * window counts; retention of runs across its cutoff. Works in its own directory under /tmp. */
#include <errno.h>

#include "store-test.h"

/* Runs (the steady state): consecutive sweeps whose figures did not change share one row,
 * whether the process was reused or read again; a change, a gap or a reconstruction starts a
 * new one; a sweep whose every member is reused is left out of the series comparisons take
 * their statistics from, and a window counts a run's observations by its share. */
static void test_runs(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        int64_t a, ids[6];
        size_t n = 0;
        Store *s = NULL;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        for (int i = 0; i < 6; i++) {
                ASSERT_INT_EQ(store_sweep_begin(s, a, 1000 + 100 * (uint64_t) i), 0);
                ASSERT_TRUE(store_sweep_open_id(s) > 0);
                for (int pid = 100; pid <= 102; pid++) {
                        /* 101 is read once and then reused; 100 is read again in sweep 1,
                         * reused in 2, changes in 3 and stays so; 102 is missing from sweep 2,
                         * and gets a reconstruction in sweep 4. */
                        ProcSample p = sample_make(pid, 10, "foo", "/usr/bin/foo",
                                                   pid == 100 && i >= 3 ? 2 : 0);

                        if (pid == 102 && i == 2)
                                continue;
                        if (i > 0 && (pid == 101 || (pid == 100 && i == 2)))
                                p.reused_sweep_id = ids[0];
                        ASSERT_INT_EQ(store_sweep_add_process(s, &p, KEY_FOO), 0);
                        if (pid == 102 && i == 4)
                                ASSERT_INT_EQ(add_truth(s, pid, 10), 0);
                }
                ids[i] = store_sweep_commit(s, &(SweepSummary) { .sampled = 3 });
                ASSERT_TRUE(ids[i] > 0);
                ASSERT_INT_EQ(store_sweep_open_id(s), 0);
        }

        /* 101: one run; 100: [0, 2] and [3, 5]; 102: [0, 1], [3, 3], [4, 4], [5, 5]. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 1 + 2 + 4);
        ASSERT_INT_EQ(process_column(db, ids[5], 101, "sweep_id"), ids[0]);
        ASSERT_INT_EQ(process_column(db, ids[5], 101, "reused_sweep_id"), -1);
        ASSERT_INT_EQ(process_column(db, ids[2], 100, "last_sweep_id"), ids[2]);
        ASSERT_INT_EQ(process_column(db, ids[4], 100, "sweep_id"), ids[3]);
        ASSERT_INT_EQ(process_column(db, ids[4], 100, "rss_kb"), field_of(SMAPS_RSS, 100, 2));
        ASSERT_INT_EQ(process_column(db, ids[1], 102, "sweep_id"), ids[0]);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples ps JOIN processes p"
                              " ON p.id = ps.process_id WHERE p.pid = 102"), 4);
        ASSERT_INT_EQ(process_column(db, ids[4], 102, "sweep_id"), ids[4]);
        ASSERT_INT_EQ(process_column(db, ids[4], 102, "rss_kb"), field_of(SMAPS_RSS, 102, 0));
        ASSERT_INT_EQ(process_column(db, ids[5], 102, "sweep_id"), ids[5]);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

        /* The identity: sweeps 0-1 alike, 2 (102 missing), 3, 4 (truth), 5 again. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples"), 5);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "sweeps"), 2);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "observations"), 2);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "reused_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, ids[4], KEY_FOO, "rss_kb"),
                      field_of(SMAPS_RSS, 100, 2) + field_of(SMAPS_RSS, 101, 0) +
                      field_of(SMAPS_RSS, 102, 0));
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "rss_kb"),
                      field_of(SMAPS_RSS, 100, 0) + field_of(SMAPS_RSS, 101, 0) +
                      field_of(SMAPS_RSS, 102, 0));
        ASSERT_INT_EQ(identity_column(db, ids[2], KEY_FOO, "observations"), 0);
        ASSERT_INT_EQ(identity_column(db, ids[2], KEY_FOO, "processes"), 2);
        ASSERT_INT_EQ(identity_column(db, ids[4], KEY_FOO, "truth_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, ids[5], KEY_FOO, "sweep_id"), ids[5]);

        /* Sweep 2 is no observation: 2 + 1 + 1 + 1 points. */
        ASSERT_INT_EQ(store_epoch_identity_series(s, a, &(SeriesSelection) {}, &series, &n,
                                                  &points), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1)
                ASSERT_INT_EQ(series[0].n, 5);
        free(series);
        free(points);
        /* A window of the newest 5 sweeps holds one of the first run's two: its share of two
         * observations, one. */
        ASSERT_INT_EQ(store_epoch_identity_series(s, a, &(SeriesSelection) { .window = 5 },
                                                  &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1)
                ASSERT_INT_EQ(series[0].n, 4);
        free(series);
        free(points);

        /* Retention keeping the newest 3 sweeps: the runs ending before go, the one across the
         * cutoff now begins at its first sweep kept. */
        ASSERT_INT_EQ(store_prune(s, 1000 + 100 * 4, 3), 3);
        ASSERT_INT_EQ(process_column(db, ids[5], 101, "sweep_id"), ids[4]);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 1 + 1 + 2);
        ASSERT_INT_EQ(identity_column(db, ids[3], KEY_FOO, "sweep_id"), ids[3]);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples"), 3);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

int main(void) {
        test_runs();
        return test_exit();
}
