/* Tests for collectors/kernel-id: release parsing, the mapcount rule on config excerpts, sysfs
 * choice files, kernel_id_read() on the captured 6.18 tree, the 4.19 and NO_PAGE_MAPCOUNT
 * variants and the bad trees, and on this machine's own /proc, /sys and /boot. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <zlib.h>

#include "kernel-id.h"
#include "mapcount-probe.h"
#include "macro.h"
#include "test.h"

static void test_mode_strings(void) {
        for (int m = 0; m < _MAPCOUNT_MODE_MAX; m++)
                ASSERT_INT_EQ(mapcount_mode_from_string(mapcount_mode_to_string(m)), m);
        ASSERT_STR_EQ(mapcount_mode_to_string(MAPCOUNT_MODE_PAGE), "page_mapcount");
        ASSERT_STR_EQ(mapcount_mode_to_string(MAPCOUNT_MODE_NO_PAGE), "no_page_mapcount");
        ASSERT_STR_EQ(mapcount_mode_to_string(MAPCOUNT_MODE_UNKNOWN), "unknown");
        ASSERT_NULL(mapcount_mode_to_string(_MAPCOUNT_MODE_MAX));
        ASSERT_NULL(mapcount_mode_to_string(_MAPCOUNT_MODE_INVALID));
        ASSERT_INT_EQ(mapcount_mode_from_string("PAGE"), _MAPCOUNT_MODE_INVALID);
        ASSERT_INT_EQ(mapcount_mode_from_string(NULL), _MAPCOUNT_MODE_INVALID);
}

static void test_release(void) {
        static const struct {
                const char *s;
                int r;
                unsigned major, minor;
        } cases[] = {
                { "6.18.44-fc-v657", 0, 6, 18 },
                { "4.19.0-27-amd64", 0, 4, 19 },
                { "6.15", 0, 6, 15 },
                { "6.14-rc1", 0, 6, 14 },
                { "10.0.0", 0, 10, 0 },
                { "6", -EBADMSG, 0, 0 },
                { "6.", -EBADMSG, 0, 0 },
                { "v6.1", -EBADMSG, 0, 0 },
                { " 6.1", -EBADMSG, 0, 0 },
                { "", -EBADMSG, 0, 0 },
                { "6.x", -EBADMSG, 0, 0 },
                { "99999999999999999999.1", -EBADMSG, 0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                unsigned major = 777, minor = 777;

                ASSERT_INT_EQ(kernel_release_parse(cases[i].s, &major, &minor), cases[i].r);
                ASSERT_INT_EQ(major, cases[i].r == 0 ? cases[i].major : 777);
                ASSERT_INT_EQ(minor, cases[i].r == 0 ? cases[i].minor : 777);
        }
        ASSERT_INT_EQ(kernel_release_parse(NULL, &(unsigned) { 0 }, &(unsigned) { 0 }),
                      -EBADMSG);
}

static void test_config_rule(void) {
        static const struct {
                const char *config;
                const char *release;
                int r;
                MapcountMode mode;
                const char *lines;
        } cases[] = {
                { "CONFIG_TRANSPARENT_HUGEPAGE=y\n# CONFIG_NO_PAGE_MAPCOUNT is not set\n"
                  "CONFIG_PAGE_MAPCOUNT=y\n", "6.18.0", 0, MAPCOUNT_MODE_PAGE,
                  "# CONFIG_NO_PAGE_MAPCOUNT is not set\nCONFIG_PAGE_MAPCOUNT=y" },
                { "CONFIG_TRANSPARENT_HUGEPAGE=y\nCONFIG_NO_PAGE_MAPCOUNT=y\n", "6.18.0", 0,
                  MAPCOUNT_MODE_NO_PAGE, "CONFIG_NO_PAGE_MAPCOUNT=y" },
                /* neither line, THP, >= 6.15: after the planned removal of the option */
                { "CONFIG_TRANSPARENT_HUGEPAGE=y\n", "7.2.0", 0, MAPCOUNT_MODE_UNKNOWN, "" },
                { "CONFIG_TRANSPARENT_HUGEPAGE=y\n", "6.15", 0, MAPCOUNT_MODE_UNKNOWN, "" },
                { "CONFIG_TRANSPARENT_HUGEPAGE=y\n", "6.14.3", 0, MAPCOUNT_MODE_PAGE, "" },
                { "CONFIG_TRANSPARENT_HUGEPAGE=y", "4.19.0-27-amd64", 0, MAPCOUNT_MODE_PAGE, "" },
                { "# CONFIG_TRANSPARENT_HUGEPAGE is not set\n", "6.18.0", 0, MAPCOUNT_MODE_PAGE,
                  "" },
                { "", "6.18.0", 0, MAPCOUNT_MODE_PAGE, "" },
                { "CONFIG_TRANSPARENT_HUGEPAGE=y\n", "garbage", -EBADMSG, 0, NULL },
                /* the release only matters when the config does not decide */
                { "CONFIG_PAGE_MAPCOUNT=y\n", "garbage", 0, MAPCOUNT_MODE_PAGE,
                  "CONFIG_PAGE_MAPCOUNT=y" },
                /* look-alikes */
                { "CONFIG_NO_PAGE_MAPCOUNT=n\nCONFIG_TRANSPARENT_HUGEPAGE=y\n", "6.18", 0,
                  MAPCOUNT_MODE_UNKNOWN, "" },
                { "CONFIG_NO_PAGE_MAPCOUNT_X=y\nXCONFIG_NO_PAGE_MAPCOUNT=y\n", "6.18", 0,
                  MAPCOUNT_MODE_PAGE, "" },
                { "CONFIG_NO_PAGE_MAPCOUNT=y\r\n", "6.18", 0, MAPCOUNT_MODE_NO_PAGE,
                  "CONFIG_NO_PAGE_MAPCOUNT=y" },
                { "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE=y\n", "6.18", 0, MAPCOUNT_MODE_PAGE, "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                MapcountMode mode = 99;
                char *lines = NULL;
                int r;

                r = mapcount_mode_from_config(cases[i].config, strlen(cases[i].config),
                                              cases[i].release, &mode, &lines);
                if (r != cases[i].r)
                        fprintf(stderr, "case %zu\n", i);
                ASSERT_INT_EQ(r, cases[i].r);
                if (r == 0) {
                        ASSERT_INT_EQ(mode, cases[i].mode);
                        ASSERT_STR_EQ(lines, cases[i].lines);
                } else {
                        ASSERT_INT_EQ(mode, 99);
                        ASSERT_NULL(lines);
                }
                free(lines);
        }
}

