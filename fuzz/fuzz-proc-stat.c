/* libFuzzer target for proc_stat_parse(): any input must parse or fail with -EBADMSG or
 * -ERANGE, never read outside the buffer, and a parsed comm must be NUL-terminated. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proc-pid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ProcStat st;
        char *copy;
        int r;

        if (size > 64 * 1024)
                return 0;
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);

        r = proc_stat_parse(copy, size, &st);
        assert(r == 0 || r == -EBADMSG || r == -ERANGE);
        if (r == 0)
                assert(memchr(st.comm, '\0', sizeof st.comm));
        free(copy);
        return 0;
}
