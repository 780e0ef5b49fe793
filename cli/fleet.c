/* mapstatctl fleet compare: many hosts' snapshots compared offline. One pass over the files,
 * one document in memory at a time: each host contributes, per identity it ran on both sides,
 * its deltas (after − before of every compared figure, from its own summaries) and its own
 * classification; a host that changed kernel is treated, one that ran the old kernel in two
 * epochs is a control. Then per identity the difference in differences of medians across hosts
 * with its interval (compare/fleet.h) says whether the kernel moved its figures consistently.
 * Memory: about 80 bytes per host and identity compared, whatever the documents weigh. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <search.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc-util.h"
#include "ctl.h"
#include "fleet.h"
#include "parse-util.h"
#include "string-util.h"

#define SNAPSHOT_FORMAT "mapstatd-snapshot"
#define SNAPSHOT_VERSION 1
#define MIN_HOSTS_DEFAULT 3
/* Kernels told apart: (release, mapcount mode) pairs. */
#define KERNELS_MAX 256

typedef struct Kernel {
        char *release;
        char *mode;
        size_t hosts;                   /* hosts that ran it (in some epoch) */
} Kernel;

/* One host's deltas of one identity. */
typedef struct HostDelta {
        float points[_COMPARE_METRIC_MAX];              /* ratio points, after − before */
        float kb[_COMPARE_METRIC_MAX];
        float exclusive_points[_EXCLUSIVITY_CLASS_MAX]; /* NaN unless scanned on both sides */
        uint16_t before, after;                         /* kernel indexes */
        int8_t kind;                                    /* the host's own ShiftKind when its
                                                         * comparison flagged, else -1 */
} HostDelta;

typedef struct FleetIdentity {
        char *key, *comm, *unit;        /* the first host's */
        HostDelta *deltas;
        size_t n, allocated;
} FleetIdentity;

typedef struct Skipped {
        char *file, *error;
} Skipped;

typedef struct Fleet {
        Thresholds thresholds;
        size_t min_hosts;
        const char *want_before, *want_after;   /* releases asked for, or NULL */
        Kernel kernels[KERNELS_MAX];
        size_t n_kernels;
        void *identities;                       /* tsearch() tree of FleetIdentity by key */
        FleetIdentity **list;                   /* the same, in the order first seen */
        size_t n_identities, allocated_identities;
        char **machine_ids;                     /* seen, to refuse a machine twice */
        size_t n_machines, allocated_machines;
        Skipped *skipped;
        size_t n_skipped, allocated_skipped;
        size_t hosts_read, hosts_unpaired;
        size_t pairs[KERNELS_MAX][KERNELS_MAX];   /* hosts per (before, after) kernels */
} Fleet;

static int identity_compare_key(const void *a, const void *b) {
        return strcmp(((const FleetIdentity *) a)->key, ((const FleetIdentity *) b)->key);
}

