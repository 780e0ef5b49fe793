/* The sweep: one pass over every process of the proc root and meminfo, stored as one
 * transaction. Per-process failures are counted by the collectors, never fatal here. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "alloc-util.h"
#include "meminfo.h"
#include "reconstruct.h"
#include "string-util.h"
#include "stop.h"
#include "sweep.h"
#include "time-util.h"

const char *sweep_step_to_string(SweepStep step) {
        static const char *const names[_SWEEP_STEP_MAX] = {
                [SWEEP_STEP_STORAGE] = "cannot record the sweep",
                [SWEEP_STEP_KERNEL_ID] = "cannot read the kernel identity",
                [SWEEP_STEP_PROCESSES] = "cannot walk the processes",
                [SWEEP_STEP_IDENTITY] = "cannot build a process identity",
                [SWEEP_STEP_WRITER] = "cannot start the writer thread",
                [SWEEP_STEP_MEMINFO] = "cannot read meminfo",
                [SWEEP_STEP_CGROUPS] = "cannot walk the cgroups",
                [SWEEP_STEP_STOPPED] = "stopped before it ended",
        };

        return step >= 0 && step < _SWEEP_STEP_MAX ? names[step] : "cannot sweep";
}

/* Records where the sweep failed and returns r, for "return sweep_fail(sw, STEP, r);". */
static int sweep_fail(Sweeper *sw, SweepStep step, int r) {
        sw->failed_step = step;
        return r;
}

void sweeper_init(Sweeper *sw, const ProcRoot *root, Store *store) {
        *sw = (Sweeper) {
                .root = root,
                .store = store,
        };
}

void sweeper_configure(Sweeper *sw, const Options *o) {
        sw->identity_mode = o->identity_mode;
        sw->pagemap = (SweepPagemap) {
                .mode = o->pagemap_mode,
                .max_scan_bytes = o->pagemap_max_scan_bytes,
                .budget_usec = o->pagemap_budget_usec,
        };
        sw->max_staleness_usec = o->max_staleness_usec;
        sw->bufs.rollup.budget_usec = o->stall_budget_usec;
        /* A reload tries again what was unavailable (a drop-in may have granted the
         * capability… to a restarted daemon only, but the files may have appeared). */
        sw->bufs.rollup.unavailable = 0;
        sw->rollup_unavailable_logged = false;
}

static void sweep_processes_clear(SweepProcess *procs, size_t *n) {
        for (size_t i = 0; i < *n; i++)
                free(procs[i].memory_cgroup);
        *n = 0;
}

/* Forgets the open sweep's processes and reconstruction. */
static void sweeper_reset(Sweeper *sw) {
        sweep_processes_clear(sw->procs, &sw->n_procs);
        sw->rec = reconstruction_free(sw->rec);
}

static void sweep_kept_clear(SweepKept *k) {
        sweep_processes_clear(k->procs, &k->n_procs);
        k->rec = reconstruction_free(k->rec);
        k->pfns.n = 0;
}

/* Swaps the open sweep's processes, PFNs and reconstruction with the kept ones (read_all_usec
 * stays). */
static void sweep_kept_swap(Sweeper *sw) {
        SweepKept *k = &sw->kept;
        PfnList pfns = sw->pfns;
        SweepProcess *procs = sw->procs;
        size_t n = sw->n_procs, allocated = sw->allocated_procs;
        Reconstruction *rec = sw->rec;

        sw->pfns = k->pfns;
        sw->procs = k->procs;
        sw->n_procs = k->n_procs;
        sw->allocated_procs = k->allocated_procs;
        sw->rec = k->rec;
        *k = (SweepKept) { .pfns = pfns, .procs = procs, .n_procs = n,
                           .allocated_procs = allocated, .rec = rec,
                           .read_all_usec = k->read_all_usec };
}

