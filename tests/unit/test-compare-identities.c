/* Unit tests for compare/compare on identities: the comparison of two epochs' series
 * (appeared, disappeared, flagged), exclusivity per class, the classification of a shift
 * (accounting, behavior, mixed) and the forecast, on the W1 workload of
 * docs/kernel-semantics.md §8 scaled up to a process that crosses thresholds. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "compare.h"
#include "macro.h"
#include "test.h"

#define EPS 1e-9

static const Thresholds defaults = THRESHOLDS_DEFAULT;

/* Builds sweeps of one identity: rss, the six metrics and processes per sweep. */
typedef struct Sweep {
        uint64_t rss, shared, private, pss, pss_anon, pss_file, pss_shmem;
        uint32_t processes;
} Sweep;

static void sweeps_to_points(const Sweep *s, size_t n, IdentityPoint *ret) {
        for (size_t i = 0; i < n; i++)
                ret[i] = (IdentityPoint) {
                        .rss_kb = s[i].rss,
                        .metric_kb = {
                                [COMPARE_METRIC_SHARED] = s[i].shared,
                                [COMPARE_METRIC_PRIVATE] = s[i].private,
                                [COMPARE_METRIC_PSS] = s[i].pss,
                                [COMPARE_METRIC_PSS_ANON] = s[i].pss_anon,
                                [COMPARE_METRIC_PSS_FILE] = s[i].pss_file,
                                [COMPARE_METRIC_PSS_SHMEM] = s[i].pss_shmem,
                        },
                        .processes = s[i].processes,
                };
}

/* A forked parent holding 512 anon 2 MiB THPs whose child unmapped 64 pages (256 kB) of each:
 * W1 of docs/kernel-semantics.md §8 with more pages unmapped, on a heap 512 times larger. PAGE:
 * per THP Shared 1792, Private 256, Pss 1792/2 + 256 = 1152. NO: the folio is shared, so Shared
 * 2048, Private 0; mapcount average ⌊(960 + 256) / 512⌋ = 2 → Pss 1024. Plus e kB of private
 * small-page heap that jitters per sweep. */
#define BIG_THPS 512
static Sweep big_page(uint64_t e, uint32_t processes) {
        uint64_t pss = BIG_THPS * 1152 + e;

        return (Sweep) { BIG_THPS * 2048 + e, BIG_THPS * 1792, BIG_THPS * 256 + e, pss, pss, 0, 0,
                         processes };
}
static Sweep big_no(uint64_t e, uint32_t processes) {
        uint64_t pss = BIG_THPS * 1024 + e;

        return (Sweep) { BIG_THPS * 2048 + e, BIG_THPS * 2048, e, pss, pss, 0, 0, processes };
}

/* W1 itself: parent of one THP. PAGE: Pss 1026, Shared 2044, Private 4. NO: Pss 1024, Shared
 * 2048, Private 0. Rss 2048 in both. */
static const Sweep w1_page = { 2048, 2044, 4, 1026, 1026, 0, 0, 1 };
static const Sweep w1_no = { 2048, 2048, 0, 1024, 1024, 0, 0, 1 };

