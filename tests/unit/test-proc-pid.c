/* Tests for collectors/proc-pid: stat, cmdline and cgroup parsers, the cgroup → unit mapping,
 * proc_scan over the captured 6.18 tree and over bad/scan (one fault per PID), and the live
 * /proc: the scan finds this process with its own Rss, and a child that exits or turns into a
 * zombie is reported as vanished or without memory map. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "proc-pid.h"
#include "proc-scan.h"
#include "test.h"

static int read_fixture(const char *rel, ReadBuf *b) {
        char path[512];
        int r;

        (void) snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, rel);
        r = read_file_at(AT_FDCWD, path, 1 << 20, b);
        if (r < 0)
                fprintf(stderr, "cannot read fixture '%s': %s\n", path, strerror(-r));
        return r;
}

static int stat_file(const char *rel, ProcStat *ret) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        int r;

        r = read_fixture(rel, &b);
        if (r < 0)
                return r;
        return proc_stat_parse(b.data, b.size, ret);
}

/* Golden values: tests/fixtures/README.md, "linux-6.18-page". */
static void test_stat(void) {
        ProcStat st;

        ASSERT_INT_EQ(stat_file("linux-6.18-page/proc/6119/stat", &st), 0);
        ASSERT_STR_EQ(st.comm, "sleep");
        ASSERT_INT_EQ(st.state, 'S');
        ASSERT_INT_EQ(st.ppid, 1);
        ASSERT_INT_EQ(st.flags, 4194304);
        ASSERT_U64_EQ(st.start_time_ticks, 62002);

        ASSERT_INT_EQ(stat_file("linux-6.18-page/proc/6121/stat", &st), 0);
        ASSERT_STR_EQ(st.comm, "a) (b c");
        ASSERT_INT_EQ(st.state, 'S');
        ASSERT_U64_EQ(st.start_time_ticks, 62002);

        ASSERT_INT_EQ(stat_file("linux-6.18-page/proc/2/stat", &st), 0);
        ASSERT_STR_EQ(st.comm, "kthreadd");
        ASSERT_TRUE(st.flags & PF_KTHREAD);
        ASSERT_INT_EQ(st.ppid, 0);
        ASSERT_U64_EQ(st.start_time_ticks, 22);

        ASSERT_INT_EQ(stat_file("linux-6.18-page/proc/6123/stat", &st), 0);
        ASSERT_INT_EQ(st.state, 'Z');
        ASSERT_INT_EQ(st.ppid, 6121);

        ASSERT_INT_EQ(stat_file("bad/files/stat-comm-parens", &st), 0);
        ASSERT_STR_EQ(st.comm, "a) (b c");

        memset(&st, 0xAA, sizeof st);
        ASSERT_INT_EQ(stat_file("bad/files/stat-truncated", &st), -EBADMSG);
        ASSERT_INT_EQ(stat_file("bad/files/stat-overflow", &st), -ERANGE);
        ASSERT_INT_EQ(stat_file("bad/files/stat-empty", &st), -EBADMSG);
        ASSERT_INT_EQ(stat_file("bad/files/stat-garbage", &st), -EBADMSG);
        ASSERT_INT_EQ(stat_file("bad/files/smaps_rollup-garbage", &st), -EBADMSG);
        ASSERT_INT_EQ(st.state, (char) 0xAA);
}

