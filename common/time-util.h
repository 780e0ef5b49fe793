/* Time in microseconds, the one time unit of mapstatd (see STYLE.md: `_usec`). */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define USEC_PER_SEC 1000000ULL
#define USEC_PER_MSEC 1000ULL

uint64_t now_usec(clockid_t clock);

/* Formats a CLOCK_REALTIME microsecond timestamp as RFC 3339 UTC ("2026-11-21T20:19:42.123Z")
 * into buf; returns buf. */
char *format_timestamp_rfc3339(char *buf, size_t size, uint64_t usec);
#define RFC3339_MAX 40

/* Parses an RFC 3339 timestamp ("2026-11-21T20:19:42Z", "2026-11-21T21:19:42.5+01:00"; 'T' and
 * 'Z' in either case) into CLOCK_REALTIME microseconds. Returns 0, -EBADMSG (not that form,
 * or a field out of its range), -ERANGE (before 1970). */
int parse_rfc3339_usec(const char *s, uint64_t *ret);
