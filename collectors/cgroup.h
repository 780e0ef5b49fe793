/* Memory cgroups: the layout of the cgroup file systems under the sys root, and every memory
 * cgroup's memory.stat and usage (memory.current on v2, memory.usage_in_bytes on v1), with the
 * systemd unit or container its path names. Fields are kept by the kernel's names, unknown ones
 * included; the counters that v1 and v2 both have are also given under one name (the v2 one),
 * so that epochs on different layouts compare. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fileio.h"
#include "proc-root.h"

/* Where the memory controller lives, detected per boot from sys/fs/cgroup:
 *   unified  cgroup2 mounted at fs/cgroup with "memory" in its cgroup.controllers
 *   hybrid   v1 controllers at fs/cgroup/<controller>, a cgroup2 at fs/cgroup/unified without
 *            the memory controller, memory in v1 (fs/cgroup/memory)
 *   legacy   v1 only: fs/cgroup/memory, no fs/cgroup/unified
 *   none     no memory controller found */
typedef enum CgroupLayout {
        CGROUP_LAYOUT_NONE,
        CGROUP_LAYOUT_UNIFIED,
        CGROUP_LAYOUT_HYBRID,
        CGROUP_LAYOUT_LEGACY,
        _CGROUP_LAYOUT_MAX,
        _CGROUP_LAYOUT_INVALID = -22 /* -EINVAL */,
} CgroupLayout;

static inline const char *cgroup_layout_to_string(CgroupLayout l) {
        static const char *const names[_CGROUP_LAYOUT_MAX] = {
                [CGROUP_LAYOUT_NONE] = "none",
                [CGROUP_LAYOUT_UNIFIED] = "unified",
                [CGROUP_LAYOUT_HYBRID] = "hybrid",
                [CGROUP_LAYOUT_LEGACY] = "legacy",
        };

        return l >= 0 && l < _CGROUP_LAYOUT_MAX ? names[l] : NULL;
}

static inline CgroupLayout cgroup_layout_from_string(const char *s) {
        for (CgroupLayout l = 0; s && l < _CGROUP_LAYOUT_MAX; l++)
                if (strcmp(cgroup_layout_to_string(l), s) == 0)
                        return l;
        return _CGROUP_LAYOUT_INVALID;
}

/* The memory controller is v1 (its memory.stat counters are local, the total_* forms
 * hierarchical) in the hybrid and legacy layouts. */
static inline bool cgroup_layout_is_v1(CgroupLayout l) {
        return l == CGROUP_LAYOUT_HYBRID || l == CGROUP_LAYOUT_LEGACY;
}

/* The counters compared across kernels, by their v2 names. v2's memory.stat is hierarchical
 * (a cgroup's figures include its descendants'); so are v1's total_* forms, which is why those,
 * not v1's local counters, are the v1 side of each pair. All in bytes. */
typedef enum CgroupField {
        CGROUP_ANON,            /* v2 anon         v1 total_rss */
        CGROUP_FILE,            /* v2 file         v1 total_cache */
        CGROUP_FILE_MAPPED,     /* v2 file_mapped  v1 total_mapped_file */
        CGROUP_SHMEM,           /* v2 shmem        v1 total_shmem */
        CGROUP_ANON_THP,        /* v2 anon_thp     v1 total_rss_huge */
        CGROUP_FILE_THP,        /* v2 file_thp     (no v1 counterpart) */
        CGROUP_SHMEM_THP,       /* v2 shmem_thp    (no v1 counterpart) */
        _CGROUP_FIELD_MAX,
        _CGROUP_FIELD_INVALID = -22 /* -EINVAL */,
} CgroupField;

/* The v2 name ("file_mapped"), which is also the name storage, the API and the metrics use, and
 * the name in a v1 memory.stat ("total_mapped_file", NULL when v1 has none). The one table of
 * the field names: storage and web/ use it through this header without linking the collectors. */
static inline const char *cgroup_field_name(CgroupField f, bool v1) {
        static const char *const names[_CGROUP_FIELD_MAX][2] = {
                [CGROUP_ANON] = { "anon", "total_rss" },
                [CGROUP_FILE] = { "file", "total_cache" },
                [CGROUP_FILE_MAPPED] = { "file_mapped", "total_mapped_file" },
                [CGROUP_SHMEM] = { "shmem", "total_shmem" },
                [CGROUP_ANON_THP] = { "anon_thp", "total_rss_huge" },
                [CGROUP_FILE_THP] = { "file_thp", NULL },
                [CGROUP_SHMEM_THP] = { "shmem_thp", NULL },
        };

        return f >= 0 && f < _CGROUP_FIELD_MAX ? names[f][v1] : NULL;
}

static inline const char *cgroup_field_to_string(CgroupField f) {
        return cgroup_field_name(f, false);
}

static inline CgroupField cgroup_field_from_string(const char *s) {
        for (CgroupField f = 0; s && f < _CGROUP_FIELD_MAX; f++)
                if (strcmp(cgroup_field_to_string(f), s) == 0)
                        return f;
        return _CGROUP_FIELD_INVALID;
}

