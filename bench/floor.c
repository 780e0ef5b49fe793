/* The per-process reads of a sweep's kernel floor (floor.h). */
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include "floor.h"

size_t floor_bytes;
static char buf[256 * 1024];

void floor_slurp(int dirfd, const char *name) {
        int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
        ssize_t n;
        off_t off = 0;

        if (fd < 0)
                return;
        while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
                off += n;
                floor_bytes += (size_t) n;
        }
        close(fd);
}

void floor_read_process(int pid_fd) {
        char link[PATH_MAX];

        floor_slurp(pid_fd, "stat");
        floor_slurp(pid_fd, "smaps_rollup");
        floor_slurp(pid_fd, "cmdline");
        (void) !readlinkat(pid_fd, "exe", link, sizeof link);
        floor_slurp(pid_fd, "cgroup");
}
