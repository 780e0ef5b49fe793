/* Tests for collectors/pagemap and the pagemap part of collectors/proc-pid: pagemap_account on
 * hand-built entries, pagemap_scan over a PID directory generated at test time (maps plus a
 * sparse pagemap file written from the text description below), the scan cap, the deadline,
 * proc_scan with pagemap options over a generated proc root, and the live /proc/self. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "kernel-id.h"
#include "pagemap.h"
#include "parse-util.h"
#include "proc-scan.h"
#include "test.h"

#define P 4096ULL

static void test_account(void) {
        const uint64_t e[] = {
                PM_PRESENT | 100,                               /* present */
                PM_PRESENT | PM_MMAP_EXCLUSIVE | 101,           /* present, exclusive */
                PM_PRESENT | PM_FILE | PM_SOFT_DIRTY | 102,     /* present, other bits */
                PM_PRESENT,                                     /* present, PFN hidden */
                PM_SWAP | (7ULL << 5) | 1,                      /* swapped */
                PM_SWAP | PM_UFFD_WP | (8ULL << 5) | 1,         /* swapped, uffd-wp */
                PM_SWAP | PM_GUARD_REGION,                      /* guard region: not swap */
                PM_GUARD_REGION,                                /* (never seen alone) */
                0,                                              /* not populated */
                PM_SOFT_DIRTY,                                  /* VM_SOFTDIRTY, empty */
                PM_MMAP_EXCLUSIVE,                              /* not present: ignored */
                PM_PRESENT | PM_PFN_MASK,                       /* the largest PFN */
        };
        PagemapCounts c = {};
        PfnList pfns = {};

        ASSERT_INT_EQ(pagemap_account(e, ELEMENTSOF(e), VMA_CLASS_ANON, &c, &pfns), 0);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 5);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].exclusive_pages, 1);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].swapped_pages, 2);
        ASSERT_U64_EQ(c.scanned_pages, 12);
        ASSERT_FALSE(c.truncated);
        for (int k = VMA_CLASS_FILE; k < _VMA_CLASS_MAX; k++)
                ASSERT_U64_EQ(c.class[k].present_pages + c.class[k].swapped_pages, 0);
        ASSERT_INT_EQ(pfns.n, 5);
        ASSERT_U64_EQ(pfns.pfns[0], 100);
        ASSERT_U64_EQ(pfns.pfns[1], 101);
        ASSERT_U64_EQ(pfns.pfns[2], 102);
        ASSERT_U64_EQ(pfns.pfns[3], 0);
        ASSERT_U64_EQ(pfns.pfns[4], (1ULL << 55) - 1);

        /* Counts add up over calls; hugetlb is counted but its PFNs are not collected. */
        ASSERT_INT_EQ(pagemap_account(e, 2, VMA_CLASS_HUGETLB, &c, &pfns), 0);
        ASSERT_U64_EQ(c.class[VMA_CLASS_HUGETLB].present_pages, 2);
        ASSERT_U64_EQ(c.class[VMA_CLASS_HUGETLB].exclusive_pages, 1);
        ASSERT_U64_EQ(c.scanned_pages, 14);
        ASSERT_INT_EQ(pfns.n, 5);

        /* Without a list: counts only. */
        ASSERT_INT_EQ(pagemap_account(e, 3, VMA_CLASS_SHMEM, &c, NULL), 0);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHMEM].present_pages, 3);
        ASSERT_INT_EQ(pfns.n, 5);
        pfn_list_done(&pfns);
        ASSERT_NULL(pfns.pfns);
}

/* ---- a generated PID directory ------------------------------------------------------------ */

static int write_at(int dirfd, const char *name, const char *content) {
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(content);

        fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        if (write(fd, content, len) != (ssize_t) len)
                return -EIO;
        return 0;
}

/* Entry kinds of the description. */
static uint64_t entry_of(const char *kind, uint64_t pfn) {
        if (strcmp(kind, "present") == 0)
                return PM_PRESENT | pfn;
        if (strcmp(kind, "excl") == 0)
                return PM_PRESENT | PM_MMAP_EXCLUSIVE | pfn;
        if (strcmp(kind, "file") == 0)
                return PM_PRESENT | PM_FILE | pfn;
        if (strcmp(kind, "excl-file") == 0)
                return PM_PRESENT | PM_MMAP_EXCLUSIVE | PM_FILE | pfn;
        if (strcmp(kind, "swap") == 0)
                return PM_SWAP | (pfn << 5) | 1;
        if (strcmp(kind, "guard") == 0)
                return PM_SWAP | PM_GUARD_REGION;
        return UINT64_MAX;
}

