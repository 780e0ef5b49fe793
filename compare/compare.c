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

static const char *const exclusivity_class_table[_EXCLUSIVITY_CLASS_MAX] = {
        [EXCLUSIVITY_ANON] = "Exclusive_Anon",
        [EXCLUSIVITY_FILE] = "Exclusive_File",
        [EXCLUSIVITY_SHARED_FILE] = "Exclusive_Shared_File",
        [EXCLUSIVITY_SHMEM] = "Exclusive_Shmem",
        [EXCLUSIVITY_HUGETLB] = "Exclusive_Hugetlb",
};

const char *exclusivity_class_to_string(ExclusivityClass c) {
        if (c < 0 || c >= _EXCLUSIVITY_CLASS_MAX)
                return NULL;
        return exclusivity_class_table[c];
}

static const char *const shift_kind_table[_SHIFT_KIND_MAX] = {
        [SHIFT_UNKNOWN] = "unknown",
        [SHIFT_ACCOUNTING] = "accounting",
        [SHIFT_BEHAVIOR] = "behavior",
        [SHIFT_MIXED] = "mixed",
};

const char *shift_kind_to_string(ShiftKind k) {
        if (k < 0 || k >= _SHIFT_KIND_MAX)
                return NULL;
        return shift_kind_table[k];
}

/* Which figure of an IdentityPoint a series is made of, and what it is normalized by. */
typedef enum Figure {
        FIGURE_PROCESSES,               /* processes (no base) */
        FIGURE_RSS,                     /* rss_kb (no base) */
        FIGURE_METRIC,                  /* metric_kb[index] / rss_kb */
        FIGURE_TRUTH,                   /* truth_kb[index] / rss_kb */
        FIGURE_FORECAST,                /* forecast_kb[index] / rss_kb */
        FIGURE_PRESENT,                 /* present_kb[index] (no base) */
        FIGURE_EXCLUSIVE,               /* exclusive_kb[index] / present_kb[index] */
        FIGURE_EXCLUSIVE_TOTAL,         /* Σ exclusive_kb / Σ present_kb, hugetlb left out */
        FIGURE_FORECAST_EXCLUSIVE,      /* forecast_exclusive_kb / Σ present_kb, no hugetlb */
        FIGURE_UNSEEN,                  /* truth_unseen_kb (no base) */
} Figure;

/* Points a series takes: every point, or only those with a reconstruction (and a scan). */
typedef enum PointFilter {
        POINTS_ALL,
        POINTS_TRUTH,
        POINTS_TRUTH_AND_PAGEMAP,
} PointFilter;

/* The reconstruction skips hugetlb PFNs (hugetlb is not part of Rss/Pss), so the totals that
 * are set against its forecast leave that class out too. */
static void point_pagemap_totals(const IdentityPoint *p, double *ret_present,
                                 double *ret_exclusive) {
        double present = 0, exclusive = 0;

        for (ExclusivityClass c = 0; c < _EXCLUSIVITY_CLASS_MAX; c++) {
                if (c == EXCLUSIVITY_HUGETLB)
                        continue;
                present += (double) p->present_kb[c];
                exclusive += (double) p->exclusive_kb[c];
        }
        *ret_present = present;
        *ret_exclusive = exclusive;
}

static SeriesPoint figure_point(const IdentityPoint *p, Figure f, unsigned index) {
        double present, exclusive;

        switch (f) {
        case FIGURE_PROCESSES:
                return (SeriesPoint) { .value_kb = (double) p->processes };
        case FIGURE_RSS:
                return (SeriesPoint) { .value_kb = (double) p->rss_kb };
        case FIGURE_METRIC:
                return (SeriesPoint) { (double) p->metric_kb[index], (double) p->rss_kb };
        case FIGURE_TRUTH:
                return (SeriesPoint) { (double) p->truth_kb[index], (double) p->rss_kb };
        case FIGURE_FORECAST:
                return (SeriesPoint) { (double) p->forecast_kb[index], (double) p->rss_kb };
        case FIGURE_PRESENT:
                return (SeriesPoint) { .value_kb = (double) p->present_kb[index] };
        case FIGURE_EXCLUSIVE:
                return (SeriesPoint) { (double) p->exclusive_kb[index],
                                       (double) p->present_kb[index] };
        case FIGURE_EXCLUSIVE_TOTAL:
                point_pagemap_totals(p, &present, &exclusive);
                return (SeriesPoint) { exclusive, present };
        case FIGURE_FORECAST_EXCLUSIVE:
                point_pagemap_totals(p, &present, &exclusive);
                return (SeriesPoint) { (double) p->forecast_exclusive_kb, present };
        case FIGURE_UNSEEN:
                return (SeriesPoint) { .value_kb = (double) p->truth_unseen_kb };
        }
        assert(false);
        return (SeriesPoint) {};
}

