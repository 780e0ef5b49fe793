/* The benchmarks' workload: a reproducible population of processes with the memory that
 * matters to mapstatd, started from one command and stopped when its stdin closes.
 *
 *   population --procs N [--mappings M] [--resident-kb KB] [--shared-kb KB] [--dir DIR]
 *
 * Half of the N processes are members, each exec'd with a command line of its own (one
 * identity each: a tag of letters, as identity keys fold digits); each member forks a child
 * that shares its memory copy-on-write, the other half. A member holds:
 *   - a transparent huge page (2 MiB, madvised, written): a large folio, shared with its child;
 *   - private anonymous memory of small pages, written, for the rest of --resident-kb;
 *   - a memfd of --shared-kb created once here and mapped MAP_SHARED by every process;
 *   - a file of --shared-kb in --dir mapped MAP_SHARED by every process (the page cache);
 *   - pages of alternating protection, one mapping each, until the process has about
 *     --mappings mappings (the libraries' and the stack's included).
 * Prints "ready PID…" once every process is in place, with the PID of each, and exits when stdin closes, ending them all. A member or child that gets
 * SIGUSR1 maps and writes 64 KiB more (a change, for the steady-state benchmark). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define PMD (2u << 20)
#define GROW (64u << 10)
/* The mappings of a process before its pages of alternating protection: the binary, libc and
 * the loader (about 15), the stack, vdso/vvar, and the THP, anonymous, memfd and file ones. */
#define BASE_MAPPINGS 24

static void die(const char *what) {
        fprintf(stderr, "population: %s: %s\n", what, strerror(errno));
        _exit(1);
}

static unsigned long parse(const char *name, const char *s, unsigned long max) {
        char *end;
        unsigned long v;

        errno = 0;
        v = strtoul(s, &end, 10);
        if (errno || *end || *s == '\0' || v > max) {
                fprintf(stderr, "population: bad %s '%s'\n", name, s);
                exit(2);
        }
        return v;
}

static void touch(char *p, size_t bytes) {
        for (size_t i = 0; i < bytes; i += PAGE)
                p[i] = (char) (i / PAGE + 1);
}

static char *map_anon(size_t bytes, int advice) {
        char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

        if (p == MAP_FAILED)
                die("mmap");
        (void) madvise(p, bytes, advice);
        touch(p, bytes);
        return p;
}

/* One 2 MiB-aligned huge page: over-map, trim to the alignment, madvise, write. */
static void map_thp(void) {
        char *p = mmap(NULL, 2 * PMD, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        uintptr_t a;

        if (p == MAP_FAILED)
                die("mmap thp");
        a = ((uintptr_t) p + PMD - 1) & ~(uintptr_t) (PMD - 1);
        if (a > (uintptr_t) p)
                (void) munmap(p, a - (uintptr_t) p);
        (void) munmap((char *) a + PMD, (uintptr_t) p + PMD - a);
        (void) madvise((char *) a, PMD, MADV_HUGEPAGE);
        touch((char *) a, PMD);
}

static void read_pages(const char *p, size_t bytes) {
        volatile char sink = 0;

        for (size_t i = 0; i < bytes; i += PAGE)
                sink += p[i];
}

static char *map_shared(int fd, size_t bytes) {
        char *p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);

        if (p == MAP_FAILED)
                die("mmap shared");
        read_pages(p, bytes);
        return p;
}

/* n pages, every other one read-only, so that each page is a mapping of its own. */
static void map_alternating(size_t n) {
        char *p;

        if (n == 0)
                return;
        p = map_anon(n * PAGE, MADV_NOHUGEPAGE);
        for (size_t i = 1; i < n; i += 2)
                if (mprotect(p + i * PAGE, PAGE, PROT_READ) < 0)
                        die("mprotect");
}

/* Waits for SIGUSR1 (grow) or SIGTERM (exit); the process ends with its parent too. */
static _Noreturn void serve(void) {
        sigset_t set;
        int sig;

        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGTERM);
        for (;;) {
                if (sigwait(&set, &sig) != 0 || sig == SIGTERM)
                        _exit(0);
                (void) map_anon(GROW, MADV_NOHUGEPAGE);
        }
}

static void say_ready(int fd, pid_t pid) {
        if (write(fd, &pid, sizeof pid) != sizeof pid)
                die("write ready");
}

/* A member: builds its memory, forks its child, reports both and serves. Argument vector:
 * population --member TAG READY_FD MEMFD FILE_FD SHARED_KB RESIDENT_KB MAPPINGS */
static int member(char *argv[]) {
        int ready = (int) parse("fd", argv[3], 1024), memfd = (int) parse("fd", argv[4], 1024);
        int file = (int) parse("fd", argv[5], 1024);
        size_t shared = parse("size", argv[6], 1ul << 30) * 1024;
        size_t resident = parse("size", argv[7], 1ul << 30) * 1024;
        size_t mappings = parse("mappings", argv[8], 60000);
        char *shm, *cache;
        sigset_t set;
        pid_t child;

        sigemptyset(&set);
        sigaddset(&set, SIGUSR1);
        sigaddset(&set, SIGTERM);
        (void) sigprocmask(SIG_BLOCK, &set, NULL);      /* kept across fork: see serve() */

        map_thp();
        if (resident > PMD)
                (void) map_anon(resident - PMD, MADV_NOHUGEPAGE);
        shm = map_shared(memfd, shared);
        cache = map_shared(file, shared);
        close(memfd);
        close(file);
        map_alternating(mappings > BASE_MAPPINGS ? mappings - BASE_MAPPINGS : 0);

        child = fork();
        if (child < 0)
                die("fork");
        if (child == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                /* fork() copies no page table of a shared file mapping: fault them in. */
                read_pages(shm, shared);
                read_pages(cache, shared);
                say_ready(ready, getpid());
                close(ready);
                serve();
        }
        say_ready(ready, getpid());
        close(ready);
        serve();
}

