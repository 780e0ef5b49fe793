/* /proc/PID/pagemap over the ranges of /proc/PID/maps: one pread of up to 64Ki entries at a
 * time into the sweep's binary buffer, accounted per class of mapping, with the PFNs of
 * present pages collected for the reconstruction. Never faults pages in (pagemap only reads
 * page tables). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "macro.h"
#include "pagemap.h"
#include "time-util.h"

/* 64Ki entries = 512 KiB per pread: the kernel copies through a bounce buffer per 2 MiB of
 * virtual range anyway (pagemap_read()), so larger reads buy nothing and cost memory. */
#define PAGEMAP_CHUNK_ENTRIES (64u * 1024u)

/* PAGEMAP_SCAN (Linux 6.7, docs/kernel-semantics.md §3.3); Debian 12's headers predate it.
 * Used only to find the populated parts of large mappings, never with the write-protect flags
 * (those change page tables). */
struct pm_scan_region {
        uint64_t start, end, categories;
};

struct pm_scan_arg {
        uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
                category_mask, category_anyof_mask, return_mask;
};

#define PM_SCAN_IOCTL _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_PRESENT (1ULL << 3)
#define PM_SCAN_SWAPPED (1ULL << 4)
#define PM_SCAN_REGIONS 256
/* Mappings of at least this many pages are scanned for populated ranges first: reading
 * pagemap costs the same for a hole as for a page, and a sparse reservation (a sanitizer's
 * shadow, a runtime's heap arena) can span terabytes. */
#define PM_SCAN_MIN_PAGES 512u
/* PAGEMAP_SCAN walks its whole range under one hold of the mmap lock until its buffer fills,
 * and a fully populated range is one region that never fills it: one ioctl over a populated
 * 8 GiB mapping stalls the process's mmap for 100 ms. So each ioctl covers at most this many
 * pages after a window that found pages (32 MiB of 4 KiB pages: well under a millisecond of
 * walk), and the window grows eightfold over each empty one, so a sparse reservation of
 * terabytes still takes a few dozen ioctls. */
#define PM_SCAN_WINDOW_PAGES (8u * 1024u)
#define PM_SCAN_WINDOW_MAX_PAGES (1ULL << 36)
#define PAGEMAP_DEFAULT_PAGE_SIZE 4096u

void pfn_list_done(PfnList *l) {
        if (!l)
                return;
        free(l->pfns);
        *l = (PfnList) {};
}

static int pfn_list_reserve(PfnList *l, size_t extra) {
        void *p = l->pfns;
        int r;

        if (extra > SIZE_MAX - l->n)
                return -ENOMEM;
        r = greedy_realloc(&p, &l->allocated, l->n + extra, sizeof(uint64_t), 4096);
        if (r < 0)
                return r;
        l->pfns = p;
        return 0;
}

int pfn_list_append(PfnList *l, const uint64_t *pfns, size_t n) {
        int r = pfn_list_reserve(l, n);

        if (r < 0)
                return r;
        if (n > 0)
                memcpy(l->pfns + l->n, pfns, n * sizeof *pfns);
        l->n += n;
        return 0;
}

/*
 * The entry format is documented above pagemap_read() in fs/proc/task_mmu.c and in
 * Documentation/admin-guide/mm/pagemap.rst; docs/kernel-semantics.md §3.1. Swapped: PM_SWAP
 * is also set for guard regions (PM_GUARD_REGION), which are not memory; uffd-wp markers on
 * unpopulated pages and migration entries also read PM_SWAP and cannot be told apart from
 * swapped pages without PFN access, so they count as swapped (rare and short-lived).
 */
int pagemap_account(const uint64_t *entries, size_t n, VmaClass class, PagemapCounts *counts,
                    PfnList *pfns) {
        PagemapClassCounts *c;
        bool collect = pfns && class != VMA_CLASS_HUGETLB;
        uint64_t *out = NULL;
        int r;

        assert(class >= 0 && class < _VMA_CLASS_MAX);
        c = &counts->class[class];

        if (collect) {
                r = pfn_list_reserve(pfns, n);
                if (r < 0)
                        return r;
                out = pfns->pfns + pfns->n;
        }

        for (size_t i = 0; i < n; i++) {
                uint64_t e = entries[i];

                if (e & PM_PRESENT) {
                        c->present_pages++;
                        if (e & PM_MMAP_EXCLUSIVE)
                                c->exclusive_pages++;
                        if (out)
                                *out++ = e & PM_PFN_MASK;
                } else if ((e & (PM_SWAP | PM_GUARD_REGION)) == PM_SWAP)
                        c->swapped_pages++;
        }

        if (out)
                pfns->n = (size_t) (out - pfns->pfns);
        counts->scanned_pages += n;
        return 0;
}

static int pagemap_errno(int e) {
        switch (e) {
        case ENOENT:
        case ESRCH:
        case EACCES:
        case EPERM:
        case ENOMEM:
                return -e;
        default:
                return -EIO;
        }
}

