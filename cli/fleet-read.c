/* Implementation of cli/fleet-read.h. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <search.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "alloc-util.h"
#include "fileio.h"
#include "fleet-read.h"
#include "macro.h"
#include "string-util.h"

/* Files read ahead of the one being added: what bounds memory. */
#define READ_AHEAD 4
/* A snapshot larger than this is refused. */
#define SNAPSHOT_MAX (512u * 1024u * 1024u)
#define WORKERS_MAX 8

static const char *jstr(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

void host_result_done(HostResult *r) {
        free(r->machine_id);
        for (size_t i = 0; i < r->n_kernels; i++) {
                free(r->kernels[i].release);
                free(r->kernels[i].mode);
        }
        free(r->kernels);
        for (size_t i = 0; i < r->n; i++) {
                free(r->identities[i].key);
                free(r->identities[i].comm);
                free(r->identities[i].unit);
        }
        free(r->identities);
        *r = (HostResult) {};
}

static int fail(HostResult *r, const char *fmt, ...) _printf_(2, 3);
static int fail(HostResult *r, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        (void) vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
        return 0;
}

/* ---- one document ---- */

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
        static const CompareMetric truth_metrics[] = {
                COMPARE_METRIC_SHARED, COMPARE_METRIC_PRIVATE, COMPARE_METRIC_PSS,
        };
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
                u->has_truth = true;
                for (size_t i = 0; i < ELEMENTSOF(truth_metrics); i++)
                        if (!stats_read(json_object_get(truth, compare_metric_to_string(
                                                truth_metrics[i])), u->n,
                                        &u->truth[truth_metrics[i]]))
                                return false;
        }
        return true;
}

/* Orders identity objects of a snapshot by their key. */
static int json_key_compare(const void *a, const void *b) {
        return strcmp(jstr(a, "key"), jstr(b, "key"));
}

static void free_nothing(void *p) {
        (void) p;
}

static float delta_points(const SeriesStats *b, const SeriesStats *a) {
        return (float) ((a->median_ratio - b->median_ratio) * 100);
}

/* The host's kernel of epoch e, added to r->kernels when new. Returns its index, or -ENOMEM. */
static int host_kernel(HostResult *r, const json_t *e, size_t *allocated) {
        const char *release = jstr(e, "release"), *mode = jstr(e, "mapcount_mode");
        HostKernel *k;

        for (size_t i = 0; i < r->n_kernels; i++)
                if (streq_ptr(r->kernels[i].release, release) &&
                    streq_ptr(r->kernels[i].mode, mode))
                        return (int) i;
        if (GREEDY_REALLOC(r->kernels, *allocated, r->n_kernels + 1) < 0)
                return -ENOMEM;
        k = &r->kernels[r->n_kernels];
        *k = (HostKernel) { .release = strdup(release), .mode = strdup(mode) };
        if (!k->release || !k->mode) {
                free(k->release);
                free(k->mode);
                return -ENOMEM;
        }
        return (int) r->n_kernels++;
}

/* Which two epochs of a host are compared: with releases asked for, its latest epoch of the
 * candidate and its latest of the baseline before it (treated), else its earliest and latest of
 * the baseline (control); without, its latest epoch and its latest of another kernel before it
 * (treated), else its earliest and latest (control, one kernel). order[0..n) lists the epochs
 * by last sweep. Returns false when the host has no such pair. */
static bool host_pair(const FleetConfig *c, const HostResult *r, const int *kernel,
                      const size_t *order, size_t n, size_t *ret_before, size_t *ret_after) {
        size_t before = SIZE_MAX, after = SIZE_MAX;

        if (c->want_before && c->want_after) {
                for (size_t i = 0; i < n; i++)
                        if (streq_ptr(r->kernels[kernel[order[i]]].release, c->want_after))
                                after = i;
                for (size_t i = 0; i < n; i++) {
                        if (!streq_ptr(r->kernels[kernel[order[i]]].release, c->want_before))
                                continue;
                        if (after != SIZE_MAX) {
                                if (i < after)
                                        before = i;
                        } else if (before == SIZE_MAX)
                                before = i;
                        else
                                after = i;
                }
        } else if (n > 0) {
                after = n - 1;
                for (size_t i = 0; i + 1 < n; i++)
                        if (kernel[order[i]] != kernel[order[after]])
                                before = i;
                if (before == SIZE_MAX && n >= 2)
                        before = 0;
        }
        if (before == SIZE_MAX || after == SIZE_MAX || before == after)
                return false;
        *ret_before = order[before];
        *ret_after = order[after];
        return true;
}