static const char *jstr(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

/* Orders identity objects of a snapshot by their key. */
static int json_key_compare(const void *a, const void *b) {
        return strcmp(jstr(a, "key"), jstr(b, "key"));
}

static void free_nothing(void *p) {
        (void) p;
}

/* ---- reading one snapshot ---- */

static int skip(Fleet *f, const char *file, const char *fmt, ...) _printf_(3, 4);
static int skip(Fleet *f, const char *file, const char *fmt, ...) {
        Skipped s = {};
        va_list ap;

        if (GREEDY_REALLOC(f->skipped, f->allocated_skipped, f->n_skipped + 1) < 0)
                return -ENOMEM;
        va_start(ap, fmt);
        if (vasprintf(&s.error, fmt, ap) < 0)
                s.error = NULL;
        va_end(ap);
        s.file = strdup(file);
        if (!s.file || !s.error) {
                free(s.file);
                free(s.error);
                return -ENOMEM;
        }
        fprintf(stderr, "mapstatctl fleet: skipping '%s': %s\n", file, s.error);
        f->skipped[f->n_skipped++] = s;
        return 0;
}

/* The index of kernel (release, mode), added when new. -E2BIG beyond KERNELS_MAX. */
static int kernel_index(Fleet *f, const char *release, const char *mode) {
        for (size_t i = 0; i < f->n_kernels; i++)
                if (streq_ptr(f->kernels[i].release, release) &&
                    streq_ptr(f->kernels[i].mode, mode))
                        return (int) i;
        if (f->n_kernels >= KERNELS_MAX)
                return -E2BIG;
        f->kernels[f->n_kernels] = (Kernel) { .release = strdup(release), .mode = strdup(mode) };
        if (!f->kernels[f->n_kernels].release || !f->kernels[f->n_kernels].mode)
                return -ENOMEM;
        return (int) f->n_kernels++;
}

/* [median_kb, median_ratio, spread_kb, spread_ratio] into st (n = samples). */
static bool stats_read(const json_t *a, size_t samples, SeriesStats *st) {
        if (!json_is_array(a) || json_array_size(a) < 4)
                return false;
        *st = (SeriesStats) {
                .n = samples,
                .median_kb = json_number_value(json_array_get(a, 0)),
                .median_ratio = json_number_value(json_array_get(a, 1)),
                .spread_kb = json_number_value(json_array_get(a, 2)),
                .spread_ratio = json_number_value(json_array_get(a, 3)),
        };
        return true;
}

/* One identity of a snapshot's epoch as the summary compare/ compares. */
static bool summary_read(const json_t *o, IdentitySummary *u) {
        const json_t *metrics = json_object_get(o, "metrics"), *excl, *truth;
        json_int_t samples = json_integer_value(json_object_get(o, "samples"));

        if (!json_is_object(metrics) || samples < 0)
                return false;
        *u = (IdentitySummary) {
                .n = (size_t) samples,
                .processes = json_number_value(json_object_get(o, "processes")),
                .rss_kb = json_number_value(json_object_get(o, "Rss_kb")),
        };
        for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++)
                if (!stats_read(json_object_get(metrics, compare_metric_to_string(m)), u->n,
                                &u->metrics[m]))
                        return false;
        excl = json_object_get(o, "exclusivity");
        if (json_is_object(excl)) {
                u->has_pagemap = true;
                for (ExclusivityClass k = 0; k < _EXCLUSIVITY_CLASS_MAX; k++) {
                        const json_t *a = json_object_get(excl, exclusivity_class_to_string(k));

                        if (!stats_read(a, u->n, &u->exclusivity[k]) || json_array_size(a) < 5)
                                return false;
                        u->present_kb[k] = json_number_value(json_array_get(a, 4));
                }
        }
        truth = json_object_get(o, "truth");
        if (json_is_object(truth)) {
                static const CompareMetric truth_metrics[] = {
                        COMPARE_METRIC_SHARED, COMPARE_METRIC_PRIVATE, COMPARE_METRIC_PSS,
                };

                u->has_truth = true;
                for (size_t i = 0; i < ELEMENTSOF(truth_metrics); i++)
                        if (!stats_read(json_object_get(truth, compare_metric_to_string(
                                                truth_metrics[i])), u->n,
                                        &u->truth[truth_metrics[i]]))
                                return false;
        }
        return true;
}

static FleetIdentity *identity_get(Fleet *f, const json_t *o) {
        FleetIdentity probe = { .key = (char *) jstr(o, "key") }, *i, **found;

        if (!probe.key)
                return NULL;
        found = tfind(&probe, &f->identities, identity_compare_key);
        if (found)
                return *found;
        if (GREEDY_REALLOC(f->list, f->allocated_identities, f->n_identities + 1) < 0)
                return NULL;
        i = calloc(1, sizeof *i);
        if (!i || !(i->key = strdup(probe.key)) ||
            (jstr(o, "comm") && !(i->comm = strdup(jstr(o, "comm")))) ||
            (jstr(o, "unit") && !(i->unit = strdup(jstr(o, "unit")))))
                goto fail;
        if (!tsearch(i, &f->identities, identity_compare_key))
                goto fail;
        f->list[f->n_identities++] = i;
        return i;
fail:
        if (i) {
                free(i->key);
                free(i->comm);
                free(i->unit);
                free(i);
        }
        return NULL;
}

/* Which two epochs of a host are compared: with releases asked for, its latest epoch of the
 * candidate and its latest of the baseline (treated), else its earliest and latest of the
 * baseline (control); without, its latest epoch and its latest of another kernel (treated), else
 * its earliest and latest (control, one kernel). Epoch order is by last sweep. Returns false
 * when the host has no such pair. */
