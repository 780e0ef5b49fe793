/* Tests for collectors/meminfo: the captured 6.18 file, a 4.19 layout without the newer lines,
 * malformed files from bad/files, and the live /proc/meminfo checked against sysinfo(2). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "fileio.h"
#include "macro.h"
#include "meminfo.h"
#include "proc-root.h"
#include "test.h"

static int parse_file(const char *rel, Meminfo *ret) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        char path[512];
        int r;

        (void) snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, rel);
        r = read_file_at(AT_FDCWD, path, 1 << 20, &b);
        if (r < 0) {
                fprintf(stderr, "cannot read fixture '%s': %s\n", path, strerror(-r));
                return r;
        }
        return meminfo_parse(b.data, b.size, ret);
}

static const MeminfoField *field(const Meminfo *m, const char *name) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->fields[i].name, name) == 0)
                        return &m->fields[i];
        return NULL;
}

/* Golden values: tests/fixtures/README.md, "linux-6.18-page". */
static void test_fixture_6_18(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        Meminfo m;
        uint64_t v;

        ASSERT_INT_EQ(proc_root_open(&root, FIXTURES_DIR "/linux-6.18-page/proc",
                                     FIXTURES_DIR "/linux-6.18-page/sys",
                                     FIXTURES_DIR "/linux-6.18-page/boot"), 0);
        ASSERT_INT_EQ(meminfo_read(&root, &b, &m), 0);
        ASSERT_INT_EQ(m.n, 54);
        ASSERT_STR_EQ(m.fields[0].name, "MemTotal");
        ASSERT_STR_EQ(m.fields[m.n - 1].name, "DirectMap1G");
        ASSERT_INT_EQ(meminfo_get(&m, "MemTotal", &v), 1);
        ASSERT_U64_EQ(v, 24684092);
        ASSERT_INT_EQ(meminfo_get(&m, "AnonPages", &v), 1);
        ASSERT_U64_EQ(v, 24900);
        ASSERT_INT_EQ(meminfo_get(&m, "Mapped", &v), 1);
        ASSERT_U64_EQ(v, 19044);
        ASSERT_INT_EQ(meminfo_get(&m, "Shmem", &v), 1);
        ASSERT_U64_EQ(v, 8856);
        ASSERT_INT_EQ(meminfo_get(&m, "VmallocTotal", &v), 1);
        ASSERT_U64_EQ(v, 34359738367ull);
        ASSERT_INT_EQ(meminfo_get(&m, "Active(anon)", &v), 1);
        ASSERT_INT_EQ(meminfo_get(&m, "KReclaimable", &v), 1);
        ASSERT_TRUE(field(&m, "MemTotal")->is_kb);
        ASSERT_FALSE(field(&m, "HugePages_Total")->is_kb);
        ASSERT_FALSE(field(&m, "HugePages_Surp")->is_kb);
        ASSERT_TRUE(field(&m, "Hugepagesize")->is_kb);
        ASSERT_U64_EQ(field(&m, "Hugepagesize")->value, 2048);

        /* meminfo_get leaves *ret alone when the name is absent. */
        v = 42;
        ASSERT_INT_EQ(meminfo_get(&m, "NoSuchField", &v), 0);
        ASSERT_U64_EQ(v, 42);
        ASSERT_INT_EQ(meminfo_get(&m, "memtotal", &v), 0);
}

static void test_fixture_4_19(void) {
        static const char *const absent[] = { "KReclaimable", "Zswap", "Zswapped",
                                              "SecPageTables", "FileHugePages",
                                              "FilePmdMapped", "Balloon" };
        Meminfo m;
        uint64_t v;

        ASSERT_INT_EQ(parse_file("linux-4.19-old/proc/meminfo", &m), 0);
        ASSERT_INT_EQ(m.n, 47);
        for (size_t i = 0; i < ELEMENTSOF(absent); i++)
                ASSERT_INT_EQ(meminfo_get(&m, absent[i], &v), 0);
        ASSERT_INT_EQ(meminfo_get(&m, "ShmemPmdMapped", &v), 1);
        ASSERT_INT_EQ(meminfo_get(&m, "MemTotal", &v), 1);
        ASSERT_U64_EQ(v, 24684092);
}

