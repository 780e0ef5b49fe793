/* Tests for collectors/pagemap-rollup (the stall budget): when a process is read through
 * pagemap, and the smaps_rollup figures derived from hand-built pagemap entries over kpagecount
 * and kpageflags files generated at test time: exclusive anonymous pages without a look-up,
 * shared, file, shmem, KSM, zero and hugetlb pages, swap, PMD-sized runs, a look-up list that
 * overflows, and a reader without PFNs. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kpage.h"
#include "macro.h"
#include "pagemap-rollup.h"
#include "pagemap.h"
#include "proc-root.h"
#include "test.h"

#define P 4096ULL

/* PFNs of the fixture, and their kpagecount and kpageflags. */
static const struct {
        uint64_t pfn, count, flags;
} kpages[] = {
        { 2000, 2, KPF(KPF_ANON) },             /* anon, copy-on-write shared */
        { 3000, 3, 0 },                         /* file, clean, three mappers */
        { 3001, 1, KPF(KPF_DIRTY) },            /* file, dirty, this process only */
        { 4000, 1, KPF(KPF_SWAPBACKED) },       /* shmem */
        { 5000, 0, KPF(KPF_ZERO_PAGE) },        /* the shared zero page */
        { 6000, 5, KPF(KPF_ANON) | KPF(KPF_KSM) }, /* KSM, five mappers */
        { 7000, 1, KPF(KPF_HUGE) },             /* hugetlb (never looked up: class) */
};

static void write_u64_at(int fd, uint64_t index, uint64_t v) {
        ASSERT_TRUE(pwrite(fd, &v, sizeof v, (off_t) (index * sizeof v)) == sizeof v);
}

/* A proc root with kpagecount and kpageflags covering PFNs [0, 20480): the kpages above, and
 * 512 shmem pages from PFN 16384 on (one 2 MiB folio). */
static char *make_root(void) {
        char *dir = test_tmpdir_new("test-pagemap-rollup");
        char path[4096];
        int count_fd, flags_fd;

        snprintf(path, sizeof path, "%s/kpagecount", dir);
        count_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        snprintf(path, sizeof path, "%s/kpageflags", dir);
        flags_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_TRUE(count_fd >= 0 && flags_fd >= 0);
        for (size_t i = 0; i < ELEMENTSOF(kpages); i++) {
                write_u64_at(count_fd, kpages[i].pfn, kpages[i].count);
                write_u64_at(flags_fd, kpages[i].pfn, kpages[i].flags);
        }
        for (uint64_t pfn = 16384; pfn < 16384 + 512; pfn++) {
                write_u64_at(count_fd, pfn, 1);
                write_u64_at(flags_fd, pfn, KPF(KPF_SWAPBACKED) | KPF(KPF_DIRTY));
        }
        write_u64_at(count_fd, 20479, 0);
        write_u64_at(flags_fd, 20479, 0);
        close(count_fd);
        close(flags_fd);
        return dir;
}

static void test_wanted(void) {
        PagemapRollup p = {};

        /* Off by default. */
        ASSERT_FALSE(pagemap_rollup_wanted(&p, UINT64_MAX, UINT64_MAX));

        /* 20 ms at 80 ns a page: 250,000 pages. */
        p.budget_usec = 20000;
        ASSERT_FALSE(pagemap_rollup_wanted(&p, 250000, UINT64_MAX));
        ASSERT_TRUE(pagemap_rollup_wanted(&p, 250001, UINT64_MAX));
        /* The largest mapping bounds the walk; so does the resident size. */
        ASSERT_FALSE(pagemap_rollup_wanted(&p, 1000000, 1000));
        ASSERT_TRUE(pagemap_rollup_wanted(&p, 1000000, 300000));
        ASSERT_FALSE(pagemap_rollup_wanted(&p, 1000, 300000));

        /* Unavailable here: never. */
        p.unavailable = -EPERM;
        ASSERT_FALSE(pagemap_rollup_wanted(&p, UINT64_MAX, UINT64_MAX));
}

static void visit(PagemapRollup *p, const uint64_t *e, size_t n, uint64_t first_page,
                  VmaClass class) {
        ASSERT_INT_EQ(pagemap_rollup_visit(e, n, first_page, class, p), 0);
}

