/* /proc/PID/pagemap over the mapped ranges only, in large preads: per class of mapping, the
 * present, swapped and PM_MMAP_EXCLUSIVE pages; in full mode also every present page's PFN for
 * the reconstruction (reconstruct.h). Never faults pages in. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"

#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_SOFT_DIRTY (1ULL << 55)
#define PM_MMAP_EXCLUSIVE (1ULL << 56)
#define PM_UFFD_WP (1ULL << 57)
#define PM_GUARD_REGION (1ULL << 58)
#define PM_FILE (1ULL << 61)
#define PM_SWAP (1ULL << 62)
#define PM_PRESENT (1ULL << 63)

typedef struct PagemapClassCounts {
        uint64_t present_pages;
        uint64_t swapped_pages;         /* PM_SWAP without PM_GUARD_REGION */
        uint64_t exclusive_pages;       /* PM_MMAP_EXCLUSIVE (always with PM_PRESENT) */
} PagemapClassCounts;

typedef struct PagemapCounts {
        PagemapClassCounts class[_VMA_CLASS_MAX];
        uint64_t scanned_pages;         /* entries read */
        bool truncated;                 /* the per-process cap or the deadline cut the scan */
} PagemapCounts;

/* The PFNs of present pages, for the reconstruction; grown with realloc, reused across sweeps.
 * Entries of hugetlb mappings are not collected (hugetlb is not part of Rss/Pss). */
typedef struct PfnList {
        uint64_t *pfns;
        size_t n, allocated;
} PfnList;

void pfn_list_done(PfnList *l);

/* Appends pfns[0..n) to l. Returns 0 or -ENOMEM (l unchanged). */
int pfn_list_append(PfnList *l, const uint64_t *pfns, size_t n);

/* Called with every run of entries read, in ascending address order: entries[0..n) are the
 * pages from first_page (virtual address / page size) on, all of one mapping of class class.
 * A negative return ends the scan with that error. */
typedef int (*PagemapVisitFunc)(const uint64_t *entries, size_t n, uint64_t first_page,
                                VmaClass class, void *userdata);

typedef struct PagemapOptions {
        uint64_t max_scan_bytes;        /* per process, of mapped address space; 0 = no cap */
        uint64_t deadline_usec;         /* CLOCK_MONOTONIC; 0 = none */
        const atomic_int *stop;         /* non-zero: a stop was asked, the scan ends as at its
                                         * deadline; NULL = none */
        PfnList *pfns;                  /* NULL: counts only */
        uint64_t page_size;             /* bytes; 0 = 4096. The caller takes it from the kernel
                                         * (kernel-id), never from the reading process */
        PagemapVisitFunc visit;         /* NULL: counts (and PFNs) only */
        void *visit_userdata;
} PagemapOptions;

/* Pure: accounts n pagemap entries of one class into *counts (scanned_pages grows by n), and
 * appends the PFNs of present entries to pfns when not NULL (entries whose PFN reads 0, as
 * without CAP_SYS_ADMIN, are appended as 0: the caller decides). -ENOMEM. */
int pagemap_account(const uint64_t *entries, size_t n, VmaClass class, PagemapCounts *counts,
                    PfnList *pfns);

/* Reads PID/pagemap through pid_dirfd over every VMA of vmas, in preads of up to 512 KiB, and
 * accounts them (counts zeroed first). Stops early, setting counts->truncated, when the cap or
 * the deadline is reached or a stop is asked (both checked before each pread). A VMA that reads
 * short (EOF: the process exited or a fixture file ends) ends there. o may be NULL (no cap, no
 * deadline, no stop, no PFNs, 4096-byte pages). buf is scratch (grown as needed). PFNs appended to
 * o->pfns before a failure stay there: the caller truncates. Returns 0, -ENOENT/-ESRCH
 * (vanished), -EACCES/-EPERM, -ENOMEM, -EIO. */
int pagemap_scan(int pid_dirfd, const VmaList *vmas, const PagemapOptions *o, ReadBuf *buf,
                 PagemapCounts *ret);