/* Writes a sparse PID/pagemap from lines "FIRST_PAGE COUNT KIND PFN": COUNT entries from
 * virtual page FIRST_PAGE (offset page × 8), the PFN growing by one per entry. */
static int write_pagemap(int dirfd, const char *desc) {
        _cleanup_free_ char *copy = strdup(desc);
        _cleanup_close_ int fd = -EBADF;
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        fd = openat(dirfd, "pagemap", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                return -errno;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *tok[4], *s2 = NULL;
                uint64_t first, count, pfn;
                size_t k = 0;

                for (char *t = strtok_r(line, " ", &s2); t && k < 4; t = strtok_r(NULL, " ", &s2))
                        tok[k++] = t;
                if (k != 4 || safe_atou64(tok[0], &first) < 0 || safe_atou64(tok[1], &count) < 0 ||
                    safe_atou64(tok[3], &pfn) < 0 || entry_of(tok[2], 0) == UINT64_MAX)
                        return -EINVAL;
                for (uint64_t i = 0; i < count; i++) {
                        uint64_t e = entry_of(tok[2], pfn ? pfn + i : 0);
                        if (pwrite(fd, &e, sizeof e, (off_t) ((first + i) * 8)) != sizeof e)
                                return -EIO;
                }
        }
        return 0;
}

/*
 * The generated process. VMAs (4 KiB pages; page numbers in decimal):
 *   A  16..31      anon [heap]                 16 pages
 *   B  32..39      private file                 8
 *   C  48..51      shared memfd (shmem)         4
 *   D  512..1023   /anon_hugepage (hugetlb)   512
 *   E  1024..1027  shared file                  4
 *   G  1048576..1118575  anon             70000 pages: two preads (64Ki + rest)
 *   F  2097152..2097155  anon, past the end of the pagemap file (EOF)
 *   [vsyscall] is in maps and must not be read.
 */
static const char maps_text[] =
        "10000-20000 rw-p 00000000 00:00 0                          [heap]\n"
        "20000-28000 r--p 00000000 fe:00 42                         /usr/lib/libx.so\n"
        "30000-34000 rw-s 00000000 00:01 7                          /memfd:x (deleted)\n"
        "200000-400000 rw-p 00000000 00:10 9                        /anon_hugepage (deleted)\n"
        "400000-404000 rw-s 00000000 fe:00 50                       /srv/data file\n"
        "100000000-111170000 rw-p 00000000 00:00 0 \n"
        "200000000-200004000 rw-p 00000000 00:00 0 \n"
        "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

static const char pagemap_text[] =
        "16 4 present 1000\n"           /* A: 4 present */
        "20 2 excl 2000\n"              /* A: 2 present + exclusive */
        "22 3 swap 1\n"                 /* A: 3 swapped */
        "25 1 guard 0\n"                /* A: guard region, neither */
        "26 1 present 0\n"              /* A: present, PFN hidden */
        "32 8 file 3000\n"              /* B: 8 present */
        "48 2 excl-file 4000\n"         /* C: 2 present + exclusive */
        "50 1 swap 9\n"                 /* C: 1 swapped */
        "512 512 excl 262144\n"         /* D: 512 present + exclusive, PFNs not collected */
        "1024 4 file 5000\n"            /* E: 4 present */
        "1048576 1 present 6000\n"      /* G: first pread */
        "1114122 3 present 6001\n";     /* G: second pread (65546 pages in), then EOF */

