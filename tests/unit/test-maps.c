/* Tests for collectors/maps: classification of every kind of mapping (real lines from a 6.18
 * kernel plus the names it could not produce here), the captured file
 * tests/fixtures/maps/linux-6.18-mixed, malformed lines with their error codes, and the live
 * /proc/self/maps with mappings this test creates. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"
#include "maps.h"
#include "test.h"

static void test_class_strings(void) {
        ASSERT_STR_EQ(vma_class_to_string(VMA_CLASS_ANON), "anon");
        ASSERT_STR_EQ(vma_class_to_string(VMA_CLASS_FILE), "file");
        ASSERT_STR_EQ(vma_class_to_string(VMA_CLASS_SHARED_FILE), "shared_file");
        ASSERT_STR_EQ(vma_class_to_string(VMA_CLASS_SHMEM), "shmem");
        ASSERT_STR_EQ(vma_class_to_string(VMA_CLASS_HUGETLB), "hugetlb");
        ASSERT_NULL(vma_class_to_string(_VMA_CLASS_MAX));
        ASSERT_NULL(vma_class_to_string(_VMA_CLASS_INVALID));
}

static void test_classify(void) {
        /* The rule of maps.h, case by case. */
        ASSERT_INT_EQ(vma_classify("rw-p", 0, ""), VMA_CLASS_ANON);
        ASSERT_INT_EQ(vma_classify("rw-p", 0, "[heap]"), VMA_CLASS_ANON);
        ASSERT_INT_EQ(vma_classify("rw-p", 0, "[stack]"), VMA_CLASS_ANON);
        ASSERT_INT_EQ(vma_classify("r-xp", 0, "[vdso]"), VMA_CLASS_ANON);
        ASSERT_INT_EQ(vma_classify("rw-p", 0, "[anon:my arena]"), VMA_CLASS_ANON);
        ASSERT_INT_EQ(vma_classify("r--p", 332835, "/usr/lib/x86_64-linux-gnu/libc.so.6"),
                      VMA_CLASS_FILE);
        /* a private memfd mapping is a private file mapping, even with inode numbers that
         * look anonymous */
        ASSERT_INT_EQ(vma_classify("rw-p", 1047, "/memfd:probe (deleted)"), VMA_CLASS_FILE);
        ASSERT_INT_EQ(vma_classify("rw-s", 1047, "/memfd:probe (deleted)"), VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(vma_classify("rw-s", 1046, "/dev/zero (deleted)"), VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(vma_classify("rw-s", 0, "/SYSV00000000 (deleted)"), VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(vma_classify("r--s", 104, "/dev/shm/x"), VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(vma_classify("rw-s", 1050, "[anon_shmem:shared arena]"), VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(vma_classify("r--s", 10953269, "/tmp/a file with spaces (deleted)"),
                      VMA_CLASS_SHARED_FILE);
        /* a shared mapping of /dev/zero that still exists is a device, not shmem */
        ASSERT_INT_EQ(vma_classify("rw-s", 5, "/dev/zero"), VMA_CLASS_SHARED_FILE);
        ASSERT_INT_EQ(vma_classify("rw-p", 2048, "/anon_hugepage (deleted)"), VMA_CLASS_HUGETLB);
        ASSERT_INT_EQ(vma_classify("rw-s", 2048, "/anon_hugepage (deleted)"), VMA_CLASS_HUGETLB);
        ASSERT_INT_EQ(vma_classify("rw-s", 77, "/dev/hugepages/pool"), VMA_CLASS_HUGETLB);
        /* a private file mapping whose inode reads 0 but that has a path is still a file */
        ASSERT_INT_EQ(vma_classify("rw-p", 0, "/memfd:x (deleted)"), VMA_CLASS_FILE);
        ASSERT_INT_EQ(vma_classify("rw-p", 12, "[heap]"), VMA_CLASS_FILE);
        ASSERT_INT_EQ(vma_classify("rw-", 0, ""), _VMA_CLASS_INVALID);
}

/* Parses one line and returns its single VMA (or the error). */
static int parse_one(const char *line, Vma *ret) {
        _cleanup_(vma_list_done) VmaList l = {};
        int r;

        r = maps_parse(line, strlen(line), &l);
        if (r < 0)
                return r;
        if (l.n != 1)
                return -(int) (1000 + l.n);
        *ret = l.vmas[0];
        return 0;
}

static void test_lines(void) {
        Vma v;

        /* Real lines of this machine (6.18.44). */
        ASSERT_INT_EQ(parse_one("7f08b7962000-7f08b7963000 rw-p 00000000 00:01 1047"
                                "                       /memfd:probe (deleted)\n", &v), 0);
        ASSERT_U64_EQ(v.start, 0x7f08b7962000ULL);
        ASSERT_U64_EQ(v.end, 0x7f08b7963000ULL);
        ASSERT_INT_EQ(v.class, VMA_CLASS_FILE);
        ASSERT_INT_EQ(parse_one("7f08b7962000-7f08b7963000 rw-s 00000000 00:01 1047"
                                "                       /memfd:probe (deleted)", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(parse_one("7f08b7964000-7f08b7965000 rw-s 00000000 00:01 1046"
                                "                       /dev/zero (deleted)\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_SHMEM);
        /* no name: the kernel leaves a blank after the inode */
        ASSERT_INT_EQ(parse_one("7fb783879000-7fb78387c000 rw-p 00000000 00:00 0 \n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_ANON);
        ASSERT_U64_EQ(v.end - v.start, 3 * 4096);
        /* and without the blank (older kernels) */
        ASSERT_INT_EQ(parse_one("7fb783879000-7fb78387c000 rw-p 00000000 00:00 0", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_ANON);
        ASSERT_INT_EQ(parse_one("55a664352000-55a664373000 rw-p 00000000 00:00 0"
                                "                          [heap]\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_ANON);
        ASSERT_U64_EQ(v.end - v.start, 0x21000);
        ASSERT_INT_EQ(parse_one("7ffeedc5d000-7ffeedc7e000 rw-p 00000000 00:00 0"
                                "                          [stack]\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_ANON);
        ASSERT_INT_EQ(parse_one("7fb783a71000-7fb783a73000 r-xp 00000000 00:00 0"
                                "                          [vdso]\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_ANON);
        ASSERT_INT_EQ(parse_one("7fb7838a2000-7fb7839f8000 r-xp 00026000 fe:00 332835"
                                "                     /usr/lib/x86_64-linux-gnu/libc.so.6\n",
                                &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_FILE);
        ASSERT_INT_EQ(parse_one("7fb783a64000-7fb783a66000 rw-s 00000000 00:01 0"
                                "                          /SYSV00000000 (deleted)\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(parse_one("7fb783a63000-7fb783a64000 r--s 00000000 00:1b 104"
                                "                        /dev/shm/x\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_SHMEM);
        ASSERT_INT_EQ(parse_one("7fb783a5f000-7fb783a60000 r--s 00000000 fe:00 10953296"
                                "                   /tmp/cap/a file with spaces (deleted)\n",
                                &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_SHARED_FILE);
        /* Names this kernel could not produce here (no hugetlb pages reserved, no
         * CONFIG_ANON_VMA_NAME), in the layout of show_map_vma(). */
        ASSERT_INT_EQ(parse_one("7f5a40000000-7f5a40200000 rw-p 00000000 00:10 2048"
                                "                       /anon_hugepage (deleted)\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_HUGETLB);
        ASSERT_INT_EQ(parse_one("7f5a40000000-7f5a40400000 rw-s 00200000 00:2e 3"
                                "                          /dev/hugepages/pool\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_HUGETLB);
        ASSERT_INT_EQ(parse_one("7f5a40000000-7f5a40002000 rw-p 00000000 00:00 0"
                                "                          [anon:my arena]\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_ANON);
        ASSERT_INT_EQ(parse_one("7f5a40000000-7f5a40001000 rw-s 00000000 00:01 1050"
                                "                       [anon_shmem:shared arena]\n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_SHMEM);
        /* a path that itself ends in blanks keeps them; it is still a file */
        ASSERT_INT_EQ(parse_one("1000-2000 r--p 00000000 fe:00 7 /x  \n", &v), 0);
        ASSERT_INT_EQ(v.class, VMA_CLASS_FILE);
        /* upper-case hex and a wide device number */
        ASSERT_INT_EQ(parse_one("ABC000-ABD000 r--p 00000000 103:1a 7 /y\n", &v), 0);
        ASSERT_U64_EQ(v.start, 0xabc000);

        /* Left out: not a single VMA in the list. */
        ASSERT_INT_EQ(parse_one("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0"
                                "                  [vsyscall]\n", &v), -1000);
        ASSERT_INT_EQ(parse_one("7fb783a6b000-7fb783a6f000 r--p 00000000 00:00 0"
                                "                          [vvar]\n", &v), -1000);
        ASSERT_INT_EQ(parse_one("7fb783a6f000-7fb783a71000 r--p 00000000 00:00 0"
                                "                          [vvar_vclock]\n", &v), -1000);
}

static void test_malformed(void) {
        static const struct {
                const char *line;
                int r;
        } cases[] = {
                { "7f00-7f01 rw-p 00000000 00:00 0\n", -EBADMSG },          /* not aligned */
                { "2000-1000 rw-p 00000000 00:00 0\n", -EBADMSG },          /* start > end */
                { "1000-1000 rw-p 00000000 00:00 0\n", -EBADMSG },          /* empty */
                { "1000 2000 rw-p 00000000 00:00 0\n", -EBADMSG },          /* no '-' */
                { "1000-2000 rwxq 00000000 00:00 0\n", -EBADMSG },          /* perms */
                { "1000-2000 rw-pp 00000000 00:00 0\n", -EBADMSG },
                { "1000-2000 rw- 00000000 00:00 0\n", -EBADMSG },
                { "1000-2000 rw-p 0000000g 00:00 0\n", -EBADMSG },          /* offset */
                { "1000-2000 rw-p 00000000 0000 0\n", -EBADMSG },           /* device */
                { "1000-2000 rw-p 00000000 00:00 x\n", -EBADMSG },          /* inode */
                { "1000-2000 rw-p 00000000 00:00 12x /a\n", -EBADMSG },
                { "1000-2000 rw-p 00000000 00:00\n", -EBADMSG },            /* cut short */
                { "1000-2000 rw-p 00000000 00:00 ", -EBADMSG },
                { "1000-2000\n", -EBADMSG },
                { "\n", -EBADMSG },                                         /* empty line */
                { "-1000 rw-p 00000000 00:00 0\n", -EBADMSG },
                { "x000-2000 rw-p 00000000 00:00 0\n", -EBADMSG },
                { "10000000000000000-10000000001000000 rw-p 00000000 00:00 0\n", -ERANGE },
                { "1000-2000 rw-p 00000000 00:00 99999999999999999999999\n", -ERANGE },
        };
        _cleanup_(vma_list_done) VmaList l = {};
        static const char good[] = "1000-2000 rw-p 00000000 00:00 0\n";

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char buf[256];
                int r;

                /* After a good line, so that a failure also empties the list. */
                (void) snprintf(buf, sizeof buf, "%s%s", good, cases[i].line);
                r = maps_parse(buf, strlen(buf), &l);
                if (r != cases[i].r)
                        fprintf(stderr, "case %zu: '%s'\n", i, cases[i].line);
                ASSERT_INT_EQ(r, cases[i].r);
                ASSERT_INT_EQ(l.n, 0);
        }

        /* Empty input: no mappings, not an error (a process exiting). */
        ASSERT_INT_EQ(maps_parse("", 0, &l), 0);
        ASSERT_INT_EQ(l.n, 0);
        /* The parser stops at len: a NUL or garbage after it is not read. */
        ASSERT_INT_EQ(maps_parse("1000-2000 r--p 0 00:00 0 /a\nGARBAGE", 28, &l), 0);
        ASSERT_INT_EQ(l.n, 1);
}

/* tests/fixtures/maps/linux-6.18-mixed, classified by hand in tests/fixtures/README.md. */
static void test_fixture(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        _cleanup_(vma_list_done) VmaList l = {};
        unsigned by_class[_VMA_CLASS_MAX] = {};
        char path[512];

        (void) snprintf(path, sizeof path, "%s/maps/linux-6.18-mixed", FIXTURES_DIR);
        ASSERT_INT_EQ(read_file_at(AT_FDCWD, path, 1 << 20, &b), 0);
        ASSERT_INT_EQ(maps_parse(b.data, b.size, &l), 0);
        /* 33 lines, minus [vvar], [vvar_vclock] and [vsyscall]. */
        ASSERT_INT_EQ(l.n, 30);
        for (size_t i = 0; i < l.n; i++) {
                ASSERT_TRUE(l.vmas[i].start < l.vmas[i].end);
                if (i > 0)
                        ASSERT_TRUE(l.vmas[i - 1].end <= l.vmas[i].start);
                by_class[l.vmas[i].class]++;
        }
        /* file: 5 of the binary, 5 of libc, 5 of ld.so, the private mapping of the file with
         * spaces and the private memfd mapping; anon: [heap], [vdso], [stack] and four
         * unnamed; shmem: two /dev/zero (deleted), /dev/shm/x, SYSV, the shared memfd. */
        ASSERT_INT_EQ(by_class[VMA_CLASS_FILE], 17);
        ASSERT_INT_EQ(by_class[VMA_CLASS_ANON], 7);
        ASSERT_INT_EQ(by_class[VMA_CLASS_SHARED_FILE], 1);
        ASSERT_INT_EQ(by_class[VMA_CLASS_SHMEM], 5);
        ASSERT_INT_EQ(by_class[VMA_CLASS_HUGETLB], 0);
        ASSERT_U64_EQ(l.vmas[0].start, 0x55a656a75000ULL);
        ASSERT_U64_EQ(l.vmas[29].end, 0x7ffeedc7e000ULL);
        ASSERT_INT_EQ(l.vmas[5].class, VMA_CLASS_ANON);         /* [heap] */
}

static const Vma *find_vma(const VmaList *l, uintptr_t addr) {
        for (size_t i = 0; i < l->n; i++)
                if (l->vmas[i].start <= addr && addr < l->vmas[i].end)
                        return &l->vmas[i];
        return NULL;
}

static void test_live(void) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        _cleanup_(vma_list_done) VmaList l = {};
        _cleanup_close_ int dirfd = -EBADF, memfd = -EBADF;
        void *anon, *shared_anon, *mfd_shared, *mfd_private;
        const Vma *v;

        dirfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                test_skip("/proc/self is not available");
        memfd = memfd_create("test-maps", MFD_CLOEXEC);
        ASSERT_TRUE(memfd >= 0);
        ASSERT_INT_EQ(ftruncate(memfd, 4 * 4096), 0);
        anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        shared_anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        mfd_shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
        mfd_private = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, memfd, 4096);
        ASSERT_TRUE(anon != MAP_FAILED && shared_anon != MAP_FAILED &&
                    mfd_shared != MAP_FAILED && mfd_private != MAP_FAILED);

        ASSERT_INT_EQ(maps_read(dirfd, &b, &l), 0);
        ASSERT_TRUE(l.n > 4);
        v = find_vma(&l, (uintptr_t) anon);
        ASSERT_TRUE(v && v->class == VMA_CLASS_ANON);
        v = find_vma(&l, (uintptr_t) shared_anon);
        ASSERT_TRUE(v && v->class == VMA_CLASS_SHMEM);
        v = find_vma(&l, (uintptr_t) mfd_shared);
        ASSERT_TRUE(v && v->class == VMA_CLASS_SHMEM);
        v = find_vma(&l, (uintptr_t) mfd_private);
        ASSERT_TRUE(v && v->class == VMA_CLASS_FILE);
        v = find_vma(&l, (uintptr_t) &test_live);
        ASSERT_TRUE(v && v->class == VMA_CLASS_FILE);

        ASSERT_INT_EQ(maps_read(dirfd, &b, &l) , 0);
        (void) munmap(anon, 3 * 4096);
        (void) munmap(shared_anon, 4096);
        (void) munmap(mfd_shared, 4096);
        (void) munmap(mfd_private, 4096);
}

static void test_fixtures(void) {
        test_class_strings();
        test_classify();
        test_lines();
        test_malformed();
        test_fixture();
}

int main(int argc, char *argv[]) {
        static const TestGroup groups[] = {
        { NULL, test_fixtures },
        { "live", test_live },
        };

        return test_run(argc, argv, groups, ELEMENTSOF(groups));
}
