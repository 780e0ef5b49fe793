/* The kernel floor of a sweep: reads exactly the procfs files one mapstatd sweep reads (for
 * every PID: stat, smaps_rollup, cmdline, exe, cgroup; then meminfo) with the same pread-sized
 * buffers, and does nothing with the bytes. What mapstatd costs above this is its own work. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

int main(int argc, char *argv[]) {
        const char *root = argc > 1 ? argv[1] : "/proc";
        int proc_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int list_fd;
        DIR *d;
        struct dirent *de;
        unsigned n = 0;

        struct timespec t0, t1;

        if (proc_fd < 0) {
                perror(root);
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        list_fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = fdopendir(list_fd);
        if (!d) {
                perror("fdopendir");
                return 1;
        }
        while ((de = readdir(d))) {
                int pid_fd;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                pid_fd = openat(proc_fd, de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (pid_fd < 0)
                        continue;
                floor_read_process(pid_fd);
                close(pid_fd);
                n++;
        }
        closedir(d);
        floor_slurp(proc_fd, "meminfo");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("{\"processes\": %u, \"bytes\": %zu, \"duration_seconds\": %.6f}\n", n, floor_bytes,
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
}
