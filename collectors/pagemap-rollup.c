/* smaps_rollup figures derived from pagemap entries, kpagecount and kpageflags, for processes
 * whose smaps_rollup walk would exceed the stall budget (pagemap-rollup.h). Exclusive anonymous
 * pages, most of a large process, are accounted from their entry alone; the others wait in a
 * list that is sorted by PFN and looked up a 512-PFN block at a time. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "kpage.h"
#include "macro.h"
#include "pagemap-rollup.h"
#include "pagemap.h"

/* PMD-mapped runs are recognised with 4 KiB pages only: 512 entries per 2 MiB. */
#define PMD_PAGES 512u
#define PMD_PAGE_SIZE 4096u
/* The pending list is looked up when it reaches this many pages (1 MiB). */
#define PENDING_MAX (64u * 1024u)

#define ROLLUP_DERIVED_FIELDS                                                                    \
        ((1u << SMAPS_RSS) | (1u << SMAPS_PSS) | (1u << SMAPS_PSS_DIRTY) |                       \
         (1u << SMAPS_PSS_ANON) | (1u << SMAPS_PSS_FILE) | (1u << SMAPS_PSS_SHMEM) |             \
         (1u << SMAPS_SHARED_CLEAN) | (1u << SMAPS_SHARED_DIRTY) |                               \
         (1u << SMAPS_PRIVATE_CLEAN) | (1u << SMAPS_PRIVATE_DIRTY) | (1u << SMAPS_ANONYMOUS) |   \
         (1u << SMAPS_KSM) | (1u << SMAPS_SWAP))
/* Summed in bytes << PSS_SHIFT, like the kernel's. */
#define ROLLUP_PSS_FIELDS                                                                        \
        ((1u << SMAPS_PSS) | (1u << SMAPS_PSS_DIRTY) | (1u << SMAPS_PSS_ANON) |                  \
         (1u << SMAPS_PSS_FILE) | (1u << SMAPS_PSS_SHMEM))
#define ROLLUP_PMD_FIELDS                                                                        \
        ((1u << SMAPS_ANON_HUGE_PAGES) | (1u << SMAPS_SHMEM_PMD_MAPPED) |                        \
         (1u << SMAPS_FILE_PMD_MAPPED))

void pagemap_rollup_done(PagemapRollup *p) {
        if (!p)
                return;
        if (p->files_open) {
                safe_close(p->count_fd);
                safe_close(p->flags_fd);
        }
        free(p->pending);
        *p = (PagemapRollup) { .budget_usec = p->budget_usec, .page_size = p->page_size };
}

bool pagemap_rollup_wanted(const PagemapRollup *p, uint64_t rss_pages, uint64_t largest_pages) {
        uint64_t pages;

        assert(p);

        if (p->budget_usec == 0 || p->unavailable < 0)
                return false;
        /* A mapping cannot hold more resident pages than the process. */
        pages = MIN(rss_pages, largest_pages);
        return pages > p->budget_usec * 1000 / ROLLUP_WALK_NSEC_PER_PAGE;
}

void pagemap_rollup_begin(PagemapRollup *p, const ProcRoot *root) {
        assert(p);
        assert(root);

        p->root = root;
        if (p->page_size == 0)
                p->page_size = 4096;
        memset(p->sum, 0, sizeof p->sum);
        p->n_pending = 0;
        p->run_len = 0;
        p->saw_pfn0 = false;
}

static void rollup_add_pss(PagemapRollup *p, uint64_t pss, bool dirty, bool anon, bool shmem) {
        p->sum[SMAPS_PSS] += pss;
        if (dirty)
                p->sum[SMAPS_PSS_DIRTY] += pss;
        p->sum[anon ? SMAPS_PSS_ANON : shmem ? SMAPS_PSS_SHMEM : SMAPS_PSS_FILE] += pss;
}

/* An exclusive anonymous page: mapcount 1 in both configurations (§3.2), so full Pss, Private;
 * its page-table entry was made dirty when it was written (§2.2: Dirty = entry or folio). */
