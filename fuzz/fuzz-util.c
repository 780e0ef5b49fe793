/* Implementation of fuzz-util.h. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz-util.h"

static char scratch[PATH_MAX];

char *fuzz_copy(const uint8_t *data, size_t size) {
        char *copy = size <= FUZZ_INPUT_MAX ? malloc(size ? size : 1) : NULL;

        if (copy && size)
                memcpy(copy, data, size);
        return copy;
}

char *fuzz_strdup(const uint8_t *data, size_t size) {
        char *copy = malloc(size + 1);

        if (!copy)
                return NULL;
        if (size)
                memcpy(copy, data, size);
        copy[size] = '\0';
        return copy;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        (void) remove(path);
        return 0;
}

static void scratch_remove(void) {
        (void) nftw(scratch, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_scratch(void) {
        const char *dirs[] = { getenv("TMPDIR"), "/dev/shm", "/tmp" };

        if (scratch[0])
                return scratch;
        for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
                if (!dirs[i] || !dirs[i][0])
                        continue;
                (void) snprintf(scratch, sizeof scratch, "%s/mapstatd-fuzz-XXXXXX", dirs[i]);
                if (mkdtemp(scratch)) {
                        atexit(scratch_remove);
                        return scratch;
                }
        }
        perror("fuzz: cannot make a scratch directory");
        abort();
}

/* Makes the parent directories of full, a path under the scratch directory. */
static void make_parents(char *full) {
        for (char *s = full + strlen(fuzz_scratch()) + 1; (s = strchr(s, '/')); s++) {
                *s = '\0';
                if (mkdir(full, 0755) < 0 && errno != EEXIST) {
                        perror(full);
                        abort();
                }
                *s = '/';
        }
}

void fuzz_write(const char *path, const void *data, size_t size) {
        char full[PATH_MAX];
        int fd;

        (void) snprintf(full, sizeof full, "%s/%s", fuzz_scratch(), path);
        fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 && errno == ENOENT) {
                make_parents(full);
                fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        }
        if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t) size)) {
                perror(full);
                abort();
        }
        (void) close(fd);
}

void fuzz_remove(const char *path) {
        char full[PATH_MAX];

        (void) snprintf(full, sizeof full, "%s/%s", fuzz_scratch(), path);
        if (remove(full) < 0 && errno != ENOENT) {
                perror(full);
                abort();
        }
}
