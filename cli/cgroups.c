/* mapstatctl cgroups (the memory cgroups of the latest sweep), and the cgroup part of report
 * and forecast. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "string-util.h"

#define KB_BUF 32

/* How tables name a cgroup: its unit when it has one, else its path. */
static const char *cgroup_label(const json_t *cgroup) {
        return jstr(cgroup, "unit") ?: jstr(cgroup, "path") ?: "?";
}

size_t cgroups_flagged(const json_t *doc) {
        return json_array_size(json_object_get(json_object_get(doc, "cgroups"), "flagged"));
}

int cgroups_print(const json_t *cgroups, const char *before, const char *after) {
        static const bool right[] = { false, false, true, true, true };
        const char *headers[] = { "CGROUP", "FIELD", "BEFORE", "AFTER", "CHANGE", NULL };
        _cleanup_(table_freep) Table *t = NULL;
        const json_t *flagged = json_object_get(cgroups, "flagged"), *item;
        size_t i;

        if (!json_is_object(cgroups) || json_integer_value(json_object_get(cgroups,
                                                                           "compared")) == 0)
                return 0;
        printf("\n%zu of %" JSON_INTEGER_FORMAT " memory cgroups flagged.\n",
               json_array_size(flagged), json_integer_value(json_object_get(cgroups,
                                                                            "compared")));
        if (json_array_size(flagged) == 0)
                return 0;
        if (streq_ptr(before, "today")) {
                headers[2] = "TODAY";
                headers[3] = "FORECAST";
        }
        t = table_new(headers, 0, right);
        if (!t)
                return -ENOMEM;
        json_array_foreach(flagged, i, item) {
                const char *label = cgroup_label(json_object_get(item, "cgroup")), *name;
                const json_t *m;
                bool first = true;

                json_object_foreach((json_t *) json_object_get(item, "metrics"), name, m) {
                        if (!json_is_true(json_object_get(m, "flagged")))
                                continue;
                        if (figure_row(t, first ? label : "", NULL, COLOUR_NONE, name, m, before,
                                       after) < 0)
                                return -ENOMEM;
                        first = false;
                }
        }
        fputc('\n', stdout);
        table_print(t, stdout);
        return 0;
}

static int run_cgroups(Ctl *ctl, int argc, char *argv[]) {
        static const char *const headers[] = { "ID", "CGROUP", "USAGE", "ANON", "FILE_MAPPED",
                                               "SHMEM", "ANON_THP", NULL };
        static const bool right[] = { true, false, true, true, true, true, true };
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_(table_freep) Table *t = NULL;
        const json_t *c;
        size_t i;
        int o, ret = EXIT_OK;

        while ((o = command_getopt(&command_cgroups, argc, argv, NULL, &ret)) != -1)
                return ret;
        if (optind < argc)
                return ctl_error(&command_cgroups, "unexpected argument '%s'", argv[optind]);
        doc = ctl_get(ctl, "/cgroups");
        if (!doc)
                return EXIT_USAGE;
        if (ctl->format == FORMAT_JSON) {
                json_print(doc);
                return EXIT_OK;
        }
        t = table_new(headers, 1, right);
        if (!t)
                return ctl_error(&command_cgroups, "out of memory");
        json_array_foreach(json_object_get(doc, "cgroups"), i, c) {
                const json_t *cg = json_object_get(c, "cgroup"), *f = json_object_get(c,
                                                                                    "fields_kb");
                char id[24], usage[KB_BUF], anon[KB_BUF], mapped[KB_BUF], shmem[KB_BUF],
                        thp[KB_BUF];
                const char *cells[7] = {
                        id, cgroup_label(cg),
                        format_kb(jnum(c, "usage_kb"), false, usage, sizeof usage),
                        format_kb(jnum(f, "anon"), false, anon, sizeof anon),
                        format_kb(jnum(f, "file_mapped"), false, mapped, sizeof mapped),
                        format_kb(jnum(f, "shmem"), false, shmem, sizeof shmem),
                        format_kb(jnum(f, "anon_thp"), false, thp, sizeof thp),
                };

                (void) snprintf(id, sizeof id, "%" JSON_INTEGER_FORMAT,
                                json_integer_value(json_object_get(cg, "id")));
                if (table_add(t, cells, NULL) < 0)
                        return ctl_error(&command_cgroups, "out of memory");
        }
        table_print(t, stdout);
        printf("\n%" JSON_INTEGER_FORMAT " memory cgroups in sweep %" JSON_INTEGER_FORMAT ".\n",
               json_integer_value(json_object_get(doc, "total")),
               json_integer_value(json_object_get(doc, "sweep")));
        return EXIT_OK;
}

const Command command_cgroups = {
        .name = "cgroups",
        .synopsis = "",
        .help = "the memory cgroups of the latest sweep",
        .run = run_cgroups,
};
