/* mapstatd entry point: options, preconditions (proc root, database, listener), then an
 * sd-event loop that runs a sweep every interval, answers SIGHUP with a reload and SIGTERM with
 * a clean stop (within STOP_DEADLINE_USEC whatever a sweep is doing: daemon/stop.h), and keeps
 * the HTTP server's status current. Exit codes: 0 success, 1 runtime failure, 2 bad usage or
 * configuration. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "catalog-ids.h"
#include "config.h"
#include "fileio.h"
#include "log.h"
#include "options.h"
#include "parse-util.h"
#include "proc-root.h"
#include "server.h"
#include "store.h"
#include "stop.h"
#include "sweep.h"
#include "time-util.h"

#define EXIT_USAGE 2
#define PRUNE_EVERY_USEC (3600ULL * USEC_PER_SEC)

typedef struct Daemon {
        int argc;
        char **argv;
        Options options;
        char *config_path;
        char *db_path;
        ProcRoot root;
        Store *store;
        Sweeper sweeper;
        WebStatus status;
        WebServer *web;
        sd_event *event;
        sd_event_source *timer;
        sd_event_source *downsample;    /* one pass per loop turn while behind (on_downsample) */
        uint64_t last_prune_usec;
        bool storage_failing;
        bool sweep_failing;             /* failing for another reason than storage */
        bool reconstruction_failing;
} Daemon;

static void daemon_done(Daemon *d) {
        d->timer = sd_event_source_unref(d->timer);
        d->downsample = sd_event_source_unref(d->downsample);
        d->event = sd_event_unref(d->event);
        d->web = web_server_free(d->web);
        sweeper_done(&d->sweeper);
        d->store = store_free(d->store);
        web_status_done(&d->status);
        proc_root_done(&d->root);
        options_done(&d->options);
        free(d->config_path);
        free(d->db_path);
}

/* Why a full-mode sweep has no reconstruction, for /healthz and the log. */
static const char *reconstruction_error_string(int r) {
        switch (r) {
        case -EPERM:
                return "PFNs are not visible: the full pagemap mode needs CAP_SYS_ADMIN";
        case -EACCES:
                return "kpageflags or kpagecount is not readable: needs root or "
                       "CAP_DAC_READ_SEARCH";
        case -ENOENT:
                return "kpageflags or kpagecount is missing under the proc root";
        case -EOPNOTSUPP:
                return "the reconstruction supports 4 KiB pages only";
        case -ENOMEM:
                return "out of memory";
        default:
                return "kpageflags or kpagecount could not be read";
        }
}

/* r < 0: the sweep failed, in storage when storage is true. Every publication is a new
 * generation: the web server's cached answers of older ones are stale. */
static void publish_status(Daemon *d, const SweepResult *res, int r, bool storage) {
        WebStatusData *st = &d->status.data;

        pthread_mutex_lock(&d->status.lock);
        options_to_status(&d->options, st);
        if (res) {
                st->pagemap_truncated = res->stats.pagemap_truncated;
                st->pagemap_failed = res->stats.pagemap_failed;
                st->pagemap_budget_exhausted = res->budget_exhausted;
                st->cgroup_layout = cgroup_layout_to_string(res->cgroup_layout);
                st->cgroups_sampled = res->cgroups.sampled;
                st->cgroups_skipped = res->cgroups.vanished + res->cgroups.denied +
                                      res->cgroups.malformed;
                st->cgroups_truncated = res->cgroups.truncated;
                if (res->reconstruction == 0)
                        st->reconstruction[0] = '\0';
                else
                        snprintf(st->reconstruction, sizeof st->reconstruction, "%s",
                                 reconstruction_error_string(res->reconstruction));
                st->last_sweep_usec = res->start_usec;
                st->last_duration_usec = res->duration_usec;
                st->sampled = res->stats.sampled;
                st->reused = res->stats.reused;
                st->reused_total += res->stats.reused;
                st->derived = res->stats.derived;
                st->derived_total += res->stats.derived;
                st->vanished = res->stats.vanished;
                st->denied = res->stats.denied;
                st->malformed = res->stats.malformed;
                st->kernel_threads = res->stats.kernel_threads;
                st->sampled_total += res->stats.sampled;
                st->vanished_total += res->stats.vanished;
                st->denied_total += res->stats.denied;
                st->malformed_total += res->stats.malformed;
        }
        st->storage_error[0] = '\0';
        st->sweep_error[0] = '\0';
        if (r < 0 && storage) {
                const char *detail = d->store ? store_last_error(d->store) : NULL;
                snprintf(st->storage_error, sizeof st->storage_error, "%s%s%s",
                         strerror(-r), detail ? ": " : "", detail ? detail : "");
        } else if (r < 0)
                snprintf(st->sweep_error, sizeof st->sweep_error, "%s: %s",
                         sweep_step_to_string(d->sweeper.failed_step), read_strerror(r));
        if (r < 0)
                st->consecutive_failures++;
        else
                st->consecutive_failures = 0;
        web_status_changed_locked(&d->status);
        pthread_mutex_unlock(&d->status.lock);
}

