/* The comparison of two epochs' identities behind /report and the report figures of /metrics:
 * compare_identities() over each epoch's window, COMPARE_IDENTITIES_AT_ONCE identity ids at a
 * time so that only their points are in memory at once, keeping the flagged comparisons only.
 * The last few results are kept (ReportMemo), keyed by the epochs and their last sweep, the
 * window and the thresholds, so that /report and /metrics compute one comparison per sweep
 * between them. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "web-internal.h"

/* Results kept: the default report, and a few asked for with other parameters. */
#define REPORT_MEMO_SLOTS 4

typedef struct MemoKey {
        int64_t baseline, baseline_last_sweep, candidate, candidate_last_sweep;
        size_t window;
        Thresholds thresholds;
} MemoKey;

typedef struct MemoSlot {
        bool valid;
        MemoKey key;
        uint64_t used;                  /* a counter: the least recently used slot goes */
        IdentityCompared result;
} MemoSlot;

struct ReportMemo {
        pthread_mutex_t lock;
        uint64_t clock;
        MemoSlot slots[REPORT_MEMO_SLOTS];
};

void identity_compared_done(IdentityCompared *c) {
        free(c->flagged);
        free(c->appeared);
        free(c->disappeared);
        *c = (IdentityCompared) {};
}

static int identity_compared_copy(IdentityCompared *dst, const IdentityCompared *src) {
        IdentityCompared c = {
                .n_flagged = src->n_flagged,
                .n_compared = src->n_compared,
                .n_appeared = src->n_appeared,
                .n_disappeared = src->n_disappeared,
        };

        c.flagged = malloc(MAX(c.n_flagged, (size_t) 1) * sizeof *c.flagged);
        c.appeared = malloc(MAX(c.n_appeared, (size_t) 1) * sizeof *c.appeared);
        c.disappeared = malloc(MAX(c.n_disappeared, (size_t) 1) * sizeof *c.disappeared);
        if (!c.flagged || !c.appeared || !c.disappeared) {
                identity_compared_done(&c);
                return -ENOMEM;
        }
        /* memcpy() wants valid pointers even for 0 bytes, and an empty list has none. */
        if (c.n_flagged > 0)
                memcpy(c.flagged, src->flagged, c.n_flagged * sizeof *c.flagged);
        if (c.n_appeared > 0)
                memcpy(c.appeared, src->appeared, c.n_appeared * sizeof *c.appeared);
        if (c.n_disappeared > 0)
                memcpy(c.disappeared, src->disappeared, c.n_disappeared * sizeof *c.disappeared);
        *dst = c;
        return 0;
}

int report_memo_new(ReportMemo **ret) {
        ReportMemo *m = calloc(1, sizeof *m);

        if (!m)
                return -ENOMEM;
        if (pthread_mutex_init(&m->lock, NULL) != 0) {
                free(m);
                return -ENOMEM;
        }
        *ret = m;
        return 0;
}

ReportMemo *report_memo_free(ReportMemo *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < REPORT_MEMO_SLOTS; i++)
                identity_compared_done(&m->slots[i].result);
        (void) pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

static bool memo_key_equal(const MemoKey *a, const MemoKey *b) {
        return a->baseline == b->baseline && a->baseline_last_sweep == b->baseline_last_sweep &&
               a->candidate == b->candidate &&
               a->candidate_last_sweep == b->candidate_last_sweep && a->window == b->window &&
               a->thresholds.min_delta_kb == b->thresholds.min_delta_kb &&
               a->thresholds.min_delta_points == b->thresholds.min_delta_points &&
               a->thresholds.noise_factor == b->thresholds.noise_factor;
}

/* Copies the kept result of key into *ret. Returns 1, 0 when none is kept, or -ENOMEM. */
static int memo_get(ReportMemo *m, const MemoKey *key, IdentityCompared *ret) {
        int r = 0;

        (void) pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < REPORT_MEMO_SLOTS; i++) {
                MemoSlot *slot = &m->slots[i];

                if (!slot->valid || !memo_key_equal(&slot->key, key))
                        continue;
                slot->used = ++m->clock;
                r = identity_compared_copy(ret, &slot->result);
                r = r < 0 ? r : 1;
                break;
        }
        (void) pthread_mutex_unlock(&m->lock);
        return r;
}

/* Keeps a copy of result for key in the least recently used slot; out of memory, keeps
 * nothing. */
