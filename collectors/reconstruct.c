/* The reconstruction: per-PFN counts of the present pagemap entries of one sweep in a table
 * indexed by PFN (directories of 512-PFN blocks, both allocated when first needed), kpageflags
 * and kpagecount read once per block, the
 * large folios found in one forward pass per block, and per process one pass over its PFNs for
 * the config-independent truth and the NO_PAGE_MAPCOUNT forecast (docs/kernel-semantics.md §7). */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "kpage.h"
#include "macro.h"
#include "reconstruct.h"

#define BLOCK_SHIFT 9
#define BLOCK_PFNS (1u << BLOCK_SHIFT)
#define BLOCK_MASK (BLOCK_PFNS - 1)
static_assert(BLOCK_PFNS == KPAGE_BLOCK_PFNS, "a block is read with one kpage_read_block()");
/* Blocks are reached through directories of 512 pointers (1 GiB of physical address space each),
 * so the top array costs 8 bytes per GiB up to the highest PFN seen: a device mapped at a high
 * physical address adds a few KiB, not a pointer per 2 MiB. */
#define DIR_SHIFT 9
#define DIR_BLOCKS (1u << DIR_SHIFT)
/* PFNs at or above this are not counted: 64 TiB of physical address space with 4 KiB pages
 * (x86-64 with 4-level paging has 46 physical address bits). It bounds the top array at 256 MiB
 * even when a process maps device memory (VM_PFNMAP, present in pagemap) at a high address. */
#define PFN_LIMIT (1ULL << 34)


/* Compact per-PFN flags kept after reconstruction_finish(). */
enum {
        PAGE_ANON = 1u << 0,            /* KPF_ANON (also KSM) */
        PAGE_SWAPBACKED = 1u << 1,      /* KPF_SWAPBACKED: with ANON clear, shmem */
        PAGE_IGNORED = 1u << 2,         /* ZERO_PAGE, NOPAGE or HUGE: not accounted */
        PAGE_LARGE = 1u << 3,           /* in a large folio with a Folio record */
        PAGE_MMAP = 1u << 4,            /* KPF_MMAP */
};

#define OWNER_NONE UINT32_MAX
#define OWNER_SEVERAL (UINT32_MAX - 1)

/* 512 PFNs, 4.5 KiB. folio[] and the fields after count[] are filled by
 * reconstruction_finish(). */
typedef struct Block {
        uint16_t count[BLOCK_PFNS];     /* present entries of all processes, saturating */
        uint32_t kpagecount[BLOCK_PFNS];/* clamped to UINT32_MAX */
        uint16_t folio[BLOCK_PFNS];     /* 1 + index of its Folio after folio_base; 0 = none */
        uint8_t flags[BLOCK_PFNS];      /* PAGE_* */
        uint32_t folio_base;
} Block;

/* A large folio (THP flag, not the huge zero page) with at least one of our entries. */
typedef struct Folio {
        uint64_t mapcount_sum;          /* S: Σ kpagecount over the folio */
        uint64_t entries;               /* our entries over the folio */
        uint32_t avg;                   /* max(1, ⌊(S + N/2) / N⌋), 0 when S = 0 */
        uint32_t owner;                 /* slot of the only process seen, or OWNER_* */
        uint32_t last;                  /* slot walked last (partial mappings), or OWNER_NONE */
        uint32_t last_entries;          /* that slot's entries over the folio */
        uint32_t stamp;                 /* the reconstruction_compute_group() call that
                                         * counted it last */
        uint16_t n;
        uint8_t flags;                  /* PAGE_* of the head */
        bool forecast_private;
} Folio;

typedef struct Process {
        uint32_t index;
        uint32_t partial;               /* partially mapped large anon folios */
        const uint64_t *pfns;           /* borrowed */
        size_t n;
} Process;

