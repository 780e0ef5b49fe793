/* The stop that no sweep can hold. SIGTERM and SIGINT are taken by a thread of their own rather
 * than by the event loop, which is also the sweep loop: a sweep blocked in a read that never
 * returns (a hung file system under the proc root, a procfs file whose producer hangs) would
 * never see them. The thread hands the stop to the loop through a file descriptor and, if the
 * process is still running STOP_DEADLINE_USEC later, logs what held it and ends the process
 * itself. That loses nothing a crash would not: every committed sweep is in the database's
 * write-ahead log, and the blocked sweep had stored nothing. */
#pragma once

#include <stdint.h>

#include "time-util.h"

#define STOP_DEADLINE_USEC (3 * USEC_PER_SEC)

/* Starts the thread. SIGTERM and SIGINT must be blocked in every thread already (they are
 * inherited: block them before any thread starts). Returns an fd that becomes readable once a
 * stop was asked (the caller polls it and stops; it need not read it), or -errno. */
int stop_guard_start(void);

/* "SIGTERM" or "SIGINT": which asked for the stop, once the stop fd is readable. */
const char *stop_guard_signal_name(void);
