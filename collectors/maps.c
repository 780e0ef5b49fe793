/* /proc/PID/maps: a pure parser that turns each mapping line into its address range and the
 * class of memory it maps (maps.h), leaving out the special mappings pagemap must not be read
 * over or smaps does not account, and a thin reader on top of read_file_at(). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "macro.h"
#include "maps.h"
#include "parse-util.h"
#include "string-util.h"

/* vm.max_map_count defaults to 65530 mappings of about 100 bytes each; a path adds at most
 * PATH_MAX. The cap leaves room for several times the default with long paths. */
#define MAPS_READ_MAX (64u * 1024u * 1024u)
/* The smallest page size Linux uses; mappings are aligned to the real page size, a multiple
 * of it. */
#define MAPS_ALIGN 4096u

void vma_list_done(VmaList *l) {
        if (!l)
                return;
        free(l->vmas);
        *l = (VmaList) {};
}

/* vma_classify() on a path that is not NUL-terminated. */
static VmaClass vma_classify_len(char share, uint64_t inode, const char *path, size_t len) {
        if (memeq_str(path, len, "/anon_hugepage (deleted)") ||
            mem_startswith(path, len, "/dev/hugepages/"))
                return VMA_CLASS_HUGETLB;
        if (share == 's') {
                /* "/dev/zero (deleted)" is MAP_SHARED|MAP_ANONYMOUS (shmem_zero_setup());
                 * "[anon_shmem:NAME]" is the same named with PR_SET_VMA_ANON_NAME (6.2+,
                 * fs/proc/task_mmu.c get_vma_name()). */
                if (mem_startswith(path, len, "/memfd:") || mem_startswith(path, len, "/SYSV") ||
                    mem_startswith(path, len, "/dev/shm/") ||
                    memeq_str(path, len, "/dev/zero (deleted)") ||
                    mem_startswith(path, len, "[anon_shmem:"))
                        return VMA_CLASS_SHMEM;
                return VMA_CLASS_SHARED_FILE;
        }
        if (inode == 0 && (len == 0 || (path[0] == '[' && path[len - 1] == ']')))
                return VMA_CLASS_ANON;
        return VMA_CLASS_FILE;
}

VmaClass vma_classify(const char *perms, uint64_t inode, const char *path) {
        if (!perms || strlen(perms) != 4 || !path)
                return _VMA_CLASS_INVALID;
        return vma_classify_len(perms[3], inode, path, strlen(path));
}

/* Length of the token at p (up to the first c or end). */
static size_t token_len(const char *p, const char *end, char c) {
        const char *q = memchr(p, c, (size_t) (end - p));

        return q ? (size_t) (q - p) : (size_t) (end - p);
}

/* Parses the hex token at *p that ends at sep, and moves *p past the separator. */
static int take_hex(const char **p, const char *end, char sep, uint64_t *ret) {
        size_t n = token_len(*p, end, sep);
        int r;

        if (*p + n >= end)
                return -EBADMSG;
        r = parse_hex_u64_token(*p, n, ret);
        if (r < 0)
                return r;
        *p += n + 1;
        return 0;
}

/* Special mappings left out: [vsyscall] lies outside the user address space (pagemap reads
 * there only cost time), [vvar] and [vvar_vclock] are PFN maps that smaps does not account. */
static bool vma_is_skipped(const char *path, size_t len) {
        return memeq_str(path, len, "[vsyscall]") || memeq_str(path, len, "[vvar]") ||
               memeq_str(path, len, "[vvar_vclock]");
}

static int vma_list_append(VmaList *l, const Vma *v) {
        int r;

        r = GREEDY_REALLOC(l->vmas, l->allocated, l->n + 1);
        if (r < 0)
                return r;
        l->vmas[l->n++] = *v;
        return 0;
}

/* One line without its newline. Returns 1 and *ret for a mapping to keep, 0 for one left
 * out, or a negative errno. */
static int maps_line_parse(const char *line, size_t len, Vma *ret) {
        const char *p = line, *end = line + len, *perms;
        uint64_t start, vend, offset, major, minor, inode;
        size_t n;
        int r;

        if ((r = take_hex(&p, end, '-', &start)) < 0 || (r = take_hex(&p, end, ' ', &vend)) < 0)
                return r;

        if (end - p < 5 || p[4] != ' ' || !strchr("r-", p[0]) || !strchr("w-", p[1]) ||
            !strchr("x-", p[2]) || !strchr("ps", p[3]) || p[0] == '\0' || p[1] == '\0' ||
            p[2] == '\0' || p[3] == '\0')
                return -EBADMSG;
        perms = p;
        p += 5;

        if ((r = take_hex(&p, end, ' ', &offset)) < 0 ||
            (r = take_hex(&p, end, ':', &major)) < 0 ||
            (r = take_hex(&p, end, ' ', &minor)) < 0)
                return r;

        /* The inode may end the line (older kernels print no blank after it). */
        n = token_len(p, end, ' ');
        r = parse_u64_token(p, n, &inode);
        if (r < 0)
                return r;
        p += n;

        /* Blanks, then the name to the end of the line: it may contain blanks itself. */
        while (p < end && *p == ' ')
                p++;

        if (start >= vend || start % MAPS_ALIGN != 0 || vend % MAPS_ALIGN != 0)
                return -EBADMSG;
        if (vma_is_skipped(p, (size_t) (end - p)))
                return 0;

        *ret = (Vma) {
                .start = start,
                .end = vend,
                .class = vma_classify_len(perms[3], inode, p, (size_t) (end - p)),
        };
        return 1;
}

/*
 * A real sample, Linux 6.18.44 (x86-64), printed by fs/proc/task_mmu.c show_map_vma() (the
 * whole file is tests/fixtures/maps/linux-6.18-mixed):
 *
 *   55a664352000-55a664373000 rw-p 00000000 00:00 0                          [heap]
 *   7fb783879000-7fb78387c000 rw-p 00000000 00:00 0
 *   7fb78387c000-7fb7838a2000 r--p 00000000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6
 *   7fb783a5e000-7fb783a5f000 r--p 00000000 fe:00 10953296                   /tmp/cap/a file with spaces (deleted)
 *   7fb783a60000-7fb783a61000 rw-s 00000000 00:01 6                          /dev/zero (deleted)
 *   7fb783a64000-7fb783a66000 rw-s 00000000 00:01 1                          /SYSV00000000 (deleted)
 *   7fb783a67000-7fb783a68000 rw-s 00001000 00:01 3                          /memfd:probe (deleted)
 *   7fb783a6b000-7fb783a6f000 r--p 00000000 00:00 0                          [vvar]
 *   ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
 *
 * "START-END PERMS OFFSET MAJ:MIN INODE", addresses, offset and device in hex, the inode in
 * decimal, then (after padding) the name, which runs to the end of the line and may contain
 * blanks; a newline in a file name is printed as "\012". Lines without a name end in a blank.
 */
int maps_parse(const char *buf, size_t len, VmaList *l) {
        const char *p = buf, *end = buf + len, *line;

        l->n = 0;
        while (p < end) {
                size_t line_len = next_line(&p, end, &line);
                Vma v;
                int r;

                r = maps_line_parse(line, line_len, &v);
                if (r > 0)
                        r = vma_list_append(l, &v);
                if (r < 0) {
                        l->n = 0;
                        return r;
                }
        }
        return 0;
}

int maps_read(int pid_dirfd, ReadBuf *buf, VmaList *l) {
        int r;

        r = read_file_at(pid_dirfd, "maps", MAPS_READ_MAX, buf);
        if (r < 0)
                return r;
        return maps_parse(buf->data, buf->size, l);
}
