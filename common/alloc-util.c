/* Implementation of common/alloc-util.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc-util.h"
#include "macro.h"

int greedy_realloc(void **p, size_t *allocated, size_t need, size_t size, size_t min_elements) {
        size_t n;
        void *q;

        if (*allocated >= need)
                return 0;
        if (size == 0 || need > SIZE_MAX / size)
                return -ENOMEM;
        n = MAX(need, min_elements);
        if (*allocated <= SIZE_MAX / 2 / size)
                n = MAX(n, *allocated * 2);
        q = reallocarray(*p, n, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *allocated = n;
        return 0;
}
