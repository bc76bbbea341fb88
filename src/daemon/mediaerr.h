/*
 * Copies to and from DAX mappings with SIGBUS caught. The kernel maps no
 * page of persistent memory with a known media error (a bad block): touching
 * one raises SIGBUS, whose default action kills the daemon, and with it every
 * client's service, because one client asked for that range. Every copy and
 * flush the daemon makes on a file mapping runs under a guard instead: a
 * SIGBUS inside it ends the call with -EIO and the faulting address, and the
 * request that needed it fails. A SIGBUS anywhere else is still fatal.
 */
#ifndef DX_MEDIAERR_H
#define DX_MEDIAERR_H

#include <libpmem2.h>
#include <stddef.h>

/* Install the SIGBUS handler (once, at start): 0 or -errno. */
int dx_mediaerr_init(void);
/* COPY (NULL: memcpy) N bytes from SRC to DST: 0, or -EIO with *WHERE the
 * address that faulted. */
int dx_dax_copy(void *dst, const void *src, size_t n, pmem2_memcpy_fn copy, const void **where);
/* PERSIST [ADDR, +N): 0, or -EIO with *WHERE the address that faulted. */
int dx_dax_persist(pmem2_persist_fn persist, const void *addr, size_t n, const void **where);

#endif