void sweeper_done(Sweeper *sw) {
        sweeper_reset(sw);
        sweep_kept_clear(&sw->kept);
        free(sw->kept.procs);
        pfn_list_done(&sw->kept.pfns);
        proc_scan_buffers_done(&sw->bufs);
        pfn_list_done(&sw->pfns);
        free(sw->procs);
        free(sw->group);
        free(sw->unit_keys);
        read_table_done(&sw->reads);
        kernel_id_done(&sw->kernel);
        *sw = (Sweeper) {};
}

/* Finds this boot's epoch; the full kernel identity (config.gz, THP settings) is read only for
 * a boot the database has not seen. Either way sw->kernel describes the current kernel. */
static int sweeper_update_epoch(Sweeper *sw, uint64_t now, bool *ret_new) {
        _cleanup_free_ char *release = NULL, *boot_id = NULL;
        MapcountMode mode;
        uint64_t page_size;
        KernelId k;
        int r;

        r = kernel_id_read_quick(sw->root, &release, &boot_id);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_KERNEL_ID, r);

        r = store_epoch_lookup(sw->store, boot_id, release, &sw->epoch_id, &mode, &page_size);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_STORAGE, r);
        if (r > 0) {
                *ret_new = false;
                if (streq_ptr(release, sw->kernel.release) && streq_ptr(boot_id, sw->kernel.boot_id))
                        return 0;
                /* Known boot, first sweep of this process: what the epoch recorded is enough. */
                kernel_id_done(&sw->kernel);
                sw->kernel = (KernelId) {
                        .release = TAKE_PTR(release),
                        .boot_id = TAKE_PTR(boot_id),
                        .mapcount_mode = mode,
                        .page_size = page_size,
                };
                return 0;
        }

        r = kernel_id_read(sw->root, &k);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_KERNEL_ID, r);
        kernel_id_done(&sw->kernel);
        sw->kernel = k;
        r = store_epoch_ensure(sw->store, &sw->kernel, now, &sw->epoch_id, ret_new);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_STORAGE, r);
        return 0;
}

/* The sweep is a pipeline of two threads: this one walks /proc (kernel time, reading and
 * parsing), a writer thread stores each sample (SQLite, user time), so that on a machine with a
 * second core storing costs little wall time on top of reading. The Store belongs to the writer
 * from its start until it is joined; nothing else touches it meanwhile. */
#define SWEEP_BATCH 16  /* the last batch is stored after the walk: keep it short */
#define SWEEP_RING 8    /* batches in flight: a writer scheduled late does not stop the walk */

typedef struct SweepBatch {
        ProcSample items[SWEEP_BATCH];
        size_t n;
} SweepBatch;

/* A ring of batches: the walk fills one while the writer stores the ones handed to it, so the
 * threads meet once per batch, not once per process, and the walk waits only when the writer is
 * a whole ring behind. */
typedef struct SweepQueue {
        Sweeper *sweeper;
        pthread_mutex_t lock;
        pthread_cond_t changed;
        SweepBatch ring[SWEEP_RING];
        size_t head;            /* the oldest batch handed to the writer */
        size_t handed;          /* batches handed and not yet stored, < SWEEP_RING */
        SweepBatch *filling;    /* the walk's, ring[(head + handed) % SWEEP_RING]; no lock */
        bool closed;            /* the walk is over */
        int error;              /* the writer's first failure; later samples are dropped */
        SweepStep error_step;   /* where it failed: the identity key or the store */
        Store *store;
        IdentityMode identity_mode;
} SweepQueue;

/* Stores one sample; on failure *ret_step says which step failed. */
static int sweep_store_one(SweepQueue *q, const ProcSample *p, SweepStep *ret_step) {
        _cleanup_free_ char *key = NULL;
        int r;

        r = identity_key_build(q->identity_mode, p->comm, p->exe, p->cmdline, p->unit, &key);
        if (r < 0) {
                *ret_step = SWEEP_STEP_IDENTITY;
                return r;
        }
        r = store_sweep_add_process(q->store, p, key);
        if (r < 0)
                *ret_step = SWEEP_STEP_STORAGE;
        return r;
}