/* Counts a sweep attempt for /metrics. */
static void count_sweep(Daemon *d, bool failed) {
        pthread_mutex_lock(&d->status.lock);
        d->status.data.sweeps_total++;
        if (failed)
                d->status.data.sweeps_failed_total++;
        pthread_mutex_unlock(&d->status.lock);
}

/* One bounded pass of downsampling: whether there is more to merge. */
static bool downsample_pass(Daemon *d) {
        bool more = false;
        int r;

        r = store_downsample_history(d->store, now_usec(CLOCK_REALTIME),
                                     d->options.downsample_after_usec, d->options.keep_per_epoch,
                                     &more);
        if (r < 0)
                log_warning_errno(r, "Failed to downsample samples older than DownsampleAfter=: "
                                  "%m, will retry");
        else if (r > 0)
                log_debug("Downsampled history: %d rows merged", r);
        return r >= 0 && more;
}

/* One pass per turn of the event loop, until there is nothing older than DownsampleAfter= left
 * to merge: catching up on a long history (after an upgrade, or a long stop) never holds the
 * loop, the sweeps or SIGTERM for more than one pass. */
static int on_downsample(sd_event_source *s, void *userdata) {
        if (downsample_pass(userdata))
                (void) sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        return 0;
}

/* Once an hour, after a sweep: retention, then downsampling (on_downsample()); --once, which
 * has no event loop, makes one bounded pass, so that a timer running it catches up pass by
 * pass. A failure is retried next time. */
static void daemon_maintain(Daemon *d, uint64_t now_usec) {
        const Options *o = &d->options;
        int r;

        d->last_prune_usec = now_usec;
        if (now_usec > o->retention_usec) {
                r = store_prune(d->store, now_usec - o->retention_usec, o->keep_per_epoch);
                if (r < 0)
                        log_warning_errno(r, "Failed to prune samples older than the retention: "
                                          "%m, will retry");
                else if (r > 0)
                        log_debug("Pruned %d sweeps past the retention", r);
        }
        if (o->downsample_after_usec == 0)
                return;
        if (!d->event) {
                (void) downsample_pass(d);
                return;
        }
        r = d->downsample ? sd_event_source_set_enabled(d->downsample, SD_EVENT_ONESHOT) :
                            sd_event_add_defer(d->event, &d->downsample, on_downsample, d);
        if (r < 0)
                log_warning_errno(r, "Failed to schedule downsampling: %m, will retry");
}

/* Runs one sweep and reports it: journal events for a new epoch and for storage failing or
 * recovering (each once, when it starts and when it clears), STATUS= for systemd. */
