/* The kernel floor of a pagemap sweep: reads what one `mapstatd --once --pagemap MODE` sweep
 * reads and does nothing with it beyond finding where to read next.
 *   pagemap-floor exclusivity [PROC]: for every PID the sweep floor's files (stat, smaps_rollup,
 *     cmdline, exe, cgroup), then maps and pagemap over every mapped range except [vsyscall],
 *     [vvar] and [vvar_vclock] in preads of up to 512 KiB; then meminfo.
 *   pagemap-floor full [PROC]: the same, noting the 512-PFN block of every present entry; then
 *     for every block seen one 4 KiB pread of kpageflags and one of kpagecount.
 * Prints {"mode", "processes", "bytes", "pagemap_bytes", "pfn_blocks", "duration_seconds"}. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

#define PAGEMAP_CHUNK (512 * 1024)

static uint64_t pm_buf[PAGEMAP_CHUNK / 8];
static char *maps_buf;
static size_t maps_allocated;
static size_t pagemap_bytes;
static uint8_t *blocks;         /* one byte per 512-PFN block: seen */
static size_t n_blocks;

/* The whole of maps, NUL-terminated, in maps_buf; its length, or 0. */
static size_t read_maps(int dirfd) {
        int fd = openat(dirfd, "maps", O_RDONLY | O_CLOEXEC);
        size_t len = 0;
        ssize_t n;

        if (fd < 0)
                return 0;
        for (;;) {
                if (maps_allocated - len < 65536) {
                        char *p = realloc(maps_buf, maps_allocated * 2 + 65536);
                        if (!p)
                                abort();
                        maps_buf = p;
                        maps_allocated = maps_allocated * 2 + 65536;
                }
                n = pread(fd, maps_buf + len, maps_allocated - len - 1, (off_t) len);
                if (n <= 0)
                        break;
                len += (size_t) n;
        }
        close(fd);
        maps_buf[len] = '\0';
        floor_bytes += len;
        return len;
}

static void note_blocks(const uint64_t *e, size_t n) {
        for (size_t i = 0; i < n; i++) {
                uint64_t pfn = e[i] & ((1ULL << 55) - 1), b;

                if (!(e[i] >> 63) || pfn == 0)
                        continue;
                b = pfn >> 9;
                if (b >= n_blocks) {
                        size_t m = (size_t) b * 2 + 1024;
                        uint8_t *p = realloc(blocks, m);
                        if (!p)
                                abort();
                        memset(p + n_blocks, 0, m - n_blocks);
                        blocks = p;
                        n_blocks = m;
                }
                blocks[b] = 1;
        }
}

static void read_pagemap(int dirfd, size_t maps_len, bool full) {
        int fd = openat(dirfd, "pagemap", O_RDONLY | O_CLOEXEC);
        char *line = maps_buf;

        if (fd < 0)
                return;
        while (line < maps_buf + maps_len) {
                char *nl = strchr(line, '\n'), *end;
                uint64_t start, stop;

                if (nl)
                        *nl = '\0';
                start = strtoull(line, &end, 16);
                stop = strtoull(end + 1, NULL, 16);
                if (!strstr(line, "[vsyscall]") && !strstr(line, "[vvar]") &&
                    !strstr(line, "[vvar_vclock]")) {
                        for (uint64_t a = start; a < stop;) {
                                size_t len = (size_t) ((stop - a) / 4096 * 8);
                                ssize_t n;

                                if (len > PAGEMAP_CHUNK)
                                        len = PAGEMAP_CHUNK;
                                n = pread(fd, pm_buf, len, (off_t) (a / 4096 * 8));
                                if (n <= 0)
                                        break;
                                pagemap_bytes += (size_t) n;
                                if (full)
                                        note_blocks(pm_buf, (size_t) n / 8);
                                a += (uint64_t) n / 8 * 4096;
                        }
                }
                if (!nl)
                        break;
                line = nl + 1;
        }
        close(fd);
}

static void read_kpage(int proc_fd) {
        int flags_fd = openat(proc_fd, "kpageflags", O_RDONLY | O_CLOEXEC);
        int count_fd = openat(proc_fd, "kpagecount", O_RDONLY | O_CLOEXEC);

        if (flags_fd < 0 || count_fd < 0) {
                perror("kpageflags/kpagecount");
                exit(1);
        }
        for (size_t b = 0; b < n_blocks; b++) {
                if (!blocks[b])
                        continue;
                if (pread(flags_fd, pm_buf, 4096, (off_t) b * 4096) > 0)
                        floor_bytes += 4096;
                if (pread(count_fd, pm_buf, 4096, (off_t) b * 4096) > 0)
                        floor_bytes += 4096;
        }
        close(flags_fd);
        close(count_fd);
}

int main(int argc, char *argv[]) {
        const char *mode = argc > 1 ? argv[1] : "";
        const char *root = argc > 2 ? argv[2] : "/proc";
        bool full = strcmp(mode, "full") == 0;
        int proc_fd, list_fd;
        size_t seen = 0;
        DIR *d;
        struct dirent *de;
        unsigned n = 0;
        struct timespec t0, t1;

        if (!full && strcmp(mode, "exclusivity") != 0) {
                fprintf(stderr, "usage: pagemap-floor exclusivity|full [PROC]\n");
                return 2;
        }
        proc_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
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
                size_t maps_len;

                if (de->d_name[0] < '0' || de->d_name[0] > '9')
                        continue;
                pid_fd = openat(proc_fd, de->d_name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (pid_fd < 0)
                        continue;
                floor_read_process(pid_fd);
                maps_len = read_maps(pid_fd);
                if (maps_len > 0)
                        read_pagemap(pid_fd, maps_len, full);
                close(pid_fd);
                n++;
        }
        closedir(d);
        if (full)
                read_kpage(proc_fd);
        floor_slurp(proc_fd, "meminfo");
        clock_gettime(CLOCK_MONOTONIC, &t1);
        for (size_t b = 0; b < n_blocks; b++)
                seen += blocks[b];
        printf("{\"mode\": \"%s\", \"processes\": %u, \"bytes\": %zu, \"pagemap_bytes\": %zu, "
               "\"pfn_blocks\": %zu, \"duration_seconds\": %.6f}\n", mode, n, floor_bytes,
               pagemap_bytes, seen,
               (double) (t1.tv_sec - t0.tv_sec) + (double) (t1.tv_nsec - t0.tv_nsec) / 1e9);
        free(blocks);
        free(maps_buf);
        return 0;
}
