/* Per-identity aggregates of one sweep, computed in memory when the sweep commits: the sums of
 * every smaps_rollup field, which fields every member and any member has, the lower medians of
 * Rss and Pss, and the sums of the pagemap counts and reconstructions over the members that
 * have them. This is the one place where a sweep's processes are summed; identity_samples
 * stores the result and every query reads it from there. Pure: no SQLite, no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"
#include "pagemap.h"
#include "reconstruct.h"
#include "smaps-rollup.h"

/* One process of the open sweep. Its pagemap counts and reconstruction live in side arrays of
 * the writer, so that a sweep without them carries nothing extra per process. */
typedef struct SweepRow {
        int64_t identity_id;
        int64_t process_id;
        uint64_t start_time_ticks;
        int32_t pid;
        uint32_t present;               /* SmapsRollup.present */
        int32_t pagemap;                /* index into the pagemap array; -1: no complete scan */
        int32_t truth;                  /* index into the truth array; -1: not reconstructed */
        bool reused;                    /* the figures are an earlier sweep's read */
        int64_t run_sweep_id;           /* the open sweep's id when the sample has a row of its
                                         * own; earlier when it extended a run */
        bool unchanged;                 /* extended its run (and kept it: a reconstruction
                                         * splits it off), and is the same process row under
                                         * the same identity as in the last sweep */
        uint64_t kb[_SMAPS_FIELD_MAX];
} SweepRow;

typedef struct IdentityAggregate {
        int64_t identity_id;
        uint32_t processes;
        uint32_t present_all;           /* fields every member printed (AND) */
        uint32_t present_any;           /* fields some member printed (OR); a field no member
                                         * printed is stored as NULL, not 0 */
        uint64_t sum_kb[_SMAPS_FIELD_MAX];      /* absent counts as 0 */
        uint64_t median_rss_kb, median_pss_kb;  /* lower medians over the members */
        uint32_t pagemap_processes;     /* members with a complete scan */
        PagemapClassCounts pagemap[_VMA_CLASS_MAX];     /* summed over them */
        uint32_t truth_processes;       /* members with a reconstruction */
        ProcessTruth truth;             /* summed over them */
        uint32_t reused_processes;      /* members whose figures are an earlier read */
} IdentityAggregate;

/* Every member's figures are an earlier read: the sample is no new observation (of the
 * figures, or of their noise). */
static inline bool identity_aggregate_is_reused(const IdentityAggregate *a) {
        return a->processes > 0 && a->reused_processes == a->processes;
}

/* Whether two aggregates of one identity hold the same figures: every stored column but
 * reused_processes (a sum no member has is compared as absent, whatever it holds). Such
 * consecutive sweeps share one identity_samples run (schema.c). Pure. */
bool identity_aggregate_same(const IdentityAggregate *a, const IdentityAggregate *b);

/* Every member of the identity had a complete pagemap scan, or a reconstruction: only then are
 * the sums the identity's. */
static inline bool identity_aggregate_has_pagemap(const IdentityAggregate *a) {
        return a->processes > 0 && a->pagemap_processes == a->processes;
}
static inline bool identity_aggregate_has_truth(const IdentityAggregate *a) {
        return a->processes > 0 && a->truth_processes == a->processes;
}

/* a + b, saturating at INT64_MAX, the largest figure SQLite stores: an identity summing absurd
 * figures stays storable (each input is at most that; the collectors reject more). */
uint64_t add_saturating(uint64_t a, uint64_t b);

/* Sorts rows by identity id, so that each identity's rows are adjacent. */
void sweep_rows_sort(SweepRow *rows, size_t n);

/* The end of the group of rows that starts at rows[i]: the first index after i whose identity
 * differs (n at the end). */
size_t sweep_rows_group_end(const SweepRow *rows, size_t n, size_t i);

/* Aggregates rows[0..n), n > 0, all of one identity. pagemaps and truths are the side arrays the
 * rows' indices point into (may be NULL when no row uses them). scratch holds n values.
 * Pure. */
void identity_aggregate(const SweepRow *rows, size_t n,
                        const PagemapClassCounts (*pagemaps)[_VMA_CLASS_MAX],
                        const ProcessTruth *truths, uint64_t *scratch, IdentityAggregate *ret);

/* Adds t to *sum field by field, saturating. */
void process_truth_add(ProcessTruth *sum, const ProcessTruth *t);