static int daemon_sweep(Daemon *d, SweepResult *ret) {
        SweepResult res = {};
        int r;

        r = sweeper_run(&d->sweeper, &res);
        if (r < 0 && d->sweeper.failed_step == SWEEP_STEP_STOPPED) {
                log_debug("Sweep abandoned: stopping");
                return r;
        }
        bool storage = r < 0 && d->sweeper.failed_step == SWEEP_STEP_STORAGE;
        count_sweep(d, r < 0);
        publish_status(d, r < 0 ? NULL : &res, r, storage);
        if (r < 0 && !storage) {
                if (log_state_changed(&d->sweep_failing, true))
                        log_warning("Sweep of '%s' failed: %s: %s, will retry",
                                    d->root.proc_path,
                                    sweep_step_to_string(d->sweeper.failed_step),
                                    read_strerror(r));
                (void) sd_notifyf(false, "STATUS=Sweep failed: %s",
                                  sweep_step_to_string(d->sweeper.failed_step));
                return r;
        }
        if (r >= 0 && log_state_changed(&d->sweep_failing, false))
                log_info("Sweeps of '%s' work again", d->root.proc_path);
        if (r < 0) {
                if (log_state_changed(&d->storage_failing, true)) {
                        const char *detail = store_last_error(d->store);
                        (void) log_struct_id(LOG_ERR, MESSAGE_ID_STORAGE_FAILING, NULL,
                                             "Failed to record sweep in '%s': %s%s%s, will retry",
                                             d->db_path, strerror(-r), detail ? ": " : "",
                                             detail ? detail : "");
                }
                (void) sd_notifyf(false, "STATUS=Sweep failed: %s", strerror(-r));
                return r;
        }
        if (log_state_changed(&d->storage_failing, false))
                (void) log_struct_id(LOG_NOTICE, MESSAGE_ID_STORAGE_RECOVERED, NULL,
                                     "Recording sweeps in '%s' again", d->db_path);

        if (d->options.pagemap_mode == PAGEMAP_MODE_FULL) {
                if (log_state_changed(&d->reconstruction_failing, res.reconstruction < 0)) {
                        if (res.reconstruction < 0)
                                log_warning("No reconstruction in this sweep: %s; storing the "
                                            "kernel's figures and pagemap counts only, will "
                                            "retry every sweep",
                                            reconstruction_error_string(res.reconstruction));
                        else
                                log_info("Reconstruction works again");
                }
        }

        int unavailable = d->sweeper.bufs.rollup.unavailable;
        if (unavailable < 0 && !d->sweeper.rollup_unavailable_logged) {
                log_warning("StallBudget=: cannot read processes through pagemap (%s%s); large "
                            "processes are read through smaps_rollup, which holds their mmap "
                            "lock for the whole walk of a mapping", strerror(-unavailable),
                            unavailable == -EPERM ? ": PFNs need CAP_SYS_ADMIN" : "");
                d->sweeper.rollup_unavailable_logged = true;
        }

        const KernelId *k = sweeper_kernel(&d->sweeper);
        if (res.new_epoch) {
                char f_epoch[64], f_release[300], f_mode[64], f_boot[80];
                const char *fields[] = { f_epoch, f_release, f_mode, f_boot, NULL };

                snprintf(f_epoch, sizeof f_epoch, "MAPSTATD_EPOCH=%lld", (long long) res.epoch_id);
                snprintf(f_release, sizeof f_release, "MAPSTATD_RELEASE=%s", k->release);
                snprintf(f_mode, sizeof f_mode, "MAPSTATD_MAPCOUNT_MODE=%s",
                         mapcount_mode_to_string(k->mapcount_mode));
                snprintf(f_boot, sizeof f_boot, "MAPSTATD_BOOT_ID=%s", k->boot_id);
                (void) log_struct_id(LOG_NOTICE, MESSAGE_ID_NEW_EPOCH, fields,
                                     "New kernel epoch %lld: release %s, %s, boot_id %s",
                                     (long long) res.epoch_id, k->release,
                                     mapcount_mode_to_string(k->mapcount_mode), k->boot_id);
                /* Once per boot: the config says what was built, the probe what runs. */
                if (k->probe_detail && k->probe_mode != MAPCOUNT_MODE_UNKNOWN &&
                    k->config_mode != MAPCOUNT_MODE_UNKNOWN && k->probe_mode != k->config_mode)
                        log_warning("The kernel config says %s, but the kernel behaves as %s "
                                    "(probe: %s); recording %s",
                                    mapcount_mode_to_string(k->config_mode),
                                    mapcount_mode_to_string(k->probe_mode), k->probe_detail,
                                    mapcount_mode_to_string(k->mapcount_mode));
                else if (k->probe_detail && k->probe_mode == MAPCOUNT_MODE_UNKNOWN &&
                         k->config_mode == MAPCOUNT_MODE_UNKNOWN)
                        log_warning("The mapcount mode of this kernel is unknown: no config "
                                    "tells it, and the probe could not run (%s)",
                                    k->probe_detail);
        }
        log_debug("Sweep %lld: %u processes sampled, %u skipped (%u vanished, %u denied, "
                  "%u malformed) in %.3f s",
                  (long long) res.sweep_id, res.stats.sampled, proc_scan_stats_skipped(&res.stats),
                  res.stats.vanished, res.stats.denied, res.stats.malformed,
                  (double) res.duration_usec / USEC_PER_SEC);
        (void) sd_notifyf(false, "STATUS=%u processes, epoch %lld (%s, %s), last sweep %.2f s",
                          res.stats.sampled, (long long) res.epoch_id, k->release,
                          mapcount_mode_to_string(k->mapcount_mode),
                          (double) res.duration_usec / USEC_PER_SEC);

        if (res.start_usec - d->last_prune_usec >= PRUNE_EVERY_USEC)
                daemon_maintain(d, res.start_usec);
        if (ret)
                *ret = res;
        return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Daemon *d = userdata;
        int r;

        (void) daemon_sweep(d, NULL);

        /* Fixed rate from the planned time; after a slow sweep, never queue a burst. */
        uint64_t now = now_usec(CLOCK_MONOTONIC), next = usec + d->options.interval_usec;
        if (next < now)
                next = now + d->options.interval_usec;
        r = sd_event_source_set_time(s, next);
        if (r >= 0)
                r = sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
        if (r < 0) {
                /* Without a timer no sweep would ever run again while the loop, and so the
                 * watchdog, stays happy: stop, so that systemd restarts the service. */
                log_error_errno(r, "Failed to schedule the next sweep: %m");
                return sd_event_exit(d->event, r);
        }
        return 0;
}