static void *sweep_writer(void *userdata) {
        SweepQueue *q = userdata;

        pthread_mutex_lock(&q->lock);
        for (;;) {
                while (q->handed == 0 && !q->closed)
                        pthread_cond_wait(&q->changed, &q->lock);
                if (q->handed == 0)
                        break;
                SweepBatch *b = &q->ring[q->head];
                SweepStep step = SWEEP_STEP_STORAGE;
                int error = q->error;
                pthread_mutex_unlock(&q->lock);

                for (size_t i = 0; i < b->n; i++) {
                        if (error == 0)
                                error = sweep_store_one(q, b->items + i, &step);
                        proc_sample_done(b->items + i);
                }
                b->n = 0;

                pthread_mutex_lock(&q->lock);
                if (error < 0 && q->error == 0) {
                        q->error = error;
                        q->error_step = step;
                }
                q->head = (q->head + 1) % SWEEP_RING;
                q->handed--;
                pthread_cond_broadcast(&q->changed);
        }
        pthread_mutex_unlock(&q->lock);
        return NULL;
}

/* Gives the filling batch to the writer, waiting only while the whole ring is in its hands;
 * returns the first storage error. */
static int sweep_hand_over(SweepQueue *q) {
        int r;

        pthread_mutex_lock(&q->lock);
        if (q->filling->n > 0) {
                while (q->handed == SWEEP_RING - 1)
                        pthread_cond_wait(&q->changed, &q->lock);
                q->handed++;
                q->filling = &q->ring[(q->head + q->handed) % SWEEP_RING];
                pthread_cond_broadcast(&q->changed);
        }
        r = q->error;
        pthread_mutex_unlock(&q->lock);
        return r;
}

/* Whether earlier reads may stand in for this sweep's. In full mode, the reconstruction counts
 * every page's mappers across all processes: a reused process takes its PFNs from the kept
 * reconstruction of the last sweep (sweep_reconstruct()), so there must be one. */
static bool sweeper_reuses(const Sweeper *sw) {
        return sw->max_staleness_usec > 0;
}

/* ProcReuseFunc: a process whose signal has not moved keeps its last read while that is younger
 * than the maximum staleness. In full mode the bound holds for the sweep as a whole: reads are
 * reused while the last sweep that read every process is younger, and once it is not, every
 * process is read again; re-reading the stale ones a few at a time would make every sweep
 * rebuild the reconstruction (sweep_reconstruct()). */
static int sweep_reuse(ProcSample *p, void *userdata) {
        SweepQueue *q = userdata;
        Sweeper *sw = q->sweeper;
        uint64_t not_before = sw->sweep_mono_usec >= sw->max_staleness_usec ?
                                      sw->sweep_mono_usec - sw->max_staleness_usec + 1 : 0;

        if (sw->pagemap.mode == PAGEMAP_MODE_FULL) {
                if (!sw->kept.rec || sw->kept.read_all_usec < not_before)
                        return 0;
                not_before = 0;
        }
        return read_table_reuse(&sw->reads, p, not_before,
                                sw->pagemap.mode != PAGEMAP_MODE_OFF);
}

/* Full mode: remembers which PFNs belong to whom, for the reconstruction after the walk. */
static int sweep_remember(Sweeper *sw, ProcSample *p) {
        int r;

        r = GREEDY_REALLOC(sw->procs, sw->allocated_procs, sw->n_procs + 1);
        if (r < 0)
                return r;
        sw->procs[sw->n_procs++] = (SweepProcess) {
                .pid = p->pid,
                .start_time_ticks = p->start_time_ticks,
                .pfn_offset = p->pfn_offset,
                .pfn_count = p->pfn_count,
                .truncated = p->pagemap.truncated,
                .reused = p->reused_sweep_id > 0,
                .memory_cgroup = TAKE_PTR(p->memory_cgroup),
        };
        return 0;
}

