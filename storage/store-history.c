/* Downsampling (store_downsample()): history older than DownsampleAfter= keeps about one row
 * per step, an hour, and 6 hours beyond a day (store_downsample_history()). The runs
 * (store-runs.c) of one process, identity, meminfo field, cgroup or THP counter that begin
 * within a step and last less than one become one run over them (which may end in the next
 * step): gauges are averaged, weighted by the sweeps each run stood for; bit masks, flags,
 * cumulative counters and packed memory.stat take the last run's value. The newest
 * keep_per_epoch sweeps of every epoch, which comparisons read (README "Comparisons"), are
 * never downsampled: their figures stay the observations they were. A run as long as the step
 * is left as it is: it is one row already. Where each step's passes stopped is stored
 * (history_bounds), so that a restart goes on from there. */
#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "macro.h"
#include "schema.h"
#include "store-internal.h"
#include "store.h"

#define HISTORY_HOUR_USEC (UINT64_C(3600) * 1000000)
#define HISTORY_PASS_STEPS 2            /* steps of history one pass looks at, at least (a pass
                                         * moves on by one: the last step is looked at again) */
#define HISTORY_PASS_SWEEPS 120         /* and further while it has fewer sweeps than this */

/* How one table's runs are merged: its key (one or two columns), the columns averaged and the
 * columns taken from the hour's last run (NULL-terminated), whether it counts sweeps and
 * observations (summed), and which runs may merge at all. */
typedef struct HistoryTable {
        const char *table;
        const char *k1, *k2;            /* k2 NULL: a key of one column */
        const char *const *averaged;
        const char *const *last;
        bool counted;
        const char *filter;             /* " AND …" on the table's row t, or "" */
} HistoryTable;

#define HISTORY_NAME_(c) #c,
#define HISTORY_TRUTH_NAME_(f, c) #c,

static const char *const identity_averaged[] = {
        "processes", STORE_SMAPS_COLUMNS(HISTORY_NAME_) "median_rss_kb", "median_pss_kb",
        "pagemap_processes", STORE_PAGEMAP_COLUMNS(HISTORY_NAME_) "truth_processes",
        STORE_TRUTH_COLUMNS(HISTORY_TRUTH_NAME_) NULL,
};
static const char *const process_averaged[] = {
        STORE_SMAPS_COLUMNS(HISTORY_NAME_) STORE_PAGEMAP_COLUMNS(HISTORY_NAME_) NULL,
};
static const char *const cgroup_averaged[] = {
        "usage_kb", "anon_kb", "file_kb", "file_mapped_kb", "shmem_kb", "anon_thp_kb",
        "file_thp_kb", "shmem_thp_kb", "forecast_anon_kb", "forecast_file_mapped_kb", NULL,
};

static const HistoryTable history_tables[] = {
        {
                .table = "identity_samples", .k1 = "identity_id",
                .averaged = identity_averaged,
                .last = (const char *const[]) { "present", "reused_processes", NULL },
                .counted = true, .filter = "",
        },
        {
                /* rows with unknown fields or a reconstruction belong to their sweep */
                .table = "process_samples", .k1 = "process_id",
                .averaged = process_averaged,
                .last = (const char *const[]) { "present", "pagemap_truncated",
                                                "reused_sweep_id", NULL },
                .filter = " AND NOT EXISTS (SELECT 1 FROM process_extra e"
                          " WHERE e.sweep_id = t.sweep_id AND e.process_id = t.process_id)"
                          " AND NOT EXISTS (SELECT 1 FROM process_truth x"
                          " WHERE x.sweep_id = t.sweep_id AND x.process_id = t.process_id)",
        },
        {
                .table = "meminfo_samples", .k1 = "name",
                .averaged = (const char *const[]) { "value", NULL },
                .last = (const char *const[]) { "is_kb", NULL }, .filter = "",
        },
        {
                .table = "cgroup_samples", .k1 = "cgroup_id",
                .averaged = cgroup_averaged,
                .last = (const char *const[]) { "v1", "stat", NULL }, .filter = "",
        },
        {
                /* event counters: the hour's last value */
                .table = "thp_samples", .k1 = "size_kb", .k2 = "name",
                .averaged = (const char *const[]) { NULL },
                .last = (const char *const[]) { "value", NULL }, .filter = "",
        },
};

