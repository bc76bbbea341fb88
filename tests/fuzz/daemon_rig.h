/*
 * A daemon without a NIC, for the fuzz targets (daemon_rig.c): the real
 * modules on real files and leases, fake verbs and rdma_cm, a fake clock,
 * scripted clients, and the oracle that checks the daemon's invariants.
 *
 * A configuration byte (fz_rig_up): bit 0 recall_timeout_ms 600 (else 200),
 * bits 1-2 lease-break-time 2 + n % 3 s (the lease bound 1 to 3 s), bit 3 keepalive_ms 1000 (else
 * off), bit 4 a pinned export (else bounce). Files "a", "b", "c", 256 KiB
 * each, in the export "x"; clients 0-2 come from 10.0.0.1-3.
 *
 * Steps (fz_run): a byte OP (client OP >> 4 % 3), its arguments, then one
 * byte whose bit 0 delivers rdma_cm's DISCONNECTED if the daemon closed the
 * client's connection. OP % 16:
 *    0 connect (b: b % 8 == 7 a refused address, b % 4 == 3 not established)
 *  1-5 a request, 2 * (OP % 16 - 1) + (b & 1): 0 HELLO (credits, features),
 *      1 OPEN (flags | file << 4), 2 ALLOCATE (fh, off/512 u16, len/512 u16,
 *      set-size), 3 LAYOUT_GET (fh, page, pages - 1 or 255 for 16 MiB,
 *      rw), 4 LAYOUT_RETURN (layout, clean), 5 COMMIT (layout, off/512,
 *      len/512), 6 CLOSE (fh), 7 BYE, 8-9 STAT (fh). A handle or layout is
 *      an index into what the client was granted, or, from 250, a number.
 *    6 answer recalls (bit 0: all, else the oldest; bit 1: clean)
 *    7 raw bytes (length % 96, 255: larger than a slot, then the bytes)
 *    8 behaviour (bit 0 mute; bits 1-2 % 3: answer recalls by step, at
 *      once, just before their deadline)
 *    9 the client's end disconnects
 * 10-11 a local process opens a file (file % 3, what: truncate, punch,
 *      write or nothing; with a lease held, its open breaks it)
 *   12 the admin (file, b: < 128 recall from page b % 64, else evict the
 *      first holder)
 * 13-14 the clock jumps (1 + b % 250) steps of 10 ms
 *   15 the NIC refuses once (b % 5: ibv_dereg_mr, ibv_modify_qp,
 *      ibv_destroy_qp, the first two, the first and the last)
 */
#ifndef DX_FUZZ_DAEMON_RIG_H
#define DX_FUZZ_DAEMON_RIG_H

#include <stddef.h>
#include <stdint.h>

struct dxd;

#define FZ_MAX_STEPS 256

/* Once, before any thread: the lease signals blocked, logging (DXFUZZ_LOG). */
void fz_init(void);
/* A new daemon with configuration byte CONFIG; the clock stands still. */
void fz_rig_up(uint8_t config);
/* The bytes of the step at P (N left): for mutators that move whole steps. */
size_t fz_step_size(const uint8_t *p, size_t n);
/* Up to FZ_MAX_STEPS steps, checking the invariants after each. */
void fz_run(const uint8_t *steps, size_t n);
/* The invariants now (abort with a message if one is broken). */
void fz_check(void);
/* Finish the work, check every answer, disconnect everyone, check that
 * nothing is left, and free it all. */
void fz_rig_down(void);
struct dxd *fz_daemon(void);
/* The export's directory (the files are "a", "b", "c" in it). */
const char *fz_dir(void);

#endif
