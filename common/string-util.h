/* Small string helpers used across modules: NULL-safe equality, concatenation, prefixes of
 * buffers that are not NUL-terminated, line splitting for the pure parsers, and cutting text
 * without splitting a UTF-8 character. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* Equal strings, or both NULL. */
static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* NULL or "". */
static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* s starts with prefix (both NUL-terminated). */
static inline bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* s[0..len) equals the NUL-terminated t. */
static inline bool memeq_str(const char *s, size_t len, const char *t) {
        return len == strlen(t) && memcmp(s, t, len) == 0;
}

/* s[0..len) starts with the NUL-terminated prefix. */
static inline bool mem_startswith(const char *s, size_t len, const char *prefix) {
        size_t n = strlen(prefix);

        return len >= n && memcmp(s, prefix, n) == 0;
}

/* Splits the next line off [*p, end): sets *ret_line to its start, returns its length without
 * the '\n', and moves *p past the line and its '\n' (a last line may lack one). For
 * "for (const char *p = buf; p < end; ) { len = next_line(&p, end, &line); … }". */
static inline size_t next_line(const char **p, const char *end, const char **ret_line) {
        const char *nl = memchr(*p, '\n', (size_t) (end - *p));
        size_t len = nl ? (size_t) (nl - *p) : (size_t) (end - *p);

        *ret_line = *p;
        *p += len + (nl ? 1 : 0);
        return len;
}

/* The concatenation of the NULL-terminated list of strings, or NULL on ENOMEM. */
char *strjoin_list(const char *const *parts);
#define strjoin(...) strjoin_list((const char *const[]) { __VA_ARGS__, NULL })

/* The largest n' <= n such that s[0..n') does not end inside a UTF-8 sequence: a cut at n that
 * would split a character moves back to its first byte. Bytes that are not UTF-8 are cut where
 * they fall. */
size_t utf8_prefix(const char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, no surrogates, at
 * most U+10FFFF), or 0 when there is none. s is NUL-terminated: a truncated sequence stops at
 * the NUL, which is not a continuation byte. */
size_t utf8_sequence_length(const char *s);

#define UTF8_REPLACEMENT_CHARACTER "\xef\xbf\xbd"   /* U+FFFD */

/* Whether s is well-formed UTF-8 throughout (utf8_sequence_length()). */
bool utf8_is_valid(const char *s);

/* A copy of s in which every byte that does not start a well-formed UTF-8 sequence is replaced
 * by U+FFFD, so that text a process chose (its comm, its command line) can go where only
 * UTF-8 may: JSON, Prometheus label values. NULL on ENOMEM. */
char *utf8_make_valid(const char *s);

/* The directory part of path ("." when it has none, "/" for "/x"), or NULL on ENOMEM. */
char *path_dirname(const char *path);
