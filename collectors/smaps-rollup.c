/* /proc/PID/smaps_rollup: a pure parser that keeps every "Name: N kB" line (known fields by
 * index, unknown ones as name/value pairs) and a thin reader on top of read_file_at(). */
#include <errno.h>
#include <string.h>

#include "field-line.h"
#include "macro.h"
#include "smaps-rollup.h"
#include "string-util.h"

/* A rollup is well under 2 KiB; the cap only guards against a runaway file. */
#define SMAPS_ROLLUP_READ_MAX (64u * 1024u)

/* present is a uint32_t bit set. */
_Static_assert(_SMAPS_FIELD_MAX <= 32, "SmapsRollup.present too small");

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
        const char *end = buf + len, *p, *nl, *line;
        int next = 0;

        if (len == 0)
                return -ENODATA;

        nl = memchr(buf, '\n', len);
        if (!nl || (size_t) (nl - buf) < STRLEN("[rollup]") ||
            memcmp(nl - STRLEN("[rollup]"), "[rollup]", STRLEN("[rollup]")) != 0)
                return -EBADMSG;

        /* The kernel prints the fields in SmapsField order: try the next one first, and fall back
         * to the search for other orders, older kernels and unknown fields. */
        for (p = nl + 1; p < end; ) {
                size_t line_len = next_line(&p, end, &line);
                FieldLine fl;
                SmapsField f;
                int r;

                r = field_line_parse(line, line_len, false, SMAPS_NAME_MAX, &fl);
                if (r < 0)
                        return r;
                if (!fl.kb)
                        return -EBADMSG;

                if (next < _SMAPS_FIELD_MAX &&
                    memeq_str(fl.name, fl.name_len, smaps_field_to_string(next)))
                        f = next;
                else
                        f = smaps_field_from_name(fl.name, fl.name_len);
                if (f >= 0) {
                        next = f + 1;
                        if (s.present & (1u << f))
                                return -EBADMSG;
                        s.kb[f] = fl.value;
                        s.present |= 1u << f;
                        continue;
                }
                for (size_t i = 0; i < s.n_extra; i++)
                        if (memeq_str(fl.name, fl.name_len, s.extra[i].name))
                                return -EBADMSG;
                if (s.n_extra >= SMAPS_EXTRA_MAX)
                        return -EBADMSG;
                memcpy(s.extra[s.n_extra].name, fl.name, fl.name_len);
                s.extra[s.n_extra].name[fl.name_len] = '\0';
                s.extra[s.n_extra].kb = fl.value;
                s.n_extra++;
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
