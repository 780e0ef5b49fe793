/* The "Name:   value kB" lines that smaps_rollup and meminfo print: one pure parser for both, so
 * that the two files follow one rule for names, blanks, numbers and the unit. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct FieldLine {
        const char *name;       /* points into the line; not NUL-terminated */
        size_t name_len;
        uint64_t value;
        bool kb;                /* the value ended in " kB" */
} FieldLine;

/* Pure: parses one line (without its newline). The name is letters, digits and '_' (with
 * parens also '(' and ')', as in meminfo's "Active(anon)"), shorter than name_max bytes, and is
 * followed by ':', at least one blank, the digits and either " kB" or the end of the line.
 * Values above INT64_MAX (more than SQLite stores; no kernel prints 8 ZiB) are out of range.
 * Returns 0, -EBADMSG or -ERANGE; *ret is written only on success. */
int field_line_parse(const char *line, size_t len, bool parens, size_t name_max, FieldLine *ret);