#define CGROUP_STAT_MAX 160
#define CGROUP_STAT_NAME_MAX 48

typedef struct CgroupStatField {
        char name[CGROUP_STAT_NAME_MAX];
        uint64_t value;         /* as the kernel prints it: bytes, or a count (pgfault, …) */
} CgroupStatField;

/* One memory.stat, every line in file order. */
typedef struct CgroupStat {
        size_t n;
        CgroupStatField fields[CGROUP_STAT_MAX];
} CgroupStat;

/* Pure parser of memory.stat (v1 or v2): lines "name value", the name letters, digits and '_'
 * shorter than CGROUP_STAT_NAME_MAX, one blank, a decimal number (v1 prints limits up to
 * 2^63 - 1). An empty file is an empty stat. Returns 0; -EBADMSG (malformed line, duplicate
 * name, more than CGROUP_STAT_MAX lines, a NUL byte), -ERANGE (a value above INT64_MAX). *ret is
 * written only on success. */
int cgroup_stat_parse(const char *buf, size_t len, CgroupStat *ret);

/* Looks a raw name up: 1 and *ret when present, 0 when absent. */
static inline int cgroup_stat_get(const CgroupStat *s, const char *name, uint64_t *ret) {
        for (size_t i = 0; name && i < s->n; i++)
                if (strcmp(s->fields[i].name, name) == 0) {
                        *ret = s->fields[i].value;
                        return 1;
                }
        return 0;
}

/* The field under its v1 or v2 name, as the layout has it: 1 and *ret when present, 0 when the
 * stat does not have it (an older kernel, or no v1 counterpart). */
static inline int cgroup_stat_get_field(const CgroupStat *s, bool v1, CgroupField f,
                                        uint64_t *ret) {
        return cgroup_stat_get(s, cgroup_field_name(f, v1), ret);
}

/* Pure: the systemd unit a cgroup is, when its own last path component is a unit name
 * (".service", ".scope", ".slice", ".socket", ".mount", ".swap"): "/system.slice/foo.service" →
 * "foo.service", "/system.slice" → "system.slice", "/system.slice/foo.service/sub" → none. And
 * the container it holds, as "<runtime>://<id>" (the Kubernetes containerID form), when the
 * last component is a container runtime's: "docker-<id>.scope" (docker), "cri-containerd-<id>
 * .scope" (containerd), "crio-<id>.scope" (cri-o), "libpod-<id>.scope" (podman), or, with
 * cgroupfs drivers, a 64-hex-digit component under "/docker/" (docker) or "/kubepods…" (the
 * runtime unknown: "container://<id>"). *ret_unit and *ret_container are NULL when none (either
 * may be NULL when not wanted). Returns 0 or -ENOMEM. */
int cgroup_path_classify(const char *path, char **ret_unit, char **ret_container);

/* One memory cgroup as a sweep records it. Owned strings (cgroup_sample_done()). */
typedef struct CgroupSample {
        char *path;             /* "/" for the root, "/system.slice/foo.service" below it */
        char *unit;             /* NULL when the path names none */
        char *container;        /* NULL when the path names none */
        bool v1;                /* from the v1 memory controller */
        bool has_usage;         /* memory.current / memory.usage_in_bytes was read */
        uint64_t usage_bytes;
        CgroupStat *stat;       /* NULL when memory.stat could not be read */
} CgroupSample;

void cgroup_sample_done(CgroupSample *s);

typedef struct CgroupScanStats {
        unsigned sampled;
        unsigned vanished;      /* removed while being read */
        unsigned denied;
        unsigned malformed;     /* memory.stat or the usage file did not parse */
        bool truncated;         /* the walk stopped at its deadline or its limit */
} CgroupScanStats;

/* Detects the layout under root->sys_fd (none when there is no sys root). */
CgroupLayout cgroup_layout_detect(const ProcRoot *root);

/* Called once per cgroup, parents before children, siblings in name order. The callee may take
 * the sample over (move it and zero *sample). A negative return stops the walk. */
typedef int (*CgroupScanFunc)(CgroupSample *sample, void *userdata);

/* Walks the memory hierarchy of the layout (fs/cgroup for unified, fs/cgroup/memory for v1),
 * reading each cgroup's memory.stat and usage once. A unified cgroup without memory.stat (the
 * controller not enabled for it) is skipped with its subtree, the root's missing
 * memory.current is not an error. Stops after max_cgroups cgroups or when CLOCK_MONOTONIC
 * passes deadline_usec (0: none), setting truncated. Per-cgroup failures are counted, never
 * returned. Returns 0, -ENOENT when the layout has no memory hierarchy, -ENOMEM, or what func
 * returned. */
int cgroup_scan(const ProcRoot *root, CgroupLayout layout, ReadBuf *buf, size_t max_cgroups,
                uint64_t deadline_usec, CgroupScanFunc func, void *userdata,
                CgroupScanStats *ret_stats);