/* ProcScanFunc: moves the sample into the filling batch. A storage error stops the walk: the
 * sweep is lost anyway. */
static int sweep_enqueue(ProcSample *p, void *userdata) {
        SweepQueue *q = userdata;
        Sweeper *sw = q->sweeper;
        int r;

        if (stop_guard_requested())
                return -ECANCELED;      /* sweep_processes() says which step */

        /* Out of memory for the table only costs a read next time. */
        if (sweeper_reuses(sw))
                (void) read_table_record(&sw->reads, p, sw->sweep_id, sw->sweep_mono_usec);
        if (sw->pagemap.mode == PAGEMAP_MODE_FULL && p->has_pagemap) {
                r = sweep_remember(q->sweeper, p);
                if (r < 0)
                        return r;
        }

        q->filling->items[q->filling->n++] = *p;
        *p = (ProcSample) {};
        if (q->filling->n < SWEEP_BATCH)
                return 0;
        return sweep_hand_over(q);
}

/* Walks every process and stores it through the writer thread. Returns 0 or the first failure
 * of either side, with sw->failed_step set by the side that failed: the writer says whether it
 * was the identity or the store; anything else is the walk's. */
static int sweep_processes(Sweeper *sw, const PagemapOptions *pagemap, ProcScanStats *ret_stats) {
        SweepQueue q = {
                .sweeper = sw,
                .lock = PTHREAD_MUTEX_INITIALIZER,
                .changed = PTHREAD_COND_INITIALIZER,
                .store = sw->store,
                .identity_mode = sw->identity_mode,
        };
        q.filling = q.ring;
        pthread_t writer;
        int r, k;

        k = pthread_create(&writer, NULL, sweep_writer, &q);
        if (k != 0)
                return sweep_fail(sw, SWEEP_STEP_WRITER, -k);

        r = proc_scan(sw->root, &sw->bufs, pagemap, sweeper_reuses(sw) ? sweep_reuse : NULL,
                      sweep_enqueue, &q, ret_stats);
        if (r >= 0)
                r = sweep_hand_over(&q);
        else {
                for (size_t i = 0; i < q.filling->n; i++)
                        proc_sample_done(q.filling->items + i);
                q.filling->n = 0;
        }

        pthread_mutex_lock(&q.lock);
        q.closed = true;
        pthread_cond_broadcast(&q.changed);
        pthread_mutex_unlock(&q.lock);
        (void) pthread_join(writer, NULL);

        pthread_cond_destroy(&q.changed);
        pthread_mutex_destroy(&q.lock);
        if (q.error < 0)
                return sweep_fail(sw, q.error_step, q.error);
        if (r == -ECANCELED)
                return sweep_fail(sw, SWEEP_STEP_STOPPED, r);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_PROCESSES, r);
        return 0;
}

DEFINE_CLEANUP_FUNC(Reconstruction, reconstruction_free);

/* Stores each process's figures from sw->rec. */
static int sweep_store_truths(Sweeper *sw, int *ret_storage_error) {
        int r;

        for (size_t i = 0; i < sw->n_procs; i++) {
                ProcessTruth t;

                if (sw->procs[i].truncated)
                        continue;       /* partial PFNs: its own figures would be wrong */
                r = reconstruction_compute(sw->rec, (uint32_t) i, &t);
                if (r < 0)
                        return r;
                r = store_sweep_add_truth(sw->store, sw->procs[i].pid,
                                          sw->procs[i].start_time_ticks, &t);
                if (r == -ENOENT)
                        continue;       /* its sample was not stored */
                if (r < 0) {
                        *ret_storage_error = sweep_fail(sw, SWEEP_STEP_STORAGE, r);
                        return r;
                }
        }
        return 0;
}

