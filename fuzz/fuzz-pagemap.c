/* libFuzzer target for what full pagemap mode consumes: up to 4 processes' pagemap files and the
 * kpageflags and kpagecount blocks of the PFNs they map, written from the input into a fixture
 * proc root, then read as a sweep reads them: pagemap_scan() into the counts, the PFN list and
 * the derived rollup (pagemap_rollup_visit()), and the reconstruction over every process, twice
 * (the second reusing the first's blocks).
 *
 * The input is 8-byte records, each a run of pages of one process:
 *   byte 0      bits 0-1 the process, 2-4 the mapping's class (5-7: no mapping, only the
 *               kpage values of PFNs nobody maps), 5 PM_MMAP_EXCLUSIVE, 6 PM_FILE, 7 swap entries
 *               instead of present pages
 *   bytes 1-2   the first PFN, little endian, mod 4096 (8 blocks of 512)
 *   byte 3      the run's length - 1: consecutive pages mapping consecutive PFNs
 *   bytes 4-6   kpageflags bits 0-23 of those PFNs (with COMPOUND_HEAD: a folio, the head on the
 *               first page and tails on the others); byte 7: bit 6 KPF_ZERO_PAGE, 0-5 kpagecount
 *
 * The scan must agree with pagemap_account() on the same entries, the rollup and the
 * reconstruction must add up (Rss is Shared + Private, Pss within Rss, the Pss split within
 * Pss, the forecast accounts the same pages as the truth), and reusing blocks must change
 * nothing. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "fuzz-util.h"
#include "kpage.h"
#include "maps.h"
#include "pagemap-rollup.h"
#include "pagemap.h"
#include "proc-root.h"
#include "reconstruct.h"

#define PROCESSES 4
#define PFNS (4096 + 256)
#define PAGE 4096u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct Process {
        uint64_t entries[8192];         /* 32 records of 256 pages at most: see the size cap */
        size_t n;
        VmaList vmas;
        PagemapCounts expect;           /* pagemap_account() over the same entries */
        PfnList pfns;                   /* the scan's */
        int dirfd;
} Process;

static ProcRoot root = PROC_ROOT_INIT;
static Process procs[PROCESSES];
static uint64_t kflags[PFNS], kcount[PFNS];

static void setup(void) {
        char path[4096];

        if (root.proc_fd >= 0)
                return;
        for (int p = 0; p < PROCESSES; p++) {
                (void) snprintf(path, sizeof path, "proc/%d/pagemap", p + 1);
                fuzz_write(path, "", 0);
                (void) snprintf(path, sizeof path, "%s/proc/%d", fuzz_scratch(), p + 1);
                procs[p].dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
                assert(procs[p].dirfd >= 0);
        }
        (void) snprintf(path, sizeof path, "%s/proc", fuzz_scratch());
        assert(proc_root_open(&root, path, NULL, NULL) == 0);
}

/* Decodes the records into the processes' entries and VMAs and the kpage tables; returns the
 * highest PFN written + 1. */
static size_t decode(const uint8_t *data, size_t size) {
        size_t kpage_end = 0;

        for (size_t i = 0; i + 8 <= size; i += 8) {
                const uint8_t *b = data + i;
                Process *p = &procs[b[0] & 3];
                VmaClass class = (VmaClass) ((b[0] >> 2) & 7);
                bool mapped = class < _VMA_CLASS_MAX;
                uint64_t pfn = (b[1] | (uint64_t) b[2] << 8) % 4096, run = (uint64_t) b[3] + 1;
                uint64_t flags = b[4] | (uint64_t) b[5] << 8 | (uint64_t) b[6] << 16;
                uint64_t bits = (b[0] & 0x20 ? PM_MMAP_EXCLUSIVE : 0) | (b[0] & 0x40 ? PM_FILE : 0);

                if (b[7] & 0x40)
                        flags |= KPF(KPF_ZERO_PAGE);
                if (mapped) {
                        if (GREEDY_REALLOC(p->vmas.vmas, p->vmas.allocated, p->vmas.n + 1) < 0)
                                abort();
                        p->vmas.vmas[p->vmas.n++] = (Vma) {
                                .start = p->n * PAGE, .end = (p->n + run) * PAGE, .class = class,
                        };
                }
                for (uint64_t k = 0; k < run; k++) {
                        uint64_t f = flags;

                        if (mapped && (b[0] & 0x80)) {  /* swap type 1, offset k */
                                p->entries[p->n++] = PM_SWAP | bits | k << 5 | 1;
                                continue;
                        }
                        if (mapped)
                                p->entries[p->n++] = PM_PRESENT | bits | (pfn + k);
                        if ((flags & KPF(KPF_COMPOUND_HEAD)) && k > 0)
                                f = (f & ~KPF(KPF_COMPOUND_HEAD)) | KPF(KPF_COMPOUND_TAIL);
                        kflags[pfn + k] = f;
                        kcount[pfn + k] = b[7] & 0x3f;
                        if (pfn + k + 1 > kpage_end)
                                kpage_end = pfn + k + 1;
                }
                if (mapped)
                        assert(pagemap_account(p->entries + p->n - run, run, class, &p->expect,
                                               NULL) == 0);
        }
        return kpage_end;
}

