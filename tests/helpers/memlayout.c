/* Builds a known memory layout on the real kernel for the integration tests, reports readiness
 * and waits until stdin closes. Layouts (combinable):
 *   --anon KB        private anonymous memory, every page written
 *   --file PATH:KB   a file of KB kilobytes mapped MAP_SHARED, every page read
 *   --fork           fork after building: the child shares the anonymous pages copy-on-write
 *   --fork-if PATH   the same, only when PATH exists (the command line, and so the identity,
 *                    stays the same whether it forks or not: the kernel lab's control)
 *   --tag WORD       ignored; makes the command line unique for matching
 * Prints "ready PID [CHILD_PID]\n" on stdout once every page is in place, then takes commands,
 * one per line on stdin, each answered "ok\n" once done:
 *   grow KB          more private anonymous memory, every page written
 *   reap             ends the child (its copy-on-write pages become the parent's alone)
 * and exits when stdin closes. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
        fprintf(stderr, "memlayout: %s: %s\n", what, strerror(errno));
        _exit(1);
}

static size_t parse_kb(const char *s) {
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || *end || v == 0) {
                fprintf(stderr, "memlayout: bad size '%s'\n", s);
                _exit(2);
        }
        return (size_t) v * 1024;
}

static void map_anon(size_t bytes) {
        char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
                die("mmap anon");
        /* Huge pages would make the counts depend on THP policy; keep small pages. */
        (void) madvise(p, bytes, MADV_NOHUGEPAGE);
        for (size_t i = 0; i < bytes; i += 4096)
                p[i] = (char) (i / 4096 + 1);
}

static void map_file(const char *spec) {
        char path[4096];
        const char *colon = strrchr(spec, ':');
        volatile char sink = 0;
        size_t bytes;
        int fd;

        if (!colon || (size_t) (colon - spec) >= sizeof path) {
                fprintf(stderr, "memlayout: expected PATH:KB, got '%s'\n", spec);
                _exit(2);
        }
        memcpy(path, spec, (size_t) (colon - spec));
        path[colon - spec] = '\0';
        bytes = parse_kb(colon + 1);

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
                die("open file");
        if (ftruncate(fd, (off_t) bytes) < 0)
                die("ftruncate");
        char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED)
                die("mmap file");
        for (size_t i = 0; i < bytes; i += 4096)
                p[i] = 'f';     /* write: populates shmem/tmpfs and page cache alike */
        for (size_t i = 0; i < bytes; i += 4096)
                sink += p[i];
        close(fd);
}

static void reap(pid_t *child) {
        if (*child > 0) {
                kill(*child, SIGTERM);
                waitpid(*child, NULL, 0);
                *child = 0;
        }
}

/* The parent's commands, until stdin closes. */
static void serve(pid_t *child) {
        char line[256];

        while (fgets(line, sizeof line, stdin)) {
                line[strcspn(line, "\n")] = '\0';
                if (strncmp(line, "grow ", 5) == 0)
                        map_anon(parse_kb(line + 5));
                else if (strcmp(line, "reap") == 0)
                        reap(child);
                else {
                        fprintf(stderr, "memlayout: unknown command '%s'\n", line);
                        _exit(2);
                }
                printf("ok\n");
                fflush(stdout);
        }
}

int main(int argc, char *argv[]) {
        int do_fork = 0;
        pid_t child = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--anon") == 0 && i + 1 < argc)
                        map_anon(parse_kb(argv[++i]));
                else if (strcmp(argv[i], "--file") == 0 && i + 1 < argc)
                        map_file(argv[++i]);
                else if (strcmp(argv[i], "--fork") == 0)
                        do_fork = 1;
                else if (strcmp(argv[i], "--fork-if") == 0 && i + 1 < argc)
                        do_fork = access(argv[++i], F_OK) == 0;
                else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc)
                        i++;
                else {
                        fprintf(stderr, "memlayout: unknown argument '%s'\n", argv[i]);
                        return 2;
                }
        }

        if (do_fork) {
                pid_t parent = getpid();

                child = fork();
                if (child < 0)
                        die("fork");
                if (child == 0) {
                        /* The child only waits, for the parent's SIGTERM or its end, and leaves
                         * stdin to the parent's commands: its pages stay shared. */
                        (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                        if (getppid() != parent)
                                _exit(0);
                        for (;;)
                                pause();
                }
        }

        if (child > 0)
                printf("ready %d %d\n", (int) getpid(), (int) child);
        else
                printf("ready %d\n", (int) getpid());
        fflush(stdout);

        serve(&child);
        reap(&child);
        return 0;
}
