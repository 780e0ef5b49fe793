/* libFuzzer target for maps_parse(): any input must parse or fail with -EBADMSG or -ERANGE
 * (-ENOMEM aside), never read outside the buffer, and a success must be self-consistent:
 * non-empty, page-aligned ranges with a valid class. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "maps.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        VmaList l = {};
        char *copy;
        int r;

        if (size > 256 * 1024)
                return 0;
        /* An exact-size heap copy, so ASan catches any read past len. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);

        r = maps_parse(copy, size, &l);
        assert(r == 0 || r == -EBADMSG || r == -ERANGE || r == -ENOMEM);
        if (r == 0)
                for (size_t i = 0; i < l.n; i++) {
                        assert(l.vmas[i].start < l.vmas[i].end);
                        assert(l.vmas[i].start % 4096 == 0 && l.vmas[i].end % 4096 == 0);
                        assert(vma_class_to_string(l.vmas[i].class));
                }
        else
                assert(l.n == 0);
        vma_list_done(&l);
        free(copy);
        return 0;
}
