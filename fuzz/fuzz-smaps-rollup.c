/* libFuzzer target for smaps_rollup_parse(): any input must parse or fail with -ENODATA,
 * -EBADMSG or -ERANGE, never read outside the buffer, and a success must be self-consistent. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smaps-rollup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        SmapsRollup s;
        char *copy;
        int r;

        if (size > 64 * 1024)
                return 0;
        /* An exact-size heap copy, so ASan catches any read past len. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);

        r = smaps_rollup_parse(copy, size, &s);
        assert(r == 0 || r == -ENODATA || r == -EBADMSG || r == -ERANGE);
        if (r == 0) {
                assert(s.n_extra <= SMAPS_EXTRA_MAX);
                for (size_t i = 0; i < s.n_extra; i++)
                        assert(strlen(s.extra[i].name) < SMAPS_NAME_MAX);
                for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                        assert(smaps_rollup_has(&s, f) || s.kb[f] == 0);
        }
        free(copy);
        return 0;
}
