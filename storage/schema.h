/* Internal to storage/: the database identity (application_id), the per-field column names of
 * process_samples and identity_samples, SQL fragments built from them, and the checks and
 * migrations run when a file is opened. The schema is described in schema.c. */
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
        X(partially_mapped_folios, partially_mapped_folios) X(unseen_pages, unseen_pages)

#define STORE_COUNT_ONE_(c) + 1
#define STORE_COUNT_ONE2_(f, c) + 1
#define STORE_PAGEMAP_N_COLUMNS (0 STORE_PAGEMAP_COLUMNS(STORE_COUNT_ONE_))
#define STORE_TRUTH_N_COLUMNS (0 STORE_TRUTH_COLUMNS(STORE_COUNT_ONE2_))

#define STORE_COLUMN_LIST_(c) ", " #c
#define STORE_COLUMN_PARAM_(c) ", ?"
#define STORE_TRUTH_FIELD_LIST_(f, c) ", " #f
#define STORE_TRUTH_COLUMN_LIST_(f, c) ", " #c
#define STORE_TRUTH_PARAM_(f, c) ", ?"

/* The columns of identity_samples that hold an IdentityAggregate (aggregate.h), in the order
 * of the IDENTITY_COL_* numbers below; the writer inserts them (after sweep_id) and every
 * query reads them. */
#define STORE_IDENTITY_AGGREGATE_COLUMNS                                                         \
        "identity_id, processes, present" STORE_SMAPS_COLUMNS(STORE_COLUMN_LIST_)                \
        ", median_rss_kb, median_pss_kb, pagemap_processes"                                      \
        STORE_PAGEMAP_COLUMNS(STORE_COLUMN_LIST_) ", truth_processes"                            \
        STORE_TRUTH_COLUMNS(STORE_TRUTH_COLUMN_LIST_) ", reused_processes"

/* One ", ?" per column of STORE_IDENTITY_AGGREGATE_COLUMNS. */
#define STORE_IDENTITY_AGGREGATE_PARAMS                                                          \
        ", ?, ?, ?" STORE_SMAPS_COLUMNS(STORE_COLUMN_PARAM_) ", ?, ?, ?"                         \
        STORE_PAGEMAP_COLUMNS(STORE_COLUMN_PARAM_) ", ?" STORE_TRUTH_COLUMNS(STORE_TRUTH_PARAM_) \
        ", ?"

enum {
        IDENTITY_COL_IDENTITY_ID,
        IDENTITY_COL_PROCESSES,
        IDENTITY_COL_PRESENT,
        IDENTITY_COL_SMAPS,
        IDENTITY_COL_MEDIAN_RSS = IDENTITY_COL_SMAPS + _SMAPS_FIELD_MAX,
        IDENTITY_COL_MEDIAN_PSS,
        IDENTITY_COL_PAGEMAP_N,
        IDENTITY_COL_PAGEMAP,
        IDENTITY_COL_TRUTH_N = IDENTITY_COL_PAGEMAP + STORE_PAGEMAP_N_COLUMNS,
        IDENTITY_COL_TRUTH,
        IDENTITY_COL_REUSED_N = IDENTITY_COL_TRUTH + STORE_TRUTH_N_COLUMNS,
        _IDENTITY_COL_MAX,
};

/* Row codecs: each binds (from parameter i on) or reads (from column col on) the columns of
 * one macro above, in its order. Binders return 0 or -errno (-ERANGE above INT64_MAX);
 * readers take SQL NULL as 0. */
int schema_bind_pagemap(Store *s, sqlite3_stmt *st, int i, const PagemapClassCounts *pm);
int schema_bind_truth(Store *s, sqlite3_stmt *st, int i, const ProcessTruth *t);
void schema_read_pagemap(sqlite3_stmt *st, int col, PagemapClassCounts *ret);
void schema_read_truth(sqlite3_stmt *st, int col, ProcessTruth *ret);
/* The sum of a field no member printed is bound as NULL, as are the pagemap and truth sums
 * when no member has them. */
int schema_bind_identity_aggregate(Store *s, sqlite3_stmt *st, int i, const IdentityAggregate *a);
void schema_read_identity_aggregate(sqlite3_stmt *st, int col, IdentityAggregate *ret);

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
