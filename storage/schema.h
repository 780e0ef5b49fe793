/* Internal to storage/: the database identity (application_id), the per-field column names of
 * process_samples and identity_samples in SmapsField order, SQL fragments built from them, and
 * the checks and migrations run when a file is opened. The schema is described in schema.c. */
#pragma once

#include <stdint.h>

#include "smaps-rollup.h"
#include "store-internal.h"

#define STORE_APPLICATION_ID 0x6D617073         /* 'maps' */

/* The per-field columns, in SmapsField order. Used to build statements at compile time; the
 * tables themselves are created by the frozen migration text in schema.c. */
#define STORE_SMAPS_COLUMNS(X)                                                                   \
        X(rss_kb) X(pss_kb) X(pss_dirty_kb) X(pss_anon_kb) X(pss_file_kb) X(pss_shmem_kb)        \
        X(shared_clean_kb) X(shared_dirty_kb) X(private_clean_kb) X(private_dirty_kb)            \
        X(referenced_kb) X(anonymous_kb) X(ksm_kb) X(lazyfree_kb) X(anon_huge_pages_kb)          \
        X(shmem_pmd_mapped_kb) X(file_pmd_mapped_kb) X(shared_hugetlb_kb)                        \
        X(private_hugetlb_kb) X(swap_kb) X(swap_pss_kb) X(locked_kb)

extern const char *const store_smaps_columns[_SMAPS_FIELD_MAX];

/* The pagemap columns of process_samples and identity_samples (schema version 2), in the
 * layout of PagemapCounts.class[]: VmaClass order, and per class the PagemapClassCounts fields
 * in order. */
#define STORE_PAGEMAP_COLUMNS(X)                                                                 \
        X(anon_present_pages) X(anon_swapped_pages) X(anon_exclusive_pages)                      \
        X(file_present_pages) X(file_swapped_pages) X(file_exclusive_pages)                      \
        X(shared_file_present_pages) X(shared_file_swapped_pages)                                \
        X(shared_file_exclusive_pages)                                                           \
        X(shmem_present_pages) X(shmem_swapped_pages) X(shmem_exclusive_pages)                   \
        X(hugetlb_present_pages) X(hugetlb_swapped_pages) X(hugetlb_exclusive_pages)

#define STORE_PAGEMAP_CLASS_FIELDS 3    /* present, swapped, exclusive */

/* The reconstruction (ProcessTruth) as X(field, identity column): process_truth names its
 * columns after the field, identity_samples holds their sums under the second name. */
#define STORE_TRUTH_COLUMNS(X)                                                                   \
        X(uss_kb, truth_uss_kb) X(pss_kb, truth_pss_kb) X(shared_kb, truth_shared_kb)            \
        X(private_kb, truth_private_kb) X(forecast_pss_kb, forecast_pss_kb)                      \
        X(forecast_pss_anon_kb, forecast_pss_anon_kb)                                            \
        X(forecast_pss_file_kb, forecast_pss_file_kb)                                            \
        X(forecast_pss_shmem_kb, forecast_pss_shmem_kb)                                          \
        X(forecast_shared_kb, forecast_shared_kb) X(forecast_private_kb, forecast_private_kb)    \
        X(forecast_exclusive_pages, forecast_exclusive_pages)                                    \
        X(partially_mapped_folios, partially_mapped_folios)

#define STORE_COUNT_ONE_(c) + 1
#define STORE_COUNT_ONE2_(f, c) + 1
#define STORE_PAGEMAP_N_COLUMNS (0 STORE_PAGEMAP_COLUMNS(STORE_COUNT_ONE_))
#define STORE_TRUTH_N_COLUMNS (0 STORE_TRUTH_COLUMNS(STORE_COUNT_ONE2_))

/* The bitwise AND of `present` over a group (SQLite has no such aggregate): per bit, min() of the
 * masked value is the bit when every member has it and 0 otherwise. One term per SmapsField. */
