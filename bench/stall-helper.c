/* The measured process of bench/stall.py: builds a memory layout, then maps and unmaps one page
 * in a loop, timing each round trip. mmap and munmap take the mmap lock for writing, so a
 * reader walking this process's page tables (smaps_rollup, pagemap) under the read lock shows
 * as a pause. Runs until stdin closes, then prints one JSON line: rounds, the longest pause, the
 * 99th and 99.9th percentiles and the pauses over 1 and 10 ms (µs).
 *   stall-helper --layout small|large|many [--gib N] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (1u << 24)

static uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static void *map_touched(size_t bytes) {
        char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED) {
                perror("mmap");
                exit(1);
        }
        for (size_t i = 0; i < bytes; i += 4096)
                p[i] = 1;
        return p;
}

static int u32_compare(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return (x > y) - (x < y);
}

static int stdin_closed(void) {
        fd_set set;
        struct timeval tv = {};
        char c;

        FD_ZERO(&set);
        FD_SET(0, &set);
        return select(1, &set, NULL, NULL, &tv) > 0 && read(0, &c, 1) <= 0;
}

int main(int argc, char *argv[]) {
        const char *layout = "small";
        unsigned gib = 8;
        uint32_t *samples = calloc(MAX_SAMPLES, sizeof *samples);
        size_t n = 0, over1 = 0, over10 = 0;
        uint32_t longest = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc)
                        layout = argv[++i];
                else if (strcmp(argv[i], "--gib") == 0 && i + 1 < argc)
                        gib = (unsigned) atoi(argv[++i]);
        }
        if (!samples)
                return 1;
        if (strcmp(layout, "large") == 0)
                (void) map_touched((size_t) gib << 30);
        else if (strcmp(layout, "many") == 0)
                /* 1,000 mappings of 1 MiB, kept apart by alternating protections. */
                for (int i = 0; i < 1000; i++) {
                        char *p = map_touched(1 << 20);
                        if (i % 2)
                                mprotect(p, 1 << 20, PROT_READ);
                }
        else
                (void) map_touched(64 << 20);
        printf("ready %d\n", (int) getpid());
        fflush(stdout);

        for (unsigned round = 0;; round++) {
                uint64_t t0 = now_ns();
                char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                uint32_t us;

                p[0] = 1;
                munmap(p, 4096);
                us = (uint32_t) ((now_ns() - t0) / 1000);
                if (n < MAX_SAMPLES)
                        samples[n++] = us;
                longest = us > longest ? us : longest;
                over1 += us > 1000;
                over10 += us > 10000;
                if (round % 256 == 0 && stdin_closed())
                        break;
                usleep(100);    /* ~10k rounds/s: a busy service, not a spin */
        }
        qsort(samples, n, sizeof *samples, u32_compare);
        printf("{\"rounds\": %zu, \"max_us\": %u, \"p99_us\": %u, \"p999_us\": %u, "
               "\"over_1ms\": %zu, \"over_10ms\": %zu}\n", n, longest,
               n ? samples[n * 99 / 100] : 0, n ? samples[n * 999 / 1000] : 0, over1, over10);
        return 0;
}
