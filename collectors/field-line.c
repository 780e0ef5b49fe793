/* Implementation of collectors/field-line.h. */
#include <errno.h>
#include <string.h>

#include "field-line.h"
#include "parse-util.h"

static bool is_name_char(char c, bool parens) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_' || (parens && (c == '(' || c == ')'));
}

int field_line_parse(const char *line, size_t len, bool parens, size_t name_max, FieldLine *ret) {
        size_t n = 0, i;
        uint64_t v;
        bool kb;
        int r;

        while (n < len && is_name_char(line[n], parens))
                n++;
        if (n == 0 || n >= name_max || n >= len || line[n] != ':')
                return -EBADMSG;
        i = n + 1;
        if (i >= len || (line[i] != ' ' && line[i] != '\t'))
                return -EBADMSG;

        r = parse_u64_prefix(line + i, len - i, &v);
        if (r < 0)
                return r;
        if (v > INT64_MAX)
                return -ERANGE;
        i += (size_t) r;
        if (len - i == 3 && memcmp(line + i, " kB", 3) == 0)
                kb = true;
        else if (len == i)
                kb = false;
        else
                return -EBADMSG;

        *ret = (FieldLine) { .name = line, .name_len = n, .value = v, .kb = kb };
        return 0;
}
