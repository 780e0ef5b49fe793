/* The response cache: bodies of the responses that depend only on stored data and the settings,
 * keyed by the request and stamped with the status generation they were computed at, with what
 * it takes to compute them again (the route, the id and the parameters). Bodies are reference
 * counted and handed to libmicrohttpd as they are, so a hit copies nothing. Requests get the
 * previous generation's body while the refresher computes the new one, so that no request
 * waits for it; an entry further behind is computed by the request. An entry is computed by one
 * request or by the refresher at a time: meanwhile the others get the older body, or wait when
 * there is none yet (a report is computed once, not once per thread). */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "alloc-util.h"
#include "time-util.h"
#include "web-internal.h"

/* Most entries kept, whatever their size: the lookup is a walk of the list. */
#define WEB_CACHE_ENTRIES_MAX 512

typedef struct CacheEntry {
        struct CacheEntry *prev, *next;         /* most recently used first */
        char *key;
        WebRecipe recipe;
        uint64_t used_usec;                     /* CLOCK_MONOTONIC of the last request */
        uint64_t generation;                    /* of body */
        unsigned status;
        const char *content_type;
        WebBody *body, *body_gzip;              /* NULL until computed */
        bool computing;                         /* a request is computing a fresh body */
} CacheEntry;

struct WebCache {
        pthread_mutex_t lock;
        pthread_cond_t computed;
        size_t max_bytes, bytes, n_entries;
        CacheEntry *head, *tail;
};

/* ---- bodies ---- */

WebBody *web_body_new(const char *data, size_t len) {
        WebBody *b = malloc(sizeof *b + len + 1);

        if (!b)
                return NULL;
        b->n_ref = 1;
        b->len = len;
        if (data && len > 0)
                memcpy(b->data, data, len);
        b->data[len] = '\0';
        return b;
}

WebBody *web_body_ref(WebBody *b) {
        if (b)
                __atomic_add_fetch(&b->n_ref, 1, __ATOMIC_RELAXED);
        return b;
}

void web_body_unref(void *p) {
        WebBody *b = p;

        if (b && __atomic_sub_fetch(&b->n_ref, 1, __ATOMIC_ACQ_REL) == 0)
                free(b);
}

int web_gzip(const char *in, size_t len, WebBody **ret) {
        z_stream z = {};
        WebBody *b;
        uLong bound;
        int r;

        /* windowBits 15 + 16: a gzip header and trailer rather than zlib's. */
        if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
                return -ENOMEM;
        bound = deflateBound(&z, (uLong) len);
        b = malloc(sizeof *b + bound + 1);
        if (!b) {
                (void) deflateEnd(&z);
                return -ENOMEM;
        }
        z.next_in = (Bytef *) in;
        z.avail_in = (uInt) len;
        z.next_out = (Bytef *) b->data;
        z.avail_out = (uInt) bound;
        r = deflate(&z, Z_FINISH);
        (void) deflateEnd(&z);
        if (r != Z_STREAM_END) {
                free(b);
                return -EIO;
        }
        b->n_ref = 1;
        b->len = z.total_out;
        *ret = b;
        return 0;
}

void web_cached_done(WebCached *c) {
        web_body_unref(c->body);
        web_body_unref(c->body_gzip);
        *c = (WebCached) {};
}

/* ---- the cache ---- */