/* A stop asked by SIGTERM or SIGINT (daemon/stop.h). */
static int on_stop(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        Daemon *d = userdata;

        (void) sd_notify(false, "STOPPING=1\nSTATUS=Stopping");
        log_info("Received %s, stopping", stop_guard_signal_name());
        return sd_event_exit(d->event, 0);
}

/* Re-reads the configuration (defaults < file < the original command line) and applies it
 * only when all of it is valid; settings that need a restart are kept and said so. */
static int on_sighup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        Daemon *d = userdata;
        _cleanup_free_ char *err = NULL, *config = NULL;
        OptionsAction action;
        Options n;
        int r;

        (void) sd_notifyf(false, "RELOADING=1\nMONOTONIC_USEC=%llu",
                          (unsigned long long) now_usec(CLOCK_MONOTONIC));
        r = options_init(&n);
        if (r >= 0)
                r = options_parse(d->argc, d->argv, &n, &action, &config, &err);
        if (r < 0) {
                log_error("Failed to reload configuration: %s, keeping the current one",
                          err ? err : strerror(-r));
                options_done(&n);
                (void) sd_notify(false, "READY=1");
                return 0;
        }

#define KEEP(field, name)                                                                        \
        do {                                                                                     \
                if ((n.field || d->options.field) &&                                             \
                    (!n.field || !d->options.field || strcmp(n.field, d->options.field) != 0))   \
                        log_warning("%s= changed; it applies after a restart", name);            \
                free(n.field);                                                                   \
                n.field = d->options.field;                                                      \
                d->options.field = NULL;                                                         \
        } while (0)
        KEEP(db_path, "Database");
        KEEP(listen, "Listen");
        KEEP(proc_root, "ProcRoot");
        KEEP(sys_root, "SysRoot");
        KEEP(boot_root, "BootRoot");
