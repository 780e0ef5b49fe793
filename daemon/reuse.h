/* The figures of each process's last read, kept from sweep to sweep, so that a process whose
 * change signal (collectors/proc-pid.h ProcSignal) has not moved since is not walked again until
 * its figures reach the maximum staleness (MaxStaleness=, README "Steady state").
 *
 * Two arrays in ascending PID order, the order of the walk: the last sweep's, looked up with a
 * cursor that only moves forward (a lookup is O(1) amortized, no hashing), and this sweep's,
 * appended to and swapped in when the sweep commits. An entry is about 500 bytes. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc-scan.h"

typedef struct ReadEntry {
        pid_t pid;
        uint64_t start_time_ticks;
        ProcSignal signal;
        int64_t sweep_id;               /* the sweep that read the figures */
        uint64_t read_usec;             /* its CLOCK_MONOTONIC start */
        char *exe, *cmdline, *cgroup, *memory_cgroup, *unit;    /* owned */
        uint32_t present;
        uint64_t kb[_SMAPS_FIELD_MAX];
        bool has_pagemap;
        PagemapClassCounts pagemap[_VMA_CLASS_MAX];
} ReadEntry;

typedef struct ReadTable {
        ReadEntry *last;                /* the last committed sweep's, by PID */
        size_t n_last, allocated_last, cursor;
        ReadEntry *next;                /* the open sweep's */
        size_t n_next, allocated_next;
        int64_t epoch_id;               /* of last: PIDs and start times of one boot */
} ReadTable;

/* Opens a sweep of epoch_id: drops what an aborted sweep recorded, and the last sweep's entries
 * when the epoch changed. */
void read_table_begin(ReadTable *t, int64_t epoch_id);

/* The walk's question for one process (ProcReuseFunc): when the last sweep recorded s->pid with
 * the same start time and an equal, valid signal, read at or after not_before_usec (CLOCK_
 * MONOTONIC), with a pagemap scan exactly when want_pagemap, fills the rest of *s from it (the
 * strings copied, comm kept as stat gave it, reused_sweep_id the sweep that read it) and returns
 * 1. Returns 0 when the process must be read, -ENOMEM. Calls must come in ascending PID order
 * within a sweep. */
int read_table_reuse(ReadTable *t, ProcSample *s, uint64_t not_before_usec, bool want_pagemap);

/* Records a sample of the open sweep, read by sweep_id at read_usec, or reused (then its own
 * reused_sweep_id and the original read time stand). A sample that cannot stand in for a later
 * read (no signal, a scan cut short, unknown smaps_rollup fields) is not recorded. Returns 0 or
 * -ENOMEM (the sweep goes on; the process is read next time). */
int read_table_record(ReadTable *t, const ProcSample *s, int64_t sweep_id, uint64_t read_usec);

/* The open sweep committed: its entries become the last sweep's. */
void read_table_commit(ReadTable *t);

void read_table_done(ReadTable *t);
