/* Tests for common/parse-util: every checked parser on good values, the limits of each type,
 * trailing garbage, blanks, signs and overflow, and that *ret is written only on success; and
 * for the UTF-8 helpers of common/string-util that make a process's bytes printable. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "string-util.h"
#include "time-util.h"
#include "test.h"

static void test_atou64(void) {
        static const struct {
                const char *s;
                int r;
                uint64_t v;
        } cases[] = {
                { "0", 0, 0 },
                { "42", 0, 42 },
                { "007", 0, 7 },
                { "18446744073709551615", 0, UINT64_MAX },
                { "18446744073709551616", -ERANGE, 0 },
                { "99999999999999999999999", -ERANGE, 0 },
                { "", -EBADMSG, 0 },
                { " 1", -EBADMSG, 0 },
                { "1 ", -EBADMSG, 0 },
                { "-1", -EBADMSG, 0 },
                { "+1", -EBADMSG, 0 },
                { "1x", -EBADMSG, 0 },
                { "0x10", -EBADMSG, 0 },
                { "1.5", -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;

                ASSERT_INT_EQ(safe_atou64(cases[i].s, &v), cases[i].r);
                ASSERT_U64_EQ(v, cases[i].r == 0 ? cases[i].v : 12345);
        }
        ASSERT_INT_EQ(safe_atou64(NULL, &(uint64_t) { 0 }), -EBADMSG);
}

static void test_atoi64(void) {
        static const struct {
                const char *s;
                int r;
                int64_t v;
        } cases[] = {
                { "0", 0, 0 },
                { "-1", 0, -1 },
                { "9223372036854775807", 0, INT64_MAX },
                { "-9223372036854775808", 0, INT64_MIN },
                { "9223372036854775808", -ERANGE, 0 },
                { "-9223372036854775809", -ERANGE, 0 },
                { "-", -EBADMSG, 0 },
                { "--1", -EBADMSG, 0 },
                { " -1", -EBADMSG, 0 },
                { "1e3", -EBADMSG, 0 },
                { "", -EBADMSG, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int64_t v = 12345;

                ASSERT_INT_EQ(safe_atoi64(cases[i].s, &v), cases[i].r);
                ASSERT_INT_EQ(v, cases[i].r == 0 ? cases[i].v : 12345);
        }
}

static void test_atou32(void) {
        uint32_t v = 7;

        ASSERT_INT_EQ(safe_atou32("4294967295", &v), 0);
        ASSERT_U64_EQ(v, UINT32_MAX);
        v = 7;
        ASSERT_INT_EQ(safe_atou32("4294967296", &v), -ERANGE);
        ASSERT_INT_EQ(safe_atou32("-1", &v), -EBADMSG);
        ASSERT_INT_EQ(safe_atou32("12a", &v), -EBADMSG);
        ASSERT_INT_EQ(v, 7);
}

static void test_atod(void) {
        double d = 9;

        ASSERT_INT_EQ(safe_atod("1.5", &d), 0);
        ASSERT_DOUBLE_NEAR(d, 1.5, 1e-12);
        ASSERT_INT_EQ(safe_atod("-0.25", &d), 0);
        ASSERT_DOUBLE_NEAR(d, -0.25, 1e-12);
        ASSERT_INT_EQ(safe_atod("3", &d), 0);
        ASSERT_DOUBLE_NEAR(d, 3, 1e-12);
        d = 9;
        ASSERT_INT_EQ(safe_atod("", &d), -EBADMSG);
        ASSERT_INT_EQ(safe_atod(" 1", &d), -EBADMSG);
        ASSERT_INT_EQ(safe_atod("1.5x", &d), -EBADMSG);
        ASSERT_INT_EQ(safe_atod("nan", &d), -EBADMSG);
        ASSERT_INT_EQ(safe_atod("inf", &d), -EBADMSG);
        ASSERT_INT_EQ(safe_atod("1e999", &d), -ERANGE);
        ASSERT_DOUBLE_NEAR(d, 9, 0);
}

static void test_u64_prefix(void) {
        uint64_t v = 5;

        ASSERT_INT_EQ(parse_u64_prefix("1234 kB", 7, &v), 4);
        ASSERT_U64_EQ(v, 1234);
        ASSERT_INT_EQ(parse_u64_prefix("   42x", 6, &v), 5);
        ASSERT_U64_EQ(v, 42);
        ASSERT_INT_EQ(parse_u64_prefix("\t7", 2, &v), 2);
        ASSERT_U64_EQ(v, 7);
        /* stops at len even when more digits follow */
        ASSERT_INT_EQ(parse_u64_prefix("123456", 3, &v), 3);
        ASSERT_U64_EQ(v, 123);
        ASSERT_INT_EQ(parse_u64_prefix("18446744073709551615", 20, &v), 20);
        ASSERT_U64_EQ(v, UINT64_MAX);
        v = 5;
        ASSERT_INT_EQ(parse_u64_prefix("18446744073709551616", 20, &v), -ERANGE);
        ASSERT_INT_EQ(parse_u64_prefix("   ", 3, &v), -EBADMSG);
        ASSERT_INT_EQ(parse_u64_prefix("kB", 2, &v), -EBADMSG);
        ASSERT_INT_EQ(parse_u64_prefix("-1", 2, &v), -EBADMSG);
        ASSERT_INT_EQ(parse_u64_prefix("1", 0, &v), -EBADMSG);
        ASSERT_U64_EQ(v, 5);
}

