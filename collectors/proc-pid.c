/* Pure parsers of /proc/PID files that say who a process is: stat, cmdline, cgroup (and the
 * systemd unit of a cgroup path), and the exe link's " (deleted)" suffix. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "proc-pid.h"
#include "string-util.h"


/* Checks that [p, p+len) is a possibly negative decimal number. */
static int check_token_int(const char *p, size_t len) {
        uint64_t v;

        if (len > 0 && p[0] == '-') {
                p++;
                len--;
        }
        return parse_u64_token(p, len, &v);
}

/*
 * A real sample, Linux 6.18.44 (x86-64), printed by fs/proc/array.c do_task_stat():
 *
 *   1 (process_api) S 0 0 0 0 -1 4194560 34880 376448 0 201 54 198 1256 690 20 0 14 0 22
 *   46743552 3410 18446744073709551615 1 1 0 0 0 0 0 4096 1256 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0
 *   0 0 0
 *
 * (one line). comm is printed unescaped and may contain spaces, parentheses and ") (", so it is
 * taken between the first '(' and the last ')' and every field is parsed after that. Fields
 * (1-based, proc_pid_stat(5)): 3 state, 4 ppid, 9 flags, 22 starttime, and for the change
 * signal 10 minflt, 12 majflt, 23 vsize, 24 rss (both optional). Fields 5–21 are checked to be
 * decimal numbers (tty_nr, tpgid, priority and nice may be negative).
 */
int proc_stat_parse(const char *buf, size_t len, ProcStat *ret) {
        ProcStat st = {};
        const char *open, *close = NULL, *p, *end;
        uint64_t v;
        unsigned field;
        size_t comm_len;
        int r;

        open = memchr(buf, '(', len);
        if (!open)
                return -EBADMSG;
        for (const char *q = buf + len; q > open + 1; q--)
                if (q[-1] == ')') {
                        close = q - 1;
                        break;
                }
        if (!close)
                return -EBADMSG;

        /* "PID " before the comm. */
        if (open - buf < 2 || open[-1] != ' ')
                return -EBADMSG;
        r = parse_u64_token(buf, (size_t) (open - 1 - buf), &v);
        if (r < 0)
                return r;

        comm_len = MIN((size_t) (close - open - 1), (size_t) PROC_COMM_MAX - 1);
        memcpy(st.comm, open + 1, comm_len);
        st.comm[comm_len] = '\0';

        end = buf + len;
        if (end > close + 1 && end[-1] == '\n')
                end--;
        p = close + 1;
        for (field = 3; field <= 24; field++) {
                const char *tok;
                size_t tok_len;

                if (field > 22 && p >= end)
                        break;          /* no signal: the process is always read */
                if (p >= end || *p != ' ')
                        return -EBADMSG;
                tok = ++p;
                while (p < end && *p != ' ')
                        p++;
                tok_len = (size_t) (p - tok);
                if (tok_len == 0)
                        return -EBADMSG;

                switch (field) {
                case 3:
                        if (tok_len != 1)
                                return -EBADMSG;
                        st.state = tok[0];
                        break;
                case 4:
                case 9: {
                        uint32_t *dest = field == 4 ? &st.ppid : &st.flags;

                        r = parse_u64_token(tok, tok_len, &v);
                        if (r < 0)
                                return r;
                        if (v > UINT32_MAX)
                                return -ERANGE;
                        *dest = (uint32_t) v;
                        break;
                }
                case 10:
                case 12:
                case 22:
                case 23:
                case 24: {
                        uint64_t *dest = field == 10 ? &st.signal.minflt :
                                         field == 12 ? &st.signal.majflt :
                                         field == 22 ? &st.start_time_ticks :
                                         field == 23 ? &st.signal.vsize : &st.signal.rss_pages;

                        r = parse_u64_token(tok, tok_len, dest);
                        if (r < 0)
                                return r;
                        st.signal.valid = field == 24;
                        break;
                }
                default:
                        r = check_token_int(tok, tok_len);
                        if (r < 0)
                                return r;
                }
        }

        *ret = st;
        return 0;
}

/*
 * /proc/PID/cmdline, printed by fs/proc/base.c get_mm_cmdline(): the argument strings each
 * followed by a NUL, e.g. "sleep\0" "3600\0". Programs that rewrite their title leave a single
 * string padded with NULs, so trailing NULs are dropped before the rest become spaces.
 */
int proc_cmdline_parse(const char *buf, size_t len, char **ret) {
        static const char ellipsis[] = "\xe2\x80\xa6";  /* "…" */
        const size_t ellipsis_len = sizeof ellipsis - 1;
        size_t n = len, keep;
        char *s;

        while (n > 0 && buf[n - 1] == '\0')
                n--;
        keep = n;
        if (n > PROC_CMDLINE_MAX)
                keep = utf8_prefix(buf, PROC_CMDLINE_MAX - ellipsis_len);

        s = malloc(keep + (keep < n ? ellipsis_len : 0) + 1);
        if (!s)
                return -ENOMEM;
        for (size_t i = 0; i < keep; i++)
                s[i] = buf[i] == '\0' ? ' ' : buf[i];
        if (keep < n) {
                memcpy(s + keep, ellipsis, ellipsis_len);
                keep += ellipsis_len;
        }
        s[keep] = '\0';
        *ret = s;
        return 0;
}