static void test_stat_inline(void) {
        static const char tail[] = " S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77\n";
        static const struct {
                const char *head;
                int r;
                const char *comm;
        } cases[] = {
                { "5 (x)", 0, "x" },
                { "5 ()", 0, "" },
                { "5 ((()", 0, "((" },
                { "5 (a b) c)", 0, "a b) c" },
                { "5 (\n)", 0, "\n" },
                { "(x)", -EBADMSG, NULL },
                { "5(x)", -EBADMSG, NULL },
                { "-5 (x)", -EBADMSG, NULL },
                { "5 x", -EBADMSG, NULL },
                { "99999999999999999999999 (x)", -ERANGE, NULL },
        };
        char buf[256];
        ProcStat st;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                int n = snprintf(buf, sizeof buf, "%s%s", cases[i].head, tail), r;

                r = proc_stat_parse(buf, (size_t) n, &st);
                if (r != cases[i].r)
                        fprintf(stderr, "case %zu: '%s'\n", i, buf);
                ASSERT_INT_EQ(r, cases[i].r);
                if (r == 0) {
                        ASSERT_STR_EQ(st.comm, cases[i].comm);
                        ASSERT_INT_EQ(st.flags, 64);
                        ASSERT_U64_EQ(st.start_time_ticks, 77);
                }
        }

        /* Long comms (workqueue names) are truncated, not rejected. */
        (void) snprintf(buf, sizeof buf, "5 (%0100d)%s", 0, tail);
        ASSERT_INT_EQ(proc_stat_parse(buf, strlen(buf), &st), 0);
        ASSERT_INT_EQ(strlen(st.comm), PROC_COMM_MAX - 1);

        /* Malformed fields after the comm. */
        static const char *const bad[] = {
                "5 (x) SS 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77\n",
                "5 (x) S -1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77\n",
                "5 (x) S 1 2 3 4 -1 -64 0 0 0 0 0 0 0 0 20 -5 1 0 77\n",
                "5 (x) S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 7x7\n",
                "5 (x) S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0\n",
                "5 (x) S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 - 1 0 77\n",
                "5 (x) S 1  2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77\n",
                "5 (x)S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_INT_EQ(proc_stat_parse(bad[i], strlen(bad[i]), &st), -EBADMSG);
        ASSERT_INT_EQ(proc_stat_parse("5 (x) S 1 2 3 4 -1 4294967296 0 0 0 0 0 0 0 0 20 -5 1 0 "
                                      "77\n", 58, &st), -ERANGE);

        /* The change signal: minflt (10), majflt (12), vsize (23), rss (24); absent when stat
         * ends at field 22, and a malformed one is malformed stat. */
        static const char full[] = "5 (x) S 1 2 3 4 -1 64 111 0 222 0 0 0 0 0 20 -5 1 0 77 "
                                   "8192000 345 18446744073709551615 1 1\n";
        ASSERT_INT_EQ(proc_stat_parse(full, strlen(full), &st), 0);
        ASSERT_TRUE(st.signal.valid);
        ASSERT_U64_EQ(st.signal.minflt, 111);
        ASSERT_U64_EQ(st.signal.majflt, 222);
        ASSERT_U64_EQ(st.signal.vsize, 8192000);
        ASSERT_U64_EQ(st.signal.rss_pages, 345);
        ProcSignal other = st.signal;
        ASSERT_TRUE(proc_signal_equal(&st.signal, &other));
        other.minflt++;
        ASSERT_FALSE(proc_signal_equal(&st.signal, &other));
        ASSERT_INT_EQ(proc_stat_parse("5 (x) S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77 4096\n",
                                      56, &st), 0);
        ASSERT_FALSE(st.signal.valid);
        ASSERT_FALSE(proc_signal_equal(&st.signal, &st.signal));
        ASSERT_INT_EQ(proc_stat_parse("5 (x) S 1 2 3 4 -1 64 0 0 0 0 0 0 0 0 20 -5 1 0 77 4096 "
                                      "-3\n", 59, &st), -EBADMSG);
}