struct Reconstruction {
        uint64_t page_size;
        Block ***dirs;                  /* top array of directories, indexed by block >> DIR_SHIFT;
                                         * each directory: DIR_BLOCKS block pointers */
        size_t n_dirs;
        Folio *folios;
        size_t n_folios, allocated_folios;
        Process *processes;
        size_t n_processes, allocated_processes;
        uint32_t stamp;                 /* reconstruction_compute_group() calls */
        bool sorted;                    /* processes in ascending index order */
        bool has_pfns;
        bool finished;
};

int reconstruction_new(Reconstruction **ret, uint64_t page_size) {
        Reconstruction *r;

        if (page_size == 0 || (page_size & (page_size - 1)) != 0)
                return -EINVAL;
        /* A 512-PFN block holds a whole PMD folio only with 4 KiB pages; with 16 or 64 KiB pages
         * (arm64) a THP spans several blocks and the folio analysis would be wrong. Say so
         * rather than forecast from half a folio. */
        if (page_size != 4096)
                return -EOPNOTSUPP;
        r = calloc(1, sizeof *r);
        if (!r)
                return -ENOMEM;
        r->page_size = page_size;
        r->sorted = true;
        *ret = r;
        return 0;
}

Reconstruction *reconstruction_free(Reconstruction *r) {
        if (!r)
                return NULL;
        for (size_t d = 0; d < r->n_dirs; d++) {
                for (size_t i = 0; r->dirs[d] && i < DIR_BLOCKS; i++)
                        free(r->dirs[d][i]);
                free(r->dirs[d]);
        }
        free(r->dirs);
        free(r->folios);
        free(r->processes);
        free(r);
        return NULL;
}

/* The block of PFN block number bi, or NULL when no page of it was seen. */
static Block *block_lookup(const Reconstruction *r, size_t bi) {
        size_t d = bi >> DIR_SHIFT;

        if (d >= r->n_dirs || !r->dirs[d])
                return NULL;
        return r->dirs[d][bi & (DIR_BLOCKS - 1)];
}

/* The block of PFN block number bi, allocated on first use. NULL on ENOMEM. */
static Block *block_get(Reconstruction *r, size_t bi) {
        size_t d = bi >> DIR_SHIFT;
        Block **slot;

        if (d >= r->n_dirs) {
                size_t n = MAX(d + 1, r->n_dirs * 2);
                Block ***p = reallocarray(r->dirs, n, sizeof *p);
                if (!p)
                        return NULL;
                memset(p + r->n_dirs, 0, (n - r->n_dirs) * sizeof *p);
                r->dirs = p;
                r->n_dirs = n;
        }
        if (!r->dirs[d]) {
                r->dirs[d] = calloc(DIR_BLOCKS, sizeof(Block *));
                if (!r->dirs[d])
                        return NULL;
        }
        slot = &r->dirs[d][bi & (DIR_BLOCKS - 1)];
        if (!*slot)
                *slot = calloc(1, sizeof(Block));
        return *slot;
}

int reconstruction_add(Reconstruction *r, uint32_t process, const uint64_t *pfns, size_t n) {
        size_t cached_bi = SIZE_MAX;
        Block *b = NULL;

        if (r->finished || process >= (1u << 31) || (n > 0 && !pfns))
                return -EINVAL;
        if (r->n_processes > 0) {
                uint32_t last = r->processes[r->n_processes - 1].index;
                if (process == last)
                        return -EINVAL;
                if (process < last)
                        r->sorted = false;
        }
        if (GREEDY_REALLOC(r->processes, r->allocated_processes, r->n_processes + 1) < 0)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                uint64_t pfn = pfns[i];
                uint16_t *c;

                if (pfn == 0 || pfn >= PFN_LIMIT)
                        continue;
                /* Entries of one VMA run over consecutive PFNs: look the block up once. */
                if ((size_t) (pfn >> BLOCK_SHIFT) != cached_bi) {
                        cached_bi = (size_t) (pfn >> BLOCK_SHIFT);
                        b = block_get(r, cached_bi);
                        if (!b)
                                return -ENOMEM;
                }
                c = &b->count[pfn & BLOCK_MASK];
                if (*c != UINT16_MAX)
                        (*c)++;
                r->has_pfns = true;
        }

        r->processes[r->n_processes++] = (Process) { .index = process, .pfns = pfns, .n = n };
        return 0;
}

