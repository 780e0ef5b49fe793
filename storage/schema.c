/* The on-disk format of the mapstatd database and its migrations. store_open() inspects a file
 * with schema_inspect() before writing anything to it and brings it to STORE_SCHEMA_VERSION with
 * schema_migrate(). The comment below is the reference for every table.
 *
 * FILE
 *   An SQLite 3 database. PRAGMA application_id = 0x6D617073 ('maps') marks it as ours;
 *   PRAGMA user_version is the schema version (STORE_SCHEMA_VERSION in store.h).
 *   Connection settings (per connection, not stored): journal_mode=WAL, synchronous=NORMAL,
 *   foreign_keys=ON, busy_timeout=5000 ms, cache_size=-512 (512 KiB: the daemon stays under
 *   10 MiB RSS). With WAL and synchronous=NORMAL a committed transaction survives SIGKILL of the
 *   daemon; only an OS crash or power loss can lose the most recent transactions (never the
 *   database's consistency).
 *
 * UNITS
 *   Every time is CLOCK_REALTIME in microseconds (*_usec); every memory figure is in kB as the
 *   kernel prints it (*_kb, kB = 1024 bytes); start_time_ticks is clock ticks since boot (stat
 *   field 22); page_size is in bytes; *_pages are pagemap entries, i.e. base pages of the
 *   epoch's page_size (4096 bytes when page_size is NULL), counted as the pagemap reports them.
 *
 * TABLES
 *   epochs            One row per kernel identity: (boot_id, release, mapcount_mode) is UNIQUE,
 *                     and a change of any of them starts a new epoch. id INTEGER PRIMARY KEY;
 *                     version (proc/version), page_size (bytes, NULL when unknown),
 *                     mapcount_mode ("page_mapcount", "no_page_mapcount", "unknown"),
 *                     config_source and config_lines (where the kernel config was read and its
 *                     CONFIG_*PAGE_MAPCOUNT lines, NULL when no config), first_seen_usec and
 *                     last_seen_usec (when the daemon saw this identity). Never deleted.
 *   epoch_settings    The THP/mTHP settings of an epoch: PRIMARY KEY (epoch_id, key), key the
 *                     path under sys/kernel/mm/ ("transparent_hugepage/enabled"), value the
 *                     selected value. WITHOUT ROWID. Never deleted.
 *   sweeps            One row per sweep: id INTEGER PRIMARY KEY, epoch_id, start_usec,
 *                     duration_usec, and the process counters sampled, skipped (= vanished +
 *                     denied + malformed), vanished, denied, malformed; since version 2
 *                     pagemap_truncated (sampled, pagemap scan cut short) and pagemap_failed
 *                     (sampled without pagemap), NULL in sweeps written before; since version 8
 *                     reused (sampled from an earlier read). Index (epoch_id,
 *                     start_usec), and since version 3 index (start_usec). The row is inserted
 *                     when the sweep begins and completed at commit, in the same transaction.
 *                     The latest sweep is the highest id.
 *   identities        One row per identity key (compare/identity.h; never involves a PID), so
 *                     one program is matched across epochs: key TEXT UNIQUE, the latest comm,
 *                     exe, cmdline and unit seen with it, first_seen_usec and last_seen_usec
 *                     (start times of the sweeps that first and last wrote the row: a new or
 *                     changed process; the sweeps an identity was seen in are its
 *                     identity_samples). Written only when new or changed. Never deleted.
 *   processes         One row per process instance within an epoch: UNIQUE (epoch_id, pid,
 *                     start_time_ticks), so a reused PID is a new row. identity_id, and the
 *                     latest comm, exe, cmdline, cgroup and unit. Written when new or changed
 *                     (the writer keeps the last sweep's rows in memory to tell); deleted by
 *                     retention when no process_samples row refers to it.
 *   process_samples   Raw smaps_rollup of one process in one sweep: PRIMARY KEY (sweep_id,
 *                     process_id); present is the bitmask of fields the kernel printed (bit n =
 *                     SmapsField n); one column per SmapsField, named in snake case with _kb:
 *                     rss_kb, pss_kb, pss_dirty_kb, pss_anon_kb, pss_file_kb, pss_shmem_kb,
 *                     shared_clean_kb, shared_dirty_kb, private_clean_kb, private_dirty_kb,
 *                     referenced_kb, anonymous_kb, ksm_kb, lazyfree_kb, anon_huge_pages_kb,
 *                     shmem_pmd_mapped_kb, file_pmd_mapped_kb, shared_hugetlb_kb,
 *                     private_hugetlb_kb, swap_kb, swap_pss_kb, locked_kb; NULL where absent.
 *                     Since version 2, the pagemap counts: per class c in anon, file,
 *                     shared_file, shmem, hugetlb (collectors/maps.h VmaClass)
 *                     c_present_pages, c_swapped_pages, c_exclusive_pages (PM_MMAP_EXCLUSIVE),
 *                     and pagemap_truncated (1 when the scan was cut short by its cap or
 *                     deadline, else 0); all 16 NULL when the process was not scanned.
 *                     Since version 8, reused_sweep_id: NULL for a read; for a sample whose
 *                     figures an earlier read stands in for (the process's change signal had
 *                     not moved, daemon/reuse.h), the sweep that read them. Rows written by
 *                     version 8 left every figure column NULL then (present is copied); since
 *                     version 9 the figures are stored. Retention may have deleted that sweep.
 *                     Since version 9 a row is a run: last_sweep_id is the last sweep it stands
 *                     for, and it stands for every sweep of its epoch from sweep_id to
 *                     last_sweep_id. A process whose figures (every column above) equal those
 *                     of its row ending at the epoch's previous sweep extends that row rather
 *                     than adding one, read again or reused, unless either has process_extra
 *                     or process_truth rows. Rows written before have last_sweep_id = sweep_id.
 *                     Index (process_id, last_sweep_id): the writer finds the row to extend,
 *                     and the foreign key check of a processes deletion looks children up by
 *                     process_id; index (last_sweep_id): the processes of a sweep.
 *   process_extra     smaps_rollup fields this build does not know, kept rather than dropped:
 *                     PRIMARY KEY (sweep_id, process_id, name), kb. WITHOUT ROWID. References
 *                     its process_samples row.
 *   process_truth     The reconstruction of one process in one sweep (pagemap mode full,
 *                     collectors/reconstruct.h ProcessTruth), since version 2: PRIMARY KEY
 *                     (sweep_id, process_id), referencing its process_samples row; the truth
 *                     uss_kb, pss_kb, shared_kb, private_kb; the NO_PAGE_MAPCOUNT forecast
 *                     forecast_pss_kb, forecast_pss_anon_kb, forecast_pss_file_kb,
 *                     forecast_pss_shmem_kb, forecast_shared_kb, forecast_private_kb,
 *                     forecast_exclusive_pages; partially_mapped_folios (a count); since
 *                     version 7 unseen_pages, the entries of pages that processes the sweep did
 *                     not read also map (NULL before). WITHOUT ROWID.
 *   identity_samples  Per sweep and identity, computed when the sweep commits: PRIMARY KEY
 *                     (sweep_id, identity_id); processes (count); present (bitwise AND of the
 *                     members' present); the same 22 *_kb columns as sums over the members
 *                     (absent counts as 0; NULL only when no member has the field);
 *                     median_rss_kb and median_pss_kb, the lower median over the members.
 *                     Since version 2: pagemap_processes (members scanned) and the 15
 *                     c_*_pages columns of process_samples summed over those members;
 *                     truth_processes (members with a process_truth row) and the sums of their
 *                     process_truth columns, named truth_uss_kb, truth_pss_kb, truth_shared_kb,
 *                     truth_private_kb and, unchanged, forecast_pss_kb, forecast_pss_anon_kb,
 *                     forecast_pss_file_kb, forecast_pss_shmem_kb, forecast_shared_kb,
 *                     forecast_private_kb, forecast_exclusive_pages, partially_mapped_folios,
 *                     and since version 7 unseen_pages; since version 8 reused_processes,
 *                     the members whose figures are an earlier read (NULL before). A sweep
 *                     whose every member is reused is no new observation: the statistics of a
 *                     comparison leave it out.
 *                     A sum is NULL when its count is 0; both counts are NULL in rows written
 *                     before version 2. The identity is "scanned" (or "reconstructed") in a
 *                     sweep only when its count equals processes.
 *                     Since version 9 a row is a run, as in process_samples: it stands for
 *                     every sweep of its epoch from sweep_id to last_sweep_id, in each of which
 *                     the aggregate (every column above but reused_processes, which is the
 *                     last sweep's) was the same; sweeps, how many sweeps it stood for when
 *                     written, and observations, how many of them were new observations (some
 *                     member read). Retention moves sweep_id forward past deleted sweeps.
 *                     Rows written before are runs of one sweep.
 *                     Index (identity_id, last_sweep_id): one identity's series over time and
 *                     the row to extend; index (last_sweep_id): the identities of a sweep.
 *   meminfo_samples   /proc/meminfo per sweep: PRIMARY KEY (sweep_id, name), value (kB when
 *                     is_kb = 1, else a count such as HugePages_Total). WITHOUT ROWID. Since
 *                     version 9 a row is a run of one field's value, as in identity_samples
 *                     (last_sweep_id; most fields do not move from one sweep to the next),
 *                     with index (last_sweep_id, name).
 *   epochs.mapcount_config, mapcount_probe, mapcount_probe_detail  Since version 6: the
 *                     mapcount mode the kernel config gives (docs/kernel-semantics.md §1.1) and
 *                     the one the runtime probe saw (§1.2), with the probe's method or why it
 *                     could not run; mapcount_mode is the probe's when it ran, else the
 *                     config's. NULL in epochs recorded before, or written without a probe.
 *   epochs.cgroup_layout  Since version 5: where the memory controller was in that boot,
 *                     "unified", "hybrid", "legacy" or "none" (collectors/cgroup.h); NULL in
 *                     epochs recorded before.
 *   cgroups           Since version 5, one row per cgroup key (compare/identity.h:
 *                     "unit:foo.service", or "path:/a/b" when the path names no unit), so one
 *                     unit is matched across epochs and layouts: key TEXT UNIQUE, the latest
 *                     path, unit and container ("docker://<id>") seen with it, first_seen_usec
 *                     and last_seen_usec (start times of the sweeps that first and last wrote
 *                     the row: a new or changed cgroup). Written only when new or changed.
 *                     Never deleted.
 *   cgroup_stat_names Since version 5, the dictionary of memory.stat field names: id INTEGER
 *                     PRIMARY KEY, name TEXT UNIQUE. Never deleted.
 *   cgroup_samples    Since version 5, one memory cgroup in one sweep: PRIMARY KEY (sweep_id,
 *                     cgroup_id); v1 (1 when read from the v1 memory controller); usage_kb
 *                     (memory.current or memory.usage_in_bytes, NULL when unread); the compared
 *                     counters in kB under their v2 names (v1's total_* forms, see
 *                     collectors/cgroup.h CgroupField), NULL where the kernel has none:
 *                     anon_kb, file_kb, file_mapped_kb, shmem_kb, anon_thp_kb, file_thp_kb,
 *                     shmem_thp_kb; stat, every memory.stat line as the kernel printed it
 *                     (bytes or counts), packed as pairs of unsigned LEB128 varints (the
 *                     cgroup_stat_names id, the value) in file order; in pagemap mode full on
 *                     a page_mapcount kernel, the NO_PAGE_MAPCOUNT forecast forecast_anon_kb
 *                     and forecast_file_mapped_kb (docs/kernel-semantics.md §5.1; NULL
 *                     otherwise, and where the kernel lacks the field). Index (cgroup_id,
 *                     sweep_id). Since version 9 a row is a run of sweeps in which every column
 *                     was the same (last_sweep_id), with indexes (cgroup_id, last_sweep_id)
 *                     and (last_sweep_id, cgroup_id).
 *   thp_sizes         Since version 5, per sweep and THP size (kB) the size's "enabled"
 *                     setting (NULL when absent): PRIMARY KEY (sweep_id, size_kb). WITHOUT ROWID.
 *   history_bounds    Since version 10, per downsampling step (step_usec, PRIMARY KEY) where its
 *                     next pass starts looking (store-history.c): the runs that began before
 *                     from_usec were merged already, or cannot be. Rewritten by every pass.
 *   thp_samples       Since version 5, every counter of the size's stats/: PRIMARY KEY
 *                     (sweep_id, size_kb, name), value; references its thp_sizes row. A
 *                     counter the kernel does not have has no row. WITHOUT ROWID. Since
 *                     version 9 a row is a run of one counter's value (last_sweep_id), with
 *                     index (last_sweep_id, size_kb, name).
 *
 * RETENTION (store_prune())
 *   process_samples runs whose last sweep is older than the cutoff are deleted with their
 *   process_extra and process_truth; a run that began before the cutoff now begins at its
 *   first sweep after it. Sweeps older than the cutoff are deleted with their thp_sizes and
 *   the identity_samples, meminfo_samples, cgroup_samples and thp_samples runs that end in
 *   them (a run that began in them now begins at its first sweep kept), except the newest
 *   keep_per_epoch sweeps of every epoch, whose aggregates stay for good so that a baseline
 *   survives any retention. processes rows no sample refers to are deleted.
 *   identities, cgroups, cgroup_stat_names, epochs and epoch_settings are never deleted.
 *
 * MIGRATIONS
 *   schema_migrations[i] takes user_version i to i + 1 and runs in its own BEGIN IMMEDIATE
 *   transaction together with "PRAGMA user_version = i + 1", so a crash leaves the file at a
 *   version, never between two. Step 0 creates the schema of version 1 and sets application_id;
 *   step 1 adds the pagemap and reconstruction columns and process_truth (ADD COLUMN only: rows
 *   already stored keep their values and read NULL in the new columns, nothing is rewritten);
 *   step 2 adds the indexes for series over time; step 3 the host of each epoch; step 4 the
 *   cgroup layout of each epoch and the cgroup and THP tables (new tables and a column: every
 *   older database reads as before, with no cgroup or THP data); step 5 the config's and the
 *   probe's mapcount modes; step 6 the reconstruction's unseen pages; step 7 the reused
 *   samples of the steady state; step 8 the runs (it rewrites every sample row once to set
 *   last_sweep_id: minutes on a database of gigabytes); step 9 the downsampling bounds.
 *   A step's text is frozen once released: a change is a new step appended to the array (and
 *   STORE_SCHEMA_VERSION raised). A file is migrated only when opened read-write; a read-only
 *   open requires the current version. A file with a newer user_version, a foreign
 *   application_id, or application_id 0 with tables in it is refused and left untouched. */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "macro.h"
