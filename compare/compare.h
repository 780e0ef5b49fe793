/* Baseline-vs-candidate comparison on plain structs: robust per-epoch statistics (medians and
 * the median absolute deviation), deltas in kB and in ratio points, flagging against thresholds
 * and within-epoch noise, and the human-readable reasons. No I/O, no clock, no allocation hidden
 * from the caller: everything it needs is passed in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The per-identity metrics compared across a kernel change, all normalized by Rss. */
typedef enum CompareMetric {
        COMPARE_METRIC_SHARED,          /* Shared_Clean + Shared_Dirty */
        COMPARE_METRIC_PRIVATE,         /* Private_Clean + Private_Dirty */
        COMPARE_METRIC_PSS,
        COMPARE_METRIC_PSS_ANON,
        COMPARE_METRIC_PSS_FILE,
        COMPARE_METRIC_PSS_SHMEM,
        _COMPARE_METRIC_MAX,
        _COMPARE_METRIC_INVALID = -22 /* -EINVAL */,
} CompareMetric;

/* "Shared", "Private", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem". */
const char *compare_metric_to_string(CompareMetric m);

typedef struct Thresholds {
        double min_delta_kb;            /* |median after - median before| in kB must reach this */
        double min_delta_points;        /* |ratio delta| in percentage points must reach this */
        double noise_factor;            /* and exceed noise_factor × the within-epoch spread */
} Thresholds;

#define THRESHOLDS_DEFAULT ((Thresholds) { .min_delta_kb = 1024, .min_delta_points = 1.0, .noise_factor = 3.0 })

/* Returns 0 or -ERANGE when a value is negative, NaN or infinite. */
int thresholds_validate(const Thresholds *t);

/* One observation of one metric in one sweep: the figure and what it is normalized by (Rss for
 * a process identity, MemTotal for a meminfo field). */
typedef struct SeriesPoint {
        double value_kb;
        double base_kb;
} SeriesPoint;

/* Robust summary of one metric over one epoch's sweeps. */
typedef struct SeriesStats {
        size_t n;
        double median_kb;
        double median_ratio;    /* median of value/base per sweep (0 where base is 0) */
        double spread_ratio;    /* 1.4826 × MAD of the ratios: a robust standard deviation */
        double spread_kb;       /* same for the kB values */
} SeriesStats;

/* Summarizes n points (n may be 0: everything 0). scratch must hold n doubles. Pure. */
void series_stats(const SeriesPoint *points, size_t n, double *scratch, SeriesStats *ret);

typedef struct MetricDelta {
        SeriesStats before, after;
        double delta_kb;
        double delta_points;    /* (after ratio - before ratio) × 100 */
        double noise_points;    /* noise_factor × √(spread_before² + spread_after²) × 100 */
        bool flagged;
} MetricDelta;

/* Compares two summaries against the thresholds: flagged ⇔ |delta_kb| ≥ min_delta_kb and
 * |delta_points| ≥ min_delta_points and |delta_points| > noise_points. A side with no points is
 * never flagged. Pure. */
void metric_delta_compute(const SeriesStats *before, const SeriesStats *after,
                          const Thresholds *t, MetricDelta *ret);

/* Formats one reason line for a flagged delta into buf: "Shared/Rss 45.0% → 30.1% (-14.9 points,
 * -1536 kB; noise ±0.2 points)". name is the metric ("Shared", "AnonPages"), base_name what it
 * is normalized by ("Rss", "MemTotal"). Percentages and points use one decimal, kB none; both
 * deltas carry an explicit sign. Truncated (still NUL-terminated) if size is too small.
 * Returns buf. */
char *metric_delta_reason(const char *name, const char *base_name, const MetricDelta *d,
                          char *buf, size_t size);

/* Classes of mapping whose pagemap exclusivity is compared; the order is collectors/maps.h's
 * VmaClass (storage checks it). */
