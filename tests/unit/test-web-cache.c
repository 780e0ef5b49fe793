/* Unit tests of web/cache.c, the response cache: a miss claims the entry for the caller, a hit
 * needs the generation asked for or a newer one, the previous generation's body is served while
 * another request computes the next, a request for an entry being computed for the first time
 * waits for it (one computation, not one per thread), gzip bodies are made once and inflate to
 * the body, the least recently used entries go when the cache is full, and giving up wakes the
 * waiters. */
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "string-util.h"
#include "test.h"
#include "web-internal.h"

static WebBody *body_of(const char *s) {
        return web_body_new(s, strlen(s));
}

/* Stores s as key's response at generation, as the request that claimed it would, with a
 * recipe of id generation and one parameter "g<generation>". */
static void put(WebCache *c, const char *key, uint64_t generation, const char *s) {
        WebBody *b = body_of(s);
        char value[32];
        WebRecipe recipe = { .id = (int64_t) generation, .values = { [1] = value } };

        (void) snprintf(value, sizeof value, "g%" PRIu64, generation);
        ASSERT_INT_EQ(web_cache_put(c, key, generation, 200, "application/json", b, &recipe), 0);
        web_body_unref(b);
}

static bool body_is(const WebBody *b, const char *s) {
        return b && b->len == strlen(s) && memcmp(b->data, s, b->len) == 0;
}

static void test_generations(void) {
        WebCache *c = NULL;
        WebCached hit = {};

        ASSERT_INT_EQ(web_cache_new(&c, 1 << 20), 0);
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 1, false, false, &hit), 0);      /* claimed */
        put(c, "/report", 1, "one");
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 1, false, false, &hit), 1);
        ASSERT_TRUE(body_is(hit.body, "one"));
        ASSERT_INT_EQ(hit.generation, 1);
        ASSERT_INT_EQ(hit.status, 200);
        ASSERT_NULL(hit.body_gzip);
        web_cached_done(&hit);

        /* Another key is another entry. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/report\nbaseline=1", 1, false, false, &hit), 0);
        web_cache_abandon(c, "/report\nbaseline=1");

        /* Generation 2: requests get generation 1, the refresher's to compute; at generation 3
         * the entry is two behind: the first asker computes, the others get generation 1
         * meanwhile. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 2, false, false, &hit), 1);
        ASSERT_TRUE(body_is(hit.body, "one"));
        ASSERT_INT_EQ(hit.generation, 1);
        web_cached_done(&hit);
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 3, false, false, &hit), 0);
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 3, false, false, &hit), 1);
        ASSERT_TRUE(body_is(hit.body, "one"));
        web_cached_done(&hit);
        put(c, "/report", 2, "two");
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 2, false, false, &hit), 1);
        ASSERT_TRUE(body_is(hit.body, "two"));
        ASSERT_INT_EQ(hit.generation, 2);
        /* The body outlives its replacement: a response on the wire holds a reference. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 4, false, false, &(WebCached) {}), 0);
        put(c, "/report", 4, "four");
        ASSERT_TRUE(body_is(hit.body, "two"));
        web_cached_done(&hit);

        /* Giving up keeps the older body for the next asker to replace. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 6, false, false, &hit), 0);
        web_cache_abandon(c, "/report");
        ASSERT_INT_EQ(web_cache_lookup(c, "/report", 6, false, false, &hit), 0);
        web_cache_abandon(c, "/report");
        web_cache_free(c);
}

static void test_gzip(void) {
        char text[4096], out[8192];
        WebCache *c = NULL;
        WebCached hit = {}, again = {};
        z_stream z = {};

        for (size_t i = 0; i < sizeof text - 1; i++)
                text[i] = "mapstatd "[i % 9];
        text[sizeof text - 1] = '\0';
        ASSERT_INT_EQ(web_cache_new(&c, 1 << 20), 0);
        ASSERT_INT_EQ(web_cache_lookup(c, "/metrics", 1, true, false, &hit), 0);
        put(c, "/metrics", 1, text);
        ASSERT_INT_EQ(web_cache_lookup(c, "/metrics", 1, true, false, &hit), 1);
        ASSERT_TRUE(body_is(hit.body, text));
        ASSERT_TRUE(hit.body_gzip && hit.body_gzip->len < hit.body->len / 4);
        /* Compressed once, then kept. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/metrics", 1, true, false, &again), 1);
        ASSERT_TRUE(again.body_gzip == hit.body_gzip);

        ASSERT_INT_EQ(inflateInit2(&z, 15 + 16), Z_OK);
        z.next_in = (Bytef *) hit.body_gzip->data;
        z.avail_in = (uInt) hit.body_gzip->len;
        z.next_out = (Bytef *) out;
        z.avail_out = sizeof out;
        ASSERT_INT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
        ASSERT_INT_EQ(z.total_out, strlen(text));
        ASSERT_TRUE(memcmp(out, text, strlen(text)) == 0);
        (void) inflateEnd(&z);
        web_cached_done(&hit);
        web_cached_done(&again);
        web_cache_free(c);
}

static void test_eviction(void) {
        char body[101];
        WebCache *c = NULL;
        WebCached hit = {};

        memset(body, 'x', 100);
        body[100] = '\0';
        ASSERT_INT_EQ(web_cache_new(&c, 250), 0);
        for (int i = 0; i < 3; i++) {
                char key[8];

                (void) snprintf(key, sizeof key, "/k%d", i);
                ASSERT_INT_EQ(web_cache_lookup(c, key, 1, false, false, &hit), 0);
                put(c, key, 1, body);
                if (i == 1) {   /* /k0 used after /k1: /k1 is now the least recently used */
                        ASSERT_INT_EQ(web_cache_lookup(c, "/k0", 1, false, false, &hit), 1);
                        web_cached_done(&hit);
                }
        }
        ASSERT_INT_EQ(web_cache_lookup(c, "/k0", 1, false, false, &hit), 1);
        web_cached_done(&hit);
        ASSERT_INT_EQ(web_cache_lookup(c, "/k2", 1, false, false, &hit), 1);
        web_cached_done(&hit);
        ASSERT_INT_EQ(web_cache_lookup(c, "/k1", 1, false, false, &hit), 0);  /* evicted */
        web_cache_abandon(c, "/k1");
        web_cache_free(c);
}

