/* Tests for collectors/thp: the counter parser, thp_stats_read() on the captured 6.18 THP tree
 * (cgroup-hybrid), on the older capture without stats/ directories, on trees without THP, and
 * on generated trees with malformed files and more sizes and counters than are kept; and on
 * this machine's /sys. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "proc-root.h"
#include "test.h"
#include "thp.h"

#define THP_REL "sys/kernel/mm/transparent_hugepage"

/* 43 KiB each: kept off the stack. */
static ThpStats stats;

static int read_tree(const char *tree, ThpStats *ret, unsigned *ret_malformed) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        char sys[512];

        (void) snprintf(sys, sizeof sys, "%s/sys", tree);
        /* The tree stands in for the proc root, which thp_stats_read() does not read. */
        ASSERT_INT_EQ(proc_root_open(&root, tree, sys, NULL), 0);
        return thp_stats_read(&root, &b, ret, ret_malformed);
}

static const ThpSize *size_of(const ThpStats *s, uint64_t kb) {
        for (size_t i = 0; i < s->n; i++)
                if (s->sizes[i].size_kb == kb)
                        return &s->sizes[i];
        return NULL;
}

static void check_sorted(const ThpStats *s) {
        for (size_t i = 1; i < s->n; i++)
                ASSERT_TRUE(s->sizes[i - 1].size_kb < s->sizes[i].size_kb);
        for (size_t i = 0; i < s->n; i++)
                for (size_t k = 1; k < s->sizes[i].n; k++)
                        ASSERT_TRUE(strcmp(s->sizes[i].counters[k - 1].name,
                                           s->sizes[i].counters[k].name) < 0);
}