static bool host_pair(Fleet *f, const json_t *epochs, const int *kernel, size_t n,
                      size_t *order, size_t *ret_before, size_t *ret_after) {
        size_t before = SIZE_MAX, after = SIZE_MAX;

        /* Epochs by their last sweep (RFC 3339 UTC strings compare as times). */
        for (size_t i = 0; i < n; i++)
                order[i] = i;
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 &&
                     strcmp(jstr(json_array_get(epochs, order[j - 1]), "last_sweep") ?: "",
                            jstr(json_array_get(epochs, order[j]), "last_sweep") ?: "") > 0; j--) {
                        size_t t = order[j];
                        order[j] = order[j - 1];
                        order[j - 1] = t;
                }

        if (f->want_before && f->want_after) {
                /* The latest epoch of the candidate, and the latest of the baseline before
                 * it; without the candidate, the earliest and latest of the baseline. */
                for (size_t i = 0; i < n; i++)
                        if (streq_ptr(f->kernels[kernel[order[i]]].release, f->want_after))
                                after = i;
                for (size_t i = 0; i < n; i++) {
                        if (!streq_ptr(f->kernels[kernel[order[i]]].release, f->want_before))
                                continue;
                        if (after != SIZE_MAX) {
                                if (i < after)
                                        before = i;
                        } else if (before == SIZE_MAX)
                                before = i;
                        else
                                after = i;
                }
                if (before != SIZE_MAX)
                        before = order[before];
                if (after != SIZE_MAX)
                        after = order[after];
        } else if (n > 0) {
                after = order[n - 1];
                for (size_t i = 0; i + 1 < n; i++)
                        if (kernel[order[i]] != kernel[after])
                                before = order[i];
                if (before == SIZE_MAX && n >= 2)
                        before = order[0];
        }
        if (before == SIZE_MAX || after == SIZE_MAX || before == after)
                return false;
        *ret_before = before;
        *ret_after = after;
        return true;
}

static float delta_points(const SeriesStats *b, const SeriesStats *a) {
        return (float) ((a->median_ratio - b->median_ratio) * 100);
}

/* Adds one host's deltas of every identity on both sides of its pair. */
static int host_add(Fleet *f, const json_t *before, const json_t *after, int kb, int ka) {
        void *keys = NULL;
        const json_t *o;
        size_t i;
        int r = 0;

        /* The "before" identities by key, to match the "after" ones. */
        json_array_foreach(json_object_get(before, "identities"), i, o)
                if (jstr(o, "key") && !tsearch(o, &keys, json_key_compare))
                        r = -ENOMEM;
        json_array_foreach(json_object_get(after, "identities"), i, o) {
                const json_t **match;
                IdentitySummary sb, sa;
                IdentityComparison c;
                FleetIdentity *id;
                HostDelta d = { .before = (uint16_t) kb, .after = (uint16_t) ka, .kind = -1 };

                if (r < 0)
                        break;
                match = tfind(o, &keys, json_key_compare);
                if (!match || !summary_read(*match, &sb) || !summary_read(o, &sa))
                        continue;
                identity_compare_summaries(&sb, &sa, &f->thresholds, &c);
                if (c.flagged)
                        d.kind = (int8_t) c.kind;
                for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                        d.points[m] = delta_points(&sb.metrics[m], &sa.metrics[m]);
                        d.kb[m] = (float) (sa.metrics[m].median_kb - sb.metrics[m].median_kb);
                }
                for (ExclusivityClass k = 0; k < _EXCLUSIVITY_CLASS_MAX; k++)
                        d.exclusive_points[k] = sb.has_pagemap && sa.has_pagemap &&
                                                sb.present_kb[k] > 0 && sa.present_kb[k] > 0
                                ? delta_points(&sb.exclusivity[k], &sa.exclusivity[k]) : NAN;
                id = identity_get(f, o);
                if (!id || GREEDY_REALLOC(id->deltas, id->allocated, id->n + 1) < 0) {
                        r = -ENOMEM;
                        break;
                }
                id->deltas[id->n++] = d;
        }
        tdestroy(keys, free_nothing);
        return r;
}

/* Reads one snapshot file and adds its host. Malformed, duplicate and unknown-version files are
 * skipped with the reason. Returns 0 or -ENOMEM. */
