/* /proc/PID/maps: the process's mappings, each with the class of memory it maps, so that
 * pagemap is read only over mapped ranges and its counts are split by class. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fileio.h"

typedef enum VmaClass {
        VMA_CLASS_ANON,         /* private anonymous, incl. [heap], [stack], [anon:NAME] */
        VMA_CLASS_FILE,         /* MAP_PRIVATE of a file (incl. a memfd or tmpfs file) */
        VMA_CLASS_SHARED_FILE,  /* MAP_SHARED of a regular file */
        VMA_CLASS_SHMEM,        /* MAP_SHARED of shmem: memfd, SysV, /dev/shm, shared anonymous */
        VMA_CLASS_HUGETLB,      /* hugetlbfs files and MAP_HUGETLB mappings */
        _VMA_CLASS_MAX,
        _VMA_CLASS_INVALID = -22 /* -EINVAL */,
} VmaClass;

/* "anon", "file", "shared_file", "shmem", "hugetlb": the JSON keys under "pagemap". The one
 * table of these names; web/ uses it through this header without linking the collectors. */
static inline const char *vma_class_to_string(VmaClass c) {
        static const char *const names[_VMA_CLASS_MAX] = {
                [VMA_CLASS_ANON] = "anon",
                [VMA_CLASS_FILE] = "file",
                [VMA_CLASS_SHARED_FILE] = "shared_file",
                [VMA_CLASS_SHMEM] = "shmem",
                [VMA_CLASS_HUGETLB] = "hugetlb",
        };

        if (c < 0 || c >= _VMA_CLASS_MAX)
                return NULL;
        return names[c];
}

typedef struct Vma {
        uint64_t start, end;    /* [start, end), page aligned */
        VmaClass class;
} Vma;

/* Reused across processes; special mappings that pagemap must not be read over ([vsyscall]) or
 * that smaps does not account ([vvar], [vvar_vclock]) are left out. */
typedef struct VmaList {
        Vma *vmas;
        size_t n, allocated;
} VmaList;

void vma_list_done(VmaList *l);

/* Pure: classifies one mapping from its maps fields. perms is the 4-character field ("rw-s"),
 * inode the inode number, path the pathname field ("" when none). Rules: hugetlb when the path
 * is "/anon_hugepage (deleted)" or under "/dev/hugepages/"; 's' mappings are shmem when the path
 * starts with "/memfd:", "/SYSV", "/dev/shm/" or "[anon_shmem:" (a named shared anonymous
 * mapping, 6.2+) or is "/dev/zero (deleted)", else shared_file; 'p' mappings are anon when inode
 * is 0 and the path is empty or "[...]", else file. A hugetlbfs memfd or SysV SHM_HUGETLB
 * segment cannot be told from maps alone and is classified as shmem/file. perms must be 4
 * characters (else _VMA_CLASS_INVALID). */
VmaClass vma_classify(const char *perms, uint64_t inode, const char *path);

/* Pure parser of a maps file: replaces the content of *l. Lines are "START-END PERMS OFFSET
 * MAJ:MIN INODE [PATH]". Returns 0, -EBADMSG (malformed line, START >= END, not page aligned),
 * -ERANGE, -ENOMEM. */
int maps_parse(const char *buf, size_t len, VmaList *l);

/* Reads PID/maps through pid_dirfd (buf is scratch) into *l. Errors of read_file_at() and
 * maps_parse(). */
int maps_read(int pid_dirfd, ReadBuf *buf, VmaList *l);
