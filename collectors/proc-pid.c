/* Per-process identity from /proc/PID: pure parsers for stat, cmdline and cgroup, the systemd
 * unit of a cgroup path, and the walk that samples every process (stat, smaps_rollup, cmdline,
 * exe, cgroup, optionally maps and pagemap) through one O_PATH directory fd per PID, counting
 * why processes were skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"
#include "proc-pid.h"

/* stat is about 300 bytes, cgroup a few lines per hierarchy. */
#define PROC_STAT_READ_MAX (4u * 1024u)
#define PROC_CGROUP_READ_MAX (64u * 1024u)
/* A sweep stops listing after this many PIDs (pid_max is at most 2^22). */
#define PROC_SCAN_PIDS_MAX (4u * 1024u * 1024u)

/* Parses the unsigned decimal token [p, p+len); nothing else may be in it. */
static int parse_token_u64(const char *p, size_t len, uint64_t *ret) {
        uint64_t v;
        int r;

        if (len == 0 || p[0] == ' ' || p[0] == '\t')
                return -EBADMSG;
        r = parse_u64_prefix(p, len, &v);
        if (r < 0)
                return r;
        if ((size_t) r != len)
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* Checks that [p, p+len) is a possibly negative decimal number. */
static int check_token_int(const char *p, size_t len) {
        uint64_t v;

        if (len > 0 && p[0] == '-') {
                p++;
                len--;
        }
        return parse_token_u64(p, len, &v);
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
 * (1-based, proc_pid_stat(5)): 3 state, 4 ppid, 9 flags, 22 starttime. Fields 5–21 are
 * checked to be decimal numbers (tty_nr, tpgid, priority and nice may be negative).
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
        r = parse_token_u64(buf, (size_t) (open - 1 - buf), &v);
        if (r < 0)
                return r;

        comm_len = MIN((size_t) (close - open - 1), (size_t) PROC_COMM_MAX - 1);
        memcpy(st.comm, open + 1, comm_len);
        st.comm[comm_len] = '\0';

        end = buf + len;
        if (end > close + 1 && end[-1] == '\n')
                end--;
        p = close + 1;
        for (field = 3; field <= 22; field++) {
                const char *tok;
                size_t tok_len;

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
                        r = parse_token_u64(tok, tok_len, &v);
                        if (r < 0)
                                return r;
                        if (v > UINT32_MAX)
                                return -ERANGE;
                        st.ppid = (uint32_t) v;
                        break;
                case 9:
                        r = parse_token_u64(tok, tok_len, &v);
                        if (r < 0)
                                return r;
                        if (v > UINT32_MAX)
                                return -ERANGE;
                        st.flags = (uint32_t) v;
                        break;
                case 22:
                        r = parse_token_u64(tok, tok_len, &st.start_time_ticks);
                        if (r < 0)
                                return r;
                        break;
                default:
                        r = check_token_int(tok, tok_len);
                        if (r < 0)
                                return r;
                }
        }

        *ret = st;
        return 0;
}