static bool point_selected(const IdentityPoint *p, PointFilter filter) {
        switch (filter) {
        case POINTS_ALL:
                return true;
        case POINTS_TRUTH:
                return p->has_truth;
        case POINTS_TRUTH_AND_PAGEMAP:
                return p->has_truth && p->has_pagemap;
        }
        return false;
}

/* Summarizes one figure over the selected points of s. points and scratch hold s->n each. */
static void figure_stats(const IdentitySeries *s, Figure f, unsigned index, PointFilter filter,
                         SeriesPoint *points, double *scratch, SeriesStats *ret) {
        size_t n = 0;

        for (size_t i = 0; i < s->n; i++)
                if (point_selected(&s->points[i], filter))
                        points[n++] = figure_point(&s->points[i], f, index);
        series_stats(points, n, scratch, ret);
}

/* Median of one figure over every point of s (0 for an empty series). */
static double figure_median(const IdentitySeries *s, Figure f, unsigned index,
                            SeriesPoint *points, double *scratch) {
        SeriesStats st;

        figure_stats(s, f, index, POINTS_ALL, points, scratch, &st);
        return st.median_kb;
}

/* True when s has points and every one of them has a scan (pagemap) or a reconstruction
 * (truth). */
static bool identity_series_all(const IdentitySeries *s, bool truth) {
        if (s->n == 0)
                return false;
        for (size_t i = 0; i < s->n; i++)
                if (!(truth ? s->points[i].has_truth : s->points[i].has_pagemap))
                        return false;
        return true;
}

/* The truth counterpart of a metric (compare.h, ShiftKind). */
static CompareMetric metric_truth_counterpart(CompareMetric m) {
        switch (m) {
        case COMPARE_METRIC_SHARED:
                return COMPARE_METRIC_SHARED;
        case COMPARE_METRIC_PRIVATE:
                return COMPARE_METRIC_PRIVATE;
        default:
                return COMPARE_METRIC_PSS;
        }
}

/* Classifies a flagged comparison by whether the truth counterparts of its flagged figures
 * moved too. */
static ShiftKind identity_shift_kind(const IdentityComparison *c) {
        unsigned accounting = 0, behavior = 0;

        if (!c->flagged || !c->has_truth)
                return SHIFT_UNKNOWN;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                if (!c->metrics[m].flagged)
                        continue;
                if (c->truth[metric_truth_counterpart(m)].flagged)
                        behavior++;
                else
                        accounting++;
        }
        for (ExclusivityClass k = 0; c->has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++) {
                if (!c->exclusivity[k].flagged)
                        continue;
                if (c->truth[COMPARE_METRIC_PRIVATE].flagged)
                        behavior++;
                else
                        accounting++;
        }

        if (behavior > 0 && accounting > 0)
                return SHIFT_MIXED;
        return behavior > 0 ? SHIFT_BEHAVIOR : SHIFT_ACCOUNTING;
}

void identity_summarize(const IdentitySeries *s, SeriesPoint *points, double *scratch,
                        IdentitySummary *ret) {
        IdentitySummary u = {
                .identity_id = s->identity_id,
                .n = s->n,
                .processes = figure_median(s, FIGURE_PROCESSES, 0, points, scratch),
                .rss_kb = figure_median(s, FIGURE_RSS, 0, points, scratch),
                .has_pagemap = identity_series_all(s, false),
                .has_truth = identity_series_all(s, true),
        };

        assert(s);
        assert(points || s->n == 0);
        assert(scratch || s->n == 0);
        assert(ret);

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                figure_stats(s, FIGURE_METRIC, m, POINTS_ALL, points, scratch, &u.metrics[m]);
                figure_stats(s, FIGURE_TRUTH, m, POINTS_ALL, points, scratch, &u.truth[m]);
                figure_stats(s, FIGURE_FORECAST, m, POINTS_ALL, points, scratch, &u.forecast[m]);
        }
        for (ExclusivityClass k = 0; k < _EXCLUSIVITY_CLASS_MAX; k++) {
                figure_stats(s, FIGURE_EXCLUSIVE, k, POINTS_ALL, points, scratch,
                             &u.exclusivity[k]);
                u.present_kb[k] = figure_median(s, FIGURE_PRESENT, k, points, scratch);
        }
        u.unseen_kb = u.has_truth ? figure_median(s, FIGURE_UNSEEN, 0, points, scratch) : 0;
        *ret = u;
}