static void test_cmdline(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        char *s, big[PROC_CMDLINE_MAX + 100];

        ASSERT_INT_EQ(read_fixture("linux-6.18-page/proc/6119/cmdline", &b), 0);
        ASSERT_INT_EQ(proc_cmdline_parse(b.data, b.size, &s), 0);
        ASSERT_STR_EQ(s, "sleep 3600");
        free(s);

        ASSERT_INT_EQ(read_fixture("linux-6.18-page/proc/1/cmdline", &b), 0);
        ASSERT_INT_EQ(proc_cmdline_parse(b.data, b.size, &s), 0);
        ASSERT_STR_EQ(s, "/process_api --firecracker-init");
        free(s);

        /* kernel thread: empty */
        ASSERT_INT_EQ(read_fixture("linux-6.18-page/proc/2/cmdline", &b), 0);
        ASSERT_INT_EQ(b.size, 0);
        ASSERT_INT_EQ(proc_cmdline_parse(b.data, b.size, &s), 0);
        ASSERT_STR_EQ(s, "");
        free(s);

        /* setproctitle-style padding and empty arguments */
        ASSERT_INT_EQ(proc_cmdline_parse("nginx: worker\0\0\0\0", 17, &s), 0);
        ASSERT_STR_EQ(s, "nginx: worker");
        free(s);
        ASSERT_INT_EQ(proc_cmdline_parse("a\0\0b\0", 5, &s), 0);
        ASSERT_STR_EQ(s, "a  b");
        free(s);
        ASSERT_INT_EQ(proc_cmdline_parse("a\0b", 3, &s), 0);
        ASSERT_STR_EQ(s, "a b");
        free(s);

        /* Exactly PROC_CMDLINE_MAX bytes are kept as is; one more is truncated with "…". */
        memset(big, 'x', sizeof big);
        ASSERT_INT_EQ(proc_cmdline_parse(big, PROC_CMDLINE_MAX, &s), 0);
        ASSERT_INT_EQ(strlen(s), PROC_CMDLINE_MAX);
        free(s);
        ASSERT_INT_EQ(proc_cmdline_parse(big, PROC_CMDLINE_MAX + 1, &s), 0);
        ASSERT_INT_EQ(strlen(s), PROC_CMDLINE_MAX);
        ASSERT_STR_EQ(s + PROC_CMDLINE_MAX - 3, "\xe2\x80\xa6");
        free(s);
        /* A multibyte character across the cut is dropped whole. */
        memcpy(big + PROC_CMDLINE_MAX - 4, "\xc3\xa9", 2);
        ASSERT_INT_EQ(proc_cmdline_parse(big, sizeof big, &s), 0);
        ASSERT_INT_EQ(strlen(s), PROC_CMDLINE_MAX - 1);
        ASSERT_STR_EQ(s + PROC_CMDLINE_MAX - 4, "\xe2\x80\xa6");
        free(s);
}

/* One /proc/PID/cgroup content and what a parser of it must give. */
typedef struct CgroupCase {
        const char *text;
        int r;
        const char *path;
} CgroupCase;

/* Runs parse over every case and over the captured 6119/cgroup (which must give path). */
static void check_cgroup_cases(int (*parse)(const char *buf, size_t len, char **ret),
                               const CgroupCase *cases, size_t n, const char *captured) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        char *s;

        ASSERT_INT_EQ(read_fixture("linux-6.18-page/proc/6119/cgroup", &b), 0);
        ASSERT_INT_EQ(parse(b.data, b.size, &s), 0);
        ASSERT_STR_EQ(s, captured);
        free(s);

        for (size_t i = 0; i < n; i++) {
                int r = parse(cases[i].text, strlen(cases[i].text), &s);

                if (r != cases[i].r)
                        fprintf(stderr, "case %zu: '%s'\n", i, cases[i].text);
                ASSERT_INT_EQ(r, cases[i].r);
                if (r == 0) {
                        ASSERT_STR_EQ(s, cases[i].path);
                        free(s);
                }
        }
}

static void test_cgroup(void) {
        static const CgroupCase cases[] = {
                { "0::/system.slice/cron.service\n", 0, "/system.slice/cron.service" },
                { "0::/", 0, "/" },
                { "1:name=systemd:/user.slice\n0::/init.scope\n", 0, "/user.slice" },
                { "12:pids:/a\n1:name=systemd:/b\n", 0, "/b" },
                { "12:pids:/a\n4:memory:/b\n", -ENODATA, NULL },
                { "", -ENODATA, NULL },
                { "0::/a:b\n", 0, "/a:b" },
                { "0:/x\n", -EBADMSG, NULL },
                { "x::/x\n", -EBADMSG, NULL },
                { "0::\n", -EBADMSG, NULL },
                { "0::/\n\n", -EBADMSG, NULL },
        };

        check_cgroup_cases(proc_cgroup_parse, cases, ELEMENTSOF(cases), "/");
}

static void test_cgroup_memory(void) {
        static const CgroupCase cases[] = {
                /* v2 only. */
                { "0::/system.slice/cron.service\n", 0, "/system.slice/cron.service" },
                /* Hybrid: the v1 memory hierarchy wins over the unified one. */
                { "12:pids:/a\n7:memory:/mapstatd-test\n1:name=systemd:/b\n0::/b\n", 0,
                  "/mapstatd-test" },
                /* Co-mounted controllers. */
                { "3:cpu,memory:/x\n0::/y\n", 0, "/x" },
                { "3:memory,cpu:/x\n", 0, "/x" },
                /* Not a controller named memory. */
                { "3:memoryx:/x\n0::/y\n", 0, "/y" },
                { "1:name=systemd:/b\n", -ENODATA, NULL },
                { "", -ENODATA, NULL },
                { "7:memory\n", -EBADMSG, NULL },
                { "7:memory:x\n", -EBADMSG, NULL },
        };

        /* The capture is of a hybrid host: its v1 memory line, not the unified "/". */
        check_cgroup_cases(proc_cgroup_memory_parse, cases, ELEMENTSOF(cases),
                           "/process_api/54ced8c9fd8019de3f551308eb3c2019");
}

