/* Unit tests of the storage queries behind the charts and the bounded comparisons: series over
 * a time range per sweep and per step (means, never dropped; a bucket never mixes two epochs),
 * exclusivity as a ratio of sums, the point limit, meminfo series, the window of newest sweeps
 * per epoch, the orders of /processes and the latest meminfo. Every figure is worked out here
 * from the synthetic samples of store-test.h. */
#include <errno.h>
#include <math.h>

#include "store-test.h"

#define S (1000000ULL)          /* one second in µs */

typedef struct History {
        char *dir, *path;
        Store *s;
        int64_t a, b;           /* epochs */
        int64_t foo, bar;       /* identities */
} History;

/* Epoch A (page_mapcount): sweeps at 1000 s (full), 1010 s (two foo), 1020 s (full).
 * Epoch B (no_page_mapcount): sweeps at 1030 s and 1040 s, full, with pagemap counts. */
static void history_make(History *h) {
        h->dir = test_tmpdir_new("test-store-range");
        h->path = path_join(h->dir, "m.db");
        ASSERT_INT_EQ(store_open(&h->s, h->path, STORE_READ_WRITE, NULL), 0);

        h->a = epoch_make(h->s, "6.18.0-a", "boot-a", MAPCOUNT_MODE_PAGE, 1000 * S, false, true);
        (void) sweep_write(h->s, h->a, 1000 * S, SWEEP_FULL, 0);
        (void) sweep_write(h->s, h->a, 1010 * S, SWEEP_TWO_FOO, 1);
        (void) sweep_write(h->s, h->a, 1020 * S, SWEEP_FULL, 2);

        h->b = epoch_make(h->s, "6.19.0-b", "boot-b", MAPCOUNT_MODE_NO_PAGE, 1030 * S, false,
                          true);
        for (int i = 0; i < 2; i++) {
                SweepSummary sum = { .sampled = 4 };
                Meminfo m = meminfo_make(3 + i);

                ASSERT_INT_EQ(store_sweep_begin(h->s, h->b, (1030 + 10 * (uint64_t) i) * S), 0);
                ASSERT_INT_EQ(add_foo_pagemap(h->s, 100, 10, true, false), 0);
                ASSERT_INT_EQ(add_foo_pagemap(h->s, 101, 11, true, false), 0);
                ASSERT_INT_EQ(add_foo_pagemap(h->s, 102, 12, true, false), 0);
                ASSERT_INT_EQ(add_bar_pagemap(h->s), 0);
                ASSERT_INT_EQ(store_sweep_add_meminfo(h->s, &m), 0);
                ASSERT_TRUE(store_sweep_commit(h->s, &sum) > 0);
        }

        h->foo = sql_int(h->path, "SELECT id FROM identities WHERE key = '" KEY_FOO "'");
        h->bar = sql_int(h->path, "SELECT id FROM identities WHERE key = '" KEY_BAR "'");
        ASSERT_TRUE(h->foo > 0 && h->bar > 0);
}

static void history_done(History *h) {
        store_free(h->s);
        test_tmpdir_remove(h->dir);
        free(h->path);
}

/* foo's summed figure f in a sweep of kind SWEEP_FULL (pids 100-102) or SWEEP_TWO_FOO (100,
 * 101 with variant 2). */
static double foo_kb(int f, int kind) {
        if (kind == SWEEP_TWO_FOO)
                return (double) (field_of(f, 100, 2) + field_of(f, 101, 2));
        return (double) (field_of(f, 100, 0) + field_of(f, 101, 0) + field_of(f, 102, 0));
}

static double foo_shared(int kind) {
        return foo_kb(SMAPS_SHARED_CLEAN, kind) + foo_kb(SMAPS_SHARED_DIRTY, kind);
}

