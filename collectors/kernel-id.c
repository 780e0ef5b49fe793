/* The running kernel's identity: release, version, boot_id, page size, the mapcount mode from
 * the kernel config (proc config.gz through zlib, else boot config-RELEASE) and the THP/mTHP
 * sysfs settings. Pure parsers for the config, the release and sysfs choice files, and the
 * reader that ties them together under a ProcRoot. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "alloc-util.h"
#include "fileio.h"
#include "kernel-id.h"
#include "macro.h"
#include "mapcount-probe.h"
#include "parse-util.h"
#include "string-util.h"

/* A compressed config is about 25–40 KiB, a plain one about 250 KiB; the caps leave room. */
#define CONFIG_GZ_READ_MAX (4u * 1024u * 1024u)
#define CONFIG_MAX (16u * 1024u * 1024u)
/* Only the first VMA of smaps is needed. */
#define SMAPS_PREFIX_MAX (64u * 1024u)
#define SYSFS_READ_MAX 4096u
/* 3 global THP files plus 2 per mTHP size (at most 13 sizes with 64 KiB base pages). */
#define KERNEL_SETTINGS_MAX 64u
#define THP_DIR "kernel/mm/transparent_hugepage"

int kernel_release_parse(const char *release, unsigned *ret_major, unsigned *ret_minor) {
        size_t len, i;
        uint64_t major, minor;
        int r;

        if (!release || !(release[0] >= '0' && release[0] <= '9'))
                return -EBADMSG;
        len = strlen(release);
        r = parse_u64_prefix(release, len, &major);
        if (r < 0)
                return -EBADMSG;
        i = (size_t) r;
        if (i >= len || release[i] != '.' || !(release[i + 1] >= '0' && release[i + 1] <= '9'))
                return -EBADMSG;
        i++;
        r = parse_u64_prefix(release + i, len - i, &minor);
        if (r < 0)
                return -EBADMSG;
        if (major > 1000 || minor > 1000)
                return -EBADMSG;
        *ret_major = (unsigned) major;
        *ret_minor = (unsigned) minor;
        return 0;
}

/* Appends line to the '\n'-separated list *lines (grown with realloc). */
static int lines_append(char **lines, size_t *n, const char *line, size_t len) {
        char *p = realloc(*lines, *n + len + 2);

        if (!p)
                return -ENOMEM;
        if (*n > 0)
                p[(*n)++] = '\n';
        memcpy(p + *n, line, len);
        *n += len;
        p[*n] = '\0';
        *lines = p;
        return 0;
}

/*
 * A real excerpt, Linux 6.18.44 (x86-64) /proc/config.gz, generated at build time by
 * kernel/configs.c (ikconfig) from the .config scripts/kconfig writes:
 *
 *   CONFIG_TRANSPARENT_HUGEPAGE=y
 *   # CONFIG_NO_PAGE_MAPCOUNT is not set
 *   CONFIG_PAGE_MAPCOUNT=y
 *
 * The rule is in docs/kernel-semantics.md §1.1 and the header.
 */
int mapcount_mode_from_config(const char *config, size_t len, const char *release,
                              MapcountMode *ret_mode, char **ret_lines) {
        _cleanup_free_ char *lines = NULL;
        const char *end = config + len, *p;
        bool no = false, page = false, thp = false;
        size_t n_lines = 0;
        MapcountMode mode;
        int r;

        for (p = config; p < end; ) {
                const char *line;
                size_t l = next_line(&p, end, &line);

                while (l > 0 && (line[l - 1] == ' ' || line[l - 1] == '\t' || line[l - 1] == '\r'))
                        l--;

                if (memeq_str(line, l, "CONFIG_NO_PAGE_MAPCOUNT=y"))
                        no = true;
                else if (memeq_str(line, l, "CONFIG_PAGE_MAPCOUNT=y"))
                        page = true;
                else if (memeq_str(line, l, "CONFIG_TRANSPARENT_HUGEPAGE=y"))
                        thp = true;

                if (memeq_str(line, l, "CONFIG_NO_PAGE_MAPCOUNT=y") ||
                    memeq_str(line, l, "CONFIG_PAGE_MAPCOUNT=y") ||
                    memeq_str(line, l, "# CONFIG_NO_PAGE_MAPCOUNT is not set") ||
                    memeq_str(line, l, "# CONFIG_PAGE_MAPCOUNT is not set")) {
                        r = lines_append(&lines, &n_lines, line, l);
                        if (r < 0)
                                return r;
                }
        }

        if (no)
                mode = MAPCOUNT_MODE_NO_PAGE;
        else if (page || !thp)
                mode = MAPCOUNT_MODE_PAGE;
        else {
                unsigned major, minor;

                r = kernel_release_parse(release, &major, &minor);
                if (r < 0)
                        return r;
                mode = major < 6 || (major == 6 && minor < 15) ? MAPCOUNT_MODE_PAGE
                                                               : MAPCOUNT_MODE_UNKNOWN;
        }

        if (!lines) {
                lines = strdup("");
                if (!lines)
                        return -ENOMEM;
        }
        *ret_mode = mode;
        *ret_lines = TAKE_PTR(lines);
        return 0;
}