static void test_compare_identities(void) {
        /* before ids 1 2 3 5 7, after ids 2 3 4 6 7: common 2 3 7; 1 and 5 disappeared; 4 and 6
         * appeared. 2 is the big W1-like parent, 3 is W1 itself, 7 fluctuates. */
        const uint64_t e_before[] = { 4096, 4100, 4092, 4104, 4096 };
        const uint64_t e_after[] = { 4100, 4096, 4108, 4092 };
        const uint32_t proc_before[] = { 2, 2, 2, 3, 2 }, proc_after[] = { 2, 3, 3, 2 };
        const double noisy[] = { 0.30, 0.50, 0.35, 0.45, 0.40, 0.32, 0.48 };
        Sweep s2b[5], s2a[4], s3b[3], s3a[3], s7b[7], s7a[7];
        IdentityPoint p2b[5], p2a[4], p3b[3], p3a[3], p7b[7], p7a[7], pother[2];
        IdentityComparison c[5];
        int64_t appeared[5], disappeared[5];
        size_t n_appeared = 99, n_disappeared = 99;
        int r;

        for (size_t i = 0; i < 5; i++)
                s2b[i] = big_page(e_before[i], proc_before[i]);
        for (size_t i = 0; i < 4; i++)
                s2a[i] = big_no(e_after[i], proc_after[i]);
        for (size_t i = 0; i < 3; i++) {
                s3b[i] = w1_page;
                s3a[i] = w1_no;
        }
        /* 200 MiB, Shared/Rss swinging 30–50%, then 6 points higher; Private the rest; Pss
         * Private + Shared/2. */
        for (size_t i = 0; i < 7; i++) {
                uint64_t shb = (uint64_t) llround(noisy[i] * 204800);
                uint64_t sha = (uint64_t) llround((noisy[i] + 0.06) * 204800);

                s7b[i] = (Sweep) { 204800, shb, 204800 - shb, 204800 - shb / 2, 204800 - shb / 2,
                                   0, 0, 4 };
                s7a[i] = (Sweep) { 204800, sha, 204800 - sha, 204800 - sha / 2, 204800 - sha / 2,
                                   0, 0, 4 };
        }
        sweeps_to_points(s2b, 5, p2b);
        sweeps_to_points(s2a, 4, p2a);
        sweeps_to_points(s3b, 3, p3b);
        sweeps_to_points(s3a, 3, p3a);
        sweeps_to_points(s7b, 7, p7b);
        sweeps_to_points(s7a, 7, p7a);
        sweeps_to_points((const Sweep[]) { w1_page, w1_no }, 2, pother);

        const IdentitySeries before[] = {
                { 1, 2, pother }, { 2, 5, p2b }, { 3, 3, p3b }, { 5, 1, pother }, { 7, 7, p7b },
        };
        const IdentitySeries after[] = {
                { 2, 4, p2a }, { 3, 3, p3a }, { 4, 2, pother }, { 6, 1, pother }, { 7, 7, p7a },
        };

        r = compare_identities(before, ELEMENTSOF(before), after, ELEMENTSOF(after), &defaults,
                               c, appeared, &n_appeared, disappeared, &n_disappeared);
        ASSERT_INT_EQ(r, 3);
        ASSERT_U64_EQ(n_appeared, 2);
        ASSERT_U64_EQ(n_disappeared, 2);
        ASSERT_INT_EQ(appeared[0], 4);
        ASSERT_INT_EQ(appeared[1], 6);
        ASSERT_INT_EQ(disappeared[0], 1);
        ASSERT_INT_EQ(disappeared[1], 5);
        ASSERT_INT_EQ(c[0].identity_id, 2);
        ASSERT_INT_EQ(c[1].identity_id, 3);
        ASSERT_INT_EQ(c[2].identity_id, 7);

        /* Identity 2: medians of processes (odd n; even n → mean of 2 and 3) and Rss. */
        ASSERT_U64_EQ(c[0].n_before, 5);
        ASSERT_U64_EQ(c[0].n_after, 4);
        ASSERT_DOUBLE_NEAR(c[0].processes_before, 2, EPS);
        ASSERT_DOUBLE_NEAR(c[0].processes_after, 2.5, EPS);
        ASSERT_DOUBLE_NEAR(c[0].rss_before_kb, 1048576 + 4096, EPS);
        ASSERT_DOUBLE_NEAR(c[0].rss_after_kb, 1048576 + 4098, EPS);
        ASSERT_TRUE(c[0].flagged);
        {
                const MetricDelta *sh = &c[0].metrics[COMPARE_METRIC_SHARED];
                const MetricDelta *pr = &c[0].metrics[COMPARE_METRIC_PRIVATE];
                const MetricDelta *pss = &c[0].metrics[COMPARE_METRIC_PSS];
                /* Ratios fall as the heap e grows, so the median ratio belongs to the median e
                 * (odd n) or is the mean of the ratios at the two middle e (even n). */
                double rb = 917504.0 / (1048576 + 4096);
                double ra = (1048576.0 / (1048576 + 4096) + 1048576.0 / (1048576 + 4100)) / 2;

                ASSERT_TRUE(sh->flagged);
                ASSERT_DOUBLE_NEAR(sh->delta_kb, 131072, EPS);
                ASSERT_DOUBLE_NEAR(sh->before.median_ratio, rb, EPS);
                ASSERT_DOUBLE_NEAR(sh->after.median_ratio, ra, EPS);
                ASSERT_DOUBLE_NEAR(sh->delta_points, (ra - rb) * 100, EPS);
                ASSERT_TRUE(sh->delta_points > 12 && sh->delta_points < 12.5);

                ASSERT_TRUE(pr->flagged);
                ASSERT_DOUBLE_NEAR(pr->delta_kb, (4098 - (131072 + 4096)), EPS);
                ASSERT_TRUE(pr->delta_points < -12 && pr->delta_points > -12.5);

                ASSERT_TRUE(pss->flagged);
                ASSERT_DOUBLE_NEAR(pss->delta_kb, (524288 + 4098) - (589824 + 4096), EPS);
                ASSERT_TRUE(pss->delta_points < -6 && pss->delta_points > -6.25);
                ASSERT_TRUE(c[0].metrics[COMPARE_METRIC_PSS_ANON].flagged);
                ASSERT_FALSE(c[0].metrics[COMPARE_METRIC_PSS_FILE].flagged);
                ASSERT_FALSE(c[0].metrics[COMPARE_METRIC_PSS_SHMEM].flagged);
                ASSERT_DOUBLE_NEAR(c[0].metrics[COMPARE_METRIC_PSS_FILE].delta_kb, 0, EPS);
        }

        /* Identity 3, W1 as is: every metric moved the way §8 says, by 4 kB at most and
         * 4/2048 of Rss = 0.1953125 points: below both thresholds. */
        ASSERT_FALSE(c[1].flagged);
        ASSERT_DOUBLE_NEAR(c[1].rss_before_kb, 2048, EPS);
        ASSERT_DOUBLE_NEAR(c[1].rss_after_kb, 2048, EPS);
        ASSERT_DOUBLE_NEAR(c[1].metrics[COMPARE_METRIC_SHARED].delta_kb, 4, EPS);
        ASSERT_DOUBLE_NEAR(c[1].metrics[COMPARE_METRIC_SHARED].delta_points, 0.1953125, EPS);
        ASSERT_DOUBLE_NEAR(c[1].metrics[COMPARE_METRIC_PRIVATE].delta_kb, -4, EPS);
        ASSERT_DOUBLE_NEAR(c[1].metrics[COMPARE_METRIC_PRIVATE].delta_points, -0.1953125, EPS);
        ASSERT_DOUBLE_NEAR(c[1].metrics[COMPARE_METRIC_PSS].delta_kb, -2, EPS);
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                ASSERT_FALSE(c[1].metrics[m].flagged);

        /* Identity 7, fluctuating: Shared moved 6 points and 12 MiB, within its noise. */
        ASSERT_FALSE(c[2].flagged);
        ASSERT_DOUBLE_NEAR(c[2].metrics[COMPARE_METRIC_SHARED].delta_points, 6, 1e-6);
        ASSERT_TRUE(c[2].metrics[COMPARE_METRIC_SHARED].delta_kb >= 1024);
        ASSERT_TRUE(c[2].metrics[COMPARE_METRIC_SHARED].noise_points > 40);
        ASSERT_DOUBLE_NEAR(c[2].processes_before, 4, EPS);

        /* With thresholds at zero and no noise factor, W1 itself is flagged: what kept it
         * quiet above was the thresholds, not the arithmetic. */
        r = compare_identities(&before[2], 1, &after[1], 1, &(Thresholds) { 0, 0, 0 }, c, NULL,
                               NULL, NULL, NULL);
        ASSERT_INT_EQ(r, 1);
        ASSERT_TRUE(c[0].flagged);
        ASSERT_TRUE(c[0].metrics[COMPARE_METRIC_SHARED].flagged);
        ASSERT_FALSE(c[0].metrics[COMPARE_METRIC_PSS_FILE].flagged);
}