static void memo_put(ReportMemo *m, const MemoKey *key, const IdentityCompared *result) {
        IdentityCompared copy;
        MemoSlot *slot;

        if (identity_compared_copy(&copy, result) < 0)
                return;
        (void) pthread_mutex_lock(&m->lock);
        slot = &m->slots[0];
        for (size_t i = 1; i < REPORT_MEMO_SLOTS; i++)
                if (!m->slots[i].valid || (slot->valid && m->slots[i].used < slot->used))
                        slot = &m->slots[i];
        identity_compared_done(&slot->result);
        *slot = (MemoSlot) { .valid = true, .key = *key, .used = ++m->clock, .result = copy };
        (void) pthread_mutex_unlock(&m->lock);
}

/* Compares one range of identity ids of both epochs' windows and appends the results: the
 * flagged comparisons only, and every appeared and disappeared identity. */
static int compare_range(Store *store, const EpochInfo *baseline, const EpochInfo *candidate,
                         const Thresholds *t, const SeriesSelection *sel,
                         IdentityComparison **scratch, size_t *allocated_scratch,
                         IdentityCompared *c, size_t allocated[static 3]) {
        _cleanup_free_ IdentitySeries *before = NULL, *after = NULL;
        _cleanup_free_ IdentityPoint *before_points = NULL, *after_points = NULL;
        size_t n_before = 0, n_after = 0, n_appeared = 0, n_disappeared = 0;
        int r, n;

        r = store_epoch_identity_series(store, baseline->id, sel, &before, &n_before,
                                        &before_points);
        if (r < 0)
                return r;
        r = store_epoch_identity_series(store, candidate->id, sel, &after, &n_after,
                                        &after_points);
        if (r < 0)
                return r;

        if (GREEDY_REALLOC(*scratch, *allocated_scratch, MIN(n_before, n_after) + 1) < 0 ||
            GREEDY_REALLOC(c->appeared, allocated[1], c->n_appeared + n_after + 1) < 0 ||
            GREEDY_REALLOC(c->disappeared, allocated[2], c->n_disappeared + n_before + 1) < 0)
                return -ENOMEM;

        n = compare_identities(before, n_before, after, n_after, t, *scratch,
                               c->appeared + c->n_appeared, &n_appeared,
                               c->disappeared + c->n_disappeared, &n_disappeared);
        if (n < 0)
                return n;
        c->n_compared += (size_t) n;
        c->n_appeared += n_appeared;
        c->n_disappeared += n_disappeared;

        for (int i = 0; i < n; i++) {
                if (!(*scratch)[i].flagged)
                        continue;
                if (GREEDY_REALLOC(c->flagged, allocated[0], c->n_flagged + 1) < 0)
                        return -ENOMEM;
                c->flagged[c->n_flagged++] = (*scratch)[i];
        }
        return 0;
}

int identities_compare(Store *store, const EpochInfo *baseline, const EpochInfo *candidate,
                       size_t window, const Thresholds *t, ReportMemo *memo,
                       IdentityCompared *ret) {
        _cleanup_(identity_compared_done) IdentityCompared c = {};
        _cleanup_free_ IdentityComparison *scratch = NULL;
        size_t allocated[3] = {}, allocated_scratch = 0;
        MemoKey key = {
                .baseline = baseline->id,
                .baseline_last_sweep = baseline->last_sweep_id,
                .candidate = candidate->id,
                .candidate_last_sweep = candidate->last_sweep_id,
                .window = window,
                .thresholds = *t,
        };
        int64_t max_id;
        int r;

        if (memo) {
                r = memo_get(memo, &key, ret);
                if (r != 0)
                        return r < 0 ? r : 0;
        }

        r = store_identity_id_max(store, &max_id);
        if (r < 0)
                return r;
        for (int64_t first = 1; first <= max_id; first += COMPARE_IDENTITIES_AT_ONCE) {
                SeriesSelection sel = {
                        .window = window,
                        .first_identity = first,
                        .last_identity = first + COMPARE_IDENTITIES_AT_ONCE - 1,
                };

                r = compare_range(store, baseline, candidate, t, &sel, &scratch,
                                  &allocated_scratch, &c, allocated);
                if (r < 0)
                        return r;
        }

        /* A forecast exists only for a page_mapcount baseline: on no_page_mapcount, kpagecount
         * already holds folio averages and the forecast rules do not apply. */
        if (baseline->mapcount_mode != MAPCOUNT_MODE_PAGE)
                for (size_t i = 0; i < c.n_flagged; i++)
                        c.flagged[i].has_forecast = false;

        if (memo)
                memo_put(memo, &key, &c);
        *ret = TAKE_STRUCT(c);
        return 0;
}
