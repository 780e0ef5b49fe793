/* The writer's in-memory cache of one sweep's processes (see process-cache.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "process-cache.h"

int process_pack(char **buf, size_t *size, const char *const fields[], size_t n_fields) {
        size_t need = 0, off = 0;

        for (size_t i = 0; i < n_fields; i++)
                need += fields[i] ? strlen(fields[i]) + 2 : 1;
        if (need > *size) {
                char *p = realloc(*buf, need);
                if (!p)
                        return -ENOMEM;
                *buf = p;
                *size = need;
        }
        /* NULL is one 0x00 byte; a string is 0x01, its bytes and a NUL: unambiguous. */
        for (size_t i = 0; i < n_fields; i++) {
                if (!fields[i]) {
                        (*buf)[off++] = 0;
                        continue;
                }
                size_t n = strlen(fields[i]);
                (*buf)[off++] = 1;
                memcpy(*buf + off, fields[i], n + 1);
                off += n + 1;
        }
        return (int) MIN(off, (size_t) INT32_MAX);
}

static size_t slot_of(const ProcessCache *c, int64_t pid, uint64_t start) {
        uint64_t h = (uint64_t) pid * 0x9E3779B97F4A7C15ULL ^ start * 0xC2B2AE3D27D4EB4FULL;

        return (size_t) (h ^ (h >> 29)) & (c->n_slots - 1);
}

int process_cache_take(ProcessCache *c, int64_t pid, uint64_t start_time_ticks,
                       const char *packed, size_t len, int64_t *ret_process_id,
                       int64_t *ret_identity_id, char **ret_packed) {
        if (c->n_slots == 0)
                return 0;
        for (size_t i = slot_of(c, pid, start_time_ticks);; i = (i + 1) & (c->n_slots - 1)) {
                CachedProcess *e = c->slots + i;

                if (e->pid < 0)
                        return 0;
                if (e->pid != pid || e->start_time_ticks != start_time_ticks)
                        continue;
                if (!e->packed || e->packed_len != len || memcmp(e->packed, packed, len) != 0)
                        return 0;
                *ret_process_id = e->process_id;
                *ret_identity_id = e->identity_id;
                *ret_packed = TAKE_PTR(e->packed);
                return 1;
        }
}

static int process_cache_grow(ProcessCache *c) {
        size_t n = c->n_slots ? c->n_slots * 2 : 256;
        CachedProcess *old = c->slots, *slots;
        size_t old_n = c->n_slots;

        slots = malloc(n * sizeof *slots);
        if (!slots)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                slots[i] = (CachedProcess) { .pid = -1 };
        c->slots = slots;
        c->n_slots = n;
        c->n_used = 0;
        for (size_t i = 0; i < old_n; i++) {
                if (old[i].pid < 0)
                        continue;
                size_t j = slot_of(c, old[i].pid, old[i].start_time_ticks);
                while (c->slots[j].pid >= 0)
                        j = (j + 1) & (c->n_slots - 1);
                c->slots[j] = old[i];
                c->n_used++;
        }
        free(old);
        return 0;
}

int process_cache_put(ProcessCache *c, int64_t pid, uint64_t start_time_ticks, int64_t process_id,
                      int64_t identity_id, char *packed, size_t len) {
        int r;

        /* At most half full, so probes stay short. */
        if ((c->n_used + 1) * 2 > c->n_slots) {
                r = process_cache_grow(c);
                if (r < 0) {
                        free(packed);
                        return r;
                }
        }
        size_t i = slot_of(c, pid, start_time_ticks);
        while (c->slots[i].pid >= 0) {
                CachedProcess *e = c->slots + i;
                if (e->pid == pid && e->start_time_ticks == start_time_ticks) {
                        free(e->packed);
                        *e = (CachedProcess) { pid, start_time_ticks, process_id, identity_id,
                                               packed, len };
                        return 0;
                }
                i = (i + 1) & (c->n_slots - 1);
        }
        c->slots[i] = (CachedProcess) { pid, start_time_ticks, process_id, identity_id, packed,
                                        len };
        c->n_used++;
        return 0;
}

void process_cache_clear(ProcessCache *c) {
        for (size_t i = 0; i < c->n_slots; i++) {
                free(c->slots[i].packed);
                c->slots[i] = (CachedProcess) { .pid = -1 };
        }
        c->n_used = 0;
        c->epoch_id = 0;
}

void process_cache_done(ProcessCache *c) {
        process_cache_clear(c);
        free(c->slots);
        *c = (ProcessCache) {};
}