static int make_pid_dir(const char *root, const char *name, const char *maps, const char *pm,
                        int *ret_fd) {
        _cleanup_close_ int rootfd = -EBADF, fd = -EBADF;
        int r;

        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (rootfd < 0)
                return -errno;
        if (mkdirat(rootfd, name, 0755) < 0)
                return -errno;
        fd = openat(rootfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (maps) {
                r = write_at(fd, "maps", maps);
                if (r < 0)
                        return r;
        }
        if (pm) {
                /* O_PATH fds cannot be written through: reopen the directory. */
                _cleanup_close_ int wfd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (wfd < 0)
                        return -errno;
                r = write_pagemap(wfd, pm);
                if (r < 0)
                        return r;
        }
        if (ret_fd)
                *ret_fd = TAKE_FD(fd);
        return 0;
}

static void test_scan_fixture(const char *root) {
        _cleanup_(read_buf_done) ReadBuf text = READ_BUF_INIT, bin = READ_BUF_INIT;
        _cleanup_(vma_list_done) VmaList vmas = {};
        _cleanup_(pfn_list_done) PfnList pfns = {};
        _cleanup_close_ int fd = -EBADF;
        PagemapOptions o = { .pfns = &pfns };
        PagemapCounts c;

        ASSERT_INT_EQ(make_pid_dir(root, "100", maps_text, pagemap_text, &fd), 0);
        ASSERT_INT_EQ(maps_read(fd, &text, &vmas), 0);
        ASSERT_INT_EQ(vmas.n, 7);

        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_FALSE(c.truncated);
        /* A: 4 + 2 + 1 present, 2 exclusive, 3 swapped (not the guard); G: 1 + 3 present. */
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 11);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].exclusive_pages, 2);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].swapped_pages, 3);
        ASSERT_U64_EQ(c.class[VMA_CLASS_FILE].present_pages, 8);
        ASSERT_U64_EQ(c.class[VMA_CLASS_FILE].exclusive_pages, 0);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHMEM].present_pages, 2);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHMEM].exclusive_pages, 2);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHMEM].swapped_pages, 1);
        ASSERT_U64_EQ(c.class[VMA_CLASS_HUGETLB].present_pages, 512);
        ASSERT_U64_EQ(c.class[VMA_CLASS_HUGETLB].exclusive_pages, 512);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHARED_FILE].present_pages, 4);
        /* A 16 + B 8 + C 4 + D 512 + E 4 = 544; G: 65536 in the first pread, then the 13
         * entries up to the end of the file (pages 1114112..1114124); F: EOF, nothing. */
        ASSERT_U64_EQ(c.scanned_pages, 544 + 65536 + 13);
        /* PFNs in address order: A 1000..1003, 2000, 2001, 0; B 3000..3007; C 4000, 4001;
         * E 5000..5003; G 6000..6003. Not D (hugetlb). */
        ASSERT_INT_EQ(pfns.n, 7 + 8 + 2 + 4 + 4);
        if (pfns.n == 25) {
                ASSERT_U64_EQ(pfns.pfns[0], 1000);
                ASSERT_U64_EQ(pfns.pfns[4], 2000);
                ASSERT_U64_EQ(pfns.pfns[6], 0);
                ASSERT_U64_EQ(pfns.pfns[7], 3000);
                ASSERT_U64_EQ(pfns.pfns[15], 4000);
                ASSERT_U64_EQ(pfns.pfns[17], 5000);
                ASSERT_U64_EQ(pfns.pfns[21], 6000);
                ASSERT_U64_EQ(pfns.pfns[24], 6003);
        }

        /* Counts only, reusing the buffers. */
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, NULL, &bin, &c), 0);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 11);
        ASSERT_INT_EQ(pfns.n, 25);

        /* The cap: 20 pages of address space = all of A and the first 4 pages of B. */
        pfns.n = 0;
        o.max_scan_bytes = 20 * P;
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_TRUE(c.truncated);
        ASSERT_U64_EQ(c.scanned_pages, 20);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 7);
        ASSERT_U64_EQ(c.class[VMA_CLASS_FILE].present_pages, 4);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHMEM].present_pages, 0);
        ASSERT_INT_EQ(pfns.n, 7 + 4);

        /* A cap of the whole mapped address space is not a truncation: A..E 544 + G 70000 +
         * F 4 = 70548 pages. */
        o.max_scan_bytes = 70548 * P;
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_FALSE(c.truncated);
        ASSERT_U64_EQ(c.scanned_pages, 544 + 65536 + 13);
        /* Pages past EOF were not scanned and do not use up the cap: one page less than the
         * whole is not a truncation either. */
        o.max_scan_bytes = 70547 * P;
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_FALSE(c.truncated);
        /* Cut inside G's second pread: 5 of its entries (pages 1114112..1114116), which do
         * not reach the 3 present ones at 1114122. Anon: A's 7 and G's first. */
        o.max_scan_bytes = (544 + 65536 + 5) * P;
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_TRUE(c.truncated);
        ASSERT_U64_EQ(c.scanned_pages, 544 + 65536 + 5);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 8);
        ASSERT_U64_EQ(c.class[VMA_CLASS_SHARED_FILE].present_pages, 4);

        /* A deadline in the past: nothing read. */
        o = (PagemapOptions) { .deadline_usec = 1 };
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_TRUE(c.truncated);
        ASSERT_U64_EQ(c.scanned_pages, 0);

        /* A stop asked: nothing read either; none asked: everything. */
        atomic_int stop = 15;   /* SIGTERM */
        o = (PagemapOptions) { .stop = &stop };
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_TRUE(c.truncated);
        ASSERT_U64_EQ(c.scanned_pages, 0);
        atomic_store(&stop, 0);
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_FALSE(c.truncated);

        /* A larger page size moves every offset: with 8 KiB pages, A is pages 8..15 (file
         * offsets of pages 8..15 hold nothing) — all of it reads as not populated. */
        o = (PagemapOptions) { .page_size = 8192 };
        vmas.n = 1;
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, &o, &bin, &c), 0);
        ASSERT_U64_EQ(c.scanned_pages, 8);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 0);
}

