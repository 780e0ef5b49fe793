/* libFuzzer target for /proc/PID/smaps, of which the daemon reads the first KernelPageSize:
 * line for the page size: kernel_id_read() over a fixture proc root whose proc/1/smaps is the
 * input. The read must succeed (release and boot_id are valid) and the page size be 0 (no
 * complete line) or a whole number of KiB that a KernelPageSize: line of the input gives. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "kernel-id.h"
#include "proc-root.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProcRoot *fixture(void) {
        static ProcRoot root = PROC_ROOT_INIT;
        char proc[4096];

        if (root.proc_fd >= 0)
                return &root;
        fuzz_write("proc/sys/kernel/osrelease", "6.18.0-fuzz\n", 12);
        fuzz_write("proc/sys/kernel/random/boot_id", "5ae0942d-1cc6-4f98-bbd3-6c5f3d306bac\n", 37);
        (void) snprintf(proc, sizeof proc, "%s/proc", fuzz_scratch());
        assert(proc_root_open(&root, proc, NULL, NULL) == 0);
        return &root;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const ProcRoot *root = fixture();
        KernelId k = {};
        char line[64];
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        fuzz_write("proc/1/smaps", data, size);

        r = kernel_id_read(root, &k);
        assert(r == 0 || r == -ENOMEM);
        if (r < 0)
                return 0;
        if (k.page_size > 0) {
                assert(k.page_size % 1024 == 0);
                (void) snprintf(line, sizeof line, "%" PRIu64 " kB\n", k.page_size / 1024);
                assert(memmem(data, size, "KernelPageSize:", 15));
                assert(memmem(data, size, line, strlen(line) - 1));
        }
        kernel_id_done(&k);
        return 0;
}
