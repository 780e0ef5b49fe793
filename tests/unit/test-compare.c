/* Unit tests for compare/compare's statistics: medians and MAD spreads computed by hand,
 * flagging at and just below each threshold, noise suppression, and reason lines. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "compare.h"
#include "macro.h"
#include "test.h"

#define EPS 1e-9

static const Thresholds defaults = THRESHOLDS_DEFAULT;

static void test_metric_strings(void) {
        ASSERT_STR_EQ(compare_metric_to_string(COMPARE_METRIC_SHARED), "Shared");
        ASSERT_STR_EQ(compare_metric_to_string(COMPARE_METRIC_PRIVATE), "Private");
        ASSERT_STR_EQ(compare_metric_to_string(COMPARE_METRIC_PSS), "Pss");
        ASSERT_STR_EQ(compare_metric_to_string(COMPARE_METRIC_PSS_ANON), "Pss_Anon");
        ASSERT_STR_EQ(compare_metric_to_string(COMPARE_METRIC_PSS_FILE), "Pss_File");
        ASSERT_STR_EQ(compare_metric_to_string(COMPARE_METRIC_PSS_SHMEM), "Pss_Shmem");
        ASSERT_NULL(compare_metric_to_string(_COMPARE_METRIC_MAX));
        ASSERT_NULL(compare_metric_to_string(_COMPARE_METRIC_INVALID));
}

static void test_thresholds_validate(void) {
        Thresholds t = THRESHOLDS_DEFAULT;

        ASSERT_INT_EQ(thresholds_validate(&t), 0);
        ASSERT_TRUE(t.min_delta_kb == 1024 && t.min_delta_points == 1.0 && t.noise_factor == 3.0);
        ASSERT_INT_EQ(thresholds_validate(&(Thresholds) { 0, 0, 0 }), 0);

        for (int field = 0; field < 3; field++) {
                const double bad[] = { -1, -1e-9, NAN, INFINITY, -INFINITY };

                for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                        Thresholds b = THRESHOLDS_DEFAULT;
                        double *f = field == 0 ? &b.min_delta_kb :
                                    field == 1 ? &b.min_delta_points : &b.noise_factor;

                        *f = bad[i];
                        ASSERT_INT_EQ(thresholds_validate(&b), -ERANGE);
                }
        }
}

static void test_series_stats_empty_and_single(void) {
        SeriesStats s;
        double scratch[1];

        /* n = 0: everything zero, pointers not touched. */
        memset(&s, 0xff, sizeof(s));
        series_stats(NULL, 0, NULL, &s);
        ASSERT_U64_EQ(s.n, 0);
        ASSERT_TRUE(s.median_kb == 0 && s.median_ratio == 0);
        ASSERT_TRUE(s.spread_kb == 0 && s.spread_ratio == 0);

        /* n = 1: the value itself, no spread. */
        series_stats(&(SeriesPoint) { .value_kb = 100, .base_kb = 400 }, 1, scratch, &s);
        ASSERT_U64_EQ(s.n, 1);
        ASSERT_DOUBLE_NEAR(s.median_kb, 100, EPS);
        ASSERT_DOUBLE_NEAR(s.median_ratio, 0.25, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_kb, 0, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_ratio, 0, EPS);

        /* A zero base gives ratio 0, not NaN or infinity. */
        series_stats(&(SeriesPoint) { .value_kb = 50, .base_kb = 0 }, 1, scratch, &s);
        ASSERT_DOUBLE_NEAR(s.median_kb, 50, EPS);
        ASSERT_TRUE(s.median_ratio == 0);
        ASSERT_TRUE(s.spread_ratio == 0);
}

