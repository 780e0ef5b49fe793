/* The SQLite store: schema and migrations, the sweep writer and the queries behind the HTTP API.
 * One Store is one connection and is used by one thread only: the daemon owns a read-write
 * Store for writing sweeps, the web server opens its own read-only Store. The schema and the
 * retention rule are documented at the top of storage/schema.c. Errors are mapped from SQLite
 * once, in sqlite-util.c: -EBADMSG corrupt or foreign database, -EPROTONOSUPPORT newer schema,
 * -EBUSY locked, -ENOSPC full, -EACCES/-EROFS not writable, -EIO anything else; the SQLite
 * message of the last failure is kept for /healthz (store_last_error()). Storage includes the
 * collectors' and compare/'s type headers to persist and return their structs; it never calls
 * a collector and does not link them. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aggregate.h"
#include "cgroup.h"
#include "compare.h"
#include "kernel-id.h"
#include "macro.h"
#include "meminfo.h"
#include "proc-scan.h"
#include "reconstruct.h"
#include "thp.h"

typedef struct Store Store;

typedef enum StoreMode {
        STORE_READ_WRITE,       /* create if missing, migrate forward */
        STORE_READ_ONLY,        /* must exist and be at the current schema version */
} StoreMode;

/* The schema version this build writes (PRAGMA user_version). Version 2 adds the pagemap
 * counts per class to process_samples and identity_samples, and the reconstruction
 * (process_truth, and its sums in identity_samples); version 3 the indexes of series over
 * time; version 4 the host name and machine id of each epoch; version 5 the cgroup layout of
 * each epoch, the memory cgroups and the per-size THP statistics; version 6 the mapcount mode
 * of the config and of the runtime probe; version 7 the pages of the reconstruction that
 * processes not read also map; version 8 the reused samples of the steady state; version 9
 * the runs: one sample row for consecutive sweeps whose figures did not change; version 10
 * where downsampling stopped. */
#define STORE_SCHEMA_VERSION 10

/* Opens (and in read-write mode creates or migrates) the database at path. A file that is not
 * SQLite, is SQLite but not a mapstatd database (application_id), or is corrupt is refused with
 * -EBADMSG; a newer schema with -EPROTONOSUPPORT; neither is ever modified. On failure, if
 * reterr is not NULL, *reterr gets a human-readable reason (caller frees). */
int store_open(Store **ret, const char *path, StoreMode mode, char **reterr);
Store *store_free(Store *s);
DEFINE_CLEANUP_FUNC(Store, store_free);

/* The SQLite message of the most recent failure on this connection, or NULL. */
const char *store_last_error(const Store *s);

/* The schema version (user_version) the file had when store_open() opened it: 0 when the
 * database was just created, STORE_SCHEMA_VERSION when nothing was migrated, anything between
 * when it was migrated (for the "schema migrated" journal event). */
int store_opened_version(const Store *s);

/* Returns the epoch for this kernel identity, creating it when boot_id, release and mapcount
 * mode match no existing epoch. *ret_created is true when it was created. Also updates the
 * epoch's last-seen time. */
int store_epoch_ensure(Store *s, const KernelId *k, uint64_t now_usec, int64_t *ret_epoch_id,
                       bool *ret_created);

/* Finds the epoch of a boot already recorded, by boot_id and release (the mapcount mode cannot
 * change within a boot), so the full kernel identity need not be read again. Read only: the
 * epoch is marked seen when a sweep of it commits. Returns 1 with *ret_epoch_id, its *ret_mode
 * and *ret_page_size (0 when unknown), 0 when this boot is not recorded yet, -EBADMSG when the
 * stored mode is not one this build knows. */
int store_epoch_lookup(Store *s, const char *boot_id, const char *release, int64_t *ret_epoch_id,
                       MapcountMode *ret_mode, uint64_t *ret_page_size);

/* A sweep is written between store_sweep_begin() and store_sweep_commit() in one transaction;
 * store_sweep_abort() rolls it back (also safe when nothing was begun). store_sweep_begin()
 * returns -EBUSY while a sweep is open and -EROFS on a read-only Store. */
