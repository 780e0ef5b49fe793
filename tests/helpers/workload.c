/* Builds the reference workloads of docs/kernel-semantics.md §8 (W1…W9) and a combined layout on
 * the real kernel, checks that it got the large folios it asked for, reports readiness and waits
 * until stdin reaches EOF. Usage:
 *   workload W1|W1b|W2|W3|W4|W5|W6|W6s|W7|W8|W9|layout --tag WORD [--dir DIR]
 * Every process of a workload prints one line on stdout once its part of the layout is final:
 *   "ready ROLE PID got_thp=0|1 region=HEX"
 * (ROLE: parent, childa, childb; region: the start of its workload region). When the layout
 * cannot be built here (no THP, no mTHP knob, no large folio obtained) it prints "skip REASON"
 * and exits 0. The knobs (hugepages-64kB/enabled, shmem_enabled) are the caller's to set.
 *
 * Roles must be told apart by the command line alone: the first process re-execs itself with
 * "--role parent" appended, and each forked child overwrites that word in place with its own
 * role of the same length, which /proc/PID/cmdline then shows. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE ((size_t) 4096)
#define PMD_SIZE ((size_t) 2 << 20)
#define MTHP_SIZE ((size_t) 64 << 10)

#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_THP 22

#define MAX_CHILDREN 4

static char *role_arg;          /* the argv string after "--role": "parent", overwritten */
static const char *dir = "/var/tmp";
static pid_t children[MAX_CHILDREN];
static size_t n_children;

static void die(const char *what) {
        fprintf(stderr, "workload: %s: %s\n", what, strerror(errno));
        _exit(1);
}

static void skip(const char *reason) {
        printf("skip %s\n", reason);
        fflush(stdout);
        exit(0);
}

/* ---- inspecting what we got ------------------------------------------------------------- */

/* The value in kB of field (e.g. "AnonHugePages") in the smaps block of the VMA containing addr,
 * or -1 when there is none. */
static long smaps_field_kb(const void *addr, const char *field) {
        uintptr_t a = (uintptr_t) addr;
        char line[512];
        size_t flen = strlen(field);
        bool in_vma = false;
        long v = -1;
        FILE *f = fopen("/proc/self/smaps", "re");

        if (!f)
                die("open smaps");
        while (fgets(line, sizeof line, f)) {
                uintptr_t s, e;

                /* Only a VMA header has hex digits followed by '-'; no field name does. */
                if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &s, &e) == 2) {
                        in_vma = s <= a && a < e;
                        continue;
                }
                if (in_vma && strncmp(line, field, flen) == 0 && line[flen] == ':') {
                        v = strtol(line + flen + 1, NULL, 10);
                        break;
                }
        }
        fclose(f);
        return v;
}

static int pread_u64(const char *path, uint64_t index, uint64_t *ret) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        n = pread(fd, ret, sizeof *ret, (off_t) (index * 8));
        close(fd);
        if (n != (ssize_t) sizeof *ret)
                return n < 0 ? -errno : -EIO;
        return 0;
}

/* Pages in the folio mapping the (present) page at addr: 1 for a small folio, N for a large
 * folio (THP flag), from pagemap and kpageflags (root only). -errno when unreadable, -ENXIO when
 * the page is not present. */
static long folio_pages(const void *addr) {
        uint64_t e, flags, head;
        long n;
        int r;

        r = pread_u64("/proc/self/pagemap", (uintptr_t) addr / PAGE, &e);
        if (r < 0)
                return r;
        if (!(e >> 63) || (e & ((1ULL << 55) - 1)) == 0)
                return -ENXIO;
        head = e & ((1ULL << 55) - 1);
        r = pread_u64("/proc/kpageflags", head, &flags);
        if (r < 0)
                return r;
        if (!(flags >> KPF_THP & 1))
                return 1;
        while (flags >> KPF_COMPOUND_TAIL & 1) {
                head--;
                r = pread_u64("/proc/kpageflags", head, &flags);
                if (r < 0)
                        return r;
        }
        if (!(flags >> KPF_COMPOUND_HEAD & 1))
                return -EIO;
        for (n = 1;; n++) {
                r = pread_u64("/proc/kpageflags", head + (uint64_t) n, &flags);
                if (r < 0 || !(flags >> KPF_COMPOUND_TAIL & 1))
                        break;
        }
        return n;
}

/* ---- building blocks -------------------------------------------------------------------- */

/* An address range of size bytes aligned to align, reserved PROT_NONE (to be mapped over with
 * MAP_FIXED) or mapped private anonymous read-write. */
