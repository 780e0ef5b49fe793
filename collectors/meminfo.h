/* /proc/meminfo: every line, by the kernel's names. Most values are in kB; a few are plain
 * counts (HugePages_Total, …), recorded with is_kb false. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fileio.h"
#include "proc-root.h"

#define MEMINFO_MAX 128
#define MEMINFO_NAME_MAX 32

typedef struct MeminfoField {
        char name[MEMINFO_NAME_MAX];
        uint64_t value;         /* kB when is_kb, else a count */
        bool is_kb;
} MeminfoField;

typedef struct Meminfo {
        size_t n;
        MeminfoField fields[MEMINFO_MAX];
} Meminfo;

/* Pure parser. Lines are "Name: <digits>[ kB]". Returns 0, -EBADMSG (malformed line,
 * duplicate name, no MemTotal, more than MEMINFO_MAX fields), -ERANGE. */
int meminfo_parse(const char *buf, size_t len, Meminfo *ret);

/* Reads and parses meminfo under the proc root. */
int meminfo_read(const ProcRoot *root, ReadBuf *buf, Meminfo *ret);

/* Looks a field up by name; returns 1 and writes *ret when found, 0 when absent. */
int meminfo_get(const Meminfo *m, const char *name, uint64_t *ret);
