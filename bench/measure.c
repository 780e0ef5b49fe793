/* Runs a command and prints its wall time, peak RSS and CPU time on stderr as "measure:
 * WALL_USEC MAXRSS_KIB CPU_USEC", and exits with its exit status; the command's stdout passes
 * through. Forked from this small process, so ru_maxrss is the command's own peak, not the
 * harness's (a fork of a Python interpreter would count the interpreter's RSS until exec). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char *argv[]) {
        struct timespec a, b;
        struct rusage ru;
        int status;
        pid_t pid;

        if (argc < 2) {
                fprintf(stderr, "usage: measure COMMAND [ARGS...]\n");
                return 2;
        }
        clock_gettime(CLOCK_MONOTONIC, &a);
        pid = fork();
        if (pid < 0)
                return 1;
        if (pid == 0) {
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (fd >= 0)
                        dup2(fd, STDERR_FILENO);
                execv(argv[1], argv + 1);
                _exit(127);
        }
        if (wait4(pid, &status, 0, &ru) < 0)
                return 1;
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (!WIFEXITED(status) || WEXITSTATUS(status) == 127) {
                fprintf(stderr, "measure: %s failed\n", argv[1]);
                return 1;
        }
        fprintf(stderr, "measure: %lld %ld %lld\n",
                (long long) (b.tv_sec - a.tv_sec) * 1000000LL + (b.tv_nsec - a.tv_nsec) / 1000,
                ru.ru_maxrss,
                (long long) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000LL +
                        ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
        return WEXITSTATUS(status);
}