typedef enum ExclusivityClass {
        EXCLUSIVITY_ANON,
        EXCLUSIVITY_FILE,
        EXCLUSIVITY_SHARED_FILE,
        EXCLUSIVITY_SHMEM,
        EXCLUSIVITY_HUGETLB,
        _EXCLUSIVITY_CLASS_MAX,
        _EXCLUSIVITY_CLASS_INVALID = -22 /* -EINVAL */,
} ExclusivityClass;

/* "Exclusive_Anon", "Exclusive_File", "Exclusive_Shared_File", "Exclusive_Shmem",
 * "Exclusive_Hugetlb": exclusive (PM_MMAP_EXCLUSIVE) / present pages of that class. */
const char *exclusivity_class_to_string(ExclusivityClass c);

/* One sweep of one identity: the figures summed over its processes. */
typedef struct IdentityPoint {
        uint64_t rss_kb;
        uint64_t metric_kb[_COMPARE_METRIC_MAX];
        uint32_t processes;
        /* pagemap (modes exclusivity and full), when every process of the identity was
         * scanned: per class, present and exclusive pages as kB. */
        bool has_pagemap;
        uint64_t present_kb[_EXCLUSIVITY_CLASS_MAX];
        uint64_t exclusive_kb[_EXCLUSIVITY_CLASS_MAX];
        /* Reconstruction (mode full), when every process of the identity has one: the truth
         * for Shared, Private and Pss (the Pss_* entries are unused), and the forecast for all
         * six metrics plus exclusive pages (as kB, over all classes). */
        bool has_truth;
        uint64_t truth_kb[_COMPARE_METRIC_MAX];
        uint64_t truth_uss_kb;
        uint64_t forecast_kb[_COMPARE_METRIC_MAX];
        uint64_t forecast_exclusive_kb;
        uint64_t truth_unseen_kb;       /* pages processes not read also map, as kB */
} IdentityPoint;

/* All sweeps of one identity within one epoch. */
typedef struct IdentitySeries {
        int64_t identity_id;
        size_t n;
        const IdentityPoint *points;
} IdentitySeries;

/* What a flagged shift is, from the reconstructed truth (mode full on both sides):
 *   accounting  every flagged figure moved while its truth counterpart did not
 *   behavior    the truth counterpart of every flagged figure moved too (same thresholds)
 *   mixed       some of each
 *   unknown     no reconstruction in the baseline or the candidate, or either side's
 *               processes share at least min_delta_kb with processes that were not read
 *               (the truth's sharing is then a lower bound)
 * Counterparts: Shared → truth Shared; Private and every Exclusive_* → truth Private; Pss and
 * Pss_Anon/File/Shmem → truth Pss. */
typedef enum ShiftKind {
        SHIFT_UNKNOWN,
        SHIFT_ACCOUNTING,
        SHIFT_BEHAVIOR,
        SHIFT_MIXED,
        _SHIFT_KIND_MAX,
        _SHIFT_KIND_INVALID = -22 /* -EINVAL */,
} ShiftKind;

/* "unknown", "accounting", "behavior", "mixed". */
const char *shift_kind_to_string(ShiftKind k);

typedef struct IdentityComparison {
        int64_t identity_id;
        size_t n_before, n_after;
        double processes_before, processes_after;       /* medians */
        double rss_before_kb, rss_after_kb;             /* medians */
        MetricDelta metrics[_COMPARE_METRIC_MAX];
        bool has_exclusivity;           /* both sides had every sweep scanned */
        MetricDelta exclusivity[_EXCLUSIVITY_CLASS_MAX]; /* ratio base: present kB of the class;
                                                          * a class whose median present kB
                                                          * is 0 on either side is never
                                                          * flagged */
        bool flagged;                   /* any metric or exclusivity class flagged */
        bool has_truth;                 /* both sides reconstructed in every sweep */
        MetricDelta truth[_COMPARE_METRIC_MAX]; /* Shared, Private, Pss */
        double unseen_before_kb, unseen_after_kb;       /* medians; 0 without truth */
        ShiftKind kind;                 /* SHIFT_UNKNOWN also when not flagged */
        bool has_forecast;              /* the baseline was reconstructed */
        /* How close the baseline's forecast came: before = the baseline's forecast, after =
         * what the candidate reports; delta = the forecast's error. */
        MetricDelta forecast[_COMPARE_METRIC_MAX];
} IdentityComparison;