/* The runs that merge, per group (key, epoch, step): the run, its group's first and last run,
 * and the sweeps it stands for. In the connection's temp schema. */
static const char history_temp_sql[] =
        "CREATE TEMP TABLE IF NOT EXISTS history_runs (sweep_id INTEGER NOT NULL, k1, k2,"
        " first INTEGER NOT NULL, last INTEGER NOT NULL, n INTEGER NOT NULL);"
        "CREATE INDEX IF NOT EXISTS temp.history_runs_run ON history_runs (sweep_id, k1, k2);"
        "CREATE INDEX IF NOT EXISTS temp.history_runs_first ON history_runs (first, k1, k2);"
        "DELETE FROM temp.history_runs;";

/* Writes the SQL of one step for table h into f: the temp table's rows (?1 the cutoff, ?2
 * keep_per_epoch, ?3 the step, ?4 where to look from: runs that begin at or after ?4, end
 * before the cutoff, outside every epoch's newest ?2 sweeps, and last less than a step,
 * grouped by the step they begin in, in groups of more than one); the first run of each group
 * made the group's (averages, sums, end, last values); the others deleted. */
typedef enum HistoryStep {
        HISTORY_FIND,
        HISTORY_MERGE,
        HISTORY_LAST,
        HISTORY_DELETE,
        _HISTORY_STEP_MAX,
} HistoryStep;

static void history_keys(FILE *f, const HistoryTable *h, const char *a) {
        fprintf(f, "%s.%s", a, h->k1);
        if (h->k2)
                fprintf(f, ", %s.%s", a, h->k2);
}

/* a's key equals the temp row d's. */
static void history_key_match(FILE *f, const HistoryTable *h, const char *a) {
        fprintf(f, "%s.%s = d.k1", a, h->k1);
        if (h->k2)
                fprintf(f, " AND %s.%s = d.k2", a, h->k2);
}

/* "WHERE (sweep_id, key) IN (SELECT run, keys FROM the temp rows WHERE cond)", with the
 * sweep_id alone first, so that the rows are found through the primary key rather than by
 * testing every row of the table. */
static void history_rows_of(FILE *f, const HistoryTable *h, const char *run, const char *cond) {
        fprintf(f, " WHERE sweep_id IN (SELECT %s FROM temp.history_runs WHERE %s)"
                " AND (sweep_id, %s%s%s) IN (SELECT %s, k1%s FROM temp.history_runs"
                " WHERE %s)", run, cond, h->k1, h->k2 ? ", " : "", h->k2 ? h->k2 : "", run,
                h->k2 ? ", k2" : "", cond);
}

/* The end of an UPDATE of each group's first run from rows of its group: "FROM the temp rows d
 * JOIN the table (as a) on a's sweep = d.run WHERE d.outer = the updated row's sweep, keys
 * matching)", and the updated rows: the groups' first runs. */
static void history_group_tail(FILE *f, const HistoryTable *h, const char *a, const char *run,
                               const char *outer) {
        fprintf(f, " FROM temp.history_runs d JOIN %s %s ON %s.sweep_id = d.%s AND ", h->table,
                a, a, run);
        history_key_match(f, h, a);
        fprintf(f, " WHERE d.%s = %s.sweep_id AND ", outer, h->table);
        history_key_match(f, h, h->table);
        fprintf(f, ")");
        history_rows_of(f, h, "first", "sweep_id = first");
}

