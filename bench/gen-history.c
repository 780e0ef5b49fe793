/* Writes a database as mapstatd holds it after DAYS days of sweeps at INTERVAL of IDENTITIES
 * identities (one process each) across EPOCHS kernels, through the daemon's own Store API:
 *
 *   gen-history DB [--days 30] [--interval 60] [--identities 1000] [--epochs 3]
 *                  [--retention 7d-in-seconds] [--keep 120] [--meminfo FILE]
 *                  [--changing 100] [--downsample-after 7200]
 *
 * The epochs split the days evenly and end now: epoch 1 and 2 run one kernel (page_mapcount,
 * two boots), the last one another (no_page_mapcount), where every tenth identity's Shared and
 * Private trade places the way a partially shared THP's do, so /report has something to say.
 * Only what default retention keeps is written (every sweep of the last RETENTION seconds, and
 * the newest KEEP of every epoch), as the daemon would hold it; --retention 0 writes every sweep.
 * Figures carry ±1% noise. --changing P: only P % of the identities (a different P % in each
 * sweep) get new figures in a sweep; the others keep theirs, reused as the daemon's steady
 * state does (MaxStaleness= 5 intervals: read again, unchanged, every fifth sweep). Like the
 * daemon, it prunes and downsamples (store_downsample(), DownsampleAfter=; 0: never) once an
 * hour of the sweeps' time. The identities are "svcNNNN" processes whose keys are built with
 * identity_key_build() from exe /usr/bin/svcNNNN and arguments "--worker 1", as the daemon
 * builds them, so that a daemon sweeping bench/web.py's fixture tree adds to the same
 * identities and epoch. Prints a one-line JSON summary, with the file's size. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "identity.h"
#include "store.h"

#define USEC 1000000ULL

typedef struct Args {
        const char *db, *meminfo;
        uint64_t days, interval, identities, epochs, retention, keep, changing;
        uint64_t downsample_after;
} Args;

#define STALENESS_SWEEPS 5

/* Identity i's last read, for the sweeps where it does not change. */
typedef struct LastRead {
        int64_t sweep_id;
        uint64_t w;                     /* its sweep's index in the epoch */
        uint64_t kb[_SMAPS_FIELD_MAX];
} LastRead;

/* A small deterministic generator (xorshift64*), so that two runs write the same database. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double noise(void) {
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return (double) ((rng_state * 0x2545f4914f6cdd1dULL) >> 11) / (double) (1ULL << 53);
}

static void die(const char *what, int r) {
        fprintf(stderr, "gen-history: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

static uint64_t arg_u64(const char *s) {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);

        if (*s == '\0' || *end != '\0')
                die(s, EINVAL);
        return v;
}

static Meminfo meminfo_template(const char *path) {
        Meminfo m = {};
        char line[256];
        FILE *f = fopen(path, "re");

        if (!f)
                die(path, errno);
        while (m.n < MEMINFO_MAX && fgets(line, sizeof line, f)) {
                MeminfoField *field = &m.fields[m.n];
                char unit[8] = "";
                char *colon = strchr(line, ':');

                if (!colon || (size_t) (colon - line) >= sizeof field->name)
                        continue;
                memcpy(field->name, line, (size_t) (colon - line));
                field->name[colon - line] = '\0';
                if (sscanf(colon + 1, "%" SCNu64 " %7s", &field->value, unit) < 1)
                        continue;
                field->is_kb = strcmp(unit, "kB") == 0;
                m.n++;
        }
        fclose(f);
        return m;
}

/* The figures of identity i in a sweep of an epoch: Rss from 20 to 220 MiB, a share of it
 * Shared that depends on i, Pss = Private + Shared/3; on the last kernel every tenth identity
 * has 30 points of its Rss moved from Private to Shared (accounting: a folio average). */
static void sample_figures(ProcSample *p, uint64_t i, bool last_kernel) {
        double rss = (20480.0 + (double) (i * 7919 % 200) * 1024.0) * (0.99 + 0.02 * noise());
        double shared_ratio = 0.2 + 0.1 * (double) (i % 5) + 0.01 * noise();
        double shared, private;

        if (last_kernel && i % 10 == 0)
                shared_ratio += 0.3;
        shared = rss * shared_ratio;
        private = rss - shared;
        p->rollup.present = (1u << _SMAPS_FIELD_MAX) - 1;
        memset(p->rollup.kb, 0, sizeof p->rollup.kb);
        p->rollup.kb[SMAPS_RSS] = (uint64_t) rss;
        p->rollup.kb[SMAPS_PSS] = (uint64_t) (private + shared / 3);
        p->rollup.kb[SMAPS_PSS_DIRTY] = (uint64_t) (private * 0.8);
        p->rollup.kb[SMAPS_PSS_ANON] = (uint64_t) (private * 0.8);
        p->rollup.kb[SMAPS_PSS_FILE] = (uint64_t) (private * 0.2 + shared / 3);
        p->rollup.kb[SMAPS_SHARED_CLEAN] = (uint64_t) shared;
        p->rollup.kb[SMAPS_PRIVATE_CLEAN] = (uint64_t) (private * 0.2);
        p->rollup.kb[SMAPS_PRIVATE_DIRTY] = (uint64_t) (private * 0.8);
        p->rollup.kb[SMAPS_REFERENCED] = (uint64_t) rss;
        p->rollup.kb[SMAPS_ANONYMOUS] = (uint64_t) (private * 0.8);
}