static void test_compare_identities_edges(void) {
        const IdentityPoint pt = { .rss_kb = 1000, .metric_kb = { 500, 500, 500, 500, 0, 0 },
                                   .processes = 1 };
        const IdentitySeries a[] = { { 10, 1, &pt }, { 20, 1, &pt }, { 30, 1, &pt } };
        const IdentitySeries unsorted[] = { { 10, 1, &pt }, { 30, 1, &pt }, { 20, 1, &pt } };
        const IdentitySeries dup[] = { { 10, 1, &pt }, { 10, 1, &pt } };
        const IdentitySeries empty_side[] = { { 20, 0, NULL } };
        IdentityComparison c[3];
        int64_t appeared[3] = { -1, -1, -1 }, disappeared[3] = { -1, -1, -1 };
        size_t n_appeared = 99, n_disappeared = 99;
        int r;

        /* Unsorted or duplicated ids on either side: -EINVAL, nothing written. */
        ASSERT_INT_EQ(compare_identities(unsorted, 3, a, 3, &defaults, c, appeared, &n_appeared,
                                         disappeared, &n_disappeared), -EINVAL);
        ASSERT_INT_EQ(compare_identities(a, 3, unsorted, 3, &defaults, c, appeared, &n_appeared,
                                         disappeared, &n_disappeared), -EINVAL);
        ASSERT_INT_EQ(compare_identities(dup, 2, a, 3, &defaults, c, appeared, &n_appeared,
                                         disappeared, &n_disappeared), -EINVAL);
        ASSERT_INT_EQ(compare_identities(a, 3, dup, 2, &defaults, c, appeared, &n_appeared,
                                         disappeared, &n_disappeared), -EINVAL);
        ASSERT_U64_EQ(n_appeared, 99);
        ASSERT_U64_EQ(n_disappeared, 99);
        ASSERT_INT_EQ(appeared[0], -1);
        ASSERT_INT_EQ(disappeared[0], -1);

        /* Both empty. */
        r = compare_identities(NULL, 0, NULL, 0, &defaults, NULL, appeared, &n_appeared,
                               disappeared, &n_disappeared);
        ASSERT_INT_EQ(r, 0);
        ASSERT_U64_EQ(n_appeared, 0);
        ASSERT_U64_EQ(n_disappeared, 0);

        /* Nothing before: everything appeared, in order. */
        r = compare_identities(NULL, 0, a, 3, &defaults, NULL, appeared, &n_appeared,
                               disappeared, &n_disappeared);
        ASSERT_INT_EQ(r, 0);
        ASSERT_U64_EQ(n_appeared, 3);
        ASSERT_U64_EQ(n_disappeared, 0);
        ASSERT_TRUE(appeared[0] == 10 && appeared[1] == 20 && appeared[2] == 30);

        /* Nothing after: everything disappeared. */
        r = compare_identities(a, 3, NULL, 0, &defaults, NULL, appeared, &n_appeared,
                               disappeared, &n_disappeared);
        ASSERT_INT_EQ(r, 0);
        ASSERT_U64_EQ(n_appeared, 0);
        ASSERT_U64_EQ(n_disappeared, 3);
        ASSERT_TRUE(disappeared[0] == 10 && disappeared[1] == 20 && disappeared[2] == 30);

        /* Identical lists: all common, nothing moved, nothing flagged. */
        r = compare_identities(a, 3, a, 3, &(Thresholds) { 0, 0, 0 }, c, appeared, &n_appeared,
                               disappeared, &n_disappeared);
        ASSERT_INT_EQ(r, 3);
        ASSERT_U64_EQ(n_appeared, 0);
        ASSERT_U64_EQ(n_disappeared, 0);
        for (size_t i = 0; i < 3; i++) {
                ASSERT_INT_EQ(c[i].identity_id, (int64_t) (i + 1) * 10);
                ASSERT_FALSE(c[i].flagged);
                ASSERT_DOUBLE_NEAR(c[i].metrics[COMPARE_METRIC_SHARED].before.median_ratio, 0.5,
                                   EPS);
        }

        /* A common identity with no points after: compared, never flagged. */
        r = compare_identities(a, 3, empty_side, 1, &(Thresholds) { 0, 0, 0 }, c, appeared,
                               &n_appeared, disappeared, &n_disappeared);
        ASSERT_INT_EQ(r, 1);
        ASSERT_INT_EQ(c[0].identity_id, 20);
        ASSERT_U64_EQ(c[0].n_before, 1);
        ASSERT_U64_EQ(c[0].n_after, 0);
        ASSERT_DOUBLE_NEAR(c[0].rss_after_kb, 0, EPS);
        ASSERT_DOUBLE_NEAR(c[0].processes_after, 0, EPS);
        ASSERT_FALSE(c[0].flagged);
        ASSERT_U64_EQ(n_disappeared, 2);
        ASSERT_TRUE(disappeared[0] == 10 && disappeared[1] == 30);
}

