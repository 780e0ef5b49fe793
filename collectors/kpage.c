/* The block reader of /proc/kpageflags and /proc/kpagecount (kpage.h). */
#include <errno.h>
#include <unistd.h>

#include "kpage.h"

int kpage_read_block(int fd, uint64_t block, uint64_t out[static KPAGE_BLOCK_PFNS],
                     size_t *ret_n) {
        size_t done = 0, want = KPAGE_BLOCK_PFNS * sizeof(uint64_t);
        off_t off = (off_t) (block * want);

        while (done < want) {
                ssize_t k = pread(fd, (char *) out + done, want - done, off + (off_t) done);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                done += (size_t) k;
        }
        *ret_n = done / sizeof(uint64_t);
        return 0;
}
