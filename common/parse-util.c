/* Implementation of common/parse-util.h. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "macro.h"
#include "parse-util.h"

int safe_atou64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EBADMSG;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EBADMSG;
        *ret = v;
        return 0;
}

int safe_atoi64(const char *s, int64_t *ret) {
        long long v;
        char *end;

        if (!s || !(isdigit((unsigned char) s[0]) || (s[0] == '-' && isdigit((unsigned char) s[1]))))
                return -EBADMSG;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0')
                return -EBADMSG;
        *ret = v;
        return 0;
}

int safe_atou32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r;

        r = safe_atou64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int safe_atod(const char *s, double *ret) {
        double v;
        char *end;

        if (!s || !*s || isspace((unsigned char) s[0]))
                return -EBADMSG;
        errno = 0;
        v = strtod(s, &end);
        if (errno == ERANGE)
                return -ERANGE;
        if (*end != '\0' || !isfinite(v))
                return -EBADMSG;
        *ret = v;
        return 0;
}

int parse_u64_prefix(const char *buf, size_t len, uint64_t *ret) {
        uint64_t v = 0;
        size_t i = 0, start;

        while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
                i++;
        start = i;
        for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
                unsigned d = (unsigned) (buf[i] - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        if (i == start)
                return -EBADMSG;
        *ret = v;
        return (int) MIN(i, (size_t) INT_MAX);
}

int parse_u64_token(const char *p, size_t len, uint64_t *ret) {
        uint64_t v;
        int r;

        if (len == 0 || p[0] < '0' || p[0] > '9')
                return -EBADMSG;
        r = parse_u64_prefix(p, len, &v);
        if (r < 0)
                return r;
        if ((size_t) r != len)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int parse_hex_u64_token(const char *p, size_t len, uint64_t *ret) {
        uint64_t v = 0;

        if (len == 0)
                return -EBADMSG;
        for (size_t i = 0; i < len; i++) {
                char c = p[i];
                unsigned d;

                if (c >= '0' && c <= '9')
                        d = (unsigned) (c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned) (c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        d = (unsigned) (c - 'A' + 10);
                else
                        return -EBADMSG;
                if (v > (UINT64_MAX >> 4))
                        return -ERANGE;
                v = (v << 4) | d;
        }
        *ret = v;
        return 0;
}

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "true", "on" };
        static const char *const no[] = { "0", "no", "false", "off" };

        for (size_t i = 0; i < 4; i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EBADMSG;
}

int parse_duration_usec(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } units[] = {
                { "ms", 1000ULL },         { "s", 1000000ULL },        { "sec", 1000000ULL },
                { "m", 60000000ULL },      { "min", 60000000ULL },     { "h", 3600000000ULL },
                { "d", 86400000000ULL },   { "w", 604800000000ULL },   { "", 1000000ULL },
        };
        uint64_t v;
        size_t i = 0;
        int r;

        if (!s)
                return -EBADMSG;
        r = parse_u64_prefix(s, strlen(s), &v);
        if (r < 0)
                return r;
        if (s[0] == ' ' || s[0] == '\t')
                return -EBADMSG;
        i = (size_t) r;
        for (size_t u = 0; u < ELEMENTSOF(units); u++) {
                if (strcmp(s + i, units[u].suffix) != 0)
                        continue;
                if (v > UINT64_MAX / units[u].usec)
                        return -ERANGE;
                *ret = v * units[u].usec;
                return 0;
        }
        return -EBADMSG;
}

int parse_size_bytes(const char *s, uint64_t *ret) {
        static const struct {
                const char *suffix;
                uint64_t factor;
        } units[] = {
                { "", 1 },
                { "B", 1 },
                { "K", 1ULL << 10 }, { "KB", 1ULL << 10 }, { "KiB", 1ULL << 10 },
                { "M", 1ULL << 20 }, { "MB", 1ULL << 20 }, { "MiB", 1ULL << 20 },
                { "G", 1ULL << 30 }, { "GB", 1ULL << 30 }, { "GiB", 1ULL << 30 },
                { "T", 1ULL << 40 }, { "TB", 1ULL << 40 }, { "TiB", 1ULL << 40 },
        };
        uint64_t v;
        int r;

        if (!s || s[0] == ' ' || s[0] == '\t')
                return -EBADMSG;
        r = parse_u64_prefix(s, strlen(s), &v);
        if (r < 0)
                return r;
        for (size_t u = 0; u < ELEMENTSOF(units); u++) {
                if (strcmp(s + r, units[u].suffix) != 0)
                        continue;
                if (v > UINT64_MAX / units[u].factor)
                        return -ERANGE;
                *ret = v * units[u].factor;
                return 0;
        }
        return -EBADMSG;
}

int parse_listen_address(const char *s, char *addr, size_t addr_size, uint16_t *ret_port) {
        const char *colon, *host;
        size_t host_len;
        uint32_t port;
        int r;

        if (!s || !*s)
                return -EBADMSG;
        if (s[0] == '[') {
                const char *close = strchr(s, ']');
                if (!close || close[1] != ':')
                        return -EBADMSG;
                host = s + 1;
                host_len = (size_t) (close - host);
                colon = close + 1;
        } else {
                colon = strrchr(s, ':');
                if (!colon || strchr(s, ':') != colon)
                        return -EBADMSG;
                host = s;
                host_len = (size_t) (colon - s);
        }
        if (host_len == 0 || host_len >= addr_size)
                return -EBADMSG;
        r = safe_atou32(colon + 1, &port);
        if (r < 0)
                return -EBADMSG;
        if (port > 65535)
                return -ERANGE;
        memcpy(addr, host, host_len);
        addr[host_len] = '\0';
        *ret_port = (uint16_t) port;
        return 0;
}

int parse_u64_line(const char *buf, size_t len, uint64_t *ret) {
        uint64_t v;
        int r;

        if (len > 0 && buf[len - 1] == '\n')
                len--;
        r = parse_u64_token(buf, len, &v);
        if (r < 0)
                return r;
        if (v > INT64_MAX)
                return -ERANGE;
        *ret = v;
        return 0;
}