static void test_class_and_kind_strings(void) {
        ASSERT_STR_EQ(exclusivity_class_to_string(EXCLUSIVITY_ANON), "Exclusive_Anon");
        ASSERT_STR_EQ(exclusivity_class_to_string(EXCLUSIVITY_FILE), "Exclusive_File");
        ASSERT_STR_EQ(exclusivity_class_to_string(EXCLUSIVITY_SHARED_FILE),
                      "Exclusive_Shared_File");
        ASSERT_STR_EQ(exclusivity_class_to_string(EXCLUSIVITY_SHMEM), "Exclusive_Shmem");
        ASSERT_STR_EQ(exclusivity_class_to_string(EXCLUSIVITY_HUGETLB), "Exclusive_Hugetlb");
        ASSERT_NULL(exclusivity_class_to_string(_EXCLUSIVITY_CLASS_MAX));
        ASSERT_NULL(exclusivity_class_to_string(_EXCLUSIVITY_CLASS_INVALID));

        ASSERT_STR_EQ(shift_kind_to_string(SHIFT_UNKNOWN), "unknown");
        ASSERT_STR_EQ(shift_kind_to_string(SHIFT_ACCOUNTING), "accounting");
        ASSERT_STR_EQ(shift_kind_to_string(SHIFT_BEHAVIOR), "behavior");
        ASSERT_STR_EQ(shift_kind_to_string(SHIFT_MIXED), "mixed");
        ASSERT_NULL(shift_kind_to_string(_SHIFT_KIND_MAX));
        ASSERT_NULL(shift_kind_to_string(_SHIFT_KIND_INVALID));
}

/* One sweep of a 1 GiB identity: reported Shared, Private and Pss (Pss_Anon = Pss), the truth
 * equal to the reported figures, no scan. */
#define GIB_KB 1048576
static IdentityPoint gib_point(uint64_t shared, uint64_t private, uint64_t pss) {
        return (IdentityPoint) {
                .rss_kb = GIB_KB,
                .metric_kb = {
                        [COMPARE_METRIC_SHARED] = shared,
                        [COMPARE_METRIC_PRIVATE] = private,
                        [COMPARE_METRIC_PSS] = pss,
                        [COMPARE_METRIC_PSS_ANON] = pss,
                },
                .processes = 1,
                .truth_kb = {
                        [COMPARE_METRIC_SHARED] = shared,
                        [COMPARE_METRIC_PRIVATE] = private,
                        [COMPARE_METRIC_PSS] = pss,
                },
        };
}

static void points_fill(IdentityPoint *p, size_t n, IdentityPoint v) {
        for (size_t i = 0; i < n; i++)
                p[i] = v;
}

/* Compares one identity (id 1) of 3 identical sweeps per side. */
static IdentityComparison compare_one(IdentityPoint before, IdentityPoint after,
                                      const Thresholds *t) {
        IdentityPoint pb[3], pa[3];
        IdentityComparison c = {};
        int r;

        points_fill(pb, 3, before);
        points_fill(pa, 3, after);
        r = compare_identities(&(IdentitySeries) { 1, 3, pb }, 1, &(IdentitySeries) { 1, 3, pa },
                               1, t, &c, NULL, NULL, NULL, NULL);
        ASSERT_INT_EQ(r, 1);
        return c;
}

static void test_exclusivity(void) {
        /* Reported metrics unchanged; per class (present → exclusive, before | after):
         *   anon        1 GiB: 1 GiB (100%)   | 1 GiB: 512 MiB (50%)  -50 points, -524288 kB
         *   file        4096: 4096            | same                  no move
         *   shared_file 0: 0 (ratio 0)        | 8192: 8192 (100%)     +100 points, +8192 kB,
         *                                                             but no present before
         *   shmem       8192: 8192 (100%)     | 0: 0 (ratio 0)        -100 points, no present
         *                                                             after
         *   hugetlb     100000: 50000 (50%)   | 100000: 50800 (50.8%) +800 kB, +0.8 points */
        IdentityPoint b = gib_point(524288, 524288, 786432), a;
        IdentityComparison c;

        b.has_pagemap = true;
        b.present_kb[EXCLUSIVITY_ANON] = GIB_KB;
        b.exclusive_kb[EXCLUSIVITY_ANON] = GIB_KB;
        b.present_kb[EXCLUSIVITY_FILE] = b.exclusive_kb[EXCLUSIVITY_FILE] = 4096;
        b.present_kb[EXCLUSIVITY_SHMEM] = b.exclusive_kb[EXCLUSIVITY_SHMEM] = 8192;
        b.present_kb[EXCLUSIVITY_HUGETLB] = 100000;
        b.exclusive_kb[EXCLUSIVITY_HUGETLB] = 50000;
        a = b;
        a.exclusive_kb[EXCLUSIVITY_ANON] = GIB_KB / 2;
        a.present_kb[EXCLUSIVITY_SHARED_FILE] = a.exclusive_kb[EXCLUSIVITY_SHARED_FILE] = 8192;
        a.present_kb[EXCLUSIVITY_SHMEM] = a.exclusive_kb[EXCLUSIVITY_SHMEM] = 0;
        a.exclusive_kb[EXCLUSIVITY_HUGETLB] = 50800;

        c = compare_one(b, a, &defaults);
        ASSERT_TRUE(c.has_exclusivity);
        ASSERT_TRUE(c.flagged);
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                ASSERT_FALSE(c.metrics[m].flagged);

        ASSERT_TRUE(c.exclusivity[EXCLUSIVITY_ANON].flagged);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].before.median_kb, GIB_KB, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].after.median_kb, GIB_KB / 2, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].before.median_ratio, 1.0, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].after.median_ratio, 0.5, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].delta_kb, -524288, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].delta_points, -50, EPS);

        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_FILE].flagged);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_FILE].before.median_ratio, 1.0, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_FILE].delta_points, 0, EPS);

        /* The arithmetic alone would flag both; the zero-present rule keeps them quiet. */
        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_SHARED_FILE].flagged);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_SHARED_FILE].delta_points, 100, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_SHARED_FILE].delta_kb, 8192, EPS);
        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_SHMEM].flagged);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_SHMEM].delta_points, -100, EPS);

        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_HUGETLB].flagged);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_HUGETLB].delta_kb, 800, EPS);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_HUGETLB].delta_points, 0.8, 1e-9);
        /* ... and it is the thresholds that keep it quiet. */
        c = compare_one(b, a, &(Thresholds) { 0, 0, 0 });
        ASSERT_TRUE(c.exclusivity[EXCLUSIVITY_HUGETLB].flagged);
        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_SHARED_FILE].flagged);
        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_SHMEM].flagged);

        /* No anon change: nothing flagged at all. */
        a.exclusive_kb[EXCLUSIVITY_ANON] = GIB_KB;
        c = compare_one(b, a, &defaults);
        ASSERT_TRUE(c.has_exclusivity);
        ASSERT_FALSE(c.flagged);

        /* One sweep of one side without a complete scan: no exclusivity, not flagged. */
        {
                IdentityPoint pb[3], pa[3];

                a.exclusive_kb[EXCLUSIVITY_ANON] = GIB_KB / 2;
                points_fill(pb, 3, b);
                points_fill(pa, 3, a);
                pa[1].has_pagemap = false;
                ASSERT_INT_EQ(compare_identities(&(IdentitySeries) { 1, 3, pb }, 1,
                                                 &(IdentitySeries) { 1, 3, pa }, 1, &defaults, &c,
                                                 NULL, NULL, NULL, NULL), 1);
                ASSERT_FALSE(c.has_exclusivity);
                ASSERT_FALSE(c.flagged);
                ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_ANON].flagged);
        }
}

