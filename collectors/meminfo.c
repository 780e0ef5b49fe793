/* /proc/meminfo: a pure parser that records every "Name: value[ kB]" line in file order, and a
 * reader that fetches the file under the proc root. */
#include <errno.h>
#include <string.h>

#include "field-line.h"
#include "macro.h"
#include "meminfo.h"
#include "string-util.h"

/* meminfo is about 1.5 KiB; the cap only guards against a runaway file. */
#define MEMINFO_READ_MAX (64u * 1024u)

/*
 * A real sample (abridged), Linux 6.18.44 (x86-64), printed by fs/proc/meminfo.c
 * meminfo_proc_show() (plus hugetlb_report_meminfo() for the HugePages_ lines):
 *
 *   MemTotal:       24684092 kB
 *   MemFree:        24429324 kB
 *   MemAvailable:   24386332 kB
 *   Active(anon):       1520 kB
 *   AnonPages:         13552 kB
 *   Mapped:            10948 kB
 *   Shmem:              8856 kB
 *   VmallocTotal:   34359738367 kB
 *   HugePages_Total:       0
 *   HugePages_Free:        0
 *   Hugepagesize:       2048 kB
 *   DirectMap1G:    25165824 kB
 *
 * Values are kB except the HugePages_ counts, which have no unit. The last line may lack its
 * newline; anything else is malformed.
 */
int meminfo_parse(const char *buf, size_t len, Meminfo *ret) {
        Meminfo m = {};
        const char *end = buf + len, *p = buf, *line;
        bool have_total = false;

        while (p < end) {
                size_t line_len = next_line(&p, end, &line);
                FieldLine fl;
                int r;

                r = field_line_parse(line, line_len, true, MEMINFO_NAME_MAX, &fl);
                if (r < 0)
                        return r;
                for (size_t k = 0; k < m.n; k++)
                        if (memeq_str(fl.name, fl.name_len, m.fields[k].name))
                                return -EBADMSG;
                if (m.n >= MEMINFO_MAX)
                        return -EBADMSG;

                memcpy(m.fields[m.n].name, fl.name, fl.name_len);
                m.fields[m.n].name[fl.name_len] = '\0';
                m.fields[m.n].value = fl.value;
                m.fields[m.n].is_kb = fl.kb;
                m.n++;
                have_total = have_total || memeq_str(fl.name, fl.name_len, "MemTotal");
        }

        if (!have_total)
                return -EBADMSG;
        *ret = m;
        return 0;
}

int meminfo_read(const ProcRoot *root, ReadBuf *buf, Meminfo *ret) {
        int r;

        r = read_file_at(root->proc_fd, "meminfo", MEMINFO_READ_MAX, buf);
        if (r < 0)
                return r;
        return meminfo_parse(buf->data, buf->size, ret);
}

int meminfo_get(const Meminfo *m, const char *name, uint64_t *ret) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->fields[i].name, name) == 0) {
                        *ret = m->fields[i].value;
                        return 1;
                }
        return 0;
}