int store_sweep_begin(Store *s, int64_t epoch_id, uint64_t start_usec);
/* The id of the open sweep, 0 when none is open. */
int64_t store_sweep_open_id(const Store *s);
/* Adds one process. identity_key: from identity_key_build(); the identity row is created on
 * first sight. No savepoint is taken (it would double the statements of a sweep): a failed
 * statement is undone by SQLite alone, and identity and process rows written before a failure
 * are harmless. Returns 0, -EINVAL (no sweep open, NULL key, more unknown fields than
 * SmapsRollup holds), -ERANGE (a figure above INT64_MAX) or a storage error; -EIO includes a
 * constraint violation such as the same process twice in one sweep. After a failure before
 * the sample row the sweep can still be committed without the process; a failure after it,
 * or one for which SQLite dropped the whole transaction (disk full, I/O error), makes every
 * further call and the commit return that error, and the sweep is rolled back. */
int store_sweep_add_process(Store *s, const ProcSample *p, const char *identity_key);
/* Adds meminfo: all-or-nothing (a savepoint). Errors as store_sweep_add_process(). */
int store_sweep_add_meminfo(Store *s, const Meminfo *m);

/* Records the reconstruction of a process added to this sweep (same PID and start time) and
 * adds it to its identity's sums at commit. -ENOENT when no such process was added. Like the
 * add functions above also -EINVAL (no sweep open), -ERANGE, -ENOMEM or a storage error (-EIO
 * for a second reconstruction of the same process); after a failure the sweep can still be
 * committed without it. Costs one statement; a sweep without reconstructions costs nothing. */
int store_sweep_add_truth(Store *s, pid_t pid, uint64_t start_time_ticks, const ProcessTruth *t);

/* Adds one memory cgroup under key (cgroup_key_build()); the cgroups row is created on first
 * sight and its path, unit and container updated. Every memory.stat line is kept, the compared
 * fields also in their own columns (in kB). forecast (full mode, NULL otherwise): what
 * NO_PAGE_MAPCOUNT would add to anon and file_mapped, stored as the forecast figures. Returns 0, -EINVAL (no sweep open, NULL key or
 * path), -ERANGE, or a storage error (-EIO includes the same key twice in one sweep); after a
 * failure the sweep can still be committed without the cgroup, unless SQLite dropped the
 * transaction (as for store_sweep_add_process()). */
int store_sweep_add_cgroup(Store *s, const CgroupSample *c, const char *key,
                           const GroupForecast *forecast);
/* Adds the THP sizes and their counters: all-or-nothing (a savepoint). Errors as
 * store_sweep_add_meminfo(). */
int store_sweep_add_thp(Store *s, const ThpStats *t);
/* True when SQLite dropped the open sweep's transaction: it can only be aborted. */
bool store_sweep_lost(const Store *s);

typedef struct SweepSummary {
        uint64_t duration_usec;
        unsigned sampled;
        unsigned skipped;               /* vanished + denied + malformed */
        unsigned vanished, denied, malformed;
        unsigned pagemap_truncated, pagemap_failed;
        unsigned reused;                /* sampled from an earlier read */
} SweepSummary;

/* Computes the per-identity aggregates of this sweep (sums and per-process medians), marks the
 * epoch seen at the sweep's start time (last_seen_usec never goes back), records the summary and
 * commits. Returns the sweep id (> 0) or a negative errno (the sweep is rolled
 * back). */
int64_t store_sweep_commit(Store *s, const SweepSummary *summary);
void store_sweep_abort(Store *s);

/* Retention: deletes per-process samples and sweeps older than cutoff_usec, except that the
 * newest keep_per_epoch sweeps of every epoch (with their per-identity aggregates and meminfo)
 * are kept for good, so a baseline survives any retention. Returns the number of sweeps
 * deleted. */
int store_prune(Store *s, uint64_t cutoff_usec, unsigned keep_per_epoch);

