/* Reading whole procfs/sysfs files relative to a directory fd into a reusable buffer, and
 * writing a file atomically. Files are read with one pread() loop (procfs generates content per
 * read call, so the buffer grows until a read returns 0), NUL-terminated, and capped: a file
 * larger than max is -E2BIG. */
#pragma once

#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

/* A growable byte buffer owned by its user and reused across reads; data is always
 * NUL-terminated after a successful read. */
typedef struct ReadBuf {
        char *data;
        size_t size;      /* bytes of content, excluding the terminating NUL */
        size_t allocated;
} ReadBuf;

#define READ_BUF_INIT ((ReadBuf) {})

void read_buf_done(ReadBuf *b);

/* Makes room for at least want bytes (content kept). 0 or -ENOMEM. */
int read_buf_reserve(ReadBuf *b, size_t want);

/* pread() until len bytes are read or the file ends, retrying on EINTR. Returns the bytes read
 * (short only at end of file) or -errno. */
ssize_t pread_full(int fd, void *buf, size_t len, off_t offset);

/* Opens dirfd/path read-only so that opening cannot block (O_NONBLOCK: a FIFO planted in a
 * proc root or named as a configuration file opens at once) and checks that it is a regular
 * file, as every procfs and sysfs file read here is. Returns the fd, -EISDIR for a directory,
 * -EBADFD for anything else that is not a regular file, or the -errno of open/fstat. Reads of
 * a procfs file ignore O_NONBLOCK; one that blocks in the kernel is for /healthz, the watchdog
 * and the stop guard (daemon/stop.h) to catch. */
int open_regular_at(int dirfd, const char *path);

/* What a read error means, for messages: strerror(-r), but "not a regular file" for the
 * -EBADFD of open_regular_at(). */
const char *read_strerror(int r);

/* Reads the regular file dirfd/path (open_regular_at()) into b (replacing its content).
 * Returns 0, -ENOENT/-ESRCH (vanished), -EACCES/-EPERM, -EISDIR/-EBADFD (not a regular file),
 * -E2BIG (more than max bytes), -ENOMEM or another -errno from open/read. */
int read_file_at(int dirfd, const char *path, size_t max, ReadBuf *b);

/* Reads at most max bytes of dirfd/path into b (replacing its content); unlike read_file_at() a
 * longer file is not an error, for files of which only the beginning matters (a cmdline can be
 * megabytes long; the page size is in the first lines of smaps). Same errors otherwise. */
int read_file_prefix_at(int dirfd, const char *path, size_t max, ReadBuf *b);

/* Reads the first line of dirfd/path (trailing newline and blanks removed) into a new string
 * owned by the caller. Same errors as read_file_at(), with a 64 KiB cap. */
int read_line_at(int dirfd, const char *path, char **ret);

/* Reads the symlink dirfd/path into a new string owned by the caller. -ENOENT, -EACCES, … */
int readlink_at_malloc(int dirfd, const char *path, char **ret);

/* Called by dir_foreach() for each entry; returns 0 to go on or a negative errno to stop. */
typedef int (*DirEntryFunc)(const struct dirent *de, void *userdata);

/* Calls fn for every entry of the directory dirfd/path (path may be absolute, dirfd
 * AT_FDCWD) except "." and "..", in readdir order. Returns 0; -ENOENT, -ENOTDIR, -EACCES or
 * another -errno from opening or reading the directory; or what fn returned to stop. */
int dir_foreach(int dirfd, const char *path, DirEntryFunc fn, void *userdata);

/* Writes data to path through a temporary file beside it (path.XXXXXX), given mode, synced and
 * renamed over path: a reader sees the old file or the whole new one, never a part. 0, -ENOMEM
 * or the -errno of creating, writing or renaming (the temporary file is removed). */
int write_file_atomic(const char *path, const char *data, size_t len, mode_t mode);
