/* The sweep: one pass over every process of the proc root and meminfo, stored as one
 * transaction. Per-process failures are counted by the collectors, never fatal here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "meminfo.h"
#include "sweep.h"
#include "time-util.h"

void sweeper_init(Sweeper *sw, const ProcRoot *root, Store *store, IdentityMode mode) {
        *sw = (Sweeper) {
                .root = root,
                .store = store,
                .identity_mode = mode,
                .buf = READ_BUF_INIT,
        };
}

void sweeper_done(Sweeper *sw) {
        read_buf_done(&sw->buf);
        kernel_id_done(&sw->kernel);
        *sw = (Sweeper) {};
}

static bool streq_ptr(const char *a, const char *b) {
        return a && b && strcmp(a, b) == 0;
}

/* Finds this boot's epoch; the full kernel identity (config.gz, THP settings) is read only for
 * a boot the database has not seen. Either way sw->kernel describes the current kernel. */
static int sweeper_update_epoch(Sweeper *sw, uint64_t now, bool *ret_new) {
        _cleanup_free_ char *release = NULL, *boot_id = NULL;
        MapcountMode mode;
        KernelId k;
        int r;

        r = kernel_id_read_quick(sw->root, &release, &boot_id);
        if (r < 0)
                return r;

        r = store_epoch_lookup(sw->store, boot_id, release, now, &sw->epoch_id, &mode);
        if (r < 0)
                return r;
        if (r > 0) {
                *ret_new = false;
                if (streq_ptr(release, sw->kernel.release) && streq_ptr(boot_id, sw->kernel.boot_id))
                        return 0;
                /* Known boot, first sweep of this process: what the epoch recorded is enough. */
                kernel_id_done(&sw->kernel);
                sw->kernel = (KernelId) {
                        .release = TAKE_PTR(release),
                        .boot_id = TAKE_PTR(boot_id),
                        .mapcount_mode = mode,
                };
                return 0;
        }

        r = kernel_id_read(sw->root, &k);
        if (r < 0)
                return r;
        kernel_id_done(&sw->kernel);
        sw->kernel = k;
        return store_epoch_ensure(sw->store, &sw->kernel, now, &sw->epoch_id, ret_new);
}

static int sweep_add_process(const ProcSample *p, void *userdata) {
        Sweeper *sw = userdata;
        _cleanup_free_ char *key = NULL;
        int r;

        r = identity_key_build(sw->identity_mode, p->comm, p->exe, p->cmdline, p->unit, &key);
        if (r < 0)
                return r;
        return store_sweep_add_process(sw->store, p, key);
}

int sweeper_run(Sweeper *sw, SweepResult *ret) {
        uint64_t start = now_usec(CLOCK_REALTIME), mono = now_usec(CLOCK_MONOTONIC);
        ProcScanStats stats = {};
        SweepSummary summary;
        Meminfo meminfo;
        bool new_epoch = false;
        int64_t sweep_id;
        int r;

        r = sweeper_update_epoch(sw, start, &new_epoch);
        if (r < 0)
                return r;

        r = store_sweep_begin(sw->store, sw->epoch_id, start);
        if (r < 0)
                return r;

        r = proc_scan(sw->root, &sw->buf, sweep_add_process, sw, &stats);
        if (r < 0)
                goto fail;

        /* A sweep without meminfo is still worth keeping: the per-process figures are the main
         * data. Garbage in meminfo is counted as a malformed source, not fatal. */
        r = meminfo_read(sw->root, &sw->buf, &meminfo);
        if (r >= 0) {
                r = store_sweep_add_meminfo(sw->store, &meminfo);
                if (r < 0)
                        goto fail;
        } else if (r == -ENOMEM)
                goto fail;
        else
                stats.malformed++;

        summary = (SweepSummary) {
                .duration_usec = now_usec(CLOCK_MONOTONIC) - mono,
                .sampled = stats.sampled,
                .skipped = proc_scan_stats_skipped(&stats),
                .vanished = stats.vanished,
                .denied = stats.denied,
                .malformed = stats.malformed,
        };
        sweep_id = store_sweep_commit(sw->store, &summary);
        if (sweep_id < 0)
                return (int) sweep_id;

        *ret = (SweepResult) {
                .sweep_id = sweep_id,
                .epoch_id = sw->epoch_id,
                .new_epoch = new_epoch,
                .start_usec = start,
                .duration_usec = summary.duration_usec,
                .stats = stats,
        };
        return 0;

fail:
        store_sweep_abort(sw->store);
        return r;
}