static void test_identity_range_per_sweep(void) {
        static const int kinds[] = { SWEEP_FULL, SWEEP_TWO_FOO, SWEEP_FULL, SWEEP_FULL,
                                     SWEEP_FULL };
        TimeRange range = { .from_usec = 0, .to_usec = 5000 * S, .max_points = 100 };
        IdentityRangePoint *p = NULL;
        History h = {};
        size_t n = 0;

        history_make(&h);
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 5);
        for (size_t i = 0; i < n && i < 5; i++) {
                ASSERT_U64_EQ(p[i].time_usec, (1000 + 10 * i) * S);
                ASSERT_INT_EQ(p[i].epoch_id, i < 3 ? h.a : h.b);
                ASSERT_INT_EQ(p[i].sweeps, 1);
                ASSERT_DOUBLE_NEAR(p[i].processes, kinds[i] == SWEEP_TWO_FOO ? 2 : 3, 0);
                ASSERT_DOUBLE_NEAR(p[i].kb[RANGE_RSS], foo_kb(SMAPS_RSS, kinds[i]), 1e-9);
                ASSERT_DOUBLE_NEAR(p[i].kb[RANGE_PSS_SHMEM], foo_kb(SMAPS_PSS_SHMEM, kinds[i]),
                                   1e-9);
                ASSERT_DOUBLE_NEAR(p[i].kb[RANGE_SHARED], foo_shared(kinds[i]), 1e-9);
                ASSERT_DOUBLE_NEAR(p[i].kb[RANGE_PRIVATE],
                                   foo_kb(SMAPS_PRIVATE_CLEAN, kinds[i]) +
                                   foo_kb(SMAPS_PRIVATE_DIRTY, kinds[i]), 1e-9);
                ASSERT_TRUE(isnan(p[i].truth_kb[RANGE_TRUTH_PSS]));
        }
        /* Exclusivity: none without a scan (A), Σ exclusive / Σ present with one (B). */
        ASSERT_TRUE(isnan(p[0].exclusive_ratio[VMA_CLASS_ANON]));
        for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                double excl = 0, present = 0;

                for (int pid = 100; pid <= 102; pid++) {
                        excl += (double) pages_of(pid, c, 2);
                        present += (double) pages_of(pid, c, 0);
                }
                ASSERT_DOUBLE_NEAR(p[4].exclusive_ratio[c], excl / present, 1e-12);
        }
        free(p);

        /* The point limit: -E2BIG beyond it, exactly enough is fine. */
        range.max_points = 4;
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), -E2BIG);
        range.max_points = 5;
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 5);
        free(p);

        /* from and to are inclusive; an unknown identity or an empty range has no points. */
        range = (TimeRange) { .from_usec = 1010 * S, .to_usec = 1030 * S, .max_points = 100 };
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 3);
        free(p);
        ASSERT_INT_EQ(store_identity_range(h.s, 9999, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 0);
        free(p);
        range = (TimeRange) { .from_usec = 1, .to_usec = 999 * S, .max_points = 100 };
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 0);
        free(p);
        history_done(&h);
}

static void test_identity_range_steps(void) {
        TimeRange range = { .from_usec = 1000 * S, .to_usec = 5000 * S, .step_usec = 15 * S,
                            .max_points = 100 };
        IdentityRangePoint *p = NULL;
        History h = {};
        size_t n = 0;

        history_make(&h);
        /* Buckets of 15 s from 1000 s: [1000, 1015) holds A's first two sweeps, [1015, 1030)
         * the third, [1030, 1045) both of B's. Means, never a dropped sweep. */
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 3);
        if (n == 3) {
                ASSERT_INT_EQ(p[0].sweeps, 2);
                ASSERT_U64_EQ(p[0].time_usec, 1000 * S);
                ASSERT_DOUBLE_NEAR(p[0].kb[RANGE_RSS],
                                   (foo_kb(SMAPS_RSS, SWEEP_FULL) +
                                    foo_kb(SMAPS_RSS, SWEEP_TWO_FOO)) / 2, 1e-9);
                ASSERT_DOUBLE_NEAR(p[0].processes, 2.5, 1e-12);
                ASSERT_INT_EQ(p[1].sweeps, 1);
                ASSERT_INT_EQ(p[1].epoch_id, h.a);
                ASSERT_INT_EQ(p[2].sweeps, 2);
                ASSERT_INT_EQ(p[2].epoch_id, h.b);
                ASSERT_U64_EQ(p[2].time_usec, 1030 * S);
        }
        free(p);

        /* A bucket that spans the kernel change is split in two: [1000, 1040) holds A's three
         * sweeps and B's first, [1040, 1080) B's second. */
        range.step_usec = 40 * S;
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), 0);
        ASSERT_INT_EQ(n, 3);
        if (n == 3) {
                ASSERT_INT_EQ(p[0].epoch_id, h.a);
                ASSERT_INT_EQ(p[0].sweeps, 3);
                ASSERT_INT_EQ(p[1].epoch_id, h.b);
                ASSERT_INT_EQ(p[1].sweeps, 1);
                ASSERT_U64_EQ(p[1].time_usec, 1030 * S);
                ASSERT_INT_EQ(p[2].epoch_id, h.b);
                ASSERT_U64_EQ(p[2].time_usec, 1040 * S);
        }
        free(p);

        range.max_points = 2;
        ASSERT_INT_EQ(store_identity_range(h.s, h.foo, &range, &p, &n), -E2BIG);
        history_done(&h);
}