/*
 * A real sample, Linux 6.18.44, /sys/kernel/mm/transparent_hugepage/enabled, printed by
 * mm/huge_memory.c enabled_show():
 *
 *   always [madvise] never
 */
int sysfs_choice_parse(const char *buf, size_t len, char **ret) {
        const char *open, *close, *start = buf, *end = buf + len;
        char *s;

        open = memchr(buf, '[', len);
        if (open) {
                close = memchr(open + 1, ']', (size_t) (end - open - 1));
                if (!close || memchr(open + 1, '[', (size_t) (close - open - 1)))
                        return -EBADMSG;
                start = open + 1;
                end = close;
        } else {
                while (start < end && strchr(" \t\r\n", *start) && *start != '\0')
                        start++;
                while (end > start && strchr(" \t\r\n", end[-1]) && end[-1] != '\0')
                        end--;
        }
        if (memchr(start, '\0', (size_t) (end - start)))
                return -EBADMSG;
        s = strndup(start, (size_t) (end - start));
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* A boot_id as the kernel prints it (drivers/char/random.c proc_do_uuid()): 36 characters,
 * lowercase hex with dashes at 8, 13, 18 and 23. */
static bool boot_id_is_valid(const char *s) {
        if (strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                char c = s[i];

                if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
                        return false;
        }
        return true;
}

int kernel_id_read_quick(const ProcRoot *root, char **ret_release, char **ret_boot_id) {
        _cleanup_free_ char *release = NULL, *boot_id = NULL;
        int r;

        r = read_line_at(root->proc_fd, "sys/kernel/osrelease", &release);
        if (r < 0)
                return r;
        if (release[0] == '\0')
                return -EBADMSG;
        r = read_line_at(root->proc_fd, "sys/kernel/random/boot_id", &boot_id);
        if (r < 0)
                return r;
        if (!boot_id_is_valid(boot_id))
                return -EBADMSG;

        *ret_release = TAKE_PTR(release);
        *ret_boot_id = TAKE_PTR(boot_id);
        return 0;
}

/*
 * The first "KernelPageSize:" line of an smaps file, Linux 6.18.44, printed by
 * fs/proc/task_mmu.c show_smap():
 *
 *   55c7e4a31000-55c7e4a5f000 r--p 00000000 fe:01 1835064                    /usr/bin/bash
 *   Size:                184 kB
 *   KernelPageSize:        4 kB
 *
 * Returns 1 and the size in bytes, 0 when there is no complete such line.
 */
static int smaps_page_size_parse(const char *buf, size_t len, uint64_t *ret) {
        static const char key[] = "KernelPageSize:";
        const size_t key_len = sizeof key - 1;
        const char *end = buf + len, *p = buf, *line;

        while (p < end) {
                size_t line_len = next_line(&p, end, &line);
                const char *v = line + key_len;
                size_t vlen = line_len - key_len;
                uint64_t kb;
                int r;

                if (line_len <= key_len || memcmp(line, key, key_len) != 0)
                        continue;
                r = parse_u64_prefix(v, vlen, &kb);
                if (r < 0 || vlen - (size_t) r != 3 || memcmp(v + r, " kB", 3) != 0 || kb == 0 ||
                    kb > UINT64_MAX / 1024)
                        return 0;
                *ret = kb * 1024;
                return 1;
        }
        return 0;
}

static int page_size_read(const ProcRoot *root, ReadBuf *buf, uint64_t *ret) {
        static const char *const paths[] = { "1/smaps", "self/smaps" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                r = read_file_prefix_at(root->proc_fd, paths[i], SMAPS_PREFIX_MAX, buf);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                if (smaps_page_size_parse(buf->data, buf->size, ret) > 0)
                        return 0;
        }
        *ret = 0;
        return 0;
}

/* Decompresses a gzip stream into out, at most max bytes (-E2BIG beyond). -EBADMSG when the
 * stream is corrupt or truncated. */
static int gunzip(const char *in, size_t in_len, size_t max, ReadBuf *out) {
        z_stream z = {};
        size_t size = 0;
        int r = 0, zr;

        if (in_len > UINT32_MAX)
                return -E2BIG;
        if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
                return -ENOMEM;
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) in_len;

        for (;;) {
                if (out->allocated < size + 65536 + 1) {
                        size_t a = MAX(out->allocated * 2, size + 65536 + 1);
                        char *p = realloc(out->data, a);
                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        out->data = p;
                        out->allocated = a;
                }
                z.next_out = (Bytef *) out->data + size;
                z.avail_out = (uInt) MIN(out->allocated - size - 1, max + 1 - size);
                zr = inflate(&z, Z_NO_FLUSH);
                size = (size_t) (z.next_out - (Bytef *) out->data);
                if (size > max) {
                        r = -E2BIG;
                        break;
                }
                if (zr == Z_STREAM_END)
                        break;
                if (zr == Z_MEM_ERROR) {
                        r = -ENOMEM;
                        break;
                }
                /* Z_BUF_ERROR with input left means no progress was possible: truncated. */
                if (zr != Z_OK || (z.avail_in == 0 && z.avail_out > 0)) {
                        r = -EBADMSG;
                        break;
                }
        }
        (void) inflateEnd(&z);
        if (r < 0)
                return r;
        out->data[size] = '\0';
        out->size = size;
        return 0;
}