static void test_series_stats_odd(void) {
        /* values sorted 2 4 8 10 100 → median 8; |x - 8| = 6 4 0 2 92 → sorted 0 2 4 6 92 → MAD 4.
         * ratios are values / 100 → median 0.08, MAD 0.04. */
        const SeriesPoint p[] = {
                { 10, 100 }, { 2, 100 }, { 8, 100 }, { 4, 100 }, { 100, 100 },
        };
        SeriesPoint copy[ELEMENTSOF(p)];
        double scratch[ELEMENTSOF(p)];
        SeriesStats s;

        memcpy(copy, p, sizeof(p));
        series_stats(p, ELEMENTSOF(p), scratch, &s);
        ASSERT_U64_EQ(s.n, 5);
        ASSERT_DOUBLE_NEAR(s.median_kb, 8, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_kb, 1.4826 * 4, EPS);
        ASSERT_DOUBLE_NEAR(s.median_ratio, 0.08, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_ratio, 1.4826 * 0.04, EPS);
        /* The input is not reordered (the median sorts the scratch copy). */
        ASSERT_TRUE(memcmp(copy, p, sizeof(p)) == 0);
}

static void test_series_stats_even(void) {
        /* values 13 1 7 3 → sorted 1 3 7 13 → median (3 + 7) / 2 = 5; |x - 5| = 8 4 2 2 → sorted
         * 2 2 4 8 → MAD (2 + 4) / 2 = 3.
         * ratios 0.5 0.25 1.0 0.1 → sorted 0.1 0.25 0.5 1.0 → median 0.375; |r - 0.375| = 0.125
         * 0.125 0.625 0.275 → sorted 0.125 0.125 0.275 0.625 → MAD 0.2. The kB median and the
         * ratio median come from different points: ratios are not median_kb / median base. */
        const SeriesPoint p[] = {
                { 13, 26 }, { 1, 4 }, { 7, 7 }, { 3, 30 },
        };
        double scratch[ELEMENTSOF(p)];
        SeriesStats s;

        series_stats(p, ELEMENTSOF(p), scratch, &s);
        ASSERT_U64_EQ(s.n, 4);
        ASSERT_DOUBLE_NEAR(s.median_kb, 5, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_kb, 1.4826 * 3, EPS);
        ASSERT_DOUBLE_NEAR(s.median_ratio, 0.375, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_ratio, 1.4826 * 0.2, EPS);

        /* n = 2: the mean of both; MAD = half the distance. */
        series_stats((const SeriesPoint[]) { { 10, 20 }, { 30, 20 } }, 2, scratch, &s);
        ASSERT_DOUBLE_NEAR(s.median_kb, 20, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_kb, 1.4826 * 10, EPS);
        ASSERT_DOUBLE_NEAR(s.median_ratio, 1.0, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_ratio, 1.4826 * 0.5, EPS);
}

static void test_series_stats_zero_base(void) {
        /* ratios 0 (base 0), 0.5, 0.5, 0.25 → sorted 0 0.25 0.5 0.5 → median 0.375;
         * |r - 0.375| = 0.375 0.125 0.125 0.125 → MAD 0.125. */
        const SeriesPoint p[] = {
                { 50, 0 }, { 50, 100 }, { 40, 80 }, { 25, 100 },
        };
        double scratch[ELEMENTSOF(p)];
        SeriesStats s;

        series_stats(p, ELEMENTSOF(p), scratch, &s);
        ASSERT_DOUBLE_NEAR(s.median_ratio, 0.375, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_ratio, 1.4826 * 0.125, EPS);
        /* kB: 50 50 40 25 → sorted 25 40 50 50 → median 45; |x - 45| 5 5 5 20 → MAD 5. */
        ASSERT_DOUBLE_NEAR(s.median_kb, 45, EPS);
        ASSERT_DOUBLE_NEAR(s.spread_kb, 1.4826 * 5, EPS);
        ASSERT_TRUE(isfinite(s.median_ratio) && isfinite(s.spread_ratio));
}

static SeriesStats stats(size_t n, double median_kb, double median_ratio, double spread_ratio) {
        return (SeriesStats) {
                .n = n,
                .median_kb = median_kb,
                .median_ratio = median_ratio,
                .spread_ratio = spread_ratio,
        };
}

static bool flagged(SeriesStats b, SeriesStats a, Thresholds t) {
        MetricDelta d;

        metric_delta_compute(&b, &a, &t, &d);
        return d.flagged;
}

