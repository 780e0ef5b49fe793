/* Implementation of storage/aggregate.h. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "aggregate.h"
#include "macro.h"

/* ProcessTruth is a run of uint64_t figures: summed field by field. */
_Static_assert(sizeof(ProcessTruth) % sizeof(uint64_t) == 0, "ProcessTruth holds uint64_t only");

uint64_t add_saturating(uint64_t a, uint64_t b) {
        if (a > (uint64_t) INT64_MAX || b > (uint64_t) INT64_MAX - a)
                return (uint64_t) INT64_MAX;
        return a + b;
}

static int sweep_row_compare(const void *a, const void *b) {
        const SweepRow *x = a, *y = b;

        return (x->identity_id > y->identity_id) - (x->identity_id < y->identity_id);
}

void sweep_rows_sort(SweepRow *rows, size_t n) {
        if (n > 1)
                qsort(rows, n, sizeof *rows, sweep_row_compare);
}

size_t sweep_rows_group_end(const SweepRow *rows, size_t n, size_t i) {
        size_t j = i + 1;

        while (j < n && rows[j].identity_id == rows[i].identity_id)
                j++;
        return j;
}

static int u64_compare(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

/* The lower median (the member ranked (n + 1) / 2) of one field over rows[0..n). */
static uint64_t rows_lower_median(const SweepRow *rows, size_t n, SmapsField f,
                                  uint64_t *scratch) {
        for (size_t i = 0; i < n; i++)
                scratch[i] = rows[i].kb[f];
        qsort(scratch, n, sizeof *scratch, u64_compare);
        return scratch[(n - 1) / 2];
}

void process_truth_add(ProcessTruth *sum, const ProcessTruth *t) {
        uint64_t *s = (uint64_t *) sum;
        const uint64_t *v = (const uint64_t *) t;

        for (size_t i = 0; i < sizeof *sum / sizeof(uint64_t); i++)
                s[i] = add_saturating(s[i], v[i]);
}

static void pagemap_classes_add(PagemapClassCounts *sum, const PagemapClassCounts *pm) {
        for (size_t c = 0; c < _VMA_CLASS_MAX; c++) {
                sum[c].present_pages = add_saturating(sum[c].present_pages, pm[c].present_pages);
                sum[c].swapped_pages = add_saturating(sum[c].swapped_pages, pm[c].swapped_pages);
                sum[c].exclusive_pages = add_saturating(sum[c].exclusive_pages,
                                                        pm[c].exclusive_pages);
        }
}

void identity_aggregate(const SweepRow *rows, size_t n,
                        const PagemapClassCounts (*pagemaps)[_VMA_CLASS_MAX],
                        const ProcessTruth *truths, uint64_t *scratch, IdentityAggregate *ret) {
        IdentityAggregate a = {
                .identity_id = rows[0].identity_id,
                .processes = (uint32_t) MIN(n, (size_t) UINT32_MAX),
                .present_all = UINT32_MAX,
        };

        assert(n > 0);
        for (size_t i = 0; i < n; i++) {
                assert(rows[i].identity_id == a.identity_id);
                a.present_all &= rows[i].present;
                a.present_any |= rows[i].present;
                for (size_t f = 0; f < _SMAPS_FIELD_MAX; f++)
                        a.sum_kb[f] = add_saturating(a.sum_kb[f], rows[i].kb[f]);
                if (rows[i].pagemap >= 0) {
                        pagemap_classes_add(a.pagemap, pagemaps[rows[i].pagemap]);
                        a.pagemap_processes++;
                }
                if (rows[i].reused)
                        a.reused_processes++;
                if (rows[i].truth >= 0) {
                        process_truth_add(&a.truth, truths + rows[i].truth);
                        a.truth_processes++;
                }
        }
        a.median_rss_kb = rows_lower_median(rows, n, SMAPS_RSS, scratch);
        a.median_pss_kb = rows_lower_median(rows, n, SMAPS_PSS, scratch);
        *ret = a;
}

bool identity_aggregate_same(const IdentityAggregate *a, const IdentityAggregate *b) {
        if (a->identity_id != b->identity_id || a->processes != b->processes ||
            a->present_all != b->present_all || a->present_any != b->present_any ||
            a->median_rss_kb != b->median_rss_kb || a->median_pss_kb != b->median_pss_kb ||
            a->pagemap_processes != b->pagemap_processes ||
            a->truth_processes != b->truth_processes)
                return false;
        for (size_t f = 0; f < _SMAPS_FIELD_MAX; f++)
                if ((a->present_any & (1u << f)) && a->sum_kb[f] != b->sum_kb[f])
                        return false;
        if (a->pagemap_processes > 0 && memcmp(a->pagemap, b->pagemap, sizeof a->pagemap) != 0)
                return false;
        return a->truth_processes == 0 || memcmp(&a->truth, &b->truth, sizeof a->truth) == 0;
}
