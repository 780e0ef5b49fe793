/* The sweep writer: one transaction per sweep; per process an identity row (written only when
 * new or changed), a process row (likewise; the previous sweep's rows are recognised in memory),
 * the sample with its pagemap counts, unknown fields and reconstruction; meminfo; and at commit
 * the per-identity aggregates (aggregate.c) and the sweep's summary. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "aggregate.h"
#include "alloc-util.h"
#include "macro.h"
#include "schema.h"
#include "store-internal.h"
#include "store.h"

int64_t store_sweep_open_id(const Store *s) {
        return s->sweep_id;
}

int store_sweep_begin(Store *s, int64_t epoch_id, uint64_t start_usec) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        assert(s);

        if (s->sweep_id > 0)
                return -EBUSY;
        if (epoch_id <= 0)
                return -EINVAL;
        if (start_usec > INT64_MAX)
                return -ERANGE;
        r = store_check_file(s);
        if (r < 0)
                return r;

        r = store_run(s, STORE_STMT_BEGIN);
        if (r < 0)
                return r;

        r = store_statement(s, STORE_STMT_SWEEP_INSERT, &st);
        if (r >= 0)
                r = store_bind_int64(s, st, 1, epoch_id);
        if (r >= 0)
                r = store_bind_uint64(s, st, 2, start_usec);
        if (r >= 0)
                r = store_step(s, st);
        if (r < 0) {
                store_rollback(s);
                return r;
        }

        s->sweep_id = sqlite3_last_insert_rowid(s->db);
        s->sweep_epoch_id = epoch_id;
        r = store_runs_begin(s);
        if (r < 0) {
                store_rollback(s);
                s->sweep_id = s->sweep_epoch_id = 0;
                return r;
        }
        s->n_rows = 0;
        s->n_pagemaps = 0;
        s->n_truths = 0;
        s->n_rows_indexed = 0;
        process_cache_clear(&s->cache_next);
        s->sweep_start_usec = start_usec;
        s->sweep_error = 0;
        return 0;
}

/* Binds key, comm, exe, cmdline, unit to parameters 1-5 of an identity statement. */
static int store_bind_identity(Store *s, sqlite3_stmt *st, const ProcSample *p,
                               const char *identity_key) {
        int r;

        if ((r = store_bind_text(s, st, 1, identity_key)) < 0 ||
            (r = store_bind_text(s, st, 2, p->comm)) < 0 ||
            (r = store_bind_text(s, st, 3, p->exe)) < 0 ||
            (r = store_bind_text(s, st, 4, p->cmdline)) < 0 ||
            (r = store_bind_text(s, st, 5, p->unit)) < 0)
                return r;
        return 0;
}

/* Steps a bound statement whose first column is a row id (a lookup, or RETURNING id); returns
 * 1 with the id, 0 when it yields no row. */
static int store_find_id(Store *s, sqlite3_stmt *st, int64_t *ret) {
        int r;

        r = store_step(s, st);
        if (r <= 0)
                return r;
        *ret = sqlite3_column_int64(st, 0);
        return 1;
}

static int store_upsert_identity(Store *s, const ProcSample *p, const char *identity_key,
                                 int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *find = NULL, *st = NULL;
        int r;

        r = store_statement(s, STORE_STMT_IDENTITY_FIND, &find);
        if (r < 0)
                return r;
        r = store_bind_identity(s, find, p, identity_key);
        if (r < 0)
                return r;
        r = store_find_id(s, find, ret);
        if (r != 0)
                return r < 0 ? r : 0;

        r = store_statement(s, STORE_STMT_IDENTITY_UPSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_identity(s, st, p, identity_key)) < 0 ||
            (r = store_bind_uint64(s, st, 6, s->sweep_start_usec)) < 0)
                return r;
        r = store_find_id(s, st, ret);
        if (r == 0)
                return -EIO;    /* RETURNING always yields the row */
        return r < 0 ? r : 0;
}

/* Binds the nine parameters shared by the process lookup and upsert. */
static int store_bind_process(Store *s, sqlite3_stmt *st, const ProcSample *p,
                              int64_t identity_id) {
        int r;

        if ((r = store_bind_int64(s, st, 1, s->sweep_epoch_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, p->pid)) < 0 ||
            (r = store_bind_uint64(s, st, 3, p->start_time_ticks)) < 0 ||
            (r = store_bind_int64(s, st, 4, identity_id)) < 0 ||
            (r = store_bind_text(s, st, 5, p->comm)) < 0 ||
            (r = store_bind_text(s, st, 6, p->exe)) < 0 ||
            (r = store_bind_text(s, st, 7, p->cmdline)) < 0 ||
            (r = store_bind_text(s, st, 8, p->cgroup)) < 0 ||
            (r = store_bind_text(s, st, 9, p->unit)) < 0)
                return r;
        return 0;
}

