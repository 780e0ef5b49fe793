/* Unit tests of daemon/reuse: which earlier read stands in for a process (same PID and start
 * time, an equal valid signal, young enough, scanned as the mode wants), what it fills in, what
 * a reused sample records (the original read, not a new one), and the swap at commit. */
#include <string.h>

#include "macro.h"
#include "reuse.h"
#include "test.h"

static const ProcSignal SIGNAL = { .minflt = 10, .majflt = 1, .vsize = 4096000, .rss_pages = 50,
                                   .valid = true };

/* A sample of pid as the walk has it after stat, plus the figures of a read when read. */
static ProcSample sample_of(pid_t pid, uint64_t start, ProcSignal signal, bool read) {
        ProcSample s = { .pid = pid, .start_time_ticks = start, .signal = signal };

        snprintf(s.comm, sizeof s.comm, "p%d", (int) pid);
        if (read) {
                s.exe = strdup("/usr/bin/p");
                s.cmdline = strdup("p --flag");
                s.cgroup = strdup("/system.slice/p.service");
                s.unit = strdup("p.service");
                s.rollup.present = 3;
                s.rollup.kb[SMAPS_RSS] = 1000 + (uint64_t) pid;
                s.rollup.kb[SMAPS_PSS] = 500 + (uint64_t) pid;
                s.has_pagemap = true;
                s.pagemap.class[VMA_CLASS_ANON].present_pages = 7;
        }
        return s;
}

/* One sweep over pids reading those not reused; returns how many were reused. */
static unsigned sweep(ReadTable *t, const pid_t *pids, size_t n, ProcSignal signal,
                      int64_t sweep_id, uint64_t now, uint64_t staleness) {
        unsigned reused = 0;

        read_table_begin(t, 1);
        for (size_t i = 0; i < n; i++) {
                ProcSample s = sample_of(pids[i], 100, signal, false);
                int r = read_table_reuse(t, &s, now - staleness + 1, true);

                ASSERT_TRUE(r == 0 || r == 1);
                if (r == 0) {
                        proc_sample_done(&s);
                        s = sample_of(pids[i], 100, signal, true);
                } else
                        reused++;
                ASSERT_INT_EQ(read_table_record(t, &s, sweep_id, now), 0);
                proc_sample_done(&s);
        }
        read_table_commit(t);
        return reused;
}

static void test_reuse(void) {
        const pid_t pids[] = { 5, 9, 40 };
        ReadTable t = {};
        ProcSample s;

        /* Nothing to reuse at first; then everything, while younger than the bound. */
        ASSERT_INT_EQ(sweep(&t, pids, 3, SIGNAL, 1, 1000, 300), 0);
        ASSERT_INT_EQ(sweep(&t, pids, 3, SIGNAL, 2, 1100, 300), 3);
        ASSERT_INT_EQ(sweep(&t, pids, 3, SIGNAL, 3, 1299, 300), 3);
        /* 300 after the read: read again, whatever the signal. */
        ASSERT_INT_EQ(sweep(&t, pids, 3, SIGNAL, 4, 1300, 300), 0);

        /* What a reuse fills in: the read's figures and strings, its sweep; comm stays. */
        read_table_begin(&t, 1);
        s = sample_of(9, 100, SIGNAL, false);
        ASSERT_INT_EQ(read_table_reuse(&t, &s, 1300, true), 1);
        ASSERT_INT_EQ(s.reused_sweep_id, 4);
        ASSERT_STR_EQ(s.comm, "p9");
        ASSERT_STR_EQ(s.cmdline, "p --flag");
        ASSERT_STR_EQ(s.unit, "p.service");
        ASSERT_TRUE(s.memory_cgroup == NULL);
        ASSERT_U64_EQ(s.rollup.present, 3);
        ASSERT_U64_EQ(s.rollup.kb[SMAPS_PSS], 509);
        ASSERT_TRUE(s.has_pagemap);
        ASSERT_U64_EQ(s.pagemap.class[VMA_CLASS_ANON].present_pages, 7);
        /* Recorded as the original read: sweep 4 at 1300, so that the bound holds. */
        ASSERT_INT_EQ(read_table_record(&t, &s, 5, 1400), 0);
        proc_sample_done(&s);
        read_table_commit(&t);
        read_table_begin(&t, 1);
        s = sample_of(9, 100, SIGNAL, false);
        ASSERT_INT_EQ(read_table_reuse(&t, &s, 1600, true), 0);
        ASSERT_INT_EQ(read_table_reuse(&t, &s, 1300, true), 1);
        ASSERT_INT_EQ(s.reused_sweep_id, 4);
        proc_sample_done(&s);

        /* Read again: another start time (a reused PID), a changed or missing signal, a
         * scan the mode does not match; PIDs the last sweep did not have. */
        read_table_begin(&t, 1);
        ProcSignal moved = SIGNAL;
        moved.vsize += 4096;
        const struct {
                pid_t pid;
                uint64_t start;
                ProcSignal signal;
                bool pagemap;
        } misses[] = {
                { 3, 100, SIGNAL, true },
                { 9, 101, SIGNAL, true },
                { 9, 100, moved, true },
                { 9, 100, {}, true },
                { 9, 100, SIGNAL, false },
                { 41, 100, SIGNAL, true },
        };
        for (size_t i = 0; i < ELEMENTSOF(misses); i++) {
                s = sample_of(misses[i].pid, misses[i].start, misses[i].signal, false);
                ASSERT_INT_EQ(read_table_reuse(&t, &s, 0, misses[i].pagemap), 0);
                ASSERT_INT_EQ(s.reused_sweep_id, 0);
                ASSERT_TRUE(s.cmdline == NULL);
                proc_sample_done(&s);
        }

        /* Not recorded: what could not stand in later. */
        read_table_begin(&t, 1);
        s = sample_of(5, 100, (ProcSignal) {}, true);
        ASSERT_INT_EQ(read_table_record(&t, &s, 6, 1500), 0);
        proc_sample_done(&s);
        s = sample_of(9, 100, SIGNAL, true);
        s.pagemap.truncated = true;
        ASSERT_INT_EQ(read_table_record(&t, &s, 6, 1500), 0);
        proc_sample_done(&s);
        s = sample_of(40, 100, SIGNAL, true);
        s.rollup.n_extra = 1;
        ASSERT_INT_EQ(read_table_record(&t, &s, 6, 1500), 0);
        proc_sample_done(&s);
        ASSERT_INT_EQ(t.n_next, 0);

        /* An aborted sweep's records are dropped at the next begin; another epoch drops all. */
        s = sample_of(5, 100, SIGNAL, true);
        ASSERT_INT_EQ(read_table_record(&t, &s, 6, 1500), 0);
        proc_sample_done(&s);
        ASSERT_INT_EQ(t.n_next, 1);
        read_table_begin(&t, 1);
        ASSERT_INT_EQ(t.n_next, 0);
        ASSERT_INT_EQ(t.n_last, 1);             /* 9, recorded after its reuse */
        read_table_begin(&t, 2);
        ASSERT_INT_EQ(t.n_last, 0);

        read_table_done(&t);
}

int main(void) {
        test_reuse();
        return test_exit();
}
