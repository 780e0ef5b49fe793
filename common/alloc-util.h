/* Growable arrays: one rule for every array that grows one element at a time (VMAs, PIDs, PFNs,
 * folios, rows). The capacity at least doubles, so n appends cost O(n) copies in all. */
#pragma once

#include <stddef.h>

/* Grows *p, an array of *allocated elements of size bytes, to hold at least need elements:
 * to max(need, 2 × *allocated, min_elements). Returns 0 (also when it was big enough), or
 * -ENOMEM when the size overflows or the allocation fails; *p and *allocated are then
 * unchanged. */
int greedy_realloc(void **p, size_t *allocated, size_t need, size_t size, size_t min_elements);

/* greedy_realloc() on a typed array: GREEDY_REALLOC(l->vmas, l->allocated, l->n + 1). */
#define GREEDY_REALLOC(array, allocated, need)                                                   \
        ({                                                                                       \
                void *_gr_p_ = (array);                                                          \
                int _gr_r_ = greedy_realloc(&_gr_p_, &(allocated), (need), sizeof((array)[0]),   \
                                            16);                                                 \
                if (_gr_r_ >= 0)                                                                 \
                        (array) = _gr_p_;                                                        \
                _gr_r_;                                                                          \
        })
