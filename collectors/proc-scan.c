/* The process walk: every numeric entry of the proc root in ascending PID order, each read
 * through one O_PATH directory fd (stat first: kernel threads and zombies stop there), its
 * sample handed to the caller, and every process that could not be sampled counted by reason. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "macro.h"
#include "parse-util.h"
#include "proc-scan.h"

/* stat is about 300 bytes, cgroup a few lines per hierarchy. */
#define PROC_STAT_READ_MAX (4u * 1024u)
#define PROC_CGROUP_READ_MAX (64u * 1024u)
/* A sweep stops listing after this many PIDs (pid_max is at most 2^22). */
#define PROC_SCAN_PIDS_MAX (4u * 1024u * 1024u)

void proc_sample_done(ProcSample *s) {
        if (!s)
                return;
        free(s->exe);
        free(s->cmdline);
        free(s->cgroup);
        free(s->memory_cgroup);
        free(s->unit);
        *s = (ProcSample) {};
}

/* What a walk needs to read a process through pagemap instead of smaps_rollup. */
typedef struct DeriveContext {
        const ProcRoot *root;
        const PagemapOptions *pagemap;  /* NULL: mode off */
        ProcScanBuffers *bufs;
} DeriveContext;

/* The stall budget (pagemap-rollup.h): reads maps and, when one of its mappings could hold the
 * mmap lock for longer than the budget, derives s->rollup from pagemap; the same scan is the
 * process's pagemap read in modes exclusivity and full. Returns 0 when derived, 1 when
 * smaps_rollup should be read (no mapping that large, or derived reads are unavailable here),
 * or a negative errno of maps or pagemap. */
static int sample_derive(int pid_dirfd, const DeriveContext *d, ProcSample *s) {
        ProcScanBuffers *bufs = d->bufs;
        PagemapRollup *rollup = &bufs->rollup;
        uint64_t page_size, largest = 0;
        PagemapOptions o;
        int r;

        r = maps_read(pid_dirfd, &bufs->text, &bufs->vmas);
        if (r < 0)
                return r;
        bufs->vmas_current = true;
        page_size = rollup->page_size ? rollup->page_size : 4096;
        for (size_t i = 0; i < bufs->vmas.n; i++)
                if (bufs->vmas.vmas[i].class != VMA_CLASS_HUGETLB)
                        largest = MAX(largest, (bufs->vmas.vmas[i].end -
                                                bufs->vmas.vmas[i].start) / page_size);
        if (!pagemap_rollup_wanted(rollup, s->signal.rss_pages, largest))
                return 1;

        /* The whole address space, whatever the sweep's cap and deadline: a part would give
         * wrong figures. */
        o = d->pagemap ? *d->pagemap : (PagemapOptions) {};
        o.page_size = page_size;
        o.max_scan_bytes = 0;
        o.deadline_usec = 0;
        o.visit = pagemap_rollup_visit;
        o.visit_userdata = rollup;

        pagemap_rollup_begin(rollup, d->root);
        r = proc_sample_read_pagemap(pid_dirfd, &o, bufs, s);   /* over the maps just read */
        if (r >= 0) {
                r = pagemap_rollup_end(rollup, &s->rollup);
                if (r < 0 && o.pfns)
                        o.pfns->n = s->pfn_offset;
        }
        if (r < 0) {
                s->has_pagemap = false;
                /* No PFNs or no kpage files: smaps_rollup, for this one and all after it. */
                return rollup->unavailable < 0 ? 1 : r;
        }

        s->derived = true;
        /* Mode off records no pagemap counts. */
        if (!d->pagemap)
                s->has_pagemap = false;
        return 0;
}

static int stat_read(int dirfd, const char *path, ReadBuf *buf, ProcStat *ret) {
        int r;

        r = read_file_at(dirfd, path, PROC_STAT_READ_MAX, buf);
        if (r < 0)
                return r;
        /* A process that exited after its directory was opened reads as empty. */
        if (buf->size == 0)
                return -ESRCH;
        return proc_stat_parse(buf->data, buf->size, ret);
}

/* Opens the PID's directory (O_PATH) into *pid_dirfd after its stat was read by path: the PID
 * may have been reused in between, which the start time in the directory's own stat shows
 * (-ESRCH, as vanished). The fresher signal replaces *signal. */
