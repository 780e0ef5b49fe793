/* Tables for a terminal: columns sized to their contents and fitted into 80 characters (the
 * widest column that may shrink is cut, with "…"), colour only when standard output is a
 * terminal and NO_COLOR is not set (https://no-color.org). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

#define TABLE_WIDTH 80
#define TABLE_COLUMNS_MAX 8

typedef enum TableColour {
        COLOUR_NONE,
        COLOUR_BOLD,
        COLOUR_RED,
        COLOUR_GREEN,
        COLOUR_YELLOW,
        COLOUR_BLUE,
        COLOUR_DIM,
} TableColour;

typedef struct Table Table;

/* A table with the given headers (NULL-terminated, at most TABLE_COLUMNS_MAX). shrink is the
 * column that is cut to fit (-1: none); right[i] aligns column i right (numbers). */
Table *table_new(const char *const *headers, int shrink, const bool *right);
Table *table_free(Table *t);
DEFINE_CLEANUP_FUNC(Table, table_free);

/* Appends a row of as many cells as headers (copied; NULL prints empty), each with a colour
 * (colours may be NULL: none). Returns 0 or -ENOMEM. */
int table_add(Table *t, const char *const *cells, const TableColour *colours);

/* Prints the table to f. */
void table_print(const Table *t, FILE *f);

/* Whether output to f may be coloured. */
bool colour_enabled(FILE *f);

/* Prints s in colour c when colour is enabled for f. */
void colour_print(FILE *f, TableColour c, const char *s);

/* A size in kB for reading: "812 kB", "50.0 MiB", "1.2 GiB"; "–" when not finite. With sign,
 * a leading + or -. buf holds at least 32 bytes. */
char *format_kb(double kb, bool sign, char *buf, size_t size);