typedef struct Waiter {
        WebCache *cache;
        const char *key;
        uint64_t generation;            /* 0: 1 */
        bool fresh;
        int result;
        WebCached hit;
} Waiter;

static void *wait_for_entry(void *p) {
        Waiter *w = p;
        int r = web_cache_lookup(w->cache, w->key, w->generation ?: 1, false, w->fresh, &w->hit);

        __atomic_store_n(&w->result, r, __ATOMIC_SEQ_CST);
        return NULL;
}

static void test_waiters(void) {
        WebCache *c = NULL;
        Waiter w[3] = {};
        pthread_t t[3];

        ASSERT_INT_EQ(web_cache_new(&c, 1 << 20), 0);
        ASSERT_INT_EQ(web_cache_lookup(c, "/forecast", 1, false, false, &(WebCached) {}), 0);
        for (int i = 0; i < 3; i++) {
                w[i] = (Waiter) { .cache = c, .key = "/forecast", .result = -1 };
                ASSERT_INT_EQ(pthread_create(&t[i], NULL, wait_for_entry, &w[i]), 0);
        }
        /* They wait for the one computation rather than each computing. */
        usleep(100 * 1000);
        for (int i = 0; i < 3; i++)
                ASSERT_INT_EQ(__atomic_load_n(&w[i].result, __ATOMIC_SEQ_CST), -1);
        put(c, "/forecast", 1, "computed once");
        for (int i = 0; i < 3; i++) {
                ASSERT_INT_EQ(pthread_join(t[i], NULL), 0);
                ASSERT_INT_EQ(w[i].result, 1);
                ASSERT_TRUE(body_is(w[i].hit.body, "computed once"));
                web_cached_done(&w[i].hit);
        }

        /* When the computing request gives up, a waiter takes the computation over. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/epochs", 1, false, false, &(WebCached) {}), 0);
        w[0] = (Waiter) { .cache = c, .key = "/epochs", .result = -1 };
        ASSERT_INT_EQ(pthread_create(&t[0], NULL, wait_for_entry, &w[0]), 0);
        usleep(50 * 1000);
        ASSERT_INT_EQ(__atomic_load_n(&w[0].result, __ATOMIC_SEQ_CST), -1);
        web_cache_abandon(c, "/epochs");
        ASSERT_INT_EQ(pthread_join(t[0], NULL), 0);
        ASSERT_INT_EQ(w[0].result, 0);          /* claimed: now it computes */
        put(c, "/epochs", 1, "by the waiter");

        /* A request that asks for a fresh answer waits for the one being computed rather than
         * taking the previous one. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/epochs", 3, false, false, &(WebCached) {}), 0);
        w[0] = (Waiter) { .cache = c, .key = "/epochs", .generation = 3, .fresh = true,
                          .result = -1 };
        w[1] = (Waiter) { .cache = c, .key = "/epochs", .generation = 3, .result = -1 };
        ASSERT_INT_EQ(pthread_create(&t[0], NULL, wait_for_entry, &w[0]), 0);
        ASSERT_INT_EQ(pthread_create(&t[1], NULL, wait_for_entry, &w[1]), 0);
        ASSERT_INT_EQ(pthread_join(t[1], NULL), 0);
        ASSERT_INT_EQ(w[1].result, 1);
        ASSERT_TRUE(body_is(w[1].hit.body, "by the waiter"));     /* the previous one, at once */
        web_cached_done(&w[1].hit);
        usleep(50 * 1000);
        ASSERT_INT_EQ(__atomic_load_n(&w[0].result, __ATOMIC_SEQ_CST), -1);
        put(c, "/epochs", 3, "generation 3");
        ASSERT_INT_EQ(pthread_join(t[0], NULL), 0);
        ASSERT_INT_EQ(w[0].result, 1);
        ASSERT_TRUE(body_is(w[0].hit.body, "generation 3"));
        web_cached_done(&w[0].hit);
        web_cache_free(c);
}