static void test_unit(void) {
        static const struct {
                const char *path;
                const char *unit;
        } cases[] = {
                { "/", NULL },
                { "", NULL },
                { "/system.slice", NULL },
                { "/system.slice/foo.service/x", "foo.service" },
                { "/system.slice/foo.service", "foo.service" },
                { "/user.slice/user-0.slice/user@0.service/app.slice/a.scope", "user@0.service" },
                { "/init.scope", "init.scope" },
                { "/system.slice/getty@tty1.service", "getty@tty1.service" },
                { "/system.slice/dev-sda.swap", "dev-sda.swap" },
                { "/system.slice/x.socket", "x.socket" },
                { "/machine.slice/machine-a.scope/payload", "machine-a.scope" },
                { "/docker/abc123", NULL },
                { "/a/.service", NULL },
                { "/a/b c.service", NULL },
                { "//system.slice//cron.service//", "cron.service" },
                { "/system.slice/x.servicex", NULL },
                { "/system.slice/sys-kernel-debug.mount", "sys-kernel-debug.mount" },
                { "/x.target/y.timer", "x.target" },
                { "/a.path", "a.path" },
                { "/a.device", "a.device" },
                { "/proc-sys-fs-binfmt_misc.automount", "proc-sys-fs-binfmt_misc.automount" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *u = NULL;
                int r = cgroup_path_get_unit(cases[i].path, &u);

                if (r != (cases[i].unit ? 1 : 0))
                        fprintf(stderr, "case %zu: '%s'\n", i, cases[i].path);
                ASSERT_INT_EQ(r, cases[i].unit ? 1 : 0);
                if (cases[i].unit)
                        ASSERT_STR_EQ(u, cases[i].unit);
                else
                        ASSERT_NULL(u);
                free(u);
        }
}

typedef struct Seen {
        size_t n;
        pid_t pid[16];
        char comm[16][PROC_COMM_MAX];
        char exe[16][64];
        char cmdline[16][64];
        char cgroup[16][64];
        char unit[16][64];
        uint64_t rss[16];
        int stop_after;
} Seen;

static int collect(ProcSample *s, void *userdata) {
        Seen *seen = userdata;

        if (seen->n < ELEMENTSOF(seen->pid)) {
                size_t i = seen->n;

                seen->pid[i] = s->pid;
                (void) snprintf(seen->comm[i], sizeof seen->comm[i], "%s", s->comm);
                (void) snprintf(seen->exe[i], sizeof seen->exe[i], "%s", s->exe ?: "(null)");
                (void) snprintf(seen->cmdline[i], sizeof seen->cmdline[i], "%s", s->cmdline);
                (void) snprintf(seen->cgroup[i], sizeof seen->cgroup[i], "%s",
                                s->cgroup ?: "(null)");
                (void) snprintf(seen->unit[i], sizeof seen->unit[i], "%s", s->unit ?: "(null)");
                seen->rss[i] = s->rollup.kb[SMAPS_RSS];
        }
        seen->n++;
        if (seen->stop_after > 0 && seen->n >= (size_t) seen->stop_after)
                return -ECANCELED;
        return 0;
}

static void test_scan_fixture(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        ProcScanStats st;
        Seen seen = {};

        ASSERT_INT_EQ(proc_root_open(&root, FIXTURES_DIR "/linux-6.18-page/proc",
                                     FIXTURES_DIR "/linux-6.18-page/sys",
                                     FIXTURES_DIR "/linux-6.18-page/boot"), 0);
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, NULL, collect, &seen, &st), 0);
        /* 1: smaps_rollup absent (denied at capture), 2: kthreadd, 6123: zombie. */
        ASSERT_INT_EQ(st.sampled, 2);
        ASSERT_INT_EQ(st.kernel_threads, 1);
        ASSERT_INT_EQ(st.no_mm, 1);
        ASSERT_INT_EQ(st.vanished, 1);
        ASSERT_INT_EQ(st.denied, 0);
        ASSERT_INT_EQ(st.malformed, 0);
        ASSERT_INT_EQ(proc_scan_stats_skipped(&st), 1);

        ASSERT_INT_EQ(seen.n, 2);
        ASSERT_INT_EQ(seen.pid[0], 6119);
        ASSERT_STR_EQ(seen.comm[0], "sleep");
        ASSERT_STR_EQ(seen.exe[0], "/usr/bin/sleep");
        ASSERT_STR_EQ(seen.cmdline[0], "sleep 3600");
        ASSERT_STR_EQ(seen.cgroup[0], "/");
        ASSERT_STR_EQ(seen.unit[0], "(null)");
        ASSERT_U64_EQ(seen.rss[0], 1756);
        ASSERT_INT_EQ(seen.pid[1], 6121);
        ASSERT_STR_EQ(seen.comm[1], "a) (b c");
        ASSERT_STR_EQ(seen.exe[1], "/usr/bin/python3.11");
        ASSERT_U64_EQ(seen.rss[1], 8172);

        /* A negative return from func stops the walk and is passed on. */
        seen = (Seen) { .stop_after = 1 };
        memset(&st, 0xAA, sizeof st);
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, NULL, collect, &seen, &st), -ECANCELED);
        ASSERT_INT_EQ(seen.n, 1);
        ASSERT_INT_EQ(st.sampled, 0xAAAAAAAAu);
}