bool reconstruction_has_pfns(const Reconstruction *r) {
        return r && r->has_pfns;
}

static int process_compare(const void *a, const void *b) {
        uint32_t x = ((const Process *) a)->index, y = ((const Process *) b)->index;

        return (x > y) - (x < y);
}

/* Reads the 512 entries of block bi of a kpage* file; entries past EOF (PFNs past the end of
 * memory) read as missing, *ret_n says how many are valid. */
static uint8_t page_flags_compact(uint64_t f) {
        uint8_t c = 0;

        if (f & KPF(KPF_ANON))
                c |= PAGE_ANON;
        if (f & KPF(KPF_SWAPBACKED))
                c |= PAGE_SWAPBACKED;
        if (f & KPF(KPF_MMAP))
                c |= PAGE_MMAP;
        if (f & (KPF(KPF_ZERO_PAGE) | KPF(KPF_NOPAGE) | KPF(KPF_HUGE)))
                c |= PAGE_IGNORED;
        return c;
}

static int folio_append(Reconstruction *r, const Folio *f) {
        int k;

        k = GREEDY_REALLOC(r->folios, r->allocated_folios, r->n_folios + 1);
        if (k < 0)
                return k;
        r->folios[r->n_folios++] = *f;
        return 0;
}

/*
 * One forward pass over a block (docs/kernel-semantics.md §4.2): a PFN with COMPOUND_HEAD and THP
 * (and neither ZERO_PAGE nor HUGE) starts a large folio, the COMPOUND_TAIL PFNs after it belong
 * to it. Large folios are naturally aligned and at most PMD-sized (512 pages with 4 KiB pages;
 * MAX_PAGECACHE_ORDER is at most the PMD order), so a folio never crosses a block. A run that is
 * not a power of two or not aligned was split or freed between reads: its pages are taken as
 * small folios, as are tails without a head and kernel-internal compound pages.
 */
static int block_finish(Reconstruction *r, Block *b, const uint64_t *kflags, size_t n_flags,
                        const uint64_t *kcount, size_t n_count) {
        const uint64_t large_mask = KPF(KPF_COMPOUND_HEAD) | KPF(KPF_THP) |
                                    KPF(KPF_ZERO_PAGE) | KPF(KPF_HUGE) | KPF(KPF_NOPAGE);
        const uint64_t large_want = KPF(KPF_COMPOUND_HEAD) | KPF(KPF_THP);
        uint32_t local = 0;
        int k;

        b->folio_base = (uint32_t) r->n_folios;
        for (size_t i = 0; i < BLOCK_PFNS; i++) {
                /* Past EOF of kpageflags: no struct page. */
                uint64_t f = i < n_flags ? kflags[i] : KPF(KPF_NOPAGE);
                uint64_t c = i < n_count ? kcount[i] : 0;

                b->flags[i] = page_flags_compact(f);
                b->kpagecount[i] = (uint32_t) MIN(c, (uint64_t) UINT32_MAX);
        }

        for (size_t i = 0; i < BLOCK_PFNS && i < n_flags; ) {
                Folio folio = { .owner = OWNER_NONE, .last = OWNER_NONE };
                size_t n = 1;

                if ((kflags[i] & large_mask) != large_want) {
                        i++;
                        continue;
                }
                while (i + n < n_flags && (kflags[i + n] & KPF(KPF_COMPOUND_TAIL)) &&
                       !(kflags[i + n] & KPF(KPF_COMPOUND_HEAD)))
                        n++;
                if ((n & (n - 1)) != 0 || i % n != 0) {
                        i += n;
                        continue;
                }

                for (size_t j = i; j < i + n; j++) {
                        folio.entries += b->count[j];
                        folio.mapcount_sum += j < n_count ? kcount[j] : 0;
                }
                if (folio.entries == 0 || n == 1) {
                        /* Nobody of ours maps it (or an order-0 "compound"): nothing to
                         * record; its pages are never looked up as large. */
                        i += n;
                        continue;
                }
                folio.n = (uint16_t) n;
                folio.flags = b->flags[i];
                folio.avg = folio.mapcount_sum == 0 ? 0 :
                        (uint32_t) MIN(MAX((folio.mapcount_sum + n / 2) / n, (uint64_t) 1),
                                       (uint64_t) UINT32_MAX);
                k = folio_append(r, &folio);
                if (k < 0)
                        return k;
                local++;
                for (size_t j = i; j < i + n; j++) {
                        b->folio[j] = (uint16_t) local;
                        b->flags[j] |= PAGE_LARGE;
                }
                i += n;
        }
        return 0;
}

