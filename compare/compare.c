/* Baseline-vs-candidate statistics: medians and MAD-based spreads per epoch, deltas in kB and in
 * ratio points, flagging against thresholds and the within-epoch noise, and reason lines. Pure:
 * the only allocation is the median scratch of compare_identities(). */

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "compare.h"
#include "macro.h"

/* Scales a median absolute deviation to the standard deviation of a normal distribution. */
#define MAD_TO_SIGMA 1.4826

static const char *const compare_metric_table[_COMPARE_METRIC_MAX] = {
        [COMPARE_METRIC_SHARED] = "Shared",
        [COMPARE_METRIC_PRIVATE] = "Private",
        [COMPARE_METRIC_PSS] = "Pss",
        [COMPARE_METRIC_PSS_ANON] = "Pss_Anon",
        [COMPARE_METRIC_PSS_FILE] = "Pss_File",
        [COMPARE_METRIC_PSS_SHMEM] = "Pss_Shmem",
};

const char *compare_metric_to_string(CompareMetric m) {
        if (m < 0 || m >= _COMPARE_METRIC_MAX)
                return NULL;
        return compare_metric_table[m];
}

static bool threshold_valid(double v) {
        return isfinite(v) && v >= 0;
}

int thresholds_validate(const Thresholds *t) {
        assert(t);

        if (!threshold_valid(t->min_delta_kb) || !threshold_valid(t->min_delta_points) ||
            !threshold_valid(t->noise_factor))
                return -ERANGE;
        return 0;
}

