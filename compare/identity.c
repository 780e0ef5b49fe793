/* Process identity keys: exe, comm, unit and normalized arguments combined into a string that
 * never involves a PID, so the same program matches across reboots and kernel changes. Pure
 * string functions; the only allocation is the returned string. */

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "macro.h"
#include "string-util.h"

static const char *const identity_mode_table[_IDENTITY_MODE_MAX] = {
        [IDENTITY_MODE_EXE_ARGS] = "exe-args",
        [IDENTITY_MODE_EXE] = "exe",
        [IDENTITY_MODE_COMM] = "comm",
        [IDENTITY_MODE_UNIT] = "unit",
};

const char *identity_mode_to_string(IdentityMode m) {
        if (m < 0 || m >= _IDENTITY_MODE_MAX)
                return NULL;
        return identity_mode_table[m];
}

IdentityMode identity_mode_from_string(const char *s) {
        if (!s)
                return _IDENTITY_MODE_INVALID;

        for (IdentityMode m = 0; m < _IDENTITY_MODE_MAX; m++)
                if (strcmp(s, identity_mode_table[m]) == 0)
                        return m;
        return _IDENTITY_MODE_INVALID;
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

int identity_normalize_args(const char *cmdline, char **ret) {
        const char *p;
        char *out;
        size_t len = 0;

        assert(ret);

        /* argv[0] is everything up to the first space; the separating spaces go with it. A NULL
         * or single-word command line (kernel threads, no arguments) normalizes to "". */
        p = cmdline ? strchr(cmdline, ' ') : NULL;
        if (!p)
                p = "";
        p += strspn(p, " ");

        /* Collapsing digit runs only shrinks the text, so strlen(p) + 1 is always enough. */
        out = malloc(strlen(p) + 1);
        if (!out)
                return -ENOMEM;

        while (*p && len < IDENTITY_ARGS_MAX) {
                if (is_digit(*p)) {
                        out[len++] = '#';
                        while (is_digit(*p))
                                p++;
                } else
                        out[len++] = *p++;
        }

        /* Cut at IDENTITY_ARGS_MAX bytes, but not inside a UTF-8 character: when the next input
         * byte continues one, the cut moves back to its first byte. */
        if (*p && ((unsigned char) *p & 0xC0) == 0x80)
                len = utf8_prefix(out, len);

        out[len] = '\0';
        *ret = out;
        return 0;
}

int identity_key_build(IdentityMode mode, const char *comm, const char *exe, const char *cmdline,
                       const char *unit, char **ret) {
        _cleanup_free_ char *args = NULL;
        const char *mode_str, *value, *lbracket = "", *rbracket = "", *sep = "";
        char *key;
        int r;

        assert(comm);
        assert(ret);

        mode_str = identity_mode_to_string(mode);
        if (!mode_str)
                return -EINVAL;

        /* Fallback chain: unit → exe → "[comm]", the brackets keeping a comm from ever being
         * mistaken for a path or a unit name. */
        if (mode == IDENTITY_MODE_UNIT && !isempty(unit))
                value = unit;
        else if (mode == IDENTITY_MODE_COMM)
                value = comm;
        else if (!isempty(exe))
                value = exe;
        else {
                value = comm;
                lbracket = "[";
                rbracket = "]";
        }

        if (mode == IDENTITY_MODE_EXE_ARGS) {
                r = identity_normalize_args(cmdline, &args);
                if (r < 0)
                        return r;
                if (*args)
                        sep = " ";
        }

        key = strjoin(mode_str, ":", lbracket, value, rbracket, sep, args ? args : "");
        if (!key)
                return -ENOMEM;

        *ret = key;
        return 0;
}

int cgroup_key_build(const char *unit, const char *path, bool by_path, char **ret) {
        char *key;

        assert(path);
        assert(ret);

        key = !by_path && !isempty(unit) ? strjoin("unit:", unit) : strjoin("path:", path);
        if (!key)
                return -ENOMEM;
        *ret = key;
        return 0;
}
