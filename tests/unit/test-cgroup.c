/* Tests for collectors/cgroup: the memory.stat parser on good, bad and captured files, the field
 * names of both versions, unit and container names from paths, layout detection and the walk on
 * the captured hybrid and legacy trees, the hand-made unified tree and generated trees with one
 * fault each; on this machine, a scan of /sys and (as root) a memory cgroup made for the test. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "fileio.h"
#include "macro.h"
#include "proc-root.h"
#include "string-util.h"
#include "test.h"

#define HYBRID FIXTURES_DIR "/cgroup-hybrid"
#define LEGACY FIXTURES_DIR "/cgroup-legacy"
#define UNIFIED FIXTURES_DIR "/cgroup-unified"
#define DOCKER_ID "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"
#define CRI_ID "8c2d4e6f80a1b3c5d7e9f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c3"
#define POD "kubepods-burstable-pod0f1e2d3c_4b5a_4978_8a9b_0c1d2e3f4a5b.slice"
#define KUBE_POD "/kubepods.slice/kubepods-burstable.slice/" POD
#define APP "/user.slice/user-1000.slice/user@1000.service/app.slice"

/* A tree's sys/ as the sys root; the tree itself stands in for the proc root, which these
 * collectors do not read. */
static void open_tree(ProcRoot *root, const char *tree) {
        char sys[512];

        (void) snprintf(sys, sizeof sys, "%s/sys", tree);
        ASSERT_INT_EQ(proc_root_open(root, tree, sys, NULL), 0);
}

static int parse_file(const char *path, CgroupStat *ret) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        int r;

        r = read_file_at(AT_FDCWD, path, 1 << 20, &b);
        if (r < 0) {
                fprintf(stderr, "cannot read fixture '%s': %s\n", path, strerror(-r));
                return r;
        }
        return cgroup_stat_parse(b.data, b.size, ret);
}

/* ---- the scan's callee ------------------------------------------------------------------- */

typedef struct Collected {
        CgroupSample items[128];
        size_t n;
        bool leave;             /* copy what is checked and leave the sample to cgroup_scan() */
        size_t stop_after;      /* return -ECANCELED after this many (0: never) */
} Collected;

static int collect(CgroupSample *sample, void *userdata) {
        Collected *c = userdata;
        CgroupSample *s;

        if (c->n >= ELEMENTSOF(c->items))
                return -E2BIG;
        s = &c->items[c->n++];
        if (c->leave) {
                *s = (CgroupSample) {
                        .path = strdup(sample->path),
                        .unit = sample->unit ? strdup(sample->unit) : NULL,
                        .container = sample->container ? strdup(sample->container) : NULL,
                        .v1 = sample->v1,
                        .has_usage = sample->has_usage,
                        .usage_bytes = sample->usage_bytes,
                        .stat = memdup(sample->stat, sizeof *sample->stat),
                };
        } else {
                *s = *sample;
                *sample = (CgroupSample) {};
        }
        if (c->stop_after > 0 && c->n >= c->stop_after)
                return -ECANCELED;
        return 0;
}

static void collected_done(Collected *c) {
        for (size_t i = 0; i < c->n; i++)
                cgroup_sample_done(&c->items[i]);
        c->n = 0;
}

static const CgroupSample *find(const Collected *c, const char *path) {
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->items[i].path, path) == 0)
                        return &c->items[i];
        return NULL;
}

static uint64_t field(const CgroupSample *s, CgroupField f) {
        uint64_t v = UINT64_MAX;

        if (!s || !s->stat || cgroup_stat_get_field(s->stat, s->v1, f, &v) != 1)
                return UINT64_MAX;
        return v;
}

static int scan(const char *tree, CgroupLayout layout, size_t max, uint64_t deadline,
                Collected *c, CgroupScanStats *st) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;

        open_tree(&root, tree);
        return cgroup_scan(&root, layout, &b, max, deadline, collect, c, st);
}

/* ---- names and the parser ---------------------------------------------------------------- */

static void test_field_names(void) {
        for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++)
                ASSERT_INT_EQ(cgroup_field_from_string(cgroup_field_to_string(f)), f);
        ASSERT_STR_EQ(cgroup_field_name(CGROUP_ANON, true), "total_rss");
        ASSERT_STR_EQ(cgroup_field_name(CGROUP_FILE, true), "total_cache");
        ASSERT_STR_EQ(cgroup_field_name(CGROUP_FILE_MAPPED, true), "total_mapped_file");
        ASSERT_STR_EQ(cgroup_field_name(CGROUP_ANON_THP, true), "total_rss_huge");
        ASSERT_NULL(cgroup_field_name(CGROUP_SHMEM_THP, true));
        ASSERT_NULL(cgroup_field_to_string(_CGROUP_FIELD_MAX));
        ASSERT_INT_EQ(cgroup_field_from_string("total_rss"), _CGROUP_FIELD_INVALID);
        ASSERT_INT_EQ(cgroup_field_from_string(NULL), _CGROUP_FIELD_INVALID);
        for (CgroupLayout l = 0; l < _CGROUP_LAYOUT_MAX; l++)
                ASSERT_INT_EQ(cgroup_layout_from_string(cgroup_layout_to_string(l)), l);
        ASSERT_FALSE(cgroup_layout_is_v1(CGROUP_LAYOUT_UNIFIED));
        ASSERT_TRUE(cgroup_layout_is_v1(CGROUP_LAYOUT_HYBRID));
}

