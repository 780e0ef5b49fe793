/* The stop that no sweep can hold. SIGTERM and SIGINT are taken by a thread of their own rather
 * than by the event loop, which is also the sweep loop. The thread raises a flag that the sweep
 * in flight checks between processes, between a process's pagemap reads, and before its
 * reconstruction and its commit (it is then abandoned, storing nothing), and hands the stop to
 * the loop through a file descriptor. A sweep blocked in a read that never returns (a hung file
 * system under the proc root) checks nothing: if the process is still running
 * STOP_DEADLINE_USEC after the signal, the thread logs it and ends the process itself. That
 * loses nothing a crash would not: every committed sweep is in the database's write-ahead
 * log. */
#pragma once

#include <stdatomic.h>
#include <stdbool.h>

#include "time-util.h"

#define STOP_DEADLINE_USEC (3 * USEC_PER_SEC)

/* Starts the thread. SIGTERM and SIGINT must be blocked in every thread already (they are
 * inherited: block them before any thread starts). Returns an fd that becomes readable once a
 * stop was asked (the caller polls it and stops; it need not read it), or -errno. */
int stop_guard_start(void);

/* "SIGTERM" or "SIGINT": which asked for the stop, once the stop fd is readable. */
const char *stop_guard_signal_name(void);

/* Whether SIGTERM or SIGINT asked for a stop: the sweep in flight gives up. False in a process
 * without the guard (--once). */
bool stop_guard_requested(void);

/* The same as a flag a collector can watch without knowing of the guard: non-zero once a stop
 * was asked (PagemapOptions.stop). */
const atomic_int *stop_guard_flag(void);