#undef KEEP

        uint64_t old_interval = d->options.interval_usec;
        options_done(&d->options);
        d->options = n;
        log_set_max_level(d->options.log_level);

        /* A shorter interval applies now, not after the sweep planned with the old one. */
        if (d->options.interval_usec < old_interval) {
                uint64_t planned, soonest = now_usec(CLOCK_MONOTONIC) + d->options.interval_usec;

                r = sd_event_source_get_time(d->timer, &planned);
                if (r >= 0 && soonest < planned)
                        r = sd_event_source_set_time(d->timer, soonest);
                if (r < 0)
                        log_warning_errno(r, "Failed to reschedule the next sweep: %m, it runs at "
                                          "the time planned before the reload");
        }
        sweeper_configure(&d->sweeper, &d->options);
        publish_status(d, NULL, d->storage_failing ? -EIO : 0, true);
        log_info("Reloaded configuration%s%s%s: interval %.1f s, identity %s", config ? " from '" : "",
                 config ? config : "", config ? "'" : "",
                 (double) d->options.interval_usec / USEC_PER_SEC,
                 identity_mode_to_string(d->options.identity_mode));
        (void) sd_notify(false, "READY=1");
        return 0;
}

/* The address a listening socket is bound to ("127.0.0.1:41234", "[::1]:9100"): with port 0 the
 * kernel chose it. Falls back to the configured text. */
static void socket_address_format(int fd, char *buf, size_t size, const char *fallback) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;
        char host[INET6_ADDRSTRLEN];

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                goto fallback;
        if (sa.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *) &sa;
                if (inet_ntop(AF_INET, &in->sin_addr, host, sizeof host)) {
                        snprintf(buf, size, "%s:%u", host, ntohs(in->sin_port));
                        return;
                }
        } else if (sa.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) &sa;
                if (inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host)) {
                        snprintf(buf, size, "[%s]:%u", host, ntohs(in6->sin6_port));
                        return;
                }
        }
fallback:
        snprintf(buf, size, "%s", fallback);
}

/* Whether a listening socket can be reached only from this host: a loopback address (127.0.0.0/8,
 * ::1, ::ffff:127.0.0.0/104) or a Unix socket. */
static bool socket_is_local(int fd) {
        struct sockaddr_storage sa;
        socklen_t len = sizeof sa;

        if (getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return false;
        if (sa.ss_family == AF_UNIX)
                return true;
        if (sa.ss_family == AF_INET)
                return (ntohl(((const struct sockaddr_in *) &sa)->sin_addr.s_addr) >> 24) == 127;
        if (sa.ss_family == AF_INET6) {
                const struct in6_addr *a = &((const struct sockaddr_in6 *) &sa)->sin6_addr;

                return IN6_IS_ADDR_LOOPBACK(a) ||
                       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
        }
        return false;
}

/* The API has no authentication: say what a listener other hosts may reach gives them. */
static void warn_exposure(const Daemon *d, int fd, const char *where) {
        if (socket_is_local(fd))
                return;
        if (d->options.redact_cmdline)
                log_notice("Listening on %s, not a loopback address: any client that reaches it "
                           "can read every process's identity, cgroup and memory figures "
                           "(command lines are redacted)", where);
        else
                log_warning("Listening on %s, not a loopback address: any client that reaches it "
                            "can read every process's full command line (with any password or "
                            "token in it), cgroup and memory figures. Set RedactCmdline=yes, and "
                            "restrict the clients with IPAddressAllow= or an authenticating "
                            "reverse proxy (README, \"Another address\")", where);
}

/* The listener: a socket passed by systemd (or the test harness) wins over --listen. */
static int acquire_listener(Daemon *d, char *where, size_t where_size) {
        char addr[64];
        uint16_t port;
        int n, fd, r;

        n = sd_listen_fds(true);
        if (n < 0)
                return log_error_errno(n, "Failed to read the sockets passed by systemd: %m");
        if (n > 1)
                return log_error_errno(EINVAL, "Received %d sockets from systemd, expected one", n);
        if (n == 1) {
                fd = SD_LISTEN_FDS_START;
                r = sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1);
                if (r <= 0)
                        return log_error_errno(r < 0 ? r : EINVAL,
                                               "The socket passed by systemd is not a listening "
                                               "stream socket");
                socket_address_format(fd, where, where_size, "a socket passed by systemd");
                return fd;
        }

        r = parse_listen_address(d->options.listen, addr, sizeof addr, &port);
        if (r < 0)
                return log_error_errno(r, "Invalid listen address '%s'", d->options.listen);
        fd = web_listen(addr, port);
        if (fd == -EADDRINUSE)
                return log_error_errno(fd, "Failed to listen on %s: port %u is already in use "
                                       "(node_exporter's default is also 9100); choose another "
                                       "address with --listen ADDR:PORT or Listen= in the "
                                       "configuration file",
                                       d->options.listen, port);
        if (fd < 0)
                return log_error_errno(fd, "Failed to listen on %s: %m", d->options.listen);
        socket_address_format(fd, where, where_size, d->options.listen);
        return fd;
}

