/* Implementation of common/string-util.h. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "string-util.h"

char *strjoin_list(const char *const *parts) {
        size_t len = 0;
        char *s, *q;

        for (const char *const *p = parts; *p; p++)
                len += strlen(*p);
        s = malloc(len + 1);
        if (!s)
                return NULL;
        q = s;
        for (const char *const *p = parts; *p; p++) {
                size_t l = strlen(*p);

                memcpy(q, *p, l);
                q += l;
        }
        *q = '\0';
        return s;
}

size_t utf8_prefix(const char *s, size_t n) {
        size_t i = n;
        unsigned char lead;
        size_t want;

        /* Back over continuation bytes (10xxxxxx) to the byte that starts the last sequence. */
        while (i > 0 && ((unsigned char) s[i - 1] & 0xC0) == 0x80)
                i--;
        if (i == 0 || !((unsigned char) s[i - 1] & 0x80))
                return n;
        lead = (unsigned char) s[i - 1];
        want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        return n - (i - 1) < want ? i - 1 : n;
}

size_t utf8_sequence_length(const char *str) {
        const unsigned char *s = (const unsigned char *) str;
        uint32_t c;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] < 0xc2)
                return 0;
        if (s[0] < 0xe0) {
                n = 2;
                c = s[0] & 0x1f;
        } else if (s[0] < 0xf0) {
                n = 3;
                c = s[0] & 0x0f;
        } else if (s[0] < 0xf5) {
                n = 4;
                c = s[0] & 0x07;
        } else
                return 0;

        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10ffff ||
            (c >= 0xd800 && c <= 0xdfff))
                return 0;
        return n;
}

bool utf8_is_valid(const char *s) {
        for (size_t l; *s; s += l) {
                l = utf8_sequence_length(s);
                if (l == 0)
                        return false;
        }
        return true;
}

char *utf8_make_valid(const char *s) {
        const char *p;
        char *copy;
        size_t n = 0;

        /* Each invalid byte becomes three bytes at most. */
        copy = malloc(strlen(s) * 3 + 1);
        if (!copy)
                return NULL;
        for (p = s; *p; ) {
                size_t l = utf8_sequence_length(p);

                if (l == 0) {
                        memcpy(copy + n, UTF8_REPLACEMENT_CHARACTER,
                               STRLEN(UTF8_REPLACEMENT_CHARACTER));
                        n += STRLEN(UTF8_REPLACEMENT_CHARACTER);
                        p++;
                } else {
                        memcpy(copy + n, p, l);
                        n += l;
                        p += l;
                }
        }
        copy[n] = '\0';
        return copy;
}

char *path_dirname(const char *path) {
        const char *slash = strrchr(path, '/');

        if (!slash)
                return strdup(".");
        return strndup(path, slash == path ? 1 : (size_t) (slash - path));
}
