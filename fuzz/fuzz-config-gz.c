/* libFuzzer target for the kernel config: kernel_id_read() over a fixture proc root whose
 * proc/config.gz and boot/config-RELEASE are both the input, so that a gzip input is
 * decompressed and scanned, and any other falls back to the plain scan of the boot copy, as on
 * a host with a corrupt config.gz. The read must succeed (release and boot_id are valid), name
 * the file it used (config.gz only for a gzip stream), report only CONFIG_*PAGE_MAPCOUNT lines,
 * and agree with mapcount_mode_from_config() on the plain text. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "kernel-id.h"
#include "proc-root.h"

#define RELEASE "6.18.0-fuzz"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const ProcRoot *fixture(void) {
        static ProcRoot root = PROC_ROOT_INIT;
        char proc[4096], boot[4096];

        if (root.proc_fd >= 0)
                return &root;
        fuzz_write("proc/sys/kernel/osrelease", RELEASE "\n", strlen(RELEASE) + 1);
        fuzz_write("proc/sys/kernel/random/boot_id", "5ae0942d-1cc6-4f98-bbd3-6c5f3d306bac\n", 37);
        fuzz_write("boot/.keep", "", 0);
        (void) snprintf(proc, sizeof proc, "%s/proc", fuzz_scratch());
        (void) snprintf(boot, sizeof boot, "%s/boot", fuzz_scratch());
        assert(proc_root_open(&root, proc, NULL, boot) == 0);
        return &root;
}

static bool line_known(const char *l, size_t n) {
        static const char *const known[] = {
                "CONFIG_NO_PAGE_MAPCOUNT=y", "CONFIG_PAGE_MAPCOUNT=y",
                "# CONFIG_NO_PAGE_MAPCOUNT is not set", "# CONFIG_PAGE_MAPCOUNT is not set",
        };

        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
                if (strlen(known[i]) == n && memcmp(known[i], l, n) == 0)
                        return true;
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const ProcRoot *root = fixture();
        KernelId k = {};
        MapcountMode mode;
        char *lines = NULL;
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        fuzz_write("proc/config.gz", data, size);
        fuzz_write("boot/config-" RELEASE, data, size);

        r = kernel_id_read(root, &k);
        assert(r == 0 || r == -ENOMEM);
        if (r < 0)
                return 0;
        assert(k.config_source && k.config_lines);
        if (strcmp(k.config_source, "proc/config.gz") == 0)
                assert(size >= 18 && data[0] == 0x1f && data[1] == 0x8b);
        else {
                char *copy = fuzz_copy(data, size);

                assert(strcmp(k.config_source, "boot/config-" RELEASE) == 0);
                if (copy && mapcount_mode_from_config(copy, size, RELEASE, &mode, &lines) == 0) {
                        assert(mode == k.config_mode);
                        assert(strcmp(lines, k.config_lines) == 0);
                }
                free(lines);
                free(copy);
        }
        for (const char *l = k.config_lines, *nl; *l; l = nl + 1) {
                nl = strchrnul(l, '\n');
                assert(line_known(l, (size_t) (nl - l)));
                if (!*nl)
                        break;
        }
        assert(mapcount_mode_to_string(k.config_mode));
        assert(k.probe_mode == MAPCOUNT_MODE_UNKNOWN);     /* a fixture is not the live kernel */
        assert(k.mapcount_mode == k.config_mode);
        kernel_id_done(&k);
        return 0;
}