static void folio_flush_partial(Reconstruction *r, Folio *f) {
        if (f->last == OWNER_NONE)
                return;
        /* An anon page is mapped at most once per MM (one index in one anon_vma), so a
         * process's entries over the folio are distinct pages. */
        if ((f->flags & PAGE_ANON) && f->last_entries < f->n)
                r->processes[f->last].partial++;
        f->last = OWNER_NONE;
        f->last_entries = 0;
}

static inline Folio *page_folio(const Reconstruction *r, const Block *b, size_t i) {
        return &r->folios[b->folio_base + b->folio[i] - 1];
}

/* Which processes map each large folio, and which of them map it only partly: one pass over
 * all PFN lists, process by process. */
static void folios_assign_owners(Reconstruction *r) {
        for (size_t s = 0; s < r->n_processes; s++) {
                const Process *p = &r->processes[s];

                for (size_t i = 0; i < p->n; i++) {
                        uint64_t pfn = p->pfns[i];
                        const Block *b;
                        Folio *f;

                        if (pfn == 0 || pfn >= PFN_LIMIT)
                                continue;
                        b = block_lookup(r, pfn >> BLOCK_SHIFT);
                        if (!b->folio[pfn & BLOCK_MASK])
                                continue;
                        f = page_folio(r, b, pfn & BLOCK_MASK);
                        if (f->owner == OWNER_NONE)
                                f->owner = (uint32_t) s;
                        else if (f->owner != (uint32_t) s)
                                f->owner = OWNER_SEVERAL;
                        if (f->last != (uint32_t) s) {
                                folio_flush_partial(r, f);
                                f->last = (uint32_t) s;
                        }
                        f->last_entries++;
                }
        }

        for (size_t i = 0; i < r->n_folios; i++) {
                Folio *f = &r->folios[i];

                folio_flush_partial(r, f);
                /* §7: exclusive under NO ⇔ exactly one MM maps the folio; more mappings in
                 * kpagecount than entries we saw mean a mapper we could not read. This holds
                 * on a PAGE kernel only: under NO, kpagecount is the folio average on every
                 * page (≥ 1 even on unmapped ones), so S over-counts partly mapped folios. */
                f->forecast_private = f->owner < OWNER_SEVERAL && f->mapcount_sum <= f->entries;
        }
}

/* A block whose entries are those of the same block of prev, entry for entry: nothing of ours
 * mapped or unmapped a page of it since, so its kpage* figures and large folios are taken from
 * prev rather than read again. */
