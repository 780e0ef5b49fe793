/* The kernel floor of a sweep's cgroup part: reads exactly what mapstatd reads of the memory
 * cgroups and the THP statistics (every cgroup's memory.stat and usage file, every size's
 * enabled and stats/ counters) and does nothing with the bytes.
 *   cgroup-floor SYS_ROOT */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

static unsigned cgroups;

/* Depth first, as the collector walks. */
static void walk(int dirfd, const char *usage) {
        DIR *d;
        struct dirent *de;
        int list_fd;

        floor_slurp(dirfd, "memory.stat");
        floor_slurp(dirfd, usage);
        cgroups++;
        list_fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        d = list_fd >= 0 ? fdopendir(list_fd) : NULL;
        if (!d)
                return;
        while ((de = readdir(d))) {
                int fd;

                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue;
                fd = openat(dirfd, de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                walk(fd, usage);
                close(fd);
        }
        closedir(d);
}

static void thp(int sys_fd) {
        int base = openat(sys_fd, "kernel/mm/transparent_hugepage", O_RDONLY | O_DIRECTORY);
        DIR *d = base >= 0 ? fdopendir(base) : NULL;
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char path[512];
                DIR *s;
                struct dirent *c;
                int fd;

                if (strncmp(de->d_name, "hugepages-", 10) != 0)
                        continue;
                (void) snprintf(path, sizeof path, "%s/enabled", de->d_name);
                floor_slurp(dirfd(d), path);
                (void) snprintf(path, sizeof path, "%s/stats", de->d_name);
                fd = openat(dirfd(d), path, O_RDONLY | O_DIRECTORY);
                s = fd >= 0 ? fdopendir(fd) : NULL;
                while (s && (c = readdir(s)))
                        if (c->d_name[0] != '.')
                                floor_slurp(dirfd(s), c->d_name);
                if (s)
                        closedir(s);
        }
        closedir(d);
}

int main(int argc, char *argv[]) {
        const char *root = argc > 1 ? argv[1] : "/sys";
        int sys_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC), mem_fd;
        const char *usage = "memory.current";
        struct timespec t0, t1;

        if (sys_fd < 0) {
                perror(root);
                return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        mem_fd = openat(sys_fd, "fs/cgroup/memory", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (mem_fd >= 0)
                usage = "memory.usage_in_bytes";
        else
                mem_fd = openat(sys_fd, "fs/cgroup", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (mem_fd >= 0)
                walk(mem_fd, usage);
        thp(sys_fd);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        printf("{\"cgroups\": %u, \"bytes\": %zu, \"duration_seconds\": %.6f}\n", cgroups,
               floor_bytes,
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        return 0;
}