/* Whether every process of this sweep was reused and they are the kept sweep's, in order (both
 * lists follow the walk, by PID): then the kept reconstruction is this sweep's. */
static bool sweep_all_reused(const Sweeper *sw) {
        const SweepKept *k = &sw->kept;

        if (!k->rec || sw->n_procs != k->n_procs)
                return false;
        for (size_t i = 0; i < sw->n_procs; i++)
                if (!sw->procs[i].reused || sw->procs[i].pid != k->procs[i].pid ||
                    sw->procs[i].start_time_ticks != k->procs[i].start_time_ticks ||
                    k->procs[i].truncated)
                        return false;
        return true;
}

/* A reused process was not walked: its PFNs are those the kept sweep read (its stat shows no
 * change), appended to this sweep's. One not found there gets no figures of its own. */
static int sweep_take_kept_pfns(Sweeper *sw) {
        const SweepKept *k = &sw->kept;
        size_t j = 0;
        int r;

        for (size_t i = 0; i < sw->n_procs; i++) {
                SweepProcess *p = sw->procs + i;
                const SweepProcess *from;

                if (!p->reused)
                        continue;
                while (j < k->n_procs && k->procs[j].pid < p->pid)
                        j++;
                from = j < k->n_procs ? k->procs + j : NULL;
                if (!from || from->pid != p->pid ||
                    from->start_time_ticks != p->start_time_ticks || from->truncated) {
                        p->truncated = true;
                        continue;
                }
                p->pfn_offset = sw->pfns.n;
                r = pfn_list_append(&sw->pfns, k->pfns.pfns + from->pfn_offset,
                                    from->pfn_count);
                if (r < 0)
                        return r;
                p->pfn_count = from->pfn_count;
        }
        return 0;
}

/* Full mode, after the walk: counts every PFN across all processes, reads kpageflags and
 * kpagecount for the blocks seen, and stores each process's truth and forecast with its sample;
 * the reconstruction is kept in sw->rec for the cgroups, and then for the next sweep
 * (sweep_keep()). When every process was reused and none came or went, nothing that decides
 * a page's mappers changed: the kept reconstruction is this sweep's, and neither pagemap nor
 * kpage* is read. Returns 0 when done, -EPERM when PFNs are not visible (no CAP_SYS_ADMIN),
 * another -errno when kpage* cannot be read; storage errors are returned through
 * *ret_storage_error. */
static int sweep_reconstruct(Sweeper *sw, uint64_t page_size, int *ret_storage_error) {
        _cleanup_(reconstruction_freep) Reconstruction *rec = NULL;
        bool reused = false;
        int r;

        *ret_storage_error = 0;
        if (sweep_all_reused(sw)) {
                sweep_kept_swap(sw);
                return sweep_store_truths(sw, ret_storage_error);
        }

        /* Something changed: this sweep's reconstruction, from the reused processes' kept
         * PFNs and the others' new ones; the blocks nobody's entries moved in keep their kpage*
         * figures, unless every process was read again (MaxStaleness=: kpage* too). */
        for (size_t i = 0; i < sw->n_procs && !reused; i++)
                reused = sw->procs[i].reused;
        r = sweep_take_kept_pfns(sw);
        if (r < 0)
                return r;
        r = reconstruction_new(&rec, page_size);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sw->n_procs; i++) {
                const SweepProcess *p = sw->procs + i;

                r = reconstruction_add(rec, (uint32_t) i, sw->pfns.pfns + p->pfn_offset,
                                       p->pfn_count);
                if (r < 0)
                        return r;
        }
        if (!reconstruction_has_pfns(rec))
                return -EPERM;
        r = reconstruction_finish(rec, sw->root, reused ? sw->kept.rec : NULL);
        if (r < 0)
                return r;
        sw->rec = TAKE_PTR(rec);        /* for the cgroups */
        return sweep_store_truths(sw, ret_storage_error);
}