static int snapshot_add(Fleet *f, const char *file) {
        _cleanup_json_ json_t *doc = NULL;
        _cleanup_free_ int *kernel = NULL;
        _cleanup_free_ size_t *order = NULL;
        const json_t *epochs, *e, *version;
        const char *machine;
        json_error_t error;
        size_t n, i, before, after;
        int r;

        doc = json_load_file(file, 0, &error);
        if (!doc)
                return skip(f, file, "not a JSON document: %s (line %d)", error.text, error.line);
        if (!streq_ptr(jstr(doc, "format"), SNAPSHOT_FORMAT))
                return skip(f, file, "not a mapstatd snapshot (no \"format\": \"%s\")",
                            SNAPSHOT_FORMAT);
        version = json_object_get(doc, "version");
        if (!json_is_integer(version) || json_integer_value(version) != SNAPSHOT_VERSION)
                return skip(f, file, "snapshot version %s: this mapstatctl reads version %d",
                            json_is_integer(version) ? "newer" : "missing", SNAPSHOT_VERSION);
        epochs = json_object_get(doc, "epochs");
        if (!json_is_array(epochs))
                return skip(f, file, "no \"epochs\" list");
        machine = jstr(json_object_get(doc, "host"), "machine_id");
        for (size_t k = 0; machine && k < f->n_machines; k++)
                if (streq_ptr(f->machine_ids[k], machine))
                        return skip(f, file, "machine %s was read already: one snapshot per "
                                    "host", machine);

        n = json_array_size(epochs);
        kernel = calloc(MAX(n, (size_t) 1), sizeof *kernel);
        order = calloc(MAX(n, (size_t) 1), sizeof *order);
        if (!kernel || !order)
                return -ENOMEM;
        json_array_foreach(epochs, i, e) {
                if (!jstr(e, "release") || !jstr(e, "mapcount_mode") ||
                    !json_is_array(json_object_get(e, "identities")))
                        return skip(f, file, "epoch %zu is incomplete", i + 1);
                r = kernel_index(f, jstr(e, "release"), jstr(e, "mapcount_mode"));
                if (r == -E2BIG)
                        return skip(f, file, "more than %d kernels in the fleet", KERNELS_MAX);
                if (r < 0)
                        return r;
                kernel[i] = r;
        }

        if (machine) {
                char *copy = strdup(machine);

                if (!copy || GREEDY_REALLOC(f->machine_ids, f->allocated_machines,
                                            f->n_machines + 1) < 0) {
                        free(copy);
                        return -ENOMEM;
                }
                f->machine_ids[f->n_machines++] = copy;
        }
        f->hosts_read++;
        /* Each kernel counts once per host. */
        for (size_t a = 0; a < n; a++) {
                bool first = true;

                for (size_t b = 0; b < a; b++)
                        first = first && kernel[b] != kernel[a];
                if (first)
                        f->kernels[kernel[a]].hosts++;
        }

        if (!host_pair(f, epochs, kernel, n, order, &before, &after)) {
                f->hosts_unpaired++;
                return 0;
        }
        f->pairs[kernel[before]][kernel[after]]++;
        return host_add(f, json_array_get(epochs, before), json_array_get(epochs, after),
                        kernel[before], kernel[after]);
}

static void fleet_free(Fleet *f) {
        tdestroy(f->identities, free_nothing);
        for (size_t i = 0; i < f->n_identities; i++) {
                free(f->list[i]->key);
                free(f->list[i]->comm);
                free(f->list[i]->unit);
                free(f->list[i]->deltas);
                free(f->list[i]);
        }
        free(f->list);
        for (size_t i = 0; i < f->n_kernels; i++) {
                free(f->kernels[i].release);
                free(f->kernels[i].mode);
        }
        for (size_t i = 0; i < f->n_machines; i++)
                free(f->machine_ids[i]);
        free(f->machine_ids);
        for (size_t i = 0; i < f->n_skipped; i++) {
                free(f->skipped[i].file);
                free(f->skipped[i].error);
        }
        free(f->skipped);
        free(f);
}

/* ---- the comparison ---- */

/* One figure of one identity across the fleet. */
typedef struct FigureShift {
        const char *name;
        FleetShift points, kb;
        bool flagged;           /* a kernel shift */
        bool control_moved;     /* the control hosts moved too */
} FigureShift;

#define FIGURES_MAX (_COMPARE_METRIC_MAX + _EXCLUSIVITY_CLASS_MAX)

typedef struct IdentityShift {
        const FleetIdentity *identity;
        size_t treated, control;
        FigureShift figures[FIGURES_MAX];
        size_t n_figures;
        size_t kinds[_SHIFT_KIND_MAX];
        bool flagged, control_moved;
} IdentityShift;

/* The deltas of one figure (index into points/kb, or an exclusivity class) of the treated and
 * the control hosts of identity i. */
static void figure_shift(const Fleet *f, const FleetIdentity *i, int kb, int ka, int figure,
                         double *scratch, FigureShift *ret) {
        double *t_points = scratch, *t_kb = scratch + i->n, *c_points = scratch + 2 * i->n,
               *c_kb = scratch + 3 * i->n;
        size_t nt = 0, nc = 0;
        Thresholds t = f->thresholds;

        for (size_t k = 0; k < i->n; k++) {
                const HostDelta *d = &i->deltas[k];
                bool treated = d->before == kb && d->after == ka;
                bool control = d->before == kb && d->after == kb;
                double p, v;

                if (!treated && !control)
                        continue;
                if (figure < _COMPARE_METRIC_MAX) {
                        p = d->points[figure];
                        v = d->kb[figure];
                } else {
                        p = d->exclusive_points[figure - _COMPARE_METRIC_MAX];
                        v = 0;
                        if (isnan(p))
                                continue;
                }
                if (treated) {
                        t_points[nt] = p;
                        t_kb[nt++] = v;
                } else {
                        c_points[nc] = p;
                        c_kb[nc++] = v;
                }
        }
        fleet_shift(t_points, nt, c_points, nc, &ret->points);
        fleet_shift(t_kb, nt, c_kb, nc, &ret->kb);
        /* Exclusivity is a share of present pages: its kB floor does not apply. */
        if (figure >= _COMPARE_METRIC_MAX)
                t.min_delta_kb = 0;
        ret->flagged = fleet_shift_flagged(&ret->points, &ret->kb, &t, f->min_hosts);
        ret->control_moved = fleet_control_moved(&ret->points, &ret->kb, &t, f->min_hosts);
        ret->name = figure < _COMPARE_METRIC_MAX
                ? compare_metric_to_string(figure)
                : exclusivity_class_to_string(figure - _COMPARE_METRIC_MAX);
}

