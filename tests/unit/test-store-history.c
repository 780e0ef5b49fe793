/* Unit tests of storage/store-history.c: downsampling merges the runs of each hour before the
 * cutoff into one, gauges averaged by sweeps and the rest the hour's last, leaves runs longer
 * than the hour, rows with unknown fields and the newest sweeps of every epoch as they are, and
 * keeps every sweep's series. Works in its own directory under /tmp. */
#include <errno.h>

#include "store-test.h"

#define SEC UINT64_C(1000000)
#define HOUR (3600 * SEC)
#define T0 (100 * HOUR)

/* Hours 0 and 1: six sweeps each, ten minutes apart; hour 2: three. Process 100 alternates
 * between two Rss figures every sweep, except that it keeps the first through sweeps 6-8;
 * process 200 (unknown fields) stays put. */
static int64_t write_hours(Store *s, int64_t epoch, int64_t *ids) {
        int n = 0;

        for (int hour = 0; hour < 3; hour++)
                for (int k = 0; k < (hour < 2 ? 6 : 3); k++, n++) {
                        Meminfo m = meminfo_make(n);

                        ASSERT_INT_EQ(store_sweep_begin(s, epoch, T0 + (uint64_t) hour * HOUR +
                                                                  (uint64_t) k * 600 * SEC),
                                      0);
                        ASSERT_INT_EQ(add_foo(s, 100, 10, n % 2 == 0 || n == 7 ? 0 : 2), 0);
                        ASSERT_INT_EQ(add_bar(s), 0);
                        ASSERT_INT_EQ(store_sweep_add_meminfo(s, &m), 0);
                        ids[n] = store_sweep_commit(s, &(SweepSummary) { .sampled = 2 });
                        ASSERT_TRUE(ids[n] > 0);
                }
        return n;
}

/* Calls store_downsample_history() until it has no more to do; the rows merged, and how many
 * calls it took in *ret_calls. */
static int downsample_all(Store *s, uint64_t now, uint64_t after, unsigned keep, int *ret_calls) {
        bool more = true;
        int total = 0, r;

        for (*ret_calls = 0; more; ++*ret_calls) {
                r = store_downsample_history(s, now, after, keep, &more);
                if (r < 0)
                        return r;
                total += r;
        }
        return total;
}

static void test_downsample(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        IdentityRangePoint *points = NULL;
        int64_t a, ids[15], foo;
        bool more = true;
        size_t n = 0;
        Store *s = NULL;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, T0, false, true);
        ASSERT_INT_EQ(write_hours(s, a, ids), 15);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples i JOIN identities d"
                              " ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 13);
        ASSERT_INT_EQ(store_downsample(s, T0 + 3 * HOUR, 3, 0, NULL), -EINVAL);

        /* Everything before hour 2, the newest 3 sweeps kept as they are: foo's identity and
         * process runs and MemFree's merge per hour (6 runs into one in hour 0, and 4 of foo's
         * and 6 of MemFree's in hour 1); bar's rows, with unknown fields, and its identity's
         * one run over all three hours stay. */
        /* (fewer sweeps than a pass takes: one call reaches the cutoff) */
        ASSERT_INT_EQ(store_downsample(s, T0 + 3 * HOUR, 3, HOUR, &more), 3 * 5 + 2 * 3 + 5);
        ASSERT_FALSE(more);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples i JOIN identities d"
                              " ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 2 + 3);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "last_sweep_id"), ids[5]);
        ASSERT_INT_EQ(identity_column(db, ids[3], KEY_FOO, "sweeps"), 6);
        ASSERT_INT_EQ(identity_column(db, ids[3], KEY_FOO, "observations"), 6);
        ASSERT_INT_EQ(identity_column(db, ids[3], KEY_FOO, "rss_kb"),
                      (rss_of(100, 0) + rss_of(100, 2)) / 2);
        ASSERT_INT_EQ(identity_column(db, ids[7], KEY_FOO, "sweep_id"), ids[6]);
        /* Weighted by the sweeps each run stood for: 3 + 1 + 1 of the first, 1 of the other. */
        ASSERT_INT_EQ(identity_column(db, ids[7], KEY_FOO, "rss_kb"),
                      (4 * rss_of(100, 0) + 2 * rss_of(100, 2) + 3) / 6);
        ASSERT_INT_EQ(identity_column(db, ids[7], KEY_FOO, "sweeps"), 6);
        ASSERT_INT_EQ(identity_column(db, ids[12], KEY_FOO, "sweep_id"), ids[12]);
        ASSERT_INT_EQ(identity_column(db, ids[12], KEY_FOO, "rss_kb"), rss_of(100, 0));
        ASSERT_INT_EQ(process_column(db, ids[4], 100, "rss_kb"),
                      (rss_of(100, 0) + rss_of(100, 2)) / 2);
        ASSERT_INT_EQ(process_column(db, ids[4], 100, "present"), present_of(100));
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples ps JOIN processes p"
                              " ON p.id = ps.process_id WHERE p.pid = 200"), 15);
        ASSERT_INT_EQ(identity_column(db, ids[14], KEY_BAR, "sweep_id"), ids[0]);
        /* MemFree of hour 0 is the mean of sweeps 0-5; MemTotal never moved: one run. */
        ASSERT_INT_EQ(sql_int(db, "SELECT value FROM meminfo_samples WHERE name = 'MemFree'"
                              " ORDER BY sweep_id"), meminfo_make(0).fields[1].value + 2500);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM meminfo_samples WHERE name = 'MemTotal'"),
                      1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

        /* Every sweep keeps its point; the first hour's are its mean. */
        foo = sql_int(db, "SELECT id FROM identities WHERE key = '" KEY_FOO "'");
        ASSERT_INT_EQ(store_identity_range(s, foo, &(TimeRange) { .from_usec = T0,
                                                                  .to_usec = T0 + 3 * HOUR,
                                                                  .max_points = 100 },
                                           &points, &n), 0);
        ASSERT_INT_EQ(n, 15);
        if (n == 15) {
                ASSERT_TRUE(points[0].kb[RANGE_RSS] == (rss_of(100, 0) + rss_of(100, 2)) / 2);
                ASSERT_TRUE(points[5].kb[RANGE_RSS] == points[0].kb[RANGE_RSS]);
                ASSERT_TRUE(points[13].kb[RANGE_RSS] == rss_of(100, 2));
        }
        free(points);

        /* Done once: nothing more to merge. */
        ASSERT_INT_EQ(store_downsample(s, T0 + 3 * HOUR, 3, HOUR, NULL), 0);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

