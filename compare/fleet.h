/* The statistics of a fleet comparison (mapstatctl fleet compare): how one identity's figures
 * moved across a kernel change, estimated over many hosts. Pure: no I/O.
 *
 * Each host contributes one delta per figure: its figure after minus before (its median over
 * the epoch's window, from its snapshot). Hosts that changed kernel are the treated group;
 * hosts that stayed on the old kernel over the same period (two epochs of it) are the control
 * group. The estimate is the difference in differences of medians, median(treated) −
 * median(control), so that a change the whole fleet saw (a new workload version) is not taken
 * for the kernel's. Its interval combines distribution-free confidence intervals of the two
 * medians (order statistics of the binomial distribution, no assumption on the shape of the
 * host-to-host spread); a shift counts as consistent across hosts when that interval excludes
 * 0. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "compare.h"

/* The median of n values and a confidence interval for it. */
typedef struct MedianInterval {
        size_t n;
        double median;
        double low, high;       /* [x_(k), x_(n+1-k)]; the whole range when n is too small */
} MedianInterval;

/* Sorts v[0..n) and fills *ret with their median and the distribution-free confidence interval
 * of the median at level (0 < level < 1): the widest order statistics x_(k), x_(n+1-k) with
 * P(Binomial(n, ½) < k) ≤ (1 − level) / 2. n = 0 gives all NaN. */
void median_interval(double *v, size_t n, double level, MedianInterval *ret);

/* The difference in differences of one figure. */
typedef struct FleetShift {
        MedianInterval treated;         /* deltas of the hosts that changed kernel */
        MedianInterval control;         /* deltas of the hosts that did not (n may be 0) */
        double estimate;                /* treated − control medians (treated alone without
                                         * control hosts) */
        double low, high;               /* its 95% interval */
} FleetShift;

/* Estimates from treated[0..n_treated) and control[0..n_control) (both sorted in place). With
 * control hosts each median's interval is taken at √0.95, so that the difference's interval
 * [low_t − high_c, high_t − low_c] covers at least 95% (Bonferroni). */
void fleet_shift(double *treated, size_t n_treated, double *control, size_t n_control,
                 FleetShift *ret);

/* Whether a shift in ratio points (and its kB estimate) is one to flag: at least min_hosts
 * treated hosts, |points| ≥ min_delta_points, |kB| ≥ min_delta_kb, and the points interval
 * excludes 0. */
bool fleet_shift_flagged(const FleetShift *points, const FleetShift *kb, const Thresholds *t,
                         size_t min_hosts);

/* Whether the control hosts themselves moved (a change of the whole fleet, not of the kernel):
 * the same rule over the control group's own interval. */
bool fleet_control_moved(const FleetShift *points, const FleetShift *kb, const Thresholds *t,
                         size_t min_hosts);
