/* The metrics as a file for node_exporter's textfile collector: GET /metrics answered in-process
 * (web_local_get(), the same bytes a scrape gets) and written to DIR/mapstatd.prom through a
 * temporary file renamed over it, so that the collector reads the previous sweep's figures or
 * the new ones, never half of them (it ignores names not ending in .prom). Mode 0644: the
 * exporter runs as its own user. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "fileio.h"
#include "log.h"
#include "web-internal.h"

int web_textfile_write(WebServer *s, const char *dir) {
        _cleanup_free_ char *path = NULL, *body = NULL;
        const char *content_type;
        unsigned status;
        size_t len;
        int r;

        if (asprintf(&path, "%s/" WEB_TEXTFILE_NAME, dir) < 0)
                return -ENOMEM;
        r = web_local_get(s, "/metrics", &status, &body, &len, &content_type);
        if (r >= 0 && status != MHD_HTTP_OK)
                r = -EIO;       /* the database cannot be read: the last good file stays */
        if (r >= 0)
                r = write_file_atomic(path, body, len, 0644);

        if (log_state_changed(&s->textfile_failing, r < 0)) {
                if (r == -EIO)
                        log_warning("Failed to write metrics to '%s': the database cannot be "
                                    "read (/metrics answered %u), will retry after the next "
                                    "sweep", path, status);
                else if (r < 0)
                        log_warning_errno(r, "Failed to write metrics to '%s': %m, will retry "
                                          "after the next sweep", path);
                else
                        log_info("Writing metrics to '%s' again", path);
        }
        return r;
}