static void rollup_add_exclusive_anon(PagemapRollup *p) {
        uint64_t size = p->page_size;

        p->sum[SMAPS_RSS] += size;
        p->sum[SMAPS_ANONYMOUS] += size;
        p->sum[SMAPS_PRIVATE_DIRTY] += size;
        rollup_add_pss(p, size << PSS_SHIFT, true, true, false);
}

static int rollup_open(PagemapRollup *p) {
        _cleanup_close_ int count_fd = -EBADF, flags_fd = -EBADF;

        if (p->files_open)
                return 0;
        count_fd = open_regular_at(p->root->proc_fd, "kpagecount");
        if (count_fd < 0)
                return count_fd;
        flags_fd = open_regular_at(p->root->proc_fd, "kpageflags");
        if (flags_fd < 0)
                return flags_fd;
        p->count_fd = TAKE_FD(count_fd);
        p->flags_fd = TAKE_FD(flags_fd);
        p->files_open = true;
        return 0;
}

static int rollup_load_block(PagemapRollup *p, uint64_t block) {
        size_t n_counts, n_flags;
        int r;

        if (p->block_valid && p->block == block)
                return 0;
        p->block_valid = false;
        if ((r = kpage_read_block(p->count_fd, block, p->block_counts, &n_counts)) < 0 ||
            (r = kpage_read_block(p->flags_fd, block, p->block_flags, &n_flags)) < 0)
                return r == -EACCES || r == -EPERM ? r : -EIO;
        p->block = block;
        p->block_valid = true;
        p->block_n = MIN(n_counts, n_flags);
        return 0;
}

/* One looked-up page (§2.2, §2.3): Pss from its mapcount (kpagecount is the page's own under
 * PAGE, the folio average under NO, as smaps uses), Private when the entry was exclusive. */
static void rollup_add_page(PagemapRollup *p, uint8_t kind, uint64_t count, uint64_t flags) {
        uint64_t size = p->page_size;
        bool anon = flags & KPF(KPF_ANON), dirty = anon || (flags & KPF(KPF_DIRTY));
        bool shmem = !anon && (flags & KPF(KPF_SWAPBACKED));

        if (kind & ROLLUP_PENDING_PMD_RUN) {
                if (!anon)
                        p->sum[shmem ? SMAPS_SHMEM_PMD_MAPPED : SMAPS_FILE_PMD_MAPPED] +=
                                PMD_PAGES * size;
                return;
        }
        p->sum[SMAPS_RSS] += size;
        rollup_add_pss(p, count >= 2 ? (size << PSS_SHIFT) / count : size << PSS_SHIFT, dirty,
                       anon, shmem);
        if (kind & ROLLUP_PENDING_EXCLUSIVE)
                p->sum[dirty ? SMAPS_PRIVATE_DIRTY : SMAPS_PRIVATE_CLEAN] += size;
        else
                p->sum[dirty ? SMAPS_SHARED_DIRTY : SMAPS_SHARED_CLEAN] += size;
        if (anon)
                p->sum[SMAPS_ANONYMOUS] += size;
        if (flags & KPF(KPF_KSM))
                p->sum[SMAPS_KSM] += size;
}

static int pending_compare(const void *a, const void *b) {
        const RollupPending *x = a, *y = b;

        return (x->pfn > y->pfn) - (x->pfn < y->pfn);
}

static int rollup_flush(PagemapRollup *p) {
        int r;

        if (p->n_pending == 0)
                return 0;
        r = rollup_open(p);
        if (r < 0)
                return r;
        /* The kpage files change under us: a block is good for one flush only. */
        p->block_valid = false;
        qsort(p->pending, p->n_pending, sizeof *p->pending, pending_compare);
        for (size_t i = 0; i < p->n_pending; i++) {
                const RollupPending *e = &p->pending[i];
                uint64_t idx = e->pfn % KPAGE_BLOCK_PFNS, flags;

                r = rollup_load_block(p, e->pfn / KPAGE_BLOCK_PFNS);
                if (r < 0)
                        return r;
                if (idx >= p->block_n)
                        continue;       /* past the last PFN: no struct page */
                flags = p->block_flags[idx];
                /* Zero pages and PFN-only mappings count nowhere; hugetlb only in *_Hugetlb. */
                if (flags & (KPF(KPF_NOPAGE) | KPF(KPF_ZERO_PAGE) | KPF(KPF_HUGE)))
                        continue;
                rollup_add_page(p, e->kind, p->block_counts[idx], flags);
        }
        p->n_pending = 0;
        return 0;
}