static int block_take(Reconstruction *r, Block *b, const Reconstruction *prev, const Block *pb) {
        uint32_t n = 0;

        b->folio_base = (uint32_t) r->n_folios;
        memcpy(b->kpagecount, pb->kpagecount, sizeof b->kpagecount);
        memcpy(b->flags, pb->flags, sizeof b->flags);
        memcpy(b->folio, pb->folio, sizeof b->folio);
        for (size_t i = 0; i < BLOCK_PFNS; i++)
                n = MAX(n, (uint32_t) b->folio[i]);
        for (uint32_t i = 0; i < n; i++) {
                const Folio *f = &prev->folios[pb->folio_base + i];
                Folio copy = {
                        .mapcount_sum = f->mapcount_sum,
                        .entries = f->entries,
                        .avg = f->avg,
                        .owner = OWNER_NONE,
                        .last = OWNER_NONE,
                        .n = f->n,
                        .flags = f->flags,
                };
                int k = folio_append(r, &copy);

                if (k < 0)
                        return k;
        }
        return 0;
}

int reconstruction_finish(Reconstruction *r, const ProcRoot *root, const Reconstruction *prev) {
        _cleanup_close_ int flags_fd = -EBADF, count_fd = -EBADF;
        uint64_t kflags[BLOCK_PFNS], kcount[BLOCK_PFNS];
        int k;

        if (r->finished)
                return -EINVAL;
        if (!r->sorted) {
                qsort(r->processes, r->n_processes, sizeof *r->processes, process_compare);
                for (size_t i = 1; i < r->n_processes; i++)
                        if (r->processes[i].index == r->processes[i - 1].index)
                                return -EINVAL;
                r->sorted = true;
        }

        /* Without PFNs there is nothing to look up, and the files are root-only. */
        if (r->has_pfns) {
                flags_fd = open_regular_at(root->proc_fd, "kpageflags");
                if (flags_fd < 0)
                        return flags_fd;
                count_fd = open_regular_at(root->proc_fd, "kpagecount");
                if (count_fd < 0)
                        return count_fd;
        }

        for (size_t bi = 0; bi < r->n_dirs * DIR_BLOCKS; bi++) {
                size_t n_flags, n_count;
                Block *b;

                if (!r->dirs[bi >> DIR_SHIFT]) {
                        bi |= DIR_BLOCKS - 1;   /* skip the whole directory */
                        continue;
                }
                b = block_lookup(r, bi);
                if (!b)
                        continue;
                const Block *pb = prev && prev->finished ? block_lookup(prev, bi) : NULL;
                if (pb && memcmp(b->count, pb->count, sizeof b->count) == 0) {
                        k = block_take(r, b, prev, pb);
                        if (k < 0)
                                return k;
                        continue;
                }
                k = kpage_read_block(flags_fd, bi, kflags, &n_flags);
                if (k < 0)
                        return k == -EINVAL ? -EIO : k;
                k = kpage_read_block(count_fd, bi, kcount, &n_count);
                if (k < 0)
                        return k == -EINVAL ? -EIO : k;
                k = block_finish(r, b, kflags, n_flags, kcount, n_count);
                if (k < 0)
                        return k;
        }

        folios_assign_owners(r);
        r->finished = true;
        return 0;
}