static void test_shift_kind(void) {
        /* 1 GiB identity, Shared 50% → 62.5% (+131072 kB, +12.5 points) and Private 50% →
         * 37.5%, Pss unchanged. */
        const IdentityPoint b = gib_point(524288, 524288, 786432);
        IdentityPoint a, pb[3], pa[3];
        IdentityComparison c;

        /* accounting: the reported figures moved, the truth stayed put. */
        a = gib_point(655360, 393216, 786432);
        memcpy(a.truth_kb, b.truth_kb, sizeof a.truth_kb);
        a.has_truth = true;
        {
                IdentityPoint bt = b;

                bt.has_truth = true;
                c = compare_one(bt, a, &defaults);
        }
        ASSERT_TRUE(c.flagged);
        ASSERT_TRUE(c.has_truth);
        ASSERT_TRUE(c.metrics[COMPARE_METRIC_SHARED].flagged);
        ASSERT_TRUE(c.metrics[COMPARE_METRIC_PRIVATE].flagged);
        ASSERT_FALSE(c.metrics[COMPARE_METRIC_PSS].flagged);
        ASSERT_FALSE(c.truth[COMPARE_METRIC_SHARED].flagged);
        ASSERT_DOUBLE_NEAR(c.truth[COMPARE_METRIC_SHARED].before.median_kb, 524288, EPS);
        ASSERT_DOUBLE_NEAR(c.truth[COMPARE_METRIC_SHARED].delta_kb, 0, EPS);
        ASSERT_INT_EQ(c.kind, SHIFT_ACCOUNTING);

        /* The same, but the identity shares memory with processes that were not read: below
         * the threshold the truth still tells, from it on it cannot. */
        {
                IdentityPoint bt = b, au = a;

                bt.has_truth = true;
                bt.truth_unseen_kb = 1023;
                c = compare_one(bt, au, &defaults);
                ASSERT_INT_EQ(c.kind, SHIFT_ACCOUNTING);
                ASSERT_DOUBLE_NEAR(c.unseen_before_kb, 1023, EPS);
                au.truth_unseen_kb = 1024;
                c = compare_one(bt, au, &defaults);
                ASSERT_TRUE(c.flagged);
                ASSERT_DOUBLE_NEAR(c.unseen_after_kb, 1024, EPS);
                ASSERT_INT_EQ(c.kind, SHIFT_UNKNOWN);
        }

        /* behavior: the truth moved with them. */
        a = gib_point(655360, 393216, 786432);
        a.has_truth = true;
        {
                IdentityPoint bt = b;

                bt.has_truth = true;
                c = compare_one(bt, a, &defaults);
        }
        ASSERT_TRUE(c.truth[COMPARE_METRIC_SHARED].flagged);
        ASSERT_TRUE(c.truth[COMPARE_METRIC_PRIVATE].flagged);
        ASSERT_DOUBLE_NEAR(c.truth[COMPARE_METRIC_SHARED].delta_kb, 131072, EPS);
        ASSERT_DOUBLE_NEAR(c.truth[COMPARE_METRIC_SHARED].delta_points, 12.5, EPS);
        ASSERT_DOUBLE_NEAR(c.truth[COMPARE_METRIC_PRIVATE].delta_points, -12.5, EPS);
        ASSERT_FALSE(c.truth[COMPARE_METRIC_PSS].flagged);
        ASSERT_INT_EQ(c.kind, SHIFT_BEHAVIOR);

        /* mixed: Shared moved with its truth; Exclusive_Anon fell 50% → 25% while the truth
         * Private (its counterpart) stayed. */
        {
                IdentityPoint bt = b;

                bt.has_truth = bt.has_pagemap = true;
                bt.present_kb[EXCLUSIVITY_ANON] = GIB_KB;
                bt.exclusive_kb[EXCLUSIVITY_ANON] = 524288;
                a = gib_point(655360, 524288, 786432);
                a.has_truth = a.has_pagemap = true;
                a.present_kb[EXCLUSIVITY_ANON] = GIB_KB;
                a.exclusive_kb[EXCLUSIVITY_ANON] = 262144;
                c = compare_one(bt, a, &defaults);
                ASSERT_TRUE(c.metrics[COMPARE_METRIC_SHARED].flagged);
                ASSERT_FALSE(c.metrics[COMPARE_METRIC_PRIVATE].flagged);
                ASSERT_TRUE(c.exclusivity[EXCLUSIVITY_ANON].flagged);
                ASSERT_TRUE(c.truth[COMPARE_METRIC_SHARED].flagged);
                ASSERT_FALSE(c.truth[COMPARE_METRIC_PRIVATE].flagged);
                ASSERT_INT_EQ(c.kind, SHIFT_MIXED);

                /* Without the exclusivity move only behavior is left. */
                a.exclusive_kb[EXCLUSIVITY_ANON] = 524288;
                c = compare_one(bt, a, &defaults);
                ASSERT_INT_EQ(c.kind, SHIFT_BEHAVIOR);
        }

        /* Counterparts: Pss_Anon → truth Pss. Pss_Anon alone moves +131072 kB; the truth
         * Shared moved too but is not its counterpart: accounting. Then the truth Pss moves
         * instead: behavior. */
        {
                IdentityPoint bt = b;

                bt.has_truth = true;
                a = b;
                a.has_truth = true;
                a.metric_kb[COMPARE_METRIC_PSS_ANON] += 131072;
                a.truth_kb[COMPARE_METRIC_SHARED] += 131072;
                c = compare_one(bt, a, &defaults);
                ASSERT_TRUE(c.metrics[COMPARE_METRIC_PSS_ANON].flagged);
                ASSERT_FALSE(c.metrics[COMPARE_METRIC_PSS].flagged);
                ASSERT_TRUE(c.truth[COMPARE_METRIC_SHARED].flagged);
                ASSERT_INT_EQ(c.kind, SHIFT_ACCOUNTING);

                a.truth_kb[COMPARE_METRIC_SHARED] = b.truth_kb[COMPARE_METRIC_SHARED];
                a.truth_kb[COMPARE_METRIC_PSS] += 131072;
                c = compare_one(bt, a, &defaults);
                ASSERT_TRUE(c.truth[COMPARE_METRIC_PSS].flagged);
                ASSERT_INT_EQ(c.kind, SHIFT_BEHAVIOR);
        }

        /* unknown: one candidate sweep without a reconstruction. The forecast needs only the
         * baseline's. */
        a = gib_point(655360, 393216, 786432);
        a.has_truth = true;
        points_fill(pb, 3, b);
        points_fill(pa, 3, a);
        for (size_t i = 0; i < 3; i++)
                pb[i].has_truth = true;
        pa[2].has_truth = false;
        ASSERT_INT_EQ(compare_identities(&(IdentitySeries) { 1, 3, pb }, 1,
                                         &(IdentitySeries) { 1, 3, pa }, 1, &defaults, &c, NULL,
                                         NULL, NULL, NULL), 1);
        ASSERT_TRUE(c.flagged);
        ASSERT_FALSE(c.has_truth);
        ASSERT_FALSE(c.truth[COMPARE_METRIC_SHARED].flagged);
        ASSERT_INT_EQ(c.kind, SHIFT_UNKNOWN);
        ASSERT_TRUE(c.has_forecast);
        /* ... and no reconstruction in the baseline: no forecast either. */
        pb[0].has_truth = false;
        for (size_t i = 0; i < 3; i++)
                pa[i].has_truth = true;
        ASSERT_INT_EQ(compare_identities(&(IdentitySeries) { 1, 3, pb }, 1,
                                         &(IdentitySeries) { 1, 3, pa }, 1, &defaults, &c, NULL,
                                         NULL, NULL, NULL), 1);
        ASSERT_FALSE(c.has_truth);
        ASSERT_FALSE(c.has_forecast);
        ASSERT_INT_EQ(c.kind, SHIFT_UNKNOWN);

        /* Not flagged, with the truth on both sides: still unknown. */
        {
                IdentityPoint bt = b;

                bt.has_truth = true;
                c = compare_one(bt, bt, &defaults);
                ASSERT_FALSE(c.flagged);
                ASSERT_TRUE(c.has_truth);
                ASSERT_INT_EQ(c.kind, SHIFT_UNKNOWN);
        }
}

