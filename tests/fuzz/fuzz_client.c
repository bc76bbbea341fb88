/*
 * The client library's message engine (what test_client_engine drives)
 * against any sequence of messages a hostile or broken daemon can send: a
 * client waiting for a reply, with a file whose handle holds three layouts,
 * takes each message (2-byte little-endian length, then the bytes) through
 * dxc_on_message. After each one (check): no sanitizer error; a reply kept
 * for the caller is the one it waits for (its tag); the queue of recalled
 * layouts holds exactly the layouts marked queued, each once, each RECALLED.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct daxrdma_file *file_with_layouts(struct daxrdma_client *c, uint64_t fh)
{
	struct daxrdma_file *f = calloc(1, sizeof(*f));

	if (!f)
		abort();
	f->c = c;
	f->fh = fh;
	TAILQ_INIT(&f->layouts);
	TAILQ_INSERT_TAIL(&c->files, f, link);
	for (unsigned int i = 0; i < 3; i++) {
		struct daxrdma_layout *l = calloc(1, sizeof(*l));

		if (!l)
			abort();
		l->file = f;
		l->sid = (struct dxp_stateid){ .id = 5 + i, .seq = 1 };
		l->off = i * DXP_PAGE;
		l->len = DXP_PAGE;
		l->iomode = DAXRDMA_RW;
		l->state = DXC_LAYOUT_VALID;
		TAILQ_INSERT_TAIL(&f->layouts, l, link);
	}
	return f;
}

static void check(const struct daxrdma_client *c, const struct daxrdma_file *f)
{
	const struct daxrdma_layout *l, *q;
	unsigned int queued = 0, in_queue = 0;

	if (c->have_reply && c->reply.hdr.tag != c->wait_tag)
		abort(); /* another request's reply taken for this one */
	TAILQ_FOREACH(l, &f->layouts, link) {
		unsigned int seen = 0;

		if (!l->recall_queued)
			continue;
		queued++;
		/* (A connection that broke made every layout RETURNED; the queue
		 * is emptied at the next call.) */
		if (l->state != DXC_LAYOUT_RECALLED && !(c->broken && l->state == DXC_LAYOUT_RETURNED))
			abort(); /* queued for a recall it is not in */
		TAILQ_FOREACH(q, &c->recalled, recall_link)
			seen += q == l;
		if (seen != 1)
			abort(); /* queued twice, or marked and not queued */
	}
	TAILQ_FOREACH(q, &c->recalled, recall_link)
		in_queue++;
	if (in_queue != queued)
		abort(); /* something in the queue not marked */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[DXP_MAX_MSG];
	struct daxrdma_client *c = NULL;
	struct daxrdma_file *f;

	if (daxrdma_client_new(NULL, &c))
		abort();
	f = file_with_layouts(c, 1);
	c->wait_tag = 7;
	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;

		data += 2;
		size -= 2;
		if (len > size)
			len = size;
		if (len > sizeof(msg))
			len = sizeof(msg);
		memcpy(msg, data, len); /* the engine reads a receive buffer of its own */
		dxc_on_message(c, msg, (uint32_t)len);
		check(c, f);
		data += len;
		size -= len;
	}
	daxrdma_client_delete(&c);
	return 0;
}