#include "schema.h"
#include "store.h"

#define STORE_COLUMN_NAME_(c) #c,
const char *const store_smaps_columns[_SMAPS_FIELD_MAX] = {
        STORE_SMAPS_COLUMNS(STORE_COLUMN_NAME_)
};
static_assert(0 STORE_SMAPS_COLUMNS(STORE_COUNT_ONE_) == _SMAPS_FIELD_MAX,
              "one column per SmapsField");
static_assert(STORE_PAGEMAP_N_COLUMNS == _VMA_CLASS_MAX * STORE_PAGEMAP_CLASS_FIELDS,
              "one column per VmaClass and PagemapClassCounts field");
static_assert(sizeof(PagemapClassCounts) == STORE_PAGEMAP_CLASS_FIELDS * sizeof(uint64_t),
              "PagemapClassCounts is present, swapped, exclusive");
static_assert(STORE_TRUTH_N_COLUMNS * sizeof(uint64_t) == sizeof(ProcessTruth),
              "one column per ProcessTruth field");
static_assert(_IDENTITY_COL_MAX == 8 + _SMAPS_FIELD_MAX + STORE_PAGEMAP_N_COLUMNS +
                                   STORE_TRUTH_N_COLUMNS,
              "IDENTITY_COL_* numbers every column of STORE_IDENTITY_AGGREGATE_COLUMNS");

