/* Where mapstatctl gets its answers: a daemon over HTTP (libcurl), or a database file read
 * directly through the daemon's own routes and handlers (web_local_get()), read-only. Either way
 * a request is a path with its query ("/report?baseline=1") and the answer is what the daemon
 * would send. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "macro.h"

typedef struct Client Client;

/* Opens a client on url (http://HOST:PORT, no path), or, when db is not NULL, on that database
 * file with the settings of the configuration file config (NULL: the default one, if it
 * exists). Returns 0, or a negative errno with *reterr (caller frees) saying why. */
int client_open(Client **ret, const char *url, const char *db, const char *config,
                char **reterr);
Client *client_free(Client *c);
DEFINE_CLEANUP_FUNC(Client, client_free);

/* Where the answers come from, for messages ("http://127.0.0.1:9100", "/var/lib/…/m.db"). */
const char *client_source(const Client *c);

/* GETs target. On success (any HTTP status) returns 0 with *ret_status and the body
 * (*ret_body, caller frees, NUL-terminated). On a failure to get an answer at all (connection
 * refused, database unreadable), returns a negative errno with *reterr saying why. */
int client_get_text(Client *c, const char *target, unsigned *ret_status, char **ret_body,
                    size_t *ret_len, char **reterr);

/* GETs target and parses it as JSON. A status other than 200 is an error too, with the
 * daemon's own message ({"error": …}). Returns 0 with *ret (caller decrefs), or a negative
 * errno with *reterr. */
int client_get_json(Client *c, const char *target, json_t **ret, char **reterr);
