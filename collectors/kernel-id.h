/* The identity of the running kernel, recorded once per boot: release, version string,
 * boot_id, page size, mapcount mode (from the kernel config) and the THP/mTHP settings. A change
 * of boot_id, release or mapcount mode starts a new epoch. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cgroup.h"
#include "proc-root.h"

typedef enum MapcountMode {
        MAPCOUNT_MODE_PAGE,             /* CONFIG_PAGE_MAPCOUNT: per-page mapcounts */
        MAPCOUNT_MODE_NO_PAGE,          /* CONFIG_NO_PAGE_MAPCOUNT: folio mapcounts */
        MAPCOUNT_MODE_UNKNOWN,
        _MAPCOUNT_MODE_MAX,
        _MAPCOUNT_MODE_INVALID = -22 /* -EINVAL */,
} MapcountMode;

/* "page_mapcount", "no_page_mapcount", "unknown": the spelling in the database, the API and the
 * journal. The one table of these names; storage and web/ use it through this header without
 * linking the collectors. */
static inline const char *mapcount_mode_to_string(MapcountMode m) {
        static const char *const names[_MAPCOUNT_MODE_MAX] = {
                [MAPCOUNT_MODE_PAGE] = "page_mapcount",
                [MAPCOUNT_MODE_NO_PAGE] = "no_page_mapcount",
                [MAPCOUNT_MODE_UNKNOWN] = "unknown",
        };

        if (m < 0 || m >= _MAPCOUNT_MODE_MAX)
                return NULL;
        return names[m];
}

/* _MAPCOUNT_MODE_INVALID for NULL or a name that is not one of them. */
static inline MapcountMode mapcount_mode_from_string(const char *s) {
        for (MapcountMode m = 0; s && m < _MAPCOUNT_MODE_MAX; m++)
                if (strcmp(mapcount_mode_to_string(m), s) == 0)
                        return m;
        return _MAPCOUNT_MODE_INVALID;
}

/* Pure: decides the mode from a kernel config's text (already decompressed) and the release:
 * CONFIG_NO_PAGE_MAPCOUNT=y → NO; CONFIG_PAGE_MAPCOUNT=y → PAGE; neither line: PAGE when the
 * kernel is older than 6.15 or has no CONFIG_TRANSPARENT_HUGEPAGE=y, UNKNOWN otherwise (kernels
 * after the planned removal of the option print neither). The matching CONFIG_*PAGE_MAPCOUNT
 * lines (also "# … is not set") are copied to *ret_lines (caller owns; "" when none).
 * Returns 0, -EBADMSG when the release is needed and unparseable, -ENOMEM. */
int mapcount_mode_from_config(const char *config, size_t len, const char *release,
                              MapcountMode *ret_mode, char **ret_lines);

/* Pure: parses a kernel release's "MAJOR.MINOR" ("6.18.44-fc-v657" → 6, 18). -EBADMSG. */
int kernel_release_parse(const char *release, unsigned *ret_major, unsigned *ret_minor);

/* Pure: the selected value of a sysfs choice file ("always [madvise] never" → "madvise"), or the
 * whole trimmed content when nothing is bracketed. *ret owned by the caller. Returns 0,
 * -EBADMSG (unbalanced brackets or a NUL byte), -ENOMEM. */
int sysfs_choice_parse(const char *buf, size_t len, char **ret);

typedef struct KernelSetting {
        char *key;      /* path under sys/kernel/mm/, e.g. "transparent_hugepage/enabled" */
        char *value;    /* selected value */
} KernelSetting;

typedef struct KernelId {
        char *release;          /* proc/sys/kernel/osrelease */
        char *version;          /* proc/version, first line */
        char *boot_id;          /* proc/sys/kernel/random/boot_id */
        uint64_t page_size;     /* KernelPageSize of the first VMA of proc/1/smaps (or self);
                                 * 0 when unknown */
        MapcountMode mapcount_mode;
        char *config_source;    /* "proc/config.gz" or "boot/config-RELEASE"; NULL if none */
        char *config_lines;     /* the CONFIG_*PAGE_MAPCOUNT lines; NULL if no config */
        size_t n_settings;
        KernelSetting *settings; /* THP: enabled, defrag, shmem_enabled, every
                                  * hugepages-*kB/{enabled,shmem_enabled} */
        /* The host: proc/sys/kernel/hostname, and etc/machine-id (32 lowercase hex digits)
         * beside the proc root; NULL when unreadable or malformed. */
        char *hostname;
        char *machine_id;
        CgroupLayout cgroup_layout;     /* where the memory controller is (cgroup.h) */
        /* mapcount_mode is what the probe saw when it could run, else what the config says;
         * both are kept (docs/kernel-semantics.md §1.3). */
        MapcountMode config_mode;       /* §1.1 */
        MapcountMode probe_mode;        /* §1.2; UNKNOWN when it could not run */
        const char *probe_detail;       /* static: the probe's method, or why it did not run;
                                         * NULL when neither was asked (config_mode and
                                         * probe_mode are then meaningless) */
} KernelId;

/* Reads the whole identity. release and boot_id are required (-ENOENT, -EBADMSG); everything
 * else is optional and left NULL/0/UNKNOWN when unreadable. The config is read from
 * config.gz under the proc root (gzip) or config-RELEASE under the boot root. */
int kernel_id_read(const ProcRoot *root, KernelId *ret);
/* Frees everything *k owns and resets it (mode UNKNOWN); accepts NULL. */
void kernel_id_done(KernelId *k);

/* Reads only release and boot_id (cheap, once per sweep to notice a changed kernel). Both
 * returned strings are owned by the caller. */
int kernel_id_read_quick(const ProcRoot *root, char **ret_release, char **ret_boot_id);
