/* libFuzzer target for /proc/PID/cmdline and the exe link: proc_cmdline_parse() must join the
 * NUL-separated arguments into one string of at most PROC_CMDLINE_MAX bytes (the trailing NULs
 * dropped, the others turned into spaces, "…" marking a cut), and exe_strip_deleted() may only
 * shorten its string. Neither may read outside the buffer. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "proc-pid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        size_t n = size, len;
        char *copy, *s = NULL;
        int r;

        copy = fuzz_copy(data, size);
        if (!copy)
                return 0;

        r = proc_cmdline_parse(copy, size, &s);
        assert(r == 0 || r == -ENOMEM);
        if (r == 0) {
                while (n > 0 && copy[n - 1] == '\0')
                        n--;
                len = strlen(s);
                assert(len <= PROC_CMDLINE_MAX);
                if (n <= PROC_CMDLINE_MAX) {
                        assert(len == n);
                        for (size_t i = 0; i < n; i++)
                                assert(s[i] == (copy[i] ? copy[i] : ' '));
                } else
                        assert(len >= 3 && memcmp(s + len - 3, "\xe2\x80\xa6", 3) == 0);
                free(s);
        }
        free(copy);

        copy = fuzz_strdup(data, size);
        if (copy) {
                len = strlen(copy);
                s = strdup(copy);
                if (s) {
                        exe_strip_deleted(s);
                        assert(strlen(s) <= len && strncmp(s, copy, strlen(s)) == 0);
                        free(s);
                }
                free(copy);
        }
        return 0;
}