/* After a committed full-mode sweep: its processes, PFNs and reconstruction are kept for the
 * next (the last kept ones are dropped); without a reconstruction, nothing is kept and the next
 * sweep reads every process. reused: how many processes this sweep reused. */
static void sweep_keep(Sweeper *sw, unsigned reused) {
        uint64_t read_all = reused == 0 ? sw->sweep_mono_usec : sw->kept.read_all_usec;

        sweep_kept_clear(&sw->kept);
        if (sw->pagemap.mode != PAGEMAP_MODE_FULL || !sw->rec || !sweeper_reuses(sw))
                return;
        sweep_kept_swap(sw);
        sw->kept.read_all_usec = read_all;
        /* The spare list, the size of the kept one: between sweeps only one is held. */
        pfn_list_done(&sw->pfns);
}

/* The set of unit names this sweep has keyed cgroups by: a second cgroup naming the same unit
 * (another manager's directory of that name) is keyed by its path instead. Returns 1 when the
 * unit was new (and is now in the set), 0 when seen, -ENOMEM. */
static int sweep_unit_claim(Sweeper *sw, const char *unit) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        size_t mask;

        for (const char *c = unit; *c; c++)
                h = (h ^ (uint8_t) *c) * UINT64_C(0x100000001b3);
        h |= 1;         /* 0 marks an empty slot */

        if ((sw->n_unit_keys + 1) * 2 > sw->allocated_unit_keys) {
                size_t allocated = MAX(sw->allocated_unit_keys * 2, (size_t) 64);
                uint64_t *keys = calloc(allocated, sizeof(uint64_t));

                if (!keys)
                        return -ENOMEM;
                for (size_t i = 0; i < sw->allocated_unit_keys; i++) {
                        size_t j = sw->unit_keys[i] & (allocated - 1);

                        if (sw->unit_keys[i] == 0)
                                continue;
                        while (keys[j] != 0)
                                j = (j + 1) & (allocated - 1);
                        keys[j] = sw->unit_keys[i];
                }
                free(sw->unit_keys);
                sw->unit_keys = keys;
                sw->allocated_unit_keys = allocated;
        }
        mask = sw->allocated_unit_keys - 1;
        for (size_t j = h & mask;; j = (j + 1) & mask) {
                if (sw->unit_keys[j] == h)
                        return 0;
                if (sw->unit_keys[j] == 0) {
                        sw->unit_keys[j] = h;
                        sw->n_unit_keys++;
                        return 1;
                }
        }
}

/* Whether the memory cgroup of a process (path) is the cgroup dir or below it. */
static bool cgroup_contains(const char *dir, const char *path) {
        size_t n = strlen(dir);

        if (!path)
                return false;
        if (strcmp(dir, "/") == 0)
                return true;
        return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Full mode: the forecast of a cgroup from the folios its processes, and its descendants',
 * map (memory.stat is hierarchical). A process whose scan was cut short is left out. */
static int sweep_cgroup_forecast(Sweeper *sw, const char *dir, GroupForecast *ret) {
        size_t n = 0;
        int r;

        r = GREEDY_REALLOC(sw->group, sw->allocated_group, MAX(sw->n_procs, (size_t) 1));
        if (r < 0)
                return r;
        for (size_t i = 0; i < sw->n_procs; i++)
                if (!sw->procs[i].truncated && cgroup_contains(dir, sw->procs[i].memory_cgroup))
                        sw->group[n++] = (uint32_t) i;
        return reconstruction_compute_group(sw->rec, sw->group, n, ret);
}

/* CgroupScanFunc: keys and stores one cgroup. A cgroup the store refuses is lost alone; a
 * failure that loses the sweep stops the walk. */
static int sweep_store_cgroup(CgroupSample *c, void *userdata) {
        Sweeper *sw = userdata;
        _cleanup_free_ char *key = NULL;
        GroupForecast forecast;
        bool by_path = false;
        int r;

        if (c->unit) {
                r = sweep_unit_claim(sw, c->unit);
                if (r < 0)
                        return sweep_fail(sw, SWEEP_STEP_CGROUPS, r);
                by_path = r == 0;
        }
        r = cgroup_key_build(c->unit, c->path, by_path, &key);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_CGROUPS, r);
        if (sw->rec) {
                r = sweep_cgroup_forecast(sw, c->path, &forecast);
                if (r < 0)
                        return sweep_fail(sw, SWEEP_STEP_CGROUPS, r);
        }
        r = store_sweep_add_cgroup(sw->store, c, key, sw->rec ? &forecast : NULL);
        if (r < 0 && store_sweep_lost(sw->store))
                return sweep_fail(sw, SWEEP_STEP_STORAGE, r);
        return 0;
}