static void test_counter_parse(void) {
        static const struct {
                const char *text;
                size_t len;
                int r;
                uint64_t v;
        } cases[] = {
                { "0\n", 2, 0, 0 },
                { "306\n", 4, 0, 306 },
                { "306", 3, 0, 306 },                   /* newline missing */
                { "9223372036854775807\n", 20, 0, INT64_MAX },
                { "9223372036854775808\n", 20, -ERANGE, 0 },
                { "18446744073709551616\n", 21, -ERANGE, 0 },
                { "", 0, -EBADMSG, 0 },
                { "\n", 1, -EBADMSG, 0 },
                { " 1\n", 3, -EBADMSG, 0 },
                { "1 \n", 3, -EBADMSG, 0 },
                { "1\n\n", 3, -EBADMSG, 0 },
                { "1\r\n", 3, -EBADMSG, 0 },
                { "-1\n", 3, -EBADMSG, 0 },
                { "+1\n", 3, -EBADMSG, 0 },
                { "0x1\n", 4, -EBADMSG, 0 },
                { "1 2\n", 4, -EBADMSG, 0 },
                { "1\0\n", 3, -EBADMSG, 0 },            /* NUL byte */
                { "\0" "1\n", 3, -EBADMSG, 0 },
                { "never\n", 6, -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 777;
                int r = thp_counter_parse(cases[i].text, cases[i].len, &v);

                if (r != cases[i].r)
                        fprintf(stderr, "case %zu\n", i);
                ASSERT_INT_EQ(r, cases[i].r);
                ASSERT_U64_EQ(v, r == 0 ? cases[i].v : 777);
        }

        ASSERT_TRUE(thp_counter_is_level("nr_anon"));
        ASSERT_TRUE(thp_counter_is_level("nr_anon_partially_mapped"));
        ASSERT_FALSE(thp_counter_is_level("anon_fault_alloc"));
        ASSERT_FALSE(thp_counter_is_level("n"));
        ASSERT_FALSE(thp_counter_is_level("nr"));
}

/* Golden values: tests/fixtures/README.md, "cgroup-hybrid" (THP). */
static void test_captured(void) {
        static const uint64_t sizes[] = { 8, 16, 32, 64, 128, 256, 512, 1024, 2048 };
        const ThpSize *s;
        unsigned malformed = 777;
        uint64_t v;

        ASSERT_INT_EQ(read_tree(FIXTURES_DIR "/cgroup-hybrid", &stats, &malformed), 0);
        ASSERT_INT_EQ(malformed, 0);
        ASSERT_INT_EQ(stats.n, ELEMENTSOF(sizes));
        for (size_t i = 0; i < ELEMENTSOF(sizes) && i < stats.n; i++)
                ASSERT_U64_EQ(stats.sizes[i].size_kb, sizes[i]);
        check_sorted(&stats);

        /* Order 1 has no anon mTHP: no "enabled", and only the shmem, split and swap counters. */
        s = size_of(&stats, 8);
        ASSERT_STR_EQ(s->enabled, "");
        ASSERT_INT_EQ(s->n, 11);
        ASSERT_INT_EQ(thp_size_get(s, "nr_anon", &v), 0);
        ASSERT_INT_EQ(thp_size_get(s, "split_deferred", &v), 0);
        ASSERT_INT_EQ(thp_size_get(s, "shmem_alloc", &v), 1);
        ASSERT_U64_EQ(v, 0);

        for (size_t i = 1; i < stats.n; i++) {
                s = &stats.sizes[i];
                ASSERT_STR_EQ(s->enabled, s->size_kb == 2048 ? "inherit" : "never");
                ASSERT_INT_EQ(s->n, 18);
                ASSERT_STR_EQ(s->counters[0].name, "anon_fault_alloc");
                ASSERT_STR_EQ(s->counters[s->n - 1].name, "zswpout");
        }

        s = size_of(&stats, 2048);
        ASSERT_INT_EQ(thp_size_get(s, "nr_anon", &v), 1);
        ASSERT_U64_EQ(v, 0);
        ASSERT_INT_EQ(thp_size_get(s, "nr_anon_partially_mapped", &v), 1);
        ASSERT_INT_EQ(thp_size_get(s, "anon_fault_alloc", &v), 1);
        ASSERT_U64_EQ(v, 306);
        ASSERT_INT_EQ(thp_size_get(s, "shmem_alloc", &v), 1);
        ASSERT_U64_EQ(v, 68);
        ASSERT_INT_EQ(thp_size_get(s, "split_deferred", &v), 1);
        ASSERT_U64_EQ(v, 68);
        v = 42;
        ASSERT_INT_EQ(thp_size_get(s, "no_such_counter", &v), 0);
        ASSERT_U64_EQ(v, 42);
        s = size_of(&stats, 64);
        ASSERT_INT_EQ(thp_size_get(s, "anon_fault_alloc", &v), 1);
        ASSERT_U64_EQ(v, 204);
}

/* The linux-6.18-page capture has the size directories but no stats/ (captured before). */
static void test_without_stats(void) {
        unsigned malformed = 777;

        ASSERT_INT_EQ(read_tree(FIXTURES_DIR "/linux-6.18-page", &stats, &malformed), 0);
        ASSERT_INT_EQ(malformed, 0);
        ASSERT_INT_EQ(stats.n, 9);
        for (size_t i = 0; i < stats.n; i++) {
                ASSERT_INT_EQ(stats.sizes[i].n, 0);
                ASSERT_STR_EQ(stats.sizes[i].enabled, stats.sizes[i].size_kb == 8 ? "" :
                              stats.sizes[i].size_kb == 2048 ? "inherit" : "never");
        }
        check_sorted(&stats);

        /* No THP directory, and no sys root at all; *ret_malformed may be left out. */
        memset(&stats, 0xAA, sizeof stats);
        ASSERT_INT_EQ(read_tree(FIXTURES_DIR "/cgroup-unified", &stats, &malformed), 0);
        ASSERT_INT_EQ(stats.n, 0);
        memset(&stats, 0xAA, sizeof stats);
        ASSERT_INT_EQ(read_tree(FIXTURES_DIR "/linux-6.18-nopage", &stats, NULL), 0);
        ASSERT_INT_EQ(stats.n, 0);
}

static void put(const char *dir, const char *rel, const char *content) {
        _cleanup_close_ int fd = -EBADF;
        char path[1024];
        size_t len = strlen(content);

        (void) snprintf(path, sizeof path, "%s/%s", dir, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        if (fd >= 0)
                ASSERT_TRUE(write(fd, content, len) == (ssize_t) len);
}

static void mkdirs(const char *dir, const char *rel) {
        char path[1024];

        (void) snprintf(path, sizeof path, "%s/%s", dir, rel);
        for (char *p = path + strlen(dir) + 1; ; p++) {
                if (*p == '/' || *p == '\0') {
                        char c = *p;

                        *p = '\0';
                        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                                ASSERT_INT_EQ(-errno, 0);
                        *p = c;
                        if (c == '\0')
                                break;
                }
        }
}

/* A size without stats/, malformed counters and choices, names that are not sizes. */
static void test_generated(void) {
        char *tmp = test_tmpdir_new("test-thp"), thp[600];
        unsigned malformed = 777;
        const ThpSize *s;
        uint64_t v;

        (void) snprintf(thp, sizeof thp, "%s/" THP_REL, tmp);
        mkdirs(tmp, THP_REL "/hugepages-2048kB/stats/subdir");
        put(thp, "enabled", "always [madvise] never\n");
        put(thp, "hugepages-2048kB/enabled", "always [inherit] madvise never\n");
        put(thp, "hugepages-2048kB/stats/nr_anon", "5\n");
        put(thp, "hugepages-2048kB/stats/split", "x\n");                        /* malformed */
        put(thp, "hugepages-2048kB/stats/swpout", "99999999999999999999\n");    /* range */
        put(thp, "hugepages-2048kB/stats/Bad-Name", "1\n");                     /* not a counter */
        put(thp, "hugepages-2048kB/stats/anon_fault_alloc", "7");
        mkdirs(tmp, THP_REL "/hugepages-64kB");
        put(thp, "hugepages-64kB/enabled", "always inherit madvise [never]\n");   /* no stats/ */
        mkdirs(tmp, THP_REL "/hugepages-128kB/stats");
        put(thp, "hugepages-128kB/enabled", "always [inherit\n");              /* malformed */
        mkdirs(tmp, THP_REL "/hugepages-16kB");
        put(thp, "hugepages-16kB/enabled", "always [inheritinheritinherit] never\n"); /* long */
        mkdirs(tmp, THP_REL "/hugepages-0064kB");                              /* not a size */
        mkdirs(tmp, THP_REL "/hugepages-kB");
        mkdirs(tmp, THP_REL "/hugepages-12MB");
        put(thp, "hugepages-32kB", "a file, not a size\n");
        mkdirs(tmp, THP_REL "/khugepaged");

        ASSERT_INT_EQ(read_tree(tmp, &stats, &malformed), 0);
        ASSERT_INT_EQ(stats.n, 4);
        ASSERT_U64_EQ(stats.sizes[0].size_kb, 16);
        ASSERT_U64_EQ(stats.sizes[1].size_kb, 64);
        ASSERT_U64_EQ(stats.sizes[2].size_kb, 128);
        ASSERT_U64_EQ(stats.sizes[3].size_kb, 2048);
        ASSERT_INT_EQ(malformed, 4);    /* split, swpout, 128kB and 16kB enabled */
        check_sorted(&stats);

        ASSERT_STR_EQ(stats.sizes[0].enabled, "");
        s = size_of(&stats, 64);
        ASSERT_STR_EQ(s->enabled, "never");
        ASSERT_INT_EQ(s->n, 0);
        s = size_of(&stats, 128);
        ASSERT_STR_EQ(s->enabled, "");
        ASSERT_INT_EQ(s->n, 0);
        s = size_of(&stats, 2048);
        ASSERT_STR_EQ(s->enabled, "inherit");
        ASSERT_INT_EQ(s->n, 2);
        ASSERT_STR_EQ(s->counters[0].name, "anon_fault_alloc");
        ASSERT_U64_EQ(s->counters[0].value, 7);
        ASSERT_INT_EQ(thp_size_get(s, "nr_anon", &v), 1);
        ASSERT_U64_EQ(v, 5);
        ASSERT_INT_EQ(thp_size_get(s, "split", &v), 0);
        ASSERT_INT_EQ(thp_size_get(s, "swpout", &v), 0);
        test_tmpdir_remove(tmp);
}

/* More sizes and counters than a ThpStats holds: the smallest sizes are kept, and at most
 * THP_STATS_MAX counters, in name order. */
static void test_caps(void) {
        char *tmp = test_tmpdir_new("test-thp-caps"), thp[600], rel[128];
        unsigned malformed;

        (void) snprintf(thp, sizeof thp, "%s/" THP_REL, tmp);
        for (int i = 0; i < THP_SIZES_MAX + 4; i++) {
                (void) snprintf(rel, sizeof rel, THP_REL "/hugepages-%dkB/stats", 8 << i);
                mkdirs(tmp, rel);
        }
        for (int i = 0; i < THP_STATS_MAX + 2; i++) {
                (void) snprintf(rel, sizeof rel, "hugepages-8kB/stats/c%02d", i);
                put(thp, rel, "1\n");
        }
        ASSERT_INT_EQ(read_tree(tmp, &stats, &malformed), 0);
        ASSERT_INT_EQ(stats.n, THP_SIZES_MAX);
        ASSERT_U64_EQ(stats.sizes[0].size_kb, 8);
        ASSERT_U64_EQ(stats.sizes[THP_SIZES_MAX - 1].size_kb, 8ull << (THP_SIZES_MAX - 1));
        ASSERT_INT_EQ(stats.sizes[0].n, THP_STATS_MAX);
        ASSERT_INT_EQ(stats.sizes[1].n, 0);
        check_sorted(&stats);
        test_tmpdir_remove(tmp);
}

static void test_fixtures(void) {
        test_counter_parse();
        test_captured();
        test_without_stats();
        test_generated();
        test_caps();
}

/* This machine's sizes: as many as its hugepages-*kB directories, each with the counters its
 * stats/ directory lists. */
static void test_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        _cleanup_(closedirp) DIR *d = NULL;
        unsigned malformed, dirs = 0;
        struct dirent *de;

        d = opendir("/sys/kernel/mm/transparent_hugepage");
        if (!d)
                test_skip("no transparent huge pages on this machine");
        while ((de = readdir(d)))
                dirs += strncmp(de->d_name, "hugepages-", 10) == 0;
        if (proc_root_open(&root, "/proc", "/sys", NULL) < 0)
                test_skip("/proc is not available");
        ASSERT_INT_EQ(thp_stats_read(&root, &b, &stats, &malformed), 0);
        ASSERT_INT_EQ(malformed, 0);
        ASSERT_INT_EQ(stats.n, MIN(dirs, (unsigned) THP_SIZES_MAX));
        check_sorted(&stats);
        for (size_t i = 0; i < stats.n; i++) {
                char path[256];
                unsigned files = 0;
                _cleanup_(closedirp) DIR *sd = NULL;

                (void) snprintf(path, sizeof path,
                                "/sys/kernel/mm/transparent_hugepage/hugepages-%llukB/stats",
                                (unsigned long long) stats.sizes[i].size_kb);
                sd = opendir(path);
                while (sd && (de = readdir(sd)))
                        files += de->d_name[0] != '.';
                ASSERT_INT_EQ(stats.sizes[i].n, files);
        }
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
                { NULL, test_fixtures },
                { "live", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