static void test_parse_inline(void) {
        static const struct {
                const char *text;
                int r;
                size_t n;
        } cases[] = {
                { "", 0, 0 },
                { "anon 1\nfile 2\n", 0, 2 },
                { "anon 1\nfile 2", 0, 2 },             /* last newline missing */
                { "total_rss 0\n", 0, 1 },
                { "anon 9223372036854775807\n", 0, 1 },
                { "anon 9223372036854775808\n", -ERANGE, 0 },
                { "anon 18446744073709551616\n", -ERANGE, 0 },
                { "anon 1\n\n", -EBADMSG, 0 },
                { "\n", -EBADMSG, 0 },
                { "anon  1\n", -EBADMSG, 0 },
                { "anon\t1\n", -EBADMSG, 0 },
                { "anon 1 \n", -EBADMSG, 0 },
                { "anon 1\r\n", -EBADMSG, 0 },
                { " anon 1\n", -EBADMSG, 0 },
                { "anon\n", -EBADMSG, 0 },
                { "anon \n", -EBADMSG, 0 },
                { "anon -1\n", -EBADMSG, 0 },
                { "anon +1\n", -EBADMSG, 0 },
                { "anon 0x10\n", -EBADMSG, 0 },
                { "an-on 1\n", -EBADMSG, 0 },
                { "anon: 1\n", -EBADMSG, 0 },
                { "anon 1 kB\n", -EBADMSG, 0 },
                { "anon 1\nfile 2\nanon 3\n", -EBADMSG, 0 },     /* duplicate */
                { "anon 1\nfile 2\nfile 2\n", -EBADMSG, 0 },
        };
        static const char nul1[] = "anon 1\nfi\0le 2\n", nul2[] = "anon 1\0\n";
        char name[CGROUP_STAT_NAME_MAX + 8], buf[CGROUP_STAT_MAX * 16 + 64];
        CgroupStat s;
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int r;

                memset(&s, 0xAA, sizeof s);
                r = cgroup_stat_parse(cases[i].text, strlen(cases[i].text), &s);
                if (r != cases[i].r)
                        fprintf(stderr, "case %zu: '%s'\n", i, cases[i].text);
                ASSERT_INT_EQ(r, cases[i].r);
                /* *ret is written only on success. */
                ASSERT_U64_EQ(s.n, r == 0 ? cases[i].n : (size_t) 0xAAAAAAAAAAAAAAAAull);
        }
        ASSERT_INT_EQ(cgroup_stat_parse(nul1, sizeof nul1 - 1, &s), -EBADMSG);
        ASSERT_INT_EQ(cgroup_stat_parse(nul2, sizeof nul2 - 1, &s), -EBADMSG);

        /* Names up to CGROUP_STAT_NAME_MAX - 1 bytes. */
        memset(name, 'x', CGROUP_STAT_NAME_MAX - 1);
        (void) snprintf(name + CGROUP_STAT_NAME_MAX - 1, 8, " 5\n");
        ASSERT_INT_EQ(cgroup_stat_parse(name, strlen(name), &s), 0);
        ASSERT_INT_EQ(strlen(s.fields[0].name), CGROUP_STAT_NAME_MAX - 1);
        memset(name, 'x', CGROUP_STAT_NAME_MAX);
        (void) snprintf(name + CGROUP_STAT_NAME_MAX, 8, " 5\n");
        ASSERT_INT_EQ(cgroup_stat_parse(name, strlen(name), &s), -EBADMSG);

        /* CGROUP_STAT_MAX lines fit, one more does not. */
        for (int i = 0; i < CGROUP_STAT_MAX; i++)
                n += (size_t) snprintf(buf + n, sizeof buf - n, "f%d %d\n", i, i);
        ASSERT_INT_EQ(cgroup_stat_parse(buf, n, &s), 0);
        ASSERT_INT_EQ(s.n, CGROUP_STAT_MAX);
        ASSERT_STR_EQ(s.fields[CGROUP_STAT_MAX - 1].name, "f159");
        ASSERT_U64_EQ(s.fields[CGROUP_STAT_MAX - 1].value, 159);
        n += (size_t) snprintf(buf + n, sizeof buf - n, "extra 1\n");
        ASSERT_INT_EQ(cgroup_stat_parse(buf, n, &s), -EBADMSG);
}

