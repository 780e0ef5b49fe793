/* Epochs: one per kernel identity (boot_id, release, mapcount mode). Creating and finding them
 * for the sweep, listing them for the API, and the one rule that picks the baseline and the
 * candidate epoch of a comparison. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "alloc-util.h"
#include "macro.h"
#include "store-internal.h"
#include "store.h"
#include "string-util.h"

/* ---- writing ---- */

static int store_epoch_insert(Store *s, const KernelId *k, const char *mode, uint64_t now_usec,
                              int64_t *ret) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        int64_t id;
        int r;

        r = store_statement(s, STORE_STMT_EPOCH_INSERT, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, st, 1, k->boot_id)) < 0 ||
            (r = store_bind_text(s, st, 2, k->release)) < 0 ||
            (r = store_bind_text(s, st, 3, mode)) < 0 ||
            (r = store_bind_text(s, st, 4, k->version)) < 0 ||
            (r = k->page_size > 0 ? store_bind_uint64(s, st, 5, k->page_size) :
                                    store_bind_null(s, st, 5)) < 0 ||
            (r = store_bind_text(s, st, 6, k->config_source)) < 0 ||
            (r = store_bind_text(s, st, 7, k->config_lines)) < 0 ||
            (r = store_bind_uint64(s, st, 8, now_usec)) < 0 ||
            (r = store_bind_text(s, st, 9, k->hostname)) < 0 ||
            (r = store_bind_text(s, st, 10, k->machine_id)) < 0 ||
            (r = store_bind_text(s, st, 11, cgroup_layout_to_string(k->cgroup_layout))) < 0 ||
            (r = store_bind_text(s, st, 12, k->probe_detail ?
                                 mapcount_mode_to_string(k->config_mode) : NULL)) < 0 ||
            (r = store_bind_text(s, st, 13, k->probe_detail ?
                                 mapcount_mode_to_string(k->probe_mode) : NULL)) < 0 ||
            (r = store_bind_text(s, st, 14, k->probe_detail)) < 0)
                return r;
        r = store_step(s, st);
        if (r < 0)
                return r;
        id = sqlite3_last_insert_rowid(s->db);

        for (size_t i = 0; i < k->n_settings; i++) {
                _cleanup_reset_ sqlite3_stmt *set = NULL;

                if (!k->settings[i].key || !k->settings[i].value)
                        return -EINVAL;
                r = store_statement(s, STORE_STMT_SETTING_INSERT, &set);
                if (r < 0)
                        return r;
                if ((r = store_bind_int64(s, set, 1, id)) < 0 ||
                    (r = store_bind_text(s, set, 2, k->settings[i].key)) < 0 ||
                    (r = store_bind_text(s, set, 3, k->settings[i].value)) < 0)
                        return r;
                r = store_step(s, set);
                if (r < 0)
                        return r;
        }

        *ret = id;
        return 0;
}

static int store_epoch_find_or_insert(Store *s, const KernelId *k, const char *mode,
                                      uint64_t now_usec, int64_t *ret_id, bool *ret_created) {
        _cleanup_reset_ sqlite3_stmt *find = NULL, *touch = NULL;
        int64_t id;
        int r;

        r = store_statement(s, STORE_STMT_EPOCH_FIND, &find);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, find, 1, k->boot_id)) < 0 ||
            (r = store_bind_text(s, find, 2, k->release)) < 0 ||
            (r = store_bind_text(s, find, 3, mode)) < 0)
                return r;
        r = store_step(s, find);
        if (r < 0)
                return r;
        if (r == 0) {
                r = store_epoch_insert(s, k, mode, now_usec, &id);
                if (r < 0)
                        return r;
                *ret_id = id;
                *ret_created = true;
                return 0;
        }
        id = sqlite3_column_int64(find, 0);

        r = store_statement(s, STORE_STMT_EPOCH_TOUCH, &touch);
        if (r < 0)
                return r;
        if ((r = store_bind_int64(s, touch, 1, id)) < 0 ||
            (r = store_bind_uint64(s, touch, 2, now_usec)) < 0)
                return r;
        r = store_step(s, touch);
        if (r < 0)
                return r;
        *ret_id = id;
        *ret_created = false;
        return 0;
}

int store_epoch_lookup(Store *s, const char *boot_id, const char *release,
                       int64_t *ret_epoch_id, MapcountMode *ret_mode, uint64_t *ret_page_size) {
        _cleanup_reset_ sqlite3_stmt *st = NULL;
        MapcountMode mode;
        int64_t id;
        int r;

        assert(s);
        assert(boot_id);
        assert(release);

        r = store_statement(s, STORE_STMT_EPOCH_LOOKUP, &st);
        if (r < 0)
                return r;
        if ((r = store_bind_text(s, st, 1, boot_id)) < 0 ||
            (r = store_bind_text(s, st, 2, release)) < 0)
                return r;
        r = store_step(s, st);
        if (r <= 0)
                return r;
        id = sqlite3_column_int64(st, 0);
        mode = mapcount_mode_from_string((const char *) sqlite3_column_text(st, 1));
        if (mode < 0)
                return -EBADMSG;

        *ret_epoch_id = id;
        *ret_mode = mode;
        *ret_page_size = (uint64_t) MAX(sqlite3_column_int64(st, 2), (int64_t) 0);
        return 1;
}