static void identity_shift(const Fleet *f, const FleetIdentity *i, int kb, int ka,
                           double *scratch, IdentityShift *ret) {
        IdentityShift s = { .identity = i };

        for (size_t k = 0; k < i->n; k++) {
                const HostDelta *d = &i->deltas[k];

                if (d->before == kb && d->after == ka) {
                        s.treated++;
                        if (d->kind >= 0 && d->kind < _SHIFT_KIND_MAX)
                                s.kinds[d->kind]++;
                } else if (d->before == kb && d->after == kb)
                        s.control++;
        }
        for (int fig = 0; fig < FIGURES_MAX; fig++) {
                FigureShift *x = &s.figures[s.n_figures];

                figure_shift(f, i, kb, ka, fig, scratch, x);
                if (x->points.treated.n == 0 && x->points.control.n == 0)
                        continue;
                s.flagged = s.flagged || x->flagged;
                s.control_moved = s.control_moved || x->control_moved;
                s.n_figures++;
        }
        *ret = s;
}

/* The kernel change: the releases asked for, else the (before, after) pair most hosts made. */
static bool fleet_pick(const Fleet *f, int *ret_before, int *ret_after) {
        size_t best = 0;

        *ret_before = *ret_after = -1;
        for (size_t a = 0; a < f->n_kernels; a++)
                for (size_t b = 0; b < f->n_kernels; b++) {
                        if (a == b || f->pairs[a][b] == 0)
                                continue;
                        if (f->want_before &&
                            (!streq_ptr(f->kernels[a].release, f->want_before) ||
                             !streq_ptr(f->kernels[b].release, f->want_after)))
                                continue;
                        if (f->pairs[a][b] > best) {
                                best = f->pairs[a][b];
                                *ret_before = (int) a;
                                *ret_after = (int) b;
                        }
                }
        return best > 0;
}

/* ---- output ---- */

static json_t *median_json(const MedianInterval *m, const char *suffix) {
        char median[32], low[32], high[32];

        (void) snprintf(median, sizeof median, "median%s", suffix);
        (void) snprintf(low, sizeof low, "low%s", suffix);
        (void) snprintf(high, sizeof high, "high%s", suffix);
        return json_pack("{s:I, s:f, s:f, s:f}", "hosts", (json_int_t) m->n,
                         median, isfinite(m->median) ? m->median : 0,
                         low, isfinite(m->low) ? m->low : 0,
                         high, isfinite(m->high) ? m->high : 0);
}

static json_t *figure_json(const FigureShift *x) {
        return json_pack("{s:f, s:f, s:f, s:f, s:o, s:o, s:b, s:b}",
                         "shift_points", x->points.estimate,
                         "low_points", x->points.low,
                         "high_points", x->points.high,
                         "shift_kb", x->kb.estimate,
                         "treated", median_json(&x->points.treated, "_points"),
                         "control", x->points.control.n > 0
                                 ? median_json(&x->points.control, "_points") : json_null(),
                         "flagged", (int) x->flagged,
                         "control_moved", (int) x->control_moved);
}

static json_t *identity_shift_json(const IdentityShift *s) {
        _cleanup_json_ json_t *figures = json_object(), *kinds = json_object();

        if (!figures || !kinds)
                return NULL;
        for (size_t k = 0; k < s->n_figures; k++)
                if (json_object_set_new(figures, s->figures[k].name,
                                        figure_json(&s->figures[k])) < 0)
                        return NULL;
        for (ShiftKind k = 0; k < _SHIFT_KIND_MAX; k++)
                if (json_object_set_new(kinds, shift_kind_to_string(k),
                                        json_integer((json_int_t) s->kinds[k])) < 0)
                        return NULL;
        return json_pack("{s:s, s:s?, s:s?, s:{s:I, s:I}, s:o, s:o}",
                         "key", s->identity->key, "comm", s->identity->comm,
                         "unit", s->identity->unit,
                         "hosts", "treated", (json_int_t) s->treated,
                         "control", (json_int_t) s->control,
                         "figures", TAKE_PTR(figures),
                         "classified", TAKE_PTR(kinds));
}

