/* Implementation of common/log.h: stderr with sd-daemon priority prefixes when the journal
 * owns stderr, plus sd_journal_send() for the events that carry a MESSAGE_ID. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <systemd/sd-journal.h>

#include "log.h"

static int max_level = LOG_INFO;
static bool stderr_is_journal = false;

void log_open(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        stderr_is_journal = false;
        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return;
        if (fstat(STDERR_FILENO, &st) < 0)
                return;
        stderr_is_journal = (unsigned long long) st.st_dev == dev &&
                            (unsigned long long) st.st_ino == ino;
}

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

_printf_(3, 0) static void log_write(int level, int error, const char *fmt, va_list ap) {
        char msg[2048];
        int saved = errno;

        errno = error < 0 ? -error : error;
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        if (stderr_is_journal)
                fprintf(stderr, "<%d>%s\n", level, msg);
        else
                fprintf(stderr, "mapstatd: %s\n", msg);
        errno = saved;
}

int log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        va_list ap;

        (void) file;
        (void) line;
        if (level <= max_level) {
                va_start(ap, fmt);
                log_write(level, error, fmt, ap);
                va_end(ap);
        }
        return error == 0 ? 0 : -abs(error);
}

int log_struct_id(int level, const char *message_id, const char *const *fields, const char *fmt,
                  ...) {
        char msg[2048];
        va_list ap;

        if (level > max_level)
                return 0;

        va_start(ap, fmt);
        (void) vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);

        if (!stderr_is_journal) {
                fprintf(stderr, "mapstatd: %s\n", msg);
                return 0;
        }

        /* Through the journal API so that MESSAGE_ID and the extra fields are indexed. Up to
         * eight extra fields; more are a programmer error. */
        struct iovec iov[12];
        char prio[32], mid[64], text[2100];
        size_t n = 0;

        snprintf(prio, sizeof prio, "PRIORITY=%d", level);
        snprintf(mid, sizeof mid, "MESSAGE_ID=%s", message_id);
        snprintf(text, sizeof text, "MESSAGE=%s", msg);
        iov[n++] = (struct iovec) { prio, strlen(prio) };
        iov[n++] = (struct iovec) { mid, strlen(mid) };
        iov[n++] = (struct iovec) { text, strlen(text) };
        iov[n++] = (struct iovec) { (char *) "SYSLOG_IDENTIFIER=mapstatd", STRLEN("SYSLOG_IDENTIFIER=mapstatd") };
        for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                iov[n++] = (struct iovec) { (char *) fields[i], strlen(fields[i]) };

        if (sd_journal_sendv(iov, (int) n) < 0)
                fprintf(stderr, "<%d>%s\n", level, msg);
        return 0;
}
