/* Tests for collectors/smaps-rollup: the parser on the captured 6.18 rollups, a 4.19 layout
 * with fields absent, truncated/garbage/empty/duplicate/overflowing files from bad/files, and
 * the reader on this process's own /proc/self/smaps_rollup. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fileio.h"
#include "macro.h"
#include "smaps-rollup.h"
#include "test.h"

static int parse_file(const char *rel, SmapsRollup *ret) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        char path[512];
        int r;

        (void) snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, rel);
        r = read_file_at(AT_FDCWD, path, 1 << 20, &b);
        if (r < 0) {
                fprintf(stderr, "cannot read fixture '%s': %s\n", path, strerror(-r));
                return r;
        }
        return smaps_rollup_parse(b.data, b.size, ret);
}

static void test_field_names(void) {
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                ASSERT_TRUE(smaps_field_to_string(f) != NULL);
                ASSERT_INT_EQ(smaps_field_from_string(smaps_field_to_string(f)), f);
        }
        ASSERT_STR_EQ(smaps_field_to_string(SMAPS_PSS_ANON), "Pss_Anon");
        ASSERT_STR_EQ(smaps_field_to_string(SMAPS_SWAP_PSS), "SwapPss");
        ASSERT_NULL(smaps_field_to_string(_SMAPS_FIELD_MAX));
        ASSERT_NULL(smaps_field_to_string(_SMAPS_FIELD_INVALID));
        ASSERT_INT_EQ(smaps_field_from_string("Pss_anon"), _SMAPS_FIELD_INVALID);
        ASSERT_INT_EQ(smaps_field_from_string("Rss "), _SMAPS_FIELD_INVALID);
        ASSERT_INT_EQ(smaps_field_from_string(""), _SMAPS_FIELD_INVALID);
}

/* Golden values: tests/fixtures/README.md, "linux-6.18-page". */
static void test_fixture_6_18(void) {
        SmapsRollup s;

        ASSERT_INT_EQ(parse_file("linux-6.18-page/proc/6119/smaps_rollup", &s), 0);
        ASSERT_U64_EQ(s.present, (1ull << _SMAPS_FIELD_MAX) - 1);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 1756);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS], 354);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_DIRTY], 108);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_ANON], 108);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_FILE], 246);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_SHMEM], 0);
        ASSERT_U64_EQ(s.kb[SMAPS_SHARED_CLEAN], 1612);
        ASSERT_U64_EQ(s.kb[SMAPS_PRIVATE_CLEAN], 36);
        ASSERT_U64_EQ(s.kb[SMAPS_PRIVATE_DIRTY], 108);
        ASSERT_U64_EQ(s.kb[SMAPS_REFERENCED], 1756);
        ASSERT_U64_EQ(s.kb[SMAPS_ANONYMOUS], 108);
        ASSERT_U64_EQ(s.kb[SMAPS_LOCKED], 0);
        ASSERT_INT_EQ(s.n_extra, 0);

        ASSERT_INT_EQ(parse_file("linux-6.18-page/proc/6121/smaps_rollup", &s), 0);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 8172);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS], 6422);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_ANON], 2772);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS_FILE], 3650);
        ASSERT_U64_EQ(s.kb[SMAPS_PRIVATE_CLEAN], 3232);
        /* Pss = Pss_Anon + Pss_File + Pss_Shmem in the kernel's own figures. */
        ASSERT_U64_EQ(s.kb[SMAPS_PSS],
                      s.kb[SMAPS_PSS_ANON] + s.kb[SMAPS_PSS_FILE] + s.kb[SMAPS_PSS_SHMEM]);
}

static void test_fixture_4_19(void) {
        static const SmapsField absent[] = { SMAPS_PSS_DIRTY, SMAPS_PSS_ANON, SMAPS_PSS_FILE,
                                             SMAPS_PSS_SHMEM, SMAPS_KSM, SMAPS_FILE_PMD_MAPPED };
        SmapsRollup s;

        ASSERT_INT_EQ(parse_file("linux-4.19-old/proc/6119/smaps_rollup", &s), 0);
        for (size_t i = 0; i < ELEMENTSOF(absent); i++) {
                ASSERT_FALSE(smaps_rollup_has(&s, absent[i]));
                ASSERT_U64_EQ(s.kb[absent[i]], 0);
        }
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_RSS));
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_SWAP_PSS));
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_LOCKED));
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 1756);
        ASSERT_U64_EQ(s.kb[SMAPS_PSS], 354);
        ASSERT_INT_EQ(__builtin_popcount(s.present), _SMAPS_FIELD_MAX - (int) ELEMENTSOF(absent));
}

