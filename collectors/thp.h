/* The per-size transparent huge page statistics: for the PMD size and every mTHP size the
 * kernel lists under sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/, its "enabled"
 * setting and every counter of its stats/ directory (6.11 and later; some counters later
 * still). A counter the kernel does not have is absent, never zero. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fileio.h"
#include "proc-root.h"

#define THP_SIZES_MAX 16
#define THP_STATS_MAX 48
#define THP_NAME_MAX 48
#define THP_ENABLED_MAX 16

typedef struct ThpCounter {
        char name[THP_NAME_MAX];        /* "nr_anon", "split_deferred", … */
        uint64_t value;
} ThpCounter;

/* nr_* counters are levels (folios now); the others count events since boot. */
static inline bool thp_counter_is_level(const char *name) {
        return name[0] == 'n' && name[1] == 'r' && name[2] == '_';
}

typedef struct ThpSize {
        uint64_t size_kb;
        char enabled[THP_ENABLED_MAX];  /* the selected value ("inherit"); "" when absent */
        size_t n;
        ThpCounter counters[THP_STATS_MAX];     /* sorted by name */
} ThpSize;

typedef struct ThpStats {
        size_t n;
        ThpSize sizes[THP_SIZES_MAX];   /* ascending size */
} ThpStats;

/* Pure: one counter file's content, a decimal number and a newline. 0, -EBADMSG, -ERANGE
 * (above INT64_MAX). */
int thp_counter_parse(const char *buf, size_t len, uint64_t *ret);

/* Reads every size under the sys root. A size without stats/ has no counters; a counter file
 * that cannot be read or parsed is left out (and counted in *ret_malformed when it did not
 * parse). Returns 0 (also with no sizes: no THP, or no sys root), -ENOMEM. */
int thp_stats_read(const ProcRoot *root, ReadBuf *buf, ThpStats *ret, unsigned *ret_malformed);

/* Looks a counter up: 1 and *ret when present, 0 when absent. */
int thp_size_get(const ThpSize *s, const char *name, uint64_t *ret);
