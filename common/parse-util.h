/* Checked number and value parsing. Every parser takes the whole string (no trailing
 * garbage), writes *ret only on success and returns 0, -EBADMSG (not a number of that kind)
 * or -ERANGE (out of range). No atoi, sscanf or bare strtol anywhere else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int safe_atou64(const char *s, uint64_t *ret);
int safe_atoi64(const char *s, int64_t *ret);
int safe_atou32(const char *s, uint32_t *ret);
int safe_atod(const char *s, double *ret);

/* Parses the leading unsigned decimal of buf[0..len) after optional blanks. Returns the number of
 * bytes consumed (> 0), -EBADMSG when no digits, -ERANGE on overflow. For pure parsers that walk
 * a buffer that is not NUL-terminated. */
int parse_u64_prefix(const char *buf, size_t len, uint64_t *ret);

/* The whole token p[0..len) as an unsigned decimal (digits only, nothing before or after), or
 * as hexadecimal digits (either case, no "0x"). For pure parsers that split a buffer into
 * tokens. Returns 0, -EBADMSG (empty, or another character), -ERANGE (past 2^64 - 1). */
int parse_u64_token(const char *p, size_t len, uint64_t *ret);
int parse_hex_u64_token(const char *p, size_t len, uint64_t *ret);

/* A file of one number, as sysfs and cgroupfs print it: buf[0..len) is an unsigned decimal and
 * an optional newline, at most INT64_MAX (what SQLite stores). Returns 0, -EBADMSG, -ERANGE. */
int parse_u64_line(const char *buf, size_t len, uint64_t *ret);

/* "yes/no/true/false/1/0/on/off" → bool. */
int parse_boolean(const char *s, bool *ret);

/* Durations: a plain number is seconds; suffixes "ms", "s", "min"/"m", "h", "d", "w" are
 * accepted, e.g. "90s", "5min", "7d". Result in microseconds; 0 is allowed. */
int parse_duration_usec(const char *s, uint64_t *ret);

/* Sizes in bytes: a plain number is bytes; suffixes K, M, G, T (powers of 1024, optionally
 * followed by "iB" or "B") are accepted, e.g. "64G", "512MiB". */
int parse_size_bytes(const char *s, uint64_t *ret);

/* "ADDR:PORT" or "[ADDR6]:PORT" with a numeric address. Port 0 is accepted (ephemeral). The
 * address is copied into addr (size addr_size). */
int parse_listen_address(const char *s, char *addr, size_t addr_size, uint16_t *ret_port);