static int double_compare(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* Sorts v[0..n) in place and returns its median (mean of the two middle values for even n).
 * n must be > 0. */
static double median_sort(double *v, size_t n) {
        assert(v);
        assert(n > 0);

        qsort(v, n, sizeof(double), double_compare);
        if (n % 2 == 1)
                return v[n / 2];
        return (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Given v[0..n) and its median, overwrites v with |v[i] - median| and returns their median. */
static double mad_sort(double *v, size_t n, double median) {
        for (size_t i = 0; i < n; i++)
                v[i] = fabs(v[i] - median);
        return median_sort(v, n);
}

static double point_ratio(const SeriesPoint *p) {
        return p->base_kb != 0 ? p->value_kb / p->base_kb : 0;
}

void series_stats(const SeriesPoint *points, size_t n, double *scratch, SeriesStats *ret) {
        SeriesStats s = { .n = n };

        assert(ret);

        if (n == 0) {
                *ret = s;
                return;
        }
        assert(points);
        assert(scratch);

        /* One scratch array of n doubles serves all four medians in turn. */
        for (size_t i = 0; i < n; i++)
                scratch[i] = points[i].value_kb;
        s.median_kb = median_sort(scratch, n);
        s.spread_kb = MAD_TO_SIGMA * mad_sort(scratch, n, s.median_kb);

        for (size_t i = 0; i < n; i++)
                scratch[i] = point_ratio(&points[i]);
        s.median_ratio = median_sort(scratch, n);
        s.spread_ratio = MAD_TO_SIGMA * mad_sort(scratch, n, s.median_ratio);

        *ret = s;
}

void metric_delta_compute(const SeriesStats *before, const SeriesStats *after,
                          const Thresholds *t, MetricDelta *ret) {
        MetricDelta d;

        assert(before);
        assert(after);
        assert(t);
        assert(ret);

        d = (MetricDelta) {
                .before = *before,
                .after = *after,
                .delta_kb = after->median_kb - before->median_kb,
                .delta_points = (after->median_ratio - before->median_ratio) * 100,
                .noise_points = t->noise_factor *
                                sqrt(before->spread_ratio * before->spread_ratio +
                                     after->spread_ratio * after->spread_ratio) * 100,
        };

        /* The noise test is strict so that two perfectly quiet epochs (noise 0) still need a
         * non-zero move, and a move exactly at the noise level is not taken as a change. */
        d.flagged = before->n > 0 && after->n > 0 &&
                    fabs(d.delta_kb) >= t->min_delta_kb &&
                    fabs(d.delta_points) >= t->min_delta_points &&
                    fabs(d.delta_points) > d.noise_points;

        *ret = d;
}

char *metric_delta_reason(const char *name, const char *base_name, const MetricDelta *d,
                          char *buf, size_t size) {
        assert(name);
        assert(base_name);
        assert(d);
        assert(buf || size == 0);

        (void) snprintf(buf, size,
                        "%s/%s %.1f%% → %.1f%% (%+.1f points, %+.0f kB; noise ±%.1f points)",
                        name, base_name, d->before.median_ratio * 100, d->after.median_ratio * 100,
                        d->delta_points, d->delta_kb, d->noise_points);
        return buf;
}

/* Returns true if the ids strictly increase: the merge walk relies on it, and a duplicate id
 * would pair one series with two others. */
static bool identity_series_sorted(const IdentitySeries *s, size_t n) {
        for (size_t i = 1; i < n; i++)
                if (s[i - 1].identity_id >= s[i].identity_id)
                        return false;
        return true;
}

static size_t identity_series_max_n(const IdentitySeries *s, size_t n) {
        size_t m = 0;

        for (size_t i = 0; i < n; i++)
                m = MAX(m, s[i].n);
        return m;
}

/* Median of one field of the points, via scratch (capacity s->n). 0 for an empty series. */
static double identity_median(const IdentitySeries *s, bool processes, double *scratch) {
        if (s->n == 0)
                return 0;

        for (size_t i = 0; i < s->n; i++)
                scratch[i] = processes ? (double) s->points[i].processes :
                                         (double) s->points[i].rss_kb;
        return median_sort(scratch, s->n);
}

static void identity_metric_stats(const IdentitySeries *s, CompareMetric m,
                                  SeriesPoint *points, double *scratch, SeriesStats *ret) {
        for (size_t i = 0; i < s->n; i++)
                points[i] = (SeriesPoint) {
                        .value_kb = (double) s->points[i].metric_kb[m],
                        .base_kb = (double) s->points[i].rss_kb,
                };
        series_stats(points, s->n, scratch, ret);
}

static void identity_compare_one(const IdentitySeries *b, const IdentitySeries *a,
                                 const Thresholds *t, SeriesPoint *points, double *scratch,
                                 IdentityComparison *ret) {
        IdentityComparison c = {
                .identity_id = b->identity_id,
                .n_before = b->n,
                .n_after = a->n,
                .processes_before = identity_median(b, true, scratch),
                .processes_after = identity_median(a, true, scratch),
                .rss_before_kb = identity_median(b, false, scratch),
                .rss_after_kb = identity_median(a, false, scratch),
        };

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                SeriesStats sb, sa;

                identity_metric_stats(b, m, points, scratch, &sb);
                identity_metric_stats(a, m, points, scratch, &sa);
                metric_delta_compute(&sb, &sa, t, &c.metrics[m]);
                c.flagged = c.flagged || c.metrics[m].flagged;
        }

        *ret = c;
}

int compare_identities(const IdentitySeries *before, size_t n_before,
                       const IdentitySeries *after, size_t n_after, const Thresholds *t,
                       IdentityComparison *ret, int64_t *ret_appeared, size_t *ret_n_appeared,
                       int64_t *ret_disappeared, size_t *ret_n_disappeared) {
        _cleanup_free_ SeriesPoint *points = NULL;
        _cleanup_free_ double *scratch = NULL;
        size_t i = 0, j = 0, n_compared = 0, n_appeared = 0, n_disappeared = 0, max_n;

        assert(before || n_before == 0);
        assert(after || n_after == 0);
        assert(t);
        assert(ret || MIN(n_before, n_after) == 0);
        assert(!ret_appeared == !ret_n_appeared);
        assert(!ret_disappeared == !ret_n_disappeared);

        /* Validate everything before writing any output, so that nothing is written on failure. */
        if (!identity_series_sorted(before, n_before) || !identity_series_sorted(after, n_after))
                return -EINVAL;
        if (MIN(n_before, n_after) > INT_MAX)
                return -E2BIG;

        for (size_t k = 0; k < n_before; k++)
                assert(before[k].points || before[k].n == 0);
        for (size_t k = 0; k < n_after; k++)
                assert(after[k].points || after[k].n == 0);

        max_n = MAX(identity_series_max_n(before, n_before), identity_series_max_n(after, n_after));
        if (max_n > 0) {
                /* calloc() checks max_n × size for overflow. */
                points = calloc(max_n, sizeof(SeriesPoint));
                scratch = calloc(max_n, sizeof(double));
                if (!points || !scratch)
                        return -ENOMEM;
        }

        while (i < n_before || j < n_after) {
                bool take_before = j >= n_after ||
                                   (i < n_before && before[i].identity_id < after[j].identity_id);

                if (take_before) {
                        if (ret_disappeared)
                                ret_disappeared[n_disappeared] = before[i].identity_id;
                        n_disappeared++;
                        i++;
                } else if (i >= n_before || after[j].identity_id < before[i].identity_id) {
                        if (ret_appeared)
                                ret_appeared[n_appeared] = after[j].identity_id;
                        n_appeared++;
                        j++;
                } else {
                        identity_compare_one(&before[i], &after[j], t, points, scratch,
                                             &ret[n_compared]);
                        n_compared++;
                        i++;
                        j++;
                }
        }

        if (ret_n_appeared)
                *ret_n_appeared = n_appeared;
        if (ret_n_disappeared)
                *ret_n_disappeared = n_disappeared;
        return (int) n_compared;
}