/* W1 (docs/kernel-semantics.md §8) on 512 THPs: Rss 1048576. PAGE reports Shared 2044 × 512 =
 * 1046528, Private 4 × 512 = 2048, Pss 1026 × 512 = 525312 and 512/512 exclusive entries per
 * THP; NO (the forecast) Shared 1048576, Private 0, Pss 524288, no exclusive entry. A 4 MiB
 * hugetlb mapping is fully exclusive on both kernels. */
static IdentityPoint w1_big_page(void) {
        IdentityPoint p = {
                .rss_kb = 1048576,
                .metric_kb = {
                        [COMPARE_METRIC_SHARED] = 1046528,
                        [COMPARE_METRIC_PRIVATE] = 2048,
                        [COMPARE_METRIC_PSS] = 525312,
                        [COMPARE_METRIC_PSS_ANON] = 525312,
                },
                .processes = 1,
                .has_pagemap = true,
                .present_kb = { [EXCLUSIVITY_ANON] = 1048576, [EXCLUSIVITY_HUGETLB] = 4096 },
                .exclusive_kb = { [EXCLUSIVITY_ANON] = 1048576, [EXCLUSIVITY_HUGETLB] = 4096 },
                .has_truth = true,
                .truth_kb = {
                        [COMPARE_METRIC_SHARED] = 1048576,
                        [COMPARE_METRIC_PSS] = 524288,
                },
                .forecast_kb = {
                        [COMPARE_METRIC_SHARED] = 1048576,
                        [COMPARE_METRIC_PRIVATE] = 0,
                        [COMPARE_METRIC_PSS] = 524288,
                        [COMPARE_METRIC_PSS_ANON] = 524288,
                },
                .forecast_exclusive_kb = 0,
        };

        return p;
}