static void test_meminfo_range(void) {
        const char *const fields[] = { "MemFree", "AnonPages", "NoSuchField" };
        TimeRange range = { .from_usec = 0, .to_usec = 5000 * S, .max_points = 100 };
        MeminfoRangePoint *p = NULL;
        double *values = NULL;
        History h = {};
        size_t n = 0;

        history_make(&h);
        ASSERT_INT_EQ(store_meminfo_range(h.s, fields, 3, &range, &p, &values, &n), 0);
        ASSERT_INT_EQ(n, 5);
        for (size_t i = 0; i < n && i < 5; i++) {
                ASSERT_INT_EQ(p[i].epoch_id, i < 3 ? h.a : h.b);
                ASSERT_DOUBLE_NEAR(p[i].kb[0], 500000 + 1000 * (double) i, 0);
                ASSERT_DOUBLE_NEAR(p[i].kb[1], 200000, 0);
                ASSERT_TRUE(isnan(p[i].kb[2]));
        }
        free(p);
        free(values);

        range.from_usec = 1000 * S;
        /* [1000, 1040) holds A's three sweeps and B's first: two points; [1040, 1080) B's
         * second. */
        range.step_usec = 40 * S;
        ASSERT_INT_EQ(store_meminfo_range(h.s, fields, 1, &range, &p, &values, &n), 0);
        ASSERT_INT_EQ(n, 3);
        if (n == 3) {
                ASSERT_INT_EQ(p[0].epoch_id, h.a);
                ASSERT_INT_EQ(p[0].sweeps, 3);
                ASSERT_DOUBLE_NEAR(p[0].kb[0], 501000, 1e-9);
                ASSERT_INT_EQ(p[1].epoch_id, h.b);
                ASSERT_INT_EQ(p[1].sweeps, 1);
                ASSERT_DOUBLE_NEAR(p[1].kb[0], 503000, 1e-9);
                ASSERT_INT_EQ(p[2].epoch_id, h.b);
                ASSERT_DOUBLE_NEAR(p[2].kb[0], 504000, 1e-9);
        }
        free(p);
        free(values);

        range.max_points = 2;
        ASSERT_INT_EQ(store_meminfo_range(h.s, fields, 1, &range, &p, &values, &n), -E2BIG);
        ASSERT_INT_EQ(store_meminfo_range(h.s, fields, 0, &range, &p, &values, &n), -EINVAL);
        history_done(&h);
}

