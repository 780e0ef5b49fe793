/* libFuzzer target for a fleet's snapshot files (GET /snapshot, read by mapstatctl fleet
 * compare): the fleet reader on one file whose content is the input, then the fleet statistics
 * over the deltas it gives. Any document must be read or skipped with a reason, never read
 * outside what it holds; a host that was read is self-consistent (its compared kernels among its
 * kernels, every identity keyed, a flag a ShiftKind or -1), and fleet_shift() over its deltas
 * puts the estimate within its interval. */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "fleet-read.h"
#include "fleet.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_shift(const HostResult *h, CompareMetric m) {
        double *v = calloc(h->n + 1, sizeof *v);
        FleetShift s;
        size_t n = 0;

        if (!v)
                return;
        for (size_t i = 0; i < h->n; i++)
                if (isfinite(h->identities[i].delta.points[m]))
                        v[n++] = h->identities[i].delta.points[m];
        fleet_shift(v, n, NULL, 0, &s);
        assert(s.treated.n == n && s.control.n == 0);
        if (n > 0)
                assert(s.low <= s.estimate && s.estimate <= s.high);
        free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const FleetConfig config = { .thresholds = THRESHOLDS_DEFAULT };
        char path[4096], *files[] = { path };
        FleetReader *reader = NULL;
        HostResult h = {};

        if (size > 256 * 1024)
                return 0;
        fuzz_write("snapshot.json", data, size);
        (void) snprintf(path, sizeof path, "%s/snapshot.json", fuzz_scratch());
        if (fleet_reader_start(&reader, &config, files, 1) < 0)
                return 0;
        fleet_reader_take(reader, 0, &h);
        fleet_reader_stop(reader);

        assert(memchr(h.error, '\0', sizeof h.error));
        if (h.error[0] == '\0' && h.paired) {
                assert(h.before < h.n_kernels && h.after < h.n_kernels);
                for (size_t i = 0; i < h.n; i++) {
                        const HostIdentity *id = &h.identities[i];

                        assert(id->key);
                        assert(id->delta.kind >= -1 && id->delta.kind < _SHIFT_KIND_MAX);
                }
                for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                        check_shift(&h, m);
        } else if (h.error[0] == '\0')
                assert(h.n == 0);
        for (size_t i = 0; i < h.n_kernels; i++)
                assert(h.kernels[i].release && h.kernels[i].mode);
        host_result_done(&h);
        return 0;
}