/* State of one process's scan: the budget of entries left, the deadline and the stop. */
typedef struct PagemapReader {
        int fd;
        ReadBuf *buf;
        uint64_t budget;                /* entries that may still be read; UINT64_MAX = no cap */
        uint64_t deadline;
        const atomic_int *stop;
        PfnList *pfns;
        PagemapCounts *counts;
        PagemapVisitFunc visit;
        void *visit_userdata;
        bool no_scan_ioctl;             /* PAGEMAP_SCAN is not supported by this file */
} PagemapReader;

/* Whether the scan must end now: the deadline passed or a stop was asked. */
static bool pagemap_reader_out_of_time(const PagemapReader *rd) {
        return (rd->deadline > 0 && now_usec(CLOCK_MONOTONIC) >= rd->deadline) ||
               (rd->stop && atomic_load_explicit(rd->stop, memory_order_relaxed) != 0);
}

/* Accounts entries[0..n), the pages from first_page on, and shows them to the visitor. */
static int pagemap_reader_account(PagemapReader *rd, const uint64_t *entries, size_t n,
                                  uint64_t first_page, VmaClass class) {
        int r;

        r = pagemap_account(entries, n, class, rd->counts, rd->pfns);
        if (r < 0)
                return r;
        if (rd->visit)
                return rd->visit(entries, n, first_page, class, rd->visit_userdata);
        return 0;
}

/* Reads and accounts the entries of pages [page, last). Returns 0, or a -errno. Sets
 * counts->truncated when the budget or the deadline runs out; returns 0 at EOF. */
static int pagemap_read_range(PagemapReader *rd, uint64_t page, uint64_t last, VmaClass class) {
        int r;

        while (page < last) {
                size_t want;
                ssize_t n;

                if (rd->budget == 0 || pagemap_reader_out_of_time(rd)) {
                        rd->counts->truncated = true;
                        return 0;
                }
                want = (size_t) MIN(MIN(last - page, (uint64_t) PAGEMAP_CHUNK_ENTRIES),
                                    rd->budget);
                n = pread(rd->fd, rd->buf->data, want * sizeof(uint64_t),
                          (off_t) (page * sizeof(uint64_t)));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return pagemap_errno(errno);
                }
                /* EOF: past the end of the address space, or the process exited
                 * (pagemap_read() returns 0 once the mm is gone). */
                if ((size_t) n < sizeof(uint64_t))
                        return 0;

                n /= (ssize_t) sizeof(uint64_t);
                r = pagemap_reader_account(rd, (const uint64_t *) (const void *) rd->buf->data,
                                           (size_t) n, page, class);
                if (r < 0)
                        return r;
                page += (uint64_t) n;
                if (rd->budget != UINT64_MAX)
                        rd->budget -= (uint64_t) n;
        }
        return 0;
}

/* Reads the populated parts of a large mapping: PAGEMAP_SCAN lists the runs of present or
 * swapped pages, and only those are read. Returns -EOPNOTSUPP when the ioctl is not available
 * (kernels before 6.7, or a fixture file) before anything was accounted. */
static int pagemap_read_populated(PagemapReader *rd, const Vma *vma, uint64_t page_size) {
        /* Zeroed although the kernel fills what it returns: memcheck (3.19) does not know the
         * ioctl and would take every region for uninitialised. */
        struct pm_scan_region regions[PM_SCAN_REGIONS] = {};
        uint64_t start = vma->start, window = PM_SCAN_WINDOW_PAGES;
        int r;

        while (start < vma->end && !rd->counts->truncated) {
                struct pm_scan_arg arg = {
                        .size = sizeof arg,
                        .start = start,
                        .end = vma->end - start > window * page_size ? start + window * page_size
                                                                      : vma->end,
                        .vec = (uint64_t) (uintptr_t) regions,
                        .vec_len = PM_SCAN_REGIONS,
                        .category_anyof_mask = PM_SCAN_PRESENT | PM_SCAN_SWAPPED,
                        .return_mask = PM_SCAN_PRESENT | PM_SCAN_SWAPPED,
                };
                int n = ioctl(rd->fd, PM_SCAN_IOCTL, &arg);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == ENOTTY || errno == EINVAL || errno == EOPNOTSUPP) {
                                if (start != vma->start)
                                        return -EIO;    /* it worked a moment ago */
                                rd->no_scan_ioctl = true;
                                return -EOPNOTSUPP;
                        }
                        return pagemap_errno(errno);
                }
                for (int i = 0; i < n && !rd->counts->truncated; i++) {
                        r = pagemap_read_range(rd, regions[i].start / page_size,
                                               regions[i].end / page_size, vma->class);
                        if (r < 0)
                                return r;
                }
                if (arg.walk_end <= start)
                        break;          /* no progress: the mapping is gone */
                start = arg.walk_end;
                window = n > 0 ? PM_SCAN_WINDOW_PAGES : MIN(window * 8, PM_SCAN_WINDOW_MAX_PAGES);
        }
        return 0;
}