/* The memory cgroups and the THP statistics, after the processes: the walk gets what is left
 * of the sweep's budget, and at least CGROUP_MIN_BUDGET_USEC. Failures of single cgroups are
 * counted; only running out of memory or losing the transaction fails the sweep. */
#define CGROUP_MIN_BUDGET_USEC (2 * USEC_PER_SEC)
#define CGROUP_MAX 10000

static int sweep_cgroups(Sweeper *sw, uint64_t deadline, SweepResult *res) {
        unsigned thp_malformed = 0;
        int r;

        sw->n_unit_keys = 0;
        if (sw->unit_keys)
                memset(sw->unit_keys, 0, sw->allocated_unit_keys * sizeof(uint64_t));

        res->cgroup_layout = cgroup_layout_detect(sw->root);
        if (res->cgroup_layout != CGROUP_LAYOUT_NONE) {
                deadline = MAX(deadline, now_usec(CLOCK_MONOTONIC) + CGROUP_MIN_BUDGET_USEC);
                r = cgroup_scan(sw->root, res->cgroup_layout, &sw->bufs.text, CGROUP_MAX,
                                deadline, sweep_store_cgroup, sw, &res->cgroups);
                if (r == -ENOMEM)
                        return sweep_fail(sw, SWEEP_STEP_CGROUPS, r);
                if (r < 0 && r != -ENOENT)
                        return r;       /* sweep_store_cgroup() said where */
        }

        r = thp_stats_read(sw->root, &sw->bufs.text, &sw->thp, &thp_malformed);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_CGROUPS, r);
        res->thp_sizes = (unsigned) sw->thp.n;
        res->thp_malformed = thp_malformed;
        if (sw->thp.n > 0) {
                r = store_sweep_add_thp(sw->store, &sw->thp);
                if (r < 0 && store_sweep_lost(sw->store))
                        return sweep_fail(sw, SWEEP_STEP_STORAGE, r);
        }
        return 0;
}

/* -ECANCELED, with the step set, once a stop was asked (daemon/stop.h); else 0. */
static int sweep_check_stop(Sweeper *sw) {
        return stop_guard_requested() ? sweep_fail(sw, SWEEP_STEP_STOPPED, -ECANCELED) : 0;
}