/* DownsampleAfter=2h over 30 hours of sweeps every 30 minutes, each a new figure: the last
 * 2 hours as they are, then hourly, and beyond a day one per 6 hours (of Unix time). */
static void test_tiers(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        int64_t a;
        int calls = 0;
        Store *s = NULL;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, T0, false, true);
        for (int n = 0; n < 60; n++) {
                ASSERT_INT_EQ(store_sweep_begin(s, a, T0 + (uint64_t) n * HOUR / 2), 0);
                ASSERT_INT_EQ(add_foo(s, 100, 10, n % 2 == 0 ? 0 : 2), 0);
                ASSERT_TRUE(store_sweep_commit(s, &(SweepSummary) { .sampled = 1 }) > 0);
        }
        ASSERT_INT_EQ(downsample_all(s, T0 + 30 * HOUR, 0, 3, &calls), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples"), 60);

        /* T0 is hour 100: the 6-hour steps before the day's cutoff (hour 106) are 96-101 (2
         * hours here) and 102-107 (4 of them); 22 hours of one run each; 4 sweeps. */
        /* (identity and process rows; the 6-hour step follows the hourly one's passes) */
        ASSERT_INT_EQ(downsample_all(s, T0 + 30 * HOUR, 2 * HOUR, 3, &calls), 2 * (60 - 28));
        ASSERT_TRUE(calls >= 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples"), 2 + 22 + 4);
        ASSERT_INT_EQ(sql_int(db, "SELECT sweeps FROM identity_samples ORDER BY sweep_id"), 4);
        ASSERT_INT_EQ(sql_int(db, "SELECT sweeps FROM identity_samples ORDER BY sweep_id"
                              " LIMIT 1 OFFSET 1"), 8);
        ASSERT_INT_EQ(sql_int(db, "SELECT sum(sweeps) FROM identity_samples"), 60);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 2 + 22 + 4);
        ASSERT_INT_EQ(downsample_all(s, T0 + 30 * HOUR, 2 * HOUR, 3, &calls), 0);
        ASSERT_INT_EQ(calls, 1);

        /* Where each step stopped is stored: opened again, it goes on from there. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM history_bounds WHERE from_usec > 0"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT from_usec FROM history_bounds"
                              " WHERE step_usec = 3600000000"), (int64_t) (T0 + 27 * HOUR));
        s = store_free(s);
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        ASSERT_INT_EQ(downsample_all(s, T0 + 30 * HOUR, 2 * HOUR, 3, &calls), 0);
        ASSERT_INT_EQ(calls, 1);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

int main(void) {
        test_downsample();
        test_tiers();
        return test_exit();
}