/* Small mappings lie close together (a library's four mappings, a thread stack and its guard
 * page): a run of them, with gaps of at most this many pages between them, is read in one
 * pread and its entries accounted mapping by mapping; the holes cost the kernel nearly nothing. */
#define PAGEMAP_JOIN_GAP_PAGES 256u

/* The VMAs vmas[v..) joinable into one read: small, close, in all at most one chunk. Returns
 * how many (at least 1). */
static size_t pagemap_run_length(const VmaList *vmas, size_t v, uint64_t page_size) {
        uint64_t first = vmas->vmas[v].start / page_size;
        size_t n = 1;

        if (vmas->vmas[v].end / page_size - first >= PM_SCAN_MIN_PAGES)
                return 1;
        while (v + n < vmas->n) {
                const Vma *prev = &vmas->vmas[v + n - 1], *next = &vmas->vmas[v + n];

                if (next->end / page_size - next->start / page_size >= PM_SCAN_MIN_PAGES ||
                    next->start < prev->end ||
                    (next->start - prev->end) / page_size > PAGEMAP_JOIN_GAP_PAGES ||
                    next->end / page_size - first > PAGEMAP_CHUNK_ENTRIES)
                        break;
                n++;
        }
        return n;
}

/* Reads vmas[0..n) (a run of pagemap_run_length()) in one pread and accounts each mapping's
 * entries. Falls back to one read per mapping when the budget could not cover the run. */
static int pagemap_read_run(PagemapReader *rd, const Vma *vmas, size_t n, uint64_t page_size) {
        uint64_t first = vmas[0].start / page_size, last = vmas[n - 1].end / page_size;
        uint64_t needed = 0;
        size_t got;
        ssize_t k;
        int r;

        for (size_t i = 0; i < n; i++)
                needed += vmas[i].end / page_size - vmas[i].start / page_size;
        if (n == 1 || rd->budget < needed) {
                for (size_t i = 0; i < n && !rd->counts->truncated; i++) {
                        r = pagemap_read_range(rd, vmas[i].start / page_size,
                                               vmas[i].end / page_size, vmas[i].class);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (pagemap_reader_out_of_time(rd)) {
                rd->counts->truncated = true;
                return 0;
        }

        /* Short at EOF: the process exited, or a fixture file ends. */
        k = pread_full(rd->fd, rd->buf->data, (size_t) (last - first) * sizeof(uint64_t),
                       (off_t) (first * sizeof(uint64_t)));
        if (k < 0)
                return pagemap_errno((int) -k);
        got = (size_t) k / sizeof(uint64_t);

        for (size_t i = 0; i < n; i++) {
                uint64_t off = vmas[i].start / page_size - first;
                uint64_t len = vmas[i].end / page_size - vmas[i].start / page_size;

                if (off >= got)
                        break;
                len = MIN(len, got - off);
                r = pagemap_reader_account(rd,
                                           (const uint64_t *) (const void *) rd->buf->data + off,
                                           (size_t) len, first + off, vmas[i].class);
                if (r < 0)
                        return r;
                if (rd->budget != UINT64_MAX)
                        rd->budget -= len;
        }
        return 0;
}

int pagemap_scan(int pid_dirfd, const VmaList *vmas, const PagemapOptions *o, ReadBuf *buf,
                 PagemapCounts *ret) {
        _cleanup_close_ int fd = -EBADF;
        PagemapCounts counts = {};
        uint64_t page_size = o && o->page_size ? o->page_size : PAGEMAP_DEFAULT_PAGE_SIZE;
        PagemapReader rd;
        int r;

        fd = open_regular_at(pid_dirfd, "pagemap");
        if (fd < 0)
                return fd;
        r = read_buf_reserve(buf, PAGEMAP_CHUNK_ENTRIES * sizeof(uint64_t));
        if (r < 0)
                return r;

        rd = (PagemapReader) {
                .fd = fd,
                .buf = buf,
                .budget = o && o->max_scan_bytes ? o->max_scan_bytes / page_size : UINT64_MAX,
                .deadline = o ? o->deadline_usec : 0,
                .stop = o ? o->stop : NULL,
                .pfns = o ? o->pfns : NULL,
                .counts = &counts,
                .visit = o ? o->visit : NULL,
                .visit_userdata = o ? o->visit_userdata : NULL,
        };

        for (size_t v = 0, run; v < vmas->n && !counts.truncated; v += run) {
                const Vma *vma = &vmas->vmas[v];
                uint64_t first = vma->start / page_size, last = vma->end / page_size;

                run = pagemap_run_length(vmas, v, page_size);
                r = -EOPNOTSUPP;
                if (last - first >= PM_SCAN_MIN_PAGES && !rd.no_scan_ioctl)
                        r = pagemap_read_populated(&rd, vma, page_size);
                if (r == -EOPNOTSUPP)
                        r = pagemap_read_run(&rd, vma, run, page_size);
                if (r < 0)
                        return r;
        }

        buf->size = 0;
        *ret = counts;
        return 0;
}