/* Golden values: tests/fixtures/README.md, "cgroup-hybrid" and "cgroup-unified". */
static void test_parse_fixtures(void) {
        CgroupStat s;
        uint64_t v = 42;

        ASSERT_INT_EQ(parse_file(HYBRID "/sys/fs/cgroup/memory/memory.stat", &s), 0);
        ASSERT_INT_EQ(s.n, 42);
        ASSERT_STR_EQ(s.fields[0].name, "cache");
        ASSERT_STR_EQ(s.fields[s.n - 1].name, "total_unevictable");
        ASSERT_INT_EQ(cgroup_stat_get(&s, "hierarchical_memory_limit", &v), 1);
        ASSERT_U64_EQ(v, 9223372036854771712ull);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, true, CGROUP_ANON, &v), 1);
        ASSERT_U64_EQ(v, 15163392);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, true, CGROUP_FILE, &v), 1);
        ASSERT_U64_EQ(v, 305479680);
        ASSERT_INT_EQ(cgroup_stat_get(&s, "rss", &v), 1);
        ASSERT_U64_EQ(v, 3768320);
        /* No v1 counterpart, and no v2 names in a v1 file. */
        v = 42;
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, true, CGROUP_FILE_THP, &v), 0);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, false, CGROUP_ANON, &v), 0);
        ASSERT_INT_EQ(cgroup_stat_get(&s, "Total_rss", &v), 0);
        ASSERT_U64_EQ(v, 42);

        ASSERT_INT_EQ(parse_file(UNIFIED "/sys/fs/cgroup/memory.stat", &s), 0);
        ASSERT_INT_EQ(s.n, 70);
        ASSERT_STR_EQ(s.fields[0].name, "anon");
        ASSERT_STR_EQ(s.fields[s.n - 1].name, "numa_hint_faults");
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, false, CGROUP_ANON, &v), 1);
        ASSERT_U64_EQ(v, 948305920);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, false, CGROUP_FILE_MAPPED, &v), 1);
        ASSERT_U64_EQ(v, 212107264);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, false, CGROUP_ANON_THP, &v), 1);
        ASSERT_U64_EQ(v, 184549376);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, false, CGROUP_SHMEM_THP, &v), 1);
        ASSERT_U64_EQ(v, 0);
        ASSERT_INT_EQ(cgroup_stat_get_field(&s, true, CGROUP_ANON, &v), 0);
}

static void test_classify(void) {
        static const struct {
                const char *path, *unit, *container;
        } cases[] = {
                { "/", NULL, NULL },
                { "", NULL, NULL },
                { "/init.scope", "init.scope", NULL },
                { "/system.slice", "system.slice", NULL },
                { "/-.slice", "-.slice", NULL },
                { "/system.slice/foo.service", "foo.service", NULL },
                { "/system.slice/foo.service/sub", NULL, NULL },
                { "/system.slice/dev-hugepages.mount", "dev-hugepages.mount", NULL },
                { "/system.slice/dbus.socket", "dbus.socket", NULL },
                { "/system.slice/dev-zram0.swap", "dev-zram0.swap", NULL },
                { "/system.slice/getty@tty1.service", "getty@tty1.service", NULL },
                { "/system.slice/foo.target", NULL, NULL },
                { "/.service", NULL, NULL },
                { "/foo.service.d", NULL, NULL },
                { "/foo.SERVICE", NULL, NULL },
                { "/a b.service", NULL, NULL },
                { "/a\xc3\xa9.service", NULL, NULL },
                { "/foo.service/", NULL, NULL },
                { "foo.service", "foo.service", NULL },
                { APP "/bar.scope", "bar.scope", NULL },
                { "/user.slice/user-1000.slice/user@1000.service", "user@1000.service", NULL },
                { "/system.slice/docker-" DOCKER_ID ".scope", "docker-" DOCKER_ID ".scope",
                  "docker://" DOCKER_ID },
                { KUBE_POD "/cri-containerd-" CRI_ID ".scope", "cri-containerd-" CRI_ID ".scope",
                  "containerd://" CRI_ID },
                { KUBE_POD, POD, NULL },
                { "/machine.slice/libpod-" DOCKER_ID ".scope", "libpod-" DOCKER_ID ".scope",
                  "podman://" DOCKER_ID },
                { "/kubepods.slice/crio-" CRI_ID ".scope", "crio-" CRI_ID ".scope",
                  "cri-o://" CRI_ID },
                /* conmon's scope is not the container */
                { "/kubepods.slice/crio-conmon-" CRI_ID ".scope",
                  "crio-conmon-" CRI_ID ".scope", NULL },
                /* ids that are not 64 lowercase hex digits */
                { "/docker/3F4E2A1B9C8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F", NULL,
                  NULL },
                { "/system.slice/docker-abc.scope", "docker-abc.scope", NULL },
                { "/system.slice/docker-" DOCKER_ID "0.scope", "docker-" DOCKER_ID "0.scope",
                  NULL },
                { "/system.slice/docker-" DOCKER_ID ".service", "docker-" DOCKER_ID ".service",
                  NULL },
                /* cgroupfs drivers */
                { "/docker/" DOCKER_ID, NULL, "docker://" DOCKER_ID },
                { "/docker/" DOCKER_ID "/sub", NULL, NULL },
                { "/kubepods/burstable/pod0f1e2d3c-4b5a-4978-8a9b-0c1d2e3f4a5b/" CRI_ID, NULL,
                  "container://" CRI_ID },
                { "/kubepods/" CRI_ID, NULL, "container://" CRI_ID },
                { "/" DOCKER_ID, NULL, NULL },
                { "/lxc/" DOCKER_ID, NULL, NULL },
                { "/dockerd/" DOCKER_ID, NULL, NULL },
        };
        _cleanup_free_ char *unit_only = NULL, *container_only = NULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *unit = (char *) 1, *container = (char *) 1;

                ASSERT_INT_EQ(cgroup_path_classify(cases[i].path, &unit, &container), 0);
                if (!streq_ptr(unit, cases[i].unit) || !streq_ptr(container, cases[i].container))
                        fprintf(stderr, "case %zu: '%s' → '%s' '%s'\n", i, cases[i].path,
                                unit ? unit : "(null)", container ? container : "(null)");
                ASSERT_TRUE(streq_ptr(unit, cases[i].unit));
                ASSERT_TRUE(streq_ptr(container, cases[i].container));
        }

        /* Either result may be left out. */
        ASSERT_INT_EQ(cgroup_path_classify("/docker/" DOCKER_ID, NULL, &container_only), 0);
        ASSERT_STR_EQ(container_only, "docker://" DOCKER_ID);
        ASSERT_INT_EQ(cgroup_path_classify("/a/b.scope", &unit_only, NULL), 0);
        ASSERT_STR_EQ(unit_only, "b.scope");
        ASSERT_INT_EQ(cgroup_path_classify("/a/b.scope", NULL, NULL), 0);
}

