/* /proc/PID/smaps_rollup: a pure parser that keeps every "Name: N kB" line (known fields by
 * index, unknown ones as name/value pairs) and a thin reader on top of read_file_at(). */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "smaps-rollup.h"

/* A rollup is well under 2 KiB; the cap only guards against a runaway file. */
#define SMAPS_ROLLUP_READ_MAX (64u * 1024u)

static const char *const smaps_field_names[_SMAPS_FIELD_MAX] = {
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

/* present is a uint32_t bit set. */
_Static_assert(_SMAPS_FIELD_MAX <= 32, "SmapsRollup.present too small");

const char *smaps_field_to_string(SmapsField f) {
        if (f < 0 || f >= _SMAPS_FIELD_MAX)
                return NULL;
        return smaps_field_names[f];
}

static bool smaps_field_is(SmapsField f, const char *name, size_t len) {
        return strlen(smaps_field_names[f]) == len && memcmp(smaps_field_names[f], name, len) == 0;
}

static SmapsField smaps_field_from_name(const char *name, size_t len) {
        for (size_t i = 0; i < _SMAPS_FIELD_MAX; i++)
                if (strlen(smaps_field_names[i]) == len &&
                    memcmp(smaps_field_names[i], name, len) == 0)
                        return (SmapsField) i;
        return _SMAPS_FIELD_INVALID;
}

SmapsField smaps_field_from_string(const char *name) {
        if (!name)
                return _SMAPS_FIELD_INVALID;
        return smaps_field_from_name(name, strlen(name));
}

static bool is_name_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
}

/* Parses one "Name:   1234 kB" line (without its newline) into its name and value. */
static int smaps_line_parse(const char *line, size_t len, const char **ret_name,
                            size_t *ret_name_len, uint64_t *ret_kb) {
        size_t n = 0, i;
        uint64_t v;
        int r;

        while (n < len && is_name_char(line[n]))
                n++;
        if (n == 0 || n >= SMAPS_NAME_MAX || n >= len || line[n] != ':')
                return -EBADMSG;
        i = n + 1;
        if (i >= len || (line[i] != ' ' && line[i] != '\t'))
                return -EBADMSG;

        r = parse_u64_prefix(line + i, len - i, &v);
        if (r < 0)
                return r;
        /* Figures are stored as SQLite integers; no kernel prints 8 ZiB. */
        if (v > INT64_MAX)
                return -ERANGE;
        i += (size_t) r;
        if (len - i != 3 || memcmp(line + i, " kB", 3) != 0)
                return -EBADMSG;

        *ret_name = line;
        *ret_name_len = n;
        *ret_kb = v;
        return 0;
}

/*
 * A real sample, Linux 6.18.44 (x86-64, CONFIG_PAGE_MAPCOUNT), printed by
 * fs/proc/task_mmu.c show_smaps_rollup() through __show_smap():
 *
 *   55a9a7c05000-7fff763aa000 ---p 00000000 00:00 0                          [rollup]
 *   Rss:                1744 kB
 *   Pss:                 440 kB
 *   Pss_Dirty:           112 kB
 *   Pss_Anon:            112 kB
 *   Pss_File:            328 kB
 *   Pss_Shmem:             0 kB
 *   Shared_Clean:       1592 kB
 *   Shared_Dirty:          0 kB
 *   Private_Clean:        40 kB
 *   Private_Dirty:       112 kB
 *   Referenced:         1744 kB
 *   Anonymous:           112 kB
 *   KSM:                   0 kB
 *   LazyFree:              0 kB
 *   AnonHugePages:         0 kB
 *   ShmemPmdMapped:        0 kB
 *   FilePmdMapped:         0 kB
 *   Shared_Hugetlb:        0 kB
 *   Private_Hugetlb:       0 kB
 *   Swap:                  0 kB
 *   SwapPss:               0 kB
 *   Locked:                0 kB
 *
 * Column widths vary with the value (SEQ_PUT_DEC pads to 8), so lines are parsed as a name,
 * a colon, blanks, digits and " kB". The last line may lack its newline; a line cut short
 * (e.g. "Locked:    0 k") is malformed.
 */
int smaps_rollup_parse(const char *buf, size_t len, SmapsRollup *ret) {
        SmapsRollup s = {};
        const char *end = buf + len, *p, *nl;
        size_t header_len;

        if (len == 0)
                return -ENODATA;

        nl = memchr(buf, '\n', len);
        if (!nl)
                return -EBADMSG;
        header_len = (size_t) (nl - buf);
        if (header_len < STRLEN("[rollup]") ||
            memcmp(nl - STRLEN("[rollup]"), "[rollup]", STRLEN("[rollup]")) != 0)
                return -EBADMSG;

        /* The kernel prints the fields in SmapsField order: try the next one first, and fall back
         * to the search for other orders, older kernels and unknown fields. */
        int next = 0;
        for (p = nl + 1; p < end; ) {
                const char *name;
                size_t line_len, name_len;
                uint64_t kb;
                SmapsField f;
                int r;

                nl = memchr(p, '\n', (size_t) (end - p));
                line_len = nl ? (size_t) (nl - p) : (size_t) (end - p);

                r = smaps_line_parse(p, line_len, &name, &name_len, &kb);
                if (r < 0)
                        return r;

                if (next < _SMAPS_FIELD_MAX && smaps_field_is(next, name, name_len))
                        f = next;
                else
                        f = smaps_field_from_name(name, name_len);
                if (f >= 0) {
                        next = f + 1;
                        if (s.present & (1u << f))
                                return -EBADMSG;
                        s.kb[f] = kb;
                        s.present |= 1u << f;
                } else {
                        for (size_t i = 0; i < s.n_extra; i++)
                                if (strlen(s.extra[i].name) == name_len &&
                                    memcmp(s.extra[i].name, name, name_len) == 0)
                                        return -EBADMSG;
                        if (s.n_extra >= SMAPS_EXTRA_MAX)
                                return -EBADMSG;
                        memcpy(s.extra[s.n_extra].name, name, name_len);
                        s.extra[s.n_extra].name[name_len] = '\0';
                        s.extra[s.n_extra].kb = kb;
                        s.n_extra++;
                }

                p += line_len + (nl ? 1 : 0);
        }

        *ret = s;
        return 0;
}

int smaps_rollup_read(int pid_dirfd, ReadBuf *buf, SmapsRollup *ret) {
        int r;

        r = read_file_at(pid_dirfd, "smaps_rollup", SMAPS_ROLLUP_READ_MAX, buf);
        if (r < 0)
                return r;
        return smaps_rollup_parse(buf->data, buf->size, ret);
}
