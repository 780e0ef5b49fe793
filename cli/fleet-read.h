/* Reading a fleet's snapshots for mapstatctl fleet compare: each file is read, parsed, checked
 * and reduced to what the comparison keeps of its host (its kernels, which two of its epochs are
 * compared, and per identity on both sides the deltas of every figure and the host's own
 * classification) on a worker thread, one per core, a few files ahead of the one the caller
 * adds; the document is freed by the thread that parsed it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compare.h"

#define SNAPSHOT_FORMAT "mapstatd-snapshot"
#define SNAPSHOT_VERSION 1

/* One host's deltas of one identity (after − before). */
typedef struct HostDelta {
        float points[_COMPARE_METRIC_MAX];              /* ratio points */
        float kb[_COMPARE_METRIC_MAX];
        float exclusive_points[_EXCLUSIVITY_CLASS_MAX]; /* NaN unless scanned on both sides */
        uint16_t before, after;                         /* the fleet's kernel indexes */
        int8_t kind;                                    /* the host's own ShiftKind when its
                                                         * comparison flagged, else -1 */
} HostDelta;

typedef struct HostIdentity {
        char *key, *comm, *unit;        /* comm and unit may be NULL */
        HostDelta delta;
} HostIdentity;

typedef struct HostKernel {
        char *release, *mode;
} HostKernel;

/* What one snapshot gives. */
typedef struct HostResult {
        char error[256];                /* why it is skipped; "" when it was read */
        char *machine_id;               /* may be NULL */
        HostKernel *kernels;            /* the distinct kernels it ran */
        size_t n_kernels;
        bool paired;                    /* two of its epochs are compared: */
        size_t before, after;           /* their kernels (indexes into kernels; equal for a
                                         * control host) */
        HostIdentity *identities;       /* on both sides */
        size_t n;
} HostResult;

void host_result_done(HostResult *r);

/* How hosts are read: the thresholds of their own comparisons, and the releases of the kernel
 * change when given (NULL: each host's own last change). */
typedef struct FleetConfig {
        Thresholds thresholds;
        const char *want_before, *want_after;
} FleetConfig;

typedef struct FleetReader FleetReader;

/* Starts reading files[0..n) (borrowed, as is config). 0, -ENOMEM or -EAGAIN (no thread). */
int fleet_reader_start(FleetReader **ret, const FleetConfig *config, char *const *files,
                       size_t n);
/* The result of file i, in order (waits for it). The caller owns *ret. */
void fleet_reader_take(FleetReader *r, size_t i, HostResult *ret);
/* Stops the threads and frees what was read ahead. NULL-safe. */
void fleet_reader_stop(FleetReader *r);
