/* Implementation of daemon/stop.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "stop.h"

static int stop_fd = -1;
static atomic_int stop_signal;

static const char *signal_name(int sig) {
        return sig == SIGINT ? "SIGINT" : "SIGTERM";
}

const char *stop_guard_signal_name(void) {
        return signal_name(atomic_load(&stop_signal));
}

bool stop_guard_requested(void) {
        return atomic_load_explicit(&stop_signal, memory_order_relaxed) != 0;
}

const atomic_int *stop_guard_flag(void) {
        return &stop_signal;
}

static void *stop_guard(void *userdata) {
        struct timespec deadline;
        siginfo_t si;
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        while (sigwaitinfo(&set, &si) < 0)
                ;       /* EINTR only: the set is valid and the signals blocked */
        atomic_store(&stop_signal, si.si_signo);
        /* Nothing here may block before the deadline: not the log (a full pipe), not
         * sd_notify() (a full notify socket). The sweep in flight sees the flag; the loop
         * says it has the stop (on_stop()). */
        (void) eventfd_write(stop_fd, 1);

        /* A clean stop ends the process from main() before this wakes up. */
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += STOP_DEADLINE_USEC / USEC_PER_SEC;
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == EINTR)
                ;
        /* Should the warning block too, SIGALRM (not blocked, default action) ends the
         * process a second later. */
        alarm(1);
        log_warning("Still running %.0f s after %s: the sweep loop is blocked in a read or "
                    "write that does not return; exiting without finishing it (committed "
                    "sweeps are kept)",
                    (double) STOP_DEADLINE_USEC / USEC_PER_SEC,
                    signal_name(si.si_signo));
        _exit(EXIT_SUCCESS);
}

int stop_guard_start(void) {
        pthread_t thread;
        int r;

        stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (stop_fd < 0)
                return -errno;
        r = pthread_create(&thread, NULL, stop_guard, NULL);
        if (r != 0) {
                close(stop_fd);
                stop_fd = -1;
                return -r;
        }
        (void) pthread_detach(thread);
        return stop_fd;
}