static char *reserve_aligned(size_t size, size_t align, bool anon) {
        char *p = mmap(NULL, size + align, anon ? PROT_READ | PROT_WRITE : PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        uintptr_t a;

        if (p == MAP_FAILED)
                die("mmap");
        a = ((uintptr_t) p + align - 1) & ~(uintptr_t) (align - 1);
        if (a > (uintptr_t) p && munmap(p, a - (uintptr_t) p) < 0)
                die("munmap head");
        if ((uintptr_t) p + align - a > 0 &&
            munmap((char *) a + size, (uintptr_t) p + align - a) < 0)
                die("munmap tail");
        return (char *) a;
}

static void touch(char *p, size_t size, char v) {
        for (size_t i = 0; i < size; i += PAGE)
                p[i] = v;
}

static void read_pages(const char *p, size_t size) {
        volatile char sink = 0;
        for (size_t i = 0; i < size; i += PAGE)
                sink += p[i];
        (void) sink;
}

/* A written 2 MiB anonymous THP, PMD-mapped (checked via AnonHugePages), or skip. */
static char *anon_thp(void) {
        char *p = reserve_aligned(PMD_SIZE, PMD_SIZE, true);

        if (madvise(p, PMD_SIZE, MADV_HUGEPAGE) < 0)
                skip("madvise(MADV_HUGEPAGE) failed: THP not configured");
        touch(p, PMD_SIZE, 1);
        if (smaps_field_kb(p, "AnonHugePages") != (long) (PMD_SIZE / 1024))
                skip("no PMD-mapped anonymous THP obtained (transparent_hugepage/enabled?)");
        return p;
}

/* A written 64 KiB anonymous mTHP (checked via kpageflags), or skip. */
static char *anon_mthp(void) {
        char *p = reserve_aligned(MTHP_SIZE, PMD_SIZE, true);
        long n;

        if (access("/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled", F_OK) < 0)
                skip("no 64 KiB mTHP knob");
        if (madvise(p, MTHP_SIZE, MADV_HUGEPAGE) < 0)
                skip("madvise(MADV_HUGEPAGE) failed: THP not configured");
        touch(p, MTHP_SIZE, 1);
        n = folio_pages(p);
        if (n < 0)
                skip("kpageflags unreadable: cannot verify the mTHP");
        if (n != (long) (MTHP_SIZE / PAGE))
                skip("no 64 KiB mTHP obtained (hugepages-64kB/enabled?)");
        return p;
}

/* A memfd of size bytes mapped MAP_SHARED at a 2 MiB-aligned address; with huge, madvised
 * MADV_HUGEPAGE, otherwise MADV_NOHUGEPAGE. */
static char *memfd_map(int fd, size_t size, bool huge) {
        char *p = reserve_aligned(size, PMD_SIZE, false);

        if (mmap(p, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
                die("mmap memfd");
        if (madvise(p, size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) < 0 && huge)
                skip("madvise(MADV_HUGEPAGE) on shmem failed");
        return p;
}

static int memfd_new(size_t size) {
        int fd = memfd_create("workload", MFD_CLOEXEC);

        if (fd < 0)
                die("memfd_create");
        if (ftruncate(fd, (off_t) size) < 0)
                die("ftruncate");
        return fd;
}

/* ---- processes -------------------------------------------------------------------------- */

static void wait_stdin_eof(void) {
        char c;
        while (read(STDIN_FILENO, &c, 1) > 0)
                ;
}

static void report(const char *role, bool got, const void *region) {
        printf("ready %s %d got_thp=%d region=%" PRIxPTR "\n", role, (int) getpid(), got ? 1 : 0,
               (uintptr_t) region);
        fflush(stdout);
}

/* Forks a child with its own role; in the child, runs body(arg) and then waits for stdin EOF.
 * The parent gets the child's PID back once the child wrote to its readiness pipe (body must
 * call child_ready()). */
static int ready_fd = -1;

static void child_ready(void) {
        char c = 'r';
        if (write(ready_fd, &c, 1) != 1)
                die("write ready");
}

static void wait_child_ready(int fd) {
        char c;
        if (read(fd, &c, 1) != 1) {
                errno = EPIPE;
                die("child failed");
        }
}

static pid_t fork_role(const char *role, void (*body)(void *), void *arg) {
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                die("pipe");
        fflush(stdout);
        pid = fork();
        if (pid < 0)
                die("fork");
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(p[0]);
                ready_fd = p[1];
                /* Same length as "parent": /proc/PID/cmdline keeps its layout. */
                if (strlen(role) != strlen(role_arg))
                        _exit(2);
                memcpy(role_arg, role, strlen(role));
                body(arg);
                wait_stdin_eof();
                _exit(0);
        }
        close(p[1]);
        wait_child_ready(p[0]);
        close(p[0]);
        if (n_children < MAX_CHILDREN)
                children[n_children++] = pid;
        return pid;
}

static void reap_children(void) {
        for (size_t i = 0; i < n_children; i++) {
                if (children[i] <= 0)
                        continue;
                (void) kill(children[i], SIGTERM);
                (void) waitpid(children[i], NULL, 0);
        }
}

/* ---- the workloads ---------------------------------------------------------------------- */

typedef struct Region {
        char *p;
        size_t size;
        size_t unmap_off, unmap_len;    /* what the child unmaps (len 0: nothing) */
        bool cow_write_first;           /* the child writes page 0 */
} Region;

static void child_of_region(void *arg) {
        Region *r = arg;
        char *probe = r->p;

        if (r->unmap_len > 0 && munmap(r->p + r->unmap_off, r->unmap_len) < 0)
                die("munmap");
        if (r->cow_write_first)
                r->p[0] = 2;
        if (r->unmap_len > 0 && r->unmap_off == 0)
                probe = r->p + r->unmap_len;
        /* Still backed by the parent's large folio (page 0 of W3 is a new small page: probe
         * page 1 there). */
        report("childa", folio_pages(r->cow_write_first ? r->p + PAGE : probe) ==
                         (long) (r->size / PAGE), r->p);
        child_ready();
}

/* W1, W1b, W2, W5: one PMD THP shared with a child after fork, partly unmapped. */
static void run_thp_fork(size_t child_off, size_t child_len, size_t both_off, size_t both_len) {
        Region r = { .p = anon_thp(), .size = PMD_SIZE };

        if (both_len > 0) {
                r.unmap_off = both_off;
                r.unmap_len = both_len;
        } else {
                r.unmap_off = child_off;
                r.unmap_len = child_len;
        }
        (void) fork_role("childa", child_of_region, &r);
        if (both_len > 0 && munmap(r.p + both_off, both_len) < 0)
                die("munmap");
        report("parent", both_len > 0 ? folio_pages(r.p) == (long) (PMD_SIZE / PAGE)
                                      : smaps_field_kb(r.p, "AnonHugePages") == 2048, r.p);
}

/* W3: a 64 KiB mTHP shared after fork; the child writes page 0 (copy-on-write). */
static void run_w3(void) {
        Region r = { .p = anon_mthp(), .size = MTHP_SIZE, .cow_write_first = true };

        (void) fork_role("childa", child_of_region, &r);
        report("parent", folio_pages(r.p) == (long) (MTHP_SIZE / PAGE), r.p);
}

/* W4: a PMD THP of which all but page 0 is unmapped. */
static void run_w4(void) {
        char *p = anon_thp();

        if (munmap(p + PAGE, PMD_SIZE - PAGE) < 0)
                die("munmap");
        report("parent", folio_pages(p) == (long) (PMD_SIZE / PAGE), p);
}

/* W6 and W6s: one 2 MiB memfd mapped twice MAP_SHARED in this process. */
static void run_w6(bool huge) {
        int fd = memfd_new(PMD_SIZE);
        char *a = memfd_map(fd, PMD_SIZE, huge);
        char *b = memfd_map(fd, PMD_SIZE, huge);
        bool got;

        touch(a, PMD_SIZE, 1);
        read_pages(b, PMD_SIZE);
        if (huge) {
                got = smaps_field_kb(a, "ShmemPmdMapped") == 2048 &&
                      smaps_field_kb(b, "ShmemPmdMapped") == 2048;
                if (!got)
                        skip("no PMD-mapped shmem THP obtained (shmem_enabled advise?)");
        } else {
                long n = folio_pages(a);
                got = n > 1;
                if (got)
                        skip("shmem gave large folios despite MADV_NOHUGEPAGE");
        }
        close(fd);
        report("parent", got, a);
}

/* W7: a 64 KiB mTHP; A forks B then C; B exits; A unmaps it; C maps it alone. */
static int w7_exit_fd = -1;

static void w7_b(void *arg) {
        char c;

        child_ready();
        /* Wait for A's word to exit (or EOF when A dies). */
        (void) !read(w7_exit_fd, &c, 1);
        _exit(0);
}

static void run_w7(void) {
        char *p = anon_mthp();
        int ctl[2];
        pid_t b;
        int cready[2];
        char c;

        if (pipe2(ctl, O_CLOEXEC) < 0)
                die("pipe");
        w7_exit_fd = ctl[0];
        b = fork_role("childa", w7_b, NULL);
        close(ctl[0]);

        /* C reports only once B is gone and A has unmapped: it waits on its own pipe. */
        if (pipe2(cready, O_CLOEXEC) < 0)
                die("pipe");
        fflush(stdout);
        pid_t cpid = fork();
        if (cpid < 0)
                die("fork");
        if (cpid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                close(cready[1]);
                close(ctl[1]);
                memcpy(role_arg, "childb", 6);
                if (read(cready[0], &c, 1) != 1)
                        _exit(1);
                report("childb", folio_pages(p) == (long) (MTHP_SIZE / PAGE), p);
                wait_stdin_eof();
                _exit(0);
        }
        close(cready[0]);
        children[n_children++] = cpid;

        /* B exits; A unmaps; then C reports. */
        if (write(ctl[1], "x", 1) != 1)
                die("write");
        close(ctl[1]);
        if (waitpid(b, NULL, 0) < 0)
                die("waitpid");
        children[0] = 0;
        if (munmap(p, MTHP_SIZE) < 0)
                die("munmap");
        if (write(cready[1], "x", 1) != 1)
                die("write");
        close(cready[1]);
        /* The region is gone in A; got_thp is C's to tell. */
        report("parent", true, p);
}

/* W8: a 2 MiB shmem THP; A maps all of it (PMD), B maps its first 1 MiB. */
typedef struct W8 {
        int fd;
        char *a;
} W8;

static void w8_b(void *arg) {
        W8 *w = arg;
        char *q;

        /* The inherited MAP_SHARED mapping has no page table entries (fork does not copy them
         * for shared file mappings); drop it and map the first half. */
        if (munmap(w->a, PMD_SIZE) < 0)
                die("munmap");
        q = mmap(NULL, PMD_SIZE / 2, PROT_READ, MAP_SHARED, w->fd, 0);
        if (q == MAP_FAILED)
                die("mmap memfd");
        read_pages(q, PMD_SIZE / 2);
        report("childa", folio_pages(q) == (long) (PMD_SIZE / PAGE), q);
        child_ready();
}

static void run_w8(void) {
        W8 w = { .fd = memfd_new(PMD_SIZE) };

        w.a = memfd_map(w.fd, PMD_SIZE, true);
        touch(w.a, PMD_SIZE, 1);
        if (smaps_field_kb(w.a, "ShmemPmdMapped") != 2048)
                skip("no PMD-mapped shmem THP obtained (shmem_enabled advise?)");
        (void) fork_role("childa", w8_b, &w);
        close(w.fd);
        report("parent", smaps_field_kb(w.a, "ShmemPmdMapped") == 2048, w.a);
}

/* A deleted file of size bytes under dir, written with one pwrite (the page cache may then hold
 * it in large folios). */
static int tmpfile_new(size_t size) {
        int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        char *buf;

        if (fd < 0)
                die("open O_TMPFILE");
        buf = malloc(size);
        if (!buf)
                die("malloc");
        memset(buf, 'w', size);
        if (pwrite(fd, buf, size, 0) != (ssize_t) size)
                die("pwrite");
        free(buf);
        return fd;
}

/* W9: a file whose page cache holds a 64 KiB folio; one 4 KiB page of it mapped. */
static void run_w9(void) {
        int fd = tmpfile_new(MTHP_SIZE);
        char *p = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
        long n;

        if (p == MAP_FAILED)
                die("mmap file");
        read_pages(p, PAGE);
        close(fd);
        n = folio_pages(p);
        if (n < 0)
                skip("kpageflags unreadable: cannot verify the file folio");
        if (n != (long) (MTHP_SIZE / PAGE))
                skip("the page cache holds the file in no 64 KiB folio (file system without "
                     "large folios?)");
        report("parent", true, p);
}

/* layout: the combined layout of the issue, for checks of the reconstruction against the
 * kernel. Parent: 1 MiB of private anonymous small pages; a 2 MiB THP; a 64 KiB mTHP when the
 * knobs allow; a 256 KiB file mapped twice MAP_SHARED; a 1 MiB memfd mapped MAP_SHARED. Child
 * (fork): copy-on-write sharing of all anonymous memory, writes the first half of the small
 * pages and page 0 of the mTHP, unmaps page 0 of the THP (a partial munmap of a PMD THP in one
 * process) and reads the memfd (shared between the processes). Reports got_thp (PMD THP in the
 * parent) and got_mthp. */
typedef struct Layout {
        char *small, *thp, *mthp, *shm;
        bool got_thp, got_mthp;
} Layout;

static void report_layout(const char *role, const Layout *l) {
        printf("ready %s %d got_thp=%d got_mthp=%d region=%" PRIxPTR "\n", role, (int) getpid(),
               l->got_thp ? 1 : 0, l->got_mthp ? 1 : 0, (uintptr_t) l->thp);
        fflush(stdout);
}

static void layout_child(void *arg) {
        Layout *l = arg;

        touch(l->small, 512 << 10, 3);
        l->mthp[0] = 3;
        if (munmap(l->thp, PAGE) < 0)
                die("munmap");
        read_pages(l->shm, 1 << 20);
        report_layout("childa", l);
        child_ready();
}

static void run_layout(void) {
        Layout l = {};
        int fd;
        char *f1, *f2;

        l.small = reserve_aligned(1 << 20, PAGE, true);
        (void) madvise(l.small, 1 << 20, MADV_NOHUGEPAGE);
        touch(l.small, 1 << 20, 1);

        l.thp = reserve_aligned(PMD_SIZE, PMD_SIZE, true);
        (void) madvise(l.thp, PMD_SIZE, MADV_HUGEPAGE);
        touch(l.thp, PMD_SIZE, 1);
        l.got_thp = smaps_field_kb(l.thp, "AnonHugePages") == 2048;

        l.mthp = reserve_aligned(MTHP_SIZE, PMD_SIZE, true);
        (void) madvise(l.mthp, MTHP_SIZE, MADV_HUGEPAGE);
        touch(l.mthp, MTHP_SIZE, 1);
        l.got_mthp = folio_pages(l.mthp) == (long) (MTHP_SIZE / PAGE);

        fd = tmpfile_new(256 << 10);
        f1 = mmap(NULL, 256 << 10, PROT_READ, MAP_SHARED, fd, 0);
        f2 = mmap(NULL, 256 << 10, PROT_READ, MAP_SHARED, fd, 0);
        if (f1 == MAP_FAILED || f2 == MAP_FAILED)
                die("mmap file");
        read_pages(f1, 256 << 10);
        read_pages(f2, 256 << 10);
        close(fd);

        fd = memfd_new(1 << 20);
        l.shm = memfd_map(fd, 1 << 20, false);
        touch(l.shm, 1 << 20, 1);
        close(fd);

        (void) fork_role("childa", layout_child, &l);
        report_layout("parent", &l);
}

/* ---- main ------------------------------------------------------------------------------- */

int main(int argc, char *argv[]) {
        const char *mode = NULL;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc)
                        i++;
                else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
                        dir = argv[++i];
                else if (strcmp(argv[i], "--role") == 0 && i + 1 < argc)
                        role_arg = argv[++i];
                else if (!mode && argv[i][0] != '-')
                        mode = argv[i];
                else {
                        fprintf(stderr, "workload: unknown argument '%s'\n", argv[i]);
                        return 2;
                }
        }
        if (!mode) {
                fprintf(stderr, "usage: workload W1|W1b|W2|W3|W4|W5|W6|W6s|W7|W8|W9|layout "
                        "--tag WORD [--dir DIR]\n");
                return 2;
        }
        if (!role_arg) {
                char **args = calloc((size_t) argc + 3, sizeof *args);

                if (!args)
                        die("calloc");
                memcpy(args, argv, (size_t) argc * sizeof *args);
                args[argc] = (char *) "--role";
                args[argc + 1] = (char *) "parent";
                execv("/proc/self/exe", args);
                die("execv");
        }
        if (strcmp(role_arg, "parent") != 0) {
                fprintf(stderr, "workload: --role is set by the workload itself\n");
                return 2;
        }

        if (strcmp(mode, "W1") == 0)
                run_thp_fork(0, PAGE, 0, 0);
        else if (strcmp(mode, "W1b") == 0)
                run_thp_fork(PAGE, PAGE, 0, 0);
        else if (strcmp(mode, "W2") == 0)
                run_thp_fork(0, 0, 0, 0);
        else if (strcmp(mode, "W3") == 0)
                run_w3();
        else if (strcmp(mode, "W4") == 0)
                run_w4();
        else if (strcmp(mode, "W5") == 0)
                run_thp_fork(0, 0, 300 * PAGE, 212 * PAGE);
        else if (strcmp(mode, "W6") == 0)
                run_w6(true);
        else if (strcmp(mode, "W6s") == 0)
                run_w6(false);
        else if (strcmp(mode, "W7") == 0)
                run_w7();
        else if (strcmp(mode, "W8") == 0)
                run_w8();
        else if (strcmp(mode, "W9") == 0)
                run_w9();
        else if (strcmp(mode, "layout") == 0)
                run_layout();
        else {
                fprintf(stderr, "workload: unknown workload '%s'\n", mode);
                return 2;
        }

        wait_stdin_eof();
        reap_children();
        return 0;
}