/* The identities on both sides, with their deltas. Returns 0 or -ENOMEM. */
static int host_deltas(const FleetConfig *c, const json_t *before, const json_t *after,
                       HostResult *r) {
        void *keys = NULL;
        size_t allocated = 0, i;
        const json_t *o;
        int ret = 0;

        json_array_foreach(json_object_get(before, "identities"), i, o)
                if (jstr(o, "key") && !tsearch(o, &keys, json_key_compare))
                        ret = -ENOMEM;
        json_array_foreach(json_object_get(after, "identities"), i, o) {
                const json_t **match;
                IdentitySummary sb, sa;
                IdentityComparison cmp;
                HostIdentity *h;

                if (ret < 0 || !jstr(o, "key"))
                        break;
                match = tfind(o, &keys, json_key_compare);
                if (!match || !summary_read(*match, &sb) || !summary_read(o, &sa))
                        continue;
                if (GREEDY_REALLOC(r->identities, allocated, r->n + 1) < 0) {
                        ret = -ENOMEM;
                        break;
                }
                h = &r->identities[r->n];
                *h = (HostIdentity) { .delta.kind = -1 };
                identity_compare_summaries(&sb, &sa, &c->thresholds, &cmp);
                if (cmp.flagged)
                        h->delta.kind = (int8_t) cmp.kind;
                for (CompareMetric m = 0; m < _COMPARE_METRIC_MAX; m++) {
                        h->delta.points[m] = delta_points(&sb.metrics[m], &sa.metrics[m]);
                        h->delta.kb[m] = (float) (sa.metrics[m].median_kb -
                                                  sb.metrics[m].median_kb);
                }
                for (ExclusivityClass k = 0; k < _EXCLUSIVITY_CLASS_MAX; k++)
                        h->delta.exclusive_points[k] =
                                sb.has_pagemap && sa.has_pagemap && sb.present_kb[k] > 0 &&
                                sa.present_kb[k] > 0
                                ? delta_points(&sb.exclusivity[k], &sa.exclusivity[k]) : NAN;
                h->key = strdup(jstr(o, "key"));
                h->comm = jstr(o, "comm") ? strdup(jstr(o, "comm")) : NULL;
                h->unit = jstr(o, "unit") ? strdup(jstr(o, "unit")) : NULL;
                r->n++;
                if (!h->key || (jstr(o, "comm") && !h->comm) || (jstr(o, "unit") && !h->unit))
                        ret = -ENOMEM;
        }
        tdestroy(keys, free_nothing);
        return ret;
}

/* Reduces one document to its HostResult. Returns 0 (r->error set when it is skipped) or
 * -ENOMEM. */
static int host_read(const FleetConfig *c, const json_t *doc, HostResult *r) {
        _cleanup_free_ int *kernel = NULL;
        _cleanup_free_ size_t *order = NULL;
        const json_t *epochs, *e, *version;
        size_t n, i, before, after, allocated = 0;
        int k;

        if (!streq_ptr(jstr(doc, "format"), SNAPSHOT_FORMAT))
                return fail(r, "not a mapstatd snapshot (no \"format\": \"%s\")",
                            SNAPSHOT_FORMAT);
        version = json_object_get(doc, "version");
        if (!json_is_integer(version) || json_integer_value(version) != SNAPSHOT_VERSION)
                return fail(r, "snapshot version %s: this mapstatctl reads version %d",
                            json_is_integer(version) ? "newer" : "missing", SNAPSHOT_VERSION);
        epochs = json_object_get(doc, "epochs");
        if (!json_is_array(epochs))
                return fail(r, "no \"epochs\" list");
        if (jstr(json_object_get(doc, "host"), "machine_id") &&
            !(r->machine_id = strdup(jstr(json_object_get(doc, "host"), "machine_id"))))
                return -ENOMEM;

        n = json_array_size(epochs);
        kernel = calloc(MAX(n, (size_t) 1), sizeof *kernel);
        order = calloc(MAX(n, (size_t) 1), sizeof *order);
        if (!kernel || !order)
                return -ENOMEM;
        json_array_foreach(epochs, i, e) {
                if (!jstr(e, "release") || !jstr(e, "mapcount_mode") ||
                    !json_is_array(json_object_get(e, "identities")))
                        return fail(r, "epoch %zu is incomplete", i + 1);
                k = host_kernel(r, e, &allocated);
                if (k < 0)
                        return k;
                kernel[i] = k;
                order[i] = i;
        }
        /* Epochs by their last sweep (RFC 3339 UTC strings compare as times). */
        for (size_t a = 1; a < n; a++)
                for (size_t b = a; b > 0 &&
                     strcmp(jstr(json_array_get(epochs, order[b - 1]), "last_sweep") ?: "",
                            jstr(json_array_get(epochs, order[b]), "last_sweep") ?: "") > 0;
                     b--) {
                        size_t t = order[b];

                        order[b] = order[b - 1];
                        order[b - 1] = t;
                }

        if (!host_pair(c, r, kernel, order, n, &before, &after))
                return 0;
        r->paired = true;
        r->before = (size_t) kernel[before];
        r->after = (size_t) kernel[after];
        return host_deltas(c, json_array_get(epochs, before), json_array_get(epochs, after), r);
}