/* What a comparison needs of one identity's sweeps in one epoch: the medians and spreads of
 * every compared figure. Comparing two summaries is what compare_identities() does for the
 * identity; a snapshot (mapstatctl export) carries them, so that hosts can be compared without
 * their databases. */
typedef struct IdentitySummary {
        int64_t identity_id;
        size_t n;                       /* sweeps */
        double processes, rss_kb;       /* medians */
        SeriesStats metrics[_COMPARE_METRIC_MAX];       /* normalized by Rss */
        bool has_pagemap;               /* every sweep had a complete scan */
        SeriesStats exclusivity[_EXCLUSIVITY_CLASS_MAX]; /* exclusive of present kB */
        double present_kb[_EXCLUSIVITY_CLASS_MAX];      /* medians */
        bool has_truth;                 /* every sweep had a reconstruction */
        SeriesStats truth[_COMPARE_METRIC_MAX];         /* normalized by Rss */
        SeriesStats forecast[_COMPARE_METRIC_MAX];      /* the NO_PAGE_MAPCOUNT forecast */
        double unseen_kb;               /* median of truth_unseen_kb; 0 without truth */
} IdentitySummary;

/* Summarizes s. points and scratch hold s->n entries each. Pure. */
void identity_summarize(const IdentitySeries *s, SeriesPoint *points, double *scratch,
                        IdentitySummary *ret);

/* The comparison of one identity's summaries before (baseline) and after (candidate): what
 * compare_identities() gives for it. Pure. */
void identity_compare_summaries(const IdentitySummary *before, const IdentitySummary *after,
                                const Thresholds *t, IdentityComparison *ret);

/* Compares every identity present in both lists (each sorted by identity_id ascending). Writes
 * to ret (capacity: MIN(n_before, n_after) entries) one entry per common identity, in
 * identity_id order, and returns how many; appeared/disappeared identity ids are written to
 * ret_appeared (capacity n_after) and ret_disappeared (capacity n_before) with their counts.
 * Returns the number of compared identities, or -ENOMEM (scratch), -EINVAL (lists not
 * sorted, or an id repeated within one list) or -E2BIG (more than INT_MAX could be compared).
 * ret_appeared/ret_n_appeared and ret_disappeared/ret_n_disappeared may be NULL (as pairs)
 * when not wanted. Nothing is written on failure. A common identity with no points on one
 * side is compared but never flagged. */
int compare_identities(const IdentitySeries *before, size_t n_before,
                       const IdentitySeries *after, size_t n_after, const Thresholds *t,
                       IdentityComparison *ret, int64_t *ret_appeared, size_t *ret_n_appeared,
                       int64_t *ret_disappeared, size_t *ret_n_disappeared);

/* ---- the forecast: this epoch's figures against what NO_PAGE_MAPCOUNT would report ---- */

typedef struct ForecastComparison {
        int64_t identity_id;
        size_t n;                       /* sweeps with a reconstruction */
        double rss_kb;                  /* median */
        MetricDelta metrics[_COMPARE_METRIC_MAX];  /* before = reported, after = forecast */
        MetricDelta exclusivity;        /* all classes: reported vs forecast exclusive pages,
                                         * ratio base: present kB */
        bool flagged;
} ForecastComparison;

/* For every identity with a reconstruction in at least one sweep of the (single) epoch given by
 * series, compares the reported figures with the forecast over the same sweeps (sweeps without
 * a reconstruction are left out), with the thresholds and noise rules of metric_delta_compute().
 * Writes up to n entries to ret (in series order) and returns how many, or -ENOMEM, or -E2BIG
 * (n above INT_MAX). The exclusivity figure sums every class but hugetlb (the reconstruction
 * leaves hugetlb out) and uses only the sweeps that also have a complete scan. */
int compare_forecast(const IdentitySeries *series, size_t n, const Thresholds *t,
                     ForecastComparison *ret);