static void test_claim_stale(void) {
        WebCache *c = NULL;
        WebRefresh *jobs = NULL;
        WebCached hit = {};
        size_t n = 99;

        ASSERT_INT_EQ(web_cache_new(&c, 1 << 20), 0);
        for (int i = 0; i < 3; i++) {
                char key[8];

                (void) snprintf(key, sizeof key, "/k%d", i);
                ASSERT_INT_EQ(web_cache_lookup(c, key, 1, false, false, &hit), 0);
                put(c, key, 1, key);
        }
        /* /k2 is computing already (a request that wants a fresh answer claimed it). */
        ASSERT_INT_EQ(web_cache_lookup(c, "/k2", 2, false, true, &hit), 0);

        /* Nothing stale at generation 1; at 2, /k0 and /k1, each with its recipe. */
        ASSERT_INT_EQ(web_cache_claim_stale(c, 1, 0, &jobs, &n), 0);
        ASSERT_INT_EQ(n, 0);
        web_refresh_array_free(jobs, n);
        ASSERT_INT_EQ(web_cache_claim_stale(c, 2, 0, &jobs, &n), 0);
        ASSERT_INT_EQ(n, 2);
        for (size_t i = 0; i < n; i++) {
                ASSERT_TRUE(streq_ptr(jobs[i].key, "/k0") || streq_ptr(jobs[i].key, "/k1"));
                ASSERT_INT_EQ(jobs[i].recipe.id, 1);
                ASSERT_NULL(jobs[i].recipe.values[0]);
                ASSERT_STR_EQ(jobs[i].recipe.values[1], "g1");
        }
        /* Claimed: requests get the old body meanwhile instead of computing, and a second
         * claim does not take them again. */
        ASSERT_INT_EQ(web_cache_lookup(c, "/k0", 2, false, false, &hit), 1);
        ASSERT_TRUE(body_is(hit.body, "/k0"));
        web_cached_done(&hit);
        web_refresh_array_free(jobs, n);
        ASSERT_INT_EQ(web_cache_claim_stale(c, 2, 0, &jobs, &n), 0);
        ASSERT_INT_EQ(n, 0);
        web_refresh_array_free(jobs, n);
        put(c, "/k0", 2, "fresh");
        web_cache_abandon(c, "/k1");
        put(c, "/k2", 2, "fresh too");

        /* Entries nobody used since a time are left alone. */
        ASSERT_INT_EQ(web_cache_claim_stale(c, 3, UINT64_MAX, &jobs, &n), 0);
        ASSERT_INT_EQ(n, 0);
        web_refresh_array_free(jobs, n);
        web_cache_free(c);
}

int main(void) {
        test_generations();
        test_claim_stale();
        test_gzip();
        test_eviction();
        test_waiters();
        return test_exit();
}
