/* Minimal typed assertions for unit tests: each failure prints file:line, both expressions and
 * both values, and the test continues; test_exit() returns 1 if anything failed. A test that
 * cannot run here calls test_skip() (exit 77, meson's "skipped"), which still fails when a check
 * failed before it.
 *
 * Each executable holds groups of checks (test_run()): the default group needs nothing but the
 * fixture trees; "live" reads this machine's /proc and kernel; "root" needs root. meson lists
 * every group as a test of its own, so that what cannot run here skips only itself. */
#pragma once

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* Ends the test as skipped (exit 77), saying why; a failed check before it makes it a
 * failure (exit 1): a skip never hides a failure. */
static inline void test_skip(const char *why) {
        if (test_failures_) {
                fprintf(stderr, "%u checks, %u failed; then could not go on: %s\n", test_checks_,
                        test_failures_, why);
                exit(1);
        }
        fprintf(stderr, "skipped: %s\n", why);
        exit(77);
}

/* Skips unless running as root, naming what needs it. */
static inline void test_require_root(const char *what) {
        char why[256];

        if (geteuid() == 0)
                return;
        (void) snprintf(why, sizeof why, "%s needs root", what);
        test_skip(why);
}

typedef struct TestGroup {
        const char *name;       /* NULL: the default group */
        void (*run)(void);
} TestGroup;

/* Runs the group named by argv[1] (the default group without an argument) and returns the exit
 * code; an unknown group name is a usage error (exit 2). */
static inline int test_run(int argc, char *argv[], const TestGroup *groups, size_t n) {
        const char *want = argc > 1 ? argv[1] : NULL;

        for (size_t i = 0; i < n; i++)
                if ((!want && !groups[i].name) ||
                    (want && groups[i].name && strcmp(want, groups[i].name) == 0)) {
                        groups[i].run();
                        return test_exit();
                }
        fprintf(stderr, "%s: no test group '%s'\n", argv[0], want ? want : "(default)");
        return 2;
}

/* Runs fn as user and group nobody (65534) in a child process when this process is root, so
 * that error paths root would never reach (a directory it may not write) are exercised; runs it
 * in this process otherwise. The child's failed checks count as failures here. */
static inline void test_run_unprivileged(void (*fn)(void *), void *userdata) {
        pid_t pid;
        int status;

        if (geteuid() != 0) {
                fn(userdata);
                return;
        }
        fflush(NULL);
        pid = fork();
        if (pid < 0) {
                perror("fork");
                exit(1);
        }
        if (pid == 0) {
                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0) {
                        perror("dropping privileges");
                        _exit(3);
                }
                fn(userdata);
                fflush(NULL);
                _exit(test_failures_ ? 1 : 0);
        }
        test_checks_++;
        if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "%s:%d: checks run as nobody failed (status %d)\n", __FILE__,
                        __LINE__, status);
                test_failures_++;
        }
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
