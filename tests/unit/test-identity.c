/* Unit tests for compare/identity: mode names, argument normalization (argv[0], digit runs,
 * the 512-byte cut) and the key built for each mode with its fallbacks. */

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "macro.h"
#include "test.h"

static void test_mode_strings(void) {
        static const struct {
                IdentityMode mode;
                const char *name;
        } table[] = {
                { IDENTITY_MODE_EXE_ARGS, "exe-args" },
                { IDENTITY_MODE_EXE, "exe" },
                { IDENTITY_MODE_COMM, "comm" },
                { IDENTITY_MODE_UNIT, "unit" },
        };

        ASSERT_INT_EQ(ELEMENTSOF(table), _IDENTITY_MODE_MAX);
        for (size_t i = 0; i < ELEMENTSOF(table); i++) {
                ASSERT_STR_EQ(identity_mode_to_string(table[i].mode), table[i].name);
                ASSERT_INT_EQ(identity_mode_from_string(table[i].name), table[i].mode);
        }

        ASSERT_NULL(identity_mode_to_string(_IDENTITY_MODE_MAX));
        ASSERT_NULL(identity_mode_to_string(_IDENTITY_MODE_INVALID));
        ASSERT_NULL(identity_mode_to_string((IdentityMode) -1));

        ASSERT_INT_EQ(identity_mode_from_string(NULL), -EINVAL);
        ASSERT_INT_EQ(identity_mode_from_string(""), -EINVAL);
        ASSERT_INT_EQ(identity_mode_from_string("EXE"), -EINVAL);
        ASSERT_INT_EQ(identity_mode_from_string("exe-args "), -EINVAL);
        ASSERT_INT_EQ(identity_mode_from_string("exe_args"), -EINVAL);
        ASSERT_INT_EQ(identity_mode_from_string("pid"), -EINVAL);
}

/* Normalizes cmdline and compares the result with expected. */
static void check_normalize(const char *cmdline, const char *expected, int line) {
        _cleanup_free_ char *s = NULL;
        int r;

        r = identity_normalize_args(cmdline, &s);
        if (r != 0 || !s || strcmp(s, expected) != 0)
                fprintf(stderr, "check_normalize() called from line %d\n", line);
        ASSERT_INT_EQ(r, 0);
        ASSERT_STR_EQ(s, expected);
}
#define CHECK_NORMALIZE(c, e) check_normalize((c), (e), __LINE__)

static void test_normalize(void) {
        /* The header's example. */
        CHECK_NORMALIZE("/usr/bin/foo --pid=1234 -x", "--pid=# -x");

        /* Each run of digits, of any length, becomes one '#'. */
        CHECK_NORMALIZE("foo a1b22c333 4444", "a#b#c# #");
        CHECK_NORMALIZE("foo 0", "#");
        CHECK_NORMALIZE("foo --listen=127.0.0.1:8080", "--listen=#.#.#.#:#");
        CHECK_NORMALIZE("foo /tmp/tmp.XyZ9_20240101T120000", "/tmp/tmp.XyZ#_#T#");

        /* argv[0] is dropped whatever it holds (digits included); only the first word goes. */
        CHECK_NORMALIZE("/usr/bin/python3.11 -m http.server 8000", "-m http.server #");
        CHECK_NORMALIZE("postgres: 14/main: checkpointer", "#/main: checkpointer");

        /* No arguments. */
        CHECK_NORMALIZE("/usr/sbin/sshd", "");
        CHECK_NORMALIZE("", "");
        CHECK_NORMALIZE(NULL, "");
        CHECK_NORMALIZE("/usr/bin/foo ", "");
        CHECK_NORMALIZE("/usr/bin/foo    ", "");

        /* The spaces after argv[0] go with it; spaces inside the arguments are kept. */
        CHECK_NORMALIZE("foo   -a  -b", "-a  -b");
        CHECK_NORMALIZE("foo -a ", "-a ");

        /* Same program, different PIDs, ports and times: same result. */
        {
                _cleanup_free_ char *a = NULL, *b = NULL;

                ASSERT_INT_EQ(identity_normalize_args("/bin/w --pid 17 --port=40001", &a), 0);
                ASSERT_INT_EQ(identity_normalize_args("/bin/w --pid 98765 --port=3", &b), 0);
                ASSERT_STR_EQ(a, b);
        }
}