static int rollup_defer(PagemapRollup *p, uint64_t pfn, uint8_t kind) {
        int r;

        if (p->n_pending >= PENDING_MAX) {
                r = rollup_flush(p);
                if (r < 0)
                        return r;
        }
        r = GREEDY_REALLOC(p->pending, p->allocated_pending, p->n_pending + 1);
        if (r < 0)
                return r;
        p->pending[p->n_pending++] = (RollupPending) { .pfn = pfn, .kind = kind };
        return 0;
}

/* Follows runs of consecutive pages mapping consecutive PFNs from a 2 MiB-aligned address and
 * PFN: 512 of them are taken as one PMD-mapped huge page (a PTE-mapped THP that is mapped
 * whole and aligned looks the same; smaps would not count it). */
static int rollup_track_run(PagemapRollup *p, uint64_t page, uint64_t pfn, bool file) {
        if (p->run_len > 0 && page == p->run_page + p->run_len &&
            pfn == p->run_pfn + p->run_len && file == p->run_file)
                p->run_len++;
        else if (page % PMD_PAGES == 0 && pfn % PMD_PAGES == 0) {
                p->run_page = page;
                p->run_pfn = pfn;
                p->run_file = file;
                p->run_len = 1;
        } else
                p->run_len = 0;

        if (p->run_len < PMD_PAGES)
                return 0;
        p->run_len = 0;
        if (!file) {
                p->sum[SMAPS_ANON_HUGE_PAGES] += PMD_PAGES * p->page_size;
                return 0;
        }
        return rollup_defer(p, p->run_pfn, ROLLUP_PENDING_PMD_RUN);
}

int pagemap_rollup_visit(const uint64_t *entries, size_t n, uint64_t first_page, VmaClass class,
                         void *userdata) {
        PagemapRollup *p = userdata;
        int r;

        assert(p);
        assert(entries || n == 0);

        /* hugetlb is not part of Rss; its *_Hugetlb fields are not derived. */
        if (class == VMA_CLASS_HUGETLB)
                return 0;

        for (size_t i = 0; i < n; i++) {
                uint64_t e = entries[i], pfn = e & PM_PFN_MASK;
                bool file = e & PM_FILE;

                if (!(e & PM_PRESENT)) {
                        if ((e & (PM_SWAP | PM_GUARD_REGION)) == PM_SWAP)
                                p->sum[SMAPS_SWAP] += p->page_size;
                        p->run_len = 0;
                        continue;
                }
                if (pfn == 0) {
                        p->saw_pfn0 = true;
                        continue;
                }
                if (p->page_size == PMD_PAGE_SIZE) {
                        r = rollup_track_run(p, first_page + i, pfn, file);
                        if (r < 0)
                                return r;
                }
                if (!file && (e & PM_MMAP_EXCLUSIVE)) {
                        rollup_add_exclusive_anon(p);
                        continue;
                }
                r = rollup_defer(p, pfn, e & PM_MMAP_EXCLUSIVE ? ROLLUP_PENDING_EXCLUSIVE : 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int pagemap_rollup_end(PagemapRollup *p, SmapsRollup *ret) {
        SmapsRollup s = {};
        int r;

        assert(p);
        assert(ret);

        if (p->saw_pfn0) {
                p->unavailable = -EPERM;
                return -EPERM;
        }
        r = rollup_flush(p);
        if (r == -ENOENT || r == -EACCES || r == -EPERM || r == -EIO)
                p->unavailable = r;
        if (r < 0)
                return r;

        s.present = ROLLUP_DERIVED_FIELDS;
        if (p->page_size == PMD_PAGE_SIZE)
                s.present |= ROLLUP_PMD_FIELDS;
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                if (s.present & (1u << f))
                        s.kb[f] = p->sum[f] >>
                                  (ROLLUP_PSS_FIELDS & (1u << f) ? PSS_SHIFT + 10 : 10);
        *ret = s;
        return 0;
}