static void test_scan_errors(const char *root) {
        _cleanup_(read_buf_done) ReadBuf bin = READ_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        VmaList vmas = {};
        PagemapCounts c;

        ASSERT_INT_EQ(make_pid_dir(root, "200", maps_text, NULL, &fd), 0);
        memset(&c, 0xAA, sizeof c);
        ASSERT_INT_EQ(pagemap_scan(fd, &vmas, NULL, &bin, &c), -ENOENT);
        ASSERT_U64_EQ(c.scanned_pages, 0xAAAAAAAAAAAAAAAAULL);
}

/* ---- proc_scan with pagemap over a generated proc root ----------------------------------- */

static int copy_fixture(int dirfd, const char *name, const char *from) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        char path[512];
        int r;

        (void) snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, from);
        r = read_file_at(AT_FDCWD, path, 1 << 20, &b);
        if (r < 0)
                return r;
        return write_at(dirfd, name, b.data);
}

/* A process directory with 6119's stat, smaps_rollup, cmdline and cgroup. */
static int make_process(const char *root, const char *pid, const char *maps, const char *pm) {
        _cleanup_close_ int fd = -EBADF;
        char path[512];
        int r;

        r = make_pid_dir(root, pid, maps, pm, NULL);
        if (r < 0)
                return r;
        (void) snprintf(path, sizeof path, "%s/%s", root, pid);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = copy_fixture(fd, "stat", "linux-6.18-page/proc/6119/stat");
        if (r >= 0)
                r = copy_fixture(fd, "smaps_rollup", "linux-6.18-page/proc/6119/smaps_rollup");
        if (r >= 0)
                r = copy_fixture(fd, "cmdline", "linux-6.18-page/proc/6119/cmdline");
        if (r >= 0)
                r = copy_fixture(fd, "cgroup", "linux-6.18-page/proc/6119/cgroup");
        return r;
}

typedef struct Seen {
        unsigned n;
        int pid[8];
        bool has_pagemap[8];
        uint64_t anon_present[8];
        size_t pfn_offset[8], pfn_count[8];
} Seen;

static int collect(ProcSample *s, void *userdata) {
        Seen *seen = userdata;

        if (seen->n < 8) {
                seen->pid[seen->n] = s->pid;
                seen->has_pagemap[seen->n] = s->has_pagemap;
                seen->anon_present[seen->n] = s->pagemap.class[VMA_CLASS_ANON].present_pages;
                seen->pfn_offset[seen->n] = s->pfn_offset;
                seen->pfn_count[seen->n] = s->pfn_count;
        }
        seen->n++;
        return 0;
}

