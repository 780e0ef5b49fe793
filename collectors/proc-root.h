/* ProcRoot: the directories every collector reads under. The daemon opens them once
 * (--proc-root, --sys-root, --boot-root); a fixture tree laid out like /proc, /sys and /boot
 * takes exactly the same code path as the live system. */
#pragma once

#include <errno.h>

typedef struct ProcRoot {
        int proc_fd;    /* O_PATH|O_DIRECTORY */
        int sys_fd;     /* -EBADF when the sys root could not be opened */
        int boot_fd;    /* -EBADF when the boot directory is absent */
        char *proc_path;
        char *sys_path;
        char *boot_path;
} ProcRoot;

#define PROC_ROOT_INIT ((ProcRoot) { .proc_fd = -EBADF, .sys_fd = -EBADF, .boot_fd = -EBADF })

/* Opens the three roots. The proc root must exist (-ENOENT, -ENOTDIR, -EACCES otherwise);
 * a missing sys or boot root is not an error, its fd stays -EBADF (also when its path is NULL).
 * Strings are copied. */
int proc_root_open(ProcRoot *ret, const char *proc_path, const char *sys_path,
                   const char *boot_path);
/* Closes the fds and frees the paths; leaves *root as PROC_ROOT_INIT. Accepts NULL and an
 * already released root. */
void proc_root_done(ProcRoot *root);