/* The tag of member i: its number in letters (a = 0 … j = 9). */
static void tag(char *buf, size_t size, unsigned i) {
        char digits[16];

        snprintf(digits, sizeof digits, "%u", i);
        snprintf(buf, size, "bench");
        for (char *d = digits; *d; d++) {
                size_t n = strlen(buf);
                if (n + 1 < size) {
                        buf[n] = (char) ('a' + (*d - '0'));
                        buf[n + 1] = '\0';
                }
        }
}

int main(int argc, char *argv[]) {
        unsigned long procs = 0, mappings = 70, resident_kb = 4096, shared_kb = 1024;
        const char *dir = "/var/tmp";
        char path[4096], fdbuf[4][16], sizes[3][24], name[32];
        int ready[2], memfd, file;
        pid_t *pids;
        size_t got = 0;

        if (argc == 9 && strcmp(argv[1], "--member") == 0)
                return member(argv);
        for (int i = 1; i < argc; i++) {
                const char *v = i + 1 < argc ? argv[i + 1] : NULL;

                if (!v) {
                        fprintf(stderr, "population: %s wants a value\n", argv[i]);
                        return 2;
                } else if (strcmp(argv[i], "--procs") == 0)
                        procs = parse("--procs", v, 20000);
                else if (strcmp(argv[i], "--mappings") == 0)
                        mappings = parse("--mappings", v, 60000);
                else if (strcmp(argv[i], "--resident-kb") == 0)
                        resident_kb = parse("--resident-kb", v, 1ul << 24);
                else if (strcmp(argv[i], "--shared-kb") == 0)
                        shared_kb = parse("--shared-kb", v, 1ul << 24);
                else if (strcmp(argv[i], "--dir") == 0)
                        dir = v;
                else {
                        fprintf(stderr, "population: unknown option %s\n", argv[i]);
                        return 2;
                }
                i++;
        }
        if (procs < 2 || procs % 2 || shared_kb == 0 || resident_kb < PMD / 1024) {
                fprintf(stderr, "usage: population --procs N (even, >= 2) [--mappings M] "
                        "[--resident-kb KB (>= 2048)] [--shared-kb KB (> 0)] [--dir DIR]\n");
                return 2;
        }

        memfd = memfd_create("population", 0);
        snprintf(path, sizeof path, "%s/population-XXXXXX", dir);
        file = mkstemp(path);
        if (memfd < 0 || file < 0)
                die("memfd_create or mkstemp");
        (void) unlink(path);
        if (ftruncate(memfd, (off_t) shared_kb * 1024) < 0 ||
            ftruncate(file, (off_t) shared_kb * 1024) < 0)
                die("ftruncate");
        {
                char page[PAGE];
                memset(page, 's', sizeof page);
                for (size_t off = 0; off < shared_kb * 1024; off += PAGE)
                        if (pwrite(memfd, page, PAGE, (off_t) off) != PAGE ||
                            pwrite(file, page, PAGE, (off_t) off) != PAGE)
                                die("pwrite");
        }
        if (pipe(ready) < 0)
                die("pipe");

        snprintf(fdbuf[0], sizeof fdbuf[0], "%d", ready[1]);
        snprintf(fdbuf[1], sizeof fdbuf[1], "%d", memfd);
        snprintf(fdbuf[2], sizeof fdbuf[2], "%d", file);
        snprintf(sizes[0], sizeof sizes[0], "%lu", shared_kb);
        snprintf(sizes[1], sizeof sizes[1], "%lu", resident_kb);
        snprintf(sizes[2], sizeof sizes[2], "%lu", mappings);
        for (unsigned i = 0; i < procs / 2; i++) {
                pid_t pid = fork();

                if (pid < 0)
                        die("fork");
                if (pid == 0) {
                        (void) prctl(PR_SET_PDEATHSIG, SIGTERM);
                        close(ready[0]);
                        tag(name, sizeof name, i);
                        execl("/proc/self/exe", "population", "--member", name, fdbuf[0],
                              fdbuf[1], fdbuf[2], sizes[0], sizes[1], sizes[2], (char *) NULL);
                        die("exec");
                }
        }
        close(ready[1]);
        close(memfd);
        close(file);

        pids = calloc(procs, sizeof *pids);
        if (!pids)
                die("calloc");
        while (got < procs) {
                pid_t pid;
                ssize_t n = read(ready[0], &pid, sizeof pid);

                if (n != sizeof pid) {
                        fprintf(stderr, "population: %zu of %lu processes started\n", got, procs);
                        return 1;
                }
                pids[got++] = pid;
        }
        printf("ready");
        for (size_t i = 0; i < procs; i++)
                printf(" %d", pids[i]);
        printf("\n");
        fflush(stdout);

        while (getchar() != EOF)
                ;
        for (size_t i = 0; i < procs; i++)
                (void) kill(pids[i], SIGTERM);
        while (wait(NULL) > 0 || errno == EINTR)
                ;
        return 0;
}
