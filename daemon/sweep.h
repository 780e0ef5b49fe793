/* One sweep: notice a new kernel (epoch), walk every process, read meminfo, and write it all to
 * the store in one transaction. The Sweeper owns the scratch buffers reused across sweeps. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "identity.h"
#include "kernel-id.h"
#include "proc-pid.h"
#include "proc-root.h"
#include "store.h"

typedef struct Sweeper {
        const ProcRoot *root;           /* borrowed */
        Store *store;                   /* borrowed */
        IdentityMode identity_mode;
        ReadBuf buf;
        KernelId kernel;
        int64_t epoch_id;
} Sweeper;

typedef struct SweepResult {
        int64_t sweep_id;
        int64_t epoch_id;
        bool new_epoch;                 /* this sweep started an epoch new to the database */
        uint64_t start_usec, duration_usec;
        ProcScanStats stats;
} SweepResult;

void sweeper_init(Sweeper *sw, const ProcRoot *root, Store *store, IdentityMode mode);
void sweeper_done(Sweeper *sw);

/* Runs one sweep. Returns 0 and fills *ret; on failure the transaction is rolled back and a
 * negative errno is returned (storage errors as store.h maps them; -ENOENT/-EBADMSG when the
 * kernel identity cannot be read). Does not log. */
int sweeper_run(Sweeper *sw, SweepResult *ret);

/* The kernel identity of the current epoch (valid after a successful sweeper_run()). */
static inline const KernelId *sweeper_kernel(const Sweeper *sw) {
        return &sw->kernel;
}
