/* Implementation of collectors/proc-root.h: opens the proc, sys and boot roots once as
 * O_PATH directory fds; every collector then reads relative to them with openat(). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "proc-root.h"
#include "string-util.h"

/* Opens an optional root: NULL or a missing directory leaves *ret_fd at -EBADF. */
static int open_optional_root(const char *path, int *ret_fd, char **ret_path) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *p = NULL;

        if (!path) {
                *ret_fd = -EBADF;
                *ret_path = NULL;
                return 0;
        }
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT && errno != ENOTDIR)
                        return -errno;
                fd = -EBADF;
        }
        *ret_fd = TAKE_FD(fd);
        *ret_path = TAKE_PTR(p);
        return 0;
}

/* Opens the etc/ beside the proc root: /etc for /proc, T/etc for T/proc (trailing slashes of
 * the proc root ignored). */
static int etc_root_open(const char *proc_path, int *ret_fd, char **ret_path) {
        _cleanup_free_ char *proc = strdup(proc_path), *top = NULL, *etc = NULL;
        size_t len;

        if (!proc)
                return -ENOMEM;
        len = strlen(proc);
        while (len > 1 && proc[len - 1] == '/')
                proc[--len] = '\0';
        top = path_dirname(proc);
        if (!top || !(etc = strjoin(top, streq_ptr(top, "/") ? "" : "/", "etc")))
                return -ENOMEM;
        return open_optional_root(etc, ret_fd, ret_path);
}

int proc_root_open(ProcRoot *ret, const char *proc_path, const char *sys_path,
                   const char *boot_path) {
        _cleanup_(proc_root_done) ProcRoot root = PROC_ROOT_INIT;
        int r;

        if (!proc_path)
                return -EINVAL;
        root.proc_path = strdup(proc_path);
        if (!root.proc_path)
                return -ENOMEM;
        root.proc_fd = open(proc_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (root.proc_fd < 0)
                return -errno;

        r = open_optional_root(sys_path, &root.sys_fd, &root.sys_path);
        if (r < 0)
                return r;
        r = open_optional_root(boot_path, &root.boot_fd, &root.boot_path);
        if (r < 0)
                return r;

        r = etc_root_open(proc_path, &root.etc_fd, &root.etc_path);
        if (r < 0)
                return r;

        *ret = root;
        root = PROC_ROOT_INIT;
        return 0;
}

void proc_root_done(ProcRoot *root) {
        if (!root)
                return;
        (void) safe_close(root->proc_fd);
        (void) safe_close(root->sys_fd);
        (void) safe_close(root->boot_fd);
        (void) safe_close(root->etc_fd);
        free(root->proc_path);
        free(root->sys_path);
        free(root->boot_path);
        free(root->etc_path);
        *root = PROC_ROOT_INIT;
}
