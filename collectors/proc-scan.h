/* The walk over every process of the proc root: per process stat, smaps_rollup, cmdline, exe
 * and cgroup (and optionally maps and pagemap) through one O_PATH directory fd, each sample
 * handed to a callback, and the reasons processes were skipped, counted. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fileio.h"
#include "maps.h"
#include "pagemap-rollup.h"
#include "pagemap.h"
#include "proc-pid.h"
#include "proc-root.h"
#include "smaps-rollup.h"

/* One process as a sweep records it. Strings are owned by the struct (proc_sample_done()). */
typedef struct ProcSample {
        pid_t pid;
        uint64_t start_time_ticks;
        char comm[PROC_COMM_MAX];
        char *exe;              /* target of PID/exe; NULL when unreadable */
        char *cmdline;          /* joined arguments; "" when empty */
        char *cgroup;           /* NULL when unreadable */
        char *memory_cgroup;    /* the memory controller's (v1) or the v2 path; NULL when none */
        char *unit;             /* NULL when the cgroup names no unit */
        ProcSignal signal;      /* from stat: whether the memory may have changed */
        int64_t reused_sweep_id;        /* > 0: every figure and string is that sweep's read,
                                         * standing in for this one (ProcReuseFunc) */
        SmapsRollup rollup;
        bool derived;           /* rollup derived from pagemap under the stall budget */
        bool has_pagemap;       /* pagemap was scanned (mode exclusivity or full) */
        PagemapCounts pagemap;
        size_t pfn_offset;      /* full mode: this process's PFNs in PagemapOptions.pfns */
        size_t pfn_count;
} ProcSample;

/* Frees the strings of *s and zeroes it; accepts NULL and a zeroed sample. */
void proc_sample_done(ProcSample *s);

/* Why processes were not sampled; one counter per reason. */
typedef struct ProcScanStats {
        unsigned sampled;
        unsigned kernel_threads;        /* PF_KTHREAD, skipped by design */
        unsigned no_mm;                 /* empty smaps_rollup: zombie or exiting */
        unsigned vanished;              /* -ENOENT/-ESRCH while reading */
        unsigned denied;                /* -EACCES/-EPERM */
        unsigned malformed;             /* -EBADMSG/-ERANGE/-E2BIG from a parser */
        unsigned pagemap_truncated;     /* sampled, but the pagemap scan was cut short (cap or
                                         * deadline) */
        unsigned pagemap_failed;        /* sampled without pagemap: maps/pagemap unreadable */
        unsigned reused;                /* sampled from an earlier read (ProcReuseFunc) */
        unsigned derived;               /* read through pagemap under the stall budget */
} ProcScanStats;

/* Scratch a walk reuses from process to process and from sweep to sweep. */
typedef struct ProcScanBuffers {
        ReadBuf text;           /* stat, smaps_rollup, cmdline, cgroup, maps */
        ReadBuf binary;         /* pagemap */
        VmaList vmas;
        bool vmas_current;      /* vmas are the current process's: the stall budget read maps
                                 * and did not derive, so its pagemap read need not again */
        PagemapRollup rollup;   /* the stall budget: its settings (budget_usec 0: off) and
                                 * scratch */
} ProcScanBuffers;

void proc_scan_buffers_done(ProcScanBuffers *b);

static inline unsigned proc_scan_stats_skipped(const ProcScanStats *s) {
        return s->vanished + s->denied + s->malformed;
}

/* Called once per sampled process. The sample is valid only during the call, but the callee may
 * take it over: move the struct and leave *sample zeroed (proc_scan() then frees nothing). A
 * negative return stops the walk and is returned by proc_scan(). */
typedef int (*ProcScanFunc)(ProcSample *sample, void *userdata);

/* Asked after a process's stat, with pid, start_time_ticks, comm and signal of *sample set:
 * returns 1 after filling the rest of the sample from an earlier read (reused_sweep_id set),
 * and nothing more of the process is read; 0 to read it; -ENOMEM stops the walk. */
typedef int (*ProcReuseFunc)(ProcSample *sample, void *userdata);

/* Reads one process through its directory fd (opened O_PATH|O_DIRECTORY under the proc root):
 * stat, smaps_rollup, cmdline, exe, cgroup. Returns 0 and fills *ret; 1 when it is a kernel
 * thread (nothing else read); -ENODATA (no memory map), -ENOENT/-ESRCH, -EACCES/-EPERM,
 * -EBADMSG/-ERANGE/-E2BIG, -ENOMEM. buf is scratch. */
int proc_sample_read(int pid_dirfd, pid_t pid, ReadBuf *buf, ProcSample *ret);

/* Adds the pagemap of a sampled process: maps (unless bufs->vmas_current: already read for
 * it), then pagemap over its ranges (pagemap.h), into s->pagemap (has_pagemap set) and, in
 * full mode, its PFNs appended to o->pfns (pfn_offset, pfn_count). On failure *s is unchanged and o->pfns is truncated back to where it was.
 * Returns 0; -ENOENT/-ESRCH (vanished), -EACCES/-EPERM, -EBADMSG/-ERANGE/-E2BIG (maps), -EIO,
 * -ENOMEM. */
int proc_sample_read_pagemap(int pid_dirfd, const PagemapOptions *o, ProcScanBuffers *bufs,
                             ProcSample *s);

/* Walks every numeric directory under the proc root in ascending PID order, reads each process
 * with proc_sample_read() (and proc_sample_read_pagemap() when pagemap is not NULL), unless
 * reuse (may be NULL) stands an earlier read in for it, and calls func for each one sampled;
 * both get userdata. With a stall budget set in bufs->rollup, a process whose largest mapping
 * may take longer than the budget to walk is read through pagemap instead of smaps_rollup
 * (pagemap-rollup.h; counted in derived). A process whose pagemap cannot be read is still
 * sampled, counted
 * in pagemap_failed. Per-process failures are counted in *ret_stats, never returned. Returns 0,
 * a negative errno when the proc root cannot be listed or -ENOMEM, or what func returned. */
int proc_scan(const ProcRoot *root, ProcScanBuffers *bufs, const PagemapOptions *pagemap,
              ProcReuseFunc reuse, ProcScanFunc func, void *userdata, ProcScanStats *ret_stats);