static void test_bad_files(void) {
        static const struct {
                const char *name;
                int r;
        } cases[] = {
                { "bad/files/smaps_rollup-truncated", -EBADMSG },
                { "bad/files/smaps_rollup-garbage", -EBADMSG },
                { "bad/files/smaps_rollup-empty", -ENODATA },
                { "bad/files/smaps_rollup-duplicate", -EBADMSG },
                { "bad/files/smaps_rollup-overflow", -ERANGE },
                { "bad/files/smaps_rollup-no-header", -EBADMSG },
                { "bad/files/stat-comm-parens", -EBADMSG },
                { "bad/files/meminfo-truncated", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SmapsRollup s;

                /* *ret is untouched on failure. */
                memset(&s, 0xAA, sizeof s);
                ASSERT_INT_EQ(parse_file(cases[i].name, &s), cases[i].r);
                ASSERT_U64_EQ(s.present, 0xAAAAAAAAu);
        }
}

static void test_unknown_fields(void) {
        SmapsRollup s;
        char buf[2048];
        size_t n;

        ASSERT_INT_EQ(parse_file("bad/files/smaps_rollup-unknown", &s), 0);
        ASSERT_INT_EQ(s.n_extra, 1);
        ASSERT_STR_EQ(s.extra[0].name, "Future_Field");
        ASSERT_U64_EQ(s.extra[0].kb, 12);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 1756);

        /* SMAPS_EXTRA_MAX unknown fields fit, one more does not. */
        n = (size_t) snprintf(buf, sizeof buf, "0-1 ---p 00000000 00:00 0 [rollup]\n");
        for (int i = 0; i < SMAPS_EXTRA_MAX; i++)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "X%d: %d kB\n", i, i);
        ASSERT_INT_EQ(smaps_rollup_parse(buf, n, &s), 0);
        ASSERT_INT_EQ(s.n_extra, SMAPS_EXTRA_MAX);
        ASSERT_STR_EQ(s.extra[SMAPS_EXTRA_MAX - 1].name, "X15");
        ASSERT_U64_EQ(s.extra[SMAPS_EXTRA_MAX - 1].kb, 15);
        n += (size_t) snprintf(buf + n, sizeof buf - n, "Y: 1 kB\n");
        ASSERT_INT_EQ(smaps_rollup_parse(buf, n, &s), -EBADMSG);
}

static void test_inline(void) {
        static const struct {
                const char *text;
                int r;
        } cases[] = {
                /* the last line may lack its newline */
                { "0-1 ---p 0 0 [rollup]\nRss: 4 kB", 0 },
                { "0-1 ---p 0 0 [rollup]\nRss:\t4 kB\n", 0 },
                { "0-1 ---p 0 0 [rollup]\n", 0 },
                { "0-1 ---p 0 0 [rollup]", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\nRss: 4 k", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\nRss: 4 kB \n", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\nRss: -4 kB\n", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\nRss:4 kB\n", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\nRss: kB\n", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\n\n", -EBADMSG },
                { "0-1 ---p 0 0 [rollup]\nR ss: 4 kB\n", -EBADMSG },
                /* above INT64_MAX: SQLite cannot store it */
                { "0-1 ---p 0 0 [rollup]\nRss: 18446744073709551615 kB\n", -ERANGE },
                { "0-1 ---p 0 0 [rollup]\nRss: 18446744073709551616 kB\n", -ERANGE },
                { "0-1 ---p 0 0 [rollup]\nAVeryLongFieldNameThatIsLongerThan32: 1 kB\n",
                  -EBADMSG },
                { "0-1 ---p 0 0 [heap]\nRss: 4 kB\n", -EBADMSG },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                SmapsRollup s;
                int r = smaps_rollup_parse(cases[i].text, strlen(cases[i].text), &s);

                if (r != cases[i].r)
                        fprintf(stderr, "case %zu: '%s'\n", i, cases[i].text);
                ASSERT_INT_EQ(r, cases[i].r);
        }

        /* Not NUL-terminated: the parser stays within len. */
        {
                char buf[] = { '0', ' ', '[', 'r', 'o', 'l', 'l', 'u', 'p', ']', '\n',
                               'R', 's', 's', ':', ' ', '7', ' ', 'k', 'B' };
                SmapsRollup s;

                ASSERT_INT_EQ(smaps_rollup_parse(buf, sizeof buf, &s), 0);
                ASSERT_U64_EQ(s.kb[SMAPS_RSS], 7);
                ASSERT_INT_EQ(smaps_rollup_parse(buf, sizeof buf - 1, &s), -EBADMSG);
        }
}

/* This process's own rollup: readable without privileges, and a 6.18 kernel prints every
 * field this build knows. */
static void test_live(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        SmapsRollup s;

        fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                test_skip("/proc/self is not available");
        ASSERT_INT_EQ(smaps_rollup_read(fd, &b, &s), 0);
        ASSERT_TRUE(s.kb[SMAPS_RSS] > 0);
        ASSERT_TRUE(s.kb[SMAPS_PSS] <= s.kb[SMAPS_RSS]);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], s.kb[SMAPS_SHARED_CLEAN] + s.kb[SMAPS_SHARED_DIRTY] +
                                               s.kb[SMAPS_PRIVATE_CLEAN] +
                                               s.kb[SMAPS_PRIVATE_DIRTY]);
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_PSS_ANON));
        ASSERT_TRUE(smaps_rollup_has(&s, SMAPS_KSM));
        ASSERT_INT_EQ(s.n_extra, 0);
}

/* A figure SQLite cannot store (above INT64_MAX) is out of range, so the process is counted as
 * malformed rather than failing the whole sweep at insert. */
static void test_beyond_int64(void) {
        static const char text[] =
                "00400000-7ffc00000000 ---p 00000000 00:00 0                          [rollup]\n"
                "Rss:            9300000000000000000 kB\n";
        static const char edge[] =
                "00400000-7ffc00000000 ---p 00000000 00:00 0                          [rollup]\n"
                "Rss:            9223372036854775807 kB\n";
        SmapsRollup s;

        ASSERT_INT_EQ(smaps_rollup_parse(text, sizeof text - 1, &s), -ERANGE);
        ASSERT_INT_EQ(smaps_rollup_parse(edge, sizeof edge - 1, &s), 0);
        ASSERT_U64_EQ(s.kb[SMAPS_RSS], 9223372036854775807ULL);
}

static void test_fixtures(void) {
        test_beyond_int64();
        test_field_names();
        test_fixture_6_18();
        test_fixture_4_19();
        test_bad_files();
        test_unknown_fields();
        test_inline();
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
        { NULL, test_fixtures },
        { "live", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