int store_epoch_ensure(Store *s, const KernelId *k, uint64_t now_usec, int64_t *ret_epoch_id,
                       bool *ret_created) {
        const char *mode;
        bool nested, created = false;
        int64_t id = 0;
        int r;

        assert(s);
        assert(k);
        assert(ret_epoch_id);

        if (!k->boot_id || !k->release)
                return -EINVAL;
        if (k->mapcount_mode < 0 || k->mapcount_mode >= _MAPCOUNT_MODE_MAX)
                return -EINVAL;
        if (s->sweep_error < 0)
                return s->sweep_error;
        mode = mapcount_mode_to_string(k->mapcount_mode);

        r = store_write_begin(s, &nested);
        if (r < 0)
                return r;
        r = store_epoch_find_or_insert(s, k, mode, now_usec, &id, &created);
        r = store_write_end(s, nested, r);
        if (r < 0)
                return r;

        *ret_epoch_id = id;
        if (ret_created)
                *ret_created = created;
        return 0;
}


/* ---- reading ---- */

int store_epoch_exists(Store *s, int64_t epoch_id, uint64_t *ret_page_size) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int r;

        r = store_prepare(s, "SELECT page_size FROM epochs WHERE id = ?1", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, epoch_id);
        if (r < 0)
                return r;
        r = store_step(s, st);
        if (r > 0 && ret_page_size)
                *ret_page_size = store_column_uint64(st, 0);
        return r;
}

void epoch_info_done(EpochInfo *e) {
        if (!e)
                return;
        free(e->boot_id);
        free(e->release);
        free(e->version);
        free(e->config_source);
        free(e->config_lines);
        free(e->hostname);
        free(e->cgroup_layout);
        free(e->mapcount_config);
        free(e->mapcount_probe);
        free(e->mapcount_probe_detail);
        free(e->machine_id);
        for (size_t i = 0; i < e->n_settings; i++) {
                free(e->settings[i].key);
                free(e->settings[i].value);
        }
        free(e->settings);
        *e = (EpochInfo) {};
}

void epoch_info_array_free(EpochInfo *a, size_t n) {
        for (size_t i = 0; a && i < n; i++)
                epoch_info_done(a + i);
        free(a);
}

typedef struct EpochArray {
        EpochInfo *items;
        size_t n;
} EpochArray;

static void epoch_array_done(EpochArray *a) {
        epoch_info_array_free(a->items, a->n);
}

static int epoch_read_settings(Store *s, EpochInfo *e) {
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        size_t allocated = 0;
        int r;

        r = store_prepare(s, "SELECT key, value FROM epoch_settings WHERE epoch_id = ?1"
                          " ORDER BY key", &st);
        if (r < 0)
                return r;
        r = store_bind_int64(s, st, 1, e->id);
        if (r < 0)
                return r;
        while ((r = store_step(s, st)) > 0) {
                KernelSetting *k;

                r = GREEDY_REALLOC(e->settings, allocated, e->n_settings + 1);
                if (r < 0)
                        return r;
                /* Counted first so that epoch_info_done() frees a half-read setting. */
                k = e->settings + e->n_settings++;
                *k = (KernelSetting) {};
                if ((r = store_column_strdup(st, 0, &k->key)) < 0 ||
                    (r = store_column_strdup(st, 1, &k->value)) < 0)
                        return r;
        }
        return r;
}