static void test_sysfs_choice(void) {
        static const struct {
                const char *s;
                int r;
                const char *value;
        } cases[] = {
                { "always [madvise] never\n", 0, "madvise" },
                { "[always] madvise never\n", 0, "always" },
                { "always defer defer+madvise [madvise] never\n", 0, "madvise" },
                { "always within_size advise [never] deny force\n", 0, "never" },
                { "1\n", 0, "1" },
                { "  hello world \n", 0, "hello world" },
                { "", 0, "" },
                { "always [madvise never\n", -EBADMSG, NULL },
                { "always [mad[vise] never\n", -EBADMSG, NULL },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *v = NULL;

                ASSERT_INT_EQ(sysfs_choice_parse(cases[i].s, strlen(cases[i].s), &v), cases[i].r);
                if (cases[i].r == 0)
                        ASSERT_STR_EQ(v, cases[i].value);
                else
                        ASSERT_NULL(v);
                free(v);
        }
        ASSERT_INT_EQ(sysfs_choice_parse("a\0b", 3, &(char *) { NULL }), -EBADMSG);
}

static int open_tree(ProcRoot *root, const char *name) {
        char proc[512], sys[512], boot[512];

        (void) snprintf(proc, sizeof proc, "%s/%s/proc", FIXTURES_DIR, name);
        (void) snprintf(sys, sizeof sys, "%s/%s/sys", FIXTURES_DIR, name);
        (void) snprintf(boot, sizeof boot, "%s/%s/boot", FIXTURES_DIR, name);
        return proc_root_open(root, proc, sys, boot);
}

static const char *setting(const KernelId *k, const char *key) {
        for (size_t i = 0; i < k->n_settings; i++)
                if (strcmp(k->settings[i].key, key) == 0)
                        return k->settings[i].value;
        return NULL;
}

