/* /proc/kpageflags and /proc/kpagecount (docs/kernel-semantics.md §4): the flag bits mapstatd
 * reads, the kernel's Pss fixed point, and the one reader of a 512-PFN block of either file,
 * shared by the reconstruction, the stall budget's derived figures and the mapcount probe. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* kpageflags bits, include/uapi/linux/kernel-page-flags.h. */
#define KPF_DIRTY 4
#define KPF_MMAP 11
#define KPF_ANON 12
#define KPF_SWAPBACKED 14
#define KPF_COMPOUND_HEAD 15
#define KPF_COMPOUND_TAIL 16
#define KPF_HUGE 17
#define KPF_NOPAGE 20
#define KPF_KSM 21
#define KPF_THP 22
#define KPF_ZERO_PAGE 24
#define KPF(b) (1ULL << (b))

/* PSS_SHIFT in fs/proc/task_mmu.c: Pss is summed in bytes << 12, one integer division per
 * page, and printed as sum >> (12 + 10) kB. */
#define PSS_SHIFT 12

/* PFNs per block read: one 4 KiB pread of either file. */
#define KPAGE_BLOCK_PFNS 512u

/* Reads the values of PFNs [block * 512, block * 512 + 512) of a kpage file into out, and how
 * many there were into *ret_n (fewer past the highest PFN, 0 beyond it). Returns 0 or -errno
 * of pread. */
int kpage_read_block(int fd, uint64_t block, uint64_t out[static KPAGE_BLOCK_PFNS],
                     size_t *ret_n);
