/* Prints the daemon's option table and the HTTP route table as JSON, so that the documentation
 * tests check the man pages and the example configuration against the tables the binary is
 * built from, not against a reading of the C source:
 *   {"options": [{"section", "key", "option", "short", "metavar", "default", "default_help",
 *                 "help"}, …], "routes": [{"path", "params": […]}, …], "assets": [path, …]} */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "options.h"
#include "web-internal.h"

static json_t *text(const char *s) {
        return s ? json_string(s) : json_null();
}

int main(void) {
        json_t *options = json_array(), *routes = json_array(), *assets = json_array(), *root;
        const OptionInfo *o;
        const WebRoute *r;
        size_t n;

        for (size_t i = 0; (o = options_table_get(i)); i++) {
                char short_option[2] = { o->short_option, '\0' };

                json_array_append_new(options,
                        json_pack("{s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:s}",
                                  "section", text(o->section), "key", text(o->key),
                                  "option", o->option,
                                  "short", text(o->short_option ? short_option : NULL),
                                  "metavar", text(o->metavar),
                                  "default", text(o->default_value),
                                  "default_help", text(o->default_help), "help", o->help));
        }
        r = web_routes(&n);
        for (size_t i = 0; i < n; i++) {
                json_t *params = json_array();

                for (size_t k = 0; r[i].params[k]; k++)
                        json_array_append_new(params, json_string(r[i].params[k]));
                json_array_append_new(routes, json_pack("{s:s, s:o}", "path", r[i].path,
                                                        "params", params));
        }
        const WebAsset *a = web_assets(&n);
        for (size_t i = 0; i < n; i++)
                json_array_append_new(assets, json_string(a[i].path));
        root = json_pack("{s:o, s:o, s:o}", "options", options, "routes", routes,
                         "assets", assets);
        if (!root || json_dumpf(root, stdout, JSON_INDENT(2)) < 0)
                return EXIT_FAILURE;
        json_decref(root);
        putchar('\n');
        return EXIT_SUCCESS;
}
