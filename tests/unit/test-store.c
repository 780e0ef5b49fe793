/* Unit tests of storage/: creating and reopening a database, writing sweeps of hand-built
 * samples across several epochs and checking every query against sums, medians and series
 * worked out here, retention, rollback, and the files store_open() must refuse without
 * changing a byte; pagemap counts and reconstructions summed per identity and converted with
 * the epoch's page size; the migration of a version 1 file. Each test works in its own
 * directory under /tmp. */
#include <errno.h>
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

static char *path_join(const char *dir, const char *name) {
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

static FileBytes file_bytes(const char *path) {
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

static bool file_bytes_equal(const FileBytes *a, const FileBytes *b) {
        return a->exists == b->exists && a->size == b->size &&
               (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

static void write_file(const char *path, const char *data, size_t n) {
        FILE *f = fopen(path, "we");

        if (!f || fwrite(data, 1, n, f) != n)
                exit(1);
        fclose(f);
}

/* Runs SQL on the file with the plain SQLite API and returns one integer (-1 on error). */
static int64_t sql_int(const char *path, const char *sql) {
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

static char *sql_text(const char *path, const char *sql) {
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

static void sql_exec(const char *path, const char *sql) {
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
static uint64_t kb_of(int f, int pid) {
        return 1000 * (uint64_t) (f + 1) + (uint64_t) pid;
}

/* Per-process overrides of Rss and Pss, to make medians interesting. */
static uint64_t rss_of(int pid, int variant) {
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

static uint64_t pss_of(int pid) {
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
static uint32_t present_of(int pid) {
        return pid == 101 ? ALL_FIELDS & ~(1u << SMAPS_KSM) : ALL_FIELDS;
}

static uint64_t field_of(int f, int pid, int variant) {
        if (!(present_of(pid) & (1u << f)))
                return 0;
        if (f == SMAPS_RSS)
                return rss_of(pid, variant);
        if (f == SMAPS_PSS)
                return pss_of(pid);
        return kb_of(f, pid);
}

static ProcSample sample_make(int pid, uint64_t start_ticks, const char *comm, const char *exe,
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

static int add_foo(Store *s, int pid, uint64_t start_ticks, int variant) {
        ProcSample p = sample_make(pid, start_ticks, "foo", "/usr/bin/foo", variant);

        return store_sweep_add_process(s, &p, KEY_FOO);
}

static int add_bar(Store *s) {
        ProcSample p = sample_make(200, 20, "bar", "/usr/bin/bar", 0);

        return store_sweep_add_process(s, &p, KEY_BAR);
}

static Meminfo meminfo_make(int index) {
        Meminfo m = { .n = 4 };

        m.fields[0] = (MeminfoField) { .name = "MemTotal", .value = 1000000, .is_kb = true };
        m.fields[1] = (MeminfoField) { .name = "MemFree", .value = 500000 + 1000 * (uint64_t) index,
                                       .is_kb = true };
        m.fields[2] = (MeminfoField) { .name = "HugePages_Total", .value = 4, .is_kb = false };
        m.fields[3] = (MeminfoField) { .name = "AnonPages", .value = 200000, .is_kb = true };
        return m;
}

static KernelSetting settings_a[] = {
        { .key = (char *) "transparent_hugepage/enabled", .value = (char *) "madvise" },
        { .key = (char *) "transparent_hugepage/defrag", .value = (char *) "never" },
};

static KernelId kernel_make(const char *release, const char *boot_id, MapcountMode mode) {
        return (KernelId) {
                .release = (char *) release,
                .version = (char *) "Linux version test",
                .boot_id = (char *) boot_id,
                .page_size = 4096,
                .mapcount_mode = mode,
        };
}

static int64_t epoch_make(Store *s, const char *release, const char *boot_id, MapcountMode mode,
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

static int64_t sweep_write(Store *s, int64_t epoch, uint64_t start, int kind, int meminfo_index) {
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

/* ---- tests ---- */

static void test_create_reopen(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        Store *s = NULL;
        char *err = NULL, *mode;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, &err), 0);
        ASSERT_NULL(err);
        ASSERT_TRUE(s != NULL);
        ASSERT_INT_EQ(store_opened_version(s), 0);
        ASSERT_NULL(store_last_error(s));
        s = store_free(s);
        ASSERT_NULL(s);

        ASSERT_INT_EQ(sql_int(db, "PRAGMA application_id"), 0x6D617073);
        ASSERT_INT_EQ(sql_int(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
        mode = sql_text(db, "PRAGMA journal_mode");
        ASSERT_STR_EQ(mode, "wal");
        free(mode);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 10);

        /* Reopening: nothing to migrate; read-only works too. */
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        ASSERT_INT_EQ(store_opened_version(s), STORE_SCHEMA_VERSION);
        s = store_free(s);
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_ONLY, NULL), 0);
        ASSERT_INT_EQ(store_opened_version(s), STORE_SCHEMA_VERSION);
        s = store_free(s);

        free(db);
        test_tmpdir_remove(dir);
}

static void check_groups_after_full_sweep(Store *s, int64_t sweep_id) {
        ProcessGroup *g = NULL;
        size_t n = 99, total = 99;
        int64_t sid = -1;

        ASSERT_INT_EQ(store_latest_process_groups(s, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(sid, sweep_id);
        ASSERT_INT_EQ(total, 2);
        ASSERT_INT_EQ(n, 2);
        if (n != 2)
                return;

        /* bar's Pss (2200 kB) is above foo's (50 + 70 + 10). */
        ASSERT_STR_EQ(g[0].identity.key, KEY_BAR);
        ASSERT_STR_EQ(g[0].identity.comm, "bar");
        ASSERT_STR_EQ(g[0].identity.unit, "test.service");
        ASSERT_INT_EQ(g[0].n_pids, 1);
        ASSERT_INT_EQ(g[0].pids[0], 200);
        ASSERT_U64_EQ(g[0].present, ALL_FIELDS);
        ASSERT_U64_EQ(g[0].kb[SMAPS_PSS], 2200);
        ASSERT_INT_EQ(g[0].n_extra, 2);
        ASSERT_STR_EQ(g[0].extra[0].name, "Bar_New");
        ASSERT_U64_EQ(g[0].extra[0].kb, 3);
        ASSERT_STR_EQ(g[0].extra[1].name, "Foo_New");
        ASSERT_U64_EQ(g[0].extra[1].kb, 7);

        ASSERT_STR_EQ(g[1].identity.key, KEY_FOO);
        ASSERT_STR_EQ(g[1].identity.exe, "/usr/bin/foo");
        ASSERT_INT_EQ(g[1].n_pids, 3);
        ASSERT_INT_EQ(g[1].pids[0], 100);
        ASSERT_INT_EQ(g[1].pids[1], 101);
        ASSERT_INT_EQ(g[1].pids[2], 102);
        ASSERT_U64_EQ(g[1].present, ALL_FIELDS & ~(1u << SMAPS_KSM));
        ASSERT_U64_EQ(g[1].kb[SMAPS_RSS], 600);
        ASSERT_U64_EQ(g[1].kb[SMAPS_PSS], 130);
        ASSERT_U64_EQ(g[1].kb[SMAPS_KSM], 13100 + 13102);      /* 101 has no Ksm */
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                uint64_t want = field_of(f, 100, 0) + field_of(f, 101, 0) + field_of(f, 102, 0);

                ASSERT_U64_EQ(g[1].kb[f], want);
        }
        ASSERT_INT_EQ(g[1].n_extra, 0);
        process_group_array_free(g, n);

        /* Paging. */
        ASSERT_INT_EQ(store_latest_process_groups(s, 1, 1, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(n, 1);
        ASSERT_INT_EQ(total, 2);
        if (n == 1)
                ASSERT_STR_EQ(g[0].identity.key, KEY_FOO);
        process_group_array_free(g, n);
        ASSERT_INT_EQ(store_latest_process_groups(s, 5, 2, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(n, 0);
        ASSERT_INT_EQ(total, 2);
        process_group_array_free(g, n);
}

static void check_identity_series_a(Store *s, int64_t epoch_a, size_t n_expected_points,
                                    bool first_pruned) {
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        size_t n = 0;
        /* Sweeps A1 (full), A2 (two foo), A3 (full); A1 is gone after pruning. */
        const int kinds[] = { SWEEP_FULL, SWEEP_TWO_FOO, SWEEP_FULL };
        size_t first = first_pruned ? 1 : 0;

        ASSERT_INT_EQ(store_epoch_identity_series(s, epoch_a, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        if (n != 2)
                goto finish;
        ASSERT_TRUE(series[0].identity_id < series[1].identity_id);
        ASSERT_INT_EQ(series[0].n, n_expected_points);
        ASSERT_INT_EQ(series[1].n, n_expected_points);
        ASSERT_TRUE(series[0].points == points);
        ASSERT_TRUE(series[1].points == points + series[0].n);

        for (size_t i = 0; i < series[0].n && i + first < 3; i++) {
                const IdentityPoint *p = series[0].points + i;
                int kind = kinds[i + first];
                int variant = kind == SWEEP_TWO_FOO ? 2 : 0;
                int pids[3] = { 100, 101, 102 };
                size_t np = kind == SWEEP_TWO_FOO ? 2 : 3;
                uint64_t rss = 0, shared = 0, priv = 0, pss = 0, anon = 0, file = 0, shmem = 0;

                for (size_t j = 0; j < np; j++) {
                        rss += field_of(SMAPS_RSS, pids[j], variant);
                        shared += field_of(SMAPS_SHARED_CLEAN, pids[j], variant) +
                                  field_of(SMAPS_SHARED_DIRTY, pids[j], variant);
                        priv += field_of(SMAPS_PRIVATE_CLEAN, pids[j], variant) +
                                field_of(SMAPS_PRIVATE_DIRTY, pids[j], variant);
                        pss += field_of(SMAPS_PSS, pids[j], variant);
                        anon += field_of(SMAPS_PSS_ANON, pids[j], variant);
                        file += field_of(SMAPS_PSS_FILE, pids[j], variant);
                        shmem += field_of(SMAPS_PSS_SHMEM, pids[j], variant);
                }
                ASSERT_INT_EQ(p->processes, np);
                ASSERT_U64_EQ(p->rss_kb, rss);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_SHARED], shared);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PRIVATE], priv);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS], pss);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS_ANON], anon);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS_FILE], file);
                ASSERT_U64_EQ(p->metric_kb[COMPARE_METRIC_PSS_SHMEM], shmem);
        }
        /* Hand-checked: A1 foo Rss 300 + 100 + 200, A2 400 + 100. */
        if (!first_pruned) {
                ASSERT_U64_EQ(series[0].points[0].rss_kb, 600);
                ASSERT_U64_EQ(series[0].points[1].rss_kb, 500);
                ASSERT_U64_EQ(series[0].points[1].metric_kb[COMPARE_METRIC_PSS], 120);
        }
        for (size_t i = 0; i < series[1].n; i++) {
                ASSERT_INT_EQ(series[1].points[i].processes, 1);
                ASSERT_U64_EQ(series[1].points[i].rss_kb, kb_of(SMAPS_RSS, 200));
        }
finish:
        free(series);
        free(points);
}

static void check_system_series_a(Store *s, int64_t epoch_a) {
        SystemSeries *series = NULL;
        SeriesPoint *points = NULL;
        size_t n = 0;

        ASSERT_INT_EQ(store_epoch_system_series(s, epoch_a, &series, &n, &points), 0);
        /* HugePages_Total is a count, not kB: left out. */
        ASSERT_INT_EQ(n, 3);
        if (n == 3) {
                ASSERT_STR_EQ(series[0].name, "AnonPages");
                ASSERT_STR_EQ(series[1].name, "MemFree");
                ASSERT_STR_EQ(series[2].name, "MemTotal");
                ASSERT_INT_EQ(series[1].n, 3);
                for (size_t i = 0; i < series[1].n; i++) {
                        ASSERT_DOUBLE_NEAR(series[1].points[i].value_kb, 501000 + 1000.0 * i, 0);
                        ASSERT_DOUBLE_NEAR(series[1].points[i].base_kb, 1000000, 0);
                }
                ASSERT_DOUBLE_NEAR(series[0].points[2].value_kb, 200000, 0);
                ASSERT_TRUE(series[2].points == points + 6);
        }
        free(series);
        free(points);
}

static void test_sweeps_and_queries(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        int64_t a, b, c, d, a1, a3, b2, c1, baseline = -1, candidate = -1;
        Store *s = NULL, *ro = NULL;
        EpochInfo *epochs = NULL;
        StoreHealth h;
        size_t n = 0;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;

        /* Nothing yet. */
        ASSERT_INT_EQ(store_default_epochs(s, &baseline, &candidate), 0);
        ASSERT_INT_EQ(baseline, 0);
        ASSERT_INT_EQ(candidate, 0);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, 0);
        ASSERT_INT_EQ(h.sweeps_stored, 0);

        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 500000, true, true);
        ASSERT_INT_EQ(epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 900000, true, false),
                      a);

        a1 = sweep_write(s, a, 1000000, SWEEP_FULL, 1);
        check_groups_after_full_sweep(s, a1);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_rss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 200);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_pss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 50);
        (void) sweep_write(s, a, 2000000, SWEEP_TWO_FOO, 2);
        /* Two processes: the lower median. */
        ASSERT_INT_EQ(sql_int(db, "SELECT median_rss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"
                              " ORDER BY sweep_id DESC"), 100);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_pss_kb FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"
                              " ORDER BY sweep_id DESC"), 50);
        ASSERT_INT_EQ(sql_int(db, "SELECT present FROM identity_samples i JOIN identities"
                              " d ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"),
                      ALL_FIELDS & ~(1u << SMAPS_KSM));
        a3 = sweep_write(s, a, 3000000, SWEEP_FULL, 3);

        b = epoch_make(s, "6.18.0", "boot-b", MAPCOUNT_MODE_NO_PAGE, 3500000, false, true);
        ASSERT_TRUE(b > a);
        (void) sweep_write(s, b, 4000000, SWEEP_FULL, 4);
        b2 = sweep_write(s, b, 5000000, SWEEP_REUSED_PID, 5);

        /* A reused PID with a new start time is another process. */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes WHERE pid = 100 AND"
                              " epoch_id = (SELECT id FROM epochs WHERE boot_id = 'boot-b')"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes WHERE pid = 100 AND"
                              " epoch_id = (SELECT id FROM epochs WHERE boot_id = 'boot-a')"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identities"), 2);

        ASSERT_INT_EQ(store_default_epochs(s, &baseline, &candidate), 0);
        ASSERT_INT_EQ(candidate, b);
        ASSERT_INT_EQ(baseline, a);

        /* Same release and mode as b on another boot: b is no baseline for c. */
        c = epoch_make(s, "6.18.0", "boot-c", MAPCOUNT_MODE_NO_PAGE, 5500000, false, true);
        c1 = sweep_write(s, c, 6000000, SWEEP_FOO_ONLY, 6);
        d = epoch_make(s, "6.19.0", "boot-d", MAPCOUNT_MODE_NO_PAGE, 7000000, false, true);
        ASSERT_INT_EQ(store_default_epochs(s, &baseline, &candidate), 0);
        ASSERT_INT_EQ(candidate, c);
        ASSERT_INT_EQ(baseline, a);

        /* The web server's view: a read-only connection while the writer is open. */
        ASSERT_INT_EQ(store_open(&ro, db, STORE_READ_ONLY, NULL), 0);
        if (!ro)
                goto finish;
        ASSERT_INT_EQ(store_sweep_begin(ro, c, 8000000), -EROFS);
        ASSERT_TRUE(store_last_error(ro) != NULL);

        ASSERT_INT_EQ(store_list_epochs(ro, &epochs, &n), 0);
        ASSERT_INT_EQ(n, 4);
        if (n == 4) {
                ASSERT_INT_EQ(epochs[0].id, a);
                ASSERT_STR_EQ(epochs[0].boot_id, "boot-a");
                ASSERT_STR_EQ(epochs[0].release, "6.12.0");
                ASSERT_STR_EQ(epochs[0].version, "Linux version test");
                ASSERT_STR_EQ(epochs[0].mapcount_mode, "page_mapcount");
                ASSERT_U64_EQ(epochs[0].page_size, 4096);
                ASSERT_NULL(epochs[0].config_source);
                ASSERT_U64_EQ(epochs[0].first_seen_usec, 500000);
                ASSERT_U64_EQ(epochs[0].last_seen_usec, 3000000);  /* its last sweep, after the last ensure */
                ASSERT_U64_EQ(epochs[0].sweeps, 3);
                ASSERT_U64_EQ(epochs[0].first_sweep_usec, 1000000);
                ASSERT_U64_EQ(epochs[0].last_sweep_usec, 3000000);
                ASSERT_INT_EQ(epochs[0].n_settings, 2);
                if (epochs[0].n_settings == 2) {
                        ASSERT_STR_EQ(epochs[0].settings[0].key, "transparent_hugepage/defrag");
                        ASSERT_STR_EQ(epochs[0].settings[0].value, "never");
                        ASSERT_STR_EQ(epochs[0].settings[1].key, "transparent_hugepage/enabled");
                        ASSERT_STR_EQ(epochs[0].settings[1].value, "madvise");
                }
                ASSERT_STR_EQ(epochs[1].mapcount_mode, "no_page_mapcount");
                ASSERT_U64_EQ(epochs[1].sweeps, 2);
                ASSERT_INT_EQ(epochs[1].n_settings, 0);
                ASSERT_INT_EQ(epochs[3].id, d);
                ASSERT_U64_EQ(epochs[3].sweeps, 0);
                ASSERT_U64_EQ(epochs[3].first_sweep_usec, 0);
                ASSERT_U64_EQ(epochs[3].last_sweep_usec, 0);
        }
        epoch_info_array_free(epochs, n);

        check_identity_series_a(ro, a, 3, false);
        check_system_series_a(ro, a);
        {
                IdentitySeries *series = NULL;
                IdentityPoint *points = NULL;
                SystemSeries *ss = NULL;
                SeriesPoint *sp = NULL;

                ASSERT_INT_EQ(store_epoch_identity_series(ro, 9999, &series, &n, &points),
                              -ENOENT);
                ASSERT_INT_EQ(store_epoch_system_series(ro, 9999, &ss, &n, &sp), -ENOENT);
                /* An epoch without sweeps: empty, not an error. */
                ASSERT_INT_EQ(store_epoch_identity_series(ro, d, &series, &n, &points), 0);
                ASSERT_INT_EQ(n, 0);
                free(series);
                free(points);
        }

        ASSERT_INT_EQ(store_health(ro, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, c1);
        ASSERT_U64_EQ(h.last_sweep_usec, 6000000);
        ASSERT_U64_EQ(h.last_duration_usec, 1234);
        ASSERT_INT_EQ(h.last_sampled, 4);
        ASSERT_INT_EQ(h.last_skipped, 3);
        ASSERT_U64_EQ(h.sweeps_stored, 6);
        ASSERT_INT_EQ(h.current_epoch_id, c);

        {
                IdentityInfo info = {};

                ASSERT_INT_EQ(store_get_identity(ro, 9999, &info), -ENOENT);
                ASSERT_NULL(info.key);
        }

        /* Retention: everything before 4.5 s is old; the newest 2 sweeps of each epoch stay. */
        ASSERT_INT_EQ(store_prune(s, 4500000, 2), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps"), 5);
        ASSERT_INT_EQ(sql_int(db, "SELECT min(start_usec) FROM sweeps"), 2000000);
        /* Raw samples only of sweeps at or after the cutoff: b2 (2 processes), c1 (1). */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 3);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(DISTINCT sweep_id) FROM process_samples"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_extra"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes"), 3);
        /* Aggregates and meminfo of the kept sweeps: a2, a3, b1, b2 (2 identities), c1 (1). */
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples"), 9);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM meminfo_samples"), 5 * 4);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identities"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM epochs"), 4);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        check_identity_series_a(ro, a, 2, true);
        ASSERT_INT_EQ(store_prune(s, 4500000, 2), 0);
        (void) a3;
        (void) b2;

