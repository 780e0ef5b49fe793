/* Unit tests of compare/fleet.c: the median and its distribution-free interval (order
 * statistics worked out here from the binomial distribution), the difference in differences and
 * the flagging rule. */
#include <math.h>
#include <stdlib.h>

#include "fleet.h"
#include "test.h"

static void fill(double *v, size_t n, double from, double step) {
        for (size_t i = 0; i < n; i++)
                v[(i * 7) % n] = from + step * (double) i;     /* shuffled: the sort is ours */
}

static void test_median_interval(void) {
        double v[2000];
        MedianInterval m;

        /* n = 10 at 95%: P(X ≤ 1) = 11/1024 ≤ 0.025 < P(X ≤ 2) = 56/1024, so k = 2: [x₂, x₉]. */
        fill(v, 10, 1, 1);
        median_interval(v, 10, 0.95, &m);
        ASSERT_INT_EQ(m.n, 10);
        ASSERT_DOUBLE_NEAR(m.median, 5.5, 0);
        ASSERT_DOUBLE_NEAR(m.low, 2, 0);
        ASSERT_DOUBLE_NEAR(m.high, 9, 0);

        /* n = 5: P(X ≤ 0) = 1/32 > 0.025, no narrower interval than the range. */
        fill(v, 5, 10, 10);
        median_interval(v, 5, 0.95, &m);
        ASSERT_DOUBLE_NEAR(m.median, 30, 0);
        ASSERT_DOUBLE_NEAR(m.low, 10, 0);
        ASSERT_DOUBLE_NEAR(m.high, 50, 0);

        /* n = 20 at 95%: P(X ≤ 5) = 0.0207 ≤ 0.025 < P(X ≤ 6) = 0.0577: k = 6, [x₆, x₁₅]. */
        fill(v, 20, 1, 1);
        median_interval(v, 20, 0.95, &m);
        ASSERT_DOUBLE_NEAR(m.low, 6, 0);
        ASSERT_DOUBLE_NEAR(m.high, 15, 0);

        /* n = 2000 (normal approximation): k = ⌊1000 − 1.95996 × √2000 / 2⌋ = 956. */
        fill(v, 2000, 1, 1);
        median_interval(v, 2000, 0.95, &m);
        ASSERT_DOUBLE_NEAR(m.median, 1000.5, 0);
        ASSERT_DOUBLE_NEAR(m.low, 956, 0);
        ASSERT_DOUBLE_NEAR(m.high, 2001 - 956, 0);

        median_interval(v, 0, 0.95, &m);
        ASSERT_INT_EQ(m.n, 0);
        ASSERT_TRUE(isnan(m.median) && isnan(m.low) && isnan(m.high));
}

static void test_fleet_shift(void) {
        Thresholds t = { .min_delta_kb = 1024, .min_delta_points = 1, .noise_factor = 3 };
        double treated[30], control[30], tkb[30], ckb[30];
        FleetShift p, kb;

        /* The kernel moved Shared by +10 points (+20 MiB) on every treated host, ±1 point of
         * host noise; the control hosts did not move. */
        for (int i = 0; i < 30; i++) {
                treated[i] = 10 + (i % 5 - 2) * 0.5;
                tkb[i] = 20480;
                control[i] = (i % 5 - 2) * 0.5;
                ckb[i] = 0;
        }
        fleet_shift(treated, 30, control, 20, &p);
        fleet_shift(tkb, 30, ckb, 20, &kb);
        ASSERT_DOUBLE_NEAR(p.estimate, 10, 1e-12);
        ASSERT_TRUE(p.low > 0 && p.high >= p.estimate && p.low <= p.estimate);
        ASSERT_INT_EQ(p.treated.n, 30);
        ASSERT_INT_EQ(p.control.n, 20);
        ASSERT_TRUE(fleet_shift_flagged(&p, &kb, &t, 3));
        ASSERT_FALSE(fleet_control_moved(&p, &kb, &t, 3));
        ASSERT_FALSE(fleet_shift_flagged(&p, &kb, &t, 31));     /* too few hosts */

        /* The whole fleet moved by +10: the difference is 0, the control group moved. */
        for (int i = 0; i < 30; i++) {
                treated[i] = 10 + (i % 5 - 2) * 0.5;
                control[i] = 10 + (i % 3 - 1) * 0.5;
                ckb[i] = 20480;
        }
        fleet_shift(treated, 30, control, 20, &p);
        fleet_shift(tkb, 30, ckb, 20, &kb);
        ASSERT_DOUBLE_NEAR(p.estimate, 0, 1e-12);
        ASSERT_TRUE(p.low <= 0 && p.high >= 0);
        ASSERT_FALSE(fleet_shift_flagged(&p, &kb, &t, 3));
        ASSERT_TRUE(fleet_control_moved(&p, &kb, &t, 3));

        /* Hosts disagree in sign: no consistent shift even if the median is large. */
        for (int i = 0; i < 30; i++)
                treated[i] = i % 2 ? 20 : -15;
        fleet_shift(treated, 30, control, 0, &p);
        fleet_shift(tkb, 30, ckb, 0, &kb);
        ASSERT_TRUE(p.low < 0 && p.high > 0);
        ASSERT_FALSE(fleet_shift_flagged(&p, &kb, &t, 3));

        /* Below the kB floor. */
        for (int i = 0; i < 30; i++) {
                treated[i] = 10;
                tkb[i] = 100;
        }
        fleet_shift(treated, 30, control, 0, &p);
        fleet_shift(tkb, 30, ckb, 0, &kb);
        ASSERT_FALSE(fleet_shift_flagged(&p, &kb, &t, 3));
}

int main(void) {
        test_median_interval();
        test_fleet_shift();
        return test_exit();
}