static void write_text(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        ASSERT_TRUE(fd >= 0);
        ASSERT_TRUE(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
        close(fd);
}

/* A proc root with one process, 4242, whose stat names start time start (field 22). */
static void write_one_process(const char *dir, unsigned start) {
        char path[4096], stat[512];

        (void) snprintf(path, sizeof path, "%s/4242", dir);
        (void) mkdir(path, 0755);
        (void) snprintf(stat, sizeof stat,
                        "4242 (sleep) S 1 4242 4242 0 -1 4194304 292 0 2 0 0 0 0 0 20 0 1 0 %u "
                        "2990080 396 18446744073709551615\n", start);
        (void) snprintf(path, sizeof path, "%s/4242/stat", dir);
        write_text(path, stat);
        (void) snprintf(path, sizeof path, "%s/4242/smaps_rollup", dir);
        write_text(path, "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 1584 kB\n");
        (void) snprintf(path, sizeof path, "%s/4242/cmdline", dir);
        write_text(path, "sleep");
}

static int ignore_sample(ProcSample *s, void *userdata) {
        return 0;
}

typedef struct ReuseCase {
        const char *dir;
        bool accept;            /* stand an earlier read in */
        bool replace;           /* meanwhile, another process takes the PID */
        unsigned asked;
} ReuseCase;

static int reuse_case(ProcSample *s, void *userdata) {
        ReuseCase *c = userdata;

        c->asked++;
        ASSERT_STR_EQ(s->comm, "sleep");
        ASSERT_INT_EQ(s->pid, 4242);
        ASSERT_U64_EQ(s->start_time_ticks, 62002);
        if (c->replace)
                write_one_process(c->dir, 70000);
        if (!c->accept)
                return 0;
        s->reused_sweep_id = 7;
        s->rollup.kb[SMAPS_RSS] = 1;
        return 1;
}

/* With reuse, stat is read by path and the directory opened only for a process read further:
 * a PID taken by another process in between is not read under the first one's start time. */
static void test_scan_reuse_by_path(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        char *dir = test_tmpdir_new("test-proc-pid-reuse");
        ProcScanStats st;
        ReuseCase c = { .dir = dir };

        write_one_process(dir, 62002);
        ASSERT_INT_EQ(proc_root_open(&root, dir, NULL, NULL), 0);

        /* Declined: read in full. */
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, reuse_case, ignore_sample, &c, &st), 0);
        ASSERT_INT_EQ(c.asked, 1);
        ASSERT_INT_EQ(st.sampled, 1);
        ASSERT_INT_EQ(st.reused, 0);

        /* Accepted: nothing else is read (smaps_rollup may even be gone). */
        char path[4096];
        (void) snprintf(path, sizeof path, "%s/4242/smaps_rollup", dir);
        ASSERT_INT_EQ(unlink(path), 0);
        c = (ReuseCase) { .dir = dir, .accept = true };
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, reuse_case, ignore_sample, &c, &st), 0);
        ASSERT_INT_EQ(st.sampled, 1);
        ASSERT_INT_EQ(st.reused, 1);

        /* Declined, and the PID changed hands before the directory was opened: vanished. */
        c = (ReuseCase) { .dir = dir, .replace = true };
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, reuse_case, ignore_sample, &c, &st), 0);
        ASSERT_INT_EQ(c.asked, 1);
        ASSERT_INT_EQ(st.sampled, 0);
        ASSERT_INT_EQ(st.vanished, 1);
        test_tmpdir_remove(dir);
}

