/* The lists /report and /forecast answer with: the flagged comparisons, heaviest shift first,
 * each with its identity looked up, and lists of identities by id. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "web-internal.h"

int identity_lookup_json(Store *store, int64_t id, bool redact, json_t **ret) {
        _cleanup_(identity_info_done) IdentityInfo info = {};
        json_t *j;
        int r;

        r = store_get_identity(store, id, &info);
        if (r < 0)
                return r;
        j = identity_to_json(&info, redact);
        if (!j)
                return -ENOMEM;
        *ret = j;
        return 0;
}

int identities_to_json(Store *store, const int64_t *ids, size_t n, bool redact, json_t **ret) {
        _cleanup_json_ json_t *a = json_array();
        int r;

        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_t *j;

                r = identity_lookup_json(store, ids[i], redact, &j);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, j) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

/* One flagged identity of /report or /forecast, for sorting. */
typedef struct FlaggedEntry {
        double weight;          /* largest |delta_points| among the flagged figures */
        int64_t identity_id;
        const void *comparison; /* IdentityComparison or ForecastComparison */
} FlaggedEntry;

static int flagged_entry_compare(const void *a, const void *b) {
        const FlaggedEntry *x = a, *y = b;

        if (x->weight != y->weight)
                return x->weight > y->weight ? -1 : 1;
        if (x->identity_id != y->identity_id)
                return x->identity_id < y->identity_id ? -1 : 1;
        return 0;
}

double flagged_delta_weight(double w, const MetricDelta *d) {
        return d->flagged && fabs(d->delta_points) > w ? fabs(d->delta_points) : w;
}

/* The flagged items of an array of comparisons, heaviest first, as a JSON array. */
int flagged_list_to_json(Store *store, const void *items, size_t n, const FlaggedKind *kind,
                         bool redact, json_t **ret) {
        _cleanup_free_ FlaggedEntry *entries = NULL;
        _cleanup_json_ json_t *a = json_array();
        size_t k = 0;
        int r;

        if (!a)
                return -ENOMEM;
        entries = calloc(MAX(n, (size_t) 1), sizeof *entries);
        if (!entries)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const void *item = (const char *) items + i * kind->size;

                bool flagged;
                int64_t identity_id;

                memcpy(&flagged, (const char *) item + kind->flagged_offset, sizeof flagged);
                memcpy(&identity_id, (const char *) item + kind->identity_offset,
                       sizeof identity_id);
                if (flagged)
                        entries[k++] = (FlaggedEntry) {
                                .weight = kind->weight(item),
                                .identity_id = identity_id,
                                .comparison = item,
                        };
        }
        qsort(entries, k, sizeof *entries, flagged_entry_compare);

        for (size_t i = 0; i < k; i++) {
                json_t *identity;

                r = identity_lookup_json(store, entries[i].identity_id, redact, &identity);
                if (r < 0)
                        return r;
                if (json_array_append_new(a, kind->to_json(entries[i].comparison, identity)) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}
