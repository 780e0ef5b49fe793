/* libFuzzer target for /proc/PID/cgroup: proc_cgroup_parse() (the systemd hierarchy's path) and
 * proc_cgroup_memory_parse() (the memory controller's), then what the daemon derives from such
 * a path: cgroup_path_get_unit() and cgroup_path_classify(), on each parsed path and on the
 * input itself. Each must return one of its documented values and never read outside the
 * buffer; a path is the third field of one line, so it is absolute and holds no newline, and a
 * unit or container found in a path is named in it. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "fuzz-util.h"
#include "proc-pid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_path(const char *path) {
        char *unit = NULL, *container = NULL;
        int r;

        r = cgroup_path_get_unit(path, &unit);
        assert(r == 0 || r == 1 || r == -ENOMEM);
        if (r == 1) {
                assert(unit && strlen(unit) > 0 && strlen(unit) <= UNIT_NAME_MAX);
                assert(strstr(path, unit));
                assert(!strchr(unit, '/'));
                free(unit);
        }

        r = cgroup_path_classify(path, &unit, &container);
        assert(r == 0 || r == -ENOMEM);
        if (r == 0) {
                if (unit) {
                        assert(strstr(path, unit) && !strchr(unit, '/'));
                        assert(strlen(unit) <= UNIT_NAME_MAX);
                }
                if (container)
                        assert(strstr(container, "://"));
                free(unit);
                free(container);
        }
}

static void check_parsed(int r, char *path, size_t size) {
        assert(r == 0 || r == -ENODATA || r == -EBADMSG || r == -ENOMEM);
        if (r != 0)
                return;
        assert(path && path[0] == '/');
        assert(strlen(path) < size && !strchr(path, '\n'));
        check_path(path);
        free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *copy, *path = NULL;
        int r;

        copy = fuzz_copy(data, size);
        if (!copy)
                return 0;

        r = proc_cgroup_parse(copy, size, &path);
        check_parsed(r, path, size);
        path = NULL;
        r = proc_cgroup_memory_parse(copy, size, &path);
        check_parsed(r, path, size);
        free(copy);

        /* Any string as a path: what a v1 hierarchy or a container runtime may name. */
        copy = fuzz_strdup(data, size);
        if (copy)
                check_path(copy);
        free(copy);
        return 0;
}
