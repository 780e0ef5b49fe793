/* Implementation of cli/table.h. Widths count characters (UTF-8 sequences), not bytes. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc-util.h"
#include "string-util.h"
#include "table.h"

typedef struct Row {
        char *cells[TABLE_COLUMNS_MAX];
        TableColour colours[TABLE_COLUMNS_MAX];
} Row;

struct Table {
        size_t n_columns;
        const char *headers[TABLE_COLUMNS_MAX];
        bool right[TABLE_COLUMNS_MAX];
        int shrink;
        Row *rows;
        size_t n_rows, allocated;
};

Table *table_new(const char *const *headers, int shrink, const bool *right) {
        Table *t = calloc(1, sizeof *t);

        if (!t)
                return NULL;
        while (t->n_columns < TABLE_COLUMNS_MAX && headers[t->n_columns]) {
                t->headers[t->n_columns] = headers[t->n_columns];
                t->right[t->n_columns] = right && right[t->n_columns];
                t->n_columns++;
        }
        t->shrink = shrink;
        return t;
}

Table *table_free(Table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_rows; i++)
                for (size_t k = 0; k < t->n_columns; k++)
                        free(t->rows[i].cells[k]);
        free(t->rows);
        free(t);
        return NULL;
}

int table_add(Table *t, const char *const *cells, const TableColour *colours) {
        Row row = {};

        if (GREEDY_REALLOC(t->rows, t->allocated, t->n_rows + 1) < 0)
                return -ENOMEM;
        for (size_t k = 0; k < t->n_columns; k++) {
                row.cells[k] = strdup(cells[k] ?: "");
                if (!row.cells[k]) {
                        for (size_t j = 0; j < k; j++)
                                free(row.cells[j]);
                        return -ENOMEM;
                }
                row.colours[k] = colours ? colours[k] : COLOUR_NONE;
        }
        t->rows[t->n_rows++] = row;
        return 0;
}

/* Characters of s: UTF-8 sequences count once, other bytes once each. */
static size_t text_width(const char *s) {
        size_t n = 0;

        while (*s) {
                size_t l = utf8_sequence_length(s);

                s += l > 0 ? l : 1;
                n++;
        }
        return n;
}

/* Bytes of the first w characters of s. */
static size_t text_prefix(const char *s, size_t w) {
        const char *p = s;

        while (*p && w > 0) {
                size_t l = utf8_sequence_length(p);

                p += l > 0 ? l : 1;
                w--;
        }
        return (size_t) (p - s);
}

bool colour_enabled(FILE *f) {
        const char *term = getenv("TERM");

        return isatty(fileno(f)) && isempty(getenv("NO_COLOR")) && !streq_ptr(term, "dumb");
}

static const char *colour_code(TableColour c) {
        static const char *const codes[] = {
                [COLOUR_NONE] = "",
                [COLOUR_BOLD] = "\033[1m",
                [COLOUR_RED] = "\033[31m",
                [COLOUR_GREEN] = "\033[32m",
                [COLOUR_YELLOW] = "\033[33m",
                [COLOUR_BLUE] = "\033[34m",
                [COLOUR_DIM] = "\033[2m",
        };

        return codes[c];
}

void colour_print(FILE *f, TableColour c, const char *s) {
        if (c != COLOUR_NONE && colour_enabled(f))
                fprintf(f, "%s%s\033[0m", colour_code(c), s);
        else
                fputs(s, f);
}

/* Prints cell padded to width w (cut with "…" when longer). */
static void cell_print(FILE *f, const char *cell, size_t w, bool right, TableColour c,
                       bool last) {
        size_t n = text_width(cell);
        _cleanup_free_ char *shown = NULL;

        if (n > w) {
                size_t bytes = text_prefix(cell, w > 0 ? w - 1 : 0);

                shown = malloc(bytes + 4);
                if (!shown)
                        return;
                memcpy(shown, cell, bytes);
                memcpy(shown + bytes, "…", 4);
                cell = shown;
                n = w;
        }
        if (right)
                fprintf(f, "%*s", (int) (w - n), "");
        colour_print(f, c, cell);
        if (!right && !last)
                fprintf(f, "%*s", (int) (w - n), "");
}

void table_print(const Table *t, FILE *f) {
        size_t width[TABLE_COLUMNS_MAX] = {}, total = 0;

        for (size_t k = 0; k < t->n_columns; k++) {
                width[k] = text_width(t->headers[k]);
                for (size_t i = 0; i < t->n_rows; i++)
                        width[k] = MAX(width[k], text_width(t->rows[i].cells[k]));
                total += width[k] + (k > 0 ? 2 : 0);
        }
        /* Fit into the line by cutting the shrinkable column, down to 8 characters. */
        if (total > TABLE_WIDTH && t->shrink >= 0 && (size_t) t->shrink < t->n_columns) {
                size_t over = total - TABLE_WIDTH, w = width[t->shrink];

                width[t->shrink] = w > over + 8 ? w - over : MIN(w, (size_t) 8);
        }

        for (size_t k = 0; k < t->n_columns; k++) {
                if (k > 0)
                        fputs("  ", f);
                cell_print(f, t->headers[k], width[k], t->right[k], COLOUR_BOLD,
                           k + 1 == t->n_columns);
        }
        fputc('\n', f);
        for (size_t i = 0; i < t->n_rows; i++) {
                for (size_t k = 0; k < t->n_columns; k++) {
                        if (k > 0)
                                fputs("  ", f);
                        cell_print(f, t->rows[i].cells[k], width[k], t->right[k],
                                   t->rows[i].colours[k], k + 1 == t->n_columns);
                }
                fputc('\n', f);
        }
}

char *format_kb(double kb, bool sign, char *buf, size_t size) {
        const char *s = sign ? (kb < 0 ? "-" : "+") : (kb < 0 ? "-" : "");
        double a = fabs(kb);

        if (!isfinite(kb))
                (void) snprintf(buf, size, "–");
        else if (a < 1024)
                (void) snprintf(buf, size, "%s%.0f kB", s, a);
        else if (a < 1024.0 * 1024)
                (void) snprintf(buf, size, "%s%.1f MiB", s, a / 1024);
        else
                (void) snprintf(buf, size, "%s%.2f GiB", s, a / 1024 / 1024);
        return buf;
}