static int store_upsert_process(Store *s, const ProcSample *p, int64_t identity_id,
                                int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        r = store_statement(s, STORE_STMT_PROCESS_UPSERT, &st);
        if (r < 0)
                return r;
        r = store_bind_process(s, st, p, identity_id);
        if (r < 0)
                return r;
        r = store_find_id(s, st, ret);
        if (r == 0)
                return -EIO;    /* RETURNING always yields the row */
        return r < 0 ? r : 0;
}

/* The process_samples row (with the pagemap columns when the process was scanned) and its
 * process_extra rows, or the extension of the process's run (store-runs.c); *ret_run is the
 * row's first sweep. */
static int store_insert_sample(Store *s, const ProcSample *p, int64_t process_id,
                               int64_t *ret_run) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        const SmapsRollup *rollup = &p->rollup;
        int r;

        r = store_sample_extend(s, p, process_id, ret_run);
        if (r != 0)
                return r < 0 ? r : 0;
        *ret_run = s->sweep_id;

        r = store_statement(s, p->has_pagemap ? STORE_STMT_SAMPLE_PAGEMAP_INSERT :
                                                STORE_STMT_SAMPLE_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, process_id)) < 0 ||
            (r = store_bind_int64(s, st, 3, rollup->present)) < 0 ||
            (r = p->reused_sweep_id > 0 ? store_bind_int64(s, st, 4, p->reused_sweep_id) :
                                          store_bind_null(s, st, 4)) < 0)
                return r;
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                r = smaps_rollup_has(rollup, f) ? store_bind_uint64(s, st, 5 + f, rollup->kb[f]) :
                                                  store_bind_null(s, st, 5 + f);
                if (r < 0)
                        return r;
        }
        if (p->has_pagemap) {
                r = store_bind_int64(s, st, 5 + _SMAPS_FIELD_MAX, p->pagemap.truncated);
                if (r < 0)
                        return r;
                r = schema_bind_pagemap(s, st, 6 + _SMAPS_FIELD_MAX, p->pagemap.class);
                if (r < 0)
                        return r;
        }
        r = store_step(s, st);
        if (r < 0)
                return r;

        for (size_t i = 0; i < rollup->n_extra; i++) {
                _cleanup_reset_ sqlite3_stmt *ex = NULL;
                const SmapsExtra *e = rollup->extra + i;
                int rc;

                r = store_statement(s, STORE_STMT_EXTRA_INSERT, &ex);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, ex, 1, s->sweep_id)) < 0 ||
                    (r = store_bind_int64(s, ex, 2, process_id)) < 0 ||
                    (r = store_bind_uint64(s, ex, 4, e->kb)) < 0)
                        return r;
                rc = sqlite3_bind_text(ex, 3, e->name, (int) strnlen(e->name, SMAPS_NAME_MAX),
                                       SQLITE_STATIC);
                r = rc != SQLITE_OK ? store_error(s, rc) : store_step(s, ex);
                if (r < 0) {
                        /* The sample row is in: without all its fields the sweep is wrong. */
                        s->sweep_error = r;
                        return r;
                }
        }
        return 0;
}

static int store_sweep_row_add(Store *s, const ProcSample *p, int64_t identity_id,
                               int64_t process_id, int64_t run_sweep_id, bool known) {
        SweepRow *row;
        int r;

        /* Row indices are int32_t and the index stores them + 1 in a uint32_t. */
        if (s->n_rows >= INT32_MAX)
                return -E2BIG;
        r = GREEDY_REALLOC(s->rows, s->allocated_rows, s->n_rows + 1);
        if (r < 0)
                return r;
        /* A scan cut short is stored with the sample (flagged) but not summed: the identity's
         * figures would look complete while missing pages. */
        bool complete = p->has_pagemap && !p->pagemap.truncated;

        if (complete) {
                r = GREEDY_REALLOC(s->pagemaps, s->allocated_pagemaps, s->n_pagemaps + 1);
                if (r < 0)
                        return r;
        }

        row = s->rows + s->n_rows++;
        *row = (SweepRow) {
                .identity_id = identity_id,
                .process_id = process_id,
                .start_time_ticks = p->start_time_ticks,
                .pid = p->pid,
                .present = p->rollup.present,
                .pagemap = -1,
                .truth = -1,
                .reused = p->reused_sweep_id > 0,
                .run_sweep_id = run_sweep_id,
                .unchanged = known && run_sweep_id != s->sweep_id,
        };
        memcpy(row->kb, p->rollup.kb, sizeof row->kb);
        if (complete) {
                row->pagemap = (int32_t) s->n_pagemaps;
                memcpy(s->pagemaps[s->n_pagemaps++], p->pagemap.class, sizeof *s->pagemaps);
        }
        return 0;
}

