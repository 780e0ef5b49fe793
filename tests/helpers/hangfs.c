/* A FUSE file system that is slow or hangs: a read-only mirror of a directory in which opening
 * any of the named paths blocks until the opener is interrupted or killed, as a read of a procfs
 * file whose producer hangs, or of a hung network file system mounted "intr", would (the opener
 * then gets EINTR), and in which, with --delay, every other open first waits MS milliseconds.
 * The tests' stuck sweep (O_NONBLOCK does not help, so only the sweep's watchdog, /healthz's
 * bound and the daemon's SIGTERM deadline can) and their slow one.
 *   hangfs [--delay MS] SOURCE MOUNTPOINT [PATH...]
 * PATHs are relative to SOURCE ("proc/sys/kernel/osrelease"). Prints "ready" once mounted,
 * "blocked PATH" each time an open starts to hang and "delayed PATH" each time one starts to
 * wait; serves until stdin reaches EOF, then
 * unmounts (lazily, so that a blocked opener is released with ENOTCONN when the connection
 * closes) and exits. Root only (mounts with allow_other, so that any user, the daemon's
 * DynamicUser= among them, can read the mirror). */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int source_fd = -1;
static char **hang_paths;
static int n_hang_paths;
static long delay_msec;

/* FUSE paths are absolute ("/proc/meminfo"); the mirror is read relative to SOURCE. */
static const char *relative(const char *path) {
        while (*path == '/')
                path++;
        return *path ? path : ".";
}

static int hangfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
        return fstatat(source_fd, relative(path), st, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int hangfs_readlink(const char *path, char *buf, size_t size) {
        ssize_t n = readlinkat(source_fd, relative(path), buf, size - 1);

        if (n < 0)
                return -errno;
        buf[n] = '\0';
        return 0;
}

static int hangfs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t offset,
                          struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
        struct dirent *de;
        DIR *d;
        int fd;

        fd = openat(source_fd, relative(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                close(fd);
                return -ENOMEM;
        }
        while ((de = readdir(d)))
                if (fill(buf, de->d_name, NULL, 0, 0))
                        break;
        closedir(d);
        return 0;
}

static int hangfs_open(const char *path, struct fuse_file_info *fi) {
        int fd;

        if ((fi->flags & O_ACCMODE) != O_RDONLY)
                return -EROFS;
        /* A hung open ends only when the opener is interrupted: the kernel then sends FUSE an
         * INTERRUPT, which cfg->intr turns into fuse_interrupted(). Without that answer even
         * SIGKILL could not end the opener (FUSE waits out a request already sent). */
        for (int i = 0; i < n_hang_paths; i++)
                if (strcmp(relative(path), hang_paths[i]) == 0) {
                        printf("blocked %s\n", hang_paths[i]);
                        fflush(stdout);
                        while (!fuse_interrupted())
                                nanosleep(&(struct timespec) { .tv_nsec = 20 * 1000 * 1000 },
                                          NULL);
                        return -EINTR;
                }
        if (delay_msec > 0) {
                printf("delayed %s\n", relative(path));
                fflush(stdout);
        }
        for (long waited = 0; waited < delay_msec; waited += 10) {
                if (fuse_interrupted())
                        return -EINTR;
                nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        fd = openat(source_fd, relative(path), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        fi->fh = (uint64_t) fd;
        fi->direct_io = 1;      /* like procfs: every read goes to the file */
        return 0;
}

static int hangfs_read(const char *path, char *buf, size_t size, off_t offset,
                       struct fuse_file_info *fi) {
        ssize_t n = pread((int) fi->fh, buf, size, offset);

        return n < 0 ? -errno : (int) n;
}

static int hangfs_release(const char *path, struct fuse_file_info *fi) {
        close((int) fi->fh);
        return 0;
}

static void on_interrupt(int sig) {
}

static void *hangfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
        /* An INTERRUPT sends the handler's thread SIGUSR1 (caught: on_interrupt()) and makes
         * fuse_interrupted() true. */
        cfg->intr = 1;
        return NULL;
}

static const struct fuse_operations hangfs_ops = {
        .init = hangfs_init,
        .getattr = hangfs_getattr,
        .readlink = hangfs_readlink,
        .readdir = hangfs_readdir,
        .open = hangfs_open,
        .read = hangfs_read,
        .release = hangfs_release,
};

/* Waits for stdin's EOF, then unmounts and ends the process whatever the handlers are doing. */
static void *watch_stdin(void *userdata) {
        struct fuse *f = userdata;
        ssize_t n;
        char c;

        while ((n = read(STDIN_FILENO, &c, 1)) > 0 || (n < 0 && errno == EINTR))
                ;
        fuse_unmount(f);
        _exit(0);
}

int main(int argc, char **argv) {
        static char opt[] = "-o", options[] = "ro,allow_other,fsname=hangfs";
        char *fuse_argv[] = { argv[0], opt, options, NULL };     /* before argv moves */
        struct fuse_args args = FUSE_ARGS_INIT(3, fuse_argv);
        pthread_t watcher;
        struct fuse *f;

        if (argc >= 3 && strcmp(argv[1], "--delay") == 0) {
                delay_msec = strtol(argv[2], NULL, 10);
                argc -= 2;
                argv += 2;
        }
        if (argc < 3 || delay_msec < 0) {
                fprintf(stderr, "usage: hangfs [--delay MS] SOURCE MOUNTPOINT [PATH...]\n");
                return 2;
        }
        source_fd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (source_fd < 0) {
                fprintf(stderr, "hangfs: %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        hang_paths = argv + 3;
        n_hang_paths = argc - 3;
        sigaction(SIGUSR1, &(struct sigaction) { .sa_handler = on_interrupt }, NULL);

        f = fuse_new(&args, &hangfs_ops, sizeof hangfs_ops, NULL);
        if (!f || fuse_mount(f, argv[2]) != 0) {
                fprintf(stderr, "hangfs: cannot mount on %s\n", argv[2]);
                return 1;
        }
        if (pthread_create(&watcher, NULL, watch_stdin, f) != 0) {
                fuse_unmount(f);
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        /* Multi-threaded, so that one blocked open() leaves the rest of the mirror readable. */
        return fuse_loop_mt(f, &(struct fuse_loop_config) { .max_idle_threads = 10 }) ? 1 : 0;
}
