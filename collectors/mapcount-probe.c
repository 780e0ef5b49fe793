/* The runtime probe of docs/kernel-semantics.md §1.2. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "fileio.h"
#include "kpage.h"
#include "macro.h"
#include "mapcount-probe.h"
#include "pagemap.h"

#define PMD_BYTES ((size_t) 2 << 20)

const char *probe_method_to_string(ProbeMethod m) {
        static const char *const names[_PROBE_METHOD_MAX] = {
                [PROBE_METHOD_NONE] = "none",
                [PROBE_METHOD_PMD] = "pmd-thp",
                [PROBE_METHOD_MTHP] = "mthp",
        };

        return m >= 0 && m < _PROBE_METHOD_MAX ? names[m] : NULL;
}

/* Whether fd is on a file system of that type: the roots are the live kernel's procfs and
 * sysfs, not a fixture tree. */
static bool fs_is(int fd, unsigned long magic) {
        struct statfs sfs;

        return fd >= 0 && fstatfs(fd, &sfs) >= 0 && (unsigned long) sfs.f_type == magic;
}

/* The 8-byte entry at index of a /proc file (pagemap, kpageflags, kpagecount). */
static int read_u64_at(int dirfd, const char *path, uint64_t index, uint64_t *ret) {
        _cleanup_close_ int fd = open_regular_at(dirfd, path);
        ssize_t n;

        if (fd < 0)
                return fd;
        n = pread(fd, ret, sizeof *ret, (off_t) (index * sizeof *ret));
        if (n < 0)
                return -errno;
        return n == (ssize_t) sizeof *ret ? 0 : -EIO;
}

/* One attempt with a folio of size bytes at the start of a size-aligned region: written,
 * checked to be a large THP folio, its upper half unmapped, and kpagecount read at the first
 * unmapped page. 1 with *ret filled when it could tell, 0 when no large folio was obtained,
 * or -errno. */
static int probe_folio(const ProcRoot *root, size_t size, MapcountProbe *ret) {
        const size_t page = (size_t) sysconf(_SC_PAGESIZE);
        uint64_t entry, flags, count, pfn;
        uint8_t *raw, *p;
        int r;

        raw = mmap(NULL, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (raw == MAP_FAILED)
                return -errno;
        p = (uint8_t *) (((uintptr_t) raw + size - 1) & ~(uintptr_t) (size - 1));
        if (madvise(p, size, MADV_HUGEPAGE) < 0) {
                r = 0;
                goto finish;
        }
        memset(p, 0x5a, size);

        r = read_u64_at(root->proc_fd, "self/pagemap", (uintptr_t) p / page, &entry);
        if (r < 0)
                goto finish;
        pfn = entry & PM_PFN_MASK;
        if (!(entry & PM_PRESENT) || pfn == 0) {
                r = pfn == 0 ? -EPERM : 0;      /* PFNs hidden: no CAP_SYS_ADMIN */
                goto finish;
        }
        r = read_u64_at(root->proc_fd, "kpageflags", pfn, &flags);
        if (r < 0)
                goto finish;
        if (!(flags & (1ULL << KPF_COMPOUND_HEAD)) || !(flags & (1ULL << KPF_THP))) {
                r = 0;
                goto finish;
        }

        /* The folio stays whole (the PMD becomes PTEs); read before deferred split frees the
         * unmapped half, after which both kernels read 0. */
        if (munmap(p + size / 2, size / 2) < 0) {
                r = -errno;
                goto finish;
        }
        r = read_u64_at(root->proc_fd, "kpagecount", pfn + size / 2 / page + 1, &count);
        if (r < 0)
                goto finish;
        *ret = (MapcountProbe) {
                .mode = count == 0 ? MAPCOUNT_MODE_PAGE : MAPCOUNT_MODE_NO_PAGE,
                .method = size == PMD_BYTES ? PROBE_METHOD_PMD : PROBE_METHOD_MTHP,
                .kpagecount = count,
        };
        r = 1;
finish:
        (void) munmap(raw, 2 * size);
        return r;
}

/* The enabled mTHP sizes, largest first, into sizes (bytes); returns how many. */
static size_t mthp_sizes(const ProcRoot *root, size_t *sizes, size_t max) {
        static const unsigned kb[] = { 1024, 512, 256, 128, 64, 32, 16 };
        size_t n = 0;

        for (size_t i = 0; i < ELEMENTSOF(kb) && n < max; i++) {
                _cleanup_free_ char *value = NULL;
                char path[96];

                (void) snprintf(path, sizeof path,
                                "kernel/mm/transparent_hugepage/hugepages-%ukB/enabled", kb[i]);
                if (read_line_at(root->sys_fd, path, &value) < 0)
                        continue;
                if (strstr(value, "[always]") || strstr(value, "[madvise]") ||
                    strstr(value, "[inherit]"))
                        sizes[n++] = (size_t) kb[i] << 10;
        }
        return n;
}

void mapcount_probe_run(const ProcRoot *root, MapcountProbe *ret) {
        size_t sizes[8];
        size_t n;
        int r;

        *ret = (MapcountProbe) { .mode = MAPCOUNT_MODE_UNKNOWN };
        /* pagemap and kpage* come from the proc root: it must be the live procfs. The sys root
         * only lists the mTHP sizes to try (in a container it may be another file system). */
        if (!fs_is(root->proc_fd, PROC_SUPER_MAGIC)) {
                ret->why = "not the live kernel";
                return;
        }
        sizes[0] = PMD_BYTES;
        n = 1 + (fs_is(root->sys_fd, SYSFS_MAGIC) ?
                 mthp_sizes(root, sizes + 1, ELEMENTSOF(sizes) - 1) : 0);
        for (size_t i = 0; i < n; i++) {
                r = probe_folio(root, sizes[i], ret);
                if (r > 0)
                        return;
                if (r == -EPERM || r == -EACCES) {
                        ret->why = "PFNs and kpagecount need CAP_SYS_ADMIN";
                        return;
                }
                if (r < 0) {
                        ret->why = "pagemap, kpageflags or kpagecount unreadable";
                        return;
                }
        }
        ret->why = "no large anonymous folio could be made (THP disabled?)";
}
