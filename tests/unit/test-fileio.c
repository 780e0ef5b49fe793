/* Tests for common/fileio: read_file_at() on fixture files (exact content, the size cap at and
 * just past max, empty files, buffer reuse, missing files), pread_full(), read_line_at(),
 * readlink_at_malloc(), and reads of live procfs files larger than one page. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "test.h"

static int fixture_fd(const char *rel) {
        char path[512];

        (void) snprintf(path, sizeof path, "%s/%s", FIXTURES_DIR, rel);
        return open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static void test_read_file(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        _cleanup_close_ int fd = fixture_fd("linux-6.18-page/proc");
        struct stat st;

        ASSERT_TRUE(fd >= 0);
        ASSERT_INT_EQ(fstatat(fd, "6119/smaps_rollup", &st, 0), 0);
        ASSERT_INT_EQ(st.st_size, 698);

        ASSERT_INT_EQ(read_file_at(fd, "6119/smaps_rollup", 1 << 20, &b), 0);
        ASSERT_INT_EQ(b.size, 698);
        ASSERT_INT_EQ(b.data[b.size], '\0');
        ASSERT_INT_EQ(strlen(b.data), 698);
        ASSERT_TRUE(strncmp(b.data, "55d44b030000-7ffee9960000 ---p", 30) == 0);
        ASSERT_TRUE(b.allocated > b.size);

        /* the cap: exactly max bytes fit, one more is -E2BIG */
        ASSERT_INT_EQ(read_file_at(fd, "6119/smaps_rollup", 698, &b), 0);
        ASSERT_INT_EQ(b.size, 698);
        ASSERT_INT_EQ(read_file_at(fd, "6119/smaps_rollup", 697, &b), -E2BIG);
        ASSERT_INT_EQ(read_file_at(fd, "6119/smaps_rollup", 0, &b), -E2BIG);

        /* reuse: a shorter file replaces the content */
        ASSERT_INT_EQ(read_file_at(fd, "sys/kernel/osrelease", 4096, &b), 0);
        ASSERT_INT_EQ(b.size, 16);
        ASSERT_STR_EQ(b.data, "6.18.44-fc-v657\n");

        /* empty file (a kernel thread's cmdline) */
        ASSERT_INT_EQ(read_file_at(fd, "2/cmdline", 4096, &b), 0);
        ASSERT_INT_EQ(b.size, 0);
        ASSERT_STR_EQ(b.data, "");
        ASSERT_INT_EQ(read_file_at(fd, "2/cmdline", 0, &b), 0);

        ASSERT_INT_EQ(read_file_at(fd, "no-such-file", 4096, &b), -ENOENT);
        ASSERT_INT_EQ(read_file_at(fd, "6119/stat/x", 4096, &b), -ENOTDIR);
        ASSERT_INT_EQ(read_file_at(fd, "6119", 4096, &b), -EISDIR);
        ASSERT_INT_EQ(read_file_at(-EBADF, "x", 4096, &b), -EBADF);
}

static void test_read_line(void) {
        _cleanup_close_ int fd = fixture_fd("linux-6.18-page/proc");
        char *s = NULL;

        ASSERT_INT_EQ(read_line_at(fd, "sys/kernel/random/boot_id", &s), 0);
        ASSERT_STR_EQ(s, "5ae0942d-1cc6-4f98-bbd3-6c5f3d306bac");
        free(s);
        /* first line only */
        ASSERT_INT_EQ(read_line_at(fd, "meminfo", &s), 0);
        ASSERT_STR_EQ(s, "MemTotal:       24684092 kB");
        free(s);
        ASSERT_INT_EQ(read_line_at(fd, "2/cmdline", &s), 0);
        ASSERT_STR_EQ(s, "");
        free(s);
        s = NULL;
        ASSERT_INT_EQ(read_line_at(fd, "missing", &s), -ENOENT);
        ASSERT_NULL(s);
}

static void test_readlink(void) {
        _cleanup_close_ int fd = fixture_fd("linux-6.18-page/proc");
        char *s = NULL;

        ASSERT_INT_EQ(readlink_at_malloc(fd, "6119/exe", &s), 0);
        ASSERT_STR_EQ(s, "/usr/bin/sleep");
        free(s);
        s = NULL;
        ASSERT_INT_EQ(readlink_at_malloc(fd, "6119/stat", &s), -EINVAL);
        ASSERT_INT_EQ(readlink_at_malloc(fd, "1/exe", &s), -ENOENT);
        ASSERT_NULL(s);
}

/* procfs generates content per read: a file larger than one page must come back whole. */
static void test_live(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        char *s = NULL, buf[64];

        fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                test_skip("/proc is not available");
        ASSERT_INT_EQ(read_file_at(fd, "self/smaps", 16 << 20, &b), 0);
        if (b.size <= 4096)
                test_skip("/proc/self/smaps is not larger than one page");
        ASSERT_INT_EQ(strlen(b.data), b.size);
        /* complete: the last VMA's last line is VmFlags */
        ASSERT_INT_EQ(b.data[b.size - 1], '\n');
        ASSERT_TRUE(strstr(b.data, "VmFlags:") != NULL);
        ASSERT_INT_EQ(read_file_at(fd, "self/smaps", 4096, &b), -E2BIG);

        ASSERT_INT_EQ(read_line_at(fd, "self/comm", &s), 0);
        ASSERT_STR_EQ(s, "test-fileio");
        free(s);
        (void) snprintf(buf, sizeof buf, "%d", (int) getpid());
        ASSERT_INT_EQ(readlink_at_malloc(fd, "self", &s), 0);
        ASSERT_STR_EQ(s, buf);
        free(s);
}

static void test_pread_full(void) {
        char path[512], buf[1024];
        _cleanup_close_ int fd = -EBADF;

        (void) snprintf(path, sizeof path, "%s/linux-6.18-page/proc/6119/smaps_rollup",
                        FIXTURES_DIR);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ASSERT_TRUE(fd >= 0);
        /* Short only at the end of the file (698 bytes). */
        ASSERT_INT_EQ(pread_full(fd, buf, sizeof buf, 0), 698);
        ASSERT_INT_EQ(pread_full(fd, buf, 100, 650), 48);
        ASSERT_INT_EQ(pread_full(fd, buf, 10, 698), 0);
        ASSERT_INT_EQ(pread_full(fd, buf, 16, 2), 16);
        ASSERT_TRUE(memcmp(buf, "d44b030000-7ffee", 16) == 0);
        ASSERT_INT_EQ(pread_full(-1, buf, 16, 0), -EBADF);
}

static void test_fixtures(void) {
        test_pread_full();
        test_read_file();
        test_read_line();
        test_readlink();
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
        { NULL, test_fixtures },
        { "live", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