static int open_database(Daemon *d) {
        _cleanup_free_ char *err = NULL;
        bool is_default;
        int r;

        r = options_db_path(&d->options, &d->db_path, &is_default);
        if (r < 0)
                return log_error_errno(r, "Out of memory");
        /* Only the built-in default directory is created; a user's path must exist. */
        if (is_default && mkdir(DEFAULT_DB_DIR, 0755) < 0 && errno != EEXIST)
                return log_error_errno(errno, "Failed to create '%s': %m", DEFAULT_DB_DIR);

        r = store_open(&d->store, d->db_path, STORE_READ_WRITE, &err);
        if (r < 0)
                return log_error_errno(r, "Failed to open database '%s': %s", d->db_path,
                                       err ? err : strerror(-r));
        return 0;
}

/* Fails early, with the reason, when the textfile cannot be written: a hardened unit without
 * the drop-in that opens the directory sees a read-only file system. */
static int check_textfile_directory(const char *dir) {
        struct stat st;

        if (stat(dir, &st) < 0)
                return log_error_errno(errno, "Failed to use TextfileDirectory '%s': %m", dir);
        if (!S_ISDIR(st.st_mode))
                return log_error_errno(ENOTDIR, "Failed to use TextfileDirectory '%s': %m", dir);
        if (access(dir, W_OK | X_OK) < 0)
                return log_error_errno(errno, "Cannot write metrics into TextfileDirectory '%s': "
                                       "%m (as a service: see node-exporter-textfile.conf in "
                                       "the documentation directory)", dir);
        return 0;
}

static int run_once(Daemon *d) {
        SweepResult res;
        int r;

        r = daemon_sweep(d, &res);
        if (r < 0)
                return r;
        if (d->options.textfile_directory) {
                _cleanup_(web_server_freep) WebServer *local = NULL;

                r = web_local_new(&local, d->db_path, &d->status);
                if (r >= 0)
                        r = web_textfile_write(local, d->options.textfile_directory);
                if (r < 0)
                        return r;
        }
        printf("{\"sweep\": %lld, \"epoch\": %lld, \"new_epoch\": %s, \"processes_sampled\": %u, "
               "\"processes_read_through_pagemap\": %u, \"processes_skipped\": %u, "
               "\"duration_seconds\": %.6f}\n",
               (long long) res.sweep_id, (long long) res.epoch_id,
               res.new_epoch ? "true" : "false", res.stats.sampled, res.stats.derived,
               proc_scan_stats_skipped(&res.stats), (double) res.duration_usec / USEC_PER_SEC);
        return 0;
}