#define STORE_PRESENT_AND_SQL(t)                                                                 \
        "(min(" t ".present & 1) | min(" t ".present & 2) | min(" t ".present & 4)"              \
        " | min(" t ".present & 8) | min(" t ".present & 16) | min(" t ".present & 32)"          \
        " | min(" t ".present & 64) | min(" t ".present & 128) | min(" t ".present & 256)"       \
        " | min(" t ".present & 512) | min(" t ".present & 1024) | min(" t ".present & 2048)"    \
        " | min(" t ".present & 4096) | min(" t ".present & 8192)"                               \
        " | min(" t ".present & 16384) | min(" t ".present & 32768)"                             \
        " | min(" t ".present & 65536) | min(" t ".present & 131072)"                            \
        " | min(" t ".present & 262144) | min(" t ".present & 524288)"                           \
        " | min(" t ".present & 1048576) | min(" t ".present & 2097152))"

#define STORE_SUM_COLUMN_SQL_(c) ", sum(ps." #c ") AS " #c
#define STORE_SUM_TRUTH_SQL_(f, c) ", sum(ps." #c ") AS " #c
/* The select list of one identity's group of process samples (alias ps, grouped by
 * ps.identity_id): identity_id, n (processes), present (AND over the members), every
 * per-field column summed (absent fields count as 0; a sum is NULL only when no member has the
 * field), pagemap_processes (members scanned completely: a scan cut short by its cap or the
 * sweep's budget does not count) with the pagemap columns summed, and
 * truth_processes (members reconstructed) with the truth columns summed over them. */
#define STORE_GROUP_SELECT_SQL                                                                   \
        "ps.identity_id AS identity_id, count(*) AS n, "                                         \
        STORE_PRESENT_AND_SQL("ps") " AS present"                                                \
        STORE_SMAPS_COLUMNS(STORE_SUM_COLUMN_SQL_)                                               \
        ", count(CASE WHEN ps.pagemap_truncated = 0 THEN 1 END) AS pagemap_processes"            \
        STORE_PAGEMAP_COLUMNS(STORE_SUM_COLUMN_SQL_)                                             \
        ", count(ps.truth_process_id) AS truth_processes"                                        \
        STORE_TRUTH_COLUMNS(STORE_SUM_TRUTH_SQL_)

#define STORE_TRUTH_ALIAS_SQL_(f, c) ", t." #f " AS " #c
/* The process samples of one sweep (?1) with their identity_id and, when reconstructed, their
 * process_truth row (truth_process_id not NULL; columns named as in identity_samples). */
#define STORE_SWEEP_PROCESSES_SQL                                                                \
        "SELECT p.identity_id AS identity_id, ps.*, t.process_id AS truth_process_id"            \
        STORE_TRUTH_COLUMNS(STORE_TRUTH_ALIAS_SQL_)                                              \
        " FROM process_samples ps JOIN processes p ON p.id = ps.process_id"                      \
        " LEFT JOIN process_truth t ON t.sweep_id = ps.sweep_id AND t.process_id = ps.process_id" \
        " WHERE ps.sweep_id = ?1"

/* What store_open() found in the file before touching it. */
typedef struct SchemaInfo {
        int64_t application_id;
        int64_t user_version;
        int64_t n_objects;      /* rows in sqlite_master */
} SchemaInfo;

/* Reads application_id, user_version and the number of schema objects; a file that is not a
 * database fails here (-EBADMSG). Writes nothing. */
int schema_inspect(Store *s, SchemaInfo *ret);

/* Runs the migrations from the file's user_version up to STORE_SCHEMA_VERSION, each step in its
 * own BEGIN IMMEDIATE transaction together with its user_version bump. Returns 0, or -errno
 * (the failed step is rolled back; earlier steps stay committed). -EPROTONOSUPPORT when another
 * writer left a newer version behind meanwhile. */
int schema_migrate(Store *s);