static const char *const schema_migrations[] = {
        /* 0 → 1: the initial schema. */
        "PRAGMA application_id = 1835102323;\n" /* 0x6D617073 */
        "CREATE TABLE epochs (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        boot_id TEXT NOT NULL,\n"
        "        release TEXT NOT NULL,\n"
        "        version TEXT,\n"
        "        page_size INTEGER,\n"
        "        mapcount_mode TEXT NOT NULL,\n"
        "        config_source TEXT,\n"
        "        config_lines TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL,\n"
        "        UNIQUE (boot_id, release, mapcount_mode)\n"
        ");\n"
        "CREATE TABLE epoch_settings (\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        key TEXT NOT NULL,\n"
        "        value TEXT NOT NULL,\n"
        "        PRIMARY KEY (epoch_id, key)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE sweeps (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        start_usec INTEGER NOT NULL,\n"
        "        duration_usec INTEGER,\n"
        "        sampled INTEGER,\n"
        "        skipped INTEGER,\n"
        "        vanished INTEGER,\n"
        "        denied INTEGER,\n"
        "        malformed INTEGER\n"
        ");\n"
        "CREATE INDEX sweeps_epoch_start ON sweeps (epoch_id, start_usec);\n"
        "CREATE TABLE identities (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        key TEXT NOT NULL UNIQUE,\n"
        "        comm TEXT,\n"
        "        exe TEXT,\n"
        "        cmdline TEXT,\n"
        "        unit TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL\n"
        ");\n"
        "CREATE TABLE processes (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        epoch_id INTEGER NOT NULL REFERENCES epochs (id),\n"
        "        pid INTEGER NOT NULL,\n"
        "        start_time_ticks INTEGER NOT NULL,\n"
        "        identity_id INTEGER NOT NULL REFERENCES identities (id),\n"
        "        comm TEXT,\n"
        "        exe TEXT,\n"
        "        cmdline TEXT,\n"
        "        cgroup TEXT,\n"
        "        unit TEXT,\n"
        "        UNIQUE (epoch_id, pid, start_time_ticks)\n"
        ");\n"
        "CREATE TABLE process_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        process_id INTEGER NOT NULL REFERENCES processes (id),\n"
        "        present INTEGER NOT NULL,\n"
        "        rss_kb INTEGER,\n"
        "        pss_kb INTEGER,\n"
        "        pss_dirty_kb INTEGER,\n"
        "        pss_anon_kb INTEGER,\n"
        "        pss_file_kb INTEGER,\n"
        "        pss_shmem_kb INTEGER,\n"
        "        shared_clean_kb INTEGER,\n"
        "        shared_dirty_kb INTEGER,\n"
        "        private_clean_kb INTEGER,\n"
        "        private_dirty_kb INTEGER,\n"
        "        referenced_kb INTEGER,\n"
        "        anonymous_kb INTEGER,\n"
        "        ksm_kb INTEGER,\n"
        "        lazyfree_kb INTEGER,\n"
        "        anon_huge_pages_kb INTEGER,\n"
        "        shmem_pmd_mapped_kb INTEGER,\n"
        "        file_pmd_mapped_kb INTEGER,\n"
        "        shared_hugetlb_kb INTEGER,\n"
        "        private_hugetlb_kb INTEGER,\n"
        "        swap_kb INTEGER,\n"
        "        swap_pss_kb INTEGER,\n"
        "        locked_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX process_samples_process ON process_samples (process_id);\n"
        "CREATE TABLE process_extra (\n"
        "        sweep_id INTEGER NOT NULL,\n"
        "        process_id INTEGER NOT NULL,\n"
        "        name TEXT NOT NULL,\n"
        "        kb INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, process_id, name),\n"
        "        FOREIGN KEY (sweep_id, process_id)\n"
        "                REFERENCES process_samples (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE identity_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        identity_id INTEGER NOT NULL REFERENCES identities (id),\n"
        "        processes INTEGER NOT NULL,\n"
        "        present INTEGER NOT NULL,\n"
        "        rss_kb INTEGER,\n"
        "        pss_kb INTEGER,\n"
        "        pss_dirty_kb INTEGER,\n"
        "        pss_anon_kb INTEGER,\n"
        "        pss_file_kb INTEGER,\n"
        "        pss_shmem_kb INTEGER,\n"
        "        shared_clean_kb INTEGER,\n"
        "        shared_dirty_kb INTEGER,\n"
        "        private_clean_kb INTEGER,\n"
        "        private_dirty_kb INTEGER,\n"
        "        referenced_kb INTEGER,\n"
        "        anonymous_kb INTEGER,\n"
        "        ksm_kb INTEGER,\n"
        "        lazyfree_kb INTEGER,\n"
        "        anon_huge_pages_kb INTEGER,\n"
        "        shmem_pmd_mapped_kb INTEGER,\n"
        "        file_pmd_mapped_kb INTEGER,\n"
        "        shared_hugetlb_kb INTEGER,\n"
        "        private_hugetlb_kb INTEGER,\n"
        "        swap_kb INTEGER,\n"
        "        swap_pss_kb INTEGER,\n"
        "        locked_kb INTEGER,\n"
        "        median_rss_kb INTEGER,\n"
        "        median_pss_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, identity_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE meminfo_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        name TEXT NOT NULL,\n"
        "        value INTEGER NOT NULL,\n"
        "        is_kb INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, name)\n"
        ") WITHOUT ROWID;\n",

        /* 1 → 2: pagemap counts per class of mapping, the reconstruction and its sums. */
        "ALTER TABLE sweeps ADD COLUMN pagemap_truncated INTEGER;\n"
        "ALTER TABLE sweeps ADD COLUMN pagemap_failed INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN pagemap_truncated INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN anon_present_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN anon_swapped_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN anon_exclusive_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN file_present_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN file_swapped_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN file_exclusive_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN shared_file_present_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN shared_file_swapped_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN shared_file_exclusive_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN shmem_present_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN shmem_swapped_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN shmem_exclusive_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN hugetlb_present_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN hugetlb_swapped_pages INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN hugetlb_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN pagemap_processes INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN anon_present_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN anon_swapped_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN anon_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN file_present_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN file_swapped_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN file_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN shared_file_present_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN shared_file_swapped_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN shared_file_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN shmem_present_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN shmem_swapped_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN shmem_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN hugetlb_present_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN hugetlb_swapped_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN hugetlb_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN truth_processes INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN truth_uss_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN truth_pss_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN truth_shared_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN truth_private_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_pss_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_pss_anon_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_pss_file_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_pss_shmem_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_shared_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_private_kb INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN forecast_exclusive_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN partially_mapped_folios INTEGER;\n"
        "CREATE TABLE process_truth (\n"
        "        sweep_id INTEGER NOT NULL,\n"
        "        process_id INTEGER NOT NULL,\n"
        "        uss_kb INTEGER NOT NULL,\n"
        "        pss_kb INTEGER NOT NULL,\n"
        "        shared_kb INTEGER NOT NULL,\n"
        "        private_kb INTEGER NOT NULL,\n"
        "        forecast_pss_kb INTEGER NOT NULL,\n"
        "        forecast_pss_anon_kb INTEGER NOT NULL,\n"
        "        forecast_pss_file_kb INTEGER NOT NULL,\n"
        "        forecast_pss_shmem_kb INTEGER NOT NULL,\n"
        "        forecast_shared_kb INTEGER NOT NULL,\n"
        "        forecast_private_kb INTEGER NOT NULL,\n"
        "        forecast_exclusive_pages INTEGER NOT NULL,\n"
        "        partially_mapped_folios INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, process_id),\n"
        "        FOREIGN KEY (sweep_id, process_id)\n"
        "                REFERENCES process_samples (sweep_id, process_id)\n"
        ") WITHOUT ROWID;\n",

        /* 2 → 3: series over time of one identity, and sweeps by time. */
        "CREATE INDEX identity_samples_identity ON identity_samples (identity_id, sweep_id);\n"
        "CREATE INDEX sweeps_start ON sweeps (start_usec);\n",

        /* 3 → 4: the host of each epoch, for snapshots compared across a fleet. */
        "ALTER TABLE epochs ADD COLUMN hostname TEXT;\n"
        "ALTER TABLE epochs ADD COLUMN machine_id TEXT;\n",

        /* 4 → 5: memory cgroups and the per-size THP statistics. */
        "ALTER TABLE epochs ADD COLUMN cgroup_layout TEXT;\n"
        "CREATE TABLE cgroups (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        key TEXT NOT NULL UNIQUE,\n"
        "        path TEXT NOT NULL,\n"
        "        unit TEXT,\n"
        "        container TEXT,\n"
        "        first_seen_usec INTEGER NOT NULL,\n"
        "        last_seen_usec INTEGER NOT NULL\n"
        ");\n"
        "CREATE TABLE cgroup_stat_names (\n"
        "        id INTEGER PRIMARY KEY,\n"
        "        name TEXT NOT NULL UNIQUE\n"
        ");\n"
        "CREATE TABLE cgroup_samples (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        cgroup_id INTEGER NOT NULL REFERENCES cgroups (id),\n"
        "        v1 INTEGER NOT NULL,\n"
        "        usage_kb INTEGER,\n"
        "        anon_kb INTEGER,\n"
        "        file_kb INTEGER,\n"
        "        file_mapped_kb INTEGER,\n"
        "        shmem_kb INTEGER,\n"
        "        anon_thp_kb INTEGER,\n"
        "        file_thp_kb INTEGER,\n"
        "        shmem_thp_kb INTEGER,\n"
        "        stat BLOB,\n"
        "        forecast_anon_kb INTEGER,\n"
        "        forecast_file_mapped_kb INTEGER,\n"
        "        PRIMARY KEY (sweep_id, cgroup_id)\n"
        ") WITHOUT ROWID;\n"
        "CREATE INDEX cgroup_samples_cgroup ON cgroup_samples (cgroup_id, sweep_id);\n"
        "CREATE TABLE thp_sizes (\n"
        "        sweep_id INTEGER NOT NULL REFERENCES sweeps (id),\n"
        "        size_kb INTEGER NOT NULL,\n"
        "        enabled TEXT,\n"
        "        PRIMARY KEY (sweep_id, size_kb)\n"
        ") WITHOUT ROWID;\n"
        "CREATE TABLE thp_samples (\n"
        "        sweep_id INTEGER NOT NULL,\n"
        "        size_kb INTEGER NOT NULL,\n"
        "        name TEXT NOT NULL,\n"
        "        value INTEGER NOT NULL,\n"
        "        PRIMARY KEY (sweep_id, size_kb, name),\n"
        "        FOREIGN KEY (sweep_id, size_kb) REFERENCES thp_sizes (sweep_id, size_kb)\n"
        ") WITHOUT ROWID;\n",

        /* 5 → 6: what the config says and what the runtime probe saw, beside the verdict. */
        "ALTER TABLE epochs ADD COLUMN mapcount_config TEXT;\n"
        "ALTER TABLE epochs ADD COLUMN mapcount_probe TEXT;\n"
        "ALTER TABLE epochs ADD COLUMN mapcount_probe_detail TEXT;\n",

        /* 6 → 7: pages of the reconstruction that processes not read also map. */
        "ALTER TABLE process_truth ADD COLUMN unseen_pages INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN unseen_pages INTEGER;\n",

        /* 7 → 8: the steady state, samples whose figures are an earlier sweep's read. */
        "ALTER TABLE sweeps ADD COLUMN reused INTEGER;\n"
        "ALTER TABLE process_samples ADD COLUMN reused_sweep_id INTEGER;\n"
        "ALTER TABLE identity_samples ADD COLUMN reused_processes INTEGER;\n",

        /* 8 → 9: runs, one row for consecutive sweeps whose figures did not change. */
        "ALTER TABLE process_samples ADD COLUMN last_sweep_id INTEGER NOT NULL DEFAULT 0;\n"
        "UPDATE process_samples SET last_sweep_id = sweep_id;\n"
        "DROP INDEX process_samples_process;\n"
        "CREATE INDEX process_samples_process ON process_samples (process_id, last_sweep_id);\n"
        "CREATE INDEX process_samples_last ON process_samples (last_sweep_id);\n"
        "ALTER TABLE identity_samples ADD COLUMN last_sweep_id INTEGER NOT NULL DEFAULT 0;\n"
        "ALTER TABLE identity_samples ADD COLUMN sweeps INTEGER NOT NULL DEFAULT 1;\n"
        "ALTER TABLE identity_samples ADD COLUMN observations INTEGER NOT NULL DEFAULT 1;\n"
        "UPDATE identity_samples SET last_sweep_id = sweep_id, observations ="
        " (processes = 0 OR reused_processes IS NULL OR reused_processes < processes);\n"
        "DROP INDEX identity_samples_identity;\n"
        "CREATE INDEX identity_samples_identity ON identity_samples (identity_id, last_sweep_id);\n"
        "CREATE INDEX identity_samples_last ON identity_samples (last_sweep_id);\n"
        "ALTER TABLE meminfo_samples ADD COLUMN last_sweep_id INTEGER NOT NULL DEFAULT 0;\n"
        "UPDATE meminfo_samples SET last_sweep_id = sweep_id;\n"
        "CREATE INDEX meminfo_samples_last ON meminfo_samples (last_sweep_id, name);\n"
        "ALTER TABLE thp_samples ADD COLUMN last_sweep_id INTEGER NOT NULL DEFAULT 0;\n"
        "UPDATE thp_samples SET last_sweep_id = sweep_id;\n"
        "CREATE INDEX thp_samples_last ON thp_samples (last_sweep_id, size_kb, name);\n"
        "ALTER TABLE cgroup_samples ADD COLUMN last_sweep_id INTEGER NOT NULL DEFAULT 0;\n"
        "UPDATE cgroup_samples SET last_sweep_id = sweep_id;\n"
        "DROP INDEX cgroup_samples_cgroup;\n"
        "CREATE INDEX cgroup_samples_cgroup ON cgroup_samples (cgroup_id, last_sweep_id);\n"
        "CREATE INDEX cgroup_samples_last ON cgroup_samples (last_sweep_id, cgroup_id);\n",

        /* 9 → 10: where downsampling stopped, so that a restart does not look again. */
        "CREATE TABLE history_bounds (\n"
        "        step_usec INTEGER PRIMARY KEY,\n"
        "        from_usec INTEGER NOT NULL\n"
        ");\n",
};