finish:
        store_free(ro);
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

static void test_abort_and_failed_statement(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        SweepSummary sum = { .sampled = 2 };
        Store *s = NULL;
        int64_t a, id;
        StoreHealth h;
        int r;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        store_sweep_abort(s);   /* nothing begun: harmless */
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);

        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), 0);
        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), -EBUSY);
        ASSERT_INT_EQ(add_foo(s, 100, 10, 0), 0);
        store_sweep_abort(s);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.sweeps_stored, 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identities"), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes"), 0);
        ASSERT_INT_EQ(add_foo(s, 100, 10, 0), -EINVAL);    /* no sweep open */

        /* The same process twice violates the primary key; the sweep goes on without it. */
        ASSERT_INT_EQ(store_sweep_begin(s, a, 2000), 0);
        ASSERT_INT_EQ(add_foo(s, 100, 10, 0), 0);
        r = add_foo(s, 100, 10, 0);
        ASSERT_INT_EQ(r, -EIO);
        ASSERT_TRUE(store_last_error(s) && strstr(store_last_error(s), "UNIQUE") != NULL);
        ASSERT_INT_EQ(add_bar(s), 0);
        id = store_sweep_commit(s, &sum);
        ASSERT_TRUE(id > 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_extra"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT sum(processes) FROM identity_samples"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT rss_kb FROM identity_samples i JOIN identities d"
                              " ON d.id = i.identity_id WHERE d.key = '" KEY_FOO "'"), 300);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, id);
        ASSERT_INT_EQ(h.last_sampled, 2);

        /* A sweep of an epoch that does not exist fails and leaves nothing behind. */
        ASSERT_INT_EQ(store_sweep_begin(s, 9999, 3000), -EIO);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps"), 1);
        /* ... and the connection is still usable. */
        ASSERT_INT_EQ(store_sweep_begin(s, a, 3000), 0);
        store_sweep_abort(s);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

