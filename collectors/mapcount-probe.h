/* The runtime probe of the mapcount configuration (docs/kernel-semantics.md §1.2): what the
 * running kernel does, whatever its config says (or when it says nothing, as after the RFC that
 * removes both options). The probe builds a large folio of its own, unmaps part of it, and reads
 * kpagecount at an unmapped page of the folio: 0 on a per-page mapcount kernel, the folio's
 * average (≥ 1) without. Needs the PFNs of pagemap and kpageflags/kpagecount: CAP_SYS_ADMIN
 * and read access to /proc/kpage*. It runs on the live kernel only: the proc root must be
 * procfs, not a fixture tree (the sys root, when sysfs, lists the mTHP sizes to try). */
#pragma once

#include "kernel-id.h"

typedef enum ProbeMethod {
        PROBE_METHOD_NONE,              /* nothing could run */
        PROBE_METHOD_PMD,               /* a PMD THP, upper 1 MiB unmapped */
        PROBE_METHOD_MTHP,              /* an mTHP, upper half unmapped */
        _PROBE_METHOD_MAX,
} ProbeMethod;

/* "none", "pmd-thp", "mthp". */
const char *probe_method_to_string(ProbeMethod m);

typedef struct MapcountProbe {
        MapcountMode mode;              /* MAPCOUNT_MODE_UNKNOWN when it could not tell */
        ProbeMethod method;
        uint64_t kpagecount;            /* read at the unmapped page */
        const char *why;                /* with UNKNOWN: why (static string) */
} MapcountProbe;

/* Runs the probe on the live kernel (other roots give UNKNOWN, "not the live kernel"). Never
 * fails: what stops it is said in ret->why. Takes a few milliseconds and 4 MiB of address space,
 * released before it returns. */
void mapcount_probe_run(const ProcRoot *root, MapcountProbe *ret);