/* Downsampling: within each step (of CLOCK_REALTIME, from the Unix epoch) before cutoff_usec,
 * the runs of one key (process, identity, meminfo field, cgroup, THP counter) that begin in the
 * step and last less than one become one run over them, gauges averaged by sweeps, masks and
 * counters the last run's; the newest keep_per_epoch sweeps of every epoch are left as they
 * are. One call looks at a few steps after where the last one stopped: *ret_more (may be NULL)
 * says whether older history than cutoff_usec is left for further calls. Returns the number
 * of rows merged away, or -errno (-EBUSY during a sweep). */
int store_downsample(Store *s, uint64_t cutoff_usec, unsigned keep_per_epoch,
                     uint64_t step_usec, bool *ret_more);

/* DownsampleAfter= at now_usec: history older than after_usec at one sample per hour, older
 * than a day (or after_usec, if longer) at one per 6 hours; after_usec 0: nothing. One bounded
 * pass of each, as store_downsample(). The rows merged away, or -errno. */
int store_downsample_history(Store *s, uint64_t now_usec, uint64_t after_usec,
                             unsigned keep_per_epoch, bool *ret_more);

/* ---- queries (used by web/ on a read-only Store) ---- */

/* Every query runs in a read transaction of its own, so that it sees one state of the database
 * while the daemon commits sweeps. A caller that makes several queries for one answer (one HTTP
 * request) wraps them in one snapshot: between store_snapshot_begin() and store_snapshot_end()
 * they all see the same state. Nested snapshots and snapshots inside a sweep do nothing
 * (*ret_began false). Returns 0 or a storage error. */
int store_snapshot_begin(Store *s, bool *ret_began);
void store_snapshot_end(Store *s, bool began);

typedef struct EpochInfo {
        int64_t id;
        char *boot_id, *release, *version;
        MapcountMode mapcount_mode;
        uint64_t page_size;
        char *config_source, *config_lines;     /* may be NULL */
        char *hostname, *machine_id;            /* may be NULL */
        char *cgroup_layout;    /* "unified", "hybrid", "legacy", "none"; NULL before
                                 * version 5 */
        char *mapcount_config, *mapcount_probe; /* "page_mapcount", …; NULL when not recorded */
        char *mapcount_probe_detail;            /* the method, or why the probe did not run */
        uint64_t first_seen_usec, last_seen_usec;
        uint64_t first_sweep_usec, last_sweep_usec;     /* 0 when no sweep */
        uint64_t sweeps;                /* sweeps stored for this epoch */
        int64_t last_sweep_id;          /* 0 when no sweep */
        size_t n_settings;
        KernelSetting *settings;        /* THP settings, key/value */
} EpochInfo;

void epoch_info_done(EpochInfo *e);
void epoch_info_array_free(EpochInfo *a, size_t n);

/* All epochs, oldest first. *ret is freed with epoch_info_array_free(). -EBADMSG when a stored
 * mapcount mode is not one this build knows. */
int store_list_epochs(Store *s, EpochInfo **ret, size_t *ret_n);

/* The one rule that picks what a comparison compares (/report, /forecast, the CLI, metrics):
 *   candidate  the epoch asked for, else the epoch of the latest sweep (the highest sweep id);
 *   baseline   the epoch asked for, else the most recent epoch created before the candidate
 *              (lower id) that has at least one sweep and ran another kernel: its release or
 *              its mapcount mode differs from the candidate's.
 * Pure, over epochs[0..n) (oldest first, as store_list_epochs() returns them); want_* ≤ 0
 * means "the default". Returns 0 with *ret_baseline and *ret_candidate pointing into epochs
 * (NULL when there is none: no sweep yet, or no other kernel before the candidate); -ENOENT
 * with *ret_unknown when an epoch asked for does not exist; -EINVAL when baseline and
 * candidate are the same epoch. */
int epoch_pair_pick(const EpochInfo *epochs, size_t n, int64_t want_baseline,
                    int64_t want_candidate, const EpochInfo **ret_baseline,
                    const EpochInfo **ret_candidate, int64_t *ret_unknown);

typedef struct EpochPair {
        EpochInfo *epochs;              /* every epoch, oldest first */
        size_t n_epochs;
        const EpochInfo *baseline;      /* into epochs, or NULL */
        const EpochInfo *candidate;     /* into epochs, or NULL */
} EpochPair;