/* Returns a malloc'ed "argv0 " + n copies of c + tail. */
static char *cmdline_repeat(const char *argv0, char c, size_t n, const char *tail) {
        size_t l0 = strlen(argv0), lt = strlen(tail);
        char *s = malloc(l0 + 1 + n + lt + 1);

        if (!s)
                return NULL;
        memcpy(s, argv0, l0);
        s[l0] = ' ';
        memset(s + l0 + 1, c, n);
        memcpy(s + l0 + 1 + n, tail, lt + 1);
        return s;
}

static bool all_bytes(const char *s, char c, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] != c)
                        return false;
        return true;
}

static void test_normalize_truncation(void) {
        ASSERT_INT_EQ(IDENTITY_ARGS_MAX, 512);

        /* Exactly 512 bytes of arguments: kept whole. */
        {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'a', 512, ""), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
                ASSERT_TRUE(all_bytes(s, 'a', 512));
        }

        /* 513 and 600 bytes: cut to 512. */
        for (size_t n = 513; n <= 600; n += 87) {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'b', n, ""), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
                ASSERT_TRUE(all_bytes(s, 'b', 512));
        }

        /* The cut applies to the normalized text: 600 digits are one '#'. */
        {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", '7', 600, " -v"), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_STR_EQ(s, "# -v");
        }

        /* 511 digit runs "1a" → "#a" are 1022 normalized bytes: cut to 512, ending in 'a'. */
        {
                char c[2 + 2 * 511 + 1] = "x ";
                _cleanup_free_ char *s = NULL;

                for (size_t i = 0; i < 511; i++)
                        memcpy(c + 2 + 2 * i, "1a", 3);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
                ASSERT_TRUE(s[0] == '#' && s[1] == 'a' && s[510] == '#' && s[511] == 'a');
        }

        /* A 2-byte UTF-8 character straddling the cut is dropped whole. */
        {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'a', 511, "\xc3\xa9z"), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 511);
                ASSERT_TRUE(all_bytes(s, 'a', 511));
        }

        /* One that ends exactly at the cut is kept. */
        {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'a', 510, "\xc3\xa9z"), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
                ASSERT_TRUE(all_bytes(s, 'a', 510));
                ASSERT_STR_EQ(s + 510, "\xc3\xa9");
        }

        /* A 4-byte character with 1, 2 or 3 of its bytes before the cut is dropped whole. */
        for (size_t before = 1; before <= 3; before++) {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'a', 512 - before,
                                                        "\xf0\x9f\x98\x80"), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512 - before);
                ASSERT_TRUE(all_bytes(s, 'a', 512 - before));
        }

        /* Invalid UTF-8 (a stray continuation byte after the cut) is cut where it falls. */
        {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'a', 512, "\x80\x80"), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
        }
        {
                /* A lead byte followed by more continuation bytes than UTF-8 allows: only up to
                 * 3 are taken to belong to the character, so this is not a character to drop. */
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", 'a', 507,
                                                        "\xc3\x80\x80\x80\x80\x80\x80"),
                                    *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
        }
        {
                _cleanup_free_ char *c = cmdline_repeat("/bin/x", '\x80', 600, ""), *s = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_normalize_args(c, &s), 0);
                ASSERT_INT_EQ(strlen(s), 512);
        }
}

/* Builds a key and compares it with expected. */
static void check_key(IdentityMode mode, const char *comm, const char *exe, const char *cmdline,
                      const char *unit, const char *expected, int line) {
        _cleanup_free_ char *k = NULL;
        int r;

        r = identity_key_build(mode, comm, exe, cmdline, unit, &k);
        if (r != 0 || !k || strcmp(k, expected) != 0)
                fprintf(stderr, "check_key() called from line %d\n", line);
        ASSERT_INT_EQ(r, 0);
        ASSERT_STR_EQ(k, expected);
}
#define CHECK_KEY(m, c, e, a, u, x) check_key((m), (c), (e), (a), (u), (x), __LINE__)

