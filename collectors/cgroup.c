/* Memory cgroups: the layout of the cgroup file systems under the sys root, a pure parser of
 * memory.stat (v1 and v2), the systemd unit and container a cgroup path names, and the walk that
 * reads every memory cgroup's memory.stat and usage through directory fds, parents before
 * children and siblings in name order. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-util.h"
#include "cgroup.h"
#include "proc-pid.h"
#include "macro.h"
#include "parse-util.h"
#include "string-util.h"
#include "time-util.h"

/* A v2 memory.stat on 6.18 is about 2.5 KiB (70 lines), a v1 one about 1.2 KiB (42 lines); the
 * cap only guards against a runaway file. */
#define CGROUP_STAT_READ_MAX (64u * 1024u)
/* memory.current / memory.usage_in_bytes: at most 20 digits and a newline. */
#define CGROUP_USAGE_READ_MAX 64u
#define CGROUP_CONTROLLERS_READ_MAX 4096u
/* The walk goes no deeper than this below the hierarchy root (the root is depth 0). */
#define CGROUP_DEPTH_MAX 64u
/* Child directories listed per cgroup; more are left out and the walk marked truncated. */
#define CGROUP_CHILDREN_MAX (64u * 1024u)

static bool is_stat_name_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '_';
}

/*
 * A real sample (abridged), Linux 6.18.44 (x86-64), cgroup v1 (tests/fixtures/cgroup-hybrid),
 * printed by mm/memcontrol-v1.c memcg1_stat_format(): the local counters, two limits, then every
 * counter again as total_*:
 *
 *   cache 9670656
 *   rss 3768320
 *   rss_huge 0
 *   hierarchical_memory_limit 9223372036854771712
 *   total_cache 305479680
 *   total_rss 15163392
 *
 * cgroup v2 prints the same form from mm/memcontrol.c memory_stat_format() (this machine has
 * no v2 memory controller; tests/fixtures/cgroup-unified follows that function's order):
 *
 *   anon 83886080
 *   file 138412032
 *   kernel 9259200
 *   anon_thp 16777216
 *   pgfault 289341
 *
 * A name, one blank, the value in decimal; v1's unlimited limits are just below 2^63. The last
 * line may lack its newline; an empty line is malformed.
 */
int cgroup_stat_parse(const char *buf, size_t len, CgroupStat *ret) {
        CgroupStat s = {};
        const char *end = buf + len, *p = buf, *line;

        while (p < end) {
                size_t line_len = next_line(&p, end, &line), n = 0;
                uint64_t v;
                int r;

                while (n < line_len && is_stat_name_char(line[n]))
                        n++;
                if (n == 0 || n >= CGROUP_STAT_NAME_MAX || n >= line_len || line[n] != ' ')
                        return -EBADMSG;
                r = parse_u64_token(line + n + 1, line_len - n - 1, &v);
                if (r < 0)
                        return r;
                if (v > INT64_MAX)
                        return -ERANGE;

                for (size_t k = 0; k < s.n; k++)
                        if (memeq_str(line, n, s.fields[k].name))
                                return -EBADMSG;
                if (s.n >= CGROUP_STAT_MAX)
                        return -EBADMSG;
                memcpy(s.fields[s.n].name, line, n);
                s.fields[s.n].name[n] = '\0';
                s.fields[s.n].value = v;
                s.n++;
        }

        *ret = s;
        return 0;
}

/* s[0..len) is a unit name of one of the types a cgroup can be. */
static bool is_cgroup_unit_name(const char *s, size_t len) {
        static const char *const suffixes[] = {
                ".service", ".scope", ".slice", ".socket", ".mount", ".swap", NULL,
        };

        return unit_name_valid(s, len, suffixes);
}

/* 64 lowercase hex digits: the container ids of docker, containerd, cri-o and podman. */
static bool is_container_id(const char *s, size_t len) {
        if (len != 64)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
                        return false;
        return true;
}

/* The container of the last path component last[0..len) (first[0..first_len) is the first
 * component), as "<runtime>://<id>" in a new string, or NULL in *ret when there is none. */
