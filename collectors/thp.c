/* Per-size transparent huge page statistics: every hugepages-<N>kB directory under
 * sys/kernel/mm/transparent_hugepage, its "enabled" choice (through sysfs_choice_parse()) and
 * the counters of its stats/ directory, read through directory fds under the sys root. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel-id.h"
#include "macro.h"
#include "parse-util.h"
#include "string-util.h"
#include "thp.h"

#define THP_DIR "kernel/mm/transparent_hugepage"
/* A counter is at most 20 digits and a newline, a choice file a few words. */
#define THP_READ_MAX 4096u
/* Size directories considered; the THP_SIZES_MAX smallest are kept (a kernel has at most 13:
 * orders 2 to 14 with 4 KiB pages, fewer with larger ones). */
#define THP_SIZES_SEEN_MAX 64u

/*
 * A real sample, Linux 6.18.44 (x86-64),
 * /sys/kernel/mm/transparent_hugepage/hugepages-2048kB/stats/anon_fault_alloc, printed by
 * mm/huge_memory.c through DEFINE_MTHP_STAT_ATTR() → sum_mthp_stat() as "%lu\n":
 *
 *   306
 *
 * The newline may be missing (as the last line of any file the parsers take).
 */
int thp_counter_parse(const char *buf, size_t len, uint64_t *ret) {
        return parse_u64_line(buf, len, ret);
}

int thp_size_get(const ThpSize *s, const char *name, uint64_t *ret) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->counters[i].name, name) == 0) {
                        *ret = s->counters[i].value;
                        return 1;
                }
        return 0;
}

typedef struct SizeList {
        uint64_t kb[THP_SIZES_SEEN_MAX];
        size_t n;
} SizeList;

/* dir_foreach() callback: keeps "hugepages-<N>kB" with N a decimal without leading zeros. */
static int size_list_add(const struct dirent *de, void *userdata) {
        const size_t pl = STRLEN("hugepages-"), sl = STRLEN("kB");
        SizeList *l = userdata;
        size_t len = strlen(de->d_name);
        const char *digits = de->d_name + pl;
        uint64_t kb;

        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                return 0;
        if (len <= pl + sl || !startswith(de->d_name, "hugepages-") ||
            strcmp(de->d_name + len - sl, "kB") != 0 || digits[0] == '0')
                return 0;
        if (parse_u64_token(digits, len - pl - sl, &kb) < 0)
                return 0;
        if (l->n < THP_SIZES_SEEN_MAX)
                l->kb[l->n++] = kb;
        return 0;
}

static int u64_compare(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return (x > y) - (x < y);
}

static bool is_counter_name(const char *s) {
        size_t n = 0;

        for (; s[n]; n++)
                if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '_'))
                        return false;
        return n > 0 && n < THP_NAME_MAX;
}

/* dir_foreach() callback: records the names of the counter files of a stats/ directory, the
 * first THP_STATS_MAX in directory order (6.18 has 18). */
static int counter_name_add(const struct dirent *de, void *userdata) {
        ThpSize *s = userdata;

        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
                return 0;
        if (!is_counter_name(de->d_name) || s->n >= THP_STATS_MAX)
                return 0;
        strcpy(s->counters[s->n++].name, de->d_name);
        return 0;
}

static int counter_compare(const void *a, const void *b) {
        return strcmp(((const ThpCounter *) a)->name, ((const ThpCounter *) b)->name);
}

/* Reads the "enabled" choice of the size directory at fd into s->enabled ("" when absent).
 * Returns 0, 1 when it did not parse (or does not fit), -ENOMEM. */
static int size_read_enabled(int fd, ReadBuf *buf, ThpSize *s) {
        _cleanup_free_ char *value = NULL;
        int r;

        s->enabled[0] = '\0';
        r = read_file_at(fd, "enabled", THP_READ_MAX, buf);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        r = sysfs_choice_parse(buf->data, buf->size, &value);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || strlen(value) >= THP_ENABLED_MAX)
                return 1;
        strcpy(s->enabled, value);
        return 0;
}

/* Reads the counters of the stats/ directory of the size directory at fd into s, in name order.
 * Returns the number of counter files that did not parse, or -ENOMEM. */
static int size_read_counters(int fd, ReadBuf *buf, ThpSize *s) {
        _cleanup_close_ int stats_fd = -EBADF;
        size_t kept = 0;
        int r, malformed = 0;

        s->n = 0;
        stats_fd = openat(fd, "stats", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (stats_fd < 0)
                return 0;
        r = dir_foreach(stats_fd, ".", counter_name_add, s);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                s->n = 0;
                return 0;
        }
        qsort(s->counters, s->n, sizeof *s->counters, counter_compare);

        for (size_t i = 0; i < s->n; i++) {
                uint64_t v;

                r = read_file_at(stats_fd, s->counters[i].name, THP_READ_MAX, buf);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                r = thp_counter_parse(buf->data, buf->size, &v);
                if (r < 0) {
                        malformed++;
                        continue;
                }
                if (kept != i)
                        s->counters[kept] = s->counters[i];
                s->counters[kept++].value = v;
        }
        s->n = kept;
        return malformed;
}

int thp_stats_read(const ProcRoot *root, ReadBuf *buf, ThpStats *ret, unsigned *ret_malformed) {
        _cleanup_free_ ThpStats *stats = NULL;
        _cleanup_close_ int thp_fd = -EBADF;
        SizeList sizes = {};
        unsigned malformed = 0;
        int r;

        /* 43 KiB: kept off the caller's stack until it is complete. */
        stats = calloc(1, sizeof *stats);
        if (!stats)
                return -ENOMEM;

        if (root->sys_fd >= 0)
                thp_fd = openat(root->sys_fd, THP_DIR, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (thp_fd >= 0) {
                r = dir_foreach(thp_fd, ".", size_list_add, &sizes);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        sizes.n = 0;
        }
        qsort(sizes.kb, sizes.n, sizeof *sizes.kb, u64_compare);

        for (size_t i = 0; i < sizes.n && stats->n < THP_SIZES_MAX; i++) {
                ThpSize *s = &stats->sizes[stats->n];
                _cleanup_close_ int fd = -EBADF;
                char name[64];

                (void) snprintf(name, sizeof name, "hugepages-%" PRIu64 "kB", sizes.kb[i]);
                fd = openat(thp_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                *s = (ThpSize) { .size_kb = sizes.kb[i] };

                r = size_read_enabled(fd, buf, s);
                if (r < 0)
                        return r;
                malformed += (unsigned) r;
                r = size_read_counters(fd, buf, s);
                if (r < 0)
                        return r;
                malformed += (unsigned) r;
                stats->n++;
        }

        *ret = *stats;
        if (ret_malformed)
                *ret_malformed = malformed;
        return 0;
}