void epoch_pair_done(EpochPair *p);

/* Reads every epoch and applies epoch_pair_pick() to them, in one snapshot. Returns what it
 * returns, or a storage error. */
int store_epoch_pair(Store *s, int64_t want_baseline, int64_t want_candidate, EpochPair *ret,
                     int64_t *ret_unknown);

typedef struct IdentityInfo {
        int64_t id;
        char *key, *comm, *exe, *cmdline, *unit;        /* exe, unit may be NULL */
} IdentityInfo;

void identity_info_done(IdentityInfo *i);

/* Looks one identity up. -ENOENT when absent. */
int store_get_identity(Store *s, int64_t identity_id, IdentityInfo *ret);

/* Which identity series of an epoch to read. */
typedef struct SeriesSelection {
        size_t window;                  /* the epoch's newest sweeps; 0: all of them */
        int64_t first_identity;         /* identity ids first..last; */
        int64_t last_identity;          /* 0 for last: no upper bound */
} SeriesSelection;

/* The per-sweep aggregates of the selected identities within the epoch's selected sweeps,
 * sorted by identity id, as compare/ wants them, including the pagemap and reconstruction
 * fields of IdentityPoint (pages as kB with the epoch's page size, 4 KiB when unknown; the
 * figures behind a has_* flag that is false are 0). The comparisons use the window retention
 * keeps for good (KeepSweepsPerEpoch), so that an epoch's statistics do not change as retention
 * prunes it and their cost is bounded however long the epoch ran, and read the identities in
 * ranges of ids, so that their memory is bounded however many identities there are.
 * *ret_series[i].points point into *ret_points; free both with free(). -ENOENT when the epoch
 * does not exist. */
int store_epoch_identity_series(Store *s, int64_t epoch_id, const SeriesSelection *sel,
                                IdentitySeries **ret_series, size_t *ret_n,
                                IdentityPoint **ret_points);

/* The highest identity id (0 when there is none). */
int store_identity_id_max(Store *s, int64_t *ret);

/* One meminfo field over one epoch's sweeps, normalized by MemTotal. */
typedef struct SystemSeries {
        char name[MEMINFO_NAME_MAX];
        size_t n;
        SeriesPoint *points;    /* points into the array returned with it */
} SystemSeries;

/* Every kB meminfo field of the epoch's newest `window` sweeps (0: all), sorted by name. Free
 * with free() on both. */
int store_epoch_system_series(Store *s, int64_t epoch_id, size_t window,
                              SystemSeries **ret_series, size_t *ret_n, SeriesPoint **ret_points);

/* ---- series over time (store-range.c) ---- */

/* A time range and how to aggregate it: sweeps that started in [from_usec, to_usec], one point
 * per sweep when step_usec is 0, else one per step_usec bucket (counted from from_usec) and
 * epoch: a bucket never mixes two kernels. At most max_points points (-E2BIG beyond). */
typedef struct TimeRange {
        uint64_t from_usec, to_usec, step_usec;
        size_t max_points;
} TimeRange;

/* The figures of an identity's series, means over each bucket's sweeps, in kB. */
typedef enum RangeFigure {
        RANGE_RSS,
        RANGE_PSS,
        RANGE_PSS_ANON,
        RANGE_PSS_FILE,
        RANGE_PSS_SHMEM,
        RANGE_SHARED,           /* Shared_Clean + Shared_Dirty */
        RANGE_PRIVATE,          /* Private_Clean + Private_Dirty */
        RANGE_SWAP,
        _RANGE_FIGURE_MAX,
} RangeFigure;

/* "Rss", "Pss", "Pss_Anon", "Pss_File", "Pss_Shmem", "Shared", "Private", "Swap". */
const char *range_figure_to_string(RangeFigure f);

/* The reconstruction's figures of a series point: truth Pss, Uss, Shared, Private and forecast
 * Pss, Shared, Private. */