static int container_from_path(const char *first, size_t first_len, const char *last, size_t len,
                               char **ret) {
        static const struct {
                const char *prefix;
                const char *runtime;
        } scopes[] = {
                /* systemd cgroup drivers: one scope unit per container */
                { "docker-", "docker" },
                { "cri-containerd-", "containerd" },
                { "crio-", "cri-o" },
                { "libpod-", "podman" },
        };
        const char *runtime = NULL, *id = NULL;
        char *s;

        for (size_t i = 0; i < ELEMENTSOF(scopes) && !runtime; i++) {
                size_t pl = strlen(scopes[i].prefix);

                if (len == pl + 64 + STRLEN(".scope") &&
                    mem_startswith(last, len, scopes[i].prefix) &&
                    memcmp(last + len - STRLEN(".scope"), ".scope", STRLEN(".scope")) == 0 &&
                    is_container_id(last + pl, 64)) {
                        runtime = scopes[i].runtime;
                        id = last + pl;
                }
        }
        /* cgroupfs drivers: the bare id, under /docker/ or Kubernetes' /kubepods… tree. */
        if (!runtime && is_container_id(last, len) && first != last) {
                if (memeq_str(first, first_len, "docker"))
                        runtime = "docker";
                else if (mem_startswith(first, first_len, "kubepods"))
                        runtime = "container";
                id = last;
        }

        if (!runtime) {
                *ret = NULL;
                return 0;
        }
        if (asprintf(&s, "%s://%.64s", runtime, id) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int cgroup_path_classify(const char *path, char **ret_unit, char **ret_container) {
        _cleanup_free_ char *unit = NULL, *container = NULL;
        const char *first = path, *last;
        size_t first_len, len;
        int r;

        while (*first == '/')
                first++;
        first_len = strcspn(first, "/");
        last = strrchr(path, '/');
        last = last ? last + 1 : path;
        len = strlen(last);

        if (ret_unit && is_cgroup_unit_name(last, len)) {
                unit = strndup(last, len);
                if (!unit)
                        return -ENOMEM;
        }
        if (ret_container && len > 0) {
                r = container_from_path(first, first_len, last, len, &container);
                if (r < 0)
                        return r;
        }

        if (ret_unit)
                *ret_unit = TAKE_PTR(unit);
        if (ret_container)
                *ret_container = TAKE_PTR(container);
        return 0;
}

void cgroup_sample_done(CgroupSample *s) {
        if (!s)
                return;
        free(s->path);
        free(s->unit);
        free(s->container);
        free(s->stat);
        *s = (CgroupSample) {};
}

/* "memory" is one of the blank-separated words of a cgroup.controllers file. */
static bool controllers_have_memory(const char *buf, size_t len) {
        const char *p = buf, *end = buf + len;

        while (p < end) {
                size_t n;

                p += strspn(p, " \t\n");
                n = strcspn(p, " \t\n");
                if (n == 0)
                        break;
                if (memeq_str(p, n, "memory"))
                        return true;
                p += n;
        }
        return false;
}

static bool is_dir_at(int dirfd, const char *path) {
        struct stat st;

        return fstatat(dirfd, path, &st, 0) >= 0 && S_ISDIR(st.st_mode);
}

CgroupLayout cgroup_layout_detect(const ProcRoot *root) {
        _cleanup_(read_buf_done) ReadBuf b = READ_BUF_INIT;

        if (root->sys_fd < 0)
                return CGROUP_LAYOUT_NONE;
        if (read_file_at(root->sys_fd, "fs/cgroup/cgroup.controllers", CGROUP_CONTROLLERS_READ_MAX,
                         &b) >= 0 &&
            controllers_have_memory(b.data, b.size))
                return CGROUP_LAYOUT_UNIFIED;
        if (!is_dir_at(root->sys_fd, "fs/cgroup/memory"))
                return CGROUP_LAYOUT_NONE;
        return is_dir_at(root->sys_fd, "fs/cgroup/unified") ? CGROUP_LAYOUT_HYBRID
                                                             : CGROUP_LAYOUT_LEGACY;
}


typedef struct CgroupWalk {
        bool v1;
        ReadBuf *buf;
        size_t max_cgroups;
        size_t n_read;                  /* cgroups counted against max_cgroups */
        uint64_t deadline_usec;
        CgroupScanFunc func;
        void *userdata;
        CgroupStat *scratch;            /* parsed into; reused when the callee leaves it */
        CgroupScanStats stats;
} CgroupWalk;

/* Counts a cgroup that could not be read. Returns 0, or -ENOMEM, which stops the walk. */
static int walk_count_failure(CgroupWalk *w, int r) {
        switch (r) {
        case -ENOENT:
        case -ESRCH:
        case -ENOTDIR:
                w->stats.vanished++;
                return 0;
        case -EACCES:
        case -EPERM:
                w->stats.denied++;
                return 0;
        case -ENOMEM:
                return r;
        default:
                /* -EBADMSG/-ERANGE/-E2BIG, and any other read error of one cgroup (-EIO). */
                w->stats.malformed++;
                return 0;
        }
}

/* Return values of walk_read() besides 0 (a sample for the callee) and -errno. */
#define WALK_NO_CONTROLLER 1

/* Reads memory.stat and the usage of the cgroup at fd into w->scratch and *ret_usage. A usage
 * file that is denied or malformed is counted here and reported as has_usage false; the root
 * may lack it (v2 has no memory.current there). */
static int walk_read(CgroupWalk *w, int fd, bool is_root, bool *ret_has_usage,
                     uint64_t *ret_usage) {
        int r;

        if (!w->scratch) {
                w->scratch = malloc(sizeof *w->scratch);
                if (!w->scratch)
                        return -ENOMEM;
        }

        r = read_file_at(fd, "memory.stat", CGROUP_STAT_READ_MAX, w->buf);
        if (r == -ENOENT && !w->v1 && faccessat(fd, "cgroup.controllers", F_OK, 0) >= 0)
                /* A v2 cgroup whose parent did not enable the memory controller: neither it
                 * nor anything below it can have one. */
                return WALK_NO_CONTROLLER;
        if (r < 0)
                return r;
        r = cgroup_stat_parse(w->buf->data, w->buf->size, w->scratch);
        if (r < 0)
                return r;

        r = read_file_at(fd, w->v1 ? "memory.usage_in_bytes" : "memory.current",
                         CGROUP_USAGE_READ_MAX, w->buf);
        if (r >= 0)
                /* A decimal and a newline (mm/memcontrol.c memory_current_read(),
                 * mm/memcontrol-v1.c mem_cgroup_read_u64(): "%llu\n"). */
                r = parse_u64_line(w->buf->data, w->buf->size, ret_usage);
        if (r >= 0) {
                *ret_has_usage = true;
                return 0;
        }
        *ret_has_usage = false;
        if (r == -ENOENT && is_root)
                return 0;
        if (r == -ENOENT || r == -ESRCH || r == -ENOMEM)
                return r;
        return walk_count_failure(w, r);
}

/* Hands one sample to the callee; the stat buffer comes back for the next cgroup unless the
 * callee took it. */
static int walk_deliver(CgroupWalk *w, const char *path, bool has_usage, uint64_t usage) {
        _cleanup_(cgroup_sample_done) CgroupSample s = {
                .v1 = w->v1,
                .has_usage = has_usage,
                .usage_bytes = has_usage ? usage : 0,
        };
        int r;

        s.path = strdup(path);
        if (!s.path)
                return -ENOMEM;
        r = cgroup_path_classify(path, &s.unit, &s.container);
        if (r < 0)
                return r;
        s.stat = TAKE_PTR(w->scratch);

        w->stats.sampled++;
        r = w->func(&s, w->userdata);
        if (s.stat && !w->scratch)
                w->scratch = TAKE_PTR(s.stat);
        return r;
}

typedef struct NameList {
        char **names;
        size_t n, allocated;
        bool truncated;
} NameList;

static void name_list_done(NameList *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->names[i]);
        free(l->names);
        *l = (NameList) {};
}

/* dir_foreach() callback: keeps the entries that may be directories (d_type DT_UNKNOWN is
 * settled when the entry is opened with O_DIRECTORY). */
static int name_list_add(const struct dirent *de, void *userdata) {
        NameList *l = userdata;
        char *s;
        int r;

        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
                return 0;
        if (l->n >= CGROUP_CHILDREN_MAX) {
                l->truncated = true;
                return 0;
        }
        r = GREEDY_REALLOC(l->names, l->allocated, l->n + 1);
        if (r < 0)
                return r;
        s = strdup(de->d_name);
        if (!s)
                return -ENOMEM;
        l->names[l->n++] = s;
        return 0;
}

static int name_compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Walks the cgroup at fd (path as the callee sees it) and its subtree. Returns 0; 1 when the
 * walk stopped at its deadline or limit (stats.truncated set); -ENOMEM or what the callee
 * returned. max_cgroups counts every cgroup read, delivered or not (the limit bounds the work);
 * a v2 directory without the controller is not counted, but the limit is checked before it is
 * known to be one. */
static int walk(CgroupWalk *w, int fd, const char *path, unsigned depth) {
        _cleanup_(name_list_done) NameList children = {};
        bool has_usage = false;
        uint64_t usage = 0;
        int r;

        if (w->n_read >= w->max_cgroups ||
            (w->deadline_usec > 0 && now_usec(CLOCK_MONOTONIC) >= w->deadline_usec)) {
                w->stats.truncated = true;
                return 1;
        }

        r = walk_read(w, fd, depth == 0, &has_usage, &usage);
        if (r == WALK_NO_CONTROLLER)
                return 0;
        w->n_read++;
        if (r == 0)
                r = walk_deliver(w, path, has_usage, usage);
        else if (r == -ENOENT || r == -ESRCH)
                /* Removed while being read: so is everything below it. */
                return walk_count_failure(w, r);
        else if (r != -ENOMEM)
                /* Denied or malformed here; its children are cgroups of their own. */
                r = walk_count_failure(w, r);
        if (r < 0)
                return r;

        r = dir_foreach(fd, ".", name_list_add, &children);
        if (r == -ENOMEM)
                return r;
        if (r == -EACCES || r == -EPERM)
                w->stats.denied++;
        if (r < 0 || children.n == 0)
                return 0;
        if (children.truncated || depth >= CGROUP_DEPTH_MAX) {
                w->stats.truncated = true;
                if (depth >= CGROUP_DEPTH_MAX)
                        return 0;
        }
        qsort(children.names, children.n, sizeof *children.names, name_compare);

        for (size_t i = 0; i < children.n; i++) {
                _cleanup_free_ char *child_path = NULL;
                _cleanup_close_ int child_fd = -EBADF;

                child_fd = openat(fd, children.names[i],
                                  O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child_fd < 0) {
                        /* ENOTDIR: a file whose type readdir did not tell. */
                        if (errno == ENOTDIR || errno == ELOOP)
                                continue;
                        r = walk_count_failure(w, -errno);
                        if (r < 0)
                                return r;
                        continue;
                }
                child_path = strjoin(path, depth == 0 ? "" : "/", children.names[i]);
                if (!child_path)
                        return -ENOMEM;
                r = walk(w, child_fd, child_path, depth + 1);
                if (r != 0)
                        return r;
        }
        return 0;
}

int cgroup_scan(const ProcRoot *root, CgroupLayout layout, ReadBuf *buf, size_t max_cgroups,
                uint64_t deadline_usec, CgroupScanFunc func, void *userdata,
                CgroupScanStats *ret_stats) {
        _cleanup_close_ int fd = -EBADF;
        CgroupWalk w = {
                .v1 = cgroup_layout_is_v1(layout),
                .buf = buf,
                .max_cgroups = max_cgroups,
                .deadline_usec = deadline_usec,
                .func = func,
                .userdata = userdata,
        };
        int r;

        if (root->sys_fd < 0 || (layout != CGROUP_LAYOUT_UNIFIED && !w.v1))
                return -ENOENT;

        fd = openat(root->sys_fd, w.v1 ? "fs/cgroup/memory" : "fs/cgroup",
                    O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT || errno == ENOTDIR)
                        return -ENOENT;
                r = walk_count_failure(&w, -errno);
        } else
                r = walk(&w, fd, "/", 0);
        free(w.scratch);
        if (r < 0)
                return r;

        if (ret_stats)
                *ret_stats = w.stats;
        return 0;
}