/* "14 acc", "12 acc 2 beh": how the hosts' own comparisons classified it (accounting,
 * behavior, mixed). */
static const char *kinds_text(const IdentityShift *s, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = '\0';
        for (ShiftKind k = SHIFT_ACCOUNTING; k < _SHIFT_KIND_MAX && len < size; k++) {
                if (s->kinds[k] == 0)
                        continue;
                len += (size_t) snprintf(buf + len, size - len, "%s%zu %.3s", len ? " " : "",
                                         s->kinds[k], shift_kind_to_string(k));
        }
        return buf[0] ? buf : "–";
}

static int shifts_table(const IdentityShift *shifts, size_t n, bool control) {
        static const char *const headers[] = { "IDENTITY", "FIGURE", "HOSTS", "SHIFT",
                                                "95% INTERVAL", "SIZE", "HOSTS SAY", NULL };
        static const bool right[] = { false, false, true, true, true, true, false };
        _cleanup_(table_freep) Table *t = table_new(headers, 0, right);

        if (!t)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool first = true;

                for (size_t k = 0; k < shifts[i].n_figures; k++) {
                        const FigureShift *x = &shifts[i].figures[k];
                        const FleetShift *p = &x->points;
                        char hosts[32], shift[32], interval[48], size[32], kinds[48];
                        const char *cells[7];

                        if (!(control ? x->control_moved : x->flagged))
                                continue;
                        (void) snprintf(hosts, sizeof hosts, "%zu/%zu", p->treated.n,
                                        p->control.n);
                        if (control) {
                                (void) snprintf(shift, sizeof shift, "%+.1f pt",
                                                p->control.median);
                                (void) snprintf(interval, sizeof interval, "[%+.1f, %+.1f]",
                                                p->control.low, p->control.high);
                        } else {
                                (void) snprintf(shift, sizeof shift, "%+.1f pt", p->estimate);
                                (void) snprintf(interval, sizeof interval, "[%+.1f, %+.1f]",
                                                p->low, p->high);
                        }
                        cells[0] = first ? shifts[i].identity->comm ?: shifts[i].identity->key
                                         : "";
                        cells[1] = x->name;
                        cells[2] = hosts;
                        cells[3] = shift;
                        cells[4] = interval;
                        cells[5] = startswith(x->name, "Exclusive") ? "" :
                                format_kb(control ? x->kb.control.median : x->kb.estimate, true,
                                          size, sizeof size);
                        cells[6] = first && !control ? kinds_text(&shifts[i], kinds,
                                                                  sizeof kinds) : "";
                        if (table_add(t, cells, NULL) < 0)
                                return -ENOMEM;
                        first = false;
                }
        }
        table_print(t, stdout);
        return 0;
}

static json_t *kernel_json(const Kernel *k, size_t hosts) {
        return json_pack("{s:s, s:s, s:I}", "release", k->release, "mapcount_mode", k->mode,
                         "hosts", (json_int_t) hosts);
}