/* Largest prefix of s[0..n) that does not end inside a UTF-8 sequence. */
static size_t utf8_truncate(const char *s, size_t n) {
        size_t i = n;

        while (i > 0 && ((unsigned char) s[i - 1] & 0xC0) == 0x80)
                i--;
        if (i > 0 && ((unsigned char) s[i - 1] & 0x80)) {
                /* s[i-1] is a lead byte: keep it only when its sequence is complete. */
                unsigned char c = (unsigned char) s[i - 1];
                size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
                if (n - (i - 1) < want)
                        return i - 1;
        }
        return n;
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
                keep = utf8_truncate(buf, PROC_CMDLINE_MAX - ellipsis_len);

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
int proc_cgroup_parse(const char *buf, size_t len, char **ret) {
        const char *end = buf + len, *p, *v2 = NULL, *named = NULL;
        size_t v2_len = 0, named_len = 0;
        char *s;

        for (p = buf; p < end; ) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                size_t line_len = nl ? (size_t) (nl - p) : (size_t) (end - p);
                const char *c1, *c2;
                uint64_t id;
                int r;

                c1 = memchr(p, ':', line_len);
                if (!c1)
                        return -EBADMSG;
                c2 = memchr(c1 + 1, ':', line_len - (size_t) (c1 + 1 - p));
                if (!c2)
                        return -EBADMSG;
                r = parse_token_u64(p, (size_t) (c1 - p), &id);
                if (r < 0)
                        return -EBADMSG;
                if (c2 + 1 >= p + line_len || c2[1] != '/')
                        return -EBADMSG;

                if (id == 0 && c2 == c1 + 1) {
                        v2 = c2 + 1;
                        v2_len = line_len - (size_t) (c2 + 1 - p);
                } else if ((size_t) (c2 - c1 - 1) == STRLEN("name=systemd") &&
                           memcmp(c1 + 1, "name=systemd", STRLEN("name=systemd")) == 0) {
                        named = c2 + 1;
                        named_len = line_len - (size_t) (c2 + 1 - p);
                }
                p += line_len + (nl ? 1 : 0);
        }

        if (named) {
                v2 = named;
                v2_len = named_len;
        }
        if (!v2)
                return -ENODATA;
        s = strndup(v2, v2_len);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static bool unit_name_char_ok(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               strchr(":-_.\\@", c);
}

/* A unit name with a unit-type suffix other than .slice (systemd's unit_name_is_valid()). */
static bool is_unit_name(const char *s, size_t len) {
        static const char *const suffixes[] = {
                ".service", ".scope", ".socket", ".mount", ".swap", ".target", ".timer",
                ".path", ".device", ".automount",
        };

        for (size_t i = 0; i < len; i++)
                if (s[i] == '\0' || !unit_name_char_ok(s[i]))
                        return false;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t sl = strlen(suffixes[i]);
                if (len > sl && memcmp(s + len - sl, suffixes[i], sl) == 0)
                        return true;
        }
        return false;
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

void proc_sample_done(ProcSample *s) {
        if (!s)
                return;
        free(s->exe);
        free(s->cmdline);
        free(s->cgroup);
        free(s->unit);
        *s = (ProcSample) {};
}

int proc_sample_read(int pid_dirfd, pid_t pid, ReadBuf *buf, ProcSample *ret) {
        _cleanup_(proc_sample_done) ProcSample s = { .pid = pid };
        ProcStat st;
        int r;

        r = read_file_at(pid_dirfd, "stat", PROC_STAT_READ_MAX, buf);
        if (r < 0)
                return r;
        /* A process that exited after its directory was opened reads as empty. */
        if (buf->size == 0)
                return -ESRCH;
        r = proc_stat_parse(buf->data, buf->size, &st);
        if (r < 0)
                return r;
        if (st.flags & PF_KTHREAD)
                return 1;
        /* A zombie has released its memory map; its smaps_rollup reads as empty on older
         * kernels and fails with ESRCH on current ones, which is not "vanished". */
        if (st.state == 'Z' || st.state == 'X')
                return -ENODATA;
        s.start_time_ticks = st.start_time_ticks;
        memcpy(s.comm, st.comm, sizeof s.comm);

        r = smaps_rollup_read(pid_dirfd, buf, &s.rollup);
        if (r < 0)
                return r;

        /* One byte more than kept, so that proc_cmdline_parse() sees the truncation. */
        r = read_file_prefix_at(pid_dirfd, "cmdline", PROC_CMDLINE_MAX + 1, buf);
        if (r < 0)
                return r;
        r = proc_cmdline_parse(buf->data, buf->size, &s.cmdline);
        if (r < 0)
                return r;

        /* exe is missing for processes without an executable and hidden by ptrace checks
         * (root without CAP_SYS_PTRACE, LSMs): the sample is still useful without it. */
        r = readlink_at_malloc(pid_dirfd, "exe", &s.exe);
        if (r < 0 && r != -ENOENT && r != -EACCES && r != -EPERM)
                return r;
        /* After a package upgrade the running binary reads "/usr/bin/x (deleted)": it is still
         * the same program for matching across the kernel change. */
        if (s.exe)
                exe_strip_deleted(s.exe);

        /* cgroup is absent on kernels without CONFIG_CGROUPS and may be denied; a process that
         * vanished meanwhile is still reported as such. */
        r = read_file_at(pid_dirfd, "cgroup", PROC_CGROUP_READ_MAX, buf);
        if (r == -ESRCH || r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = proc_cgroup_parse(buf->data, buf->size, &s.cgroup);
                if (r < 0 && r != -ENODATA)
                        return r;
                if (s.cgroup) {
                        r = cgroup_path_get_unit(s.cgroup, &s.unit);
                        if (r < 0)
                                return r;
                }
        }

        *ret = s;
        s = (ProcSample) {};
        return 0;
}


static int pid_compare(const void *a, const void *b) {
        pid_t x = *(const pid_t *) a, y = *(const pid_t *) b;

        return (x > y) - (x < y);
}

/* Lists the numeric entries of the proc root, sorted ascending. *ret is owned by the caller. */
static int proc_list_pids(int proc_fd, pid_t **ret, size_t *ret_n) {
        _cleanup_(closedirp) DIR *d = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        _cleanup_close_ int fd = -EBADF;
        size_t n = 0, allocated = 0;

        fd = openat(proc_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        if (!d)
                return -errno;
        fd = -EBADF; /* owned by d now */

        for (;;) {
                struct dirent *de;
                uint32_t pid;

                errno = 0;
                de = readdir(d);
                if (!de) {
                        if (errno != 0)
                                return -errno;
                        break;
                }
                if (safe_atou32(de->d_name, &pid) < 0 || pid == 0 || pid > INT32_MAX)
                        continue;
                if (n >= PROC_SCAN_PIDS_MAX)
                        continue;
                if (n == allocated) {
                        size_t a = MAX(allocated * 2, (size_t) 256);
                        pid_t *p = reallocarray(pids, a, sizeof *pids);
                        if (!p)
                                return -ENOMEM;
                        pids = p;
                        allocated = a;
                }
                pids[n++] = (pid_t) pid;
        }

        if (n > 0)
                qsort(pids, n, sizeof *pids, pid_compare);
        *ret = TAKE_PTR(pids);
        *ret_n = n;
        return 0;
}

void proc_scan_buffers_done(ProcScanBuffers *b) {
        if (!b)
                return;
        read_buf_done(&b->text);
        read_buf_done(&b->binary);
        vma_list_done(&b->vmas);
}

int proc_sample_read_pagemap(int pid_dirfd, const PagemapOptions *o, ProcScanBuffers *bufs,
                             ProcSample *s) {
        PfnList *pfns = o ? o->pfns : NULL;
        size_t before = pfns ? pfns->n : 0;
        PagemapCounts counts;
        int r;

        r = maps_read(pid_dirfd, &bufs->text, &bufs->vmas);
        if (r >= 0)
                r = pagemap_scan(pid_dirfd, &bufs->vmas, o, &bufs->binary, &counts);
        if (r < 0) {
                /* PFNs of a half-read process would be counted without an owner. */
                if (pfns)
                        pfns->n = before;
                return r;
        }

        s->has_pagemap = true;
        s->pagemap = counts;
        s->pfn_offset = before;
        s->pfn_count = pfns ? pfns->n - before : 0;
        return 0;
}

int proc_scan(const ProcRoot *root, ProcScanBuffers *bufs, const PagemapOptions *pagemap,
              ProcScanFunc func, void *userdata, ProcScanStats *ret_stats) {
        _cleanup_free_ pid_t *pids = NULL;
        ProcScanStats stats = {};
        size_t n = 0;
        int r;

        r = proc_list_pids(root->proc_fd, &pids, &n);
        if (r < 0)
                return r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_(proc_sample_done) ProcSample s = {};
                _cleanup_close_ int fd = -EBADF;
                char name[16];

                (void) snprintf(name, sizeof name, "%d", (int) pids[i]);
                fd = openat(root->proc_fd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
                r = fd < 0 ? -errno : proc_sample_read(fd, pids[i], &bufs->text, &s);
                if (r == 0 && pagemap) {
                        r = proc_sample_read_pagemap(fd, pagemap, bufs, &s);
                        switch (r) {
                        case 0:
                                if (s.pagemap.truncated)
                                        stats.pagemap_truncated++;
                                break;
                        case -ENOENT:
                        case -ESRCH:
                                /* Gone, or a tree (an older kernel, a fixture) without maps or
                                 * pagemap: the process's own stat tells which. */
                                if (faccessat(fd, "stat", F_OK, 0) < 0)
                                        break;
                                stats.pagemap_failed++;
                                r = 0;
                                break;
                        case -ENOMEM:
                                break;
                        default:
                                /* -EACCES/-EPERM (ptrace checks, LSMs), -EBADMSG/-ERANGE/-E2BIG
                                 * (maps), -EIO: the rest of the sample is still good. */
                                stats.pagemap_failed++;
                                r = 0;
                        }
                }
                switch (r) {
                case 0:
                        stats.sampled++;
                        r = func(&s, userdata);
                        if (r < 0)
                                return r;
                        break;
                case 1:
                        stats.kernel_threads++;
                        break;
                case -ENODATA:
                        stats.no_mm++;
                        break;
                case -ENOENT:
                case -ESRCH:
                case -ENOTDIR:
                        stats.vanished++;
                        break;
                case -EACCES:
                case -EPERM:
                        stats.denied++;
                        break;
                case -ENOMEM:
                        return r;
                default:
                        /* -EBADMSG/-ERANGE/-E2BIG, and any other read error of a single
                         * process: it is not sampled, the sweep goes on. */
                        stats.malformed++;
                }
        }

        *ret_stats = stats;
        return 0;
}