void identity_compare_summaries(const IdentitySummary *b, const IdentitySummary *a,
                                const Thresholds *t, IdentityComparison *ret) {
        IdentityComparison c = {
                .identity_id = b->identity_id,
                .n_before = b->n,
                .n_after = a->n,
                .processes_before = b->processes,
                .processes_after = a->processes,
                .rss_before_kb = b->rss_kb,
                .rss_after_kb = a->rss_kb,
                .has_exclusivity = b->has_pagemap && a->has_pagemap,
                .has_truth = b->has_truth && a->has_truth,
                .has_forecast = b->has_truth,
                .unseen_before_kb = b->unseen_kb,
                .unseen_after_kb = a->unseen_kb,
        };

        assert(b);
        assert(a);
        assert(t);
        assert(ret);

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                metric_delta_compute(&b->metrics[m], &a->metrics[m], t, &c.metrics[m]);
                c.flagged = c.flagged || c.metrics[m].flagged;
        }

        for (ExclusivityClass k = 0; c.has_exclusivity && k < _EXCLUSIVITY_CLASS_MAX; k++) {
                metric_delta_compute(&b->exclusivity[k], &a->exclusivity[k], t,
                                     &c.exclusivity[k]);
                /* A side without present pages has no ratio (it reads 0): a class that appears
                 * or vanishes is not an exclusivity change. */
                if (b->present_kb[k] <= 0 || a->present_kb[k] <= 0)
                        c.exclusivity[k].flagged = false;
                c.flagged = c.flagged || c.exclusivity[k].flagged;
        }

        if (c.has_truth) {
                static const CompareMetric truth_metrics[] = {
                        COMPARE_METRIC_SHARED, COMPARE_METRIC_PRIVATE, COMPARE_METRIC_PSS,
                };

                for (size_t i = 0; i < ELEMENTSOF(truth_metrics); i++) {
                        CompareMetric m = truth_metrics[i];

                        metric_delta_compute(&b->truth[m], &a->truth[m], t, &c.truth[m]);
                }
        }
        c.kind = identity_shift_kind(&c);
        /* Pages that processes not read also map make the truth's sharing a lower bound: when
         * they could account for a shift the size of the threshold, the truth cannot tell. */
        if (c.kind != SHIFT_UNKNOWN &&
            MAX(c.unseen_before_kb, c.unseen_after_kb) >= t->min_delta_kb)
                c.kind = SHIFT_UNKNOWN;

        /* How close the baseline's forecast came to what the candidate reports. */
        for (CompareMetric m = 0; c.has_forecast && m < _COMPARE_METRIC_MAX; m++)
                metric_delta_compute(&b->forecast[m], &a->metrics[m], t, &c.forecast[m]);

        *ret = c;
}

static void identity_compare_one(const IdentitySeries *b, const IdentitySeries *a,
                                 const Thresholds *t, SeriesPoint *points, double *scratch,
                                 IdentityComparison *ret) {
        IdentitySummary sb, sa;

        identity_summarize(b, points, scratch, &sb);
        identity_summarize(a, points, scratch, &sa);
        identity_compare_summaries(&sb, &sa, t, ret);
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

/* Fills one identity's forecast comparison from the sweeps with a reconstruction. Returns false
 * when it has none. */
static bool forecast_compare_one(const IdentitySeries *s, const Thresholds *t,
                                 SeriesPoint *points, double *scratch, ForecastComparison *ret) {
        ForecastComparison c = { .identity_id = s->identity_id };
        SeriesStats today, forecast;

        figure_stats(s, FIGURE_RSS, 0, POINTS_TRUTH, points, scratch, &today);
        if (today.n == 0)
                return false;
        c.n = today.n;
        c.rss_kb = today.median_kb;

        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                figure_stats(s, FIGURE_METRIC, m, POINTS_TRUTH, points, scratch, &today);
                figure_stats(s, FIGURE_FORECAST, m, POINTS_TRUTH, points, scratch, &forecast);
                metric_delta_compute(&today, &forecast, t, &c.metrics[m]);
                c.flagged = c.flagged || c.metrics[m].flagged;
        }

        /* Sweeps with a reconstruction but no complete scan have no reported exclusivity: they
         * are left out of this one figure (no points at all: never flagged). */
        figure_stats(s, FIGURE_EXCLUSIVE_TOTAL, 0, POINTS_TRUTH_AND_PAGEMAP, points, scratch,
                     &today);
        figure_stats(s, FIGURE_FORECAST_EXCLUSIVE, 0, POINTS_TRUTH_AND_PAGEMAP, points, scratch,
                     &forecast);
        metric_delta_compute(&today, &forecast, t, &c.exclusivity);
        c.flagged = c.flagged || c.exclusivity.flagged;

        *ret = c;
        return true;
}

int compare_forecast(const IdentitySeries *series, size_t n, const Thresholds *t,
                     ForecastComparison *ret) {
        _cleanup_free_ SeriesPoint *points = NULL;
        _cleanup_free_ double *scratch = NULL;
        size_t max_n, k = 0;

        assert(series || n == 0);
        assert(t);
        assert(ret || n == 0);

        if (n > INT_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                assert(series[i].points || series[i].n == 0);

        max_n = identity_series_max_n(series, n);
        if (max_n > 0) {
                points = calloc(max_n, sizeof(SeriesPoint));
                scratch = calloc(max_n, sizeof(double));
                if (!points || !scratch)
                        return -ENOMEM;
        }

        for (size_t i = 0; i < n; i++)
                if (forecast_compare_one(&series[i], t, points, scratch, &ret[k]))
                        k++;
        return (int) k;
}
