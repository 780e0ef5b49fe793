/* Small language helpers shared by every module: cleanup attributes, ownership
 * hand-over, array sizes. Nothing here allocates or logs. */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
/* -1, 0 or 1 as a is below, equal to or above b: for qsort() and bsearch() comparators. */
#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* Returns the value of *p and sets *p to NULL: hands an owned pointer over. */
#define TAKE_PTR(p)                             \
        ({                                      \
                __typeof__(p) _tp_ = (p);       \
                (p) = NULL;                     \
                _tp_;                           \
        })

/* Returns the value of the struct s and zeroes it: hands what it owns over. */
#define TAKE_STRUCT(s)                                  \
        ({                                              \
                __typeof__(s) _ts_ = (s);               \
                (s) = (__typeof__(s)) {};               \
                _ts_;                                   \
        })

/* Returns the fd and sets the variable to -EBADF: hands an owned fd over. */
#define TAKE_FD(fd)                             \
        ({                                      \
                int _tf_ = (fd);                \
                (fd) = -EBADF;                  \
                _tf_;                           \
        })

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd if valid, preserving errno; always returns -EBADF. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        *fd = safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

static inline void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

/* Defines type##p(Type **p) calling func(*p), for use with _cleanup_(). */
#define DEFINE_CLEANUP_FUNC(type, func)                 \
        static inline void func##p(type **p) {          \
                if (*p)                                 \
                        *p = func(*p);                  \
        }

/* For functions that return an error code: keep the errno sign convention explicit. */
#define RET_NERRNO(expr)                                \
        ({                                              \
                int _r_ = (expr);                       \
                _r_ < 0 ? -errno : _r_;                 \
        })

#define STRLEN(s) (sizeof("" s "") - 1)

/* free() that returns NULL, for "p = mfree(p);". */
static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* A malloc'd copy of p[0..n), or NULL on ENOMEM. */
static inline void *memdup(const void *p, size_t n) {
        void *q = malloc(n ? n : 1);

        if (q && n)
                memcpy(q, p, n);
        return q;
}