/* ---- the workers ---- */

typedef struct Slot {
        HostResult result;
        bool ready;
} Slot;

struct FleetReader {
        const FleetConfig *config;
        char *const *files;
        size_t n;
        Slot slots[READ_AHEAD];         /* file i in slots[i % READ_AHEAD] */
        size_t next;                    /* the next file a worker takes */
        size_t consumed;                /* files the caller took */
        bool stop;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        pthread_t workers[WORKERS_MAX];
        size_t n_workers;
};

/* Reads, parses and reduces one file; the document is freed here, by the thread that made
 * it. */
static void read_one(const FleetConfig *c, const char *file, ReadBuf *buf, HostResult *ret) {
        json_error_t error;
        json_t *doc;
        int r;

        r = read_file_at(AT_FDCWD, file, SNAPSHOT_MAX, buf);
        if (r < 0) {
                (void) fail(ret, "cannot read it: %s",
                            r == -E2BIG ? "larger than 512 MiB" : read_strerror(r));
                return;
        }
        doc = json_loadb(buf->data, buf->size, 0, &error);
        if (!doc) {
                (void) fail(ret, "not a JSON document: %s (line %d)", error.text, error.line);
                return;
        }
        if (host_read(c, doc, ret) < 0) {
                host_result_done(ret);
                (void) fail(ret, "out of memory");
        }
        json_decref(doc);
}

static void *worker(void *p) {
        FleetReader *rd = p;
        ReadBuf buf = READ_BUF_INIT;

        (void) pthread_mutex_lock(&rd->lock);
        for (;;) {
                HostResult result = {};
                size_t i;

                while (!rd->stop && rd->next < rd->n && rd->next >= rd->consumed + READ_AHEAD)
                        (void) pthread_cond_wait(&rd->changed, &rd->lock);
                if (rd->stop || rd->next >= rd->n)
                        break;
                i = rd->next++;
                (void) pthread_mutex_unlock(&rd->lock);
                read_one(rd->config, rd->files[i], &buf, &result);
                (void) pthread_mutex_lock(&rd->lock);
                rd->slots[i % READ_AHEAD] = (Slot) { .result = result, .ready = true };
                (void) pthread_cond_broadcast(&rd->changed);
        }
        (void) pthread_mutex_unlock(&rd->lock);
        read_buf_done(&buf);
        return NULL;
}

int fleet_reader_start(FleetReader **ret, const FleetConfig *config, char *const *files,
                       size_t n) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        size_t want = cores > 0 ? MIN((size_t) cores, (size_t) WORKERS_MAX) : 1;
        FleetReader *rd = calloc(1, sizeof *rd);

        if (!rd)
                return -ENOMEM;
        rd->config = config;
        rd->files = files;
        rd->n = n;
        if (pthread_mutex_init(&rd->lock, NULL) != 0 ||
            pthread_cond_init(&rd->changed, NULL) != 0) {
                free(rd);
                return -ENOMEM;
        }
        for (; rd->n_workers < want; rd->n_workers++)
                if (pthread_create(&rd->workers[rd->n_workers], NULL, worker, rd) != 0)
                        break;
        if (rd->n_workers == 0) {
                fleet_reader_stop(rd);
                return -EAGAIN;
        }
        *ret = rd;
        return 0;
}

void fleet_reader_take(FleetReader *rd, size_t i, HostResult *ret) {
        (void) pthread_mutex_lock(&rd->lock);
        while (!rd->slots[i % READ_AHEAD].ready)
                (void) pthread_cond_wait(&rd->changed, &rd->lock);
        *ret = rd->slots[i % READ_AHEAD].result;
        rd->slots[i % READ_AHEAD] = (Slot) {};
        rd->consumed = i + 1;
        (void) pthread_cond_broadcast(&rd->changed);
        (void) pthread_mutex_unlock(&rd->lock);
}

void fleet_reader_stop(FleetReader *rd) {
        if (!rd)
                return;
        (void) pthread_mutex_lock(&rd->lock);
        rd->stop = true;
        (void) pthread_cond_broadcast(&rd->changed);
        (void) pthread_mutex_unlock(&rd->lock);
        for (size_t k = 0; k < rd->n_workers; k++)
                (void) pthread_join(rd->workers[k], NULL);
        for (size_t k = 0; k < READ_AHEAD; k++)
                host_result_done(&rd->slots[k].result);
        (void) pthread_cond_destroy(&rd->changed);
        (void) pthread_mutex_destroy(&rd->lock);
        free(rd);
}