/* Golden values: tests/fixtures/README.md, "linux-6.18-page". */
static void test_fixture_6_18(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(kernel_id_done) KernelId k = {};
        _cleanup_free_ char *release = NULL, *boot_id = NULL;

        ASSERT_INT_EQ(open_tree(&root, "linux-6.18-page"), 0);
        ASSERT_INT_EQ(root.boot_fd, -EBADF);
        ASSERT_INT_EQ(kernel_id_read(&root, &k), 0);
        ASSERT_STR_EQ(k.release, "6.18.44-fc-v657");
        ASSERT_STR_EQ(k.version, "Linux version 6.18.44-fc-v657 (builder@sandboxing) (gcc (GCC) "
                                 "15.3.0, GNU ld (GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0");
        ASSERT_STR_EQ(k.boot_id, "5ae0942d-1cc6-4f98-bbd3-6c5f3d306bac");
        ASSERT_U64_EQ(k.page_size, 4096);     /* from self/smaps: 1/smaps was not readable */
        ASSERT_INT_EQ(k.mapcount_mode, MAPCOUNT_MODE_PAGE);
        ASSERT_STR_EQ(k.config_source, "proc/config.gz");
        ASSERT_STR_EQ(k.config_lines,
                      "# CONFIG_NO_PAGE_MAPCOUNT is not set\nCONFIG_PAGE_MAPCOUNT=y");
        ASSERT_INT_EQ(k.n_settings, 20);
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/enabled"), "madvise");
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/defrag"), "madvise");
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/shmem_enabled"), "never");
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/hugepages-2048kB/enabled"), "inherit");
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/hugepages-2048kB/shmem_enabled"),
                      "inherit");
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/hugepages-64kB/enabled"), "never");
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/hugepages-8kB/shmem_enabled"), "never");
        ASSERT_NULL(setting(&k, "transparent_hugepage/hugepages-8kB/enabled"));
        for (size_t i = 1; i < k.n_settings; i++)
                ASSERT_TRUE(strcmp(k.settings[i - 1].key, k.settings[i].key) < 0);
        ASSERT_STR_EQ(k.settings[0].key, "transparent_hugepage/defrag");
        ASSERT_STR_EQ(k.settings[k.n_settings - 1].key, "transparent_hugepage/shmem_enabled");

        ASSERT_STR_EQ(k.hostname, "vm");
        ASSERT_STR_EQ(k.machine_id, "5ae0942d1cc64f98bbd36c5f3d306bac");

        ASSERT_INT_EQ(kernel_id_read_quick(&root, &release, &boot_id), 0);
        ASSERT_STR_EQ(release, k.release);
        ASSERT_STR_EQ(boot_id, k.boot_id);
}

static void test_fixture_4_19(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(kernel_id_done) KernelId k = {};

        ASSERT_INT_EQ(open_tree(&root, "linux-4.19-old"), 0);
        ASSERT_INT_EQ(kernel_id_read(&root, &k), 0);
        ASSERT_STR_EQ(k.release, "4.19.0-27-amd64");
        ASSERT_STR_EQ(k.boot_id, "0b3f6c9e-2d41-4f7a-9c55-7e1a2b3c4d5e");
        ASSERT_U64_EQ(k.page_size, 4096);     /* from 1/smaps */
        ASSERT_INT_EQ(k.mapcount_mode, MAPCOUNT_MODE_PAGE);
        ASSERT_STR_EQ(k.config_source, "boot/config-4.19.0-27-amd64");
        ASSERT_STR_EQ(k.config_lines, "");
        ASSERT_INT_EQ(k.n_settings, 3);
        ASSERT_STR_EQ(setting(&k, "transparent_hugepage/enabled"), "madvise");
        /* No hostname file, no etc/ beside proc/. */
        ASSERT_INT_EQ(root.etc_fd, -EBADF);
        ASSERT_NULL(k.hostname);
        ASSERT_NULL(k.machine_id);
}

/* The machine id comes from the etc/ beside the proc root, however the proc root is written,
 * and only when it is one. */
static void test_host(void) {
        char *dir = test_tmpdir_new("test-kernel-id-host"), path[600], proc[600];
        static const char *const ids[] = { "0123456789abcdef0123456789ABCDEF", "0123", "", NULL };

        for (size_t i = 0; i < ELEMENTSOF(ids); i++) {
                _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
                _cleanup_(kernel_id_done) KernelId k = {};
                const char *id = ids[i] ?: "0123456789abcdef0123456789abcdef";
                FILE *f;

                (void) snprintf(path, sizeof path, "cp -r %s/linux-6.18-page/proc %s/ && "
                                "mkdir -p %s/etc", FIXTURES_DIR, dir, dir);
                ASSERT_INT_EQ(system(path), 0);
                (void) snprintf(path, sizeof path, "%s/etc/machine-id", dir);
                f = fopen(path, "we");
                ASSERT_TRUE(f != NULL);
                if (!f)
                        break;
                fprintf(f, "%s\n", id);
                fclose(f);
                /* A trailing slash: etc/ is still found beside proc/. */
                (void) snprintf(proc, sizeof proc, "%s/proc/", dir);
                ASSERT_INT_EQ(proc_root_open(&root, proc, NULL, NULL), 0);
                ASSERT_INT_EQ(kernel_id_read(&root, &k), 0);
                if (ids[i])     /* upper case, too short, empty: not a machine id */
                        ASSERT_NULL(k.machine_id);
                else
                        ASSERT_STR_EQ(k.machine_id, id);
                ASSERT_STR_EQ(k.hostname, "vm");
        }
        test_tmpdir_remove(dir);
}