static void test_derive(const ProcRoot *root) {
        const uint64_t anon[] = {
                PM_PRESENT | PM_MMAP_EXCLUSIVE | 1000,  /* exclusive: no look-up */
                PM_PRESENT | PM_MMAP_EXCLUSIVE | 1001,
                PM_PRESENT | PM_MMAP_EXCLUSIVE | 1002,
                PM_PRESENT | 2000,                      /* shared copy-on-write */
                PM_PRESENT | 5000,                      /* zero page: nowhere */
                PM_PRESENT | 6000,                      /* KSM */
                PM_SWAP | (3ULL << 5) | 1,              /* swapped */
                PM_SWAP | PM_GUARD_REGION,              /* guard: not swap */
                0,
        };
        const uint64_t file[] = {
                PM_PRESENT | PM_FILE | 3000,
                PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE | 3001,
        };
        const uint64_t shmem[] = { PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE | 4000 };
        const uint64_t hugetlb[] = { PM_PRESENT | 7000, PM_SWAP | 1 };
        uint64_t thp[512], shmem_thp[512];
        PagemapRollup p = { .budget_usec = 1000, .page_size = P };
        SmapsRollup s;

        for (size_t i = 0; i < 512; i++) {
                thp[i] = PM_PRESENT | PM_MMAP_EXCLUSIVE | (8192 + i);
                shmem_thp[i] = PM_PRESENT | PM_FILE | PM_MMAP_EXCLUSIVE | (16384 + i);
        }

        pagemap_rollup_begin(&p, root);
        visit(&p, anon, ELEMENTSOF(anon), 100, VMA_CLASS_ANON);
        visit(&p, file, ELEMENTSOF(file), 200, VMA_CLASS_SHARED_FILE);
        visit(&p, shmem, ELEMENTSOF(shmem), 300, VMA_CLASS_SHMEM);
        visit(&p, hugetlb, ELEMENTSOF(hugetlb), 400, VMA_CLASS_HUGETLB);
        /* A 2 MiB run, aligned in address and PFN, in two calls. */
        visit(&p, thp, 100, 1024, VMA_CLASS_ANON);
        visit(&p, thp + 100, 412, 1124, VMA_CLASS_ANON);
        /* The same pages one page off in address: no huge page. */
        visit(&p, shmem_thp, 512, 2048 + 1, VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(pagemap_rollup_end(&p, &s), 0);

        /* Rss: 3 + 1 + 1 (KSM) + 2 file + 1 shmem + 512 + 512; the zero page and hugetlb
         * count nowhere. */
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], (3 + 1 + 1 + 2 + 1 + 512 + 512) * 4);
        ASSERT_U64_EQ(s.kb[SMAPS_ANONYMOUS], (3 + 1 + 1 + 512) * 4);
        ASSERT_U64_EQ(s.kb[SMAPS_KSM], 4);
        ASSERT_U64_EQ(s.kb[SMAPS_SWAP], 4);
        ASSERT_U64_EQ(s.kb[SMAPS_ANON_HUGE_PAGES], 2048);
        ASSERT_U64_EQ(s.kb[SMAPS_SHMEM_PMD_MAPPED], 0);
        ASSERT_U64_EQ(s.kb[SMAPS_FILE_PMD_MAPPED], 0);
        /* Private: exclusive entries. Anonymous pages are dirty, file pages as their folio. */
        ASSERT_U64_EQ(s.kb[SMAPS_PRIVATE_DIRTY], (3 + 512 + 1 + 512) * 4);
        ASSERT_U64_EQ(s.kb[SMAPS_PRIVATE_CLEAN], 4);                   /* the shmem page */
        ASSERT_U64_EQ(s.kb[SMAPS_SHARED_DIRTY], (1 + 1) * 4);          /* COW and KSM */
        ASSERT_U64_EQ(s.kb[SMAPS_SHARED_CLEAN], 4);                    /* file, 3 mappers */
        /* Pss in bytes << 12, then >> 22: anon 3 + 512 pages + 1/2 + 1/5; file 1/3 + 1;
         * shmem 1 + 512. */
        uint64_t anon_pss = (515 * P << 12) + (P << 12) / 2 + (P << 12) / 5;
        uint64_t file_pss = (P << 12) / 3 + (P << 12);
        uint64_t shmem_pss = 513 * P << 12;
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_ANON], anon_pss >> 22);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_FILE], file_pss >> 22);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_SHMEM], shmem_pss >> 22);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS], (anon_pss + file_pss + shmem_pss) >> 22);
        /* Dirty: all anonymous, the dirty file page, the shmem huge page's pages. */
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_DIRTY],
                      (anon_pss + (P << 12) + (512 * P << 12)) >> 22);
        /* What is not derived is absent, not zero. */
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_RSS));
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_ANON_HUGE_PAGES));
        ASSERT_FALSE(smaps_rollup_has(&s, SMAPS_REFERENCED));
        ASSERT_FALSE(smaps_rollup_has(&s, SMAPS_SWAP_PSS));
        ASSERT_FALSE(smaps_rollup_has(&s, SMAPS_LOCKED));
        ASSERT_FALSE(smaps_rollup_has(&s, SMAPS_LAZYFREE));
        ASSERT_FALSE(smaps_rollup_has(&s, SMAPS_SHARED_HUGETLB));

        /* The shmem folio at an aligned address: ShmemPmdMapped, told by its flags. */
        pagemap_rollup_begin(&p, root);
        visit(&p, shmem_thp, 512, 2048, VMA_CLASS_FILE);
        ASSERT_INT_EQ(pagemap_rollup_end(&p, &s), 0);
        ASSERT_U64_EQ(s.kb[SMAPS_SHMEM_PMD_MAPPED], 2048);
        ASSERT_U64_EQ(s.kb[SMAPS_FILE_PMD_MAPPED], 0);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_SHMEM], 2048);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 2048);

        /* More pages to look up than the list holds at once (64Ki), most past the last PFN
         * (no struct page: nowhere), the COW page among them every time. */
        pagemap_rollup_begin(&p, root);
        for (int round = 0; round < 40; round++) {
                uint64_t many[4096];

                for (size_t i = 0; i < ELEMENTSOF(many); i++)
                        many[i] = PM_PRESENT | (i == 0 ? 2000 : 100000 + round * 4096 + i);
                visit(&p, many, ELEMENTSOF(many), (uint64_t) round * 4096 + 7, VMA_CLASS_ANON);
        }
        ASSERT_INT_EQ(pagemap_rollup_end(&p, &s), 0);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 40 * 4);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS], 40 * 2);
        ASSERT_U64_EQ(s.kb[SMAPS_SHARED_DIRTY], 40 * 4);
        ASSERT_TRUE(p.allocated_pending <= 2 * 64 * 1024);

        /* A reader without PFNs: unavailable from then on. */
        const uint64_t hidden[] = { PM_PRESENT | PM_MMAP_EXCLUSIVE, PM_PRESENT };
        pagemap_rollup_begin(&p, root);
        visit(&p, hidden, ELEMENTSOF(hidden), 0, VMA_CLASS_ANON);
        ASSERT_INT_EQ(pagemap_rollup_end(&p, &s), -EPERM);
        ASSERT_INT_EQ(p.unavailable, -EPERM);
        ASSERT_FALSE(pagemap_rollup_wanted(&p, UINT64_MAX, UINT64_MAX));

        pagemap_rollup_done(&p);
        ASSERT_U64_EQ(p.budget_usec, 1000);     /* settings survive */
        ASSERT_INT_EQ(p.unavailable, 0);
}

static void test_no_kpage_files(const char *dir) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        const uint64_t shared[] = { PM_PRESENT | 2000 };
        PagemapRollup p = { .budget_usec = 1000 };
        SmapsRollup s;

        ASSERT_INT_EQ(proc_root_open(&root, dir, NULL, NULL), 0);
        pagemap_rollup_begin(&p, &root);
        visit(&p, shared, 1, 0, VMA_CLASS_ANON);
        ASSERT_INT_EQ(pagemap_rollup_end(&p, &s), -ENOENT);
        ASSERT_INT_EQ(p.unavailable, -ENOENT);
        pagemap_rollup_done(&p);
}

static void test_fixtures(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        char *dir = make_root();
        char *empty = test_tmpdir_new("test-pagemap-rollup-empty");

        test_wanted();
        ASSERT_INT_EQ(proc_root_open(&root, dir, NULL, NULL), 0);
        test_derive(&root);
        test_no_kpage_files(empty);
        test_tmpdir_remove(dir);
        test_tmpdir_remove(empty);
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
                { NULL, test_fixtures },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