static int sample_open_dir(int proc_fd, pid_t pid, uint64_t start_time_ticks, ReadBuf *buf,
                           int *pid_dirfd, ProcSignal *signal) {
        char name[16];
        ProcStat again;
        int r;

        (void) snprintf(name, sizeof name, "%d", (int) pid);
        *pid_dirfd = openat(proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (*pid_dirfd < 0)
                return -errno;
        r = stat_read(*pid_dirfd, "stat", buf, &again);
        if (r < 0)
                return r;
        if (again.start_time_ticks != start_time_ticks)
                return -ESRCH;
        *signal = again.signal;
        return 0;
}

/* proc_sample_read(), asking reuse (when not NULL) after stat, and reading through pagemap
 * what the stall budget (d, when not NULL) says to. When *pid_dirfd is not open, stat is read
 * by path under proc_fd first, and the directory is opened (into *pid_dirfd, the caller's to
 * close) only when the process is read further: a reused process costs one open. */
static int sample_read(int proc_fd, pid_t pid, int *pid_dirfd, ReadBuf *buf,
                       ProcReuseFunc reuse, void *userdata, const DeriveContext *d,
                       ProcSample *ret) {
        _cleanup_(proc_sample_done) ProcSample s = { .pid = pid };
        ProcStat st;
        int r;

        if (*pid_dirfd >= 0)
                r = stat_read(*pid_dirfd, "stat", buf, &st);
        else {
                char path[32];

                (void) snprintf(path, sizeof path, "%d/stat", (int) pid);
                r = stat_read(proc_fd, path, buf, &st);
        }
        if (r < 0)
                return r;
        if (st.flags & PF_KTHREAD)
                return 1;
        /* A zombie has released its memory map; its smaps_rollup reads as empty on older
         * kernels and fails with ESRCH on current ones, which is not "vanished". */
        if (st.state == 'Z' || st.state == 'X')
                return -ENODATA;
        s.start_time_ticks = st.start_time_ticks;
        s.signal = st.signal;
        memcpy(s.comm, st.comm, sizeof s.comm);

        if (reuse) {
                r = reuse(&s, userdata);
                if (r < 0)
                        return r;
                if (r > 0) {
                        *ret = s;
                        s = (ProcSample) {};
                        return 0;
                }
        }
        if (*pid_dirfd < 0) {
                r = sample_open_dir(proc_fd, pid, s.start_time_ticks, buf, pid_dirfd, &s.signal);
                if (r < 0)
                        return r;
        }
        int dirfd = *pid_dirfd;

        r = 1;
        if (d && pagemap_rollup_wanted(&d->bufs->rollup, s.signal.rss_pages, UINT64_MAX)) {
                r = sample_derive(dirfd, d, &s);
                if (r < 0)
                        return r;
        }
        if (r > 0) {
                r = smaps_rollup_read(dirfd, buf, &s.rollup);
                if (r < 0)
                        return r;
        }

        /* One byte more than kept, so that proc_cmdline_parse() sees the truncation. */
        r = read_file_prefix_at(dirfd, "cmdline", PROC_CMDLINE_MAX + 1, buf);
        if (r < 0)
                return r;
        r = proc_cmdline_parse(buf->data, buf->size, &s.cmdline);
        if (r < 0)
                return r;

        /* exe is missing for processes without an executable and hidden by ptrace checks
         * (root without CAP_SYS_PTRACE, LSMs): the sample is still useful without it. */
        r = readlink_at_malloc(dirfd, "exe", &s.exe);
        if (r < 0 && r != -ENOENT && r != -EACCES && r != -EPERM)
                return r;
        /* After a package upgrade the running binary reads "/usr/bin/x (deleted)": it is still
         * the same program for matching across the kernel change. */
        if (s.exe)
                exe_strip_deleted(s.exe);

        /* cgroup is absent on kernels without CONFIG_CGROUPS and may be denied; a process that
         * vanished meanwhile is still reported as such. */
        r = read_file_at(dirfd, "cgroup", PROC_CGROUP_READ_MAX, buf);
        if (r == -ESRCH || r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = proc_cgroup_parse(buf->data, buf->size, &s.cgroup);
                if (r < 0 && r != -ENODATA)
                        return r;
                r = proc_cgroup_memory_parse(buf->data, buf->size, &s.memory_cgroup);
                if (r < 0 && r != -ENODATA)
                        return r;
                if (s.cgroup) {
                        r = cgroup_path_get_unit(s.cgroup, &s.unit);
                        if (r < 0)
                                return r;
                }
        }

        *ret = s;
        s = (ProcSample) {};
        return 0;
}

int proc_sample_read(int pid_dirfd, pid_t pid, ReadBuf *buf, ProcSample *ret) {
        return sample_read(-EBADF, pid, &pid_dirfd, buf, NULL, NULL, NULL, ret);
}

static int pid_compare(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return (x > y) - (x < y);
}

typedef struct PidList {
        pid_t *pids;
        size_t n, allocated;
} PidList;

/* dir_foreach() callback: keeps the numeric entries, up to PROC_SCAN_PIDS_MAX. */
static int pid_list_add(const struct dirent *de, void *userdata) {
        PidList *l = userdata;
        uint32_t pid;
        int r;

        if (safe_atou32(de->d_name, &pid) < 0 || pid == 0 || pid > INT32_MAX ||
            l->n >= PROC_SCAN_PIDS_MAX)
                return 0;
        r = GREEDY_REALLOC(l->pids, l->allocated, l->n + 1);
        if (r < 0)
                return r;
        l->pids[l->n++] = (pid_t) pid;
        return 0;
}

/* Lists the numeric entries of the proc root, sorted ascending. *ret is owned by the caller. */
static int proc_list_pids(int proc_fd, pid_t **ret, size_t *ret_n) {
        PidList l = {};
        int r;

        r = dir_foreach(proc_fd, ".", pid_list_add, &l);
        if (r < 0) {
                free(l.pids);
                return r;
        }
        if (l.n > 0)
                qsort(l.pids, l.n, sizeof *l.pids, pid_compare);
        *ret = l.pids;
        *ret_n = l.n;
        return 0;
}

void proc_scan_buffers_done(ProcScanBuffers *b) {
        if (!b)
                return;
        read_buf_done(&b->text);
        read_buf_done(&b->binary);
        vma_list_done(&b->vmas);
        pagemap_rollup_done(&b->rollup);
}

int proc_sample_read_pagemap(int pid_dirfd, const PagemapOptions *o, ProcScanBuffers *bufs,
                             ProcSample *s) {
        PfnList *pfns = o ? o->pfns : NULL;
        size_t before = pfns ? pfns->n : 0;
        PagemapCounts counts;
        int r;

        r = bufs->vmas_current ? 0 : maps_read(pid_dirfd, &bufs->text, &bufs->vmas);
        bufs->vmas_current = false;
        if (r >= 0)
                r = pagemap_scan(pid_dirfd, &bufs->vmas, o, &bufs->binary, &counts);
        if (r < 0) {
                /* PFNs of a half-read process would be counted without an owner. */
                if (pfns)
                        pfns->n = before;
                return r;
        }

        s->has_pagemap = true;
        s->pagemap = counts;
        s->pfn_offset = before;
        s->pfn_count = pfns ? pfns->n - before : 0;
        return 0;
}

int proc_scan(const ProcRoot *root, ProcScanBuffers *bufs, const PagemapOptions *pagemap,
              ProcReuseFunc reuse, ProcScanFunc func, void *userdata,
              ProcScanStats *ret_stats) {
        _cleanup_free_ pid_t *pids = NULL;
        ProcScanStats stats = {};
        DeriveContext derive = { .root = root, .pagemap = pagemap, .bufs = bufs };
        size_t n = 0;
        int r;

        r = proc_list_pids(root->proc_fd, &pids, &n);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(proc_sample_done) ProcSample s = {};
                _cleanup_close_ int fd = -EBADF;
                char name[16];

                bufs->vmas_current = false;
                /* With reuse, stat is read by path first: most processes stop there. */
                r = 0;
                if (!reuse) {
                        (void) snprintf(name, sizeof name, "%d", (int) pids[i]);
                        fd = openat(root->proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        if (fd < 0)
                                r = -errno;
                }
                if (r == 0)
                        r = sample_read(root->proc_fd, pids[i], &fd, &bufs->text, reuse,
                                        userdata, &derive, &s);
                if (r == 0 && s.derived)
                        stats.derived++;
                if (r == 0 && s.reused_sweep_id > 0)
                        stats.reused++;
                else if (r == 0 && pagemap && !s.has_pagemap) {
                        r = proc_sample_read_pagemap(fd, pagemap, bufs, &s);
                        switch (r) {
                        case 0:
                                if (s.pagemap.truncated)
                                        stats.pagemap_truncated++;
                                break;
                        case -ENOENT:
                        case -ESRCH:
                                /* Gone, or a tree (an older kernel, a fixture) without maps or
                                 * pagemap: the process's own stat tells which. */
                                if (faccessat(fd, "stat", F_OK, 0) < 0)
                                        break;
                                stats.pagemap_failed++;
                                r = 0;
                                break;
                        case -ENOMEM:
                                break;
                        default:
                                /* -EACCES/-EPERM (ptrace checks, LSMs), -EBADMSG/-ERANGE/-E2BIG
                                 * (maps), -EIO: the rest of the sample is still good. */
                                stats.pagemap_failed++;
                                r = 0;
                        }
                }
                switch (r) {
                case 0:
                        stats.sampled++;
                        r = func(&s, userdata);
                        if (r < 0)
                                return r;
                        break;
                case 1:
                        stats.kernel_threads++;
                        break;
                case -ENODATA:
                        stats.no_mm++;
                        break;
                case -ENOENT:
                case -ESRCH:
                case -ENOTDIR:
                        stats.vanished++;
                        break;
                case -EACCES:
                case -EPERM:
                        stats.denied++;
                        break;
                case -ENOMEM:
                        return r;
                default:
                        /* -EBADMSG/-ERANGE/-E2BIG, and any other read error of a single
                         * process: it is not sampled, the sweep goes on. */
                        stats.malformed++;
                }
        }

        *ret_stats = stats;
        return 0;
}