static void test_fixture_nopage(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(kernel_id_done) KernelId k = {};

        ASSERT_INT_EQ(open_tree(&root, "linux-6.18-nopage"), 0);
        ASSERT_INT_EQ(root.sys_fd, -EBADF);
        ASSERT_INT_EQ(kernel_id_read(&root, &k), 0);
        ASSERT_STR_EQ(k.release, "6.18.44-fc-v657");
        ASSERT_INT_EQ(k.mapcount_mode, MAPCOUNT_MODE_NO_PAGE);
        ASSERT_STR_EQ(k.config_source, "proc/config.gz");
        ASSERT_STR_EQ(k.config_lines, "CONFIG_NO_PAGE_MAPCOUNT=y");
        ASSERT_U64_EQ(k.page_size, 0);        /* no smaps in this tree */
        ASSERT_INT_EQ(k.n_settings, 0);
        ASSERT_NULL(k.settings);
}

static void test_fixture_bad(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT, root2 = PROC_ROOT_INIT;
        _cleanup_(kernel_id_done) KernelId k = {};
        KernelId untouched = { .release = (char *) "sentinel" };
        char *release = NULL, *boot_id = NULL;

        ASSERT_INT_EQ(open_tree(&root, "bad/boot-id"), 0);
        ASSERT_INT_EQ(kernel_id_read(&root, &untouched), -EBADMSG);
        ASSERT_STR_EQ(untouched.release, "sentinel");
        ASSERT_INT_EQ(kernel_id_read_quick(&root, &release, &boot_id), -EBADMSG);
        ASSERT_NULL(release);
        ASSERT_NULL(boot_id);

        /* A proc root without osrelease. */
        ASSERT_INT_EQ(open_tree(&root2, "bad/scan"), 0);
        ASSERT_INT_EQ(kernel_id_read(&root2, &untouched), -ENOENT);

        /* A truncated config.gz falls back to boot/config-RELEASE. */
        proc_root_done(&root);
        ASSERT_INT_EQ(open_tree(&root, "bad/config-gz"), 0);
        ASSERT_INT_EQ(kernel_id_read(&root, &k), 0);
        ASSERT_STR_EQ(k.config_source, "boot/config-6.18.44-fc-v657");
        ASSERT_INT_EQ(k.mapcount_mode, MAPCOUNT_MODE_NO_PAGE);
        ASSERT_STR_EQ(k.config_lines, "CONFIG_NO_PAGE_MAPCOUNT=y");
}

/* Reads this kernel's config the way an administrator would (zcat /proc/config.gz, else
 * /boot/config-RELEASE), independently of kernel-id.c, and returns its mapcount lines and
 * whether THP is built in. Returns the path it read, or NULL when there is no config. */
static const char *live_config(const char *release, bool *ret_no, bool *ret_page, bool *ret_thp) {
        static char boot[512];
        char line[4096];
        gzFile gz;

        *ret_no = *ret_page = *ret_thp = false;
        gz = gzopen("/proc/config.gz", "rb");
        if (!gz) {
                (void) snprintf(boot, sizeof boot, "/boot/config-%s", release);
                gz = gzopen(boot, "rb");        /* zlib reads a plain file as it is */
                if (!gz)
                        return NULL;
        } else
                (void) snprintf(boot, sizeof boot, "/proc/config.gz");
        while (gzgets(gz, line, sizeof line)) {
                line[strcspn(line, "\r\n")] = '\0';
                *ret_no |= strcmp(line, "CONFIG_NO_PAGE_MAPCOUNT=y") == 0;
                *ret_page |= strcmp(line, "CONFIG_PAGE_MAPCOUNT=y") == 0;
                *ret_thp |= strcmp(line, "CONFIG_TRANSPARENT_HUGEPAGE=y") == 0;
        }
        (void) gzclose(gz);
        return boot;
}

/* This machine: the mode mapstatd detects must be what the kernel's own config says
 * (docs/kernel-semantics.md §1.1), whichever mode this kernel was built with. */