static void history_sql(FILE *f, const HistoryTable *h, HistoryStep step) {
        switch (step) {
        case HISTORY_FIND:
                fprintf(f, "INSERT INTO temp.history_runs SELECT c.sweep_id, c.k1, c.k2,"
                        " c.first, c.last, (SELECT count(*) FROM sweeps x WHERE x.id BETWEEN"
                        " c.sweep_id AND c.last_sweep_id AND +x.epoch_id = c.epoch_id)"
                        " FROM (SELECT t.sweep_id, t.last_sweep_id, wl.epoch_id,"
                        " t.%s AS k1, %s%s AS k2,"
                        " count(*) OVER g AS runs, first_value(t.sweep_id) OVER g AS first,"
                        " last_value(t.sweep_id) OVER g AS last"
                        " FROM %s t JOIN sweeps ws ON ws.id = t.sweep_id"
                        " JOIN sweeps wl ON wl.id = t.last_sweep_id"
                        /* the range of ws on sweeps_start drives the scan: runs by their
                         * first sweep, through the primary key */
                        " WHERE ws.start_usec >= ?4 AND ws.start_usec < ?1 AND wl.start_usec < ?1"
                        " AND wl.start_usec - ws.start_usec < ?3"
                        " AND t.last_sweep_id NOT IN (SELECT id FROM (SELECT id, row_number()"
                        " OVER (PARTITION BY epoch_id ORDER BY start_usec DESC, id DESC)"
                        " AS newest FROM sweeps) WHERE newest <= ?2)%s"
                        " WINDOW g AS (PARTITION BY ", h->k1, h->k2 ? "t." : "",
                        h->k2 ? h->k2 : "NULL", h->table, h->filter);
                history_keys(f, h, "t");
                fprintf(f, ", wl.epoch_id, ws.start_usec / ?3 ORDER BY t.sweep_id"
                        " ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS c"
                        " WHERE c.runs > 1");
                return;
        case HISTORY_MERGE:
                fprintf(f, "UPDATE %s SET (last_sweep_id%s", h->table,
                        h->counted ? ", sweeps, observations" : "");
                for (const char *const *c = h->averaged; *c; c++)
                        fprintf(f, ", %s", *c);
                fprintf(f, ") = (SELECT max(g.last_sweep_id)%s",
                        h->counted ? ", sum(g.sweeps), sum(g.observations)" : "");
                for (const char *const *c = h->averaged; *c; c++)
                        fprintf(f, ", CAST(round(sum(1.0 * g.%s * d.n) / sum(CASE WHEN g.%s"
                                " IS NULL THEN 0 ELSE d.n END)) AS INTEGER)", *c, *c);
                history_group_tail(f, h, "g", "sweep_id", "first");
                return;
        case HISTORY_LAST:
                fprintf(f, "UPDATE %s SET (", h->table);
                for (const char *const *c = h->last; *c; c++)
                        fprintf(f, "%s%s", c == h->last ? "" : ", ", *c);
                fprintf(f, ") = (SELECT ");
                for (const char *const *c = h->last; *c; c++)
                        fprintf(f, "%sz.%s", c == h->last ? "" : ", ", *c);
                history_group_tail(f, h, "z", "last", "sweep_id");
                return;
        case HISTORY_DELETE:
                fprintf(f, "DELETE FROM %s", h->table);
                history_rows_of(f, h, "sweep_id", "sweep_id <> first");
                return;
        default:
                assert(!"a HistoryStep");
        }
}

/* The slot of step_usec in s->history_from, taking a free one (or the last) for a new step. */
static size_t history_slot(Store *s, uint64_t step_usec) {
        size_t i;

        for (i = 0; i < ELEMENTSOF(s->history_from) - 1; i++)
                if (s->history_from[i].step_usec == step_usec ||
                    s->history_from[i].step_usec == 0)
                        break;
        if (s->history_from[i].step_usec != step_usec)
                s->history_from[i].from_usec = 0;
        s->history_from[i].step_usec = step_usec;
        return i;
}

static int history_exec(Store *s, const HistoryTable *h, HistoryStep step, uint64_t cutoff_usec,
                        unsigned keep, uint64_t step_usec, int *ret_changes) {
        const uint64_t from_usec = s->history_from[history_slot(s, step_usec)].from_usec;
        _cleanup_free_ char *sql = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&sql, &size);
        if (!f)
                return -ENOMEM;
        history_sql(f, h, step);
        if (fclose(f) != 0)
                return -ENOMEM;

        return store_exec_bound(s, sql, (const int64_t[]) { (int64_t) cutoff_usec, keep,
                                                            (int64_t) step_usec,
                                                            (int64_t) from_usec }, 4,
                                ret_changes);
}

