/* WebStatus: what the daemon knows and the database does not (the last sweep's counts, the
 * storage and sweep errors, the settings in force), shared between the sweep thread, which
 * publishes it, and the HTTP threads, which copy it under the lock. */
#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "time-util.h"
#include "web-internal.h"

void web_status_init(WebStatus *s) {
        int r;

        *s = (WebStatus) {
                .data = {
                        .started_usec = now_usec(CLOCK_REALTIME),
                        .thresholds = THRESHOLDS_DEFAULT,
                        .identity_mode = IDENTITY_MODE_EXE_ARGS,
                        .pagemap_mode = "off",
                        .metrics_identities = 100,
                },
        };
        r = pthread_mutex_init(&s->lock, NULL);
        assert(r == 0);
        r = pthread_cond_init(&s->changed, NULL);
        assert(r == 0);
        (void) r;
}

void web_status_done(WebStatus *s) {
        if (!s)
                return;
        (void) pthread_cond_destroy(&s->changed);
        (void) pthread_mutex_destroy(&s->lock);
}

void web_status_snapshot(WebStatus *s, WebStatusData *ret) {
        (void) pthread_mutex_lock(&s->lock);
        *ret = s->data;
        (void) pthread_mutex_unlock(&s->lock);
        ret->storage_error[sizeof ret->storage_error - 1] = '\0';
        ret->sweep_error[sizeof ret->sweep_error - 1] = '\0';
        ret->reconstruction[sizeof ret->reconstruction - 1] = '\0';
}

void web_status_changed_locked(WebStatus *s) {
        s->data.generation++;
        (void) pthread_cond_broadcast(&s->changed);
}

bool web_status_wait(WebStatus *s, uint64_t *seen, const bool *stop) {
        bool running;

        (void) pthread_mutex_lock(&s->lock);
        while (s->data.generation == *seen && !*stop)
                (void) pthread_cond_wait(&s->changed, &s->lock);
        *seen = s->data.generation;
        running = !*stop;
        (void) pthread_mutex_unlock(&s->lock);
        return running;
}

void web_status_stop(WebStatus *s, bool *stop) {
        (void) pthread_mutex_lock(&s->lock);
        *stop = true;
        (void) pthread_cond_broadcast(&s->changed);
        (void) pthread_mutex_unlock(&s->lock);
}

bool web_status_stopping(WebStatus *s, const bool *stop) {
        bool r;

        (void) pthread_mutex_lock(&s->lock);
        r = *stop;
        (void) pthread_mutex_unlock(&s->lock);
        return r;
}
