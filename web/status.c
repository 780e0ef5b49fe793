/* WebStatus: what the daemon knows and the database does not (the last sweep's counts, the
 * storage and sweep errors, the settings in force), shared between the sweep thread, which
 * publishes it, and the HTTP thread, which copies it under the lock. */
#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "time-util.h"
#include "web-internal.h"

void web_status_init(WebStatus *s) {
        int r;

        *s = (WebStatus) {
                .started_usec = now_usec(CLOCK_REALTIME),
                .thresholds = THRESHOLDS_DEFAULT,
                .identity_mode = IDENTITY_MODE_EXE_ARGS,
                .pagemap_mode = "off",
        };
        r = pthread_mutex_init(&s->lock, NULL);
        assert(r == 0);
        (void) r;
}

void web_status_done(WebStatus *s) {
        if (!s)
                return;
        (void) pthread_mutex_destroy(&s->lock);
}

void web_status_snapshot(WebStatus *s, WebStatusSnapshot *ret) {
        (void) pthread_mutex_lock(&s->lock);
        *ret = (WebStatusSnapshot) {
                .started_usec = s->started_usec,
                .interval_usec = s->interval_usec,
                .last_sweep_usec = s->last_sweep_usec,
                .last_duration_usec = s->last_duration_usec,
                .sampled = s->sampled,
                .vanished = s->vanished,
                .denied = s->denied,
                .malformed = s->malformed,
                .kernel_threads = s->kernel_threads,
                .consecutive_failures = s->consecutive_failures,
                .thresholds = s->thresholds,
                .identity_mode = s->identity_mode,
                .pagemap_mode = s->pagemap_mode,
                .pagemap_truncated = s->pagemap_truncated,
                .pagemap_failed = s->pagemap_failed,
                .pagemap_budget_exhausted = s->pagemap_budget_exhausted,
        };
        memcpy(ret->storage_error, s->storage_error, sizeof ret->storage_error);
        memcpy(ret->sweep_error, s->sweep_error, sizeof ret->sweep_error);
        memcpy(ret->reconstruction, s->reconstruction, sizeof ret->reconstruction);
        (void) pthread_mutex_unlock(&s->lock);
        ret->storage_error[sizeof ret->storage_error - 1] = '\0';
        ret->sweep_error[sizeof ret->sweep_error - 1] = '\0';
        ret->reconstruction[sizeof ret->reconstruction - 1] = '\0';
}
