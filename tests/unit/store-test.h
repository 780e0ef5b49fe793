/* Helpers of the storage unit tests (test-store*.c): hand-built samples whose every figure is
 * known, sweeps written from them, and plain-SQLite reads of the file to check what was
 * written. Included by each test file after test.h. */
#pragma once

#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store.h"
#include "test.h"

#define ALL_FIELDS ((uint32_t) ((1u << _SMAPS_FIELD_MAX) - 1))

/* ---- helpers ---- */

static inline char *path_join(const char *dir, const char *name) {
        char *p;

        if (asprintf(&p, "%s/%s", dir, name) < 0)
                exit(1);
        return p;
}

typedef struct FileBytes {
        bool exists;
        size_t size;
        char *data;
} FileBytes;

static inline FileBytes file_bytes(const char *path) {
        FileBytes b = {};
        struct stat st;
        FILE *f;

        if (stat(path, &st) < 0)
                return b;
        b.exists = true;
        b.size = (size_t) st.st_size;
        b.data = malloc(b.size + 1);
        f = fopen(path, "re");
        if (!b.data || !f || fread(b.data, 1, b.size, f) != b.size)
                exit(1);
        fclose(f);
        return b;
}

static inline bool file_bytes_equal(const FileBytes *a, const FileBytes *b) {
        return a->exists == b->exists && a->size == b->size &&
               (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

static inline void write_file(const char *path, const char *data, size_t n) {
        FILE *f = fopen(path, "we");

        if (!f || fwrite(data, 1, n, f) != n)
                exit(1);
        fclose(f);
}

/* Runs SQL on the file with the plain SQLite API and returns one integer (-1 on error). */
static inline int64_t sql_int(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        int64_t v = -1;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int64(st, 0);
        else
                fprintf(stderr, "sql_int(%s): %s\n", sql, sqlite3_errmsg(db));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static inline char *sql_text(const char *path, const char *sql) {
        sqlite3 *db = NULL;
        sqlite3_stmt *st = NULL;
        char *v = NULL;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
            sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
                v = strdup((const char *) sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
}

static inline void sql_exec(const char *path, const char *sql) {
        sqlite3 *db = NULL;

        if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
                    SQLITE_OK ||
            sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
                fprintf(stderr, "sql_exec(%s): %s\n", sql, sqlite3_errmsg(db));
                exit(1);
        }
        sqlite3_close(db);
}

/* The synthetic figure of field f of process pid: distinct per field and process. */
static inline uint64_t kb_of(int f, int pid) {
        return 1000 * (uint64_t) (f + 1) + (uint64_t) pid;
}

/* Per-process overrides of Rss and Pss, to make medians interesting. */
static inline uint64_t rss_of(int pid, int variant) {
        switch (pid) {
        case 100:
                return variant == 2 ? 400 : 300;
        case 101:
                return 100;
        case 102:
                return 200;
        default:
                return kb_of(SMAPS_RSS, pid);
        }
}

static inline uint64_t pss_of(int pid) {
        switch (pid) {
        case 100:
                return 50;
        case 101:
                return 70;
        case 102:
                return 10;
        default:
                return kb_of(SMAPS_PSS, pid);
        }
}

/* pid 101 has no Ksm line (an older kernel would print fewer fields). */
static inline uint32_t present_of(int pid) {
        return pid == 101 ? ALL_FIELDS & ~(1u << SMAPS_KSM) : ALL_FIELDS;
}

static inline uint64_t field_of(int f, int pid, int variant) {
        if (!(present_of(pid) & (1u << f)))
                return 0;
        if (f == SMAPS_RSS)
                return rss_of(pid, variant);
        if (f == SMAPS_PSS)
                return pss_of(pid);
        return kb_of(f, pid);
}

static inline ProcSample sample_make(int pid, uint64_t start_ticks, const char *comm, const char *exe,
                              int variant) {
        ProcSample p = {
                .pid = pid,
                .start_time_ticks = start_ticks,
                .exe = (char *) exe,
                .cmdline = (char *) exe,
                .cgroup = (char *) "/system.slice/test.service",
                .unit = (char *) "test.service",
        };

        snprintf(p.comm, sizeof p.comm, "%s", comm);
        p.rollup.present = present_of(pid);
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                p.rollup.kb[f] = field_of(f, pid, variant);
        if (pid == 200) {
                /* Fields this build does not know. */
                p.rollup.n_extra = 2;
                snprintf(p.rollup.extra[0].name, SMAPS_NAME_MAX, "Foo_New");
                p.rollup.extra[0].kb = 7;
                snprintf(p.rollup.extra[1].name, SMAPS_NAME_MAX, "Bar_New");
                p.rollup.extra[1].kb = 3;
        }
        return p;
}

#define KEY_FOO "exe-args:/usr/bin/foo"
#define KEY_BAR "exe-args:/usr/bin/bar"

static inline int add_foo(Store *s, int pid, uint64_t start_ticks, int variant) {
        ProcSample p = sample_make(pid, start_ticks, "foo", "/usr/bin/foo", variant);

        return store_sweep_add_process(s, &p, KEY_FOO);
}

static inline int add_bar(Store *s) {
        ProcSample p = sample_make(200, 20, "bar", "/usr/bin/bar", 0);

        return store_sweep_add_process(s, &p, KEY_BAR);
}

static inline Meminfo meminfo_make(int index) {
        Meminfo m = { .n = 4 };

        m.fields[0] = (MeminfoField) { .name = "MemTotal", .value = 1000000, .is_kb = true };
        m.fields[1] = (MeminfoField) { .name = "MemFree", .value = 500000 + 1000 * (uint64_t) index,
                                       .is_kb = true };
        m.fields[2] = (MeminfoField) { .name = "HugePages_Total", .value = 4, .is_kb = false };
        m.fields[3] = (MeminfoField) { .name = "AnonPages", .value = 200000, .is_kb = true };
        return m;
}

static KernelSetting settings_a[] _unused_ = {
        { .key = (char *) "transparent_hugepage/enabled", .value = (char *) "madvise" },
        { .key = (char *) "transparent_hugepage/defrag", .value = (char *) "never" },
};

/* A kernel identity of host "host-a" (machine id 32 × "a"); NO_PAGE_MAPCOUNT kernels are on a
 * host of unknown name and id. */
static inline KernelId kernel_make(const char *release, const char *boot_id, MapcountMode mode) {
        return (KernelId) {
                .release = (char *) release,
                .version = (char *) "Linux version test",
                .boot_id = (char *) boot_id,
                .page_size = 4096,
                .mapcount_mode = mode,
                .hostname = mode == MAPCOUNT_MODE_PAGE ? (char *) "host-a" : NULL,
                .machine_id = mode == MAPCOUNT_MODE_PAGE
                        ? (char *) "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" : NULL,
        };
}

static inline int64_t epoch_make(Store *s, const char *release, const char *boot_id, MapcountMode mode,
                          uint64_t now, bool with_settings, bool expect_created) {
        KernelId k = kernel_make(release, boot_id, mode);
        int64_t id = -1;
        bool created = !expect_created;

        if (with_settings) {
                k.n_settings = 2;
                k.settings = settings_a;
        }
        ASSERT_INT_EQ(store_epoch_ensure(s, &k, now, &id, &created), 0);
        ASSERT_INT_EQ(created, expect_created);
        return id;
}

/* Writes one sweep: which processes depends on `kind`. Returns the sweep id. */
enum { SWEEP_FULL, SWEEP_TWO_FOO, SWEEP_REUSED_PID, SWEEP_FOO_ONLY };

static inline int64_t sweep_write(Store *s, int64_t epoch, uint64_t start, int kind, int meminfo_index) {
        SweepSummary sum = { .duration_usec = 1234, .sampled = 4, .skipped = 3, .vanished = 1,
                             .denied = 1, .malformed = 1 };
        Meminfo m = meminfo_make(meminfo_index);
        int64_t id;

        ASSERT_INT_EQ(store_sweep_begin(s, epoch, start), 0);
        switch (kind) {
        case SWEEP_FULL:
                ASSERT_INT_EQ(add_foo(s, 100, 10, 0), 0);
                ASSERT_INT_EQ(add_foo(s, 101, 11, 0), 0);
                ASSERT_INT_EQ(add_foo(s, 102, 12, 0), 0);
                ASSERT_INT_EQ(add_bar(s), 0);
                break;
        case SWEEP_TWO_FOO:
                ASSERT_INT_EQ(add_foo(s, 100, 10, 2), 0);
                ASSERT_INT_EQ(add_foo(s, 101, 11, 2), 0);
                ASSERT_INT_EQ(add_bar(s), 0);
                break;
        case SWEEP_REUSED_PID:
                ASSERT_INT_EQ(add_foo(s, 100, 99, 0), 0);
                ASSERT_INT_EQ(add_bar(s), 0);
                break;
        case SWEEP_FOO_ONLY:
                ASSERT_INT_EQ(add_foo(s, 100, 10, 0), 0);
                break;
        }
        ASSERT_INT_EQ(store_sweep_add_meminfo(s, &m), 0);
        id = store_sweep_commit(s, &sum);
        ASSERT_TRUE(id > 0);
        if (id < 0)
                fprintf(stderr, "commit: %s\n", store_last_error(s));
        return id;
}


/* ---- pagemap and reconstruction ---- */

/* Synthetic pagemap counts: distinct per process, class and field (0 present, 1 swapped,
 * 2 exclusive). */
static inline uint64_t pages_of(int pid, int class, int field) {
        return 100 * (uint64_t) pid + 10 * (uint64_t) class + (uint64_t) field + 1;
}

static inline void pagemap_make(ProcSample *p, bool truncated) {
        p->has_pagemap = true;
        p->pagemap = (PagemapCounts) { .truncated = truncated, .scanned_pages = 12345 };
        for (int c = 0; c < _VMA_CLASS_MAX; c++)
                p->pagemap.class[c] = (PagemapClassCounts) {
                        .present_pages = pages_of(p->pid, c, 0),
                        .swapped_pages = pages_of(p->pid, c, 1),
                        .exclusive_pages = pages_of(p->pid, c, 2),
                };
}

/* Synthetic reconstruction: field k of process pid is 1000 pid + k + 1. */
static inline ProcessTruth truth_of(int pid) {
        uint64_t b = 1000 * (uint64_t) pid;

        return (ProcessTruth) {
                .uss_kb = b + 1, .pss_kb = b + 2, .shared_kb = b + 3, .private_kb = b + 4,
                .forecast_pss_kb = b + 5, .forecast_pss_anon_kb = b + 6,
                .forecast_pss_file_kb = b + 7, .forecast_pss_shmem_kb = b + 8,
                .forecast_shared_kb = b + 9, .forecast_private_kb = b + 10,
                .forecast_exclusive_pages = b + 11, .partially_mapped_folios = b + 12,
        };
}

static inline int add_foo_pagemap(Store *s, int pid, uint64_t start_ticks, bool with_pagemap,
                           bool truncated) {
        ProcSample p = sample_make(pid, start_ticks, "foo", "/usr/bin/foo", 0);

        if (with_pagemap)
                pagemap_make(&p, truncated);
        return store_sweep_add_process(s, &p, KEY_FOO);
}

static inline int add_bar_pagemap(Store *s) {
        ProcSample p = sample_make(200, 20, "bar", "/usr/bin/bar", 0);

        pagemap_make(&p, false);
        return store_sweep_add_process(s, &p, KEY_BAR);
}

static inline int add_truth(Store *s, int pid, uint64_t start_ticks) {
        ProcessTruth t = truth_of(pid);

        return store_sweep_add_truth(s, pid, start_ticks, &t);
}

/* One column of the identity_samples run of key that stands for sweep (-1 when NULL, -2 on
 * error). */
static inline int64_t identity_column(const char *db, int64_t sweep, const char *key,
                               const char *column) {
        char sql[512];

        snprintf(sql, sizeof sql, "SELECT coalesce(i.%s, -1) FROM identity_samples i"
                 " JOIN identities d ON d.id = i.identity_id WHERE i.sweep_id <= %" PRIi64
                 " AND i.last_sweep_id >= %" PRIi64 " AND d.key = '%s'", column, sweep, sweep,
                 key);
        return sql_int(db, sql);
}

/* The same of the process_samples run of pid. */
static inline int64_t process_column(const char *db, int64_t sweep, int pid, const char *column) {
        char sql[512];

        snprintf(sql, sizeof sql, "SELECT coalesce(ps.%s, -1) FROM process_samples ps"
                 " JOIN processes p ON p.id = ps.process_id WHERE ps.sweep_id <= %" PRIi64
                 " AND ps.last_sweep_id >= %" PRIi64 " AND p.pid = %d", column, sweep, sweep,
                 pid);
        return sql_int(db, sql);
}

static const char *const class_names[_VMA_CLASS_MAX] _unused_ = {
        "anon", "file", "shared_file", "shmem", "hugetlb",
};

/* Checks one identity's point against the pagemap and truth of the given members, with page_kb
 * kB per page. */
static inline void check_point(const IdentityPoint *p, const int *pids, size_t n, bool has_pagemap,
                        bool has_truth, uint64_t page_kb) {
        ASSERT_INT_EQ(p->processes, n);
        ASSERT_INT_EQ(p->has_pagemap, has_pagemap);
        for (int c = 0; c < _EXCLUSIVITY_CLASS_MAX; c++) {
                uint64_t present = 0, exclusive = 0;

                for (size_t j = 0; has_pagemap && j < n; j++) {
                        present += pages_of(pids[j], c, 0);
                        exclusive += pages_of(pids[j], c, 2);
                }
                ASSERT_U64_EQ(p->present_kb[c], present * page_kb);
                ASSERT_U64_EQ(p->exclusive_kb[c], exclusive * page_kb);
        }
        ASSERT_INT_EQ(p->has_truth, has_truth);
        if (!has_truth) {
                ASSERT_U64_EQ(p->truth_kb[COMPARE_METRIC_PSS], 0);
                ASSERT_U64_EQ(p->forecast_exclusive_kb, 0);
                return;
        }
        ProcessTruth sum = {};
        for (size_t j = 0; j < n; j++) {
                ProcessTruth t = truth_of(pids[j]);

                sum.uss_kb += t.uss_kb;
                sum.pss_kb += t.pss_kb;
                sum.shared_kb += t.shared_kb;
                sum.private_kb += t.private_kb;
                sum.forecast_pss_kb += t.forecast_pss_kb;
                sum.forecast_pss_anon_kb += t.forecast_pss_anon_kb;
                sum.forecast_pss_file_kb += t.forecast_pss_file_kb;
                sum.forecast_pss_shmem_kb += t.forecast_pss_shmem_kb;
                sum.forecast_shared_kb += t.forecast_shared_kb;
                sum.forecast_private_kb += t.forecast_private_kb;
                sum.forecast_exclusive_pages += t.forecast_exclusive_pages;
        }
        ASSERT_U64_EQ(p->truth_kb[COMPARE_METRIC_SHARED], sum.shared_kb);
        ASSERT_U64_EQ(p->truth_kb[COMPARE_METRIC_PRIVATE], sum.private_kb);
        ASSERT_U64_EQ(p->truth_kb[COMPARE_METRIC_PSS], sum.pss_kb);
        ASSERT_U64_EQ(p->truth_uss_kb, sum.uss_kb);
        ASSERT_U64_EQ(p->forecast_kb[COMPARE_METRIC_SHARED], sum.forecast_shared_kb);
        ASSERT_U64_EQ(p->forecast_kb[COMPARE_METRIC_PRIVATE], sum.forecast_private_kb);
        ASSERT_U64_EQ(p->forecast_kb[COMPARE_METRIC_PSS], sum.forecast_pss_kb);
        ASSERT_U64_EQ(p->forecast_kb[COMPARE_METRIC_PSS_ANON], sum.forecast_pss_anon_kb);
        ASSERT_U64_EQ(p->forecast_kb[COMPARE_METRIC_PSS_FILE], sum.forecast_pss_file_kb);
        ASSERT_U64_EQ(p->forecast_kb[COMPARE_METRIC_PSS_SHMEM], sum.forecast_pss_shmem_kb);
        ASSERT_U64_EQ(p->forecast_exclusive_kb, sum.forecast_exclusive_pages * page_kb);
}

/* Sweep 1: foo 100 scanned, 101 scanned but cut short, 102 not scanned; all three
 * reconstructed. bar scanned, not reconstructed. Sweep 2: every foo scanned completely, 100 and
 * 102 reconstructed, 101 not. */
static inline void write_pagemap_sweeps(Store *s, int64_t epoch, uint64_t start, int64_t *ret_ids) {
        SweepSummary sum = { .duration_usec = 10, .sampled = 4, .pagemap_truncated = 1,
                             .pagemap_failed = 1 };

        ASSERT_INT_EQ(store_sweep_begin(s, epoch, start), 0);
        ASSERT_INT_EQ(add_truth(s, 100, 10), -ENOENT);          /* not added yet */
        ASSERT_INT_EQ(add_foo_pagemap(s, 100, 10, true, false), 0);
        ASSERT_INT_EQ(add_truth(s, 100, 10), 0);                /* interleaved with adds */
        ASSERT_INT_EQ(add_foo_pagemap(s, 101, 11, true, true), 0);
        ASSERT_INT_EQ(add_foo_pagemap(s, 102, 12, false, false), 0);
        ASSERT_INT_EQ(add_bar_pagemap(s), 0);
        ASSERT_INT_EQ(add_truth(s, 102, 12), 0);
        ASSERT_INT_EQ(add_truth(s, 101, 11), 0);
        /* Unknown: another PID, or the same PID with another start time (a reused PID). */
        ASSERT_INT_EQ(add_truth(s, 103, 10), -ENOENT);
        ASSERT_INT_EQ(add_truth(s, 100, 99), -ENOENT);
        /* Twice: the primary key refuses it, the sweep goes on with the first. */
        ASSERT_INT_EQ(add_truth(s, 100, 10), -EIO);
        ret_ids[0] = store_sweep_commit(s, &sum);
        ASSERT_TRUE(ret_ids[0] > 0);

        sum.pagemap_truncated = 2;
        sum.pagemap_failed = 0;
        ASSERT_INT_EQ(store_sweep_begin(s, epoch, start + 1000000), 0);
        ASSERT_INT_EQ(add_foo_pagemap(s, 100, 10, true, false), 0);
        ASSERT_INT_EQ(add_foo_pagemap(s, 101, 11, true, false), 0);
        ASSERT_INT_EQ(add_foo_pagemap(s, 102, 12, true, false), 0);
        ASSERT_INT_EQ(add_bar_pagemap(s), 0);
        ASSERT_INT_EQ(add_truth(s, 102, 12), 0);
        ASSERT_INT_EQ(add_truth(s, 100, 10), 0);
        ret_ids[1] = store_sweep_commit(s, &sum);
        ASSERT_TRUE(ret_ids[1] > 0);
}