static void test_delta_values(void) {
        SeriesStats b = stats(5, 4096, 0.25, 0.03), a = stats(7, 3072, 0.375, 0.04);
        MetricDelta d;

        metric_delta_compute(&b, &a, &defaults, &d);
        ASSERT_DOUBLE_NEAR(d.delta_kb, -1024, EPS);
        ASSERT_DOUBLE_NEAR(d.delta_points, 12.5, EPS);
        /* 3 × √(0.03² + 0.04²) × 100 = 3 × 0.05 × 100 = 15 */
        ASSERT_DOUBLE_NEAR(d.noise_points, 15, EPS);
        ASSERT_FALSE(d.flagged);
        ASSERT_U64_EQ(d.before.n, 5);
        ASSERT_U64_EQ(d.after.n, 7);
        ASSERT_DOUBLE_NEAR(d.before.median_kb, 4096, EPS);
        ASSERT_DOUBLE_NEAR(d.after.median_ratio, 0.375, EPS);

        /* Halve the noise factor: 7.5 < 12.5 → flagged. */
        metric_delta_compute(&b, &a, &(Thresholds) { 1024, 1.0, 1.5 }, &d);
        ASSERT_DOUBLE_NEAR(d.noise_points, 7.5, EPS);
        ASSERT_TRUE(d.flagged);
}

static void test_delta_kb_threshold(void) {
        /* Ratios 0.25 → 0.3125 (+6.25 points, exact in binary), no noise; only kB varies. */
        SeriesStats b = stats(5, 4096, 0.25, 0);

        ASSERT_TRUE(flagged(b, stats(5, 4096 + 1024, 0.3125, 0), defaults));
        ASSERT_FALSE(flagged(b, stats(5, 4096 + 1023, 0.3125, 0), defaults));
        ASSERT_FALSE(flagged(b, stats(5, 4096 + 1023.5, 0.3125, 0), defaults));
        ASSERT_TRUE(flagged(b, stats(5, 4096 - 1024, 0.3125, 0), defaults));
        ASSERT_FALSE(flagged(b, stats(5, 4096 - 1023, 0.3125, 0), defaults));
        ASSERT_FALSE(flagged(b, stats(5, 4096, 0.3125, 0), defaults));
}

static void test_delta_points_threshold(void) {
        /* kB well above its threshold; only the ratio varies. 6.25 points is exact in binary. */
        Thresholds t = { .min_delta_kb = 1024, .min_delta_points = 6.25, .noise_factor = 3 };
        SeriesStats b = stats(5, 100000, 0.25, 0);

        ASSERT_TRUE(flagged(b, stats(5, 200000, 0.3125, 0), t));
        ASSERT_FALSE(flagged(b, stats(5, 200000, 0.3124, 0), t));
        ASSERT_TRUE(flagged(b, stats(5, 0, 0.1875, 0), t));
        ASSERT_FALSE(flagged(b, stats(5, 0, 0.1876, 0), t));

        /* The default 1.0 point: just above and just below. */
        ASSERT_TRUE(flagged(b, stats(5, 200000, 0.2601, 0), defaults));
        ASSERT_FALSE(flagged(b, stats(5, 200000, 0.2599, 0), defaults));
        ASSERT_TRUE(flagged(b, stats(5, 0, 0.2399, 0), defaults));
        ASSERT_FALSE(flagged(b, stats(5, 0, 0.2401, 0), defaults));
}

static void test_delta_noise_threshold(void) {
        /* spread 2⁻⁷ on one side: noise = 3 × 2⁻⁷ × 100 = 2.34375 points exactly; a move of
         * exactly that much is not above the noise, one 2⁻¹⁰ larger is. */
        SeriesStats b = stats(5, 100000, 0.25, 0.0078125);
        MetricDelta d;

        metric_delta_compute(&b, &(SeriesStats) { .n = 5, .median_kb = 200000,
                                                  .median_ratio = 0.2734375 },
                             &defaults, &d);
        ASSERT_TRUE(d.noise_points == 2.34375);
        ASSERT_TRUE(d.delta_points == 2.34375);
        ASSERT_FALSE(d.flagged);

        ASSERT_TRUE(flagged(b, stats(5, 200000, 0.2744140625, 0), defaults));
        /* Same on the other side, and downwards. */
        ASSERT_FALSE(flagged(stats(5, 100000, 0.25, 0), stats(5, 0, 0.2265625, 0.0078125),
                             defaults));
        ASSERT_TRUE(flagged(stats(5, 100000, 0.25, 0), stats(5, 0, 0.2255859375, 0.0078125),
                            defaults));
        /* Zero noise factor: the spread no longer matters. */
        ASSERT_TRUE(flagged(b, stats(5, 200000, 0.2734375, 0.5), (Thresholds) { 1024, 1, 0 }));
}

