/* libFuzzer target for cgroup_stat_parse(): any input must parse or fail with -EBADMSG or
 * -ERANGE, never read outside the buffer, and a success must hold unique, well-formed names
 * with values a database can store. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static CgroupStat s;    /* 9 KiB: kept off the fuzzer's stack */
        uint64_t v;
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

        r = cgroup_stat_parse(copy, size, &s);
        assert(r == 0 || r == -EBADMSG || r == -ERANGE);
        if (r == 0) {
                assert(s.n <= CGROUP_STAT_MAX);
                assert(s.n > 0 || size == 0);
                for (size_t i = 0; i < s.n; i++) {
                        size_t len = strlen(s.fields[i].name);

                        assert(len > 0 && len < CGROUP_STAT_NAME_MAX);
                        assert(s.fields[i].value <= INT64_MAX);
                        /* The first field of that name is this one: names are unique. */
                        assert(cgroup_stat_get(&s, s.fields[i].name, &v) == 1);
                        assert(v == s.fields[i].value);
                        for (size_t k = 0; k < i; k++)
                                assert(strcmp(s.fields[k].name, s.fields[i].name) != 0);
                }
                for (CgroupField f = 0; f < _CGROUP_FIELD_MAX; f++) {
                        (void) cgroup_stat_get_field(&s, false, f, &v);
                        (void) cgroup_stat_get_field(&s, true, f, &v);
                }
        }
        free(copy);
        return 0;
}