int web_cache_new(WebCache **ret, size_t max_bytes) {
        WebCache *c = calloc(1, sizeof *c);

        if (!c)
                return -ENOMEM;
        c->max_bytes = max_bytes;
        if (pthread_mutex_init(&c->lock, NULL) != 0 || pthread_cond_init(&c->computed, NULL) != 0) {
                free(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

static size_t entry_bytes(const CacheEntry *e) {
        return (e->body ? e->body->len : 0) + (e->body_gzip ? e->body_gzip->len : 0);
}

static void entry_unlink(WebCache *c, CacheEntry *e) {
        if (e->prev)
                e->prev->next = e->next;
        else
                c->head = e->next;
        if (e->next)
                e->next->prev = e->prev;
        else
                c->tail = e->prev;
        e->prev = e->next = NULL;
}

static void entry_push_front(WebCache *c, CacheEntry *e) {
        e->prev = NULL;
        e->next = c->head;
        if (c->head)
                c->head->prev = e;
        c->head = e;
        if (!c->tail)
                c->tail = e;
}

static void entry_free(WebCache *c, CacheEntry *e) {
        entry_unlink(c, e);
        c->bytes -= entry_bytes(e);
        c->n_entries--;
        web_body_unref(e->body);
        web_body_unref(e->body_gzip);
        web_recipe_done(&e->recipe);
        free(e->key);
        free(e);
}

void web_recipe_done(WebRecipe *r) {
        for (size_t i = 0; i < WEB_PARAMS_MAX; i++)
                free(r->values[i]);
        *r = (WebRecipe) {};
}

int web_recipe_copy(WebRecipe *dst, const WebRecipe *src) {
        WebRecipe r = { .route = src->route, .id = src->id };

        for (size_t i = 0; i < WEB_PARAMS_MAX; i++)
                if (src->values[i] && !(r.values[i] = strdup(src->values[i]))) {
                        web_recipe_done(&r);
                        return -ENOMEM;
                }
        *dst = r;
        return 0;
}

WebCache *web_cache_free(WebCache *c) {
        if (!c)
                return NULL;
        while (c->head)
                entry_free(c, c->head);
        (void) pthread_cond_destroy(&c->computed);
        (void) pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

static CacheEntry *entry_find(WebCache *c, const char *key) {
        for (CacheEntry *e = c->head; e; e = e->next)
                if (strcmp(e->key, key) == 0)
                        return e;
        return NULL;
}

/* Drops least recently used entries nobody is computing until the cache fits. */
static void cache_evict(WebCache *c) {
        CacheEntry *e = c->tail;

        while (e && (c->bytes > c->max_bytes || c->n_entries > WEB_CACHE_ENTRIES_MAX)) {
                CacheEntry *prev = e->prev;

                if (!e->computing)
                        entry_free(c, e);
                e = prev;
        }
}

/* A copy of e's response for the caller, with references of its bodies. */
static WebCached entry_take(CacheEntry *e) {
        return (WebCached) {
                .status = e->status,
                .content_type = e->content_type,
                .generation = e->generation,
                .body = web_body_ref(e->body),
                .body_gzip = web_body_ref(e->body_gzip),
        };
}

/* Compresses the body of a hit outside the lock, and keeps the result in the entry when the
 * entry still holds that body. */
static int hit_gzip(WebCache *c, const char *key, WebCached *hit) {
        CacheEntry *e;
        int r;

        r = web_gzip(hit->body->data, hit->body->len, &hit->body_gzip);
        if (r < 0)
                return r;

        (void) pthread_mutex_lock(&c->lock);
        e = entry_find(c, key);
        if (e && e->body == hit->body && !e->body_gzip) {
                e->body_gzip = web_body_ref(hit->body_gzip);
                c->bytes += hit->body_gzip->len;
                cache_evict(c);
        }
        (void) pthread_mutex_unlock(&c->lock);
        return 0;
}

int web_cache_lookup(WebCache *c, const char *key, uint64_t generation, bool gzip, bool fresh,
                     WebCached *ret) {
        WebCached hit;
        CacheEntry *e;
        int r;

        (void) pthread_mutex_lock(&c->lock);
        for (;;) {
                e = entry_find(c, key);
                /* Fresh; or, unless a fresh one is asked for, the previous generation's (the
                 * refresher computes the new one, if it is not at it already) or an older one
                 * while a request or the refresher computes the new one. */
                if (e && e->body &&
                    (e->generation >= generation ||
                     (!fresh && (e->computing || e->generation + 1 >= generation))))
                        break;
                if (e && e->computing) {
                        (void) pthread_cond_wait(&c->computed, &c->lock);
                        continue;
                }

                if (!e) {
                        e = calloc(1, sizeof *e);
                        if (!e || !(e->key = strdup(key))) {
                                free(e);
                                (void) pthread_mutex_unlock(&c->lock);
                                return -ENOMEM;
                        }
                        entry_push_front(c, e);
                        c->n_entries++;
                }
                e->computing = true;
                e->used_usec = now_usec(CLOCK_MONOTONIC);
                (void) pthread_mutex_unlock(&c->lock);
                return 0;
        }

        entry_unlink(c, e);
        entry_push_front(c, e);
        e->used_usec = now_usec(CLOCK_MONOTONIC);
        hit = entry_take(e);
        (void) pthread_mutex_unlock(&c->lock);

        if (gzip && !hit.body_gzip) {
                r = hit_gzip(c, key, &hit);
                if (r < 0) {
                        web_cached_done(&hit);
                        return r;
                }
        }
        *ret = hit;
        return 1;
}

int web_cache_put(WebCache *c, const char *key, uint64_t generation, unsigned status,
                  const char *content_type, WebBody *body, const WebRecipe *recipe) {
        WebRecipe copy;
        CacheEntry *e;
        int r;

        r = web_recipe_copy(&copy, recipe);
        (void) pthread_mutex_lock(&c->lock);
        e = entry_find(c, key);
        if (e && r >= 0) {
                c->bytes -= entry_bytes(e);
                web_body_unref(e->body);
                web_body_unref(e->body_gzip);
                web_recipe_done(&e->recipe);
                e->recipe = copy;
                e->generation = generation;
                e->status = status;
                e->content_type = content_type;
                e->body = web_body_ref(body);
                e->body_gzip = NULL;
                c->bytes += entry_bytes(e);
        } else if (r >= 0)
                web_recipe_done(&copy);
        if (e)
                e->computing = false;
        cache_evict(c);
        (void) pthread_cond_broadcast(&c->computed);
        (void) pthread_mutex_unlock(&c->lock);
        return r;
}

int web_cache_claim_stale(WebCache *c, uint64_t generation, uint64_t used_since_usec,
                          WebRefresh **ret, size_t *ret_n) {
        WebRefresh *list = NULL;
        size_t n = 0, allocated = 0;
        int r = 0;

        (void) pthread_mutex_lock(&c->lock);
        for (CacheEntry *e = c->head; e; e = e->next) {
                if (e->computing || !e->body || e->generation >= generation ||
                    e->used_usec < used_since_usec)
                        continue;
                if (GREEDY_REALLOC(list, allocated, n + 1) < 0 ||
                    !(list[n].key = strdup(e->key))) {
                        r = -ENOMEM;
                        break;
                }
                if (web_recipe_copy(&list[n].recipe, &e->recipe) < 0) {
                        free(list[n].key);
                        r = -ENOMEM;
                        break;
                }
                e->computing = true;
                n++;
        }
        (void) pthread_mutex_unlock(&c->lock);
        if (r < 0) {
                /* Give back what was claimed. */
                for (size_t i = 0; i < n; i++)
                        web_cache_abandon(c, list[i].key);
                web_refresh_array_free(list, n);
                return r;
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

void web_refresh_array_free(WebRefresh *a, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(a[i].key);
                web_recipe_done(&a[i].recipe);
        }
        free(a);
}

void web_cache_abandon(WebCache *c, const char *key) {
        CacheEntry *e;

        (void) pthread_mutex_lock(&c->lock);
        e = entry_find(c, key);
        if (e) {
                e->computing = false;
                if (!e->body)
                        entry_free(c, e);
        }
        (void) pthread_cond_broadcast(&c->computed);
        (void) pthread_mutex_unlock(&c->lock);
}
