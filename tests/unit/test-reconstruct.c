/* Tests for collectors/reconstruct: a proc root generated at test time whose sparse kpageflags
 * and kpagecount files are written from the text description below, PFN lists per process
 * given directly, and the truth and forecast of each case worked out by hand (kB, 4 KiB pages).
 * Fixed point as in fs/proc/task_mmu.c: a page adds (4096 << 12) / m = 2^24 / m, the sum is
 * printed >> 22. Plus a live case on this process when /proc/kpageflags is readable. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "pagemap.h"
#include "parse-util.h"
#include "reconstruct.h"
#include "test.h"

/*
 * "FIRST_PFN COUNT FLAGS KPAGECOUNT": COUNT PFNs from FIRST_PFN get FLAGS (comma-separated
 * kpageflags names; "folio" = COMPOUND_HEAD on the first, COMPOUND_TAIL on the others) and
 * KPAGECOUNT. Later lines overwrite earlier ones. PFNs never written read 0 (holes of the
 * sparse files); PFNs past the end of the files read EOF.
 */
static const char kpage_text[] =
        /* (1) W1: anon PMD THP; parent maps all 512 pages, the child 1..511. */
        "1024 512 folio,thp,anon,mmap 2\n"
        "1024 1 head,thp,anon,mmap 1\n"
        /* (2) 64 KiB shmem mTHP mapped twice by one process. */
        "2048 16 folio,thp,swapbacked,mmap 2\n"
        /* (3) rounding: S = 255 × 2 + 257 × 1 = 767, and S = 256 × 2 + 256 × 1 = 768. */
        "3072 512 folio,thp,anon,mmap 1\n"
        "3072 255 tail,thp,anon,mmap 2\n"
        "3072 1 head,thp,anon,mmap 2\n"
        "3584 512 folio,thp,anon,mmap 1\n"
        "3584 255 tail,thp,anon,mmap 2\n"
        "3584 1 head,thp,anon,mmap 2\n"
        "3839 1 tail,thp,anon,mmap 2\n"
        /* (4) small folios: a KSM page of 3 processes, two file pages, a shmem page of 2. */
        "5000 1 anon,ksm,mmap 3\n"
        "5001 2 mmap 1\n"
        "5003 1 swapbacked,mmap 2\n"
        /* (5) an unseen mapper: a small anon page and a 16-page anon folio counted twice. */
        "6000 1 anon,mmap 2\n"
        "6016 16 folio,thp,anon,mmap 2\n"
        /* (6) not accounted: zero page, no struct page, hugetlb, the huge zero page. */
        "7000 1 zero,mmap 0\n"
        "7001 1 nopage 0\n"
        "7002 1 folio,huge,mmap 1\n"
        "7003 1 anon,mmap 1\n"
        "7168 512 folio,thp,zero 0\n"
        /* (7) pages nobody maps: W4 (an anon PMD THP of which only page 0 is mapped), and a
         * 64 KiB page-cache folio of which 4 pages are mapped. */
        "8192 512 folio,thp,anon,mmap 0\n"
        "8192 1 head,thp,anon,mmap 1\n"
        "8704 16 folio,thp,mmap 0\n"
        "8704 1 head,thp,mmap 1\n"
        "8705 3 tail,thp,mmap 1\n";

/* Past the end of both files (the highest PFN written is 8719). */
#define PFN_PAST_EOF 100000

static uint64_t kpf_of(const char *name, bool first) {
        static const struct {
                const char *name;
                int bit;
        } bits[] = {
                { "mmap", 11 }, { "anon", 12 }, { "swapbacked", 14 }, { "head", 15 },
                { "tail", 16 }, { "huge", 17 }, { "nopage", 20 }, { "ksm", 21 }, { "thp", 22 },
                { "zero", 24 },
        };

        if (strcmp(name, "folio") == 0)
                return 1ULL << (first ? 15 : 16);
        for (size_t i = 0; i < ELEMENTSOF(bits); i++)
                if (strcmp(name, bits[i].name) == 0)
                        return 1ULL << bits[i].bit;
        return UINT64_MAX;
}