static void test_key_build(void) {
        static const char exe[] = "/usr/sbin/nginx";
        static const char cmd[] = "nginx: worker process 12 --port=8080";
        static const char unit[] = "nginx.service";

        /* exe-args */
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "nginx", exe, cmd, unit,
                  "exe-args:/usr/sbin/nginx worker process # --port=#");
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "nginx", exe, "/usr/sbin/nginx", unit,
                  "exe-args:/usr/sbin/nginx");
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "nginx", exe, NULL, NULL, "exe-args:/usr/sbin/nginx");
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "nginx", exe, "", NULL, "exe-args:/usr/sbin/nginx");
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "kworker/0:1", NULL, NULL, NULL,
                  "exe-args:[kworker/0:1]");
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "nginx", NULL, cmd, unit,
                  "exe-args:[nginx] worker process # --port=#");
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "nginx", "", cmd, unit,
                  "exe-args:[nginx] worker process # --port=#");
        /* Digits in the exe or comm are kept: only the arguments are normalized. */
        CHECK_KEY(IDENTITY_MODE_EXE_ARGS, "python3", "/usr/bin/python3.11", "python3 x.py", NULL,
                  "exe-args:/usr/bin/python3.11 x.py");

        /* exe */
        CHECK_KEY(IDENTITY_MODE_EXE, "nginx", exe, cmd, unit, "exe:/usr/sbin/nginx");
        CHECK_KEY(IDENTITY_MODE_EXE, "nginx", NULL, cmd, unit, "exe:[nginx]");
        CHECK_KEY(IDENTITY_MODE_EXE, "nginx", "", cmd, unit, "exe:[nginx]");

        /* comm */
        CHECK_KEY(IDENTITY_MODE_COMM, "nginx", exe, cmd, unit, "comm:nginx");
        CHECK_KEY(IDENTITY_MODE_COMM, "kthreadd", NULL, NULL, NULL, "comm:kthreadd");
        CHECK_KEY(IDENTITY_MODE_COMM, "worker 12", exe, NULL, NULL, "comm:worker 12");

        /* unit, falling back to exe, then to [comm] */
        CHECK_KEY(IDENTITY_MODE_UNIT, "nginx", exe, cmd, unit, "unit:nginx.service");
        CHECK_KEY(IDENTITY_MODE_UNIT, "nginx", NULL, NULL, unit, "unit:nginx.service");
        CHECK_KEY(IDENTITY_MODE_UNIT, "nginx", exe, cmd, NULL, "unit:/usr/sbin/nginx");
        CHECK_KEY(IDENTITY_MODE_UNIT, "nginx", exe, cmd, "", "unit:/usr/sbin/nginx");
        CHECK_KEY(IDENTITY_MODE_UNIT, "nginx", NULL, cmd, NULL, "unit:[nginx]");

        /* The same program started with other PIDs and ports gets the same key. */
        {
                _cleanup_free_ char *a = NULL, *b = NULL;

                ASSERT_INT_EQ(identity_key_build(IDENTITY_MODE_EXE_ARGS, "w", "/bin/w",
                                                 "/bin/w --pid=100 --port=5000", NULL, &a), 0);
                ASSERT_INT_EQ(identity_key_build(IDENTITY_MODE_EXE_ARGS, "w", "/bin/w",
                                                 "w --pid=31337 --port=6", NULL, &b), 0);
                ASSERT_STR_EQ(a, b);
                ASSERT_STR_EQ(a, "exe-args:/bin/w --pid=# --port=#");
        }

        /* Long arguments: the key holds the exe, a space and at most 512 argument bytes. */
        {
                _cleanup_free_ char *c = cmdline_repeat("x", 'q', 4096, ""), *k = NULL;

                ASSERT_TRUE(c);
                ASSERT_INT_EQ(identity_key_build(IDENTITY_MODE_EXE_ARGS, "x", "/bin/x", c, NULL,
                                                 &k), 0);
                ASSERT_INT_EQ(strlen(k), strlen("exe-args:/bin/x ") + 512);
        }

        /* An invalid mode is refused and *ret left alone. */
        {
                char *k = (char *) "untouched";

                ASSERT_INT_EQ(identity_key_build(_IDENTITY_MODE_MAX, "x", "/bin/x", NULL, NULL,
                                                 &k), -EINVAL);
                ASSERT_STR_EQ(k, "untouched");
                ASSERT_INT_EQ(identity_key_build(_IDENTITY_MODE_INVALID, "x", "/bin/x", NULL,
                                                 NULL, &k), -EINVAL);
                ASSERT_STR_EQ(k, "untouched");
        }
}

int main(void) {
        test_mode_strings();
        test_normalize();
        test_normalize_truncation();
        test_key_build();
        return test_exit();
}
