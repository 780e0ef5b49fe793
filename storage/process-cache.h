/* Internal to storage/: the processes of one sweep, keyed by PID and start time, with the row ids
 * and the strings their rows hold (packed). The writer keeps the previous sweep's cache to
 * recognise a known, unchanged process without a lookup statement, and fills the next one as
 * it goes; the two are swapped at commit. Open addressing; no deletion (entries taken from the
 * previous cache are left behind as tombstones, and the whole cache is dropped at the swap). */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct CachedProcess {
        int64_t pid;                    /* -1: empty slot */
        uint64_t start_time_ticks;
        int64_t process_id, identity_id;
        char *packed;                   /* owned; NULL once taken */
        size_t packed_len;
} CachedProcess;

typedef struct ProcessCache {
        int64_t epoch_id;               /* what the entries belong to; 0 = not loaded */
        CachedProcess *slots;
        size_t n_slots;                 /* 0 or a power of two */
        size_t n_used;
} ProcessCache;

/* Packs the strings that identify a process row (NULL and "" differ) into a buffer (grown with
 * realloc; the caller owns *buf and *size). Returns the packed length or -ENOMEM. */
int process_pack(char **buf, size_t *size, const char *const fields[], size_t n_fields);

/* Finds pid/start whose packed strings equal packed[0..len). On success hands the entry's
 * string buffer to *ret_packed (caller owns it), fills the ids and returns 1; 0 when absent or
 * changed. */
int process_cache_take(ProcessCache *c, int64_t pid, uint64_t start_time_ticks,
                       const char *packed, size_t len, int64_t *ret_process_id,
                       int64_t *ret_identity_id, char **ret_packed);

/* Adds an entry; takes ownership of packed (freed on failure too). -ENOMEM. */
int process_cache_put(ProcessCache *c, int64_t pid, uint64_t start_time_ticks, int64_t process_id,
                      int64_t identity_id, char *packed, size_t len);

/* Frees every entry, keeps the slot array for reuse; epoch_id becomes 0. */
void process_cache_clear(ProcessCache *c);
void process_cache_done(ProcessCache *c);
