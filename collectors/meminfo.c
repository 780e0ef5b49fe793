/* /proc/meminfo: a pure parser that records every "Name: value[ kB]" line in file order, and a
 * reader that fetches the file under the proc root. */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "meminfo.h"
#include "parse-util.h"

/* meminfo is about 1.5 KiB; the cap only guards against a runaway file. */
#define MEMINFO_READ_MAX (64u * 1024u)

/* Names are printed by the kernel as identifiers with optional "(anon)"-style suffixes. */
static bool is_name_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '(' || c == ')';
}

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
        const char *end = buf + len, *p;
        bool have_total = false;

        for (p = buf; p < end; ) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t line_len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                size_t n = 0, i;
                MeminfoField *f;
                uint64_t v;
                int r;

                while (n < line_len && is_name_char(p[n]))
                        n++;
                if (n == 0 || n >= MEMINFO_NAME_MAX || n >= line_len || p[n] != ':')
                        return -EBADMSG;
                i = n + 1;
                if (i >= line_len || (p[i] != ' ' && p[i] != '\t'))
                        return -EBADMSG;
                r = parse_u64_prefix(p + i, line_len - i, &v);
                if (r < 0)
                        return r;
                if (v > INT64_MAX)      /* stored as an SQLite integer */
                        return -ERANGE;
                i += (size_t) r;

                for (size_t k = 0; k < m.n; k++)
                        if (strlen(m.fields[k].name) == n && memcmp(m.fields[k].name, p, n) == 0)
                                return -EBADMSG;
                if (m.n >= MEMINFO_MAX)
                        return -EBADMSG;

                f = &m.fields[m.n];
                if (line_len - i == 3 && memcmp(p + i, " kB", 3) == 0)
                        f->is_kb = true;
                else if (line_len == i)
                        f->is_kb = false;
                else
                        return -EBADMSG;
                memcpy(f->name, p, n);
                f->name[n] = '\0';
                f->value = v;
                m.n++;
                if (n == STRLEN("MemTotal") && memcmp(p, "MemTotal", n) == 0)
                        have_total = true;

                p += line_len + (nl ? 1 : 0);
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
