/* The reconstruction (pagemap "full" mode, needs PFNs: CAP_SYS_ADMIN): count how many present
 * pagemap entries of all processes of one sweep reference each PFN, read kpageflags and
 * kpagecount for the PFN blocks seen, and derive per process
 *   - the truth, independent of the kernel's mapcount configuration: USS (pages mapped once in
 *     the whole system), PSS (Σ page size / count), Shared and Private;
 *   - the large anonymous folios this process maps only partly;
 *   - the forecast: what a CONFIG_NO_PAGE_MAPCOUNT kernel would report (Pss with the folio's
 *     average mapcount, Shared/Private and exclusivity with the folio rule), computed on a
 *     CONFIG_PAGE_MAPCOUNT kernel from kpagecount (docs/kernel-semantics.md §7).
 * Memory: a table indexed by PFN; a 512-PFN block (2 MiB of RAM) is allocated when a page in it
 * is first seen and costs about 5 KiB, reached through directories of 512 blocks (1 GiB each). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc-root.h"

typedef struct ProcessTruth {
        /* Config-independent, from the PFN counts. */
        uint64_t uss_kb, pss_kb, shared_kb, private_kb;
        /* What a NO_PAGE_MAPCOUNT kernel would report. */
        uint64_t forecast_pss_kb, forecast_pss_anon_kb, forecast_pss_file_kb,
                forecast_pss_shmem_kb, forecast_shared_kb, forecast_private_kb;
        uint64_t forecast_exclusive_pages;
        /* Large anonymous folios of which this process maps some pages but not all. */
        uint64_t partially_mapped_folios;
        /* Present entries of pages that processes this sweep did not read also map (their
         * kpagecount, or their folio's, exceeds the entries seen): other PID namespaces,
         * processes mapstatd may not ptrace. The truth's sharing of these is a lower bound. */
        uint64_t unseen_pages;
} ProcessTruth;

typedef struct Reconstruction Reconstruction;

/* page_size in bytes. Returns 0, -EINVAL (not a power of two), -EOPNOTSUPP (not 4096: the
 * folio analysis assumes a PMD folio fits a 512-PFN block), -ENOMEM. */
int reconstruction_new(Reconstruction **ret, uint64_t page_size);
Reconstruction *reconstruction_free(Reconstruction *r);

/* Registers one process's present PFNs and counts them. pfns[0..n) is borrowed: it must stay
 * valid and unchanged until the last reconstruction_compute() (the sweep's final PfnList).
 * PFN 0 entries are ignored, and so are PFNs ≥ 2^34 (past 64 TiB of physical address space).
 * process is the caller's index of the process in this sweep, below 2^31; each index is added
 * once (a repeat of the last index is -EINVAL here, any other repeat makes
 * reconstruction_finish() fail with -EINVAL); indices need not ascend. -ENOMEM (after which
 * only reconstruction_free() is valid), -EINVAL (also after reconstruction_finish()). */
int reconstruction_add(Reconstruction *r, uint32_t process, const uint64_t *pfns, size_t n);

/* After every process was added: reads kpageflags and kpagecount under the proc root for every
 * 512-PFN block seen (one 4 KiB pread each per file), finds the large folios (THP flag, head
 * and tails) and which processes map each. When no PFN was seen the files are not opened.
 * prev (NULL: none), a finished reconstruction of an earlier sweep: a block whose present
 * entries per PFN are the same in both takes prev's kpage* figures and large folios instead of
 * reading them, as nothing this reconstruction sees mapped or unmapped a page of it (mappers it
 * does not see may have: the caller bounds how old such figures get); prev is not referenced
 * after the call. -ENOENT when the files do not exist, -EACCES, -EIO,
 * -ENOMEM, -EINVAL (called twice, or an index added twice). */
int reconstruction_finish(Reconstruction *r, const ProcRoot *root, const Reconstruction *prev);

/* One process's figures (after reconstruction_finish()). Zero pages, NOPAGE and hugetlb PFNs are
 * ignored. Like smaps, every entry is accounted: a page mapped twice by the process counts
 * twice in Shared/Private. -ENOENT for an index never added, -EINVAL before
 * reconstruction_finish(). */
int reconstruction_compute(const Reconstruction *r, uint32_t process, ProcessTruth *ret);

/* What a NO_PAGE_MAPCOUNT kernel would add to a memory cgroup's anon and file_mapped
 * (docs/kernel-semantics.md §5): NO counts a large folio whole once any page of it is mapped,
 * PAGE counts the pages mapped. Taken over the large folios the group's processes map (each
 * once), the pages nobody maps (kpagecount 0: valid on a PAGE kernel only). */
typedef struct GroupForecast {
        uint64_t anon_extra_kb;         /* large anonymous folios */
        uint64_t file_mapped_extra_kb;  /* large file and shmem folios (Mapped counts both) */
        uint64_t partially_mapped_folios;       /* folios with such pages */
} GroupForecast;

/* The forecast of the processes processes[0..n) (indices as added; unknown ones are skipped).
 * -EINVAL before reconstruction_finish(). Marks the folios it visits: not thread-safe. */
int reconstruction_compute_group(Reconstruction *r, const uint32_t *processes, size_t n,
                                 GroupForecast *ret);

/* Whether PFNs were visible at all (false when every present entry read PFN 0: no
 * CAP_SYS_ADMIN). */
bool reconstruction_has_pfns(const Reconstruction *r);
