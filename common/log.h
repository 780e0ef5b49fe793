/* Logging for daemon/ and web/: one line per message on stderr, with the sd-daemon(3)
 * "<N>" priority prefix when stderr is the journal ($JOURNAL_STREAM matches), otherwise
 * "mapstatd: ". The few events operators search for go through log_struct_id() with a
 * MESSAGE_ID from systemd/mapstatd.catalog. collectors/, storage/ and compare/ do not log. */
#pragma once

#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Decides once whether stderr is the journal; call early in main(). */
void log_open(void);
void log_set_max_level(int level);
int log_get_max_level(void);

/* Writes one message if level <= max level. Returns -abs(error) (or 0 when error is 0), so
 * that callers can "return log_error_errno(r, ...)". "%m" is expanded from error. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
        _printf_(5, 6);

/* Like log_internal(), and also sends the message to the journal with MESSAGE_ID=id (a
 * 32-hex-digit id) and any "KEY=value" fields given in the NULL-terminated list. */
int log_struct_id(int level, const char *message_id, const char *const *fields, const char *fmt,
                  ...) _printf_(4, 5);

#define log_full_errno(level, error, ...) log_internal(level, error, __FILE__, __LINE__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno(level, 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_notice_errno(e, ...) log_full_errno(LOG_NOTICE, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

/* A recurring condition is logged when it starts and when it clears, never per occurrence.
 * Returns true when the state changed (and the caller should log). */
static inline bool log_state_changed(bool *state, bool now) {
        if (*state == now)
                return false;
        *state = now;
        return true;
}