int reconstruction_compute(const Reconstruction *r, uint32_t process, ProcessTruth *ret) {
        const uint64_t unit = r->page_size << PSS_SHIFT;
        uint64_t pss = 0, private_pages = 0, shared_pages = 0;
        uint64_t f_anon = 0, f_file = 0, f_shmem = 0, f_private = 0, f_shared = 0, unseen = 0;
        const Process key = { .index = process }, *p;

        if (!r->finished)
                return -EINVAL;
        p = bsearch(&key, r->processes, r->n_processes, sizeof *r->processes, process_compare);
        if (!p)
                return -ENOENT;

        for (size_t i = 0; i < p->n; i++) {
                uint64_t pfn = p->pfns[i], m, fpss;
                const Block *b;
                size_t o;
                uint8_t fl;
                bool private;

                if (pfn == 0 || pfn >= PFN_LIMIT)
                        continue;
                b = block_lookup(r, pfn >> BLOCK_SHIFT);
                o = pfn & BLOCK_MASK;
                fl = b->flags[o];
                if (fl & PAGE_IGNORED)
                        continue;

                /* Truth: the PAGE rule (smaps_account()) with our own count, ≥ 1 here. */
                if (b->count[o] >= 2) {
                        pss += unit / b->count[o];
                        shared_pages++;
                } else {
                        pss += unit;
                        private_pages++;
                }

                /* Forecast: the NO rule; for large folios the average and the owner rule. A
                 * mapper we did not read shows as more mappings than entries seen: per page
                 * for small folios, over the folio for large ones. On a NO kernel kpagecount
                 * is the folio's rounded average on every page, mapped or not, so the sum can
                 * exceed the mappings by up to N/2 without anyone unseen. */
                if (fl & PAGE_LARGE) {
                        const Folio *f = page_folio(r, b, o);
                        m = f->avg;
                        private = f->forecast_private;
                        unseen += f->mapcount_sum > f->entries + f->n / 2;
                } else {
                        m = b->kpagecount[o];
                        private = m < 2;
                        unseen += m > b->count[o];
                }
                fpss = m >= 2 ? unit / m : unit;
                if (fl & PAGE_ANON)
                        f_anon += fpss;
                else if (fl & PAGE_SWAPBACKED)
                        f_shmem += fpss;
                else
                        f_file += fpss;
                if (private)
                        f_private++;
                else
                        f_shared++;
        }

        *ret = (ProcessTruth) {
                .uss_kb = private_pages * r->page_size / 1024,
                .pss_kb = pss >> (PSS_SHIFT + 10),
                .shared_kb = shared_pages * r->page_size / 1024,
                .private_kb = private_pages * r->page_size / 1024,
                .forecast_pss_kb = (f_anon + f_file + f_shmem) >> (PSS_SHIFT + 10),
                .forecast_pss_anon_kb = f_anon >> (PSS_SHIFT + 10),
                .forecast_pss_file_kb = f_file >> (PSS_SHIFT + 10),
                .forecast_pss_shmem_kb = f_shmem >> (PSS_SHIFT + 10),
                .forecast_shared_kb = f_shared * r->page_size / 1024,
                .forecast_private_kb = f_private * r->page_size / 1024,
                .forecast_exclusive_pages = f_private,
                .partially_mapped_folios = p->partial,
                .unseen_pages = unseen,
        };
        return 0;
}

int reconstruction_compute_group(Reconstruction *r, const uint32_t *processes, size_t n,
                                 GroupForecast *ret) {
        GroupForecast g = {};

        if (!r->finished)
                return -EINVAL;
        r->stamp++;
        for (size_t k = 0; k < n; k++) {
                const Process key = { .index = processes[k] }, *p;

                p = bsearch(&key, r->processes, r->n_processes, sizeof *r->processes,
                            process_compare);
                for (size_t i = 0; p && i < p->n; i++) {
                        uint64_t pfn = p->pfns[i], unmapped = 0;
                        const Block *b;
                        size_t o, start;
                        Folio *f;

                        if (pfn == 0 || pfn >= PFN_LIMIT)
                                continue;
                        b = block_lookup(r, pfn >> BLOCK_SHIFT);
                        o = pfn & BLOCK_MASK;
                        if (!b->folio[o])
                                continue;
                        f = page_folio(r, b, o);
                        if (f->stamp == r->stamp)
                                continue;
                        f->stamp = r->stamp;
                        /* Folios are naturally aligned within their block. */
                        start = o & ~((size_t) f->n - 1);
                        for (size_t j = start; j < start + f->n; j++)
                                unmapped += b->kpagecount[j] == 0;
                        if (unmapped == 0)
                                continue;
                        g.partially_mapped_folios++;
                        if (f->flags & PAGE_ANON)
                                g.anon_extra_kb += unmapped * r->page_size / 1024;
                        else
                                g.file_mapped_extra_kb += unmapped * r->page_size / 1024;
                }
        }
        *ret = g;
        return 0;
}