static void test_proc_scan(const char *tmp) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        _cleanup_(pfn_list_done) PfnList pfns = {};
        PagemapOptions o = { .pfns = &pfns };
        char dir[512];
        ProcScanStats st;
        Seen seen = {};

        (void) snprintf(dir, sizeof dir, "%s/proc", tmp);
        ASSERT_INT_EQ(mkdir(dir, 0755), 0);
        /* 10: good; 11: maps malformed (pagemap_failed, still sampled); 12: no pagemap file while
         * its stat is there (an older kernel, a fixture: pagemap_failed, still sampled); 13: cut
         * by the cap (truncated); 14: good, counts only A's 7 pages. */
        ASSERT_INT_EQ(make_process(dir, "10", maps_text, pagemap_text), 0);
        ASSERT_INT_EQ(make_process(dir, "11", "garbage\n", pagemap_text), 0);
        ASSERT_INT_EQ(make_process(dir, "12", maps_text, NULL), 0);
        ASSERT_INT_EQ(make_process(dir, "13", maps_text, pagemap_text), 0);
        ASSERT_INT_EQ(make_process(dir, "14",
                                   "10000-20000 rw-p 00000000 00:00 0 [heap]\n", pagemap_text),
                      0);
        ASSERT_INT_EQ(proc_root_open(&root, dir, NULL, NULL), 0);

        /* Without pagemap options, no pagemap is read: all five are sampled. */
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, NULL, collect, &seen, &st), 0);
        ASSERT_INT_EQ(st.sampled, 5);
        ASSERT_INT_EQ(seen.n, 5);
        ASSERT_FALSE(seen.has_pagemap[0]);

        /* The cap of 20 pages cuts 10 and 13 (same VMAs, 70548 pages), not 14 (16 pages). */
        seen = (Seen) {};
        o.max_scan_bytes = 20 * P;
        ASSERT_INT_EQ(proc_scan(&root, &bufs, &o, NULL, collect, &seen, &st), 0);
        ASSERT_INT_EQ(st.sampled, 5);
        ASSERT_INT_EQ(st.vanished, 0);
        ASSERT_INT_EQ(st.pagemap_failed, 2);
        ASSERT_INT_EQ(st.pagemap_truncated, 2);
        ASSERT_INT_EQ(seen.n, 5);
        ASSERT_INT_EQ(seen.pid[0], 10);
        ASSERT_TRUE(seen.has_pagemap[0]);
        ASSERT_U64_EQ(seen.anon_present[0], 7);
        ASSERT_INT_EQ(seen.pfn_offset[0], 0);
        ASSERT_INT_EQ(seen.pfn_count[0], 11);           /* A 7 + B's first 4 */
        ASSERT_INT_EQ(seen.pid[1], 11);
        ASSERT_FALSE(seen.has_pagemap[1]);
        ASSERT_INT_EQ(seen.pfn_count[1], 0);
        ASSERT_INT_EQ(seen.pid[2], 12);
        ASSERT_FALSE(seen.has_pagemap[2]);
        ASSERT_INT_EQ(seen.pfn_count[2], 0);
        ASSERT_INT_EQ(seen.pid[3], 13);
        ASSERT_INT_EQ(seen.pfn_offset[3], 11);
        ASSERT_INT_EQ(seen.pfn_count[3], 11);
        ASSERT_INT_EQ(seen.pid[4], 14);
        ASSERT_INT_EQ(seen.pfn_offset[4], 22);
        ASSERT_INT_EQ(seen.pfn_count[4], 7);
        ASSERT_INT_EQ(pfns.n, 29);
        ASSERT_U64_EQ(pfns.pfns[22], 1000);
}

/* ---- live ---------------------------------------------------------------------------------- */

/* Maps `pages` private anonymous small pages (no THP) and writes the first `written` of them
 * with distinct bytes; *ret_vma is the mapping as one anonymous VMA. NULL when mmap fails. */
static char *map_written(size_t pages, size_t written, size_t page_size, Vma *ret_vma) {
        char *m = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        ASSERT_TRUE(m != MAP_FAILED);
        if (m == MAP_FAILED)
                return NULL;
        (void) madvise(m, pages * page_size, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < written; i++)
                m[i * page_size] = (char) (i + 1);
        *ret_vma = (Vma) { .start = (uintptr_t) m, .end = (uintptr_t) m + pages * page_size,
                           .class = VMA_CLASS_ANON };
        return m;
}

static void test_live(void) {
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        _cleanup_(pfn_list_done) PfnList pfns = {};
        _cleanup_close_ int fd = -EBADF;
        const size_t pages = 64, written = 40;
        PagemapOptions o = { .pfns = &pfns, .page_size = (uint64_t) sysconf(_SC_PAGESIZE) };
        ProcSample s = {};
        VmaList one = {};
        PagemapCounts c;
        Vma v;
        char *m;

        fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                test_skip("/proc/self is not available");
        m = map_written(pages, written, o.page_size, &v);
        if (!m)
                return;

        ASSERT_INT_EQ(proc_sample_read_pagemap(fd, &o, &bufs, &s), 0);
        ASSERT_TRUE(s.has_pagemap);
        ASSERT_FALSE(s.pagemap.truncated);
        ASSERT_TRUE(s.pagemap.class[VMA_CLASS_ANON].present_pages >= written);
        ASSERT_TRUE(s.pagemap.class[VMA_CLASS_FILE].present_pages > 0);   /* this binary */
        ASSERT_INT_EQ(s.pfn_offset, 0);
        ASSERT_INT_EQ(s.pfn_count, pfns.n);

        /* Just the dedicated range: exactly the written pages are present (anon pages that
         * were never touched are not populated, and no THP with MADV_NOHUGEPAGE). */
        one = (VmaList) { .vmas = &v, .n = 1, .allocated = 1 };
        pfns.n = 0;
        ASSERT_INT_EQ(pagemap_scan(fd, &one, &o, &bufs.binary, &c), 0);
        ASSERT_U64_EQ(c.scanned_pages, pages);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, written);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].swapped_pages, 0);
        ASSERT_INT_EQ(pfns.n, written);
        (void) munmap(m, pages * o.page_size);
}