/* The same process measured on the NO kernel. */
static IdentityPoint w1_big_no(void) {
        IdentityPoint p = w1_big_page();

        p.metric_kb[COMPARE_METRIC_SHARED] = 1048576;
        p.metric_kb[COMPARE_METRIC_PRIVATE] = 0;
        p.metric_kb[COMPARE_METRIC_PSS] = 524288;
        p.metric_kb[COMPARE_METRIC_PSS_ANON] = 524288;
        p.exclusive_kb[EXCLUSIVITY_ANON] = 0;
        return p;
}

static void test_forecast_accuracy(void) {
        /* Baseline W1 on PAGE with its forecast; candidate on NO reports exactly the forecast,
         * except Pss_Anon, which comes out 76 × 512 = 38912 kB higher than forecast
         * (+3.7109375 points of Rss). */
        IdentityPoint b = w1_big_page(), a = w1_big_no();
        IdentityComparison c;

        a.metric_kb[COMPARE_METRIC_PSS_ANON] += 38912;
        c = compare_one(b, a, &defaults);
        ASSERT_TRUE(c.has_forecast);
        ASSERT_TRUE(c.has_truth);
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                if (m != COMPARE_METRIC_PSS_ANON) {
                        ASSERT_FALSE(c.forecast[m].flagged);
                        ASSERT_DOUBLE_NEAR(c.forecast[m].delta_kb, 0, EPS);
                        ASSERT_DOUBLE_NEAR(c.forecast[m].delta_points, 0, EPS);
                }
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_SHARED].before.median_kb, 1048576, EPS);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_SHARED].after.median_kb, 1048576, EPS);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PSS].before.median_kb, 524288, EPS);
        ASSERT_TRUE(c.forecast[COMPARE_METRIC_PSS_ANON].flagged);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PSS_ANON].before.median_kb, 524288, EPS);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PSS_ANON].after.median_kb, 563200, EPS);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PSS_ANON].delta_kb, 38912, EPS);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PSS_ANON].delta_points, 3.7109375, EPS);

        /* The comparison itself: the reported Shared moved +2048 kB = +0.1953125 points (below
         * the default 1 point); Exclusive_Anon 100% → 0%; Exclusive_Hugetlb unchanged. The
         * truth did not move: accounting. */
        ASSERT_FALSE(c.metrics[COMPARE_METRIC_SHARED].flagged);
        ASSERT_DOUBLE_NEAR(c.metrics[COMPARE_METRIC_SHARED].delta_points, 0.1953125, EPS);
        ASSERT_TRUE(c.exclusivity[EXCLUSIVITY_ANON].flagged);
        ASSERT_DOUBLE_NEAR(c.exclusivity[EXCLUSIVITY_ANON].delta_points, -100, EPS);
        ASSERT_FALSE(c.exclusivity[EXCLUSIVITY_HUGETLB].flagged);
        ASSERT_TRUE(c.flagged);
        ASSERT_INT_EQ(c.kind, SHIFT_ACCOUNTING);

        /* The same kernel on both sides, but a baseline forecast of Pss_Anon 38912 kB too
         * low: the forecast's error is flagged, the identity is not. Private: forecast 0,
         * actual 2048: +2048 kB but only +0.195 points. */
        b.forecast_kb[COMPARE_METRIC_PSS_ANON] -= 38912;
        c = compare_one(b, w1_big_page(), &defaults);
        ASSERT_FALSE(c.flagged);
        ASSERT_TRUE(c.has_forecast);
        ASSERT_TRUE(c.forecast[COMPARE_METRIC_PSS_ANON].flagged);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PSS_ANON].delta_kb, 38912 + 1024, EPS);
        ASSERT_FALSE(c.forecast[COMPARE_METRIC_PRIVATE].flagged);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PRIVATE].delta_kb, 2048, EPS);
        ASSERT_DOUBLE_NEAR(c.forecast[COMPARE_METRIC_PRIVATE].delta_points, 0.1953125, EPS);
}