static int store_downsample_locked(Store *s, uint64_t cutoff_usec, unsigned keep,
                                   uint64_t step_usec, int *ret_removed) {
        int removed = 0, r;

        for (size_t i = 0; i < ELEMENTSOF(history_tables); i++) {
                r = store_exec(s, history_temp_sql);
                if (r < 0)
                        return r;
                for (HistoryStep step = 0; step < _HISTORY_STEP_MAX; step++) {
                        int changes = 0;

                        r = history_exec(s, history_tables + i, step, cutoff_usec, keep,
                                         step_usec, &changes);
                        if (r < 0)
                                return r;
                        if (step == HISTORY_DELETE)
                                removed += changes;
                }
        }
        *ret_removed = removed;
        return 0;
}

/* Where the next pass starts looking: every run that began before it was merged or cannot be
 * (it lasts a step or more, stands alone in its step, or belongs to its sweep), except the
 * runs that ended after the cutoff or in the newest epoch's newest keep sweeps (the epoch's
 * next sweeps push them out of that window; older epochs get no sweeps, their windows never
 * move). Those began less than a step before: from the start of the step before theirs. */
static int history_next_from(Store *s, uint64_t cutoff_usec, unsigned keep, uint64_t step_usec,
                             uint64_t *ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        uint64_t from = cutoff_usec;
        int r;

        r = store_prepare(s, "SELECT min(start_usec) FROM (SELECT start_usec FROM sweeps"
                          " WHERE epoch_id = (SELECT epoch_id FROM sweeps ORDER BY id DESC"
                          " LIMIT 1) ORDER BY start_usec DESC, id DESC LIMIT ?1)", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, keep);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        if (r > 0 && sqlite3_column_type(st, 0) != SQLITE_NULL)
                from = MIN(from, store_column_uint64(st, 0));
        from = from / step_usec * step_usec;
        *ret = from > step_usec ? from - step_usec : 0;
        return 0;
}

/* The end of one pass from from_usec: HISTORY_PASS_STEPS steps, or more while they hold fewer
 * than HISTORY_PASS_SWEEPS sweeps, so that a pass over history already merged, or over the
 * kept sweeps of old epochs, crosses days at once, and one over dense history an hour or two. */
static int history_pass_end(Store *s, uint64_t from_usec, uint64_t step_usec, uint64_t *ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        uint64_t end = from_usec + HISTORY_PASS_STEPS * step_usec;
        int r;

        r = store_prepare(s, "SELECT start_usec FROM sweeps WHERE start_usec >= ?1"
                          " ORDER BY start_usec LIMIT 1 OFFSET ?2", &st);
        if (r < 0)
                return r;
        r = store_bind_int64_list(s, st, (const int64_t[]) { (int64_t) from_usec,
                                                             HISTORY_PASS_SWEEPS }, 2);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        /* the step after the one holding that sweep; all the rest when there is none */
        end = MAX(end, r > 0 ? (store_column_uint64(st, 0) / step_usec + 1) * step_usec
                             : UINT64_MAX);
        *ret = end;
        return 0;
}

/* Where the first pass of this connection starts: the bound the last pass stored, else the
 * start of the step holding the oldest sweep. */
static int history_bound_load(Store *s, uint64_t step_usec, uint64_t *ret);

/* The start of the step holding the oldest sweep: where a first pass starts. */
static int history_oldest(Store *s, uint64_t step_usec, uint64_t *ret) {
        int64_t oldest;
        int r;

        r = store_query_int64(s, "SELECT coalesce(min(start_usec), 0) FROM sweeps", &oldest);
        if (r < 0)
                return r;
        *ret = (uint64_t) MAX(oldest, (int64_t) 0) / step_usec * step_usec;
        return 0;
}