static void test_epoch_window(void) {
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        SystemSeries *sys = NULL;
        SeriesPoint *sys_points = NULL;
        History h = {};
        size_t n = 0;

        history_make(&h);
        /* The newest two sweeps of A: 1010 s (two foo) and 1020 s (full), oldest first. */
        ASSERT_INT_EQ(store_epoch_identity_series(h.s, h.a, &(SeriesSelection) { .window = 2 },
                                                  &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        for (size_t i = 0; i < n; i++)
                ASSERT_INT_EQ(series[i].n, 2);
        if (n > 0 && series[0].identity_id == h.foo && series[0].n == 2) {
                ASSERT_U64_EQ(series[0].points[0].rss_kb,
                              (uint64_t) foo_kb(SMAPS_RSS, SWEEP_TWO_FOO));
                ASSERT_U64_EQ(series[0].points[1].rss_kb,
                              (uint64_t) foo_kb(SMAPS_RSS, SWEEP_FULL));
        }
        free(series);
        free(points);

        /* 0 and a window larger than the epoch: every sweep. */
        for (size_t w = 0; w <= 10; w += 10) {
                ASSERT_INT_EQ(store_epoch_identity_series(h.s, h.a,
                                                          &(SeriesSelection) { .window = w },
                                                          &series, &n, &points), 0);
                ASSERT_INT_EQ(n, 2);
                if (n > 0)
                        ASSERT_INT_EQ(series[0].n, 3);
                free(series);
                free(points);
        }

        /* A range of identity ids: foo alone, bar alone, neither. */
        for (int k = 0; k < 3; k++) {
                int64_t want = k == 0 ? h.foo : k == 1 ? h.bar : 0;
                SeriesSelection sel = {
                        .first_identity = k < 2 ? want : MAX(h.foo, h.bar) + 1,
                        .last_identity = k < 2 ? want : MAX(h.foo, h.bar) + 10,
                };

                ASSERT_INT_EQ(store_epoch_identity_series(h.s, h.a, &sel, &series, &n, &points),
                              0);
                ASSERT_INT_EQ(n, k < 2 ? 1 : 0);
                if (n == 1)
                        ASSERT_INT_EQ(series[0].identity_id, want);
                free(series);
                free(points);
        }
        {
                int64_t max = 0;

                ASSERT_INT_EQ(store_identity_id_max(h.s, &max), 0);
                ASSERT_INT_EQ(max, MAX(h.foo, h.bar));
        }

        ASSERT_INT_EQ(store_epoch_system_series(h.s, h.a, 1, &sys, &n, &sys_points), 0);
        ASSERT_TRUE(n >= 2);
        for (size_t i = 0; i < n; i++) {
                ASSERT_INT_EQ(sys[i].n, 1);
                if (strcmp(sys[i].name, "MemFree") == 0)
                        ASSERT_DOUBLE_NEAR(sys[i].points[0].value_kb, 502000, 0);
        }
        free(sys);
        free(sys_points);
        history_done(&h);
}

static void test_process_sort(void) {
        static const struct {
                ProcessSort sort;
                const char *first;
        } cases[] = {
                /* bar: Rss 1200, Pss 2200; foo: Rss 600, Pss 130, but larger Shared and
                 * Private (three processes' worth). */
                { PROCESS_SORT_RSS, KEY_BAR },
                { PROCESS_SORT_PSS, KEY_BAR },
                { PROCESS_SORT_SHARED, KEY_FOO },
                { PROCESS_SORT_PRIVATE, KEY_FOO },
                { PROCESS_SORT_NAME, KEY_BAR },
        };
        History h = {};

        ASSERT_STR_EQ(process_sort_to_string(PROCESS_SORT_SHARED), "shared");
        ASSERT_INT_EQ(process_sort_from_string("private"), PROCESS_SORT_PRIVATE);
        ASSERT_INT_EQ(process_sort_from_string("Rss"), -EINVAL);
        ASSERT_INT_EQ(process_sort_from_string(NULL), -EINVAL);
        ASSERT_NULL(process_sort_to_string(_PROCESS_SORT_MAX));

        history_make(&h);
        ASSERT_TRUE(foo_shared(SWEEP_FULL) > (double) (field_of(SMAPS_SHARED_CLEAN, 200, 0) +
                                                       field_of(SMAPS_SHARED_DIRTY, 200, 0)));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                ProcessGroup *g = NULL;
                size_t n = 0, total = 0;
                int64_t sweep = 0;

                ASSERT_INT_EQ(store_latest_process_groups(h.s, cases[i].sort, 10, 0, &g, &n,
                                                          &total, &sweep), 0);
                ASSERT_INT_EQ(n, 2);
                if (n == 2)
                        ASSERT_STR_EQ(g[0].identity.key, cases[i].first);
                process_group_array_free(g, n);
        }
        history_done(&h);
}

/* The value of a field of m, or UINT64_MAX when absent (storage does not link the collectors'
 * meminfo_get()). */
static uint64_t field_value(const Meminfo *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->fields[i].name, name) == 0)
                        return m->fields[i].value;
        return UINT64_MAX;
}

static void test_latest_meminfo(void) {
        History h = {};
        Meminfo m = {};
        int64_t sweep = -1;
        char *dir = test_tmpdir_new("test-store-range-empty"), *path = path_join(dir, "m.db");
        Store *s = NULL;

        /* Before the first sweep: nothing, sweep 0. */
        ASSERT_INT_EQ(store_open(&s, path, STORE_READ_WRITE, NULL), 0);
        ASSERT_INT_EQ(store_latest_meminfo(s, &m, &sweep), 0);
        ASSERT_INT_EQ(sweep, 0);
        ASSERT_INT_EQ(m.n, 0);
        store_free(s);
        test_tmpdir_remove(dir);
        free(path);

        history_make(&h);
        ASSERT_INT_EQ(store_latest_meminfo(h.s, &m, &sweep), 0);
        ASSERT_INT_EQ(sweep, sql_int(h.path, "SELECT max(id) FROM sweeps"));
        ASSERT_INT_EQ(m.n, 4);
        ASSERT_U64_EQ(field_value(&m, "MemFree"), 504000);
        ASSERT_U64_EQ(field_value(&m, "HugePages_Total"), 4);
        for (size_t i = 0; i < m.n; i++)
                ASSERT_INT_EQ(m.fields[i].is_kb, strcmp(m.fields[i].name, "HugePages_Total") != 0);
        history_done(&h);
}

int main(void) {
        test_identity_range_per_sweep();
        test_identity_range_steps();
        test_meminfo_range();
        test_epoch_window();
        test_process_sort();
        test_latest_meminfo();
        return test_exit();
}