static void test_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(kernel_id_done) KernelId k = {};
        bool no, page, thp;
        MapcountMode expect;
        struct utsname u;
        const char *config;
        unsigned major, minor;

        if (proc_root_open(&root, "/proc", "/sys", "/boot") < 0)
                test_skip("/proc is not available");
        ASSERT_INT_EQ(kernel_id_read(&root, &k), 0);
        ASSERT_INT_EQ(uname(&u), 0);
        ASSERT_STR_EQ(k.release, u.release);
        ASSERT_INT_EQ(strlen(k.boot_id), 36);
        ASSERT_U64_EQ(k.page_size, (uint64_t) sysconf(_SC_PAGESIZE));
        ASSERT_TRUE(k.version && strstr(k.version, u.release));
        ASSERT_STR_EQ(k.hostname, u.nodename);

        config = live_config(u.release, &no, &page, &thp);
        if (!config)
                test_skip("no /proc/config.gz or /boot/config-$(uname -r) on this machine");
        ASSERT_TRUE(k.config_source && strstr(config, k.config_source));
        ASSERT_INT_EQ(kernel_release_parse(u.release, &major, &minor), 0);
        if (no)
                expect = MAPCOUNT_MODE_NO_PAGE;
        else if (page || !thp || major < 6 || (major == 6 && minor < 15))
                expect = MAPCOUNT_MODE_PAGE;
        else
                expect = MAPCOUNT_MODE_UNKNOWN;
        fprintf(stderr, "%s: %s%s%s → %s\n", config, no ? "CONFIG_NO_PAGE_MAPCOUNT=y " : "",
                page ? "CONFIG_PAGE_MAPCOUNT=y " : "", thp ? "THP" : "no THP",
                mapcount_mode_to_string(expect));
        ASSERT_STR_EQ(mapcount_mode_to_string(k.config_mode), mapcount_mode_to_string(expect));
        /* The verdict is the probe's when it ran (as root), else the config's. */
        ASSERT_TRUE(k.probe_detail != NULL);
        ASSERT_INT_EQ(k.mapcount_mode, k.probe_mode != MAPCOUNT_MODE_UNKNOWN ? k.probe_mode
                                                                             : k.config_mode);
        ASSERT_TRUE((strstr(k.config_lines, "CONFIG_NO_PAGE_MAPCOUNT=y") != NULL) == no);
        if (thp)
                ASSERT_TRUE(setting(&k, "transparent_hugepage/enabled") != NULL);
}

/* The probe on a fixture tree: never run, and said why. */
static void test_probe_fixture(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        MapcountProbe p;

        ASSERT_INT_EQ(open_tree(&root, "linux-6.18-page"), 0);
        mapcount_probe_run(&root, &p);
        ASSERT_INT_EQ(p.mode, MAPCOUNT_MODE_UNKNOWN);
        ASSERT_STR_EQ(p.why, "not the live kernel");
}

static void probe_unprivileged(void *userdata) {
        const ProcRoot *root = userdata;
        MapcountProbe p;

        mapcount_probe_run(root, &p);
        ASSERT_INT_EQ(p.mode, MAPCOUNT_MODE_UNKNOWN);
        ASSERT_TRUE(p.why && strstr(p.why, "CAP_SYS_ADMIN"));
}

/* The probe on this kernel (root: PFNs): it must agree with the config where the config tells,
 * and without root it says it cannot run. */
static void test_probe_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        bool no, page, thp;
        struct utsname u;
        MapcountProbe p;

        if (proc_root_open(&root, "/proc", "/sys", "/boot") < 0)
                test_skip("/proc is not available");
        mapcount_probe_run(&root, &p);
        if (p.mode == MAPCOUNT_MODE_UNKNOWN && p.why && strstr(p.why, "THP"))
                test_skip("no large anonymous folio here (THP never?)");
        fprintf(stderr, "probe: %s by %s, kpagecount %" PRIu64 "\n",
                mapcount_mode_to_string(p.mode), probe_method_to_string(p.method), p.kpagecount);
        ASSERT_TRUE(p.mode == MAPCOUNT_MODE_PAGE || p.mode == MAPCOUNT_MODE_NO_PAGE);
        ASSERT_TRUE(p.method == PROBE_METHOD_PMD || p.method == PROBE_METHOD_MTHP);
        ASSERT_INT_EQ(uname(&u), 0);
        if (live_config(u.release, &no, &page, &thp))
                ASSERT_INT_EQ(p.mode, no ? MAPCOUNT_MODE_NO_PAGE : MAPCOUNT_MODE_PAGE);
        test_run_unprivileged(probe_unprivileged, &root);
}

static void test_fixtures(void) {
        test_mode_strings();
        test_release();
        test_config_rule();
        test_sysfs_choice();
        test_fixture_6_18();
        test_host();
        test_fixture_4_19();
        test_fixture_nopage();
        test_fixture_bad();
        test_probe_fixture();
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
        { NULL, test_fixtures },
        { "live", test_live },
        { "root", test_probe_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