static void test_bad_files(void) {
        static const struct {
                const char *name;
                int r;
        } cases[] = {
                { "bad/files/meminfo-truncated", -EBADMSG },
                { "bad/files/meminfo-garbage", -EBADMSG },
                { "bad/files/meminfo-empty", -EBADMSG },
                { "bad/files/meminfo-duplicate", -EBADMSG },
                { "bad/files/meminfo-overflow", -ERANGE },
                { "bad/files/meminfo-no-memtotal", -EBADMSG },
                { "bad/files/smaps_rollup-unknown", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                Meminfo m;

                memset(&m, 0xAA, sizeof m);
                ASSERT_INT_EQ(parse_file(cases[i].name, &m), cases[i].r);
                ASSERT_U64_EQ(m.n, (size_t) 0xAAAAAAAAAAAAAAAAull);
        }
}

static void test_inline(void) {
        static const struct {
                const char *text;
                int r;
        } cases[] = {
                { "MemTotal: 1 kB", 0 },
                { "MemTotal: 1 kB\nHugePages_Total: 0\n", 0 },
                { "MemTotal: 1 kB\n\n", -EBADMSG },
                { "MemTotal: 1 MB\n", -EBADMSG },
                { "MemTotal 1 kB\n", -EBADMSG },
                { "MemTotal:\n", -EBADMSG },
                { "MemTotal: x kB\n", -EBADMSG },
                { "Mem Total: 1 kB\n", -EBADMSG },
                { "MemTotalX: 1 kB\n", -EBADMSG },
                { "MemTotal: 1 kB\nMemTotal: 1 kB\n", -EBADMSG },
        };
        char buf[8192];
        size_t n = 0;
        Meminfo m;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r = meminfo_parse(cases[i].text, strlen(cases[i].text), &m);

                if (r != cases[i].r)
                        fprintf(stderr, "case %zu: '%s'\n", i, cases[i].text);
                ASSERT_INT_EQ(r, cases[i].r);
        }

        /* MEMINFO_MAX lines fit, one more does not. */
        n += (size_t) snprintf(buf + n, sizeof buf - n, "MemTotal: 1 kB\n");
        for (int i = 1; i < MEMINFO_MAX; i++)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "F%d: %d\n", i, i);
        ASSERT_INT_EQ(meminfo_parse(buf, n, &m), 0);
        ASSERT_INT_EQ(m.n, MEMINFO_MAX);
        n += (size_t) snprintf(buf + n, sizeof buf - n, "Extra: 1 kB\n");
        ASSERT_INT_EQ(meminfo_parse(buf, n, &m), -EBADMSG);
}

/* The live file, checked against sysinfo(2), which reports the same totalram. */
static void test_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        struct sysinfo si;
        Meminfo m;
        uint64_t total;

        if (proc_root_open(&root, "/proc", "/sys", "/boot") < 0)
                test_skip("/proc is not available");
        ASSERT_INT_EQ(meminfo_read(&root, &b, &m), 0);
        ASSERT_INT_EQ(meminfo_get(&m, "MemTotal", &total), 1);
        ASSERT_INT_EQ(sysinfo(&si), 0);
        ASSERT_U64_EQ(total, (uint64_t) si.totalram * si.mem_unit / 1024);
        ASSERT_TRUE(m.n > 20);
}

/* A value SQLite cannot store (above INT64_MAX) is out of range, not a failed sweep. */
static void test_beyond_int64(void) {
        static const char text[] = "MemTotal:       9300000000000000000 kB\n";
        Meminfo m;

        ASSERT_INT_EQ(meminfo_parse(text, sizeof text - 1, &m), -ERANGE);
}

static void test_fixtures(void) {
        test_beyond_int64();
        test_fixture_6_18();
        test_fixture_4_19();
        test_bad_files();
        test_inline();
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
        { NULL, test_fixtures },
        { "live", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