/* Packs the strings a process row and its identity key hold, for the cache. */
static int store_pack_process(Store *s, const ProcSample *p, const char *identity_key) {
        const char *const fields[] = { p->comm, p->exe, p->cmdline, p->cgroup, p->unit,
                                       identity_key };

        return process_pack(&s->pack, &s->pack_size, fields, ELEMENTSOF(fields));
}

/* Fills the previous-sweep cache from the database when it does not describe this epoch (first
 * sweep of this process, or after an abort). */
static int store_cache_load(Store *s) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        if (s->cache_prev.epoch_id == s->sweep_epoch_id)
                return 0;
        process_cache_clear(&s->cache_prev);

        r = store_statement(s, STORE_STMT_PROCESS_LOAD, &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, s->sweep_previous_id);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                const char *fields[6];
                char *copy;

                for (int i = 0; i < 6; i++)
                        fields[i] = (const char *) sqlite3_column_text(st, 4 + i);
                r = process_pack(&s->pack, &s->pack_size, fields, ELEMENTSOF(fields));
                if (r < 0)
                        return r;
                copy = memdup(s->pack, (size_t) r);
                if (!copy)
                        return -ENOMEM;
                r = process_cache_put(&s->cache_prev, sqlite3_column_int64(st, 0),
                                      (uint64_t) sqlite3_column_int64(st, 1),
                                      sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                      copy, (size_t) r);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        s->cache_prev.epoch_id = s->sweep_epoch_id;
        return 0;
}

int store_sweep_add_process(Store *s, const ProcSample *p, const char *identity_key) {
        int64_t identity_id = 0, process_id = 0, run_sweep_id = 0;
        _cleanup_free_ char *packed = NULL;
        bool known;
        size_t packed_len;
        int r;

        assert(s);
        assert(p);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        if (!identity_key || p->rollup.n_extra > SMAPS_EXTRA_MAX)
                return -EINVAL;

        /* No savepoint per process: it would double the statements of the sweep. A failed
         * statement is undone by SQLite on its own; identity and process rows written before a
         * failure are harmless (nothing refers to them); a failure after the sample row was
         * written makes the sweep fail as a whole (store_insert_sample()). */
        /* On the first add rather than at begin: with a pipelined sweep it runs while the
         * processes are still being read. */
        r = store_cache_load(s);
        if (r < 0)
                return store_sweep_failed(s, r);
        r = store_pack_process(s, p, identity_key);
        if (r < 0)
                return r;
        packed_len = (size_t) r;
        r = process_cache_take(&s->cache_prev, p->pid, p->start_time_ticks, s->pack, packed_len,
                               &process_id, &identity_id, &packed);
        known = r > 0;          /* the same process row and identity as in the last sweep */
        if (r == 0) {
                r = store_upsert_identity(s, p, identity_key, &identity_id);
                if (r >= 0)
                        r = store_upsert_process(s, p, identity_id, &process_id);
                if (r >= 0) {
                        packed = memdup(s->pack, packed_len);
                        if (!packed)
                                r = -ENOMEM;
                }
        }
        if (r >= 0)
                r = store_insert_sample(s, p, process_id, &run_sweep_id);
        if (r < 0)
                return store_sweep_failed(s, r);
        r = store_sweep_row_add(s, p, identity_id, process_id, run_sweep_id, known);
        if (r < 0) {
                s->sweep_error = r;     /* the sample row is in but would miss its aggregate */
                return r;
        }
        /* Only an optimization: a process missing from the cache is looked up next time. */
        (void) process_cache_put(&s->cache_next, p->pid, p->start_time_ticks, process_id,
                                 identity_id, TAKE_PTR(packed), packed_len);
        return 0;
}

