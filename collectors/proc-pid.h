/* Per-process identity from /proc/PID: pure parsers of stat (comm, flags, start time), cmdline
 * and cgroup, the systemd unit a cgroup path belongs to, and the exe link's " (deleted)". The
 * walk that reads them for every process is proc-scan.h. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>


#define PROC_COMM_MAX 64        /* TASK_COMM_LEN is 16; comm may be escaped by the kernel */
#define PROC_CMDLINE_MAX 4096   /* longer command lines are truncated, marked with "…" */
#define PF_KTHREAD 0x00200000u  /* include/linux/sched.h */

/* What stat tells of a process's memory without walking its page tables: every fault it
 * took (minflt, majflt: a page mapped, copied or brought back), its address space size (vsize:
 * mmap, munmap, brk, mremap) and its resident pages (rss). Two equal signals mean the process
 * neither faulted nor changed its mappings in between; what the rss counter misses (it is
 * per-CPU batched) and what other processes do to shared pages are not seen (README,
 * MaxStaleness=). valid is false when stat ends before field 24. */
typedef struct ProcSignal {
        uint64_t minflt, majflt, vsize, rss_pages;
        bool valid;
} ProcSignal;

static inline bool proc_signal_equal(const ProcSignal *a, const ProcSignal *b) {
        return a->valid && b->valid && a->minflt == b->minflt && a->majflt == b->majflt &&
               a->vsize == b->vsize && a->rss_pages == b->rss_pages;
}

typedef struct ProcStat {
        char comm[PROC_COMM_MAX];
        char state;
        uint32_t ppid;
        uint32_t flags;                 /* task flags (PF_*) */
        uint64_t start_time_ticks;      /* field 22, clock ticks since boot */
        ProcSignal signal;              /* fields 10, 12, 23, 24 */
} ProcStat;

/* Pure parser of /proc/PID/stat: comm is between the first '(' and the last ')', fields are
 * parsed after the last ')', up to field 24 (fields 3–22 are required). Returns 0, -EBADMSG,
 * -ERANGE. */
int proc_stat_parse(const char *buf, size_t len, ProcStat *ret);

/* Pure: /proc/PID/cmdline (NUL-separated args) to one string with arguments joined by single
 * spaces, truncated to PROC_CMDLINE_MAX bytes. An empty cmdline gives "". Returns 0 or -ENOMEM;
 * *ret is owned by the caller. */
int proc_cmdline_parse(const char *buf, size_t len, char **ret);

/* Pure: the cgroup v2 path ("0::/system.slice/foo.service") of /proc/PID/cgroup; on a v1 or
 * hybrid system the name=systemd line ("1:name=systemd:/…"). Returns 0, -ENODATA (neither
 * line), -EBADMSG, -ENOMEM; *ret owned by the caller. */
int proc_cgroup_parse(const char *buf, size_t len, char **ret);

/* Pure: the memory cgroup of /proc/PID/cgroup: the path of the v1 hierarchy whose controllers
 * include "memory" ("7:memory:/system.slice/foo.service"), else the v2 path ("0::/…"). *ret
 * owned by the caller. Returns 0, -ENODATA (neither), -EBADMSG, -ENOMEM. */
int proc_cgroup_memory_parse(const char *buf, size_t len, char **ret);

/* systemd's UNIT_NAME_MAX. */
#define UNIT_NAME_MAX 255

/* Pure: s[0..len) is a unit name (systemd's unit_name_is_valid() for the characters, at most
 * UNIT_NAME_MAX bytes) with one of the suffixes (a NULL-terminated list: ".service", …). */
bool unit_name_valid(const char *s, size_t len, const char *const *suffixes);

/* Pure: the systemd unit a cgroup path belongs to, as systemd's cg_path_get_unit() does: the
 * first path component that is a unit name and not a slice ("/system.slice/foo.service/x" →
 * "foo.service", "/user.slice/user-0.slice/user@0.service/app.slice/a.scope" →
 * "user@0.service"). Returns 1 and *ret (owned by the caller) when found, 0 when the path holds
 * no unit (e.g. "/" or "/init.scope" gives "init.scope"), -ENOMEM. */
int cgroup_path_get_unit(const char *path, char **ret);

/* Pure: removes the " (deleted)" the kernel appends to the exe link of a replaced binary. */
void exe_strip_deleted(char *exe);
