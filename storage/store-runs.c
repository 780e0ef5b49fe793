/* Runs (schema.c, version 9): a process_samples or identity_samples row stands for every sweep
 * of its epoch from sweep_id to last_sweep_id. A sweep whose figures equal those of the row
 * ending at the epoch's previous sweep moves that row's last_sweep_id rather than adding a row,
 * so that an idle process or identity costs one row however many sweeps it sits through. The
 * comparison is exact, against the stored row: nothing is kept in memory across sweeps, and a
 * restarted daemon extends the runs its predecessor wrote. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <sqlite3.h>

#include "aggregate.h"
#include "macro.h"
#include "schema.h"
#include "store-internal.h"
#include "store.h"

/* Runs cached statements that return no rows in turn, each with the values it has
 * parameters for (store_bind_int64_list()). */
static int runs_statements(Store *s, const StoreStatement *ids, size_t n, const int64_t *values,
                           size_t n_values) {
        int r;

        for (size_t i = 0; i < n; i++) {
                _cleanup_reset_ sqlite3_stmt *st = NULL;

                r = store_statement(s, ids[i], &st);
                if (r < 0)
                        return r;
                r = store_step_bound(s, st, values, n_values, NULL);
                if (r < 0)
                        return r;
        }
        return 0;
}

int store_runs_begin(Store *s) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int r;

        s->sweep_previous_id = 0;
        r = store_statement(s, STORE_STMT_SWEEP_PREVIOUS, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_epoch_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, s->sweep_id)) < 0)
                return r;
        r = store_step(s, st);
        if (r > 0)
                s->sweep_previous_id = sqlite3_column_int64(st, 0);
        return r < 0 ? r : 0;
}

/* The columns of STORE_STMT_SAMPLE_LAST. */
enum {
        LAST_COL_SWEEP_ID,
        LAST_COL_PRESENT,
        LAST_COL_TRUNCATED,
        LAST_COL_SMAPS,
        LAST_COL_PAGEMAP = LAST_COL_SMAPS + _SMAPS_FIELD_MAX,
};

/* Whether the row st points at holds exactly p's figures. */
static bool sample_row_same(sqlite3_stmt *st, const ProcSample *p) {
        PagemapClassCounts pagemap[_VMA_CLASS_MAX];
        bool has_pagemap = sqlite3_column_type(st, LAST_COL_TRUNCATED) != SQLITE_NULL;

        if (store_column_uint64(st, LAST_COL_PRESENT) != p->rollup.present ||
            has_pagemap != p->has_pagemap)
                return false;
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++)
                if (smaps_rollup_has(&p->rollup, f) &&
                    (sqlite3_column_type(st, LAST_COL_SMAPS + f) == SQLITE_NULL ||
                     store_column_uint64(st, LAST_COL_SMAPS + f) != p->rollup.kb[f]))
                        return false;
        if (!has_pagemap)
                return true;
        if (store_column_int64(st, LAST_COL_TRUNCATED) != (p->pagemap.truncated ? 1 : 0))
                return false;
        schema_read_pagemap(st, LAST_COL_PAGEMAP, pagemap);
        return memcmp(pagemap, p->pagemap.class, sizeof pagemap) == 0;
}

static int sample_run_set_last(Store *s, int64_t run, int64_t process_id, int64_t last) {
        return runs_statements(s, (const StoreStatement[]) { STORE_STMT_SAMPLE_EXTEND }, 1,
                               (const int64_t[]) { run, process_id, last }, 3);
}

/* A reused sample: the run that holds its read is the one ending at the previous sweep, if any
 * (reuse is only from the last sweep's reads, which were all stored, and a read with unknown
 * fields is never reused). Spares the lookup of most samples of a steady sweep. */
static int sample_extend_reused(Store *s, const ProcSample *p, int64_t process_id,
                                int64_t *ret_run) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int changes, r;

        r = store_statement(s, STORE_STMT_SAMPLE_EXTEND_REUSED, &st);
        if (r < 0)
                return r;
        r = store_step_bound(s, st, (const int64_t[]) { process_id, s->sweep_previous_id,
                                                        s->sweep_id, p->reused_sweep_id }, 4,
                             &changes);
        if (r < 0)
                return r;
        if (changes == 0)
                return 0;
        *ret_run = p->reused_sweep_id;  /* or earlier: only compared with the open sweep */
        return 1;
}