int store_sweep_add_meminfo(Store *s, const Meminfo *m) {
        int r;

        assert(s);
        assert(m);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        if (m->n > MEMINFO_MAX)
                return -EINVAL;

        r = store_run(s, STORE_STMT_SAVEPOINT);
        if (r < 0)
                return store_sweep_failed(s, r);
        for (size_t i = 0; r >= 0 && i < m->n; i++) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;
                const MeminfoField *f = m->fields + i;
                int rc;

                r = store_statement(s, STORE_STMT_MEMINFO_INSERT, &st);
                if (r < 0)
                        break;
                rc = sqlite3_bind_text(st, 2, f->name, (int) strnlen(f->name, MEMINFO_NAME_MAX),
                                       SQLITE_STATIC);
                if (rc != SQLITE_OK) {
                        r = store_error(s, rc);
                        break;
                }
                if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
                    (r = store_bind_uint64(s, st, 3, f->value)) < 0 ||
                    (r = store_bind_int64(s, st, 4, f->is_kb)) < 0)
                        break;
                r = store_step(s, st);
        }
        return store_savepoint_end(s, r);
}

static size_t row_slot_hash(int64_t pid, uint64_t start_time_ticks, size_t mask) {
        uint64_t h = ((uint64_t) pid ^ (start_time_ticks << 22)) * UINT64_C(0x9E3779B97F4A7C15);

        return (size_t) (h >> 32) & mask;
}

/* Finds the open sweep's row of pid/start. The index is built on the first call of a sweep and
 * extended by the rows added since the last call; rows keep their order until the commit, so
 * slots stay valid. Returns 1 with *ret, 0 when no such row, -ENOMEM. */
static int store_sweep_row_find(Store *s, int64_t pid, uint64_t start_time_ticks,
                                SweepRow **ret) {
        size_t mask;

        if (s->n_row_slots < 2 * s->n_rows || s->n_rows_indexed == 0) {
                size_t n = MAX(s->n_row_slots, (size_t) 256);
                uint32_t *slots;

                while (n < 2 * s->n_rows)
                        n *= 2;
                if (n != s->n_row_slots) {
                        slots = reallocarray(s->row_slots, n, sizeof *slots);
                        if (!slots)
                                return -ENOMEM;
                        s->row_slots = slots;
                        s->n_row_slots = n;
                }
                memset(s->row_slots, 0, s->n_row_slots * sizeof *s->row_slots);
                s->n_rows_indexed = 0;
        }
        mask = s->n_row_slots - 1;
        for (; s->n_rows_indexed < s->n_rows; s->n_rows_indexed++) {
                const SweepRow *row = s->rows + s->n_rows_indexed;
                size_t i = row_slot_hash(row->pid, row->start_time_ticks, mask);

                while (s->row_slots[i] != 0)
                        i = (i + 1) & mask;
                s->row_slots[i] = (uint32_t) s->n_rows_indexed + 1;
        }

        for (size_t i = row_slot_hash(pid, start_time_ticks, mask); s->row_slots[i] != 0;
             i = (i + 1) & mask) {
                SweepRow *row = s->rows + s->row_slots[i] - 1;

                if (row->pid == pid && row->start_time_ticks == start_time_ticks) {
                        *ret = row;
                        return 1;
                }
        }
        return 0;
}

int store_sweep_add_truth(Store *s, pid_t pid, uint64_t start_time_ticks, const ProcessTruth *t) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        SweepRow *row;
        int r;

        assert(s);
        assert(t);

        r = store_sweep_check(s);
        if (r < 0)
                return r;
        r = store_sweep_row_find(s, pid, start_time_ticks, &row);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        /* Before the insert, so that a written row always gets its place in the sums. */
        r = GREEDY_REALLOC(s->truths, s->allocated_truths, s->n_truths + 1);
        if (r < 0)
                return r;

        /* A reconstruction belongs to one sweep: its sample leaves a run it extended. */
        if (row->run_sweep_id != s->sweep_id) {
                r = store_sample_split(s, row);
                if (r < 0)
                        return store_sweep_failed(s, r);
        }

        /* One statement: SQLite undoes it alone if it fails (a second truth for the same
         * process violates the primary key, -EIO), and the row stays as it was. */
        r = store_statement(s, STORE_STMT_TRUTH_INSERT, &st);
        if (r < 0)
                return store_sweep_failed(s, r);
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, row->process_id)) < 0 ||
            (r = schema_bind_truth(s, st, 3, t)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return store_sweep_failed(s, r);

        row->truth = (int32_t) s->n_truths;
        s->truths[s->n_truths++] = *t;
        return 0;
}