/*
 * A real sample, Linux 6.18.44 (x86-64, hybrid hierarchy), printed by kernel/cgroup/cgroup.c
 * proc_cgroup_show(): "hierarchy-ID:controllers:path" per line.
 *
 *   9:name=systemd:/
 *   8:pids:/
 *   4:memory:/
 *   1:cpu:/
 *   0::/
 *
 * On a hybrid or v1 system the name=systemd hierarchy is the one systemd places units in, so it
 * wins over the unified "0::" line; a pure v2 system prints only "0::".
 */
/* One line of /proc/PID/cgroup, "ID:CONTROLLERS:PATH" (the path absolute): its parts point
 * into the line. 0 or -EBADMSG. */
typedef struct CgroupLine {
        uint64_t id;
        const char *controllers, *path;
        size_t controllers_len, path_len;
} CgroupLine;

static int cgroup_line_split(const char *line, size_t len, CgroupLine *ret) {
        const char *c1, *c2;

        c1 = memchr(line, ':', len);
        if (!c1)
                return -EBADMSG;
        c2 = memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - line));
        if (!c2)
                return -EBADMSG;
        if (parse_u64_token(line, (size_t) (c1 - line), &ret->id) < 0)
                return -EBADMSG;
        if (c2 + 1 >= line + len || c2[1] != '/')
                return -EBADMSG;
        ret->controllers = c1 + 1;
        ret->controllers_len = (size_t) (c2 - c1 - 1);
        ret->path = c2 + 1;
        ret->path_len = len - (size_t) (c2 + 1 - line);
        return 0;
}

/* Whether the comma-separated list c[0..len) names the controller. */
static bool controllers_include(const char *c, size_t len, const char *controller) {
        size_t want = strlen(controller);

        for (const char *p = c, *end = c + len; p < end;) {
                const char *comma = memchr(p, ',', (size_t) (end - p));
                size_t n = comma ? (size_t) (comma - p) : (size_t) (end - p);

                if (n == want && memcmp(p, controller, n) == 0)
                        return true;
                p += n + 1;
        }
        return false;
}

/* The path of the line for which pick() returns the highest rank (0: none), as a new string.
 * -ENODATA when no line is picked, -EBADMSG, -ENOMEM. */
static int cgroup_lines_pick(const char *buf, size_t len, int (*pick)(const CgroupLine *l),
                             char **ret) {
        const char *end = buf + len, *p = buf, *line;
        CgroupLine best = {};
        int best_rank = 0;
        char *s;

        while (p < end) {
                size_t line_len = next_line(&p, end, &line);
                CgroupLine l;
                int rank;

                if (cgroup_line_split(line, line_len, &l) < 0)
                        return -EBADMSG;
                rank = pick(&l);
                if (rank > best_rank) {
                        best = l;
                        best_rank = rank;
                }
        }
        if (best_rank == 0)
                return -ENODATA;
        s = strndup(best.path, best.path_len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* The systemd hierarchy: the named v1 one of hybrid hosts, else the v2 one. */
static int pick_systemd(const CgroupLine *l) {
        if (memeq_str(l->controllers, l->controllers_len, "name=systemd"))
                return 2;
        return l->id == 0 && l->controllers_len == 0;
}

/* The memory controller: its v1 hierarchy, else the v2 one. */
static int pick_memory(const CgroupLine *l) {
        if (l->id != 0 && controllers_include(l->controllers, l->controllers_len, "memory"))
                return 2;
        return l->id == 0 && l->controllers_len == 0;
}

int proc_cgroup_parse(const char *buf, size_t len, char **ret) {
        return cgroup_lines_pick(buf, len, pick_systemd, ret);
}

int proc_cgroup_memory_parse(const char *buf, size_t len, char **ret) {
        return cgroup_lines_pick(buf, len, pick_memory, ret);
}

static bool unit_name_char_ok(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               strchr(":-_.\\@", c);
}

bool unit_name_valid(const char *s, size_t len, const char *const *suffixes) {
        if (len > UNIT_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] == '\0' || !unit_name_char_ok(s[i]))
                        return false;
        for (const char *const *x = suffixes; *x; x++) {
                size_t sl = strlen(*x);

                if (len > sl && memcmp(s + len - sl, *x, sl) == 0)
                        return true;
        }
        return false;
}

/* A unit name with a unit-type suffix other than .slice. */
static bool is_unit_name(const char *s, size_t len) {
        static const char *const suffixes[] = {
                ".service", ".scope", ".socket", ".mount", ".swap", ".target", ".timer",
                ".path", ".device", ".automount", NULL,
        };

        return unit_name_valid(s, len, suffixes);
}

int cgroup_path_get_unit(const char *path, char **ret) {
        const char *p = path;

        for (;;) {
                size_t n;

                p += strspn(p, "/");
                if (*p == '\0')
                        return 0;
                n = strcspn(p, "/");
                if (is_unit_name(p, n)) {
                        char *s = strndup(p, n);
                        if (!s)
                                return -ENOMEM;
                        *ret = s;
                        return 1;
                }
                p += n;
        }
}

void exe_strip_deleted(char *exe) {
        static const char suffix[] = " (deleted)";
        size_t n = strlen(exe), k = sizeof suffix - 1;

        if (n > k && strcmp(exe + n - k, suffix) == 0)
                exe[n - k] = '\0';
}