static void test_scan_bad(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        ProcScanStats st;
        Seen seen = {};

        ASSERT_INT_EQ(proc_root_open(&root, FIXTURES_DIR "/bad/scan/proc", NULL, NULL), 0);
        ASSERT_INT_EQ(root.sys_fd, -EBADF);
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, NULL, collect, &seen, &st), 0);
        ASSERT_INT_EQ(st.sampled, 1);
        ASSERT_INT_EQ(st.kernel_threads, 1);
        ASSERT_INT_EQ(st.no_mm, 1);
        ASSERT_INT_EQ(st.vanished, 1);
        ASSERT_INT_EQ(st.denied, 0);
        ASSERT_INT_EQ(st.malformed, 6);
        ASSERT_INT_EQ(seen.pid[0], 13);
        ASSERT_STR_EQ(seen.comm[0], "a) (b c");
        ASSERT_STR_EQ(seen.exe[0], "(null)");
        ASSERT_STR_EQ(seen.cmdline[0], "");
        ASSERT_STR_EQ(seen.cgroup[0], "/system.slice/demo.service");
        ASSERT_STR_EQ(seen.unit[0], "demo.service");
        ASSERT_U64_EQ(seen.rss[0], 8172);

        proc_root_done(&root);
        ASSERT_INT_EQ(proc_root_open(&root, FIXTURES_DIR "/bad/no-such-dir", NULL, NULL),
                      -ENOENT);
        ASSERT_INT_EQ(proc_root_open(&root, FIXTURES_DIR "/bad/files/stat-empty", NULL, NULL),
                      -ENOTDIR);
}

/* Rss from "Rss:" in /proc/self/smaps_rollup, read without the code under test. */
static uint64_t self_rss_kb(void) {
        char buf[4096];
        ssize_t n;
        char *p;
        int fd;

        fd = open("/proc/self/smaps_rollup", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read(fd, buf, sizeof buf - 1);
        (void) close(fd);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        p = strstr(buf, "\nRss:");
        return p ? strtoull(p + 5, NULL, 10) : 0;
}

typedef struct LiveSelf {
        bool found;
        char comm[PROC_COMM_MAX];
        uint64_t rss, fresh_rss;
        char *exe;
} LiveSelf;

static int find_self(ProcSample *s, void *userdata) {
        LiveSelf *l = userdata;

        if (s->pid != getpid())
                return 0;
        l->found = true;
        memcpy(l->comm, s->comm, sizeof l->comm);
        l->rss = s->rollup.kb[SMAPS_RSS];
        l->fresh_rss = self_rss_kb();
        l->exe = s->exe ? strdup(s->exe) : NULL;
        return 0;
}

static void test_scan_live(void) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        _cleanup_(proc_scan_buffers_done) ProcScanBuffers bufs = {};
        _cleanup_free_ char *self_exe = NULL;
        char comm[PROC_COMM_MAX] = "";
        LiveSelf l = {};
        ProcScanStats st;
        ssize_t n;
        int fd;

        if (proc_root_open(&root, "/proc", "/sys", "/boot") < 0)
                test_skip("/proc is not available");
        fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        n = read(fd, comm, sizeof comm - 1);
        (void) close(fd);
        ASSERT_TRUE(n > 1);
        comm[n > 0 ? n - 1 : 0] = '\0';
        ASSERT_INT_EQ(readlink_at_malloc(AT_FDCWD, "/proc/self/exe", &self_exe), 0);

        /* Warm up so that the scan itself does not fault in new pages of this process. */
        (void) self_rss_kb();
        ASSERT_INT_EQ(proc_scan(&root, &bufs, NULL, NULL, find_self, &l, &st), 0);
        ASSERT_TRUE(l.found);
        ASSERT_STR_EQ(l.comm, comm);
        ASSERT_STR_EQ(l.comm, "test-proc-pid");
        ASSERT_TRUE(l.rss > 0);
        /* Within a few pages: between the two reads the sanitizers' allocator may fault in
         * one more page of this process. */
        ASSERT_DOUBLE_NEAR((double) l.rss, (double) l.fresh_rss, 16);
        ASSERT_STR_EQ(l.exe, self_exe);
        ASSERT_TRUE(st.sampled >= 1);
        ASSERT_TRUE(st.kernel_threads >= 1);
        free(l.exe);
}

