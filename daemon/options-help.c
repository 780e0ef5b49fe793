/* mapstatd --help: every option of the settings table (options.c), its help wrapped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "options.h"

#define HELP_COLUMN 29
#define HELP_WIDTH 80

/* Prints text from the current column col, wrapped at HELP_WIDTH with continuation lines
 * indented to HELP_COLUMN; a word longer than the line is not broken. */
static void help_wrap(const char *text, size_t col) {
        size_t start = col;

        for (const char *p = text; *p; ) {
                size_t word = strcspn(p, " ");

                if (col > start && col + 1 + word > HELP_WIDTH) {
                        printf("\n%*s", HELP_COLUMN, "");
                        col = start = HELP_COLUMN;
                } else if (col > start) {
                        putchar(' ');
                        col++;
                }
                printf("%.*s", (int) word, p);
                col += word;
                p += word;
                p += strspn(p, " ");
        }
        putchar('\n');
}

void options_help(void) {
        printf("Usage: mapstatd [OPTIONS]\n"
               "\n"
               "Samples every process's smaps_rollup and /proc/meminfo into SQLite, records each\n"
               "boot's kernel identity, and serves over HTTP which processes' Shared/Private and\n"
               "Pss figures shifted across a kernel change.\n"
               "\n"
               "Options:\n");
        size_t i = 0;
        for (const OptionInfo *o; (o = options_table_get(i)); i++) {
                _cleanup_free_ char *text = NULL;
                int col, k;

                if (o->short_option)
                        col = printf("  -%c, --%s", o->short_option, o->option);
                else
                        col = printf("      --%s", o->option);
                if (o->metavar)
                        col += printf(" %s", o->metavar);
                /* A long option puts its text on the next line. */
                if (col >= HELP_COLUMN - 1)
                        col = printf("\n%*s", HELP_COLUMN, "") - 1;
                else
                        col += printf("%*s", HELP_COLUMN - col, "");

                if (o->default_value && *o->default_value)
                        k = asprintf(&text, "%s (default %s)", o->help, o->default_value);
                else if (o->default_help)
                        k = asprintf(&text, "%s (default: %s)", o->help, o->default_help);
                else
                        k = asprintf(&text, "%s", o->help);
                if (k < 0)
                        text = NULL;
                help_wrap(text ?: o->help, (size_t) col);
        }
        printf("\nSee mapstatd(8) and mapstatd.conf(5).\n");
}