static int fleet_print(const Fleet *f, int kb, int ka, const IdentityShift *shifts, size_t n,
                       OutputFormat format, size_t *ret_flagged) {
        size_t flagged = 0, moved = 0, treated = f->pairs[kb][ka], control = f->pairs[kb][kb];

        for (size_t i = 0; i < n; i++) {
                flagged += shifts[i].flagged;
                moved += shifts[i].control_moved;
        }
        *ret_flagged = flagged;

        if (format == FORMAT_JSON) {
                _cleanup_json_ json_t *kernels = json_array(), *list = json_array(),
                                      *both = json_array(), *skipped = json_array(), *doc = NULL;

                if (!kernels || !list || !both || !skipped)
                        return -ENOMEM;
                for (size_t i = 0; i < f->n_kernels; i++)
                        if (json_array_append_new(kernels, kernel_json(&f->kernels[i],
                                                                       f->kernels[i].hosts)) < 0)
                                return -ENOMEM;
                for (size_t i = 0; i < n; i++) {
                        if (shifts[i].flagged &&
                            json_array_append_new(list, identity_shift_json(&shifts[i])) < 0)
                                return -ENOMEM;
                        if (shifts[i].control_moved &&
                            json_array_append_new(both, identity_shift_json(&shifts[i])) < 0)
                                return -ENOMEM;
                }
                for (size_t i = 0; i < f->n_skipped; i++)
                        if (json_array_append_new(skipped, json_pack(
                                    "{s:s, s:s}", "file", f->skipped[i].file, "error",
                                    f->skipped[i].error)) < 0)
                                return -ENOMEM;
                doc = json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:o, s:o, s:I, s:o, "
                                "s:o, s:o}",
                                "baseline", kernel_json(&f->kernels[kb], f->kernels[kb].hosts),
                                "candidate", kernel_json(&f->kernels[ka], f->kernels[ka].hosts),
                                "hosts", "read", (json_int_t) f->hosts_read,
                                "skipped", (json_int_t) f->n_skipped,
                                "changed_kernel", (json_int_t) treated,
                                "control", (json_int_t) control,
                                "unpaired", (json_int_t) (f->hosts_read - treated - control),
                                "kernels", TAKE_PTR(kernels),
                                "thresholds",
                                json_pack("{s:f, s:f}", "min_delta_kb",
                                          f->thresholds.min_delta_kb, "min_delta_points",
                                          f->thresholds.min_delta_points),
                                "min_hosts", (json_int_t) f->min_hosts,
                                "flagged", TAKE_PTR(list),
                                "changed_in_both", TAKE_PTR(both),
                                "skipped", TAKE_PTR(skipped));
                if (!doc)
                        return -ENOMEM;
                json_print(doc);
                return 0;
        }

        printf("Baseline   %s (%s), %zu hosts\n", f->kernels[kb].release, f->kernels[kb].mode,
               f->kernels[kb].hosts);
        printf("Candidate  %s (%s), %zu hosts\n", f->kernels[ka].release, f->kernels[ka].mode,
               f->kernels[ka].hosts);
        printf("Hosts      %zu read (%zu skipped): %zu changed kernel, %zu control, %zu "
               "neither\n", f->hosts_read, f->n_skipped, treated, control,
               f->hosts_read - treated - control);
        printf("\nKernel shifts: %zu identities moved consistently across hosts (difference\n"
               "in differences of medians, changed kernel − control, 95%% interval).\n",
               flagged);
        if (flagged > 0) {
                fputc('\n', stdout);
                if (shifts_table(shifts, n, false) < 0)
                        return -ENOMEM;
        }
        if (moved > 0) {
                printf("\nChanged in both groups, not by the kernel: %zu identities moved on\n"
                       "the control hosts too (their own median and interval).\n\n", moved);
                if (shifts_table(shifts, n, true) < 0)
                        return -ENOMEM;
        }
        return 0;
}

enum { OPT_MIN_KB = 0x100, OPT_MIN_POINTS, OPT_BASELINE, OPT_CANDIDATE, OPT_MIN_HOSTS };

/* The files of an argument: itself, or a directory's *.json files in name order. */
static int inputs_add(const char *arg, char ***files, size_t *n, size_t *allocated) {
        struct stat st;
        struct dirent **names = NULL;
        int k;

        if (stat(arg, &st) < 0 || !S_ISDIR(st.st_mode)) {
                char *copy = strdup(arg);

                if (!copy || GREEDY_REALLOC(*files, *allocated, *n + 1) < 0) {
                        free(copy);
                        return -ENOMEM;
                }
                (*files)[(*n)++] = copy;
                return 0;
        }
        k = scandir(arg, &names, NULL, alphasort);
        if (k < 0)
                return -errno;
        for (int i = 0; i < k; i++) {
                const char *name = names[i]->d_name;
                size_t len = strlen(name);
                char *path = NULL;

                if (len > 5 && strcmp(name + len - 5, ".json") == 0 &&
                    (asprintf(&path, "%s/%s", arg, name) < 0 ||
                     GREEDY_REALLOC(*files, *allocated, *n + 1) < 0)) {
                        free(path);
                        path = NULL;
                        k = -ENOMEM;
                }
                if (path)
                        (*files)[(*n)++] = path;
                free(names[i]);
        }
        free(names);
        return k < 0 ? k : 0;
}