/* ---- generated trees --------------------------------------------------------------------- */

static void put(const char *dir, const char *rel, const char *content) {
        _cleanup_close_ int fd = -EBADF;
        char path[1024];
        size_t len = strlen(content);

        (void) snprintf(path, sizeof path, "%s/%s", dir, rel);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ASSERT_TRUE(fd >= 0);
        if (fd >= 0)
                ASSERT_TRUE(write(fd, content, len) == (ssize_t) len);
}

static void mkdir_in(const char *dir, const char *rel) {
        char path[1024];

        (void) snprintf(path, sizeof path, "%s/%s", dir, rel);
        ASSERT_INT_EQ(mkdir(path, 0755), 0);
}

/* tmp/sys/fs/cgroup, and the sys root's path in sys; tmp open to all (test_scan_denied). */
static void make_sys(const char *tmp, char sys[static 600]) {
        (void) snprintf(sys, 600, "%s/sys", tmp);
        ASSERT_INT_EQ(chmod(tmp, 0755), 0);
        mkdir_in(tmp, "sys");
        mkdir_in(tmp, "sys/fs");
        mkdir_in(tmp, "sys/fs/cgroup");
}

/* A v2 cgroup rel under sys (fs/cgroup/rel) with cgroup.controllers and the given files (NULL:
 * left out). */
static void put_cgroup(const char *sys, const char *rel, const char *stat, const char *current) {
        char dir[1024];

        (void) snprintf(dir, sizeof dir, "%s/fs/cgroup%s%s", sys, *rel ? "/" : "", rel);
        if (*rel)
                ASSERT_INT_EQ(mkdir(dir, 0755), 0);
        put(dir, "cgroup.controllers", "memory\n");
        if (stat)
                put(dir, "memory.stat", stat);
        if (current)
                put(dir, "memory.current", current);
}

static void test_layout(void) {
        static const struct {
                const char *tree;
                CgroupLayout layout;
        } cases[] = {
                { HYBRID, CGROUP_LAYOUT_HYBRID },
                { LEGACY, CGROUP_LAYOUT_LEGACY },
                { UNIFIED, CGROUP_LAYOUT_UNIFIED },
                { FIXTURES_DIR "/linux-6.18-page", CGROUP_LAYOUT_NONE },      /* no fs/cgroup */
                { FIXTURES_DIR "/linux-6.18-nopage", CGROUP_LAYOUT_NONE },    /* no sys root */
        };
        char *tmp = test_tmpdir_new("test-cgroup-layout"), sys[600];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;

                open_tree(&root, cases[i].tree);
                ASSERT_INT_EQ(cgroup_layout_detect(&root), cases[i].layout);
        }

        /* A cgroup2 root without the memory controller, and with only a look-alike word. */
        make_sys(tmp, sys);
        put(sys, "fs/cgroup/cgroup.controllers", "cpu io memoryx pids\n");
        {
                _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;

                open_tree(&root, tmp);
                ASSERT_INT_EQ(cgroup_layout_detect(&root), CGROUP_LAYOUT_NONE);
                put(sys, "fs/cgroup/cgroup.controllers", "memory");
                ASSERT_INT_EQ(cgroup_layout_detect(&root), CGROUP_LAYOUT_UNIFIED);
                /* A file named memory is not the v1 hierarchy. */
                put(sys, "fs/cgroup/cgroup.controllers", "");
                put(sys, "fs/cgroup/memory", "");
                ASSERT_INT_EQ(cgroup_layout_detect(&root), CGROUP_LAYOUT_NONE);
        }
        test_tmpdir_remove(tmp);
}