/* The per-identity aggregates of the open sweep, from the rows kept in memory. */
static int store_sweep_aggregate(Store *s) {
        int r;

        r = GREEDY_REALLOC(s->scratch, s->allocated_scratch, s->n_rows);
        if (r < 0)
                return r;
        sweep_rows_sort(s->rows, s->n_rows);
        for (size_t i = 0, j; i < s->n_rows; i = j) {
                IdentityAggregate a;
                bool extended = true;

                j = sweep_rows_group_end(s->rows, s->n_rows, i);
                identity_aggregate(s->rows + i, j - i, s->pagemaps, s->truths, s->scratch, &a);
                for (size_t k = i; k < j && extended; k++)
                        extended = s->rows[k].unchanged;
                r = store_identity_sample_write(s, &a, extended);
                if (r < 0)
                        return r;
        }

        /* The epoch is marked seen in the sweep's transaction rather than in one of its own. */
        _cleanup_reset_ sqlite3_stmt *epoch = NULL;
        r = store_statement(s, STORE_STMT_EPOCH_TOUCH, &epoch);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, epoch, 1, s->sweep_epoch_id)) < 0 ||
            (r = store_bind_uint64(s, epoch, 2, s->sweep_start_usec)) < 0)
                return r;
        r = store_step(s, epoch);
        return r < 0 ? r : 0;
}

static int store_sweep_finish(Store *s, const SweepSummary *summary) {
        _cleanup_reset_ sqlite3_stmt *fin = NULL;
        int r;

        r = store_sweep_aggregate(s);
        if (r < 0)
                return r;
        r = store_runs_merge_host(s);
        if (r < 0)
                return r;

        r = store_statement(s, STORE_STMT_SWEEP_FINISH, &fin);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, fin, 1, s->sweep_id)) < 0 ||
            (r = store_bind_uint64(s, fin, 2, summary->duration_usec)) < 0 ||
            (r = store_bind_int64(s, fin, 3, summary->sampled)) < 0 ||
            (r = store_bind_int64(s, fin, 4, summary->skipped)) < 0 ||
            (r = store_bind_int64(s, fin, 5, summary->vanished)) < 0 ||
            (r = store_bind_int64(s, fin, 6, summary->denied)) < 0 ||
            (r = store_bind_int64(s, fin, 7, summary->malformed)) < 0 ||
            (r = store_bind_int64(s, fin, 8, summary->pagemap_truncated)) < 0 ||
            (r = store_bind_int64(s, fin, 9, summary->pagemap_failed)) < 0 ||
            (r = store_bind_int64(s, fin, 10, summary->reused)) < 0)
                return r;
        r = store_step(s, fin);
        if (r < 0)
                return r;

        return store_run(s, STORE_STMT_COMMIT);
}

int64_t store_sweep_commit(Store *s, const SweepSummary *summary) {
        int64_t id;
        int r;

        assert(s);
        assert(summary);

        r = store_sweep_check(s);
        if (r == -EINVAL)
                return r;
        if (r >= 0)
                r = store_sweep_finish(s, summary);
        if (r < 0) {
                store_sweep_abort(s);
                return r;
        }

        id = s->sweep_id;
        /* This sweep's processes are what the next sweep compares with. */
        ProcessCache t = s->cache_prev;
        s->cache_prev = s->cache_next;
        s->cache_prev.epoch_id = s->sweep_epoch_id;
        s->cache_next = t;
        process_cache_clear(&s->cache_next);
        s->sweep_id = 0;
        s->sweep_epoch_id = 0;
        s->sweep_start_usec = 0;
        return id;
}

void store_sweep_abort(Store *s) {
        if (!s)
                return;

        if (s->sweep_id > 0)
                store_rollback(s);
        /* Rows the cache names may have been rolled back: start over from the database. */
        process_cache_clear(&s->cache_prev);
        process_cache_clear(&s->cache_next);
        store_stat_names_clear(s);
        s->sweep_id = 0;
        s->sweep_epoch_id = 0;
        s->sweep_start_usec = 0;
        s->sweep_error = 0;
}