/* store_open() must fail with `want` and leave the file exactly as it was. */
static void check_refused(const char *path, StoreMode mode, int want, const char *reason_part) {
        FileBytes before = file_bytes(path), after;
        Store *s = NULL;
        char *err = NULL;

        ASSERT_INT_EQ(store_open(&s, path, mode, &err), want);
        ASSERT_NULL(s);
        ASSERT_TRUE(err != NULL);
        if (err && reason_part && !strstr(err, reason_part)) {
                fprintf(stderr, "reason '%s' lacks '%s'\n", err, reason_part);
                ASSERT_TRUE(false);
        }
        after = file_bytes(path);
        ASSERT_TRUE(file_bytes_equal(&before, &after));
        store_free(s);
        free(err);
        free(before.data);
        free(after.data);
}

static void check_refused_unwritable(void *path) {
        check_refused(path, STORE_READ_WRITE, -EACCES, "cannot create it");
}

static void test_refusals(void) {
        char *dir = test_tmpdir_new("test-store");
        char *garbage = path_join(dir, "garbage.db"), *foreign = path_join(dir, "foreign.db");
        char *other_id = path_join(dir, "other-id.db"), *newer = path_join(dir, "newer.db");
        char *missing_dir = path_join(dir, "nonexistent/mapstatd.db");
        char *missing = path_join(dir, "missing.db"), *sub = path_join(dir, "nonexistent");
        char junk[8192];
        Store *s = NULL;
        struct stat st;
        char bump[64];

        for (size_t i = 0; i < sizeof junk; i++)
                junk[i] = (char) ('a' + i % 26);
        write_file(garbage, junk, sizeof junk);
        check_refused(garbage, STORE_READ_WRITE, -EBADMSG, "not an SQLite database");
        check_refused(garbage, STORE_READ_ONLY, -EBADMSG, NULL);

        sql_exec(foreign, "CREATE TABLE t (x); INSERT INTO t VALUES (1);");
        check_refused(foreign, STORE_READ_WRITE, -EBADMSG, "not a mapstatd database");
        check_refused(foreign, STORE_READ_ONLY, -EBADMSG, "not a mapstatd database");

        sql_exec(other_id, "PRAGMA application_id = 42;");
        check_refused(other_id, STORE_READ_WRITE, -EBADMSG, "0x0000002a");

        ASSERT_INT_EQ(store_open(&s, newer, STORE_READ_WRITE, NULL), 0);
        s = store_free(s);
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION + 1);
        sql_exec(newer, bump);
        check_refused(newer, STORE_READ_WRITE, -EPROTONOSUPPORT, "newer");
        check_refused(newer, STORE_READ_ONLY, -EPROTONOSUPPORT, NULL);
        snprintf(bump, sizeof bump, "version %d", STORE_SCHEMA_VERSION + 1);
        check_refused(newer, STORE_READ_WRITE, -EPROTONOSUPPORT, bump);

        check_refused(missing_dir, STORE_READ_WRITE, -ENOENT, "does not exist");
        ASSERT_TRUE(stat(sub, &st) < 0 && errno == ENOENT);
        check_refused(missing, STORE_READ_ONLY, -ENOENT, "does not exist");
        ASSERT_TRUE(stat(missing, &st) < 0 && errno == ENOENT);

        {
                /* Root writes any directory: the check runs as nobody then. */
                char *locked = path_join(dir, "locked"), *inside = path_join(locked, "mapstatd.db");

                ASSERT_INT_EQ(chmod(dir, 0755), 0);
                ASSERT_INT_EQ(mkdir(locked, 0555), 0);
                test_run_unprivileged(check_refused_unwritable, inside);
                ASSERT_TRUE(stat(inside, &st) < 0 && errno == ENOENT);
                (void) chmod(locked, 0700);
                free(inside);
                free(locked);
        }

        free(garbage);
        free(foreign);
        free(other_id);
        free(newer);
        free(missing_dir);
        free(missing);
        free(sub);
        test_tmpdir_remove(dir);
}