static void test_delta_one_side_empty(void) {
        SeriesStats empty = stats(0, 0, 0, 0), big = stats(5, 4194304, 0.5, 0);
        MetricDelta d;

        metric_delta_compute(&empty, &big, &defaults, &d);
        ASSERT_FALSE(d.flagged);
        ASSERT_DOUBLE_NEAR(d.delta_kb, 4194304, EPS);
        ASSERT_DOUBLE_NEAR(d.delta_points, 50, EPS);

        metric_delta_compute(&big, &empty, &defaults, &d);
        ASSERT_FALSE(d.flagged);
        ASSERT_DOUBLE_NEAR(d.delta_kb, -4194304, EPS);

        metric_delta_compute(&empty, &empty, &(Thresholds) { 0, 0, 0 }, &d);
        ASSERT_FALSE(d.flagged);

        /* Not just the zeros: n = 0 alone suppresses the flag. */
        ASSERT_FALSE(flagged(stats(0, 1, 0.1, 0), big, defaults));
        ASSERT_TRUE(flagged(stats(1, 1, 0.1, 0), big, defaults));
}

/* Fills p with n points of a process of rss_kb whose metric is ratio[i] × rss_kb. */
static void points_from_ratios(SeriesPoint *p, const double *ratio, size_t n, double rss_kb) {
        for (size_t i = 0; i < n; i++)
                p[i] = (SeriesPoint) { .value_kb = ratio[i] * rss_kb, .base_kb = rss_kb };
}

static void test_noisy_vs_quiet(void) {
        /* Noisy: a 200 MiB process whose Shared/Rss swings between 30% and 50% from sweep to
         * sweep (median 40%, MAD 8 points → spread 11.9). The mean moves up 6 points (12 MiB):
         * both thresholds are passed, but 6 is far below 3σ ≈ 50 points. */
        const double noisy_before[] = { 0.30, 0.50, 0.35, 0.45, 0.40, 0.32, 0.48 };
        double noisy_after[ELEMENTSOF(noisy_before)];
        SeriesPoint pb[ELEMENTSOF(noisy_before)], pa[ELEMENTSOF(noisy_before)];
        double scratch[ELEMENTSOF(noisy_before)];
        SeriesStats sb, sa;
        MetricDelta d;

        for (size_t i = 0; i < ELEMENTSOF(noisy_before); i++)
                noisy_after[i] = noisy_before[i] + 0.06;
        points_from_ratios(pb, noisy_before, ELEMENTSOF(pb), 204800);
        points_from_ratios(pa, noisy_after, ELEMENTSOF(pa), 204800);
        series_stats(pb, ELEMENTSOF(pb), scratch, &sb);
        series_stats(pa, ELEMENTSOF(pa), scratch, &sa);
        ASSERT_DOUBLE_NEAR(sb.spread_ratio, 1.4826 * 0.08, EPS);
        metric_delta_compute(&sb, &sa, &defaults, &d);
        ASSERT_DOUBLE_NEAR(d.delta_points, 6, EPS);
        ASSERT_DOUBLE_NEAR(d.delta_kb, 0.06 * 204800, 1e-6);
        ASSERT_DOUBLE_NEAR(d.noise_points, 3 * sqrt(2) * 1.4826 * 0.08 * 100, 1e-6);
        ASSERT_FALSE(d.flagged);
        /* ... and only the noise keeps it from being flagged. */
        metric_delta_compute(&sb, &sa, &(Thresholds) { 1024, 1, 0 }, &d);
        ASSERT_TRUE(d.flagged);

        /* Quiet: a 4 GiB process at 30% Shared ± a few kB moves to 33%: +3 points, ~123 MiB. */
        {
                const double rss = 4194304, jitter[] = { 0, 3, -2, 5, -1 };
                SeriesPoint qb[ELEMENTSOF(jitter)], qa[ELEMENTSOF(jitter)];

                for (size_t i = 0; i < ELEMENTSOF(jitter); i++) {
                        qb[i] = (SeriesPoint) { round(0.30 * rss) + jitter[i], rss };
                        qa[i] = (SeriesPoint) { round(0.33 * rss) - jitter[i], rss };
                }
                series_stats(qb, ELEMENTSOF(qb), scratch, &sb);
                series_stats(qa, ELEMENTSOF(qa), scratch, &sa);
                metric_delta_compute(&sb, &sa, &defaults, &d);
                ASSERT_DOUBLE_NEAR(d.delta_points, 3, 0.001);
                ASSERT_DOUBLE_NEAR(d.delta_kb, round(0.33 * rss) - round(0.30 * rss), EPS);
                ASSERT_TRUE(d.noise_points < 0.01);
                ASSERT_TRUE(d.flagged);
        }
}

