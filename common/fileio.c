/* Implementation of common/fileio.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "fileio.h"
#include "macro.h"

void read_buf_done(ReadBuf *b) {
        free(b->data);
        *b = READ_BUF_INIT;
}

int read_buf_reserve(ReadBuf *b, size_t want) {
        void *p = b->data;
        int r;

        r = greedy_realloc(&p, &b->allocated, want, 1, 4096);
        if (r < 0)
                return r;
        b->data = p;
        return 0;
}

int open_regular_at(int dirfd, const char *path) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD;
        return TAKE_FD(fd);
}

const char *read_strerror(int r) {
        return r == -EBADFD ? "not a regular file" : strerror(-r);
}

/* Reads dirfd/path into b until EOF or, for a prefix, until max bytes; a whole file reads one
 * byte past max so that an oversized file is told from one of exactly max bytes. */
static int read_at(int dirfd, const char *path, size_t max, bool prefix, ReadBuf *b) {
        _cleanup_close_ int fd = -EBADF;
        size_t limit = prefix ? max : max + 1, size = 0;
        int r;

        fd = open_regular_at(dirfd, path);
        if (fd < 0)
                return fd;

        while (size < limit) {
                ssize_t n;

                /* Grow a page at a time; a buffer reused across reads is usually big enough for
                 * one pread to take the whole file. */
                r = read_buf_reserve(b, MIN(size + 4096, limit) + 1);
                if (r < 0)
                        return r;
                n = pread(fd, b->data + size, MIN(b->allocated - size - 1, limit - size),
                          (off_t) size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        if (size > max)
                return -E2BIG;
        b->data[size] = '\0';
        b->size = size;
        return 0;
}

ssize_t pread_full(int fd, void *buf, size_t len, off_t offset) {
        size_t done = 0;

        while (done < len) {
                ssize_t k = pread(fd, (char *) buf + done, len - done, offset + (off_t) done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        return (ssize_t) done;
}

int read_file_at(int dirfd, const char *path, size_t max, ReadBuf *b) {
        return read_at(dirfd, path, max, false, b);
}

int read_file_prefix_at(int dirfd, const char *path, size_t max, ReadBuf *b) {
        return read_at(dirfd, path, max, true, b);
}

int read_line_at(int dirfd, const char *path, char **ret) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        size_t n;
        char *s;
        int r;

        r = read_file_at(dirfd, path, 64 * 1024, &b);
        if (r < 0)
                return r;
        n = strcspn(b.data, "\n");
        while (n > 0 && (b.data[n - 1] == ' ' || b.data[n - 1] == '\t' || b.data[n - 1] == '\r'))
                n--;
        s = strndup(b.data, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int readlink_at_malloc(int dirfd, const char *path, char **ret) {
        char buf[PATH_MAX + 1];
        ssize_t n;
        char *s;

        n = readlinkat(dirfd, path, buf, sizeof buf);
        if (n < 0)
                return -errno;
        if ((size_t) n >= sizeof buf)
                return -E2BIG;
        s = strndup(buf, (size_t) n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int dir_foreach(int dirfd, const char *path, DirEntryFunc fn, void *userdata) {
        _cleanup_(closedirp) DIR *d = NULL;
        int fd, r;

        fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d) {
                r = -errno;
                (void) close(fd);
                return r;
        }

        for (;;) {
                struct dirent *de;

                errno = 0;
                de = readdir(d);
                if (!de)
                        return errno != 0 ? -errno : 0;
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                r = fn(de, userdata);
                if (r < 0)
                        return r;
        }
}

int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -EBADF;

        if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        for (size_t done = 0; done < len; ) {
                ssize_t n = write(fd, data + done, len - done);

                if (n < 0) {
                        int r = -errno;
                        (void) unlink(tmp);
                        return r;
                }
                done += (size_t) n;
        }
        if (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0) {
                int r = -errno;
                (void) unlink(tmp);
                return r;
        }
        return 0;
}