typedef enum RangeTruth {
        RANGE_TRUTH_PSS,
        RANGE_TRUTH_USS,
        RANGE_TRUTH_SHARED,
        RANGE_TRUTH_PRIVATE,
        RANGE_FORECAST_PSS,
        RANGE_FORECAST_SHARED,
        RANGE_FORECAST_PRIVATE,
        _RANGE_TRUTH_MAX,
} RangeTruth;

typedef struct IdentityRangePoint {
        uint64_t time_usec;             /* start of the bucket's first sweep */
        int64_t epoch_id;
        uint32_t sweeps;                /* sweeps aggregated */
        double processes;               /* mean */
        double kb[_RANGE_FIGURE_MAX];   /* means; absent fields count as 0 */
        /* Σ exclusive / Σ present pages over the sweeps with a complete scan of every process;
         * NAN when there is none or nothing present. */
        double exclusive_ratio[_VMA_CLASS_MAX];
        /* Means over the sweeps that reconstructed every process; NAN when none. */
        double truth_kb[_RANGE_TRUTH_MAX];
} IdentityRangePoint;

/* One identity's series over the range, oldest first. *ret owned by the caller (free()).
 * Returns 0 (also for an identity without samples in the range: no points), -E2BIG when more
 * than range->max_points, or a storage error. */
int store_identity_range(Store *s, int64_t identity_id, const TimeRange *range,
                         IdentityRangePoint **ret, size_t *ret_n);

typedef struct MeminfoRangePoint {
        uint64_t time_usec;
        int64_t epoch_id;
        uint32_t sweeps;
        double *kb;                     /* n_fields means, in the order asked; NAN when absent;
                                         * points into the values array returned with it */
} MeminfoRangePoint;

/* The kB meminfo fields[0..n_fields) over the range (n_fields ≥ 1), oldest first. Free *ret and
 * *ret_values with free(). Returns 0, -E2BIG (too many points), -EINVAL (no field, or more than
 * MEMINFO_MAX), or a storage error. */
int store_meminfo_range(Store *s, const char *const *fields, size_t n_fields,
                        const TimeRange *range, MeminfoRangePoint **ret, double **ret_values,
                        size_t *ret_n);

/* The latest sweep's meminfo, every field as stored. *ret_sweep_id is 0 (and *ret empty) before
 * the first sweep. */
int store_latest_meminfo(Store *s, Meminfo *ret, int64_t *ret_sweep_id);

/* Per identity in the latest sweep: its aggregate as the sweep stored it and the PIDs. */
typedef struct ProcessGroup {
        IdentityInfo identity;
        size_t n_pids;
        int32_t *pids;
        IdentityAggregate sums;         /* identity_samples of the sweep */
        size_t n_extra;
        SmapsExtra extra[SMAPS_EXTRA_MAX];      /* unknown fields, summed by name */
} ProcessGroup;

void process_group_array_free(ProcessGroup *a, size_t n);

/* The orders /processes offers: a figure summed over the identity's processes, largest
 * first, or the name (comm, then key). Ties go by identity id. */
typedef enum ProcessSort {
        PROCESS_SORT_PSS,
        PROCESS_SORT_RSS,
        PROCESS_SORT_SHARED,
        PROCESS_SORT_PRIVATE,
        PROCESS_SORT_NAME,
        _PROCESS_SORT_MAX,
        _PROCESS_SORT_INVALID = -22 /* -EINVAL */,
} ProcessSort;

/* "pss", "rss", "shared", "private", "name". */
const char *process_sort_to_string(ProcessSort s);
ProcessSort process_sort_from_string(const char *s);

/* Identities of the latest sweep in the given order, from offset, at most limit of them.
 * *ret_total gets the number of identities in that sweep, *ret_sweep_id the sweep (0 when no
 * sweep yet: empty result). */
int store_latest_process_groups(Store *s, ProcessSort sort, size_t limit, size_t offset,
                                ProcessGroup **ret, size_t *ret_n, size_t *ret_total,
                                int64_t *ret_sweep_id);

/* ---- cgroups and THP (store-cgroup.c) ---- */

typedef struct CgroupInfo {
        int64_t id;
        char *key, *path, *unit, *container;    /* unit, container may be NULL */
} CgroupInfo;

void cgroup_info_done(CgroupInfo *c);