/* ---- pagemap and reconstruction ---- */

/* Synthetic pagemap counts: distinct per process, class and field (0 present, 1 swapped,
 * 2 exclusive). */
static uint64_t pages_of(int pid, int class, int field) {
        return 100 * (uint64_t) pid + 10 * (uint64_t) class + (uint64_t) field + 1;
}

static void pagemap_make(ProcSample *p, bool truncated) {
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
static ProcessTruth truth_of(int pid) {
        uint64_t b = 1000 * (uint64_t) pid;

        return (ProcessTruth) {
                .uss_kb = b + 1, .pss_kb = b + 2, .shared_kb = b + 3, .private_kb = b + 4,
                .forecast_pss_kb = b + 5, .forecast_pss_anon_kb = b + 6,
                .forecast_pss_file_kb = b + 7, .forecast_pss_shmem_kb = b + 8,
                .forecast_shared_kb = b + 9, .forecast_private_kb = b + 10,
                .forecast_exclusive_pages = b + 11, .partially_mapped_folios = b + 12,
        };
}

static int add_foo_pagemap(Store *s, int pid, uint64_t start_ticks, bool with_pagemap,
                           bool truncated) {
        ProcSample p = sample_make(pid, start_ticks, "foo", "/usr/bin/foo", 0);

        if (with_pagemap)
                pagemap_make(&p, truncated);
        return store_sweep_add_process(s, &p, KEY_FOO);
}

static int add_bar_pagemap(Store *s) {
        ProcSample p = sample_make(200, 20, "bar", "/usr/bin/bar", 0);

        pagemap_make(&p, false);
        return store_sweep_add_process(s, &p, KEY_BAR);
}

static int add_truth(Store *s, int pid, uint64_t start_ticks) {
        ProcessTruth t = truth_of(pid);

        return store_sweep_add_truth(s, pid, start_ticks, &t);
}

/* One identity_samples column of key in sweep (-1 when NULL, -2 on error). */
static int64_t identity_column(const char *db, int64_t sweep, const char *key,
                               const char *column) {
        char sql[512];

        snprintf(sql, sizeof sql, "SELECT coalesce(i.%s, -1) FROM identity_samples i"
                 " JOIN identities d ON d.id = i.identity_id WHERE i.sweep_id = %" PRIi64
                 " AND d.key = '%s'", column, sweep, key);
        return sql_int(db, sql);
}

static int64_t process_column(const char *db, int64_t sweep, int pid, const char *column) {
        char sql[512];

        snprintf(sql, sizeof sql, "SELECT coalesce(ps.%s, -1) FROM process_samples ps"
                 " JOIN processes p ON p.id = ps.process_id WHERE ps.sweep_id = %" PRIi64
                 " AND p.pid = %d", column, sweep, pid);
        return sql_int(db, sql);
}

static const char *const class_names[_VMA_CLASS_MAX] = {
        "anon", "file", "shared_file", "shmem", "hugetlb",
};

/* Checks one identity's point against the pagemap and truth of the given members, with page_kb
 * kB per page. */
static void check_point(const IdentityPoint *p, const int *pids, size_t n, bool has_pagemap,
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
static void write_pagemap_sweeps(Store *s, int64_t epoch, uint64_t start, int64_t *ret_ids) {
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

static void test_pagemap_and_truth(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        const int foo1[] = { 100, 101, 102 }, bar[] = { 200 };
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        ProcessGroup *g = NULL;
        size_t n = 0, total = 0;
        int64_t a, big, ids[2], big_ids[2], sid;
        Store *s = NULL, *ro = NULL;
        ProcessTruth t = truth_of(1);
        StoreHealth h;
        char column[64];

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        ASSERT_INT_EQ(store_sweep_add_truth(s, 100, 10, &t), -EINVAL);     /* no sweep open */

        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        write_pagemap_sweeps(s, a, 1000000, ids);

        /* The rows as written: pagemap columns NULL for the process not scanned. */
        ASSERT_INT_EQ(process_column(db, ids[0], 100, "pagemap_truncated"), 0);
        ASSERT_INT_EQ(process_column(db, ids[0], 101, "pagemap_truncated"), 1);
        ASSERT_INT_EQ(process_column(db, ids[0], 102, "pagemap_truncated"), -1);
        for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                static const char *const fields[] = { "present", "swapped", "exclusive" };

                for (int f = 0; f < 3; f++) {
                        snprintf(column, sizeof column, "%s_%s_pages", class_names[c], fields[f]);
                        ASSERT_INT_EQ(process_column(db, ids[0], 101, column), pages_of(101, c, f));
                        ASSERT_INT_EQ(process_column(db, ids[0], 102, column), -1);
                        /* Summed over the members scanned completely only: 101's scan was
                         * cut short, its raw counts stay in its own row. */
                        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, column),
                                      pages_of(100, c, f));
                        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, column),
                                      pages_of(100, c, f) + pages_of(101, c, f) +
                                      pages_of(102, c, f));
                }
        }
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "pagemap_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "truth_processes"), 3);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "truth_uss_kb"),
                      100001 + 101001 + 102001);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_FOO, "partially_mapped_folios"),
                      100012 + 101012 + 102012);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_BAR, "pagemap_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_BAR, "truth_processes"), 0);
        ASSERT_INT_EQ(identity_column(db, ids[0], KEY_BAR, "truth_pss_kb"), -1);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "truth_processes"), 2);
        ASSERT_INT_EQ(identity_column(db, ids[1], KEY_FOO, "forecast_exclusive_pages"),
                      100011 + 102011);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 5);
        ASSERT_INT_EQ(sql_int(db, "SELECT forecast_pss_shmem_kb FROM process_truth t"
                              " JOIN processes p ON p.id = t.process_id WHERE p.pid = 101"),
                      101008);

        /* The series, from a read-only connection. */
        ASSERT_INT_EQ(store_open(&ro, db, STORE_READ_ONLY, NULL), 0);
        if (!ro)
                goto finish;
        ASSERT_INT_EQ(store_epoch_identity_series(ro, a, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        if (n == 2 && series[0].n == 2 && series[1].n == 2) {
                /* foo was created first. Sweep 1: one member not scanned, all reconstructed. */
                check_point(series[0].points + 0, foo1, 3, false, true, 4);
                check_point(series[0].points + 1, foo1, 3, true, false, 4);
                check_point(series[1].points + 0, bar, 1, true, false, 4);
                check_point(series[1].points + 1, bar, 1, true, false, 4);
                /* A hand-computed figure: anon present pages 10001 + 10101 + 10201 at 4 kB. */
                ASSERT_U64_EQ(series[0].points[1].present_kb[EXCLUSIVITY_ANON], 121212);
                ASSERT_U64_EQ(series[0].points[0].truth_kb[COMPARE_METRIC_PSS], 303006);
                /* forecast_exclusive_pages 100011 + 101011 + 102011 at 4 kB. */
                ASSERT_U64_EQ(series[0].points[0].forecast_exclusive_kb, 4 * 303033);
        } else
                ASSERT_TRUE(false);
        free(series);
        free(points);

        /* The latest sweep's groups: sums, has_* false when one member lacks the data. */
        ASSERT_INT_EQ(store_latest_process_groups(ro, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(sid, ids[1]);
        ASSERT_INT_EQ(n, 2);
        if (n == 2) {
                ASSERT_STR_EQ(g[0].identity.key, KEY_BAR);
                ASSERT_TRUE(g[0].has_pagemap);
                ASSERT_FALSE(g[0].has_truth);
                ASSERT_U64_EQ(g[0].pagemap[VMA_CLASS_SHMEM].swapped_pages,
                              pages_of(200, VMA_CLASS_SHMEM, 1));
                ASSERT_U64_EQ(g[0].truth.pss_kb, 0);
                ASSERT_STR_EQ(g[1].identity.key, KEY_FOO);
                ASSERT_TRUE(g[1].has_pagemap);
                ASSERT_FALSE(g[1].has_truth);   /* 101 not reconstructed in sweep 2 */
                for (int c = 0; c < _VMA_CLASS_MAX; c++) {
                        ASSERT_U64_EQ(g[1].pagemap[c].present_pages,
                                      pages_of(100, c, 0) + pages_of(101, c, 0) +
                                      pages_of(102, c, 0));
                        ASSERT_U64_EQ(g[1].pagemap[c].exclusive_pages,
                                      pages_of(100, c, 2) + pages_of(101, c, 2) +
                                      pages_of(102, c, 2));
                }
        }
        process_group_array_free(g, n);

        ASSERT_INT_EQ(store_health(ro, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, ids[1]);
        ASSERT_INT_EQ(h.last_pagemap_truncated, 2);
        ASSERT_INT_EQ(h.last_pagemap_failed, 0);

        /* An epoch of 16 KiB pages: pages count 16 kB each. Its groups have every member
         * reconstructed in the first sweep. */
        {
                KernelId k = kernel_make("6.18.0", "boot-arm", MAPCOUNT_MODE_NO_PAGE);
                bool created = false;

                k.page_size = 16384;
                ASSERT_INT_EQ(store_epoch_ensure(s, &k, 2, &big, &created), 0);
                ASSERT_TRUE(created);
        }
        write_pagemap_sweeps(s, big, 5000000, big_ids);
        ASSERT_INT_EQ(store_epoch_identity_series(ro, big, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 2);
        if (n == 2 && series[0].n == 2) {
                check_point(series[0].points + 0, foo1, 3, false, true, 16);
                check_point(series[0].points + 1, foo1, 3, true, false, 16);
                check_point(series[1].points + 0, bar, 1, true, false, 16);
                ASSERT_U64_EQ(series[0].points[1].present_kb[EXCLUSIVITY_ANON], 16 * 30303);
                ASSERT_U64_EQ(series[0].points[0].forecast_exclusive_kb, 16 * 303033);
        } else
                ASSERT_TRUE(false);
        free(series);
        free(points);

        ASSERT_INT_EQ(store_latest_process_groups(ro, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(sid, big_ids[1]);
        process_group_array_free(g, n);

        /* Retention removes the reconstructions with their samples: before 5 s, epoch a's
         * (3 + 2) go and its first sweep; then big's first sweep, and every raw row. */
        ASSERT_INT_EQ(store_prune(s, 5000000, 1), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 5);
        ASSERT_INT_EQ(store_prune(s, 7000000, 1), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);

finish:
        store_free(ro);
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

/* Many processes of one identity, reconstructed in reverse order of adding: the lookup index
 * grows past its first size and finds each of them. */
static void test_truth_many(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        SweepSummary sum = { .sampled = 700 };
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        uint64_t want_uss = 0, want_private = 0;
        size_t n = 0;
        Store *s = NULL;
        int64_t a, id;

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (!s)
                goto finish;
        a = epoch_make(s, "6.12.0", "boot-a", MAPCOUNT_MODE_PAGE, 1, false, true);
        ASSERT_INT_EQ(store_sweep_begin(s, a, 1000), 0);
        for (int pid = 1000; pid < 1400; pid++)
                ASSERT_INT_EQ(add_foo_pagemap(s, pid, 7, false, false), 0);
        /* One truth while rows are still coming: the index is then extended, then grown. */
        ASSERT_INT_EQ(add_truth(s, 1000, 7), 0);
        for (int pid = 1400; pid < 1700; pid++)
                ASSERT_INT_EQ(add_foo_pagemap(s, pid, 7, false, false), 0);
        for (int pid = 1699; pid > 1000; pid--)
                ASSERT_INT_EQ(add_truth(s, pid, 7), 0);
        ASSERT_INT_EQ(add_truth(s, 1700, 7), -ENOENT);
        for (int pid = 1000; pid < 1700; pid++) {
                want_uss += truth_of(pid).uss_kb;
                want_private += truth_of(pid).private_kb;
        }
        id = store_sweep_commit(s, &sum);
        ASSERT_TRUE(id > 0);

        ASSERT_INT_EQ(store_epoch_identity_series(s, a, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1 && series[0].n == 1) {
                ASSERT_INT_EQ(points[0].processes, 700);
                ASSERT_FALSE(points[0].has_pagemap);
                ASSERT_TRUE(points[0].has_truth);
                ASSERT_U64_EQ(points[0].truth_uss_kb, want_uss);
                ASSERT_U64_EQ(points[0].truth_kb[COMPARE_METRIC_PRIVATE], want_private);
        }
        free(series);
        free(points);
        ASSERT_INT_EQ(identity_column(db, id, KEY_FOO, "pagemap_processes"), 0);
        ASSERT_INT_EQ(identity_column(db, id, KEY_FOO, "anon_present_pages"), -1);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

/* ---- migration ---- */

/* The schema of version 1 as released (storage/schema.c, step 0), frozen here so that the
 * migration is tested from the file an earlier build wrote. */
static const char schema_v1_sql[] =
        "PRAGMA application_id = 1835102323;\n" /* 0x6D617073 */
        "CREATE TABLE epochs (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        boot_id TEXT NOT NULL,\n"
        "        release TEXT NOT NULL,\n"
        "        version TEXT,\n"
        "        page_size INTEGER,\n"
        "        mapcount_mode TEXT NOT NULL,\n"
        "        config_source TEXT,\n"
        "        config_lines TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL,\n"
        "        UNIQUE (boot_id, release, mapcount_mode)\n"
        ");\n"
        "CREATE TABLE epoch_settings (\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        key TEXT NOT NULL,\n"
        "        value TEXT NOT NULL,\n"
        "        PRIMARY KEY (epoch_id, key)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE sweeps (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        start_usec INTEGER NOT NULL,\n"
        "        duration_usec INTEGER,\n"
        "        sampled INTEGER,\n"
        "        skipped INTEGER,\n"
        "        vanished INTEGER,\n"
        "        denied INTEGER,\n"
        "        malformed INTEGER\n"
        ");\n"
        "CREATE INDEX sweeps_epoch_start ON sweeps (epoch_id, start_usec);\n"
        "CREATE TABLE identities (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        key TEXT NOT NULL UNIQUE,\n"
        "        comm TEXT,\n"
        "        exe TEXT,\n"
        "        cmdline TEXT,\n"
        "        unit TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL\n"
        ");\n"
        "CREATE TABLE processes (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        pid INTEGER NOT NULL,\n"
        "        start_time_ticks INTEGER NOT NULL,\n"
        "        identity_id INTEGER NOT NULL REFERENCES identities (id),\n"
        "        comm TEXT,\n"
        "        exe TEXT,\n"
        "        cmdline TEXT,\n"
        "        cgroup TEXT,\n"
        "        unit TEXT,\n"
        "        UNIQUE (epoch_id, pid, start_time_ticks)\n"
        ");\n"
        "CREATE TABLE process_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        process_id INTEGER NOT NULL REFERENCES processes (id),\n"
        "        present INTEGER NOT NULL,\n"
        "        rss_kb INTEGER,\n"
        "        pss_kb INTEGER,\n"
        "        pss_dirty_kb INTEGER,\n"
        "        pss_anon_kb INTEGER,\n"
        "        pss_file_kb INTEGER,\n"
        "        pss_shmem_kb INTEGER,\n"
        "        shared_clean_kb INTEGER,\n"
        "        shared_dirty_kb INTEGER,\n"
        "        private_clean_kb INTEGER,\n"
        "        private_dirty_kb INTEGER,\n"
        "        referenced_kb INTEGER,\n"
        "        anonymous_kb INTEGER,\n"
        "        ksm_kb INTEGER,\n"
        "        lazyfree_kb INTEGER,\n"
        "        anon_huge_pages_kb INTEGER,\n"
        "        shmem_pmd_mapped_kb INTEGER,\n"
        "        file_pmd_mapped_kb INTEGER,\n"
        "        shared_hugetlb_kb INTEGER,\n"
        "        private_hugetlb_kb INTEGER,\n"
        "        swap_kb INTEGER,\n"
        "        swap_pss_kb INTEGER,\n"
        "        locked_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX process_samples_process ON process_samples (process_id);\n"
        "CREATE TABLE process_extra (\n"
        "        sweep_id INTEGER NOT NULL,\n"
        "        process_id INTEGER NOT NULL,\n"
        "        name TEXT NOT NULL,\n"
        "        kb INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, process_id, name),\n"
        "        FOREIGN KEY (sweep_id, process_id)\n"
        "                REFERENCES process_samples (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE identity_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        identity_id INTEGER NOT NULL REFERENCES identities (id),\n"
        "        processes INTEGER NOT NULL,\n"
        "        present INTEGER NOT NULL,\n"
        "        rss_kb INTEGER,\n"
        "        pss_kb INTEGER,\n"
        "        pss_dirty_kb INTEGER,\n"
        "        pss_anon_kb INTEGER,\n"
        "        pss_file_kb INTEGER,\n"
        "        pss_shmem_kb INTEGER,\n"
        "        shared_clean_kb INTEGER,\n"
        "        shared_dirty_kb INTEGER,\n"
        "        private_clean_kb INTEGER,\n"
        "        private_dirty_kb INTEGER,\n"
        "        referenced_kb INTEGER,\n"
        "        anonymous_kb INTEGER,\n"
        "        ksm_kb INTEGER,\n"
        "        lazyfree_kb INTEGER,\n"
        "        anon_huge_pages_kb INTEGER,\n"
        "        shmem_pmd_mapped_kb INTEGER,\n"
        "        file_pmd_mapped_kb INTEGER,\n"
        "        shared_hugetlb_kb INTEGER,\n"
        "        private_hugetlb_kb INTEGER,\n"
        "        swap_kb INTEGER,\n"
        "        swap_pss_kb INTEGER,\n"
        "        locked_kb INTEGER,\n"
        "        median_rss_kb INTEGER,\n"
        "        median_pss_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, identity_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE meminfo_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        name TEXT NOT NULL,\n"
        "        value INTEGER NOT NULL,\n"
        "        is_kb INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, name)\n"
        ") WITHOUT ROWID;\n";

static void test_migrate_v1(void) {
        char *dir = test_tmpdir_new("test-store"), *db = path_join(dir, "mapstatd.db");
        IdentitySeries *series = NULL;
        IdentityPoint *points = NULL;
        ProcessGroup *g = NULL;
        size_t n = 0, total = 0;
        Store *s = NULL;
        StoreHealth h;
        int64_t sid, id2;
        char *err = NULL;

        sql_exec(db, schema_v1_sql);
        sql_exec(db, "PRAGMA user_version = 1;"
                 "INSERT INTO epochs VALUES (1, 'boot-old', '6.1.0', 'v', 4096, 'page_mapcount',"
                 " NULL, NULL, 10, 20);"
                 "INSERT INTO sweeps VALUES (1, 1, 1000, 5, 1, 0, 0, 0, 0);"
                 "INSERT INTO identities VALUES (1, '" KEY_FOO "', 'foo', '/usr/bin/foo',"
                 " '/usr/bin/foo', NULL, 1000, 1000);"
                 "INSERT INTO processes VALUES (1, 1, 100, 10, 1, 'foo', '/usr/bin/foo',"
                 " '/usr/bin/foo', NULL, NULL);"
                 "INSERT INTO process_samples (sweep_id, process_id, present, rss_kb, pss_kb)"
                 " VALUES (1, 1, 3, 300, 50);"
                 "INSERT INTO identity_samples (sweep_id, identity_id, processes, present,"
                 " rss_kb, pss_kb, median_rss_kb, median_pss_kb)"
                 " VALUES (1, 1, 1, 3, 300, 50, 300, 50);");

        /* Read-only cannot migrate; read-write does, once. */
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_ONLY, &err), -EPROTONOSUPPORT);
        free(err);
        err = NULL;
        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, &err), 0);
        ASSERT_NULL(err);
        if (!s)
                goto finish;
        ASSERT_INT_EQ(store_opened_version(s), 1);
        ASSERT_INT_EQ(sql_int(db, "PRAGMA user_version"), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'"), 10);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_table_info('process_samples')"),
                      3 + 22 + 16);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_table_info('identity_samples')"),
                      4 + 22 + 2 + 16 + 13);

        /* The data survives; the new columns read NULL. */
        ASSERT_INT_EQ(sql_int(db, "SELECT rss_kb FROM process_samples"), 300);
        ASSERT_INT_EQ(sql_int(db, "SELECT pss_kb FROM identity_samples"), 50);
        ASSERT_INT_EQ(sql_int(db, "SELECT median_rss_kb FROM identity_samples"), 300);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_samples WHERE"
                              " pagemap_truncated IS NULL AND anon_present_pages IS NULL"
                              " AND hugetlb_exclusive_pages IS NULL"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM identity_samples WHERE"
                              " pagemap_processes IS NULL AND truth_processes IS NULL"
                              " AND shmem_present_pages IS NULL AND truth_uss_kb IS NULL"
                              " AND partially_mapped_folios IS NULL"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM sweeps WHERE pagemap_truncated IS NULL"
                              " AND pagemap_failed IS NULL"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM process_truth"), 0);

        /* The queries read the old rows as not scanned. */
        ASSERT_INT_EQ(store_epoch_identity_series(s, 1, &series, &n, &points), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1 && series[0].n == 1) {
                ASSERT_U64_EQ(points[0].rss_kb, 300);
                ASSERT_U64_EQ(points[0].metric_kb[COMPARE_METRIC_PSS], 50);
                ASSERT_FALSE(points[0].has_pagemap);
                ASSERT_FALSE(points[0].has_truth);
        }
        free(series);
        free(points);
        ASSERT_INT_EQ(store_latest_process_groups(s, 10, 0, &g, &n, &total, &sid), 0);
        ASSERT_INT_EQ(n, 1);
        if (n == 1) {
                ASSERT_U64_EQ(g[0].kb[SMAPS_RSS], 300);
                ASSERT_FALSE(g[0].has_pagemap);
                ASSERT_FALSE(g[0].has_truth);
        }
        process_group_array_free(g, n);
        ASSERT_INT_EQ(store_health(s, &h), 0);
        ASSERT_INT_EQ(h.last_sweep_id, 1);
        ASSERT_INT_EQ(h.last_pagemap_truncated, 0);
        ASSERT_INT_EQ(h.last_pagemap_failed, 0);

        /* And the migrated file takes new sweeps, with a reconstruction. */
        ASSERT_INT_EQ(store_sweep_begin(s, 1, 2000), 0);
        ASSERT_INT_EQ(add_foo_pagemap(s, 100, 10, true, false), 0);
        ASSERT_INT_EQ(add_truth(s, 100, 10), 0);
        id2 = store_sweep_commit(s, &(SweepSummary) { .sampled = 1 });
        ASSERT_TRUE(id2 > 1);
        ASSERT_INT_EQ(identity_column(db, id2, KEY_FOO, "truth_processes"), 1);
        ASSERT_INT_EQ(identity_column(db, id2, KEY_FOO, "pagemap_processes"), 1);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM processes"), 1);  /* recognised */
        s = store_free(s);

        ASSERT_INT_EQ(store_open(&s, db, STORE_READ_WRITE, NULL), 0);
        if (s)
                ASSERT_INT_EQ(store_opened_version(s), 2);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
        ASSERT_INT_EQ(sql_int(db, "SELECT count(*) FROM pragma_integrity_check"
                              " WHERE integrity_check = 'ok'"), 1);

finish:
        store_free(s);
        free(db);
        test_tmpdir_remove(dir);
}

int main(void) {
        test_create_reopen();
        test_sweeps_and_queries();
        test_abort_and_failed_statement();
        test_refusals();
        test_pagemap_and_truth();
        test_truth_many();
        test_migrate_v1();
        return test_exit();
}
