/* libFuzzer target for the configuration file and its drop-ins: options_load_config() over a
 * file written from the input. A form feed ('\f') splits the input: the first part is
 * mapstatd.conf; with a form feed the drop-in directory mapstatd.conf.d exists, and each further
 * part that is not empty (at most 8) is a drop-in NN.conf in it. Loading must succeed or fail
 * with -EBADMSG (or -ENOMEM/-EIO) and one line naming the file; a success leaves every setting
 * within the range its key accepts. */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "compare.h"
#include "fuzz-util.h"
#include "identity.h"
#include "options.h"
#include "time-util.h"

#define DROPINS_MAX 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_options(const Options *o) {
        assert(o->listen && o->listen[0]);
        assert(o->proc_root && o->sys_root && o->boot_root);
        assert(o->interval_usec >= 100 * USEC_PER_MSEC && o->interval_usec <= 86400 * USEC_PER_SEC);
        assert(o->retention_usec >= 60 * USEC_PER_SEC);
        assert(o->downsample_after_usec == 0 || o->downsample_after_usec >= 3600 * USEC_PER_SEC);
        assert(o->keep_per_epoch >= 1 && o->keep_per_epoch <= 100000);
        assert(o->metrics_identities <= 100000);
        assert(o->max_staleness_usec <= 86400 * USEC_PER_SEC);
        assert(o->pagemap_budget_usec >= 100 * USEC_PER_MSEC);
        assert(identity_mode_to_string(o->identity_mode));
        assert(pagemap_mode_to_string(o->pagemap_mode));
        assert(o->log_level >= LOG_ERR && o->log_level <= LOG_DEBUG);
        assert(thresholds_validate(&o->thresholds) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char main_path[4096], *path = NULL, *err = NULL;
        const char *p = size > 0 ? (const char *) data : "", *end = p + size;
        Options o = {};
        int r;

        if (size > FUZZ_INPUT_MAX)
                return 0;
        for (int i = 0; i < DROPINS_MAX; i++) {
                char name[64];

                (void) snprintf(name, sizeof name, "mapstatd.conf.d/%02d.conf", i);
                fuzz_remove(name);
        }
        fuzz_remove("mapstatd.conf.d/README");
        fuzz_remove("mapstatd.conf.d");
        if (memchr(p, '\f', size))    /* the directory, and a name in it that is no drop-in */
                fuzz_write("mapstatd.conf.d/README", "", 0);
        for (int i = 0; i <= DROPINS_MAX; i++) {
                const char *ff = memchr(p, '\f', (size_t) (end - p));
                size_t len = (size_t) ((ff && i < DROPINS_MAX ? ff : end) - p);
                char name[64];

                if (i == 0)
                        (void) snprintf(name, sizeof name, "mapstatd.conf");
                else
                        (void) snprintf(name, sizeof name, "mapstatd.conf.d/%02d.conf", i - 1);
                if (i == 0 || len > 0)
                        fuzz_write(name, p, len);
                p += len;
                if (p == end)
                        break;
                p++;    /* the form feed */
        }

        (void) snprintf(main_path, sizeof main_path, "%s/mapstatd.conf", fuzz_scratch());
        if (options_init(&o) < 0)
                return 0;
        r = options_load_config(&o, main_path, true, &path, &err);
        assert(r == 0 || r == -EBADMSG || r == -ENOMEM || r == -EIO);
        if (r == 0) {
                assert(!err);
                assert(path && strcmp(path, main_path) == 0);
                check_options(&o);
        } else if (r == -EBADMSG) {
                /* One line, naming the file at fault. */
                assert(err && strncmp(err, fuzz_scratch(), strlen(fuzz_scratch())) == 0);
                assert(!strchr(err, '\n'));
        }
        free(path);
        free(err);
        options_done(&o);
        return 0;
}