/* ---- the walk on the fixture trees ------------------------------------------------------- */

static void check_v1_tree(const char *tree, CgroupLayout layout) {
        static const char *const paths[] = {
                "/",
                "/process_api",
                "/process_api/14d9b003e2ac0dba5e8b569c202a9d35",
                "/process_api/5e5519d82d725d7c2761a74dde06c318",
                "/system.slice",
                "/system.slice/fixture.service",
        };
        static const uint64_t usage[] = { 320569344, 424292352, 15761408, 122458112, 516096,
                                          253952 };
        Collected c = {};
        CgroupScanStats st;
        const CgroupSample *s;

        ASSERT_INT_EQ(scan(tree, layout, SIZE_MAX, 0, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, ELEMENTSOF(paths));
        ASSERT_INT_EQ(st.vanished + st.denied + st.malformed, 0);
        ASSERT_FALSE(st.truncated);
        ASSERT_INT_EQ(c.n, ELEMENTSOF(paths));
        for (size_t i = 0; i < ELEMENTSOF(paths) && i < c.n; i++) {
                ASSERT_STR_EQ(c.items[i].path, paths[i]);
                ASSERT_TRUE(c.items[i].v1);
                ASSERT_TRUE(c.items[i].has_usage);
                ASSERT_U64_EQ(c.items[i].usage_bytes, usage[i]);
                ASSERT_TRUE(c.items[i].stat && c.items[i].stat->n == 42);
                ASSERT_NULL(c.items[i].container);
        }
        ASSERT_NULL(find(&c, "/")->unit);
        ASSERT_NULL(find(&c, "/process_api")->unit);
        ASSERT_STR_EQ(find(&c, "/system.slice")->unit, "system.slice");
        s = find(&c, "/system.slice/fixture.service");
        ASSERT_STR_EQ(s->unit, "fixture.service");
        ASSERT_U64_EQ(field(s, CGROUP_ANON), 110592);
        ASSERT_U64_EQ(field(s, CGROUP_FILE), 36864);
        ASSERT_U64_EQ(field(s, CGROUP_FILE_MAPPED), 28672);
        ASSERT_U64_EQ(field(s, CGROUP_SHMEM), 0);
        ASSERT_U64_EQ(field(s, CGROUP_ANON_THP), 0);
        ASSERT_U64_EQ(field(s, CGROUP_FILE_THP), UINT64_MAX);   /* absent, not zero */
        ASSERT_U64_EQ(field(find(&c, "/"), CGROUP_ANON), 15163392);
        collected_done(&c);
}

static const char *const unified_paths[] = {
        "/",
        "/init.scope",
        "/kubepods.slice",
        "/kubepods.slice/kubepods-burstable.slice",
        KUBE_POD,
        KUBE_POD "/cri-containerd-" CRI_ID ".scope",
        "/system.slice",
        "/system.slice/docker-" DOCKER_ID ".scope",
        "/system.slice/foo.service",
        "/user.slice",
        "/user.slice/user-1000.slice",
        "/user.slice/user-1000.slice/user@1000.service",
        APP,
        APP "/bar.scope",
};

static void test_scan_unified(void) {
        Collected c = {};
        CgroupScanStats st;
        const CgroupSample *s;

        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, ELEMENTSOF(unified_paths));
        ASSERT_INT_EQ(st.vanished + st.denied + st.malformed, 0);
        ASSERT_FALSE(st.truncated);
        ASSERT_INT_EQ(c.n, ELEMENTSOF(unified_paths));
        for (size_t i = 0; i < ELEMENTSOF(unified_paths) && i < c.n; i++) {
                ASSERT_STR_EQ(c.items[i].path, unified_paths[i]);
                ASSERT_FALSE(c.items[i].v1);
                ASSERT_TRUE(c.items[i].has_usage == (i > 0));
                ASSERT_TRUE(c.items[i].stat && c.items[i].stat->n == 70);
        }
        /* nomem has no memory controller: neither it nor its child is read. */
        ASSERT_NULL(find(&c, "/nomem"));
        ASSERT_NULL(find(&c, "/nomem/child"));

        s = find(&c, "/");
        ASSERT_U64_EQ(s->usage_bytes, 0);
        ASSERT_U64_EQ(field(s, CGROUP_ANON), 948305920);
        ASSERT_NULL(s->unit);
        ASSERT_STR_EQ(find(&c, "/init.scope")->unit, "init.scope");
        s = find(&c, "/system.slice/foo.service");
        ASSERT_STR_EQ(s->unit, "foo.service");
        ASSERT_NULL(s->container);
        ASSERT_U64_EQ(s->usage_bytes, 231569600);
        ASSERT_U64_EQ(field(s, CGROUP_ANON), 83886080);
        ASSERT_U64_EQ(field(s, CGROUP_FILE_MAPPED), 30408704);
        ASSERT_U64_EQ(field(s, CGROUP_ANON_THP), 16777216);
        s = find(&c, "/system.slice/docker-" DOCKER_ID ".scope");
        ASSERT_STR_EQ(s->container, "docker://" DOCKER_ID);
        ASSERT_U64_EQ(s->usage_bytes, 344529088);
        s = find(&c, KUBE_POD "/cri-containerd-" CRI_ID ".scope");
        ASSERT_STR_EQ(s->container, "containerd://" CRI_ID);
        ASSERT_STR_EQ(s->unit, "cri-containerd-" CRI_ID ".scope");
        ASSERT_U64_EQ(s->usage_bytes, 731744448);
        ASSERT_U64_EQ(field(s, CGROUP_ANON_THP), 117440512);
        ASSERT_STR_EQ(find(&c, KUBE_POD)->unit, POD);
        ASSERT_NULL(find(&c, KUBE_POD)->container);
        s = find(&c, APP "/bar.scope");
        ASSERT_STR_EQ(s->unit, "bar.scope");
        ASSERT_U64_EQ(s->usage_bytes, 156128448);
        ASSERT_U64_EQ(field(s, CGROUP_ANON), 58720256);
        collected_done(&c);

        /* A callee that leaves the samples gets the same walk. */
        c = (Collected) { .leave = true };
        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0, &c, &st), 0);
        ASSERT_INT_EQ(c.n, ELEMENTSOF(unified_paths));
        ASSERT_STR_EQ(c.items[c.n - 1].path, APP "/bar.scope");
        ASSERT_U64_EQ(field(&c.items[c.n - 1], CGROUP_ANON), 58720256);
        collected_done(&c);
}