static void check_rollup(const SmapsRollup *s, const PagemapCounts *c) {
        const uint64_t *kb = s->kb;
        uint64_t split = kb[SMAPS_PSS_ANON] + kb[SMAPS_PSS_FILE] + kb[SMAPS_PSS_SHMEM];
        uint64_t present = 0, swapped = 0;

        for (VmaClass k = 0; k < VMA_CLASS_HUGETLB; k++) {
                present += c->class[k].present_pages;
                swapped += c->class[k].swapped_pages;
        }
        assert(kb[SMAPS_RSS] == kb[SMAPS_SHARED_CLEAN] + kb[SMAPS_SHARED_DIRTY] +
                                kb[SMAPS_PRIVATE_CLEAN] + kb[SMAPS_PRIVATE_DIRTY]);
        assert(kb[SMAPS_RSS] <= present * PAGE / 1024);
        assert(kb[SMAPS_PSS] <= kb[SMAPS_RSS] && kb[SMAPS_PSS_DIRTY] <= kb[SMAPS_PSS]);
        assert(split <= kb[SMAPS_PSS] && kb[SMAPS_PSS] <= split + 2);
        assert(kb[SMAPS_ANONYMOUS] <= kb[SMAPS_RSS] && kb[SMAPS_KSM] <= kb[SMAPS_RSS]);
        assert(kb[SMAPS_SWAP] == swapped * PAGE / 1024);
}

/* Scans process p as a sweep does; returns what the rollup's end returned. */
static int scan(Process *p, PagemapRollup *rollup, ReadBuf *buf) {
        PagemapOptions o = { .pfns = &p->pfns, .visit = pagemap_rollup_visit,
                             .visit_userdata = rollup };
        PagemapCounts c;
        SmapsRollup s;
        int r;

        pagemap_rollup_begin(rollup, &root);
        r = pagemap_scan(p->dirfd, &p->vmas, &o, buf, &c);
        assert(r == 0);
        assert(c.scanned_pages == p->expect.scanned_pages && !c.truncated);
        for (VmaClass k = 0; k < _VMA_CLASS_MAX; k++)
                assert(memcmp(&c.class[k], &p->expect.class[k], sizeof c.class[k]) == 0);
        r = pagemap_rollup_end(rollup, &s);
        assert(r == 0 || r == -EPERM || r == -ENOMEM);
        if (r == 0)
                check_rollup(&s, &c);
        return r;
}

static void check_truth(const ProcessTruth *t, size_t n_pfns) {
        uint64_t f_split = t->forecast_pss_anon_kb + t->forecast_pss_file_kb +
                           t->forecast_pss_shmem_kb;

        assert(t->uss_kb == t->private_kb);
        assert(t->shared_kb + t->private_kb <= n_pfns * PAGE / 1024);
        assert(t->pss_kb <= t->shared_kb + t->private_kb);
        assert(t->forecast_shared_kb + t->forecast_private_kb == t->shared_kb + t->private_kb);
        assert(t->forecast_exclusive_pages * PAGE / 1024 == t->forecast_private_kb);
        assert(f_split <= t->forecast_pss_kb && t->forecast_pss_kb <= f_split + 2);
        assert(t->forecast_pss_kb <= t->shared_kb + t->private_kb);
}

/* Reconstructs every process (over prev's blocks when not NULL) into truths[] and *group. */
static Reconstruction *reconstruct(const Reconstruction *prev, ProcessTruth truths[PROCESSES],
                                   GroupForecast *group) {
        const uint32_t all[PROCESSES] = { 0, 1, 2, 3 };
        Reconstruction *rec = NULL;
        ProcessTruth t;

        assert(reconstruction_new(&rec, PAGE) == 0);
        for (uint32_t p = 0; p < PROCESSES; p++)
                assert(reconstruction_add(rec, p, procs[p].pfns.pfns, procs[p].pfns.n) == 0);
        assert(reconstruction_finish(rec, &root, prev) == 0);
        for (uint32_t p = 0; p < PROCESSES; p++) {
                assert(reconstruction_compute(rec, p, &truths[p]) == 0);
                check_truth(&truths[p], procs[p].pfns.n);
        }
        assert(reconstruction_compute(rec, PROCESSES, &t) == -ENOENT);
        assert(reconstruction_compute_group(rec, all, PROCESSES, group) == 0);
        return rec;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProcessTruth first[PROCESSES], second[PROCESSES];
        GroupForecast g1, g2;
        PagemapRollup rollup = { .page_size = PAGE };
        ReadBuf buf = READ_BUF_INIT;
        Reconstruction *r1, *r2;
        size_t kpage_end;
        char path[64];

        if (size > 32 * 8)
                return 0;
        setup();
        memset(kflags, 0, sizeof kflags);
        memset(kcount, 0, sizeof kcount);
        kpage_end = decode(data, size);
        fuzz_write("proc/kpageflags", kflags, kpage_end * sizeof(uint64_t));
        fuzz_write("proc/kpagecount", kcount, kpage_end * sizeof(uint64_t));

        for (int p = 0; p < PROCESSES; p++) {
                (void) snprintf(path, sizeof path, "proc/%d/pagemap", p + 1);
                fuzz_write(path, procs[p].entries, procs[p].n * sizeof(uint64_t));
                (void) scan(&procs[p], &rollup, &buf);
        }
        r1 = reconstruct(NULL, first, &g1);
        r2 = reconstruct(r1, second, &g2);
        assert(memcmp(first, second, sizeof first) == 0);
        assert(memcmp(&g1, &g2, sizeof g1) == 0);

        reconstruction_free(r2);
        reconstruction_free(r1);
        pagemap_rollup_done(&rollup);
        read_buf_done(&buf);
        for (int p = 0; p < PROCESSES; p++) {
                vma_list_done(&procs[p].vmas);
                pfn_list_done(&procs[p].pfns);
                procs[p] = (Process) { .dirfd = procs[p].dirfd };
        }
        return 0;
}
