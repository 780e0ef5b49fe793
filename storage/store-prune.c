/* Retention (store_prune()): per-process samples of sweeps past the cutoff are deleted, and so
 * are the sweeps themselves with their aggregates, except the newest KeepSweepsPerEpoch of
 * every epoch, which stay for good so that a baseline survives any retention. A run
 * (store-runs.c) goes with its last sweep, and loses only its sweeps deleted otherwise. */
#include <assert.h>
#include <errno.h>

#include <sqlite3.h>

#include "macro.h"
#include "store-internal.h"
#include "store.h"

/* The sweeps retention deletes: older than ?1 and not among the newest ?2 of their epoch. */
#define STORE_DOOMED_SWEEPS_SQL                                                                  \
        "SELECT id FROM (SELECT id, start_usec, row_number() OVER"                               \
        " (PARTITION BY epoch_id ORDER BY start_usec DESC, id DESC) AS newest FROM sweeps)"      \
        " WHERE start_usec < ?1 AND newest > ?2"

static int store_prune_exec(Store *s, const char *sql, int64_t cutoff, int64_t keep,
                            int *ret_changes) {
        return store_exec_bound(s, sql, (const int64_t[]) { cutoff, keep }, 2, ret_changes);
}

/* The runs of table t that end in a doomed sweep go; those that began in one now begin at
 * their first sweep kept: the next sweep of their epoch not doomed (there is one, the run's
 * last sweep). Process runs likewise at their first sweep not older than the cutoff. */
#define STORE_PRUNE_RUNS_SQL(t)                                                                  \
        "DELETE FROM " t " WHERE last_sweep_id IN " STORE_DOOMED,                                \
        "UPDATE " t " SET sweep_id = (SELECT w.id FROM sweeps w WHERE w.id > " t ".sweep_id"     \
        " AND w.id NOT IN " STORE_DOOMED " AND +w.epoch_id = " STORE_RUN_EPOCH_SQL(t)            \
        " ORDER BY w.id LIMIT 1) WHERE sweep_id IN " STORE_DOOMED

/* The doomed sweeps, and those older than the cutoff, listed once per pass in the connection's
 * temp schema. (The unary + above keeps SQLite from walking the epoch's sweeps through
 * sweeps_epoch_start for every row instead of the few ids after the run's start.) */
#define STORE_DOOMED "temp.prune_doomed"
#define STORE_OLD "temp.prune_old"

static int store_prune_locked(Store *s, int64_t cutoff, int64_t keep, int *ret_deleted) {
        static const char *const raw[] = {
                "CREATE TEMP TABLE IF NOT EXISTS prune_doomed (id INTEGER PRIMARY KEY)",
                "CREATE TEMP TABLE IF NOT EXISTS prune_old (id INTEGER PRIMARY KEY)",
                "DELETE FROM " STORE_DOOMED,
                "DELETE FROM " STORE_OLD,
                "INSERT INTO " STORE_DOOMED " " STORE_DOOMED_SWEEPS_SQL,
                "INSERT INTO " STORE_OLD " SELECT id FROM sweeps WHERE start_usec < ?1",
                /* Rows with a reconstruction or unknown fields are never extended: their run
                 * is their sweep. */
                "DELETE FROM process_truth WHERE sweep_id IN"
                " " STORE_OLD,
                "DELETE FROM process_extra WHERE sweep_id IN"
                " " STORE_OLD,
                "DELETE FROM process_samples WHERE last_sweep_id IN"
                " " STORE_OLD,
                "UPDATE process_samples SET sweep_id = (SELECT w.id FROM sweeps w"
                " WHERE w.id > process_samples.sweep_id AND w.id NOT IN " STORE_OLD
                " AND +w.epoch_id = " STORE_RUN_EPOCH_SQL("process_samples")
                " ORDER BY w.id LIMIT 1) WHERE sweep_id IN " STORE_OLD,
                STORE_PRUNE_RUNS_SQL("identity_samples"),
                STORE_PRUNE_RUNS_SQL("meminfo_samples"),
                STORE_PRUNE_RUNS_SQL("cgroup_samples"),
                /* before thp_sizes, which the runs' first sweeps refer to */
                STORE_PRUNE_RUNS_SQL("thp_samples"),
                "DELETE FROM thp_sizes WHERE sweep_id IN " STORE_DOOMED,
        };
        int deleted, r;

        for (size_t i = 0; i < ELEMENTSOF(raw); i++) {
                r = store_prune_exec(s, raw[i], cutoff, keep, NULL);
                if (r < 0)
                        return r;
        }
        r = store_prune_exec(s, "DELETE FROM sweeps WHERE id IN " STORE_DOOMED, cutoff, keep,
                             &deleted);
        if (r < 0)
                return r;
        r = store_prune_exec(s, "DELETE FROM processes WHERE id NOT IN"
                             " (SELECT process_id FROM process_samples)", cutoff, keep, NULL);
        if (r < 0)
                return r;

        *ret_deleted = deleted;
        return 0;
}

int store_prune(Store *s, uint64_t cutoff_usec, unsigned keep_per_epoch) {
        bool nested;
        int deleted = 0, r;

        assert(s);

        if (s->sweep_id > 0)
                return -EBUSY;

        r = store_write_begin(s, &nested);
        if (r < 0)
                return r;
        r = store_prune_locked(s, (int64_t) MIN(cutoff_usec, (uint64_t) INT64_MAX),
                               keep_per_epoch, &deleted);
        r = store_write_end(s, nested, r);
        if (r < 0)
                return r;
        return deleted;
}