/* Exclusivity and PFNs: a private anonymous page written once is mapped by this process only
 * (PM_MMAP_EXCLUSIVE), and its PFN is visible to a reader with CAP_SYS_ADMIN. */
static void test_live_root(void) {
        _cleanup_(read_buf_done) ReadBuf bin = READ_BUF_INIT;
        _cleanup_(pfn_list_done) PfnList pfns = {};
        _cleanup_close_ int fd = -EBADF;
        const size_t pages = 16, written = 10;
        PagemapOptions o = { .pfns = &pfns, .page_size = (uint64_t) sysconf(_SC_PAGESIZE) };
        VmaList one;
        PagemapCounts c;
        Vma v;
        char *m;

        test_require_root("reading PFNs (CAP_SYS_ADMIN)");
        fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                test_skip("/proc/self is not available");
        m = map_written(pages, written, o.page_size, &v);
        if (!m)
                return;
        one = (VmaList) { .vmas = &v, .n = 1, .allocated = 1 };
        ASSERT_INT_EQ(pagemap_scan(fd, &one, &o, &bin, &c), 0);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, written);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].exclusive_pages, written);
        ASSERT_INT_EQ(pfns.n, written);
        for (size_t i = 0; i < pfns.n; i++)
                ASSERT_TRUE(pfns.pfns[i] != 0);
        (void) munmap(m, pages * o.page_size);
}

/* A large sparse mapping is read only where it is populated (PAGEMAP_SCAN, Linux 6.7+): a cap
 * far below its size does not cut it, and only the touched pages are read. */
static void test_live_sparse(void) {
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        _cleanup_close_ int fd = -EBADF;
        const uint64_t page_size = (uint64_t) sysconf(_SC_PAGESIZE);
        const size_t pages = 65536, touched = 10;       /* 256 MiB, 10 pages written */
        PagemapOptions o = { .page_size = page_size, .max_scan_bytes = 1ULL << 20 };
        VmaList one = {};
        PagemapCounts c;
        unsigned major, minor;
        struct utsname u;
        Vma v;
        char *m;

        fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || uname(&u) < 0 || kernel_release_parse(u.release, &major, &minor) < 0)
                test_skip("/proc/self or uname is not available");
        if (major < 6 || (major == 6 && minor < 7))
                test_skip("the kernel has no PAGEMAP_SCAN (Linux 6.7)");
        m = mmap(NULL, pages * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
        ASSERT_TRUE(m != MAP_FAILED);
        if (m == MAP_FAILED)
                return;
        (void) madvise(m, pages * page_size, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < touched; i++)
                m[i * (pages / touched) * page_size] = 1;

        v = (Vma) { .start = (uintptr_t) m, .end = (uintptr_t) m + pages * page_size,
                    .class = VMA_CLASS_ANON };
        one = (VmaList) { .vmas = &v, .n = 1, .allocated = 1 };
        ASSERT_INT_EQ(pagemap_scan(fd, &one, &o, &bufs.binary, &c), 0);
        ASSERT_FALSE(c.truncated);                      /* 1 MiB cap, 256 MiB mapping */
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, touched);
        ASSERT_U64_EQ(c.scanned_pages, touched);        /* nothing but the populated pages */

        /* A cap smaller than what is populated still cuts it. */
        o.max_scan_bytes = 4 * page_size;
        ASSERT_INT_EQ(pagemap_scan(fd, &one, &o, &bufs.binary, &c), 0);
        ASSERT_TRUE(c.truncated);
        ASSERT_U64_EQ(c.class[VMA_CLASS_ANON].present_pages, 4);

        (void) munmap(m, pages * page_size);
}

static void test_fixtures(void) {
        char *tmp = test_tmpdir_new("test-pagemap");

        test_account();
        test_scan_fixture(tmp);
        test_scan_errors(tmp);
        test_proc_scan(tmp);
        test_tmpdir_remove(tmp);
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
                { NULL, test_fixtures },
                { "live", test_live },
                { "root", test_live_root },
                { "sparse", test_live_sparse },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
