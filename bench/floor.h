/* The kernel floor of a sweep, shared by the benchmark floors: read, with no parsing, exactly the
 * per-process files one mapstatd sweep reads, and count the bytes. */
#pragma once

#include <stddef.h>

extern size_t floor_bytes;

/* Reads dirfd/name to the end in 256 KiB preads; a missing file is skipped. */
void floor_slurp(int dirfd, const char *name);

/* What a sweep reads of one process (pid_fd: its O_PATH directory): stat, smaps_rollup,
 * cmdline, the exe link and cgroup. */
void floor_read_process(int pid_fd);
