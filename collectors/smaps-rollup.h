/* /proc/PID/smaps_rollup: every field of the rollup, by the kernel's names, in kB as the kernel
 * prints them. Fields this build does not know are kept as name/value pairs; fields an older
 * kernel does not print are marked absent (not zero). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fileio.h"

typedef enum SmapsField {
        SMAPS_RSS,
        SMAPS_PSS,
        SMAPS_PSS_DIRTY,
        SMAPS_PSS_ANON,
        SMAPS_PSS_FILE,
        SMAPS_PSS_SHMEM,
        SMAPS_SHARED_CLEAN,
        SMAPS_SHARED_DIRTY,
        SMAPS_PRIVATE_CLEAN,
        SMAPS_PRIVATE_DIRTY,
        SMAPS_REFERENCED,
        SMAPS_ANONYMOUS,
        SMAPS_KSM,
        SMAPS_LAZYFREE,
        SMAPS_ANON_HUGE_PAGES,
        SMAPS_SHMEM_PMD_MAPPED,
        SMAPS_FILE_PMD_MAPPED,
        SMAPS_SHARED_HUGETLB,
        SMAPS_PRIVATE_HUGETLB,
        SMAPS_SWAP,
        SMAPS_SWAP_PSS,
        SMAPS_LOCKED,
        _SMAPS_FIELD_MAX,
        _SMAPS_FIELD_INVALID = -22 /* -EINVAL */,
} SmapsField;

/* The kernel's spelling ("Pss_Anon"), or NULL when out of range. The one table of the field
 * names: storage and web/ use it through this header without linking the collectors. */
static inline const char *smaps_field_to_string(SmapsField f) {
        static const char *const names[_SMAPS_FIELD_MAX] = {
                [SMAPS_RSS] = "Rss",
                [SMAPS_PSS] = "Pss",
                [SMAPS_PSS_DIRTY] = "Pss_Dirty",
                [SMAPS_PSS_ANON] = "Pss_Anon",
                [SMAPS_PSS_FILE] = "Pss_File",
                [SMAPS_PSS_SHMEM] = "Pss_Shmem",
                [SMAPS_SHARED_CLEAN] = "Shared_Clean",
                [SMAPS_SHARED_DIRTY] = "Shared_Dirty",
                [SMAPS_PRIVATE_CLEAN] = "Private_Clean",
                [SMAPS_PRIVATE_DIRTY] = "Private_Dirty",
                [SMAPS_REFERENCED] = "Referenced",
                [SMAPS_ANONYMOUS] = "Anonymous",
                [SMAPS_KSM] = "KSM",
                [SMAPS_LAZYFREE] = "LazyFree",
                [SMAPS_ANON_HUGE_PAGES] = "AnonHugePages",
                [SMAPS_SHMEM_PMD_MAPPED] = "ShmemPmdMapped",
                [SMAPS_FILE_PMD_MAPPED] = "FilePmdMapped",
                [SMAPS_SHARED_HUGETLB] = "Shared_Hugetlb",
                [SMAPS_PRIVATE_HUGETLB] = "Private_Hugetlb",
                [SMAPS_SWAP] = "Swap",
                [SMAPS_SWAP_PSS] = "SwapPss",
                [SMAPS_LOCKED] = "Locked",
        };

        if (f < 0 || f >= _SMAPS_FIELD_MAX)
                return NULL;
        return names[f];
}

/* The field named name[0..len) (not NUL-terminated), or _SMAPS_FIELD_INVALID. */
static inline SmapsField smaps_field_from_name(const char *name, size_t len) {
        for (SmapsField f = 0; f < _SMAPS_FIELD_MAX; f++)
                if (strlen(smaps_field_to_string(f)) == len &&
                    memcmp(smaps_field_to_string(f), name, len) == 0)
                        return f;
        return _SMAPS_FIELD_INVALID;
}

/* _SMAPS_FIELD_INVALID when the name is not a known field (or NULL). */
static inline SmapsField smaps_field_from_string(const char *name) {
        return name ? smaps_field_from_name(name, strlen(name)) : _SMAPS_FIELD_INVALID;
}

#define SMAPS_EXTRA_MAX 16
#define SMAPS_NAME_MAX 32

typedef struct SmapsExtra {
        char name[SMAPS_NAME_MAX];
        uint64_t kb;
} SmapsExtra;

typedef struct SmapsRollup {
        uint64_t kb[_SMAPS_FIELD_MAX];  /* 0 where absent */
        uint32_t present;               /* bit (1u << field) set when the kernel printed it */
        size_t n_extra;                 /* unknown "Name: N kB" fields, in file order */
        SmapsExtra extra[SMAPS_EXTRA_MAX];
} SmapsRollup;

static inline bool smaps_rollup_has(const SmapsRollup *s, SmapsField f) {
        return s->present & (1u << f);
}

/* Pure parser of a smaps_rollup file's content (buf need not be NUL-terminated). The header
 * line ("… [rollup]") is required; every following line must be "Name: <digits> kB".
 * Returns 0; -ENODATA when buf is empty (kernel thread, zombie, or exited process: no memory
 * map); -EBADMSG for a missing header, a malformed line, a duplicate field or more than
 * SMAPS_EXTRA_MAX unknown fields; -ERANGE for a number that does not fit. *ret is written only
 * on success. */
int smaps_rollup_parse(const char *buf, size_t len, SmapsRollup *ret);

/* Reads and parses PID_DIR/smaps_rollup through pid_dirfd using buf as scratch. Returns what
 * read_file_at() and smaps_rollup_parse() return. */
int smaps_rollup_read(int pid_dirfd, ReadBuf *buf, SmapsRollup *ret);
