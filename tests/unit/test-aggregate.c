/* Unit tests of storage/aggregate: the per-identity sums, presence masks, lower medians and the
 * pagemap and reconstruction sums over the members that have them, with saturation at
 * INT64_MAX; sorting and grouping of a sweep's rows. */
#include <stdint.h>
#include <string.h>

#include "aggregate.h"
#include "macro.h"
#include "test.h"

static SweepRow row_make(int64_t identity, int32_t pid, uint64_t rss, uint64_t pss,
                         uint32_t present, int32_t pagemap, int32_t truth) {
        SweepRow r = {
                .identity_id = identity,
                .process_id = pid,
                .pid = pid,
                .present = present,
                .pagemap = pagemap,
                .truth = truth,
        };

        for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                r.kb[f] = (uint64_t) (f + 1) * 10 + (uint64_t) pid;
        r.kb[SMAPS_RSS] = rss;
        r.kb[SMAPS_PSS] = pss;
        return r;
}

static void test_saturating(void) {
        ASSERT_U64_EQ(add_saturating(1, 2), 3);
        ASSERT_U64_EQ(add_saturating(INT64_MAX - 1, 1), INT64_MAX);
        ASSERT_U64_EQ(add_saturating(INT64_MAX, 1), INT64_MAX);
        ASSERT_U64_EQ(add_saturating(1, INT64_MAX), INT64_MAX);
        ASSERT_U64_EQ(add_saturating(UINT64_MAX, 0), INT64_MAX);
}

static void test_sort_and_group(void) {
        SweepRow rows[] = {
                row_make(7, 1, 0, 0, 0, -1, -1), row_make(3, 2, 0, 0, 0, -1, -1),
                row_make(7, 3, 0, 0, 0, -1, -1), row_make(5, 4, 0, 0, 0, -1, -1),
                row_make(3, 5, 0, 0, 0, -1, -1),
        };
        size_t n = ELEMENTSOF(rows), groups = 0;

        sweep_rows_sort(rows, n);
        for (size_t i = 1; i < n; i++)
                ASSERT_TRUE(rows[i - 1].identity_id <= rows[i].identity_id);
        for (size_t i = 0, j; i < n; i = j, groups++) {
                j = sweep_rows_group_end(rows, n, i);
                ASSERT_TRUE(j > i);
                for (size_t k = i; k < j; k++)
                        ASSERT_INT_EQ(rows[k].identity_id, rows[i].identity_id);
                ASSERT_TRUE(j == n || rows[j].identity_id != rows[i].identity_id);
        }
        ASSERT_INT_EQ(groups, 3);
        sweep_rows_sort(rows, 0);
}

static void test_aggregate(void) {
        const uint32_t all = (1u << _SMAPS_FIELD_MAX) - 1, no_ksm = all & ~(1u << SMAPS_KSM);
        PagemapClassCounts pagemaps[2][_VMA_CLASS_MAX] = {};
        ProcessTruth truths[1] = { { .uss_kb = 11, .pss_kb = 22, .forecast_pss_kb = 33,
                                     .partially_mapped_folios = 4 } };
        SweepRow rows[] = {
                row_make(9, 100, 300, 50, all, 0, -1),
                row_make(9, 101, 100, 70, no_ksm, -1, 0),
                row_make(9, 102, 200, 10, all, 1, -1),
        };
        uint64_t scratch[4];
        IdentityAggregate a;

        for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                pagemaps[0][c] = (PagemapClassCounts) { 10 + c, 20 + c, 30 + c };
                pagemaps[1][c] = (PagemapClassCounts) { 100 + c, 200 + c, 300 + c };
        }
        rows[1].kb[SMAPS_KSM] = 0;      /* absent: the collector leaves it 0 */

        identity_aggregate(rows, 3, pagemaps, truths, scratch, &a);
        ASSERT_INT_EQ(a.identity_id, 9);
        ASSERT_INT_EQ(a.processes, 3);
        ASSERT_U64_EQ(a.present_all, no_ksm);
        ASSERT_U64_EQ(a.present_any, all);
        ASSERT_U64_EQ(a.sum_kb[SMAPS_RSS], 600);
        ASSERT_U64_EQ(a.sum_kb[SMAPS_PSS], 130);
        ASSERT_U64_EQ(a.sum_kb[SMAPS_KSM], (13 * 10 + 100) + (13 * 10 + 102));
        ASSERT_U64_EQ(a.sum_kb[SMAPS_LOCKED], 3 * 22 * 10 + 100 + 101 + 102);
        /* Rss 100, 200, 300 → 200; Pss 10, 50, 70 → 50. */
        ASSERT_U64_EQ(a.median_rss_kb, 200);
        ASSERT_U64_EQ(a.median_pss_kb, 50);
        ASSERT_INT_EQ(a.pagemap_processes, 2);
        for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                ASSERT_U64_EQ(a.pagemap[c].present_pages, 110 + 2 * c);
                ASSERT_U64_EQ(a.pagemap[c].swapped_pages, 220 + 2 * c);
                ASSERT_U64_EQ(a.pagemap[c].exclusive_pages, 330 + 2 * c);
        }
        ASSERT_INT_EQ(a.truth_processes, 1);
        ASSERT_U64_EQ(a.truth.uss_kb, 11);
        ASSERT_U64_EQ(a.truth.pss_kb, 22);
        ASSERT_U64_EQ(a.truth.forecast_pss_kb, 33);
        ASSERT_U64_EQ(a.truth.partially_mapped_folios, 4);
        ASSERT_FALSE(identity_aggregate_has_pagemap(&a));
        ASSERT_FALSE(identity_aggregate_has_truth(&a));

        /* Two members: the lower median (the first of the middle two). */
        identity_aggregate(rows, 2, pagemaps, truths, scratch, &a);
        ASSERT_U64_EQ(a.median_rss_kb, 100);
        ASSERT_U64_EQ(a.median_pss_kb, 50);

        /* One member with everything: the identity "has" it. */
        rows[0].truth = 0;
        identity_aggregate(rows, 1, pagemaps, truths, scratch, &a);
        ASSERT_TRUE(identity_aggregate_has_pagemap(&a));
        ASSERT_TRUE(identity_aggregate_has_truth(&a));
        ASSERT_U64_EQ(a.median_rss_kb, 300);

        /* Absurd figures saturate rather than wrap. */
        rows[0].kb[SMAPS_RSS] = INT64_MAX;
        rows[1].kb[SMAPS_RSS] = INT64_MAX;
        truths[0].pss_kb = INT64_MAX;
        rows[1].truth = 0;
        identity_aggregate(rows, 2, pagemaps, truths, scratch, &a);
        ASSERT_U64_EQ(a.sum_kb[SMAPS_RSS], INT64_MAX);
        ASSERT_U64_EQ(a.truth.pss_kb, INT64_MAX);
        ASSERT_U64_EQ(a.truth.uss_kb, 22);
}

static void test_truth_add(void) {
        ProcessTruth sum = {}, t = { .uss_kb = 1, .forecast_exclusive_pages = 7,
                                     .partially_mapped_folios = 2 };

        process_truth_add(&sum, &t);
        process_truth_add(&sum, &t);
        ASSERT_U64_EQ(sum.uss_kb, 2);
        ASSERT_U64_EQ(sum.forecast_exclusive_pages, 14);
        ASSERT_U64_EQ(sum.partially_mapped_folios, 4);
        ASSERT_U64_EQ(sum.pss_kb, 0);
}

int main(void) {
        test_saturating();
        test_sort_and_group();
        test_aggregate();
        test_truth_add();
        return test_exit();
}