/* Looks one cgroup up. -ENOENT when absent. */
int store_get_cgroup(Store *s, int64_t cgroup_id, CgroupInfo *ret);

/* One cgroup in one sweep, as stored. */
typedef struct CgroupRow {
        CgroupInfo cgroup;
        bool v1;
        bool has_usage;
        uint64_t usage_kb;
        uint32_t present;               /* bit (1u << CgroupField) when the kernel had it */
        uint64_t kb[_CGROUP_FIELD_MAX];
        size_t n_stat;
        CgroupStatField *stat;          /* every memory.stat line, in file order */
} CgroupRow;

void cgroup_row_array_free(CgroupRow *a, size_t n);

/* Every cgroup of the latest sweep, largest usage first (then by path). *ret_sweep_id is 0 and
 * the list empty before the first sweep. */
int store_latest_cgroups(Store *s, CgroupRow **ret, size_t *ret_n, int64_t *ret_sweep_id);

/* One compared field of one cgroup over an epoch's sweeps, normalized by the cgroup's usage
 * (memory.current or memory.usage_in_bytes; anon + file where the kernel has no usage file, as
 * for the v2 root). Sweeps where the kernel did not have the field are left out. */
typedef struct CgroupSeries {
        int64_t cgroup_id;
        CgroupField field;
        size_t n;
        const SeriesPoint *points;
} CgroupSeries;

/* Which figures a cgroup series holds. */
typedef enum CgroupSeriesKind {
        CGROUP_SERIES_REPORTED,         /* what the kernel reported, every sweep */
        CGROUP_SERIES_FORECAST_BASE,    /* the same, only the sweeps with a forecast */
        CGROUP_SERIES_FORECAST,         /* the NO_PAGE_MAPCOUNT forecast of anon and
                                         * file_mapped, over those sweeps */
} CgroupSeriesKind;

/* The series of every cgroup and field in the epoch's newest `window` sweeps (0: all), sorted
 * by cgroup id then field. Free both with free(). -ENOENT when the epoch does not exist. */
int store_epoch_cgroup_series(Store *s, int64_t epoch_id, size_t window, CgroupSeriesKind kind,
                              CgroupSeries **ret_series, size_t *ret_n, SeriesPoint **ret_points);

typedef struct CgroupRangePoint {
        uint64_t time_usec;
        int64_t epoch_id;
        uint32_t sweeps;
        double usage_kb;                /* means; NAN when absent */
        double kb[_CGROUP_FIELD_MAX];
} CgroupRangePoint;

/* One cgroup's series over the range, oldest first, as store_identity_range(). */
int store_cgroup_range(Store *s, int64_t cgroup_id, const TimeRange *range,
                       CgroupRangePoint **ret, size_t *ret_n);

typedef struct ThpPoint {
        double time_sec;                /* the sweep's start, Unix seconds */
        double value;
} ThpPoint;

/* One THP counter over an epoch's sweeps. */
typedef struct ThpSeries {
        uint64_t size_kb;
        char name[THP_NAME_MAX];
        size_t n;
        const ThpPoint *points;
} ThpSeries;

/* Every THP counter of the epoch's newest `window` sweeps (0: all), sorted by size then name,
 * and each size's latest "enabled" setting in *ret_enabled (n_sizes entries, size_kb and
 * enabled only). Free the arrays with free(). -ENOENT when the epoch does not exist. */
int store_epoch_thp_series(Store *s, int64_t epoch_id, size_t window, ThpSeries **ret_series,
                           size_t *ret_n, ThpPoint **ret_points, ThpSize **ret_enabled,
                           size_t *ret_n_sizes);

typedef struct StoreHealth {
        /* of the last sweep: */
        unsigned last_pagemap_truncated, last_pagemap_failed;
        int64_t last_sweep_id;          /* 0 when none */
        uint64_t last_sweep_usec;       /* start time */
        uint64_t last_duration_usec;
        unsigned last_sampled, last_skipped;
        uint64_t sweeps_stored;
        int64_t current_epoch_id;
} StoreHealth;

int store_health(Store *s, StoreHealth *ret);