int store_sample_extend(Store *s, const ProcSample *p, int64_t process_id, int64_t *ret_run) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int64_t run;
        int r;

        assert(s);
        assert(p);

        /* Fields this build does not know go to process_extra, which belongs to one sweep. */
        if (s->sweep_previous_id <= 0 || p->rollup.n_extra > 0)
                return 0;
        if (p->reused_sweep_id > 0)
                return sample_extend_reused(s, p, process_id, ret_run);

        r = store_statement(s, STORE_STMT_SAMPLE_LAST, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, process_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, s->sweep_previous_id)) < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0)
                return r;
        if (!sample_row_same(st, p))
                return 0;
        run = store_column_int64(st, LAST_COL_SWEEP_ID);
        sqlite3_reset(st);

        r = sample_run_set_last(s, run, process_id, s->sweep_id);
        if (r < 0)
                return r;
        *ret_run = run;
        return 1;
}

int store_sample_split(Store *s, SweepRow *row) {
        static const StoreStatement steps[] = { STORE_STMT_SAMPLE_SPLIT, STORE_STMT_SAMPLE_TRIM };
        int r;

        assert(s);
        assert(row);
        assert(row->run_sweep_id != s->sweep_id);

        r = runs_statements(s, steps, ELEMENTSOF(steps),
                            (const int64_t[]) { s->sweep_id, row->process_id,
                                                s->sweep_previous_id }, 3);
        if (r < 0)
                return r;
        row->run_sweep_id = s->sweep_id;
        row->unchanged = false;
        return 0;
}

/* Extends the identity's run ending at the previous sweep when it holds a's figures: 1 when
 * extended, 0 when a needs a row of its own. */
static int identity_sample_extend(Store *s, const IdentityAggregate *a, bool observed) {
        _cleanup_reset_ sqlite3_stmt *last = NULL, *st = NULL;
        IdentityAggregate stored;
        int64_t run;
        int r;

        if (s->sweep_previous_id <= 0)
                return 0;
        r = store_statement(s, STORE_STMT_IDENTITY_SAMPLE_LAST, &last);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, last, 1, a->identity_id)) < 0 ||
            (r = store_bind_int64(s, last, 2, s->sweep_previous_id)) < 0)
                return r;
        r = store_step(s, last);
        if (r <= 0)
                return r;
        run = store_column_int64(last, 0);
        schema_read_identity_aggregate(last, 1, &stored);
        if (!identity_aggregate_same(&stored, a))
                return 0;

        r = store_statement(s, STORE_STMT_IDENTITY_SAMPLE_EXTEND, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, run)) < 0 ||
            (r = store_bind_int64(s, st, 2, a->identity_id)) < 0 ||
            (r = store_bind_int64(s, st, 3, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 4, observed)) < 0 ||
            (r = store_bind_uint64(s, st, 5, a->reused_processes)) < 0)
                return r;
        r = store_step(s, st);
        return r < 0 ? r : 1;
}

int store_identity_sample_write(Store *s, const IdentityAggregate *a, bool members_extended) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        bool observed = !identity_aggregate_is_reused(a);
        int r;

        assert(s);
        assert(a);

        if (members_extended && s->sweep_previous_id > 0) {
                _cleanup_reset_ sqlite3_stmt *ext = NULL;
                int changes;

                r = store_statement(s, STORE_STMT_IDENTITY_SAMPLE_EXTEND_MEMBERS, &ext);
                if (r < 0)
                        return r;
                r = store_step_bound(s, ext, (const int64_t[]) {
                                        s->sweep_previous_id, a->identity_id, s->sweep_id,
                                        observed, a->reused_processes, a->processes }, 6,
                                     &changes);
                if (r < 0 || changes > 0)
                        return r < 0 ? r : 0;
        }

        r = identity_sample_extend(s, a, observed);
        if (r != 0)
                return r < 0 ? r : 0;

        r = store_statement(s, STORE_STMT_IDENTITY_SAMPLE_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, st, 1, s->sweep_id)) < 0 ||
            (r = store_bind_int64(s, st, 2, observed)) < 0 ||
            (r = schema_bind_identity_aggregate(s, st, 3, a)) < 0)
                return r;
        r = store_step(s, st);
        return r < 0 ? r : 0;
}

int store_runs_merge_host(Store *s) {
        static const StoreStatement steps[] = {
                STORE_STMT_MEMINFO_EXTEND, STORE_STMT_MEMINFO_MERGED_DELETE,
                STORE_STMT_CGROUP_EXTEND, STORE_STMT_CGROUP_MERGED_DELETE,
                STORE_STMT_THP_EXTEND, STORE_STMT_THP_MERGED_DELETE,
        };

        assert(s);

        if (s->sweep_previous_id <= 0)
                return 0;
        return runs_statements(s, steps, ELEMENTSOF(steps),
                               (const int64_t[]) { s->sweep_id, s->sweep_previous_id }, 2);
}
