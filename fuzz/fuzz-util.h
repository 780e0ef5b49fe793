/* What the fuzz targets share: an exact-size copy of the input, and a scratch directory for the
 * targets whose function reads files (a fixture proc root, a configuration and its drop-ins). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The largest input the targets take: more than any file they stand for holds. */
#define FUZZ_INPUT_MAX (64 * 1024)

/* A malloc()ed copy of data[0..size) of exactly size bytes (1 when empty), so that ASan catches
 * any read past the end. NULL when out of memory or larger than FUZZ_INPUT_MAX: the target
 * skips the input. */
char *fuzz_copy(const uint8_t *data, size_t size);

/* The same copy with a NUL after it, for functions that take a C string. */
char *fuzz_strdup(const uint8_t *data, size_t size);

/* This process's scratch directory: made on first use in $TMPDIR, /dev/shm or /tmp, and removed
 * at exit. Aborts when none can be made. */
const char *fuzz_scratch(void);

/* Writes data[0..size) to the scratch directory's file path (relative), making its parent
 * directories. Aborts on failure: a target cannot go on without its fixture. */
void fuzz_write(const char *path, const void *data, size_t size);

/* Removes the scratch directory's file (or empty directory) path when it exists. */
void fuzz_remove(const char *path);