static int write_kpage(int dirfd, const char *desc) {
        _cleanup_close_ int ffd = -EBADF, cfd = -EBADF;
        _cleanup_free_ char *copy = strdup(desc);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        ffd = openat(dirfd, "kpageflags", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
        cfd = openat(dirfd, "kpagecount", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0400);
        if (ffd < 0 || cfd < 0)
                return -errno;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *tok[4], *s2 = NULL;
                uint64_t first, n, count;
                size_t k = 0;

                for (char *t = strtok_r(line, " ", &s2); t && k < 4; t = strtok_r(NULL, " ", &s2))
                        tok[k++] = t;
                if (k != 4 || safe_atou64(tok[0], &first) < 0 || safe_atou64(tok[1], &n) < 0 ||
                    safe_atou64(tok[3], &count) < 0)
                        return -EINVAL;
                for (uint64_t i = 0; i < n; i++) {
                        _cleanup_free_ char *names = strdup(tok[2]);
                        char *s3 = NULL;
                        uint64_t flags = 0;

                        if (!names)
                                return -ENOMEM;
                        for (char *f = strtok_r(names, ",", &s3); f; f = strtok_r(NULL, ",", &s3)) {
                                uint64_t b = kpf_of(f, i == 0);
                                if (b == UINT64_MAX)
                                        return -EINVAL;
                                flags |= b;
                        }
                        if (pwrite(ffd, &flags, 8, (off_t) ((first + i) * 8)) != 8 ||
                            pwrite(cfd, &count, 8, (off_t) ((first + i) * 8)) != 8)
                                return -EIO;
                }
        }
        return 0;
}

static size_t range(uint64_t *out, uint64_t first, size_t n) {
        for (size_t i = 0; i < n; i++)
                out[i] = first + i;
        return n;
}

static Reconstruction *new_rec(void) {
        Reconstruction *r = NULL;

        ASSERT_INT_EQ(reconstruction_new(&r, 4096), 0);
        return r;
}

DEFINE_CLEANUP_FUNC(Reconstruction, reconstruction_free);