/* A child that exits after its directory was opened is "vanished"; a zombie has no memory
 * map. */
static void test_sample_live_child(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        ProcSample s;
        char path[64];
        int pipefd[2], fd, r;
        pid_t pid;

        ASSERT_INT_EQ(pipe2(pipefd, O_CLOEXEC), 0);
        pid = fork();
        ASSERT_TRUE(pid >= 0);
        if (pid == 0) {
                char c;
                (void) close(pipefd[1]);
                (void) read(pipefd[0], &c, 1);
                _exit(0);
        }
        (void) close(pipefd[0]);
        (void) snprintf(path, sizeof path, "/proc/%d", (int) pid);
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);

        /* alive */
        ASSERT_INT_EQ(proc_sample_read(fd, pid, &b, &s), 0);
        ASSERT_INT_EQ(s.pid, pid);
        ASSERT_TRUE(s.rollup.kb[SMAPS_RSS] > 0);
        ASSERT_TRUE(s.cmdline && s.cmdline[0] != '\0');
        proc_sample_done(&s);

        /* zombie: exited, not reaped */
        (void) close(pipefd[1]);
        ASSERT_INT_EQ(waitid(P_PID, (id_t) pid, NULL, WEXITED | WNOWAIT), 0);
        memset(&s, 0xAA, sizeof s);
        ASSERT_INT_EQ(proc_sample_read(fd, pid, &b, &s), -ENODATA);
        ASSERT_INT_EQ(s.pid, (pid_t) 0xAAAAAAAA);

        /* reaped */
        ASSERT_INT_EQ(waitpid(pid, NULL, 0), pid);
        r = proc_sample_read(fd, pid, &b, &s);
        ASSERT_TRUE(r == -ESRCH || r == -ENOENT);
        (void) close(fd);

        /* kernel thread: PID 2 is kthreadd wherever /proc shows the initial PID namespace */
        fd = open("/proc/2", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
                char comm[32] = "";
                int cfd = openat(fd, "comm", O_RDONLY | O_CLOEXEC);
                ssize_t n = cfd >= 0 ? read(cfd, comm, sizeof comm - 1) : -1;

                (void) safe_close(cfd);
                if (n > 0 && strncmp(comm, "kthreadd", 8) == 0)
                        ASSERT_INT_EQ(proc_sample_read(fd, 2, &b, &s), 1);
                (void) close(fd);
        }
}

static void test_exe_deleted(void) {
        char a[] = "/usr/bin/foo (deleted)", b[] = "/usr/bin/foo", c[] = " (deleted)",
             d[] = "/x (deleted) (deleted)";

        exe_strip_deleted(a);
        ASSERT_STR_EQ(a, "/usr/bin/foo");
        exe_strip_deleted(b);
        ASSERT_STR_EQ(b, "/usr/bin/foo");
        exe_strip_deleted(c);           /* nothing but the suffix: left alone */
        ASSERT_STR_EQ(c, " (deleted)");
        exe_strip_deleted(d);           /* only one suffix is the kernel's */
        ASSERT_STR_EQ(d, "/x (deleted)");
}

static void test_live(void) {
        test_scan_live();
        test_sample_live_child();
}

static void test_fixtures(void) {
        test_exe_deleted();
        test_stat();
        test_stat_inline();
        test_cmdline();
        test_cgroup();
        test_cgroup_memory();
        test_unit();
        test_scan_fixture();
        test_scan_bad();
        test_scan_reuse_by_path();
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
        { NULL, test_fixtures },
        { "live", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