static int list_epochs(Store *s, EpochInfo **ret, size_t *ret_n) {
        _cleanup_(epoch_array_done) EpochArray a = {};
        _cleanup_finalize_ sqlite3_stmt *st = NULL;
        int64_t count;
        size_t i = 0;
        int r;

        r = store_query_int64(s, "SELECT count(*) FROM epochs", &count);
        if (r < 0)
                return r;
        if (count > 0) {
                a.items = calloc((size_t) count, sizeof(EpochInfo));
                if (!a.items)
                        return -ENOMEM;
                a.n = (size_t) count;
        }

        r = store_prepare(s,
                          "SELECT e.id, e.boot_id, e.release, e.version, e.page_size,"
                          " e.mapcount_mode, e.config_source, e.config_lines,"
                          " e.first_seen_usec, e.last_seen_usec, w.first_usec, w.last_usec,"
                          " w.n_sweeps, w.last_id, e.hostname, e.machine_id, e.cgroup_layout,"
                          " e.mapcount_config, e.mapcount_probe, e.mapcount_probe_detail"
                          " FROM epochs e LEFT JOIN (SELECT epoch_id,"
                          " min(start_usec) AS first_usec, max(start_usec) AS last_usec,"
                          " count(*) AS n_sweeps, max(id) AS last_id FROM sweeps"
                          " GROUP BY epoch_id) w"
                          " ON w.epoch_id = e.id ORDER BY e.id", &st);
        if (r < 0)
                return r;
        while (i < a.n && (r = store_step(s, st)) > 0) {
                EpochInfo *e = a.items + i++;

                e->id = store_column_int64(st, 0);
                if ((r = store_column_strdup(st, 1, &e->boot_id)) < 0 ||
                    (r = store_column_strdup(st, 2, &e->release)) < 0 ||
                    (r = store_column_strdup(st, 3, &e->version)) < 0 ||
                    (r = store_column_strdup(st, 6, &e->config_source)) < 0 ||
                    (r = store_column_strdup(st, 7, &e->config_lines)) < 0 ||
                    (r = store_column_strdup(st, 14, &e->hostname)) < 0 ||
                    (r = store_column_strdup(st, 15, &e->machine_id)) < 0 ||
                    (r = store_column_strdup(st, 16, &e->cgroup_layout)) < 0 ||
                    (r = store_column_strdup(st, 17, &e->mapcount_config)) < 0 ||
                    (r = store_column_strdup(st, 18, &e->mapcount_probe)) < 0 ||
                    (r = store_column_strdup(st, 19, &e->mapcount_probe_detail)) < 0)
                        return r;
                e->mapcount_mode = mapcount_mode_from_string((const char *)
                                                             sqlite3_column_text(st, 5));
                if (e->mapcount_mode < 0)
                        return -EBADMSG;
                e->page_size = store_column_uint64(st, 4);
                e->first_seen_usec = store_column_uint64(st, 8);
                e->last_seen_usec = store_column_uint64(st, 9);
                e->first_sweep_usec = store_column_uint64(st, 10);
                e->last_sweep_usec = store_column_uint64(st, 11);
                e->sweeps = store_column_uint64(st, 12);
                e->last_sweep_id = store_column_int64(st, 13);
                r = epoch_read_settings(s, e);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;

        *ret = TAKE_PTR(a.items);
        *ret_n = i;
        return 0;
}

int store_list_epochs(Store *s, EpochInfo **ret, size_t *ret_n) {
        assert(s);
        assert(ret);
        assert(ret_n);

        return STORE_IN_SNAPSHOT(s, list_epochs(s, ret, ret_n));
}


/* ---- the baseline and the candidate ---- */

static const EpochInfo *epoch_find(const EpochInfo *epochs, size_t n, int64_t id) {
        for (size_t i = 0; i < n; i++)
                if (epochs[i].id == id)
                        return &epochs[i];
        return NULL;
}

int epoch_pair_pick(const EpochInfo *epochs, size_t n, int64_t want_baseline,
                    int64_t want_candidate, const EpochInfo **ret_baseline,
                    const EpochInfo **ret_candidate, int64_t *ret_unknown) {
        const EpochInfo *baseline = NULL, *candidate = NULL;

        assert(epochs || n == 0);

        if (want_baseline > 0 && !(baseline = epoch_find(epochs, n, want_baseline))) {
                *ret_unknown = want_baseline;
                return -ENOENT;
        }
        if (want_candidate > 0 && !(candidate = epoch_find(epochs, n, want_candidate))) {
                *ret_unknown = want_candidate;
                return -ENOENT;
        }

        /* The candidate: the epoch of the latest sweep (the highest sweep id). */
        if (want_candidate <= 0)
                for (size_t i = 0; i < n; i++)
                        if (epochs[i].sweeps > 0 &&
                            (!candidate || epochs[i].last_sweep_id > candidate->last_sweep_id))
                                candidate = &epochs[i];

        /* The baseline: the most recent epoch created before the candidate (lower id) that has
         * sweeps and ran another kernel (release or mapcount mode). */
        for (size_t i = n; !baseline && candidate && i > 0; i--) {
                const EpochInfo *e = &epochs[i - 1];

                if (e->id < candidate->id && e->sweeps > 0 &&
                    (!streq_ptr(e->release, candidate->release) ||
                     e->mapcount_mode != candidate->mapcount_mode))
                        baseline = e;
        }

        if (baseline && candidate && baseline->id == candidate->id)
                return -EINVAL;
        *ret_baseline = baseline;
        *ret_candidate = candidate;
        return 0;
}

void epoch_pair_done(EpochPair *p) {
        if (!p)
                return;
        epoch_info_array_free(p->epochs, p->n_epochs);
        *p = (EpochPair) {};
}

static int epoch_pair_read(Store *s, int64_t want_baseline, int64_t want_candidate,
                           EpochPair *ret, int64_t *ret_unknown) {
        _cleanup_(epoch_pair_done) EpochPair p = {};
        int r;

        r = list_epochs(s, &p.epochs, &p.n_epochs);
        if (r < 0)
                return r;
        r = epoch_pair_pick(p.epochs, p.n_epochs, want_baseline, want_candidate, &p.baseline,
                            &p.candidate, ret_unknown);
        if (r < 0)
                return r;
        *ret = TAKE_STRUCT(p);
        return 0;
}

int store_epoch_pair(Store *s, int64_t want_baseline, int64_t want_candidate, EpochPair *ret,
                     int64_t *ret_unknown) {
        assert(s);
        assert(ret);
        assert(ret_unknown);

        return STORE_IN_SNAPSHOT(s, epoch_pair_read(s, want_baseline, want_candidate, ret,
                                                    ret_unknown));
}
