/* Minimal typed assertions for unit tests: each failure prints file:line, both expressions and
 * both values, and the test continues; test_exit() returns 1 if anything failed. A test that
 * cannot run here calls test_skip() (exit 77, meson's "skipped"). */
#pragma once

#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned test_failures_;
static unsigned test_checks_;

#define TEST_FAIL_(fmt, ...)                                                                     \
        do {                                                                                     \
                fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);            \
                test_failures_++;                                                                \
        } while (0)

#define ASSERT_TRUE(e)                                                                           \
        do {                                                                                     \
                test_checks_++;                                                                  \
                if (!(e))                                                                        \
                        TEST_FAIL_("ASSERT_TRUE(%s) failed", #e);                                \
        } while (0)
#define ASSERT_FALSE(e) ASSERT_TRUE(!(e))

#define ASSERT_INT_EQ(a, b)                                                                      \
        do {                                                                                     \
                long long a_ = (long long) (a), b_ = (long long) (b);                            \
                test_checks_++;                                                                  \
                if (a_ != b_)                                                                    \
                        TEST_FAIL_("%s == %s failed: %lld != %lld", #a, #b, a_, b_);             \
        } while (0)

#define ASSERT_U64_EQ(a, b)                                                                      \
        do {                                                                                     \
                uint64_t a_ = (uint64_t) (a), b_ = (uint64_t) (b);                               \
                test_checks_++;                                                                  \
                if (a_ != b_)                                                                    \
                        TEST_FAIL_("%s == %s failed: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_);  \
        } while (0)

#define ASSERT_DOUBLE_NEAR(a, b, eps)                                                            \
        do {                                                                                     \
                double a_ = (double) (a), b_ = (double) (b);                                     \
                test_checks_++;                                                                  \
                if (!(fabs(a_ - b_) <= (eps)))                                                   \
                        TEST_FAIL_("%s ≈ %s failed: %.6f != %.6f", #a, #b, a_, b_);              \
        } while (0)

#define ASSERT_STR_EQ(a, b)                                                                      \
        do {                                                                                     \
                const char *a_ = (a), *b_ = (b);                                                 \
                test_checks_++;                                                                  \
                if (!a_ || !b_ || strcmp(a_, b_) != 0)                                           \
                        TEST_FAIL_("%s == %s failed: \"%s\" != \"%s\"", #a, #b,                  \
                                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                      \
        } while (0)

#define ASSERT_NULL(a) ASSERT_TRUE((a) == NULL)

/* Prints a summary; returns the process exit code. */
static inline int test_exit(void) {
        fprintf(stderr, "%u checks, %u failed\n", test_checks_, test_failures_);
        return test_failures_ ? 1 : (test_checks_ ? 0 : 1);
}

static inline void test_skip(const char *why) {
        fprintf(stderr, "skipped: %s\n", why);
        exit(77);
}

static inline int test_remove_one_(const char *path, const struct stat *st, int flag,
                                   struct FTW *ftw) {
        return remove(path);
}

/* A new empty directory for one test, under $TMPDIR (default /tmp), named after it; the test
 * exits 1 when none can be made. Free with test_tmpdir_remove(). */
static inline char *test_tmpdir_new(const char *name) {
        const char *base = getenv("TMPDIR");
        char *p;

        if (asprintf(&p, "%s/%s-XXXXXX", base && *base ? base : "/tmp", name) < 0 || !mkdtemp(p)) {
                perror("mkdtemp");
                exit(1);
        }
        return p;
}

/* Removes the directory and everything in it, and frees the path. NULL-safe. */
static inline void test_tmpdir_remove(char *path) {
        if (path)
                (void) nftw(path, test_remove_one_, 16, FTW_DEPTH | FTW_PHYS);
        free(path);
}

/* Directory of fixture trees, from meson (-DFIXTURES_DIR). */
#ifndef FIXTURES_DIR
#  define FIXTURES_DIR "tests/fixtures"
#endif
