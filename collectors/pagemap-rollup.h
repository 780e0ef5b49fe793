/* The stall budget: smaps_rollup walks each mapping under one hold of the process's mmap lock,
 * so a process with one large populated mapping (8 GiB of 4 KiB pages: over 100 ms) cannot map
 * or unmap anything while it is read. Such a process is read instead through pagemap, which the
 * kernel walks 2 MiB at a time, releasing the lock in between, and its smaps_rollup figures are
 * derived from the entries and, for the pages that are not exclusive or are not anonymous, from
 * /proc/kpagecount and /proc/kpageflags (docs/kernel-semantics.md §2.2, §3.2, §4). Needs PFNs
 * (CAP_SYS_ADMIN); without them every process is read through smaps_rollup.
 *
 * Derived: Rss, Pss, Pss_Dirty, Pss_Anon, Pss_File, Pss_Shmem, Shared_Clean, Shared_Dirty,
 * Private_Clean, Private_Dirty, Anonymous, KSM, AnonHugePages, ShmemPmdMapped, FilePmdMapped,
 * Swap. Not derived (absent): Referenced, LazyFree, Shared_Hugetlb, Private_Hugetlb, SwapPss,
 * Locked. Rss, Pss, its split by kind and Shared/Private are the kernel's own rules; dirty,
 * KSM, the PMD-mapped sizes and Swap are close readings (README, "Stall budget"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpage.h"
#include "maps.h"
#include "proc-root.h"
#include "smaps-rollup.h"

/* The kernel's smaps_rollup walk costs about 60–80 ns per resident 4 KiB page here
 * (docs/kernel-semantics.md §9); the estimate takes the high end. */
#define ROLLUP_WALK_NSEC_PER_PAGE 80u

/* A page whose kpagecount and kpageflags are needed, or the first page of a PMD-sized run of
 * a file or shmem folio (ROLLUP_PENDING_PMD_RUN: its flags tell shmem, file and the huge zero
 * page apart). */
enum {
        ROLLUP_PENDING_EXCLUSIVE = 1u << 0,     /* PM_MMAP_EXCLUSIVE */
        ROLLUP_PENDING_PMD_RUN = 1u << 1,
};

typedef struct RollupPending {
        uint64_t pfn;
        uint8_t kind;
} RollupPending;

typedef struct PagemapRollup {
        /* Settings. */
        uint64_t budget_usec;           /* longest walk allowed under one lock hold; 0: off */
        uint64_t page_size;             /* bytes; 0: 4096 */
        /* State across processes and sweeps; all zero is a valid, empty state. */
        bool files_open;
        int count_fd, flags_fd;         /* /proc/kpagecount, /proc/kpageflags, if files_open */
        int unavailable;                /* < 0: why derived reads cannot work here (no PFNs,
                                         * kpage files unreadable); every process then goes
                                         * through smaps_rollup */
        RollupPending *pending;
        size_t n_pending, allocated_pending;
        bool block_valid;
        uint64_t block;                 /* the 512-PFN block cached below */
        uint64_t block_counts[KPAGE_BLOCK_PFNS], block_flags[KPAGE_BLOCK_PFNS];
        size_t block_n;                 /* entries read (fewer past the last PFN) */
        /* One process. */
        const ProcRoot *root;           /* borrowed, where the kpage files are opened */
        uint64_t sum[_SMAPS_FIELD_MAX]; /* bytes; Pss fields in bytes << 12 */
        uint64_t run_page, run_pfn, run_len;    /* a PMD-sized run being matched */
        VmaClass run_class;
        bool run_file;                  /* its entries have PM_FILE */
        bool saw_pfn0;                  /* a present entry without its PFN */
} PagemapRollup;

/* Closes the files and frees the list; the settings stay. */
void pagemap_rollup_done(PagemapRollup *p);

/* Whether a process of rss_pages resident pages, whose largest mapping spans largest_pages
 * (UINT64_MAX: not known yet), may hold its mmap lock longer than the budget in one
 * smaps_rollup walk of a mapping. False when the budget is off or derived reads are unavailable. */
bool pagemap_rollup_wanted(const PagemapRollup *p, uint64_t rss_pages, uint64_t largest_pages);

/* Starts one process: clears the sums. root is borrowed until pagemap_rollup_end(). */
void pagemap_rollup_begin(PagemapRollup *p, const ProcRoot *root);

/* PagemapVisitFunc (pagemap.h), userdata the PagemapRollup: accounts a run of entries. Returns
 * 0, -ENOMEM, or what reading kpagecount/kpageflags returned (they are opened on first need). */
int pagemap_rollup_visit(const uint64_t *entries, size_t n, uint64_t first_page, VmaClass class,
                         void *userdata);

/* Ends one process: accounts the pages still pending and writes the figures to *ret. Returns
 * 0; -EPERM when a present entry had no PFN (the reader lacks CAP_SYS_ADMIN: p->unavailable is
 * set); -ENOENT/-EACCES/-EIO when kpagecount or kpageflags cannot be read (likewise); -ENOMEM. */
int pagemap_rollup_end(PagemapRollup *p, SmapsRollup *ret);