static_assert(ELEMENTSOF(schema_migrations) == STORE_SCHEMA_VERSION,
              "one migration step per schema version");

int schema_inspect(Store *s, SchemaInfo *ret) {
        int64_t application_id, user_version, n_objects;
        int r;

        assert(s);
        assert(ret);

        r = store_query_int64(s, "PRAGMA application_id", &application_id);
        if (r < 0)
                return r;
        r = store_query_int64(s, "PRAGMA user_version", &user_version);
        if (r < 0)
                return r;
        r = store_query_int64(s, "SELECT count(*) FROM sqlite_master", &n_objects);
        if (r < 0)
                return r;

        *ret = (SchemaInfo) {
                .application_id = application_id,
                .user_version = user_version,
                .n_objects = n_objects,
        };
        return 0;
}

static int schema_step(Store *s, int64_t from) {
        char bump[64];
        int r;

        assert(from >= 0 && from < STORE_SCHEMA_VERSION);

        r = store_exec(s, schema_migrations[from]);
        if (r < 0)
                return r;
        (void) snprintf(bump, sizeof bump, "PRAGMA user_version = %" PRIi64, from + 1);
        return store_exec(s, bump);
}

int schema_migrate(Store *s) {
        int r;

        assert(s);

        for (;;) {
                int64_t version;

                r = store_run(s, STORE_STMT_BEGIN);
                if (r < 0)
                        return r;

                /* Read again under the write lock: another writer may have migrated already. */
                r = store_query_int64(s, "PRAGMA user_version", &version);
                if (r >= 0 && version > STORE_SCHEMA_VERSION)
                        r = -EPROTONOSUPPORT;
                if (r >= 0 && version == STORE_SCHEMA_VERSION) {
                        r = store_run(s, STORE_STMT_COMMIT);
                        if (r >= 0)
                                return 0;
                }
                if (r >= 0 && version < 0)
                        r = -EBADMSG;
                if (r >= 0)
                        r = schema_step(s, version);
                if (r >= 0)
                        r = store_run(s, STORE_STMT_COMMIT);
                if (r < 0) {
                        store_rollback(s);
                        return r;
                }
        }
}