static int run_daemon(Daemon *d) {
        _cleanup_free_ char *err = NULL;
        char where[128];
        sigset_t mask;
        int fd, stop_fd, r;

        /* Blocked before any thread exists, so that only the stop guard (SIGTERM, SIGINT) and
         * the event loop's signalfd (SIGHUP) see them. */
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
                return log_error_errno(errno, "Failed to block signals: %m");
        stop_fd = stop_guard_start();
        if (stop_fd < 0)
                return log_error_errno(stop_fd, "Failed to start the stop guard: %m");

        fd = acquire_listener(d, where, sizeof where);
        if (fd < 0)
                return fd;
        warn_exposure(d, fd, where);
        r = web_server_start(&d->web, fd, d->db_path, &d->status, &err);
        if (r < 0)
                return log_error_errno(r, "Failed to start the HTTP server: %s",
                                       err ? err : strerror(-r));

        r = sd_event_default(&d->event);
        if (r < 0)
                return log_error_errno(r, "Failed to allocate event loop: %m");
        r = sd_event_add_io(d->event, NULL, stop_fd, EPOLLIN, on_stop, d);
        if (r >= 0)
                r = sd_event_add_signal(d->event, NULL, SIGHUP, on_sighup, d);
        if (r < 0)
                return log_error_errno(r, "Failed to watch signals: %m");
        /* The watchdog is pinged from this loop, which is the sweep loop: a stuck sweep stops
         * the pings and systemd restarts the service. */
        r = sd_event_set_watchdog(d->event, true);
        if (r < 0)
                return log_error_errno(r, "Failed to enable the watchdog: %m");
        r = sd_event_add_time(d->event, &d->timer, CLOCK_MONOTONIC, 0, 0, on_timer, d);
        if (r < 0)
                return log_error_errno(r, "Failed to schedule sweeps: %m");

        log_info("Listening on %s, database '%s', sweeping '%s' every %.1f s, pagemap %s", where,
                 d->db_path, d->root.proc_path, (double) d->options.interval_usec / USEC_PER_SEC,
                 pagemap_mode_to_string(d->options.pagemap_mode));
        (void) sd_notify(false, "READY=1\nSTATUS=Waiting for the first sweep");

        r = sd_event_loop(d->event);
        if (r < 0)
                return log_error_errno(r, "Event loop failed: %m");
        log_info("Stopped");
        return 0;
}

/* The web server holds up to a few thousand connections (idle ones included) and nothing in the
 * daemon uses select(): take the hard limit of file descriptors, as systemd recommends for such
 * programs (its default soft limit is 1024). */
static void raise_nofile_limit(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_debug_errno(errno, "Failed to raise RLIMIT_NOFILE: %m");
}

/* Memory that transient work frees goes back to the system rather than staying with the
 * thread that did it: two malloc arenas for the daemon's eight threads instead of one each
 * (they allocate little, and rarely at once), and blocks from 128 KiB up (a report's series,
 * a sweep's batches) mapped and unmapped on their own instead of growing an arena. */
static void tune_malloc(void) {
        (void) mallopt(M_ARENA_MAX, 2);
        (void) mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int main(int argc, char *argv[]) {
        _cleanup_free_ char *err = NULL;
        Daemon d = { .argc = argc, .argv = argv, .root = PROC_ROOT_INIT };
        OptionsAction action;
        int r, ret;

        log_open();
        tune_malloc();
        web_status_init(&d.status);

        r = options_init(&d.options);
        if (r >= 0)
                r = options_parse(argc, argv, &d.options, &action, &d.config_path, &err);
        if (r < 0) {
                fprintf(stderr, "mapstatd: %s\n", err ? err : strerror(-r));
                if (r == -EINVAL)
                        fprintf(stderr, "Try 'mapstatd --help' for more information.\n");
                daemon_done(&d);
                return r == -ENOMEM ? EXIT_FAILURE : EXIT_USAGE;
        }
        if (action == OPTIONS_HELP || action == OPTIONS_VERSION) {
                if (action == OPTIONS_HELP)
                        options_help();
                else
                        printf("mapstatd %s\n", PACKAGE_VERSION);
                daemon_done(&d);
                return EXIT_SUCCESS;
        }
        log_set_max_level(d.options.log_level);
        raise_nofile_limit();
        d.status.data.started_usec = now_usec(CLOCK_REALTIME);
        publish_status(&d, NULL, 0, true);

        r = proc_root_open(&d.root, d.options.proc_root, d.options.sys_root, d.options.boot_root);
        if (r < 0) {
                log_error_errno(r, "Failed to open proc root '%s': %m", d.options.proc_root);
                daemon_done(&d);
                return EXIT_USAGE;
        }

        if (d.options.textfile_directory &&
            check_textfile_directory(d.options.textfile_directory) < 0) {
                daemon_done(&d);
                return EXIT_USAGE;
        }

        r = open_database(&d);
        if (r < 0) {
                daemon_done(&d);
                return EXIT_FAILURE;
        }
        sweeper_init(&d.sweeper, &d.root, d.store);
        sweeper_configure(&d.sweeper, &d.options);

        r = action == OPTIONS_ONCE ? run_once(&d) : run_daemon(&d);
        ret = r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
        daemon_done(&d);
        return ret;
}