static void test_compare_forecast(void) {
        /* Identity 3: W1 × 512 in every sweep. Identity 5: a process whose forecast equals
         * what it reports (small pages only), with a 4 MiB hugetlb mapping nobody may count.
         * Identity 8: no reconstruction at all. Identity 9: two sweeps with a reconstruction
         * and two without, whose figures would be flagged if they were used. */
        const Thresholds low_points = { .min_delta_kb = 1024, .min_delta_points = 0.1,
                                        .noise_factor = 3 };
        IdentityPoint p3[3], p5[2], p8[2], p9[4];
        IdentityPoint same = gib_point(262144, 786432, 917504);
        ForecastComparison f[4];
        int r;

        points_fill(p3, 3, w1_big_page());

        same.has_truth = same.has_pagemap = true;
        memcpy(same.forecast_kb, same.metric_kb, sizeof same.forecast_kb);
        same.present_kb[EXCLUSIVITY_ANON] = 8192;
        same.exclusive_kb[EXCLUSIVITY_ANON] = 8192;
        same.present_kb[EXCLUSIVITY_HUGETLB] = 8192;
        same.forecast_exclusive_kb = 8192;
        points_fill(p5, 2, same);

        points_fill(p8, 2, w1_big_page());
        p8[0].has_truth = p8[1].has_truth = false;

        points_fill(p9, 4, same);
        p9[1].has_truth = false;
        p9[1].forecast_kb[COMPARE_METRIC_SHARED] = 0;
        p9[1].rss_kb = 1;
        p9[3].has_truth = false;
        p9[3].forecast_kb[COMPARE_METRIC_SHARED] = 0;
        p9[3].rss_kb = 1;
        /* A reconstructed sweep without a complete scan counts for the metrics only. */
        p9[2].has_pagemap = false;
        p9[2].forecast_exclusive_kb = 0;

        const IdentitySeries series[] = {
                { 3, 3, p3 }, { 5, 2, p5 }, { 8, 2, p8 }, { 9, 4, p9 },
        };

        r = compare_forecast(series, ELEMENTSOF(series), &defaults, f);
        ASSERT_INT_EQ(r, 3);
        ASSERT_INT_EQ(f[0].identity_id, 3);
        ASSERT_INT_EQ(f[1].identity_id, 5);
        ASSERT_INT_EQ(f[2].identity_id, 9);

        /* W1 with the default thresholds: every metric moves ≤ 2048 kB, ≤ 0.2 points, so only
         * exclusivity is flagged: reported Σ exclusive (anon; hugetlb left out) 1048576 of
         * 1048576 present (100%) → forecast 0 (0%). */
        ASSERT_U64_EQ(f[0].n, 3);
        ASSERT_DOUBLE_NEAR(f[0].rss_kb, 1048576, EPS);
        ASSERT_TRUE(f[0].flagged);
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                ASSERT_FALSE(f[0].metrics[m].flagged);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_SHARED].before.median_kb, 1046528, EPS);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_SHARED].after.median_kb, 1048576, EPS);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_SHARED].delta_kb, 2048, EPS);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_SHARED].delta_points, 0.1953125, EPS);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_PRIVATE].delta_kb, -2048, EPS);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_PSS].delta_kb, -1024, EPS);
        ASSERT_DOUBLE_NEAR(f[0].metrics[COMPARE_METRIC_PSS].delta_points, -0.09765625, EPS);
        ASSERT_TRUE(f[0].exclusivity.flagged);
        ASSERT_DOUBLE_NEAR(f[0].exclusivity.before.median_kb, 1048576, EPS);
        ASSERT_DOUBLE_NEAR(f[0].exclusivity.after.median_kb, 0, EPS);
        ASSERT_DOUBLE_NEAR(f[0].exclusivity.before.median_ratio, 1.0, EPS);
        ASSERT_DOUBLE_NEAR(f[0].exclusivity.delta_kb, -1048576, EPS);
        ASSERT_DOUBLE_NEAR(f[0].exclusivity.delta_points, -100, EPS);

        /* Forecast equals today: nothing moves. The exclusive ratio is 8192 / 8192 on both
         * sides (it would be 50% with the hugetlb class in the base). */
        ASSERT_U64_EQ(f[1].n, 2);
        ASSERT_FALSE(f[1].flagged);
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                ASSERT_FALSE(f[1].metrics[m].flagged);
                ASSERT_DOUBLE_NEAR(f[1].metrics[m].delta_kb, 0, EPS);
        }
        ASSERT_FALSE(f[1].exclusivity.flagged);
        ASSERT_DOUBLE_NEAR(f[1].exclusivity.before.median_ratio, 1.0, EPS);
        ASSERT_DOUBLE_NEAR(f[1].exclusivity.after.median_ratio, 1.0, EPS);

        /* Identity 9: only sweeps 0 and 2 count (n 2, Rss 1 GiB, nothing moved); the
         * exclusivity only over sweep 0. */
        ASSERT_U64_EQ(f[2].n, 2);
        ASSERT_DOUBLE_NEAR(f[2].rss_kb, GIB_KB, EPS);
        ASSERT_FALSE(f[2].flagged);
        ASSERT_DOUBLE_NEAR(f[2].metrics[COMPARE_METRIC_SHARED].delta_kb, 0, EPS);
        ASSERT_U64_EQ(f[2].metrics[COMPARE_METRIC_SHARED].before.n, 2);
        ASSERT_U64_EQ(f[2].exclusivity.before.n, 1);
        ASSERT_U64_EQ(f[2].exclusivity.after.n, 1);
        ASSERT_DOUBLE_NEAR(f[2].exclusivity.after.median_kb, 8192, EPS);

        /* Lower the points threshold to 0.1: W1's Shared (+0.195) and Private (-0.195) are
         * flagged, Pss (-0.098) still is not. */
        r = compare_forecast(series, 1, &low_points, f);
        ASSERT_INT_EQ(r, 1);
        ASSERT_TRUE(f[0].metrics[COMPARE_METRIC_SHARED].flagged);
        ASSERT_TRUE(f[0].metrics[COMPARE_METRIC_PRIVATE].flagged);
        ASSERT_FALSE(f[0].metrics[COMPARE_METRIC_PSS].flagged);
        ASSERT_FALSE(f[0].metrics[COMPARE_METRIC_PSS_FILE].flagged);

        /* Nothing to compare. */
        ASSERT_INT_EQ(compare_forecast(NULL, 0, &defaults, NULL), 0);
        ASSERT_INT_EQ(compare_forecast(&series[2], 1, &defaults, f), 0);
}


int main(void) {
        test_compare_identities();
        test_compare_identities_edges();
        test_class_and_kind_strings();
        test_exclusivity();
        test_shift_kind();
        test_forecast_accuracy();
        test_compare_forecast();
        return test_exit();
}