int sweeper_run(Sweeper *sw, SweepResult *ret) {
        uint64_t start = now_usec(CLOCK_REALTIME), mono = now_usec(CLOCK_MONOTONIC);
        ProcScanStats stats = {};
        bool budget_exhausted = false;
        int reconstruction = 0;
        SweepSummary summary;
        SweepResult extra = {};
        Meminfo meminfo;
        bool new_epoch = false;
        int64_t sweep_id;
        int r;

        r = sweeper_update_epoch(sw, start, &new_epoch);
        if (r < 0)
                return r;

        r = store_sweep_begin(sw->store, sw->epoch_id, start);
        if (r < 0)
                return sweep_fail(sw, SWEEP_STEP_STORAGE, r);
        sw->sweep_id = store_sweep_open_id(sw->store);
        sw->sweep_mono_usec = mono;
        read_table_begin(&sw->reads, sw->epoch_id);

        uint64_t page_size = sw->kernel.page_size ? sw->kernel.page_size : 4096;
        PagemapOptions pagemap = {
                .page_size = page_size,
                .max_scan_bytes = sw->pagemap.max_scan_bytes,
                .deadline_usec = mono + sw->pagemap.budget_usec,
                .stop = stop_guard_flag(),
                .pfns = sw->pagemap.mode == PAGEMAP_MODE_FULL ? &sw->pfns : NULL,
        };
        sw->pfns.n = 0;
        sw->bufs.rollup.page_size = page_size;
        sweeper_reset(sw);

        r = sweep_processes(sw, sw->pagemap.mode == PAGEMAP_MODE_OFF ? NULL : &pagemap, &stats);
        if (r < 0)
                goto fail;
        budget_exhausted = sw->pagemap.mode != PAGEMAP_MODE_OFF &&
                           now_usec(CLOCK_MONOTONIC) > pagemap.deadline_usec;

        r = sweep_check_stop(sw);
        if (r < 0)
                goto fail;
        if (sw->pagemap.mode == PAGEMAP_MODE_FULL) {
                int storage_error;

                reconstruction = sweep_reconstruct(sw, page_size, &storage_error);
                if (storage_error < 0) {
                        r = storage_error;
                        goto fail;
                }
        }

        /* A sweep without meminfo is still worth keeping: the per-process figures are the main
         * data. Garbage in meminfo is counted as a malformed source, not fatal. */
        r = meminfo_read(sw->root, &sw->bufs.text, &meminfo);
        if (r >= 0) {
                r = store_sweep_add_meminfo(sw->store, &meminfo);
                if (r < 0) {
                        sweep_fail(sw, SWEEP_STEP_STORAGE, r);
                        goto fail;
                }
        } else if (r == -ENOMEM) {
                sweep_fail(sw, SWEEP_STEP_MEMINFO, r);
                goto fail;
        } else
                stats.malformed++;

        r = sweep_cgroups(sw, pagemap.deadline_usec, &extra);
        if (r < 0)
                goto fail;

        r = sweep_check_stop(sw);
        if (r < 0)
                goto fail;
        summary = (SweepSummary) {
                .duration_usec = now_usec(CLOCK_MONOTONIC) - mono,
                .sampled = stats.sampled,
                .skipped = proc_scan_stats_skipped(&stats),
                .vanished = stats.vanished,
                .denied = stats.denied,
                .malformed = stats.malformed,
                .pagemap_truncated = stats.pagemap_truncated,
                .pagemap_failed = stats.pagemap_failed,
                .reused = stats.reused,
        };
        sweep_id = store_sweep_commit(sw->store, &summary);
        if (sweep_id < 0) {
                sw->rec = reconstruction_free(sw->rec);
                return sweep_fail(sw, SWEEP_STEP_STORAGE, (int) sweep_id);
        }
        read_table_commit(&sw->reads);
        sweep_keep(sw, stats.reused);
        sw->rec = reconstruction_free(sw->rec);

        *ret = (SweepResult) {
                .sweep_id = sweep_id,
                .epoch_id = sw->epoch_id,
                .new_epoch = new_epoch,
                .start_usec = start,
                .duration_usec = summary.duration_usec,
                .stats = stats,
                .budget_exhausted = budget_exhausted,
                .reuse = sweeper_reuses(sw),
                .reconstruction = reconstruction,
                .cgroup_layout = extra.cgroup_layout,
                .cgroups = extra.cgroups,
                .thp_sizes = extra.thp_sizes,
                .thp_malformed = extra.thp_malformed,
        };
        return 0;

fail:
        sw->rec = reconstruction_free(sw->rec);
        store_sweep_abort(sw->store);
        return r;
}
