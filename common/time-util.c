/* Implementation of common/time-util.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "time-util.h"

uint64_t now_usec(clockid_t clock) {
        struct timespec ts;

        (void) clock_gettime(clock, &ts);
        return (uint64_t) ts.tv_sec * USEC_PER_SEC + (uint64_t) ts.tv_nsec / 1000;
}

char *format_timestamp_rfc3339(char *buf, size_t size, uint64_t usec) {
        time_t sec = (time_t) (usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&sec, &tm)) {
                snprintf(buf, size, "invalid");
                return buf;
        }
        snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned) ((usec % USEC_PER_SEC) / 1000));
        return buf;
}

/* n decimal digits at *p into *ret, moving *p past them. */
static bool take_digits(const char **p, unsigned n, int *ret) {
        int v = 0;

        for (unsigned i = 0; i < n; i++) {
                char c = (*p)[i];

                if (c < '0' || c > '9')
                        return false;
                v = v * 10 + (c - '0');
        }
        *p += n;
        *ret = v;
        return true;
}

static bool take_char(const char **p, const char *allowed) {
        if (**p == '\0' || !strchr(allowed, **p))
                return false;
        (*p)++;
        return true;
}

int parse_rfc3339_usec(const char *s, uint64_t *ret) {
        static const int days_in_month[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int year, month, day, hour, minute, second, off_h = 0, off_m = 0, sign = 0;
        uint64_t usec = 0, scale = 100000;
        const char *p = s;
        struct tm tm;
        time_t t;

        if (!s || !take_digits(&p, 4, &year) || !take_char(&p, "-") ||
            !take_digits(&p, 2, &month) || !take_char(&p, "-") || !take_digits(&p, 2, &day) ||
            !take_char(&p, "Tt") || !take_digits(&p, 2, &hour) || !take_char(&p, ":") ||
            !take_digits(&p, 2, &minute) || !take_char(&p, ":") || !take_digits(&p, 2, &second))
                return -EBADMSG;
        if (*p == '.') {
                p++;
                if (*p < '0' || *p > '9')
                        return -EBADMSG;
                for (; *p >= '0' && *p <= '9'; p++, scale /= 10)
                        usec += (uint64_t) (*p - '0') * scale;
        }
        if (take_char(&p, "Zz"))
                sign = 0;
        else if (*p == '+' || *p == '-') {
                sign = *p++ == '+' ? 1 : -1;
                if (!take_digits(&p, 2, &off_h) || !take_char(&p, ":") ||
                    !take_digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
                        return -EBADMSG;
        } else
                return -EBADMSG;
        if (*p != '\0' || month < 1 || month > 12 || day < 1 || day > days_in_month[month - 1] ||
            hour > 23 || minute > 59 || second > 60)
                return -EBADMSG;

        tm = (struct tm) {
                .tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                .tm_hour = hour, .tm_min = minute, .tm_sec = second,
        };
        t = timegm(&tm);
        if (t == (time_t) -1 || tm.tm_mday != day)      /* 31 February and the like */
                return -EBADMSG;
        t -= sign * (off_h * 3600 + off_m * 60);
        if (t < 0)
                return -ERANGE;
        *ret = (uint64_t) t * USEC_PER_SEC + usec;
        return 0;
}