/* Reads the kernel config into buf: proc config.gz, else boot config-RELEASE. Returns 0 and the
 * source name, -ENOENT when neither is readable, -ENOMEM. A corrupt config.gz is treated as
 * unreadable so that the boot copy still gets a chance. */
static int config_read(const ProcRoot *root, const char *release, ReadBuf *buf,
                       char **ret_source) {
        _cleanup_(read_buf_done) ReadBuf gz = READ_BUF_INIT;
        _cleanup_free_ char *name = NULL;
        char *source;
        int r;

        r = read_file_at(root->proc_fd, "config.gz", CONFIG_GZ_READ_MAX, &gz);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = gunzip(gz.data, gz.size, CONFIG_MAX, buf);
                if (r == -ENOMEM)
                        return r;
                if (r >= 0) {
                        source = strdup("proc/config.gz");
                        if (!source)
                                return -ENOMEM;
                        *ret_source = source;
                        return 0;
                }
        }

        if (root->boot_fd < 0)
                return -ENOENT;
        name = strjoin("config-", release);
        if (!name)
                return -ENOMEM;
        if (strchr(name, '/'))
                return -ENOENT;
        r = read_file_at(root->boot_fd, name, CONFIG_MAX, buf);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return -ENOENT;
        source = strjoin("boot/", name);
        if (!source)
                return -ENOMEM;
        *ret_source = source;
        return 0;
}

static void kernel_settings_free(KernelSetting *s, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(s[i].key);
                free(s[i].value);
        }
        free(s);
}

static int setting_compare(const void *a, const void *b) {
        return strcmp(((const KernelSetting *) a)->key, ((const KernelSetting *) b)->key);
}

typedef struct SettingList {
        KernelSetting *items;
        size_t n, allocated;
} SettingList;

static void setting_list_done(SettingList *l) {
        kernel_settings_free(l->items, l->n);
        *l = (SettingList) {};
}

/* Reads sys THP_DIR/rel as a choice file and appends it; unreadable files are skipped. */
static int setting_add(const ProcRoot *root, const char *rel, ReadBuf *buf, SettingList *l) {
        _cleanup_free_ char *path = NULL, *value = NULL, *key = NULL;
        int r;

        if (l->n >= KERNEL_SETTINGS_MAX)
                return 0;
        path = strjoin(THP_DIR "/", rel);
        if (!path)
                return -ENOMEM;
        r = read_file_at(root->sys_fd, path, SYSFS_READ_MAX, buf);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        r = sysfs_choice_parse(buf->data, buf->size, &value);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        key = strdup(path + STRLEN("kernel/mm/"));
        if (!key)
                return -ENOMEM;
        r = GREEDY_REALLOC(l->items, l->allocated, l->n + 1);
        if (r < 0)
                return r;
        l->items[l->n++] = (KernelSetting) { .key = TAKE_PTR(key), .value = TAKE_PTR(value) };
        return 0;
}


typedef struct MthpWalk {
        const ProcRoot *root;
        ReadBuf *buf;
        SettingList *list;
} MthpWalk;

/* dir_foreach() callback: the enabled and shmem_enabled settings of one "hugepages-<N>kB"
 * directory of THP_DIR. */
