/* One sweep: notice a new kernel (epoch), walk every process, read meminfo, and write it all to
 * the store in one transaction. The Sweeper owns the scratch buffers reused across sweeps. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cgroup.h"
#include "identity.h"
#include "kernel-id.h"
#include "proc-scan.h"
#include "options.h"
#include "proc-root.h"
#include "reconstruct.h"
#include "reuse.h"
#include "store.h"
#include "thp.h"

/* What the reconstruction needs to know of each process of a full-mode sweep. */
typedef struct SweepProcess {
        pid_t pid;
        uint64_t start_time_ticks;
        size_t pfn_offset, pfn_count;
        bool truncated;         /* its scan was cut short: it counts for the others' sharing,
                                 * but gets no figures of its own */
        bool reused;            /* its read stands from the last sweep: no PFNs read */
        char *memory_cgroup;    /* owned; NULL when unknown */
} SweepProcess;

/* Full mode: the last sweep's processes, their PFNs and its reconstruction, for a sweep that
 * reuses reads (sweep.c: sweep_reconstruct()). */
typedef struct SweepKept {
        PfnList pfns;
        SweepProcess *procs;
        size_t n_procs, allocated_procs;
        Reconstruction *rec;            /* NULL: nothing kept, full mode reads everything */
        uint64_t read_all_usec;         /* CLOCK_MONOTONIC: the last sweep that read every
                                         * process (reused none) */
} SweepKept;

typedef struct SweepPagemap {
        PagemapMode mode;
        uint64_t max_scan_bytes;
        uint64_t budget_usec;
} SweepPagemap;

/* Where a failed sweep failed, set by the step that failed: storage failures are logged and
 * reported apart from the rest. */
typedef enum SweepStep {
        SWEEP_STEP_STORAGE,             /* the database refused a read or a write */
        SWEEP_STEP_KERNEL_ID,           /* osrelease, boot_id or the kernel config unreadable */
        SWEEP_STEP_PROCESSES,           /* the proc root cannot be listed, or out of memory
                                         * while walking it */
        SWEEP_STEP_IDENTITY,            /* a process's identity key could not be built */
        SWEEP_STEP_WRITER,              /* the writer thread could not be started */
        SWEEP_STEP_MEMINFO,             /* out of memory while reading meminfo */
        SWEEP_STEP_CGROUPS,             /* out of memory while walking the cgroups */
        SWEEP_STEP_STOPPED,             /* a stop was asked (daemon/stop.h): abandoned */
        _SWEEP_STEP_MAX,
} SweepStep;

/* "cannot record the sweep", "cannot read the kernel identity", … for /healthz and the log. */
const char *sweep_step_to_string(SweepStep step);

typedef struct Sweeper {
        const ProcRoot *root;           /* borrowed */
        Store *store;                   /* borrowed */
        IdentityMode identity_mode;
        SweepPagemap pagemap;
        ProcScanBuffers bufs;
        PfnList pfns;                   /* full mode: every process's PFNs, one sweep */
        SweepProcess *procs;            /* full mode: who owns which PFNs */
        size_t n_procs, allocated_procs;
        Reconstruction *rec;            /* full mode: this sweep's, until its cgroups are
                                         * stored; NULL otherwise */
        uint32_t *group;                /* scratch: the processes of one cgroup */
        size_t allocated_group;
        KernelId kernel;
        int64_t epoch_id;
        uint64_t *unit_keys;            /* this sweep's cgroup unit keys (hashes), open
                                         * addressing, 0 empty */
        size_t n_unit_keys, allocated_unit_keys;
        ThpStats thp;                   /* scratch */
        uint64_t max_staleness_usec;    /* reuse a process's figures while younger; 0: never */
        bool rollup_unavailable_logged; /* the stall budget could not be kept: said once */
        ReadTable reads;                /* the last reads */
        SweepKept kept;                 /* full mode: the last sweep's reconstruction */
        int64_t sweep_id;               /* the open sweep's */
        uint64_t sweep_mono_usec;       /* its CLOCK_MONOTONIC start */
        SweepStep failed_step;          /* after sweeper_run() failed: set where it failed */
} Sweeper;

typedef struct SweepResult {
        int64_t sweep_id;
        int64_t epoch_id;
        bool new_epoch;                 /* this sweep started an epoch new to the database */
        uint64_t start_usec, duration_usec;
        ProcScanStats stats;
        bool budget_exhausted;          /* the pagemap budget ran out during this sweep */
        bool reuse;                     /* earlier reads could stand in (stats.reused) */
        CgroupLayout cgroup_layout;
        CgroupScanStats cgroups;        /* the memory cgroups walked */
        unsigned thp_sizes;             /* THP sizes recorded */
        unsigned thp_malformed;         /* THP counter files that did not parse */
        int reconstruction;             /* full mode: 0 done; -EPERM no PFNs (CAP_SYS_ADMIN);
                                         * another -errno when kpageflags/kpagecount failed */
} SweepResult;

void sweeper_init(Sweeper *sw, const ProcRoot *root, Store *store);
/* The settings a reload may change; they apply from the next sweep. */
void sweeper_configure(Sweeper *sw, const Options *o);
void sweeper_done(Sweeper *sw);

/* Runs one sweep. Returns 0 and fills *ret; on failure the transaction is rolled back, a
 * negative errno is returned (storage errors as store.h maps them; -ENOENT/-EBADMSG when the
 * kernel identity cannot be read; -ENOMEM) and sw->failed_step names the step that failed, as
 * that step reported it. A reconstruction that cannot be done is not a failure: the sweep is
 * stored without it and ret->reconstruction says why. Does not log. */
int sweeper_run(Sweeper *sw, SweepResult *ret);

/* The kernel identity of the current epoch (valid after a successful sweeper_run()). */
static inline const KernelId *sweeper_kernel(const Sweeper *sw) {
        return &sw->kernel;
}