static int history_bound_load(Store *s, uint64_t step_usec, uint64_t *ret) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, "SELECT from_usec FROM history_bounds WHERE step_usec = ?1", &st);
        if (r < 0)
                return r;
        r = store_bind_int64_list(s, st, (const int64_t[]) { (int64_t) step_usec }, 1);
        if (r >= 0)
                r = store_step(s, st);
        if (r < 0)
                return r;
        if (r > 0 && store_column_int64(st, 0) > 0) {
                *ret = store_column_uint64(st, 0);
                return 0;
        }
        return history_oldest(s, step_usec, ret);
}

int store_downsample(Store *s, uint64_t cutoff_usec, unsigned keep_per_epoch,
                     uint64_t step_usec, bool *ret_more) {
        uint64_t from, next = 0, cutoff = cutoff_usec;
        bool nested, more;
        size_t slot;
        int removed = 0, r;

        assert(s);

        if (s->sweep_id > 0)
                return -EBUSY;
        if (step_usec == 0 || step_usec > INT64_MAX / 2 || cutoff_usec > INT64_MAX)
                return -EINVAL;

        r = store_write_begin(s, &nested);
        if (r < 0)
                return r;
        slot = history_slot(s, step_usec);
        from = s->history_from[slot].from_usec;
        if (from == 0)
                r = history_bound_load(s, step_usec, &from);
        /* A bounded pass: a week of dense history downsampled at once would hold the writer
         * (and the sweeps) for minutes. */
        if (r >= 0)
                r = history_pass_end(s, from, step_usec, &cutoff);
        cutoff = MIN(cutoff_usec, cutoff);
        more = cutoff < cutoff_usec;
        s->history_from[slot].from_usec = from;
        if (r >= 0)
                r = store_downsample_locked(s, cutoff, keep_per_epoch, step_usec, &removed);
        if (r >= 0)
                r = history_next_from(s, cutoff, keep_per_epoch, step_usec, &next);
        /* Catching up, a window that has not moved yet must not hold the passes back. */
        if (more && next <= from)
                next = cutoff - step_usec;
        if (r >= 0)
                r = store_exec_bound(s, "INSERT INTO history_bounds (step_usec, from_usec)"
                                     " VALUES (?1, ?2) ON CONFLICT (step_usec)"
                                     " DO UPDATE SET from_usec = excluded.from_usec",
                                     (const int64_t[]) { (int64_t) step_usec, (int64_t) next },
                                     2, NULL);
        r = store_write_end(s, nested, r);
        if (r < 0) {
                s->history_from[slot].from_usec = 0;    /* done again from the stored bound */
                return r;
        }
        s->history_from[slot].from_usec = next;
        if (ret_more)
                *ret_more = more;
        return removed;
}

int store_downsample_history(Store *s, uint64_t now_usec, uint64_t after_usec,
                             unsigned keep_per_epoch, bool *ret_more) {
        static const struct {
                uint64_t after_usec, step_usec;
        } tiers[] = {
                { 0, HISTORY_HOUR_USEC },
                { 24 * HISTORY_HOUR_USEC, 6 * HISTORY_HOUR_USEC },
        };
        uint64_t done = UINT64_MAX;     /* what the finer step has been through */
        bool more_any = false;
        int removed = 0, r;

        assert(s);

        for (size_t i = 0; after_usec > 0 && i < ELEMENTSOF(tiers); i++) {
                uint64_t after = MAX(after_usec, tiers[i].after_usec), cutoff;
                bool more = false;

                if (now_usec <= after)
                        break;
                /* a coarser step merges only what the finer one has merged */
                cutoff = MIN(now_usec - after, done);
                if (cutoff == 0)
                        break;
                r = store_downsample(s, cutoff, keep_per_epoch, tiers[i].step_usec, &more);
                if (r < 0)
                        return r;
                removed += r;
                more_any = more_any || more;
                done = s->history_from[history_slot(s, tiers[i].step_usec)].from_usec;
        }
        if (ret_more)
                *ret_more = more_any;
        return removed;
}
