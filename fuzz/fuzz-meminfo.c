/* libFuzzer target for meminfo_parse(): any input must parse or fail with -EBADMSG or -ERANGE,
 * never read outside the buffer, and a success must contain MemTotal. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "meminfo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static Meminfo m;       /* 6 KiB: kept off the fuzzer's stack */
        uint64_t v;
        char *copy;
        int r;

        if (size > 64 * 1024)
                return 0;
        copy = malloc(size ? size : 1);
        if (!copy)
                return 0;
        if (size)
                memcpy(copy, data, size);

        r = meminfo_parse(copy, size, &m);
        assert(r == 0 || r == -EBADMSG || r == -ERANGE);
        if (r == 0) {
                assert(m.n >= 1 && m.n <= MEMINFO_MAX);
                assert(meminfo_get(&m, "MemTotal", &v) == 1);
                for (size_t i = 0; i < m.n; i++)
                        assert(strlen(m.fields[i].name) < MEMINFO_NAME_MAX);
        }
        free(copy);
        return 0;
}