/* ---- row codecs ---- */

int schema_bind_pagemap(Store *s, sqlite3_stmt *st, int i, const PagemapClassCounts *pm) {
        int r;

        for (int c = 0; c < _VMA_CLASS_MAX; c++)
                if ((r = store_bind_uint64(s, st, i++, pm[c].present_pages)) < 0 ||
                    (r = store_bind_uint64(s, st, i++, pm[c].swapped_pages)) < 0 ||
                    (r = store_bind_uint64(s, st, i++, pm[c].exclusive_pages)) < 0)
                        return r;
        return 0;
}

void schema_read_pagemap(sqlite3_stmt *st, int col, PagemapClassCounts *ret) {
        /* Columns by offset: the expressions of an initializer list are evaluated in no set
         * order (C11 6.7.9p23), so three col++ in one would read them in any. */
        for (int c = 0; c < _VMA_CLASS_MAX; c++, col += 3)
                ret[c] = (PagemapClassCounts) {
                        .present_pages = store_column_uint64(st, col),
                        .swapped_pages = store_column_uint64(st, col + 1),
                        .exclusive_pages = store_column_uint64(st, col + 2),
                };
}

#define SCHEMA_TRUTH_VALUE_(f, c) t->f,

int schema_bind_truth(Store *s, sqlite3_stmt *st, int i, const ProcessTruth *t) {
        const uint64_t values[] = { STORE_TRUTH_COLUMNS(SCHEMA_TRUTH_VALUE_) };
        int r;

        for (size_t k = 0; k < ELEMENTSOF(values); k++) {
                r = store_bind_uint64(s, st, i + (int) k, values[k]);
                if (r < 0)
                        return r;
        }
        return 0;
}

