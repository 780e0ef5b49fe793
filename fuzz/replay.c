/* Runs a fuzz target's LLVMFuzzerTestOneInput() over every regular file in the directories (or
 * files) given as arguments, so each corpus, including kept crash-* findings, is a plain
 * regression test in the 'fuzz' suite. Fails when an argument cannot be read or holds no
 * input; a crash in the target fails the test by itself. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileio.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs larger than this are not replayed; the targets ignore more than 64 KiB anyway. */
#define REPLAY_MAX (1u << 20)

static int replay_file(int dirfd, const char *name, ReadBuf *b) {
        int r;

        r = read_file_at(dirfd, name, REPLAY_MAX, b);
        if (r < 0) {
                fprintf(stderr, "replay: cannot read '%s': %s\n", name, strerror(-r));
                return r;
        }
        (void) LLVMFuzzerTestOneInput((const uint8_t *) b->data, b->size);
        return 0;
}


static int replay_dir(const char *path, ReadBuf *b, unsigned *n) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        int r;

        d = opendir(path);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct stat st;

                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = replay_file(dirfd(d), de->d_name, b);
                if (r < 0)
                        return r;
                (*n)++;
        }
        return 0;
}

int main(int argc, char *argv[]) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;
        unsigned n = 0;
        int r;

        if (argc < 2) {
                fprintf(stderr, "usage: %s CORPUS_DIR|FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct stat st;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(errno));
                        return 1;
                }
                r = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &b, &n)
                                        : replay_file(AT_FDCWD, argv[i], &b);
                if (r < 0) {
                        fprintf(stderr, "replay: '%s': %s\n", argv[i], strerror(-r));
                        return 1;
                }
                if (!S_ISDIR(st.st_mode))
                        n++;
        }
        fprintf(stderr, "replay: %u inputs\n", n);
        return n > 0 ? 0 : 1;
}
