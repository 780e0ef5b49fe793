/* mapstatctl: the command-line client of mapstatd. It reads a daemon over HTTP (--url) or a
 * database file directly and read-only (--db), prints what it finds as tables or JSON, writes
 * portable snapshots and compares a fleet's snapshots offline. See mapstatctl(1). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl.h"
#include "options.h"

#define DEFAULT_URL "http://127.0.0.1:9100"

static const Command *const commands[] = {
        &command_status, &command_epochs, &command_report, &command_forecast,
        &command_processes, &command_cgroups, &command_show, &command_export, &command_fleet,
};

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mapstatctl [OPTIONS] COMMAND [ARGS]\n"
                "\n"
                "The command-line client of mapstatd: what a daemon or its database says about\n"
                "memory accounting across kernel changes, and fleet comparisons of snapshots.\n"
                "\n"
                "Options:\n"
                "  -u, --url URL        the daemon (default: " DEFAULT_URL ")\n"
                "  -d, --db PATH        read this database file instead, read-only\n"
                "  -c, --config FILE    with --db: the settings (default:\n"
                "                       " DEFAULT_CONFIG_FILE ")\n"
                "  -f, --format FORMAT  table (default) or json\n"
                "  -h, --help           show this help\n"
                "      --version        show the version\n"
                "\n"
                "Commands:\n");
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->help);
        fprintf(f, "\nSee 'mapstatctl COMMAND --help' and mapstatctl(1).\n");
}

void command_usage(const Command *cmd, FILE *f) {
        fprintf(f, "Usage: mapstatctl [OPTIONS] %s%s%s\n\n%s\n", cmd->name,
                cmd->synopsis ? " " : "", cmd->synopsis ?: "", cmd->help);
        if (cmd->options) {
                fprintf(f, "\nOptions:\n");
                for (size_t i = 0; cmd->options[i]; i++)
                        fprintf(f, "  %s\n", cmd->options[i]);
        }
}

int ctl_error(const Command *cmd, const char *fmt, ...) {
        va_list ap;

        fprintf(stderr, "mapstatctl%s%s: ", cmd ? " " : "", cmd ? cmd->name : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
        return EXIT_USAGE;
}

int command_getopt(const Command *cmd, int argc, char *argv[], const struct option *longopts,
                   int *ret_exit) {
        static const struct option help_only[] = { { "help", no_argument, NULL, 'h' }, {} };
        char shortopts[64] = "+:h";
        size_t n = strlen(shortopts);
        int c;

        for (size_t i = 0; longopts && longopts[i].name && n + 3 < sizeof shortopts; i++)
                if (longopts[i].val > 0 && longopts[i].val < 128 && longopts[i].val != 'h') {
                        shortopts[n++] = (char) longopts[i].val;
                        if (longopts[i].has_arg)
                                shortopts[n++] = ':';
                        shortopts[n] = '\0';
                }

        opterr = 0;
        c = getopt_long(argc, argv, shortopts, longopts ?: help_only, NULL);
        if (c == 'h') {
                command_usage(cmd, stdout);
                *ret_exit = EXIT_OK;
                return '?';
        }
        if (c == '?' || c == ':') {
                if (c == ':')
                        ctl_error(cmd, "option '%s' needs a value", argv[optind - 1]);
                else if (optopt)
                        ctl_error(cmd, "unknown option '-%c'", optopt);
                else
                        ctl_error(cmd, "unknown option '%s'", argv[optind - 1]);
                fprintf(stderr, "Try 'mapstatctl %s --help'.\n", cmd->name);
                *ret_exit = EXIT_USAGE;
                return '?';
        }
        return c;
}

Client *ctl_client(Ctl *ctl) {
        _cleanup_free_ char *err = NULL;
        int r;

        if (ctl->client)
                return ctl->client;
        r = client_open(&ctl->client, ctl->url, ctl->db, ctl->config, &err);
        if (r < 0) {
                ctl->client = NULL;
                ctl_error(NULL, "%s", err ? err : strerror(-r));
                return NULL;
        }
        return ctl->client;
}

json_t *ctl_get(Ctl *ctl, const char *target) {
        _cleanup_free_ char *err = NULL;
        Client *c = ctl_client(ctl);
        json_t *doc = NULL;
        int r;

        if (!c)
                return NULL;
        r = client_get_json(c, target, &doc, &err);
        if (r < 0) {
                ctl_error(NULL, "%s", err ? err : strerror(-r));
                return NULL;
        }
        return doc;
}

void json_print(const json_t *doc) {
        (void) json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
}

const char *format_time(const char *rfc3339, char *buf, size_t size) {
        if (!rfc3339 || strlen(rfc3339) < 16)
                return "–";
        (void) snprintf(buf, size, "%.10s %.5s", rfc3339, rfc3339 + 11);
        return buf;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "url", required_argument, NULL, 'u' },
                { "db", required_argument, NULL, 'd' },
                { "config", required_argument, NULL, 'c' },
                { "format", required_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                {}
        };
        Ctl ctl = { .url = getenv("MAPSTATCTL_URL") ?: DEFAULT_URL };
        const Command *cmd = NULL;
        int c, ret;

        opterr = 0;
        while ((c = getopt_long(argc, argv, "+:u:d:c:f:h", options, NULL)) >= 0)
                switch (c) {
                case 'u':
                        ctl.url = optarg;
                        break;
                case 'd':
                        ctl.db = optarg;
                        break;
                case 'c':
                        ctl.config = optarg;
                        break;
                case 'f':
                        if (strcmp(optarg, "table") == 0)
                                ctl.format = FORMAT_TABLE;
                        else if (strcmp(optarg, "json") == 0)
                                ctl.format = FORMAT_JSON;
                        else
                                return ctl_error(NULL, "invalid value '%s' for --format: "
                                                 "expected table or json", optarg);
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_OK;
                case 'V':
                        printf("mapstatctl %s\n", PACKAGE_VERSION);
                        return EXIT_OK;
                case ':':
                        return ctl_error(NULL, "option '%s' needs a value", argv[optind - 1]);
                default:
                        ctl_error(NULL, "unknown option '%s'", argv[optind - 1]);
                        fprintf(stderr, "Try 'mapstatctl --help'.\n");
                        return EXIT_USAGE;
                }
        if (ctl.config && !ctl.db)
                return ctl_error(NULL, "--config applies to --db only: a daemon uses its own");
        if (optind >= argc) {
                usage(stderr);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(argv[optind], commands[i]->name) == 0)
                        cmd = commands[i];
        if (!cmd) {
                ctl_error(NULL, "unknown command '%s'", argv[optind]);
                fprintf(stderr, "Try 'mapstatctl --help'.\n");
                return EXIT_USAGE;
        }

        /* The command parses its own options from its name on; optind 0 makes glibc's getopt
         * start afresh. */
        argc -= optind;
        argv += optind;
        optind = 0;
        ret = cmd->run(&ctl, argc, argv);
        client_free(ctl.client);
        if (fflush(stdout) != 0 || ferror(stdout))
                return ctl_error(NULL, "cannot write the output: %s", strerror(errno));
        return ret;
}