#define SCHEMA_TRUTH_READ_(f, c) ret->f = store_column_uint64(st, col++);

void schema_read_truth(sqlite3_stmt *st, int col, ProcessTruth *ret) {
        STORE_TRUTH_COLUMNS(SCHEMA_TRUTH_READ_)
}

int schema_bind_identity_aggregate(Store *s, sqlite3_stmt *st, int i, const IdentityAggregate *a) {
        int r;

        if ((r = store_bind_int64(s, st, i + IDENTITY_COL_IDENTITY_ID, a->identity_id)) < 0 ||
            (r = store_bind_uint64(s, st, i + IDENTITY_COL_PROCESSES, a->processes)) < 0 ||
            (r = store_bind_uint64(s, st, i + IDENTITY_COL_PRESENT, a->present_all)) < 0)
                return r;
        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                int k = i + IDENTITY_COL_SMAPS + f;

                r = a->present_any & (1u << f) ? store_bind_uint64(s, st, k, a->sum_kb[f]) :
                                                 store_bind_null(s, st, k);
                if (r < 0)
                        return r;
        }
        if ((r = store_bind_uint64(s, st, i + IDENTITY_COL_MEDIAN_RSS, a->median_rss_kb)) < 0 ||
            (r = store_bind_uint64(s, st, i + IDENTITY_COL_MEDIAN_PSS, a->median_pss_kb)) < 0 ||
            (r = store_bind_uint64(s, st, i + IDENTITY_COL_PAGEMAP_N, a->pagemap_processes)) < 0 ||
            (r = store_bind_uint64(s, st, i + IDENTITY_COL_TRUTH_N, a->truth_processes)) < 0 ||
            (r = store_bind_uint64(s, st, i + IDENTITY_COL_REUSED_N, a->reused_processes)) < 0)
                return r;
        /* Sums left unbound are NULL: statements are cleared after each use. */
        if (a->pagemap_processes > 0) {
                r = schema_bind_pagemap(s, st, i + IDENTITY_COL_PAGEMAP, a->pagemap);
                if (r < 0)
                        return r;
        }
        if (a->truth_processes > 0)
                return schema_bind_truth(s, st, i + IDENTITY_COL_TRUTH, &a->truth);
        return 0;
}

