/* What mapstatctl's commands share: the global options, the client they read through, the exit
 * codes and the helpers of their output. */
#pragma once

#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "client.h"
#include "macro.h"
#include "table.h"

/* json_decrefp() comes with jansson (>= 2.9). */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* Exit codes (mapstatctl(1)). */
enum {
        EXIT_OK = 0,
        EXIT_FLAGGED = 1,       /* report, forecast, fleet compare: something was flagged;
                                 * status: the daemon is degraded */
        EXIT_USAGE = 2,         /* bad usage, or the daemon or database could not be read */
        EXIT_SKIPPED = 3,       /* fleet compare: nothing flagged, some snapshots skipped */
        EXIT_FLAGGED_SKIPPED = 4, /* fleet compare: something flagged, some snapshots skipped */
};

typedef enum OutputFormat {
        FORMAT_TABLE,
        FORMAT_JSON,
} OutputFormat;

typedef struct Ctl {
        const char *url, *db, *config;
        OutputFormat format;
        Client *client;                 /* opened by ctl_client() */
} Ctl;

typedef struct Command {
        const char *name;
        const char *synopsis;           /* after the name */
        const char *help;
        const char *const *options;     /* "--opt ARG  what", NULL-terminated; may be NULL */
        int (*run)(Ctl *ctl, int argc, char *argv[]);
} Command;

/* The commands (commands.c, cgroups.c, fleet.c). */
extern const Command command_status, command_epochs, command_report, command_forecast,
        command_processes, command_show, command_export, command_fleet, command_cgroups;

/* The client, opened on first use. Returns it, or NULL after printing why (exit EXIT_USAGE). */
Client *ctl_client(Ctl *ctl);

/* GETs target as JSON; NULL after printing why. */
json_t *ctl_get(Ctl *ctl, const char *target);

/* Prints the usage of cmd to f. */
void command_usage(const Command *cmd, FILE *f);

/* Prints "mapstatctl CMD: message" to stderr and returns EXIT_USAGE. */
int ctl_error(const Command *cmd, const char *fmt, ...) _printf_(2, 3);

/* Parses the common form of a command's options: getopt_long over longopts, -h/--help handled
 * (usage printed, *ret_exit set to EXIT_OK). Returns the option character, -1 at the end of
 * the options, or '?' after printing an error (*ret_exit EXIT_USAGE). */
int command_getopt(const Command *cmd, int argc, char *argv[], const struct option *longopts,
                   int *ret_exit);

/* Prints doc as indented JSON and a newline on stdout. */
void json_print(const json_t *doc);

/* "2026-12-01 05:01" from an RFC 3339 string; "–" for NULL. */
const char *format_time(const char *rfc3339, char *buf, size_t size);

/* A member of a JSON object: its string (NULL when not one), its number (NAN when not one). */
static inline const char *jstr(const json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}

static inline double jnum(const json_t *o, const char *key) {
        const json_t *v = json_object_get(o, key);

        return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One flagged figure as a row of label, name, before, after, change and kind: sizes or, for
 * exclusivity, shares of present pages. before/after name the sides ("before"/"after",
 * "today"/"forecast"). */
int figure_row(Table *t, const char *label, const char *kind, TableColour kind_colour,
               const char *name, const json_t *m, const char *before, const char *after);

/* The flagged cgroups of a /report or /forecast answer (cgroups.c). */
size_t cgroups_flagged(const json_t *doc);
/* Prints the "cgroups" section of such an answer: a line, and the flagged figures as a table.
 * 0 or -ENOMEM. */
int cgroups_print(const json_t *cgroups, const char *before, const char *after);
