/* Implementation of common/fileio.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

void read_buf_done(ReadBuf *b) {
        free(b->data);
        *b = READ_BUF_INIT;
}

static int read_buf_reserve(ReadBuf *b, size_t want) {
        char *p;
        size_t n;

        if (b->allocated >= want)
                return 0;
        n = MAX(want, MAX(b->allocated * 2, (size_t) 4096));
        p = realloc(b->data, n);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->allocated = n;
        return 0;
}

int read_file_at(int dirfd, const char *path, size_t max, ReadBuf *b) {
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        int r;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;

        for (;;) {
                ssize_t n;

                /* Room for one more page and the NUL; the cap allows one byte past max so an
                 * oversized file is detected rather than silently truncated. */
                r = read_buf_reserve(b, MIN(size + 4096, max + 2) + 1);
                if (r < 0)
                        return r;
                if (size > max)
                        return -E2BIG;
                n = pread(fd, b->data + size, b->allocated - size - 1, (off_t) size);
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

int read_file_prefix_at(int dirfd, const char *path, size_t max, ReadBuf *b) {
        _cleanup_close_ int fd = -EBADF;
        size_t size = 0;
        int r;

        fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        r = read_buf_reserve(b, max + 1);
        if (r < 0)
                return r;
        while (size < max) {
                ssize_t n = pread(fd, b->data + size, max - size, (off_t) size);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t) n;
        }
        b->data[size] = '\0';
        b->size = size;
        return 0;
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