static void test_w1(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        uint64_t parent[512], child[511];
        ProcessTruth t;

        range(parent, 1024, 512);
        range(child, 1025, 511);
        ASSERT_INT_EQ(reconstruction_add(r, 0, parent, 512), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 1, child, 511), 0);
        ASSERT_TRUE(reconstruction_has_pfns(r));
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);

        /* Parent truth: page 0 mapped once (4 kB private, full), 511 pages twice. */
        ASSERT_INT_EQ(reconstruction_compute(r, 0, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 4 + 511 * 2);
        ASSERT_U64_EQ(t.private_kb, 4);
        ASSERT_U64_EQ(t.uss_kb, 4);
        ASSERT_U64_EQ(t.shared_kb, 511 * 4);
        /* Forecast: S = 1 + 511 × 2 = 1023, avg = ⌊(1023 + 256) / 512⌋ = 2 on every page; two
         * processes map the folio → shared, not exclusive. */
        ASSERT_U64_EQ(t.forecast_pss_kb, 512 * 2);
        ASSERT_U64_EQ(t.forecast_pss_anon_kb, 1024);
        ASSERT_U64_EQ(t.forecast_pss_file_kb, 0);
        ASSERT_U64_EQ(t.forecast_pss_shmem_kb, 0);
        ASSERT_U64_EQ(t.forecast_shared_kb, 2048);
        ASSERT_U64_EQ(t.forecast_private_kb, 0);
        ASSERT_U64_EQ(t.forecast_exclusive_pages, 0);
        ASSERT_U64_EQ(t.partially_mapped_folios, 0);
        ASSERT_U64_EQ(t.unseen_pages, 0);       /* both mappers were read */

        /* Child: 511 pages mapped twice, in both kernels. */
        ASSERT_INT_EQ(reconstruction_compute(r, 1, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 511 * 2);
        ASSERT_U64_EQ(t.private_kb, 0);
        ASSERT_U64_EQ(t.shared_kb, 2044);
        ASSERT_U64_EQ(t.forecast_pss_kb, 511 * 2);
        ASSERT_U64_EQ(t.forecast_shared_kb, 2044);
        ASSERT_U64_EQ(t.forecast_private_kb, 0);
        ASSERT_U64_EQ(t.partially_mapped_folios, 1);

        ASSERT_INT_EQ(reconstruction_compute(r, 2, &t), -ENOENT);
}

/* (2) Each of the 16 pages has two entries of the same process. Like smaps, every entry is
 * accounted (Rss 128 kB): truth Pss 32 × 2^23 >> 22 = 64 kB, all 128 kB Shared (count 2);
 * forecast S = 32 = our entries, one owner → all 32 entries Private (W6), avg
 * ⌊(32 + 8) / 16⌋ = 2 → Pss 64 kB, of shmem. */
static void test_mapped_twice(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        uint64_t pfns[32];
        ProcessTruth t;

        range(pfns, 2048, 16);
        range(pfns + 16, 2048, 16);
        ASSERT_INT_EQ(reconstruction_add(r, 7, pfns, 32), 0);
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_compute(r, 7, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 64);
        ASSERT_U64_EQ(t.shared_kb, 128);
        ASSERT_U64_EQ(t.private_kb, 0);
        ASSERT_U64_EQ(t.uss_kb, 0);
        ASSERT_U64_EQ(t.forecast_pss_kb, 64);
        ASSERT_U64_EQ(t.forecast_pss_shmem_kb, 64);
        ASSERT_U64_EQ(t.forecast_pss_anon_kb, 0);
        ASSERT_U64_EQ(t.forecast_private_kb, 128);
        ASSERT_U64_EQ(t.forecast_shared_kb, 0);
        ASSERT_U64_EQ(t.forecast_exclusive_pages, 32);
        ASSERT_U64_EQ(t.partially_mapped_folios, 0);        /* not anon */
}

/* (3) One process maps each folio fully, once. S = 767 → avg 1: Pss 2048; S = 768 → avg 2:
 * Pss 1024. Both have S > 512 entries: a mapper we did not see → Shared. The truth only knows
 * our own single entries: Private 2048, Pss 2048. */
static void test_rounding(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        _cleanup_free_ uint64_t *a = calloc(512, 8), *b = calloc(512, 8);
        ProcessTruth t;

        ASSERT_TRUE(a && b);
        if (!a || !b)
                return;
        range(a, 3072, 512);
        range(b, 3584, 512);
        /* Added out of order. */
        ASSERT_INT_EQ(reconstruction_add(r, 9, b, 512), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 3, a, 512), 0);
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);

        ASSERT_INT_EQ(reconstruction_compute(r, 3, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 2048);
        ASSERT_U64_EQ(t.private_kb, 2048);
        ASSERT_U64_EQ(t.forecast_pss_kb, 2048);
        ASSERT_U64_EQ(t.forecast_shared_kb, 2048);
        ASSERT_U64_EQ(t.forecast_private_kb, 0);
        ASSERT_U64_EQ(t.partially_mapped_folios, 0);

        ASSERT_INT_EQ(reconstruction_compute(r, 9, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 2048);
        ASSERT_U64_EQ(t.forecast_pss_kb, 1024);
        ASSERT_U64_EQ(t.forecast_pss_anon_kb, 1024);
        ASSERT_U64_EQ(t.forecast_shared_kb, 2048);
}

/* (4) Small folios behave alike in both kernels: counts are exact. X maps the KSM page 5000
 * (3 mappers), file pages 5001-5002 and shmem 5003 (2 mappers); Y maps 5000 and 5003; Z 5000.
 * X: 2^24/3 + 2 × 2^24 + 2^24/2 = 5592405 + 33554432 + 8388608 = 47535445 → 11 kB; of it
 * anon 5592405 → 1, file 2^25 → 8, shmem 2^23 → 2. Y: 5592405 + 8388608 = 13981013 → 3.
 * Z: 5592405 → 1. */
static void test_small(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        const uint64_t x[] = { 5000, 5001, 5002, 5003 }, y[] = { 5003, 5000 }, z[] = { 5000 };
        ProcessTruth t;

        ASSERT_INT_EQ(reconstruction_add(r, 0, x, 4), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 1, y, 2), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 2, z, 1), 0);
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);

        ASSERT_INT_EQ(reconstruction_compute(r, 0, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 11);
        ASSERT_U64_EQ(t.private_kb, 8);
        ASSERT_U64_EQ(t.shared_kb, 8);
        ASSERT_U64_EQ(t.forecast_pss_kb, 11);
        ASSERT_U64_EQ(t.forecast_pss_anon_kb, 1);
        ASSERT_U64_EQ(t.forecast_pss_file_kb, 8);
        ASSERT_U64_EQ(t.forecast_pss_shmem_kb, 2);
        ASSERT_U64_EQ(t.forecast_private_kb, 8);
        ASSERT_U64_EQ(t.forecast_shared_kb, 8);
        ASSERT_U64_EQ(t.forecast_exclusive_pages, 2);

        ASSERT_INT_EQ(reconstruction_compute(r, 1, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 3);
        ASSERT_U64_EQ(t.shared_kb, 8);
        ASSERT_U64_EQ(t.private_kb, 0);
        ASSERT_U64_EQ(t.forecast_pss_kb, 3);
        ASSERT_U64_EQ(t.forecast_shared_kb, 8);

        ASSERT_INT_EQ(reconstruction_compute(r, 2, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 1);
        ASSERT_U64_EQ(t.shared_kb, 4);
        ASSERT_U64_EQ(t.forecast_pss_kb, 1);
}

/* (5) U alone maps page 6000 and all of the 16-page folio at 6016, but kpagecount counts two
 * mappings of each page. Truth (our entries only): 17 pages once → Pss 68, Private 68.
 * Forecast: 6000 m = 2 → 2 kB, Shared; the folio S = 32 > 16 entries → Shared, avg
 * ⌊(32 + 8)/16⌋ = 2 → 32 kB. Pss 34, Shared 68. */
static void test_unseen(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        uint64_t u[17];
        ProcessTruth t;

        u[0] = 6000;
        range(u + 1, 6016, 16);
        ASSERT_INT_EQ(reconstruction_add(r, 4, u, 17), 0);
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_compute(r, 4, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 68);
        ASSERT_U64_EQ(t.private_kb, 68);
        ASSERT_U64_EQ(t.shared_kb, 0);
        ASSERT_U64_EQ(t.forecast_pss_kb, 34);
        ASSERT_U64_EQ(t.forecast_shared_kb, 68);
        ASSERT_U64_EQ(t.forecast_private_kb, 0);
        ASSERT_U64_EQ(t.forecast_exclusive_pages, 0);
        ASSERT_U64_EQ(t.partially_mapped_folios, 0);
        /* All 17 pages have a mapper this sweep did not read. */
        ASSERT_U64_EQ(t.unseen_pages, 17);
}

/* (6) Only 7003 counts: zero page, NOPAGE, hugetlb, the huge zero page, a PFN past the end of
 * the files (no struct page) and PFN 0 entries are left out. */
static void test_ignored(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        uint64_t v[520];
        size_t n = 0;
        ProcessTruth t;

        v[n++] = 7000;
        v[n++] = 7001;
        v[n++] = 7002;
        v[n++] = 0;
        v[n++] = PFN_PAST_EOF;
        n += range(v + n, 7168, 512);
        v[n++] = 7003;
        ASSERT_INT_EQ(reconstruction_add(r, 0, v, n), 0);
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_compute(r, 0, &t), 0);
        ASSERT_U64_EQ(t.pss_kb, 4);
        ASSERT_U64_EQ(t.private_kb, 4);
        ASSERT_U64_EQ(t.shared_kb, 0);
        ASSERT_U64_EQ(t.forecast_pss_kb, 4);
        ASSERT_U64_EQ(t.forecast_pss_anon_kb, 4);
        ASSERT_U64_EQ(t.forecast_private_kb, 4);
        ASSERT_U64_EQ(t.forecast_shared_kb, 0);
        ASSERT_U64_EQ(t.forecast_exclusive_pages, 1);
}

/* (7) PFNs all 0 (no CAP_SYS_ADMIN): nothing to reconstruct, kpage* are not even opened. */
static void test_no_pfns(const ProcRoot *root, const ProcRoot *empty_root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        _cleanup_(reconstruction_freep) Reconstruction *r2 = new_rec();
        const uint64_t zeros[] = { 0, 0, 0 }, one[] = { 7003 };
        ProcessTruth t;

        ASSERT_INT_EQ(reconstruction_add(r, 0, zeros, 3), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 1, NULL, 0), 0);
        ASSERT_FALSE(reconstruction_has_pfns(r));
        ASSERT_INT_EQ(reconstruction_finish(r, empty_root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_compute(r, 0, &t), 0);
        ASSERT_U64_EQ(t.pss_kb + t.shared_kb + t.private_kb + t.forecast_pss_kb, 0);

        /* With PFNs the files are needed. */
        ASSERT_INT_EQ(reconstruction_add(r2, 0, one, 1), 0);
        ASSERT_TRUE(reconstruction_has_pfns(r2));
        ASSERT_INT_EQ(reconstruction_finish(r2, empty_root, NULL), -ENOENT);
}

/* The cgroup forecast (docs/kernel-semantics.md §5.1): the pages nobody maps of the large
 * folios a group maps, each folio once. (1) W1's folio: every page mapped (page 0 by the
 * parent), nothing to add. (3) the second rounding folio: 256 pages mapped, 256 not. (5) the
 * 16-page anon folio, all mapped. (2) the shmem mTHP, all mapped. A folio made of pages
 * kpagecount says nobody maps is added whole but for what is mapped. */
static void test_group(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        uint64_t a[512], b[511], c[4], d[3];
        const uint32_t both[] = { 0, 1 }, second[] = { 1 }, third[] = { 2 }, twice[] = { 2, 3 },
                unknown[] = { 9 };
        GroupForecast g;

        range(a, 1024, 512);
        range(b, 1025, 511);
        /* Three pages of the 3584 folio, whose first 256 PFNs have kpagecount 2 and the last
         * 256 kpagecount 1: all mapped by somebody. */
        c[0] = 3584;
        c[1] = 3585;
        c[2] = 3840;
        c[3] = 6016;
        d[0] = 2048;
        d[1] = 2049;
        d[2] = 3586;
        ASSERT_INT_EQ(reconstruction_add(r, 0, a, 512), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 1, b, 511), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 2, c, 4), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 3, d, 3), 0);
        ASSERT_INT_EQ(reconstruction_compute_group(r, both, 2, &g), -EINVAL);   /* not finished */
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);

        /* Every page of W1's folio has a mapping: NO adds nothing. */
        ASSERT_INT_EQ(reconstruction_compute_group(r, both, 2, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb, 0);
        ASSERT_U64_EQ(g.partially_mapped_folios, 0);
        ASSERT_INT_EQ(reconstruction_compute_group(r, second, 1, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb, 0);

        /* 3584..4095 all have kpagecount ≥ 1; 6016's 16 pages too. */
        ASSERT_INT_EQ(reconstruction_compute_group(r, third, 1, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb + g.file_mapped_extra_kb, 0);

        /* The same folio seen from two processes of the group counts once; an unknown index is
         * skipped. */
        ASSERT_INT_EQ(reconstruction_compute_group(r, twice, 2, &g), 0);
        ASSERT_U64_EQ(g.partially_mapped_folios, 0);
        ASSERT_INT_EQ(reconstruction_compute_group(r, unknown, 1, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb, 0);
        ASSERT_INT_EQ(reconstruction_compute_group(r, NULL, 0, &g), 0);
}

/* (7) W4 and a partly mapped page-cache folio. */
static void test_group_partial(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec();
        const uint64_t w4[] = { 8192 }, file[] = { 8704, 8705, 8706, 8707 };
        const uint32_t anon_only[] = { 0 }, both[] = { 0, 1 }, file_only[] = { 1 };
        GroupForecast g;

        ASSERT_INT_EQ(reconstruction_add(r, 0, w4, 1), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 1, file, 4), 0);
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);

        ASSERT_INT_EQ(reconstruction_compute_group(r, anon_only, 1, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb, 511 * 4);
        ASSERT_U64_EQ(g.file_mapped_extra_kb, 0);
        ASSERT_U64_EQ(g.partially_mapped_folios, 1);
        ASSERT_INT_EQ(reconstruction_compute_group(r, file_only, 1, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb, 0);
        ASSERT_U64_EQ(g.file_mapped_extra_kb, 12 * 4);
        ASSERT_INT_EQ(reconstruction_compute_group(r, both, 2, &g), 0);
        ASSERT_U64_EQ(g.anon_extra_kb, 2044);
        ASSERT_U64_EQ(g.file_mapped_extra_kb, 48);
        ASSERT_U64_EQ(g.partially_mapped_folios, 2);
}

static void test_misuse(const ProcRoot *root) {
        _cleanup_(reconstruction_freep) Reconstruction *r = new_rec(), *r2 = new_rec();
        const uint64_t one[] = { 7003 };
        ProcessTruth t;

        ASSERT_INT_EQ(reconstruction_new(&(Reconstruction *) { NULL }, 3000), -EINVAL);
        ASSERT_INT_EQ(reconstruction_new(&(Reconstruction *) { NULL }, 16384), -EOPNOTSUPP);
        ASSERT_INT_EQ(reconstruction_new(&(Reconstruction *) { NULL }, 65536), -EOPNOTSUPP);
        ASSERT_INT_EQ(reconstruction_add(r, 1u << 31, one, 1), -EINVAL);
        ASSERT_INT_EQ(reconstruction_add(r, 5, one, 1), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 5, one, 1), -EINVAL);
        ASSERT_INT_EQ(reconstruction_compute(r, 5, &t), -EINVAL);      /* not finished */
        ASSERT_INT_EQ(reconstruction_finish(r, root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 6, one, 1), -EINVAL);      /* finished */

        /* A duplicate that is not the last index added is found by finish. */
        ASSERT_INT_EQ(reconstruction_add(r2, 5, one, 1), 0);
        ASSERT_INT_EQ(reconstruction_add(r2, 2, one, 1), 0);
        ASSERT_INT_EQ(reconstruction_add(r2, 5 , one, 1), 0);
        ASSERT_INT_EQ(reconstruction_finish(r2, root, NULL), -EINVAL);
        ASSERT_NULL(reconstruction_free(NULL));
}

/* This process: 32 private anon pages, written with distinct contents (no KSM merging),
 * without THP. They are mapped once: truth Private 128 kB, and the kernel's own kpagecount
 * agrees (forecast of small folios = the PAGE figures). */
static void test_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(reconstruction_freep) Reconstruction *r = NULL;
        _cleanup_(read_buf_done) ReadBuf bin = READ_BUF_INIT;
        _cleanup_(pfn_list_done) PfnList pfns = {};
        _cleanup_close_ int self = -EBADF, probe = -EBADF;
        const size_t pages = 32, ps = (size_t) sysconf(_SC_PAGESIZE);
        PagemapOptions o = { .pfns = &pfns, .page_size = ps };
        PagemapCounts c;
        ProcessTruth t;
        VmaList one;
        Vma v;
        char *m;

        test_require_root("reading PFNs, kpageflags and kpagecount");
        probe = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
        if (probe < 0)
                test_skip("/proc/kpageflags is not readable");
        ASSERT_INT_EQ(proc_root_open(&root, "/proc", NULL, NULL), 0);
        self = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(self >= 0);

        m = mmap(NULL, pages * ps, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        ASSERT_TRUE(m != MAP_FAILED);
        if (m == MAP_FAILED)
                return;
        (void) madvise(m, pages * ps, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < pages; i++)
                memset(m + i * ps, (int) i + 1, 64);

        v = (Vma) { .start = (uintptr_t) m, .end = (uintptr_t) m + pages * ps,
                    .class = VMA_CLASS_ANON };
        one = (VmaList) { .vmas = &v, .n = 1, .allocated = 1 };
        ASSERT_INT_EQ(pagemap_scan(self, &one, &o, &bin, &c), 0);
        ASSERT_INT_EQ(pfns.n, pages);

        ASSERT_INT_EQ(reconstruction_new(&r, ps), 0);
        ASSERT_INT_EQ(reconstruction_add(r, 0, pfns.pfns, pfns.n), 0);
        ASSERT_TRUE(reconstruction_has_pfns(r));
        ASSERT_INT_EQ(reconstruction_finish(r, &root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_compute(r, 0, &t), 0);
        ASSERT_U64_EQ(t.private_kb, pages * ps / 1024);
        ASSERT_U64_EQ(t.pss_kb, pages * ps / 1024);
        ASSERT_U64_EQ(t.shared_kb, 0);
        ASSERT_U64_EQ(t.forecast_private_kb + t.forecast_shared_kb, pages * ps / 1024);
        ASSERT_TRUE(t.forecast_private_kb >= 128);
        ASSERT_U64_EQ(t.forecast_pss_anon_kb, t.forecast_pss_kb);
        (void) munmap(m, pages * ps);
}

static void set_kpagecount(int dirfd, uint64_t pfn, uint64_t count) {
        _cleanup_close_ int fd = openat(dirfd, "kpagecount", O_WRONLY | O_CLOEXEC);

        ASSERT_TRUE(fd >= 0);
        ASSERT_INT_EQ(pwrite(fd, &count, 8, (off_t) (pfn * 8)), 8);
}

/* With an earlier reconstruction: the blocks whose entries are the same take its kpage* figures
 * and folios, those where an entry came or went are read again. W1's block (1024…1535) stays;
 * the small pages' block (4608…5119) gets page 5002. Then kpagecount changes on disk for a page
 * of each: only the block read again sees it. */
static void test_since(const ProcRoot *root, int dirfd) {
        _cleanup_(reconstruction_freep) Reconstruction *prev = new_rec(), *r = new_rec(),
                *fresh = new_rec();
        uint64_t parent[512], child[511];
        const uint64_t before[] = { 5000, 5001 }, after[] = { 5000, 5001, 5002 };
        ProcessTruth t;

        range(parent, 1024, 512);
        range(child, 1025, 511);
        ASSERT_INT_EQ(reconstruction_add(prev, 0, parent, 512), 0);
        ASSERT_INT_EQ(reconstruction_add(prev, 1, child, 511), 0);
        ASSERT_INT_EQ(reconstruction_add(prev, 2, before, 2), 0);
        ASSERT_INT_EQ(reconstruction_finish(prev, root, NULL), 0);
        ASSERT_INT_EQ(reconstruction_compute(prev, 2, &t), 0);
        ASSERT_U64_EQ(t.unseen_pages, 1);               /* the KSM page 5000: 3 mappers */

        /* Page 1024 now counts 300 mappers (S = 1322: avg 3), page 5001 five. */
        set_kpagecount(dirfd, 1024, 300);
        set_kpagecount(dirfd, 5001, 5);
        for (Reconstruction *x = r; x; x = x == r ? fresh : NULL) {
                ASSERT_INT_EQ(reconstruction_add(x, 0, parent, 512), 0);
                ASSERT_INT_EQ(reconstruction_add(x, 1, child, 511), 0);
                ASSERT_INT_EQ(reconstruction_add(x, 2, after, 3), 0);
        }
        ASSERT_INT_EQ(reconstruction_finish(r, root, prev), 0);
        ASSERT_INT_EQ(reconstruction_finish(fresh, root, NULL), 0);

        /* W1's block taken from prev: the folio and its average 2, as in test_w1. */
        ASSERT_INT_EQ(reconstruction_compute(r, 0, &t), 0);
        ASSERT_U64_EQ(t.forecast_pss_kb, 512 * 2);
        ASSERT_U64_EQ(t.forecast_shared_kb, 2048);
        ASSERT_U64_EQ(t.pss_kb, 4 + 511 * 2);
        ASSERT_INT_EQ(reconstruction_compute(r, 1, &t), 0);
        ASSERT_U64_EQ(t.partially_mapped_folios, 1);
        /* Read again from the files: average 3. */
        ASSERT_INT_EQ(reconstruction_compute(fresh, 0, &t), 0);
        ASSERT_U64_EQ(t.forecast_pss_kb, 512 * 4 / 3);
        /* The small pages' block was read again in both: 5001's five mappers are seen. */
        ASSERT_INT_EQ(reconstruction_compute(r, 2, &t), 0);
        ASSERT_U64_EQ(t.unseen_pages, 2);
        ASSERT_INT_EQ(write_kpage(dirfd, kpage_text), 0);
}

static void test_fixtures(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT, empty = PROC_ROOT_INIT;
        char *tmp = test_tmpdir_new("test-reconstruct"), proc[600], none[600];
        _cleanup_close_ int fd = -EBADF;

        (void) snprintf(proc, sizeof proc, "%s/proc", tmp);
        (void) snprintf(none, sizeof none, "%s/empty", tmp);
        ASSERT_INT_EQ(mkdir(proc, 0755), 0);
        ASSERT_INT_EQ(mkdir(none, 0755), 0);
        fd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        ASSERT_INT_EQ(write_kpage(fd, kpage_text), 0);
        ASSERT_INT_EQ(proc_root_open(&root, proc, NULL, NULL), 0);
        ASSERT_INT_EQ(proc_root_open(&empty, none, NULL, NULL), 0);

        test_w1(&root);
        test_mapped_twice(&root);
        test_rounding(&root);
        test_small(&root);
        test_unseen(&root);
        test_ignored(&root);
        test_no_pfns(&root, &empty);
        test_misuse(&root);
        test_group(&root);
        test_group_partial(&root);
        test_since(&root, fd);                          /* last: it changes kpagecount */
        test_tmpdir_remove(tmp);
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
                { NULL, test_fixtures },
                { "root", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