static int mthp_size_add(const struct dirent *de, void *userdata) {
        const MthpWalk *w = userdata;
        const char *name = de->d_name;
        size_t len = strlen(name);
        uint64_t kb;
        int r;

        if (len <= STRLEN("hugepages-kB") || !startswith(name, "hugepages-") ||
            strcmp(name + len - STRLEN("kB"), "kB") != 0 ||
            parse_u64_token(name + STRLEN("hugepages-"), len - STRLEN("hugepages-kB"), &kb) < 0)
                return 0;

        for (size_t i = 0; i < 2; i++) {
                static const char *const files[] = { "enabled", "shmem_enabled" };
                char rel[300];

                (void) snprintf(rel, sizeof rel, "%s/%s", de->d_name, files[i]);
                r = setting_add(w->root, rel, w->buf, w->list);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Fills *ret with the THP settings under the sys root, sorted by key; none when the sys root or
 * THP is absent. */
static int thp_settings_read(const ProcRoot *root, ReadBuf *buf, SettingList *ret) {
        _cleanup_(setting_list_done) SettingList l = {};
        int r;

        if (root->sys_fd < 0) {
                *ret = l;
                return 0;
        }
        for (size_t i = 0; i < 3; i++) {
                static const char *const files[] = { "enabled", "defrag", "shmem_enabled" };

                r = setting_add(root, files[i], buf, &l);
                if (r < 0)
                        return r;
        }

        r = dir_foreach(root->sys_fd, THP_DIR, mthp_size_add,
                        &(MthpWalk) { .root = root, .buf = buf, .list = &l });
        if (r < 0 && r != -ENOENT && r != -ENOTDIR && r != -EACCES)
                return r;

        if (l.n > 1)
                qsort(l.items, l.n, sizeof *l.items, setting_compare);
        *ret = TAKE_STRUCT(l);
        return 0;
}

void kernel_id_done(KernelId *k) {
        if (!k)
                return;
        free(k->release);
        free(k->version);
        free(k->boot_id);
        free(k->config_source);
        free(k->config_lines);
        free(k->hostname);
        free(k->machine_id);
        kernel_settings_free(k->settings, k->n_settings);
        *k = (KernelId) { .mapcount_mode = MAPCOUNT_MODE_UNKNOWN };
}

/* machine-id(5): 32 lowercase hexadecimal characters. */
static bool machine_id_is_valid(const char *s) {
        return s && strlen(s) == 32 && strspn(s, "0123456789abcdef") == 32;
}

/* The host name and machine id, each left NULL when unreadable or malformed. -ENOMEM only. */
static int host_read(const ProcRoot *root, KernelId *k) {
        int r;

        r = read_line_at(root->proc_fd, "sys/kernel/hostname", &k->hostname);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || isempty(k->hostname))
                k->hostname = mfree(k->hostname);
        if (root->etc_fd < 0)
                return 0;
        r = read_line_at(root->etc_fd, "machine-id", &k->machine_id);
        if (r == -ENOMEM)
                return r;
        if (r < 0 || !machine_id_is_valid(k->machine_id))
                k->machine_id = mfree(k->machine_id);
        return 0;
}

int kernel_id_read(const ProcRoot *root, KernelId *ret) {
        _cleanup_(kernel_id_done) KernelId k = { .mapcount_mode = MAPCOUNT_MODE_UNKNOWN };
        _cleanup_(read_buf_done) ReadBuf buf = READ_BUF_INIT;
        SettingList settings = {};
        MapcountProbe probe;
        int r;

        r = kernel_id_read_quick(root, &k.release, &k.boot_id);
        if (r < 0)
                return r;

        r = read_line_at(root->proc_fd, "version", &k.version);
        if (r == -ENOMEM)
                return r;

        r = host_read(root, &k);
        if (r < 0)
                return r;

        r = page_size_read(root, &buf, &k.page_size);
        if (r < 0)
                return r;

        r = config_read(root, k.release, &buf, &k.config_source);
        if (r == -ENOMEM)
                return r;
        if (r >= 0) {
                r = mapcount_mode_from_config(buf.data, buf.size, k.release, &k.mapcount_mode,
                                              &k.config_lines);
                if (r == -ENOMEM)
                        return r;
        } else {
                unsigned major, minor;

                /* Without a config only kernels older than 6.15 are known: the option did not
                 * exist, so they are PAGE. */
                if (kernel_release_parse(k.release, &major, &minor) >= 0 &&
                    (major < 6 || (major == 6 && minor < 15)))
                        k.mapcount_mode = MAPCOUNT_MODE_PAGE;
        }

        r = thp_settings_read(root, &buf, &settings);
        if (r < 0)
                return r;
        k.settings = settings.items;
        k.n_settings = settings.n;
        k.cgroup_layout = cgroup_layout_detect(root);

        /* The config says what was built, the probe what runs: trust the probe. */
        k.config_mode = k.mapcount_mode;
        mapcount_probe_run(root, &probe);
        k.probe_mode = probe.mode;
        k.probe_detail = probe.mode != MAPCOUNT_MODE_UNKNOWN ? probe_method_to_string(probe.method)
                                                             : probe.why;
        if (probe.mode != MAPCOUNT_MODE_UNKNOWN)
                k.mapcount_mode = probe.mode;

        *ret = k;
        k = (KernelId) {};
        return 0;
}
