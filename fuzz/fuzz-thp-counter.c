/* libFuzzer target for the sysfs value files of the THP statistics: thp_counter_parse() (a
 * stats/ counter) and sysfs_choice_parse() (an "enabled" file) on the same input. Each must
 * succeed or fail with its documented errors and never read outside the buffer. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernel-id.h"
#include "thp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *copy, *choice = NULL;
        uint64_t v = 0;
        int r;

        if (size > 64 * 1024)
                return 0;
        /* An exact-size heap copy, so ASan catches any read past len. */
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);

        r = thp_counter_parse(copy, size, &v);
        assert(r == 0 || r == -EBADMSG || r == -ERANGE);
        if (r == 0) {
                assert(v <= INT64_MAX);
                /* Digits, then at most the newline. */
                assert(size > 0 && copy[0] >= '0' && copy[0] <= '9');
        }

        r = sysfs_choice_parse(copy, size, &choice);
        assert(r == 0 || r == -EBADMSG || r == -ENOMEM);
        if (r == 0) {
                size_t n = strlen(choice);

                assert(n <= size);
                /* A bracketed choice is what lies between the brackets. */
                if (memchr(copy, '[', size))
                        assert(!strchr(choice, '[') && !strchr(choice, ']'));
                free(choice);
        }
        free(copy);
        return 0;
}
