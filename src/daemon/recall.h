/*
 * Recall (docs/design.md): mark layouts recalled, send LAYOUT_RECALL within
 * the client's recall credits (queue the rest), and fence the client if a
 * layout is not back recall_timeout_ms after its recall was sent. On a
 * broken lease, the file's lease bound (seal.h) covers all of it: there every
 * holder is fenced, whatever is queued or copying. The lease goes when the
 * file has no layout left (seal.c).
 */
#ifndef DX_RECALL_H
#define DX_RECALL_H

#include <stdint.h>

struct dxd;
struct dx_conn;
struct dx_file;
struct dx_layout;

/* Recall L (GRANTED: LAYOUT_RECALL with a deadline; GRANTING: the grant is
 * cancelled); other states are left as they are. */
void dx_recall_layout(struct dx_layout *l, uint32_t reason);
/* L leaves the recall machinery (returned or fenced): its deadline, its
 * place in the queue, its recall credit. */
void dx_recall_forget(struct dx_layout *l);
/* Recall every layout of F overlapping [OFF, OFF+LEN); how many are still
 * out there (live, or copying back). */
unsigned int dx_recall_file(struct dx_file *f, uint64_t off, uint64_t len, uint32_t reason);
unsigned int dx_recall_all(struct dxd *d, uint32_t reason);
/* F's lease bound passed (seal.c): every client still holding a layout on F
 * is fenced, and copy-backs and COMMITs on F are dropped, now. How many
 * layouts on F have an rkey that may still work (0 unless ibv_dereg_mr,
 * ibv_modify_qp and ibv_destroy_qp all failed). */
unsigned int dx_recall_fence_file(struct dx_file *f);
/* The sent FILE_RECALL of C numbered ID, or NULL. */
struct dx_recall *dx_recall_find(struct dx_conn *c, uint64_t id);
/* RC's first layout not returned yet, and how many there are (*N). */
struct dx_layout *dx_recall_first(const struct dx_recall *rc, unsigned int *n);
/* Send queued recalls while the client has credits. */
void dx_recall_pump(struct dx_conn *c);
/* While stopping: end the loop once no layout is left and the last answers
 * are out (DX_EXIT_FLUSH_MS at most for those). */
#define DX_EXIT_FLUSH_MS 200
void dx_recall_check_stop(struct dxd *d);
const char *dx_recall_reason_name(uint32_t reason);

#endif