static int run_fleet(Ctl *ctl, int argc, char *argv[]) {
        static const struct option longopts[] = {
                { "min-delta-kb", required_argument, NULL, OPT_MIN_KB },
                { "min-delta-points", required_argument, NULL, OPT_MIN_POINTS },
                { "baseline", required_argument, NULL, OPT_BASELINE },
                { "candidate", required_argument, NULL, OPT_CANDIDATE },
                { "min-hosts", required_argument, NULL, OPT_MIN_HOSTS },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        const Command *cmd = &command_fleet;
        Fleet *f = NULL;
        char **files = NULL;
        IdentityShift *shifts = NULL;
        double *scratch = NULL;
        size_t n_files = 0, allocated = 0, most = 1, flagged = 0;
        int c, r, kb, ka, ret = EXIT_OK;

        if (argc >= 2 && streq_ptr(argv[1], "--help")) {
                command_usage(cmd, stdout);
                return EXIT_OK;
        }
        if (argc < 2 || !streq_ptr(argv[1], "compare"))
                return ctl_error(cmd, "expected 'fleet compare SNAPSHOT…|DIR'");
        argc--;
        argv++;

        f = calloc(1, sizeof *f);
        if (!f)
                return ctl_error(cmd, "out of memory");
        f->thresholds = THRESHOLDS_DEFAULT;
        f->min_hosts = MIN_HOSTS_DEFAULT;
        while ((c = command_getopt(cmd, argc, argv, longopts, &ret)) != -1) {
                double d;
                uint64_t u;

                if (c == '?')
                        goto finish;
                switch (c) {
                case OPT_MIN_KB:
                case OPT_MIN_POINTS:
                        if (safe_atod(optarg, &d) < 0 || !(d >= 0)) {
                                ret = ctl_error(cmd, "invalid value '%s' for --%s: expected a "
                                                "non-negative number", optarg,
                                                longopts[c - OPT_MIN_KB].name);
                                goto finish;
                        }
                        if (c == OPT_MIN_KB)
                                f->thresholds.min_delta_kb = d;
                        else
                                f->thresholds.min_delta_points = d;
                        break;
                case OPT_BASELINE:
                        f->want_before = optarg;
                        break;
                case OPT_CANDIDATE:
                        f->want_after = optarg;
                        break;
                case OPT_MIN_HOSTS:
                        if (safe_atou64(optarg, &u) < 0 || u < 1 || u > 1000000) {
                                ret = ctl_error(cmd, "invalid value '%s' for --min-hosts: "
                                                "expected a number of hosts", optarg);
                                goto finish;
                        }
                        f->min_hosts = (size_t) u;
                        break;
                }
        }
        if (!f->want_before != !f->want_after) {
                ret = ctl_error(cmd, "--baseline and --candidate go together");
                goto finish;
        }
        if (optind >= argc) {
                ret = ctl_error(cmd, "expected snapshot files or a directory of them");
                goto finish;
        }
        for (int i = optind; i < argc; i++) {
                r = inputs_add(argv[i], &files, &n_files, &allocated);
                if (r < 0) {
                        ret = ctl_error(cmd, "cannot read '%s': %s", argv[i], strerror(-r));
                        goto finish;
                }
        }
        for (size_t i = 0; i < n_files; i++) {
                r = snapshot_add(f, files[i]);
                if (r < 0) {
                        ret = ctl_error(cmd, "%s", strerror(-r));
                        goto finish;
                }
        }
        if (f->hosts_read == 0) {
                ret = ctl_error(cmd, "no usable snapshot among %zu files", n_files);
                goto finish;
        }
        if (!fleet_pick(f, &kb, &ka)) {
                ret = f->want_before
                        ? ctl_error(cmd, "no host went from %s to %s", f->want_before,
                                    f->want_after)
                        : ctl_error(cmd, "no host ran two kernels: nothing to compare");
                goto finish;
        }

        for (size_t i = 0; i < f->n_identities; i++)
                most = MAX(most, f->list[i]->n);
        scratch = calloc(4 * most, sizeof *scratch);
        shifts = calloc(MAX(f->n_identities, (size_t) 1), sizeof *shifts);
        if (!scratch || !shifts) {
                ret = ctl_error(cmd, "out of memory");
                goto finish;
        }
        for (size_t i = 0; i < f->n_identities; i++)
                identity_shift(f, f->list[i], kb, ka, scratch, &shifts[i]);
        r = fleet_print(f, kb, ka, shifts, f->n_identities, ctl->format, &flagged);
        if (r < 0) {
                ret = ctl_error(cmd, "out of memory");
                goto finish;
        }
        ret = f->n_skipped > 0 ? (flagged > 0 ? EXIT_FLAGGED_SKIPPED : EXIT_SKIPPED)
                               : (flagged > 0 ? EXIT_FLAGGED : EXIT_OK);
finish:
        for (size_t i = 0; i < n_files; i++)
                free(files[i]);
        free(files);
        free(shifts);
        free(scratch);
        fleet_free(f);
        return ret;
}

static const char *const fleet_options[] = {
        "--baseline RELEASE       the old kernel's release (with --candidate; default: the",
        "                         change most hosts made)",
        "--candidate RELEASE      the new kernel's release",
        "--min-hosts N            hosts that changed kernel an identity needs (default 3)",
        "--min-delta-kb KB        a shift must move this many kB (default 1024)",
        "--min-delta-points P     … and this many percentage points of Rss (default 1.0)",
        NULL,
};

const Command command_fleet = {
        .name = "fleet",
        .synopsis = "compare [OPTIONS] SNAPSHOT…|DIR",
        .help = "what a kernel change moved across many hosts' snapshots",
        .options = fleet_options,
        .run = run_fleet,
};