/* What the daemon does once an hour (daemon/main.c): retention, then downsampling. */
static void maintain(Store *s, const Args *a, uint64_t now) {
        int r;

        if (a->retention > 0 && now > a->retention * USEC) {
                r = store_prune(s, now - a->retention * USEC, (unsigned) a->keep);
                if (r < 0)
                        die("store_prune", r);
        }
        for (bool more = true; more;) {
                r = store_downsample_history(s, now, a->downsample_after * USEC,
                                             (unsigned) a->keep, &more);
                if (r < 0)
                        die("store_downsample_history", r);
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "days", required_argument, NULL, 'd' },
                { "interval", required_argument, NULL, 'i' },
                { "identities", required_argument, NULL, 'n' },
                { "epochs", required_argument, NULL, 'e' },
                { "retention", required_argument, NULL, 'r' },
                { "keep", required_argument, NULL, 'k' },
                { "meminfo", required_argument, NULL, 'm' },
                { "changing", required_argument, NULL, 'c' },
                { "downsample-after", required_argument, NULL, 'D' },
                {}
        };
        Args a = { .days = 30, .interval = 60, .identities = 1000, .epochs = 3,
                   .retention = 7 * 86400, .keep = 120, .changing = 100,
                   .downsample_after = 7200,
                   .meminfo = "tests/fixtures/linux-6.18-page/proc/meminfo" };
        char **keys, (*names)[3][64];
        Store *s = NULL;
        char *err = NULL;
        uint64_t now, start, epoch_len, written = 0, last_maintenance = 0;
        LastRead *reads;
        struct stat st;
        struct timespec t0, t1, t2;
        Meminfo meminfo;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                switch (c) {
                case 'd': a.days = arg_u64(optarg); break;
                case 'i': a.interval = arg_u64(optarg); break;
                case 'n': a.identities = arg_u64(optarg); break;
                case 'e': a.epochs = arg_u64(optarg); break;
                case 'r': a.retention = arg_u64(optarg); break;
                case 'k': a.keep = arg_u64(optarg); break;
                case 'm': a.meminfo = optarg; break;
                case 'c': a.changing = arg_u64(optarg); break;
                case 'D': a.downsample_after = arg_u64(optarg); break;
                default: return 2;
                }
        if (optind != argc - 1 || a.epochs < 2 || a.interval == 0 || a.identities == 0 ||
            a.changing > 100) {
                fprintf(stderr, "usage: gen-history DB [--days N] [--interval SEC] "
                        "[--identities N] [--epochs N≥2] [--retention SEC] [--keep N] "
                        "[--meminfo FILE] [--changing PERCENT] [--downsample-after SEC]\n");
                return 2;
        }
        a.db = argv[optind];
        meminfo = meminfo_template(a.meminfo);

        /* Per identity: its key, and exe, command line and unit as a process would show. */
        keys = calloc(a.identities, sizeof *keys);
        names = calloc(a.identities, sizeof *names);
        reads = calloc(a.identities, sizeof *reads);
        if (!keys || !names || !reads)
                die("calloc", ENOMEM);
        for (uint64_t i = 0; i < a.identities; i++) {
                char comm[32];

                (void) snprintf(comm, sizeof comm, "svc%04" PRIu64, i);
                (void) snprintf(names[i][0], sizeof names[i][0], "/usr/bin/%s", comm);
                (void) snprintf(names[i][1], sizeof names[i][1], "/usr/bin/%s --worker 1", comm);
                (void) snprintf(names[i][2], sizeof names[i][2], "%s.service", comm);
                r = identity_key_build(IDENTITY_MODE_EXE_ARGS, comm, names[i][0], names[i][1],
                                       names[i][2], &keys[i]);
                if (r < 0)
                        die("identity_key_build", r);
        }

        r = store_open(&s, a.db, STORE_READ_WRITE, &err);
        if (r < 0)
                die(err ? err : a.db, r);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        clock_gettime(CLOCK_REALTIME, &t1);
        now = (uint64_t) t1.tv_sec * USEC / a.interval / USEC * a.interval * USEC;
        start = now - a.days * 86400 * USEC;
        epoch_len = (now - start) / a.epochs;

        for (uint64_t e = 0; e < a.epochs; e++) {
                bool last = e == a.epochs - 1;
                char boot_id[64];
                KernelId k = {
                        .release = (char *) (last ? "7.0.0-bench" : "6.18.0-bench"),
                        .version = (char *) "Linux version (bench)",
                        .boot_id = boot_id,
                        .page_size = 4096,
                        .mapcount_mode = last ? MAPCOUNT_MODE_NO_PAGE : MAPCOUNT_MODE_PAGE,
                };
                uint64_t first = start + e * epoch_len, n = epoch_len / (a.interval * USEC);
                int64_t epoch_id;
                bool created;

                (void) snprintf(boot_id, sizeof boot_id,
                                "00000000-0000-4000-8000-%012" PRIx64, e + 1);
                r = store_epoch_ensure(s, &k, first, &epoch_id, &created);
                if (r < 0)
                        die("store_epoch_ensure", r);

                for (uint64_t w = 0; w < n; w++) {
                        uint64_t t = first + w * a.interval * USEC;
                        SweepSummary sum = { .duration_usec = 80000,
                                             .sampled = (unsigned) a.identities };

                        /* What retention keeps: the recent sweeps and the epoch's newest. */
                        if (a.retention > 0 && t + a.retention * USEC < now && w + a.keep < n)
                                continue;
                        r = store_sweep_begin(s, epoch_id, t);
                        if (r < 0)
                                die("store_sweep_begin", r);
                        for (uint64_t i = 0; i < a.identities; i++) {
                                ProcSample p = {
                                        .pid = (pid_t) (10000 + i),
                                        .start_time_ticks = 1000 + i,
                                        .exe = names[i][0],
                                        .cmdline = names[i][1],
                                        .cgroup = (char *) "/system.slice/bench.service",
                                        .unit = names[i][2],
                                };

                                LastRead *lr = reads + i;

                                (void) snprintf(p.comm, sizeof p.comm, "svc%04" PRIu64, i);
                                if (w == 0 || lr->sweep_id == 0 ||
                                    (i * 37 + w * 61) % 100 < a.changing) {
                                        sample_figures(&p, i, last);
                                        *lr = (LastRead) { .sweep_id = store_sweep_open_id(s),
                                                           .w = w };
                                        memcpy(lr->kb, p.rollup.kb, sizeof lr->kb);
                                } else {
                                        p.rollup.present = (1u << _SMAPS_FIELD_MAX) - 1;
                                        memcpy(p.rollup.kb, lr->kb, sizeof lr->kb);
                                        if (w - lr->w < STALENESS_SWEEPS)
                                                p.reused_sweep_id = lr->sweep_id;
                                        else {
                                                /* read again: the same figures */
                                                lr->sweep_id = store_sweep_open_id(s);
                                                lr->w = w;
                                        }
                                }
                                r = store_sweep_add_process(s, &p, keys[i]);
                                if (r < 0)
                                        die("store_sweep_add_process", r);
                        }
                        for (size_t f = 0; f < meminfo.n; f++)
                                if (strcmp(meminfo.fields[f].name, "AnonPages") == 0)
                                        meminfo.fields[f].value = 900000 + (uint64_t) (1000 * noise());
                        r = store_sweep_add_meminfo(s, &meminfo);
                        if (r < 0)
                                die("store_sweep_add_meminfo", r);
                        if (store_sweep_commit(s, &sum) < 0)
                                die("store_sweep_commit", EIO);
                        written++;
                        if (t - last_maintenance >= 3600 * USEC) {
                                maintain(s, &a, t);
                                last_maintenance = t;
                        }
                }
        }
        maintain(s, &a, now);
        store_free(s);
        clock_gettime(CLOCK_MONOTONIC, &t2);
        if (stat(a.db, &st) < 0)
                die(a.db, errno);
        printf("{\"sweeps\": %" PRIu64 ", \"identities\": %" PRIu64 ", \"epochs\": %" PRIu64
               ", \"changing_percent\": %" PRIu64 ", \"downsample_after_seconds\": %" PRIu64
               ", \"bytes\": %lld, \"seconds\": %.1f}\n", written, a.identities, a.epochs,
               a.changing, a.downsample_after, (long long) st.st_size,
               (double) (t2.tv_sec - t0.tv_sec) + (double) (t2.tv_nsec - t0.tv_nsec) / 1e9);
        free(reads);
        for (uint64_t i = 0; i < a.identities; i++)
                free(keys[i]);
        free(keys);
        free(names);
        return 0;
}