static void test_scan_limits(void) {
        Collected c = {};
        CgroupScanStats st;

        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_UNIFIED, 3, 0, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, 3);
        ASSERT_TRUE(st.truncated);
        ASSERT_INT_EQ(c.n, 3);
        ASSERT_STR_EQ(c.items[2].path, "/kubepods.slice");
        collected_done(&c);

        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_UNIFIED, ELEMENTSOF(unified_paths), 0, &c, &st),
                      0);
        ASSERT_INT_EQ(st.sampled, ELEMENTSOF(unified_paths));
        ASSERT_FALSE(st.truncated);
        collected_done(&c);

        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_UNIFIED, 0, 0, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, 0);
        ASSERT_TRUE(st.truncated);

        /* A deadline already passed stops before the first cgroup. */
        ASSERT_INT_EQ(scan(HYBRID, CGROUP_LAYOUT_HYBRID, SIZE_MAX, 1, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, 0);
        ASSERT_TRUE(st.truncated);
        ASSERT_INT_EQ(c.n, 0);

        /* The callee's error stops the walk and is returned; stats are left alone. */
        c = (Collected) { .stop_after = 2 };
        memset(&st, 0xAA, sizeof st);
        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0, &c, &st), -ECANCELED);
        ASSERT_INT_EQ(c.n, 2);
        ASSERT_U64_EQ(st.sampled, 0xAAAAAAAAu);
        collected_done(&c);

        /* No hierarchy for the layout. */
        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_NONE, SIZE_MAX, 0, &c, &st), -ENOENT);
        ASSERT_INT_EQ(scan(UNIFIED, CGROUP_LAYOUT_LEGACY, SIZE_MAX, 0, &c, &st), -ENOENT);
        ASSERT_INT_EQ(scan(FIXTURES_DIR "/linux-6.18-nopage", CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0,
                           &c, &st), -ENOENT);
        ASSERT_INT_EQ(c.n, 0);
}

#define STAT_OK "anon 4096\nfile 8192\n"