void schema_read_identity_aggregate(sqlite3_stmt *st, int col, IdentityAggregate *ret) {
        IdentityAggregate a = {
                .identity_id = store_column_int64(st, col + IDENTITY_COL_IDENTITY_ID),
                .processes = (uint32_t) MIN(store_column_uint64(st, col + IDENTITY_COL_PROCESSES),
                                            (uint64_t) UINT32_MAX),
                .present_all = (uint32_t) store_column_uint64(st, col + IDENTITY_COL_PRESENT),
                .median_rss_kb = store_column_uint64(st, col + IDENTITY_COL_MEDIAN_RSS),
                .median_pss_kb = store_column_uint64(st, col + IDENTITY_COL_MEDIAN_PSS),
                .pagemap_processes = (uint32_t) MIN(store_column_uint64(st, col +
                                                                        IDENTITY_COL_PAGEMAP_N),
                                                    (uint64_t) UINT32_MAX),
                .truth_processes = (uint32_t) MIN(store_column_uint64(st, col +
                                                                      IDENTITY_COL_TRUTH_N),
                                                  (uint64_t) UINT32_MAX),
                .reused_processes = (uint32_t) MIN(store_column_uint64(st, col +
                                                                       IDENTITY_COL_REUSED_N),
                                                   (uint64_t) UINT32_MAX),
        };

        for (int f = 0; f < _SMAPS_FIELD_MAX; f++) {
                a.sum_kb[f] = store_column_uint64(st, col + IDENTITY_COL_SMAPS + f);
                if (sqlite3_column_type(st, col + IDENTITY_COL_SMAPS + f) != SQLITE_NULL)
                        a.present_any |= 1u << f;
        }
        schema_read_pagemap(st, col + IDENTITY_COL_PAGEMAP, a.pagemap);
        schema_read_truth(st, col + IDENTITY_COL_TRUTH, &a.truth);
        *ret = a;
}
