/* Process identity across epochs: a key that never involves a PID, so that the same program is
 * matched before and after a reboot. Pure string functions. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum IdentityMode {
        IDENTITY_MODE_EXE_ARGS,         /* exe path + normalized arguments (default) */
        IDENTITY_MODE_EXE,              /* exe path only */
        IDENTITY_MODE_COMM,             /* comm */
        IDENTITY_MODE_UNIT,             /* systemd unit, falling back to exe path */
        _IDENTITY_MODE_MAX,
        _IDENTITY_MODE_INVALID = -22 /* -EINVAL */,
} IdentityMode;

/* "exe-args", "exe", "comm", "unit". */
const char *identity_mode_to_string(IdentityMode m);
IdentityMode identity_mode_from_string(const char *s);

/* Longest normalized argument string, in bytes (without the NUL). */
#define IDENTITY_ARGS_MAX 512

/* Normalizes a joined command line for matching: drops argv[0] (the exe stands for it), replaces
 * every run of decimal digits by '#' (PIDs, ports, timestamps and temp names differ per boot) and
 * truncates to 512 bytes. "/usr/bin/foo --pid=1234 -x" → "--pid=# -x". argv[0] is the text up to
 * the first space; the spaces after it are dropped too. A NULL or one-word cmdline gives "". The
 * cut never splits a valid UTF-8 character (the result may then be a few bytes shorter). *ret
 * owned by caller. Returns 0 or -ENOMEM. */
int identity_normalize_args(const char *cmdline, char **ret);

/* Builds the identity key for a process: "<mode>:<value>" where value is, by mode: exe (or
 * "[comm]" when the exe is unreadable) followed by a NUL-free " " and the normalized arguments;
 * exe; comm; unit (or exe when no unit). Never empty. *ret owned by the caller. -ENOMEM.
 * Details: comm is required; exe, cmdline and unit may be NULL, and "" counts as absent. The " "
 * before the arguments is left out when they normalize to "" ("exe-args:/usr/bin/foo"). The exe
 * and unit modes fall back to "[comm]" when there is no exe either. Returns 0, -ENOMEM, or
 * -EINVAL for a mode outside the enum. */
int identity_key_build(IdentityMode mode, const char *comm, const char *exe, const char *cmdline,
                       const char *unit, char **ret);

/* The key of a memory cgroup across epochs: "unit:<unit>" when its path names a unit (so a unit
 * matches across layouts and cgroup managers), else, or when by_path (a second cgroup of the
 * same unit in one sweep), "path:<path>". *ret owned by the caller. 0 or -ENOMEM. */
int cgroup_key_build(const char *unit, const char *path, bool by_path, char **ret);