static void test_reason(void) {
        /* The header's example: 45.0% → 30.1%, -1536 kB, noise 0.2 points (3 × spread × 100
         * with spread 0.2/300 on one side). */
        SeriesStats b = stats(5, 10240, 0.45, 0.2 / 300), a = stats(5, 8704, 0.301, 0);
        MetricDelta d;
        char buf[256], small[12];

        metric_delta_compute(&b, &a, &defaults, &d);
        ASSERT_TRUE(d.flagged);
        ASSERT_TRUE(metric_delta_reason("Shared", "Rss", &d, buf, sizeof(buf)) == buf);
        ASSERT_STR_EQ(buf, "Shared/Rss 45.0% → 30.1% (-14.9 points, -1536 kB; noise ±0.2 points)");

        /* Positive deltas carry '+'; a system field normalized by MemTotal. */
        metric_delta_compute(&(SeriesStats) { .n = 3, .median_kb = 1048576, .median_ratio = 0.015 },
                             &(SeriesStats) { .n = 3, .median_kb = 2097152, .median_ratio = 0.025 },
                             &defaults, &d);
        ASSERT_STR_EQ(metric_delta_reason("AnonPages", "MemTotal", &d, buf, sizeof(buf)),
                      "AnonPages/MemTotal 1.5% → 2.5% "
                      "(+1.0 points, +1048576 kB; noise ±0.0 points)");

        /* kB rounds to whole numbers, percentages to one decimal. */
        metric_delta_compute(&(SeriesStats) { .n = 3, .median_kb = 100.4, .median_ratio = 0.12345 },
                             &(SeriesStats) { .n = 3, .median_kb = 2000.2, .median_ratio = 0.5 },
                             &(Thresholds) { 0, 0, 0 }, &d);
        ASSERT_STR_EQ(metric_delta_reason("Pss_Anon", "Rss", &d, buf, sizeof(buf)),
                      "Pss_Anon/Rss 12.3% → 50.0% (+37.7 points, +1900 kB; noise ±0.0 points)");

        /* Too small a buffer: truncated and terminated. */
        ASSERT_TRUE(metric_delta_reason("Shared", "Rss", &d, small, sizeof(small)) == small);
        ASSERT_STR_EQ(small, "Shared/Rss ");
}


int main(void) {
        test_metric_strings();
        test_thresholds_validate();
        test_series_stats_empty_and_single();
        test_series_stats_odd();
        test_series_stats_even();
        test_series_stats_zero_base();
        test_delta_values();
        test_delta_kb_threshold();
        test_delta_points_threshold();
        test_delta_noise_threshold();
        test_delta_one_side_empty();
        test_noisy_vs_quiet();
        test_reason();
        return test_exit();
}