static void test_boolean(void) {
        static const char *const yes[] = { "1", "yes", "YES", "true", "On" };
        static const char *const no[] = { "0", "no", "False", "off" };
        bool b;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                ASSERT_INT_EQ(parse_boolean(yes[i], &b), 0);
                ASSERT_TRUE(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                ASSERT_INT_EQ(parse_boolean(no[i], &b), 0);
                ASSERT_FALSE(b);
        }
        b = true;
        ASSERT_INT_EQ(parse_boolean("", &b), -EBADMSG);
        ASSERT_INT_EQ(parse_boolean("y", &b), -EBADMSG);
        ASSERT_INT_EQ(parse_boolean("2", &b), -EBADMSG);
        ASSERT_INT_EQ(parse_boolean("yes ", &b), -EBADMSG);
        ASSERT_TRUE(b);
}

static void test_duration(void) {
        static const struct {
                const char *s;
                int r;
                uint64_t usec;
        } cases[] = {
                { "0", 0, 0 },
                { "90", 0, 90000000ULL },
                { "90s", 0, 90000000ULL },
                { "250ms", 0, 250000ULL },
                { "5min", 0, 300000000ULL },
                { "5m", 0, 300000000ULL },
                { "2h", 0, 7200000000ULL },
                { "7d", 0, 604800000000ULL },
                { "1w", 0, 604800000000ULL },
                { "", -EBADMSG, 0 },
                { "s", -EBADMSG, 0 },
                { " 5s", -EBADMSG, 0 },
                { "5 s", -EBADMSG, 0 },
                { "5x", -EBADMSG, 0 },
                { "-5s", -EBADMSG, 0 },
                { "1.5s", -EBADMSG, 0 },
                { "99999999999999w", -ERANGE, 0 },
                { "18446744073709551616", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 1;

                if (parse_duration_usec(cases[i].s, &v) != cases[i].r)
                        fprintf(stderr, "case '%s'\n", cases[i].s);
                ASSERT_INT_EQ(parse_duration_usec(cases[i].s, &v), cases[i].r);
                ASSERT_U64_EQ(v, cases[i].r == 0 ? cases[i].usec : 1);
        }
}

static void test_listen_address(void) {
        static const struct {
                const char *s;
                int r;
                const char *addr;
                uint16_t port;
        } cases[] = {
                { "127.0.0.1:9100", 0, "127.0.0.1", 9100 },
                { "0.0.0.0:0", 0, "0.0.0.0", 0 },
                { "[::1]:8080", 0, "::1", 8080 },
                { "[fe80::1]:65535", 0, "fe80::1", 65535 },
                { "127.0.0.1:65536", -ERANGE, NULL, 0 },
                { "127.0.0.1", -EBADMSG, NULL, 0 },
                { "127.0.0.1:", -EBADMSG, NULL, 0 },
                { ":80", -EBADMSG, NULL, 0 },
                { "::1:80", -EBADMSG, NULL, 0 },
                { "[::1]80", -EBADMSG, NULL, 0 },
                { "[::1:80", -EBADMSG, NULL, 0 },
                { "host:-1", -EBADMSG, NULL, 0 },
                { "", -EBADMSG, NULL, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char addr[64] = "unchanged";
                uint16_t port = 1;

                ASSERT_INT_EQ(parse_listen_address(cases[i].s, addr, sizeof addr, &port),
                              cases[i].r);
                ASSERT_STR_EQ(addr, cases[i].r == 0 ? cases[i].addr : "unchanged");
                ASSERT_INT_EQ(port, cases[i].r == 0 ? cases[i].port : 1);
        }

        /* The address must fit the caller's buffer. */
        {
                char small[4];
                uint16_t port;

                ASSERT_INT_EQ(parse_listen_address("1.2.3.4:80", small, sizeof small, &port),
                              -EBADMSG);
                ASSERT_INT_EQ(parse_listen_address("1.2:80", small, sizeof small, &port), 0);
                ASSERT_STR_EQ(small, "1.2");
        }
}

static void test_size(void) {
        uint64_t v = 7;

        ASSERT_INT_EQ(parse_size_bytes("0", &v), 0);
        ASSERT_U64_EQ(v, 0);
        ASSERT_INT_EQ(parse_size_bytes("4096", &v), 0);
        ASSERT_U64_EQ(v, 4096);
        ASSERT_INT_EQ(parse_size_bytes("64G", &v), 0);
        ASSERT_U64_EQ(v, 64ULL << 30);
        ASSERT_INT_EQ(parse_size_bytes("512MiB", &v), 0);
        ASSERT_U64_EQ(v, 512ULL << 20);
        ASSERT_INT_EQ(parse_size_bytes("1TB", &v), 0);
        ASSERT_U64_EQ(v, 1ULL << 40);
        ASSERT_INT_EQ(parse_size_bytes("3K", &v), 0);
        ASSERT_U64_EQ(v, 3072);

        v = 7;
        ASSERT_INT_EQ(parse_size_bytes("", &v), -EBADMSG);
        ASSERT_INT_EQ(parse_size_bytes("G", &v), -EBADMSG);
        ASSERT_INT_EQ(parse_size_bytes("12X", &v), -EBADMSG);
        ASSERT_INT_EQ(parse_size_bytes(" 12", &v), -EBADMSG);
        ASSERT_INT_EQ(parse_size_bytes("-1G", &v), -EBADMSG);
        ASSERT_INT_EQ(parse_size_bytes("17179869184G", &v), -ERANGE);   /* 2^34 GiB = 2^64 */
        ASSERT_U64_EQ(v, 7);    /* untouched on failure */
}

static void test_rfc3339(void) {
        static const struct {
                const char *s;
                int r;
                uint64_t usec;
        } cases[] = {
                { "1970-01-01T00:00:00Z", 0, 0 },
                { "2026-11-21T20:19:42Z", 0, 1795292382ULL * 1000000 },
                { "2026-11-21t20:19:42z", 0, 1795292382ULL * 1000000 },
                { "2026-11-21T21:19:42+01:00", 0, 1795292382ULL * 1000000 },
                { "2026-11-21T18:49:42-01:30", 0, 1795292382ULL * 1000000 },
                { "2026-11-21T20:19:42.123Z", 0, 1795292382123000ULL },
                { "2026-11-21T20:19:42.0000019Z", 0, 1795292382000001ULL },
                { "2024-02-29T00:00:00Z", 0, 1709164800ULL * 1000000 },
                { "2025-02-29T00:00:00Z", -EBADMSG, 0 },
                { "2026-13-01T00:00:00Z", -EBADMSG, 0 },
                { "2026-11-21T24:00:00Z", -EBADMSG, 0 },
                { "2026-11-21T20:19:42", -EBADMSG, 0 },
                { "2026-11-21 20:19:42Z", -EBADMSG, 0 },
                { "2026-11-21T20:19:42.Z", -EBADMSG, 0 },
                { "2026-11-21T20:19:42Zx", -EBADMSG, 0 },
                { "2026-11-21T20:19:42+0100", -EBADMSG, 0 },
                { "1795292382", -EBADMSG, 0 },
                { "", -EBADMSG, 0 },
                { "1970-01-01T00:00:00+00:01", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 77;

                ASSERT_INT_EQ(parse_rfc3339_usec(cases[i].s, &v), cases[i].r);
                ASSERT_U64_EQ(v, cases[i].r == 0 ? cases[i].usec : 77);
        }
        ASSERT_INT_EQ(parse_rfc3339_usec(NULL, &(uint64_t) { 0 }), -EBADMSG);
}

static void test_utf8_make_valid(void) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "", "" },
                { "sleep 3600", "sleep 3600" },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
                { "a\xff", "a\xef\xbf\xbd" },                           /* not UTF-8 at all */
                { "\xc3", "\xef\xbf\xbd" },                             /* truncated */
                { "\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd" },             /* overlong "/" */
                { "\xed\xa0\x80x", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx" }, /* surrogate */
                { "\x1b[31m\n", "\x1b[31m\n" },                         /* valid, left as is */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *s = utf8_make_valid(cases[i].in);

                ASSERT_STR_EQ(s, cases[i].out);
                ASSERT_INT_EQ(utf8_is_valid(cases[i].in), strcmp(cases[i].in, cases[i].out) == 0);
                free(s);
        }
}

int main(void) {
        test_utf8_make_valid();
        test_size();
        test_atou64();
        test_atoi64();
        test_atou32();
        test_atod();
        test_u64_prefix();
        test_boolean();
        test_duration();
        test_listen_address();
        test_rfc3339();
        return test_exit();
}