/* One fault per cgroup: each is counted as its kind, and the walk goes on. */
static void test_scan_faults(void) {
        char *tmp = test_tmpdir_new("test-cgroup-faults"), sys[600], link[700];
        static char big[70 * 1024 + 16];
        Collected c = {};
        CgroupScanStats st;

        make_sys(tmp, sys);
        put_cgroup(sys, "", STAT_OK, NULL);
        put_cgroup(sys, "a", STAT_OK, "garbage\n");            /* usage malformed: delivered */
        put_cgroup(sys, "b", "anon 1\nanon 2\n", "1\n");        /* stat malformed */
        put_cgroup(sys, "b/c", STAT_OK, "4096\n");              /* a child of it still is read */
        memset(big, 0, sizeof big);
        for (size_t i = 0; i + 16 < sizeof big; i += 15)
                memcpy(big + i, "anon_xxxxx 111\n", 15);
        put_cgroup(sys, "d", big, "1\n");                       /* too big: E2BIG */
        put_cgroup(sys, "e", NULL, NULL);                       /* no controller */
        put_cgroup(sys, "e/f", STAT_OK, "1\n");                 /* skipped with e */
        mkdir_in(sys, "fs/cgroup/g");                           /* removed: nothing in it */
        put_cgroup(sys, "g/h", STAT_OK, "1\n");                 /* under a vanished one */
        put_cgroup(sys, "i", STAT_OK, NULL);                    /* usage gone: vanished */
        put_cgroup(sys, "j", STAT_OK, "9223372036854775808\n"); /* usage out of range */
        put(sys, "fs/cgroup/k", "a file, not a cgroup\n");
        (void) snprintf(link, sizeof link, "%s/fs/cgroup/l", sys);
        ASSERT_INT_EQ(symlink("a", link), 0);                   /* a link is not a cgroup */

        ASSERT_INT_EQ(scan(tmp, CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0, &c, &st), 0);
        ASSERT_INT_EQ(c.n, 4);
        ASSERT_INT_EQ(st.sampled, 4);
        ASSERT_STR_EQ(c.items[0].path, "/");
        ASSERT_FALSE(c.items[0].has_usage);
        ASSERT_STR_EQ(c.items[1].path, "/a");
        ASSERT_FALSE(c.items[1].has_usage);
        ASSERT_U64_EQ(c.items[1].stat->n, 2);
        ASSERT_STR_EQ(c.items[2].path, "/b/c");
        ASSERT_TRUE(c.items[2].has_usage);
        ASSERT_U64_EQ(c.items[2].usage_bytes, 4096);
        ASSERT_STR_EQ(c.items[3].path, "/j");
        ASSERT_FALSE(c.items[3].has_usage);
        ASSERT_INT_EQ(st.malformed, 4);         /* a's usage, b, d, j's usage */
        ASSERT_INT_EQ(st.vanished, 2);          /* g, i */
        ASSERT_INT_EQ(st.denied, 0);
        ASSERT_FALSE(st.truncated);
        collected_done(&c);
        test_tmpdir_remove(tmp);
}

/* Runs as nobody when root (root reads any file). */
static void check_denied(void *userdata) {
        Collected c = {};
        CgroupScanStats st;

        ASSERT_INT_EQ(scan(userdata, CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0, &c, &st), 0);
        ASSERT_INT_EQ(st.denied, 2);            /* p's memory.stat, q's memory.current */
        ASSERT_INT_EQ(st.sampled, 3);           /* /, p/child, q without usage */
        ASSERT_INT_EQ(c.n, 3);
        if (c.n == 3) {
                ASSERT_STR_EQ(c.items[1].path, "/p/child");
                ASSERT_STR_EQ(c.items[2].path, "/q");
                ASSERT_FALSE(c.items[2].has_usage);
        }
        collected_done(&c);
}

static void test_scan_denied(void) {
        char *tmp = test_tmpdir_new("test-cgroup-denied"), sys[600], path[700];

        make_sys(tmp, sys);
        put_cgroup(sys, "", STAT_OK, NULL);
        put_cgroup(sys, "p", STAT_OK, "1\n");
        put_cgroup(sys, "p/child", STAT_OK, "1\n");
        put_cgroup(sys, "q", STAT_OK, "1\n");
        (void) snprintf(path, sizeof path, "%s/fs/cgroup/p/memory.stat", sys);
        ASSERT_INT_EQ(chmod(path, 0), 0);
        (void) snprintf(path, sizeof path, "%s/fs/cgroup/q/memory.current", sys);
        ASSERT_INT_EQ(chmod(path, 0), 0);
        test_run_unprivileged(check_denied, tmp);
        test_tmpdir_remove(tmp);
}

