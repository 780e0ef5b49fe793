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

/* One sweep of one identity: the figures summed over its processes. */
typedef struct IdentityPoint {
        uint64_t rss_kb;
        uint64_t metric_kb[_COMPARE_METRIC_MAX];
        uint32_t processes;
} IdentityPoint;

/* All sweeps of one identity within one epoch. */
typedef struct IdentitySeries {
        int64_t identity_id;
        size_t n;
        const IdentityPoint *points;
} IdentitySeries;

typedef struct IdentityComparison {
        int64_t identity_id;
        size_t n_before, n_after;
        double processes_before, processes_after;       /* medians */
        double rss_before_kb, rss_after_kb;             /* medians */
        MetricDelta metrics[_COMPARE_METRIC_MAX];
        bool flagged;                                   /* any metric flagged */
} IdentityComparison;

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
