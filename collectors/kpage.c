/* The block reader of /proc/kpageflags and /proc/kpagecount (kpage.h). */
#include "fileio.h"
#include "kpage.h"

int kpage_read_block(int fd, uint64_t block, uint64_t out[static KPAGE_BLOCK_PFNS],
                     size_t *ret_n) {
        size_t want = KPAGE_BLOCK_PFNS * sizeof(uint64_t);
        ssize_t n = pread_full(fd, out, want, (off_t) (block * want));

        if (n < 0)
                return (int) n;
        *ret_n = (size_t) n / sizeof(uint64_t);
        return 0;
}