/* Cgroups down to depth 64 are read; a deeper one marks the walk truncated. */
static void test_scan_depth(void) {
        char *tmp = test_tmpdir_new("test-cgroup-depth"), sys[600], rel[200] = "";
        Collected c = {};
        CgroupScanStats st;

        make_sys(tmp, sys);
        put_cgroup(sys, "", STAT_OK, NULL);
        for (int depth = 1; depth <= 65; depth++) {
                (void) strcat(rel, depth == 1 ? "x" : "/x");
                put_cgroup(sys, rel, STAT_OK, "1\n");
        }
        ASSERT_INT_EQ(scan(tmp, CGROUP_LAYOUT_UNIFIED, SIZE_MAX, 0, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, 65);
        ASSERT_TRUE(st.truncated);
        ASSERT_INT_EQ(strlen(c.items[c.n - 1].path), 2 * 64);
        collected_done(&c);
        test_tmpdir_remove(tmp);
}

static void test_fixtures(void) {
        test_field_names();
        test_parse_inline();
        test_parse_fixtures();
        test_classify();
        test_layout();
        check_v1_tree(HYBRID, CGROUP_LAYOUT_HYBRID);
        check_v1_tree(LEGACY, CGROUP_LAYOUT_LEGACY);
        test_scan_unified();
        test_scan_limits();
        test_scan_faults();
        test_scan_denied();
        test_scan_depth();
}

/* ---- this machine ------------------------------------------------------------------------ */

static void test_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        Collected c = { .leave = true };
        CgroupScanStats st;
        CgroupLayout layout;

        if (proc_root_open(&root, "/proc", "/sys", NULL) < 0 || root.sys_fd < 0)
                test_skip("/sys is not available");
        layout = cgroup_layout_detect(&root);
        if (layout == CGROUP_LAYOUT_NONE)
                test_skip("no memory cgroup controller on this machine");
        ASSERT_INT_EQ(cgroup_scan(&root, layout, &b, ELEMENTSOF(c.items), 0, collect, &c, &st),
                      0);
        ASSERT_TRUE(st.sampled >= 1);
        ASSERT_TRUE(c.n >= 1 && strcmp(c.items[0].path, "/") == 0);
        /* Parents before children: every cgroup's parent came before it. */
        for (size_t i = 1; i < c.n; i++) {
                _cleanup_free_ char *parent = strdup(c.items[i].path);
                char *slash = strrchr(parent, '/');
                bool seen = false;

                slash[slash == parent ? 1 : 0] = '\0';
                for (size_t k = 0; k < i && !seen; k++)
                        seen = strcmp(c.items[k].path, parent) == 0;
                ASSERT_TRUE(seen);
                ASSERT_TRUE(c.items[i].v1 == cgroup_layout_is_v1(layout));
                ASSERT_TRUE(c.items[i].has_usage);
        }
        collected_done(&c);
}

/* A memory cgroup made for the test, with a child that faults in 4 MiB of anonymous memory
 * inside it: the scan finds it with at least that much charged (first principles). */
static void test_root(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        const size_t size = 4u << 20;
        char dir[256], procs[300], name[64], path[80], ready = 0;
        Collected c = { .leave = true };
        const CgroupSample *s;
        CgroupScanStats st;
        int fds[2], status;
        pid_t pid;

        test_require_root("creating a memory cgroup");
        if (proc_root_open(&root, "/proc", "/sys", NULL) < 0 || root.sys_fd < 0)
                test_skip("/sys is not available");
        if (!cgroup_layout_is_v1(cgroup_layout_detect(&root)))
                test_skip("no v1 memory controller at /sys/fs/cgroup/memory");

        (void) snprintf(name, sizeof name, "mapstatd-test-%d", (int) getpid());
        (void) snprintf(path, sizeof path, "/%s", name);
        (void) snprintf(dir, sizeof dir, "/sys/fs/cgroup/memory/%s", name);
        (void) snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        if (mkdir(dir, 0755) < 0)
                test_skip("cannot create a v1 memory cgroup");
        ASSERT_INT_EQ(pipe2(fds, O_CLOEXEC), 0);
        fflush(NULL);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char me[32], *p;
                int fd = open(procs, O_WRONLY | O_CLOEXEC);
                int n = snprintf(me, sizeof me, "%d", (int) getpid());

                if (fd < 0 || write(fd, me, (size_t) n) != n)
                        _exit(3);
                p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
                if (p == MAP_FAILED)
                        _exit(4);
                memset(p, 1, size);
                if (write(fds[1], "r", 1) != 1)
                        _exit(5);
                for (;;)
                        pause();
        }
        (void) close(fds[1]);
        ASSERT_INT_EQ(read(fds[0], &ready, 1), 1);
        (void) close(fds[0]);

        ASSERT_INT_EQ(cgroup_scan(&root, cgroup_layout_detect(&root), &b, SIZE_MAX, 0, collect, &c,
                                  &st), 0);
        s = find(&c, path);
        ASSERT_TRUE(s != NULL);
        if (s) {
                ASSERT_TRUE(s->v1);
                ASSERT_TRUE(s->has_usage);
                ASSERT_TRUE(s->usage_bytes >= size);
                ASSERT_TRUE(field(s, CGROUP_ANON) >= size);
                ASSERT_TRUE(field(s, CGROUP_ANON) != UINT64_MAX);
                ASSERT_NULL(s->unit);
                ASSERT_NULL(s->container);
        }
        ASSERT_TRUE(find(&c, "/") != NULL);
        collected_done(&c);

        (void) kill(pid, SIGKILL);
        ASSERT_INT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_INT_EQ(rmdir(dir), 0);
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
                { NULL, test_fixtures },
                { "live", test_live },
                { "root", test_root },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
