/* Implementation of compare/fleet.h. */
#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "fleet.h"
#include "macro.h"

/* Beyond this many values the binomial is taken as normal (the error in k is below one). */
#define EXACT_BINOMIAL_MAX 1000

static int double_compare(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;

        return (x > y) - (x < y);
}

/* The standard normal quantile Φ⁻¹(p), 0 < p < 1: P. J. Acklam's rational approximation
 * (relative error below 1.2e-9), enough for the order statistic it places. */
static double normal_quantile(double p) {
        static const double a[] = { -3.969683028665376e+01, 2.209460984245205e+02,
                                    -2.759285104469687e+02, 1.383577518672690e+02,
                                    -3.066479806614716e+01, 2.506628277459239e+00 };
        static const double b[] = { -5.447609879822406e+01, 1.615858368580409e+02,
                                    -1.556989798598866e+02, 6.680131188771972e+01,
                                    -1.328068155288572e+01 };
        static const double c[] = { -7.784894002430293e-03, -3.223964580411365e-01,
                                    -2.400758277161838e+00, -2.549732539343734e+00,
                                    4.374664141464968e+00, 2.938163982698783e+00 };
        static const double d[] = { 7.784695709041462e-03, 3.224671290700398e-01,
                                    2.445134137142996e+00, 3.754408661907416e+00 };
        double q, r;

        if (p < 0.02425) {
                q = sqrt(-2 * log(p));
                return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
                       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
        }
        if (p > 1 - 0.02425)
                return -normal_quantile(1 - p);
        q = p - 0.5;
        r = q * q;
        return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
               (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/* The largest k ≥ 1 with P(Binomial(n, ½) < k) ≤ alpha/2, or 0 when even k = 1 exceeds it
 * (n too small for any interval narrower than the range). */
static size_t order_statistic(size_t n, double level) {
        double alpha2 = (1 - level) / 2;

        if (n > EXACT_BINOMIAL_MAX) {
                /* Normal approximation: k = floor(n/2 − z √n / 2), z the (1 − α/2) quantile. */
                double z = normal_quantile(1 - alpha2);
                double k = floor((double) n / 2 - z * sqrt((double) n) / 2);

                return k >= 1 ? (size_t) k : 0;
        }

        /* P(X ≤ j) summed in log space: C(n, j) / 2^n. */
        double log_half_n = (double) n * log(0.5), cdf = 0;
        size_t k = 0;

        for (size_t j = 0; j < n; j++) {
                double log_p = lgamma((double) n + 1) - lgamma((double) j + 1) -
                               lgamma((double) (n - j) + 1) + log_half_n;

                cdf += exp(log_p);              /* cdf = P(X ≤ j) = P(X < j + 1) */
                if (cdf > alpha2)
                        break;
                k = j + 1;
        }
        return k;
}

void median_interval(double *v, size_t n, double level, MedianInterval *ret) {
        size_t k;

        assert(v || n == 0);
        assert(ret);
        assert(level > 0 && level < 1);

        if (n == 0) {
                *ret = (MedianInterval) { .median = NAN, .low = NAN, .high = NAN };
                return;
        }
        qsort(v, n, sizeof *v, double_compare);
        *ret = (MedianInterval) {
                .n = n,
                .median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2,
                .low = v[0],
                .high = v[n - 1],
        };
        k = order_statistic(n, level);
        if (k >= 1 && k <= n + 1 - k) {
                ret->low = v[k - 1];
                ret->high = v[n - k];
        }
}

void fleet_shift(double *treated, size_t n_treated, double *control, size_t n_control,
                 FleetShift *ret) {
        FleetShift s = {};

        assert(ret);

        if (n_control == 0) {
                median_interval(treated, n_treated, 0.95, &s.treated);
                median_interval(control, 0, 0.95, &s.control);
                s.estimate = s.treated.median;
                s.low = s.treated.low;
                s.high = s.treated.high;
        } else {
                median_interval(treated, n_treated, sqrt(0.95), &s.treated);
                median_interval(control, n_control, sqrt(0.95), &s.control);
                s.estimate = s.treated.median - s.control.median;
                s.low = s.treated.low - s.control.high;
                s.high = s.treated.high - s.control.low;
        }
        *ret = s;
}

static bool beyond(double points, double kb, double low, double high, const Thresholds *t) {
        return fabs(points) >= t->min_delta_points && fabs(kb) >= t->min_delta_kb &&
               (low > 0 || high < 0);
}

bool fleet_shift_flagged(const FleetShift *points, const FleetShift *kb, const Thresholds *t,
                         size_t min_hosts) {
        return points->treated.n >= MAX(min_hosts, (size_t) 1) &&
               beyond(points->estimate, kb->estimate, points->low, points->high, t);
}

bool fleet_control_moved(const FleetShift *points, const FleetShift *kb, const Thresholds *t,
                         size_t min_hosts) {
        return points->control.n >= MAX(min_hosts, (size_t) 1) &&
               beyond(points->control.median, kb->control.median, points->control.low,
                      points->control.high, t);
}
