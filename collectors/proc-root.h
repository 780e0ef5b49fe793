/* ProcRoot: the directories every collector reads under. The daemon opens them once
 * (--proc-root, --sys-root, --boot-root, and the etc/ beside the proc root for the machine id);
 * a fixture tree laid out like /proc, /sys, /boot and /etc takes exactly the same code path as
 * the live system. */
#pragma once

#include <errno.h>

typedef struct ProcRoot {
        int proc_fd;    /* O_PATH|O_DIRECTORY */
        int sys_fd;     /* -EBADF when the sys root could not be opened */
        int boot_fd;    /* -EBADF when the boot directory is absent */
        int etc_fd;     /* etc/ beside the proc root (/etc for /proc); -EBADF when absent */
        char *proc_path;
        char *sys_path;
        char *boot_path;
        char *etc_path;
} ProcRoot;

#define PROC_ROOT_INIT ((ProcRoot) { .proc_fd = -EBADF, .sys_fd = -EBADF, .boot_fd = -EBADF, \
                                     .etc_fd = -EBADF })

/* Opens the roots. The proc root must exist (-ENOENT, -ENOTDIR, -EACCES otherwise); a missing
 * sys, boot or etc root is not an error, its fd stays -EBADF (also when its path is NULL). The
 * etc root is the etc/ in the directory of the proc root. Strings are copied. */
int proc_root_open(ProcRoot *ret, const char *proc_path, const char *sys_path,
                   const char *boot_path);
/* Closes the fds and frees the paths; leaves *root as PROC_ROOT_INIT. Accepts NULL and an
 * already released root. */
void proc_root_done(ProcRoot *root);
