/* The last read of each process, for the steady state (reuse.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "reuse.h"

static void read_entry_done(ReadEntry *e) {
        free(e->exe);
        free(e->cmdline);
        free(e->cgroup);
        free(e->memory_cgroup);
        free(e->unit);
}

static void read_entries_clear(ReadEntry *entries, size_t *n) {
        for (size_t i = 0; i < *n; i++)
                read_entry_done(entries + i);
        *n = 0;
}

void read_table_begin(ReadTable *t, int64_t epoch_id) {
        read_entries_clear(t->next, &t->n_next);
        if (t->epoch_id != epoch_id)
                read_entries_clear(t->last, &t->n_last);
        t->epoch_id = epoch_id;
        t->cursor = 0;
}

/* Copies the strings; on failure *dst holds those copied so far (freed by its owner). */
static int strings_copy(char **dst[], char *const src[], size_t n) {
        for (size_t i = 0; i < n; i++) {
                *dst[i] = NULL;
                if (src[i] && !(*dst[i] = strdup(src[i])))
                        return -ENOMEM;
        }
        return 0;
}

/* The entry of the last sweep for s->pid and its start time, moving the cursor up to it. */
static ReadEntry *read_table_find(ReadTable *t, const ProcSample *s) {
        while (t->cursor < t->n_last && t->last[t->cursor].pid < s->pid)
                t->cursor++;
        if (t->cursor >= t->n_last)
                return NULL;
        ReadEntry *e = t->last + t->cursor;
        return e->pid == s->pid && e->start_time_ticks == s->start_time_ticks ? e : NULL;
}

int read_table_reuse(ReadTable *t, ProcSample *s, uint64_t not_before_usec, bool want_pagemap) {
        const ReadEntry *e = read_table_find(t, s);
        int r;

        if (!e || !proc_signal_equal(&e->signal, &s->signal) || e->read_usec < not_before_usec ||
            e->has_pagemap != want_pagemap)
                return 0;

        r = strings_copy((char **[]) { &s->exe, &s->cmdline, &s->cgroup, &s->memory_cgroup,
                                       &s->unit },
                         (char *const[]) { e->exe, e->cmdline, e->cgroup, e->memory_cgroup,
                                           e->unit }, 5);
        if (r < 0)
                return r;
        s->reused_sweep_id = e->sweep_id;
        s->rollup = (SmapsRollup) { .present = e->present };
        memcpy(s->rollup.kb, e->kb, sizeof e->kb);
        s->has_pagemap = e->has_pagemap;
        s->pagemap = (PagemapCounts) {};
        memcpy(s->pagemap.class, e->pagemap, sizeof e->pagemap);
        return 1;
}

int read_table_record(ReadTable *t, const ProcSample *s, int64_t sweep_id, uint64_t read_usec) {
        ReadEntry *e;
        int r;

        if (!s->signal.valid || s->rollup.n_extra > 0 || (s->has_pagemap && s->pagemap.truncated))
                return 0;
        if (s->reused_sweep_id > 0) {
                /* Reused in this walk: read_table_reuse() left the cursor on its entry. */
                const ReadEntry *from = read_table_find(t, s);

                if (!from)
                        return 0;
                sweep_id = from->sweep_id;
                read_usec = from->read_usec;
        }

        r = GREEDY_REALLOC(t->next, t->allocated_next, t->n_next + 1);
        if (r < 0)
                return r;
        e = t->next + t->n_next;
        *e = (ReadEntry) {
                .pid = s->pid,
                .start_time_ticks = s->start_time_ticks,
                .signal = s->signal,
                .sweep_id = sweep_id,
                .read_usec = read_usec,
                .present = s->rollup.present,
                .has_pagemap = s->has_pagemap,
        };
        memcpy(e->kb, s->rollup.kb, sizeof e->kb);
        memcpy(e->pagemap, s->pagemap.class, sizeof e->pagemap);
        r = strings_copy((char **[]) { &e->exe, &e->cmdline, &e->cgroup, &e->memory_cgroup,
                                       &e->unit },
                         (char *const[]) { s->exe, s->cmdline, s->cgroup, s->memory_cgroup,
                                           s->unit }, 5);
        if (r < 0) {
                read_entry_done(e);
                return r;
        }
        t->n_next++;
        return 0;
}

void read_table_commit(ReadTable *t) {
        ReadEntry *entries = t->last;
        size_t allocated = t->allocated_last;

        read_entries_clear(t->last, &t->n_last);
        t->last = t->next;
        t->n_last = t->n_next;
        t->allocated_last = t->allocated_next;
        t->next = entries;
        t->n_next = 0;
        t->allocated_next = allocated;
        t->cursor = 0;
}

void read_table_done(ReadTable *t) {
        read_entries_clear(t->last, &t->n_last);
        read_entries_clear(t->next, &t->n_next);
        free(t->last);
        free(t->next);
        *t = (ReadTable) {};
}
