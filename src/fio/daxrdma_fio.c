/*
 * daxrdma-fio: a fio ioengine that does its I/O with one-sided RDMA into
 * files that daxrdmad serves, through libdaxrdma-client. See daxrdma-fio(7).
 *
 *   fio --ioengine=external:/usr/lib/.../daxrdma-fio.so --hostname=HOST
 *       --export=pmem --filename=fio.dat --size=64m --rw=randwrite --bs=4k
 *
 * One job is one client (one connection). A file is covered by layouts of
 * layout_size bytes, taken when first touched and kept until the file is
 * closed. commit=sync persists each write with a COMMIT before fio counts
 * it; commit=batch persists at fio's fsync/fdatasync points (fsync=N) and
 * when the file is closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fio.h"
#include "optgroup.h"

#include "daxrdma.h"

#define PAGE 4096ull

enum commit_mode {
	COMMIT_SYNC = 1,
	COMMIT_BATCH = 2,
};

enum iomode_opt {
	IOMODE_AUTO = 0,
	IOMODE_READ = DAXRDMA_READ,
	IOMODE_RW = DAXRDMA_RW,
};

/* Engine options. fio wants no option at offset 0. */
struct dxf_options {
	void *pad;
	char *server;
	char *port;
	char *export_name;
	unsigned long long layout_size;
	unsigned int commit;
	unsigned int iomode;
	unsigned int busy_poll_us;
	unsigned int timeout_ms;
};

static struct fio_option options[] = {
	{
		/* "server" in a job file; fio's command line keeps --server
		 * for itself, so there it is --hostname. */
		.name = "hostname",
		.alias = "server",
		.lname = "daxrdmad host",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct dxf_options, server),
		.help = "Name or address of daxrdmad's RDMA interface",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "port",
		.lname = "daxrdmad port",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct dxf_options, port),
		.def = "20049",
		.help = "daxrdmad's rdma_cm port",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "export",
		.lname = "daxrdmad export",
		.type = FIO_OPT_STR_STORE,
		.off1 = offsetof(struct dxf_options, export_name),
		.help = "Export that holds the files (filename= is a path inside it)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "layout_size",
		.lname = "Layout size",
		.type = FIO_OPT_STR_VAL,
		.off1 = offsetof(struct dxf_options, layout_size),
		.def = "0",
		.help = "Bytes per layout, a multiple of 4096 (0: the whole file, up to the daemon's largest layout)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "commit",
		.lname = "Persistence",
		.type = FIO_OPT_STR,
		.off1 = offsetof(struct dxf_options, commit),
		.def = "sync",
		.help = "When written data is made durable",
		.posval = {
			{ .ival = "sync", .oval = COMMIT_SYNC, .help = "COMMIT after every write" },
			{ .ival = "batch", .oval = COMMIT_BATCH, .help = "COMMIT at fsync=N points and at close" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "iomode",
		.lname = "Layout iomode",
		.type = FIO_OPT_STR,
		.off1 = offsetof(struct dxf_options, iomode),
		.def = "auto",
		.help = "Layouts to ask for",
		.posval = {
			{ .ival = "auto", .oval = IOMODE_AUTO, .help = "rw if the job writes, else read" },
			{ .ival = "read", .oval = IOMODE_READ, .help = "READ layouts (shared)" },
			{ .ival = "rw", .oval = IOMODE_RW, .help = "RW layouts (exclusive)" },
		},
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "busy_poll_us",
		.lname = "Busy poll",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct dxf_options, busy_poll_us),
		.def = "0",
		.help = "Microseconds the library polls before it sleeps for a completion",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = "daxrdma_timeout_ms",
		.lname = "daxrdma timeout",
		.type = FIO_OPT_INT,
		.off1 = offsetof(struct dxf_options, timeout_ms),
		.def = "0",
		.help = "Deadline of every wait on the daemon (0: the library's default)",
		.category = FIO_OPT_C_ENGINE,
		.group = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

/* One job's connection. */
struct dxf_job {
	struct daxrdma_client *client;
	int iomode;
};

/* One layout slot of a file, and what was written under it since its last
 * COMMIT (commit=batch). */
struct dxf_slot {
	struct daxrdma_layout *layout;
	uint64_t dirty_lo, dirty_hi;
};

struct dxf_file {
	struct daxrdma_file *file;
	uint64_t size;       /* what the job uses, rounded up to a page */
	uint64_t slot_bytes; /* bytes per layout */
	size_t n_slots;
	struct dxf_slot slots[];
};

static void dxf_log(void *arg, int prio, const char *msg)
{
	(void)arg;
	if (prio <= LOG_WARNING)
		log_err("daxrdma: %s\n", msg);
	else
		log_info("daxrdma: %s\n", msg);
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* fio has no file to stat: the job's size decides each file's size. */
static int dxf_setup(struct thread_data *td)
{
	struct fio_file *f;
	unsigned int i;

	for_each_file(td, f, i) {
		uint64_t size = td->o.file_size_high ? td->o.file_size_high : td->o.size / td->o.nr_files;

		if (size == 0) {
			log_err("daxrdma: %s: give the job size= or filesize=\n", f->file_name);
			return 1;
		}
		f->real_file_size = size;
		fio_file_set_size_known(f);
	}
	return 0;
}

static int dxf_init(struct thread_data *td)
{
	struct dxf_options *o = td->eo;
	struct daxrdma_client_opts copts = {
		.size = sizeof(copts),
		.log = dxf_log,
		.log_level = LOG_WARNING,
		.timeout_ms = (int)o->timeout_ms,
		.flags = DAXRDMA_RELAYOUT,
		.busy_poll_us = o->busy_poll_us,
	};
	struct dxf_job *j;
	int ret;

	if (!o->server || !o->export_name) {
		log_err("daxrdma: the engine needs server= (hostname= on the command line) and export=\n");
		return 1;
	}
	if (o->layout_size % PAGE) {
		log_err("daxrdma: layout_size=%llu is not a multiple of 4096\n", o->layout_size);
		return 1;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return 1;
	j->iomode = o->iomode != IOMODE_AUTO ? (int)o->iomode : td_write(td) ? DAXRDMA_RW : DAXRDMA_READ;
	ret = daxrdma_client_new(&copts, &j->client);
	if (ret == 0)
		ret = daxrdma_connect(j->client, o->server, o->port);
	if (ret) {
		log_err("daxrdma: connect to %s port %s: %s\n", o->server, o->port, strerror(-ret));
		daxrdma_client_delete(&j->client);
		free(j);
		return 1;
	}
	td->io_ops_data = j;
	return 0;
}

static void dxf_cleanup(struct thread_data *td)
{
	struct dxf_job *j = td->io_ops_data;

	if (!j)
		return;
	daxrdma_client_delete(&j->client);
	free(j);
	td->io_ops_data = NULL;
}

static int dxf_open_file(struct thread_data *td, struct fio_file *f)
{
	struct dxf_options *o = td->eo;
	struct dxf_job *j = td->io_ops_data;
	unsigned int flags = j->iomode == DAXRDMA_RW ? DAXRDMA_O_RDWR | DAXRDMA_O_CREAT : 0;
	uint64_t size = round_up(f->real_file_size, PAGE);
	uint64_t slot_bytes = o->layout_size ? o->layout_size : size;
	uint64_t max = daxrdma_client_max_layout_size(j->client);
	struct daxrdma_file *file;
	struct daxrdma_stat st;
	struct dxf_file *df;
	size_t n;
	int ret;

	if (max && slot_bytes > max)
		slot_bytes = max / PAGE * PAGE;
	ret = daxrdma_open(j->client, o->export_name, f->file_name, flags, 0644, &file);
	if (ret) {
		log_err("daxrdma: open %s/%s: %s\n", o->export_name, f->file_name, strerror(-ret));
		return -ret;
	}
	if (j->iomode == DAXRDMA_RW)
		ret = daxrdma_allocate(file, 0, size);
	else if ((ret = daxrdma_stat(file, &st)) == 0 && st.size < size)
		ret = -ENXIO;
	if (ret) {
		log_err("daxrdma: %s: %s %llu bytes: %s\n", f->file_name,
			j->iomode == DAXRDMA_RW ? "allocate" : "need", (unsigned long long)size,
			ret == -ENXIO ? "the file is shorter" : strerror(-ret));
		daxrdma_close(&file);
		return -ret;
	}
	n = (size + slot_bytes - 1) / slot_bytes;
	df = calloc(1, sizeof(*df) + n * sizeof(df->slots[0]));
	if (!df) {
		daxrdma_close(&file);
		return ENOMEM;
	}
	df->file = file;
	df->size = size;
	df->slot_bytes = slot_bytes;
	df->n_slots = n;
	f->engine_data = df;
	return 0;
}

static int commit_slot(struct dxf_slot *s)
{
	int ret;

	if (s->dirty_hi == 0)
		return 0;
	ret = daxrdma_commit(s->layout, s->dirty_lo, s->dirty_hi - s->dirty_lo);
	if (ret == 0)
		s->dirty_lo = s->dirty_hi = 0;
	return ret;
}

static int commit_file(struct dxf_file *df)
{
	int first = 0;

	for (size_t i = 0; i < df->n_slots; i++) {
		int ret = commit_slot(&df->slots[i]);

		if (ret && !first)
			first = ret;
	}
	return first;
}

static int dxf_close_file(struct thread_data *td, struct fio_file *f)
{
	struct dxf_file *df = f->engine_data;
	int ret;

	if (!df)
		return 0;
	ret = commit_file(df);
	if (ret)
		log_err("daxrdma: %s: COMMIT at close: %s\n", f->file_name, strerror(-ret));
	for (size_t i = 0; i < df->n_slots; i++)
		if (df->slots[i].layout)
			daxrdma_layout_return(&df->slots[i].layout);
	daxrdma_close(&df->file);
	free(df);
	f->engine_data = NULL;
	return -ret;
}

/* The slot that holds OFF, its layout taken if it has none yet. */
static int slot_at(struct dxf_job *j, struct dxf_file *df, uint64_t off, struct dxf_slot **out)
{
	size_t i = off / df->slot_bytes;
	struct dxf_slot *s = &df->slots[i];

	if (!s->layout) {
		uint64_t lo = i * df->slot_bytes;
		uint64_t len = df->size - lo < df->slot_bytes ? df->size - lo : df->slot_bytes;
		int ret = daxrdma_layout_get(df->file, lo, len, j->iomode, &s->layout);

		if (ret) {
			log_err("daxrdma: layout [%llu, +%llu): %s\n", (unsigned long long)lo,
				(unsigned long long)len, strerror(-ret));
			return ret;
		}
	}
	*out = s;
	return 0;
}

static int do_io(struct thread_data *td, struct io_u *io_u)
{
	struct dxf_options *o = td->eo;
	struct dxf_job *j = td->io_ops_data;
	struct dxf_file *df = io_u->file->engine_data;
	bool write = io_u->ddir == DDIR_WRITE;
	uint64_t off = io_u->offset;
	uint64_t left = io_u->xfer_buflen;
	char *buf = io_u->xfer_buf;

	if (off + left > df->size)
		return ERANGE;
	while (left) {
		struct dxf_slot *s;
		uint64_t n;
		int ret = slot_at(j, df, off, &s);

		if (ret)
			return -ret;
		n = (off / df->slot_bytes + 1) * df->slot_bytes - off;
		n = n < left ? n : left;
		for (int tries = 0;; tries++) {
			ret = write ? daxrdma_write(s->layout, off, buf, n) : daxrdma_read(s->layout, off, buf, n);
			if (ret || !write || o->commit != COMMIT_SYNC)
				break;
			ret = daxrdma_commit(s->layout, off, n);
			/* Recalled between the WRITE and its COMMIT, the layout
			 * went back: write again under the one the library takes
			 * next (DAXRDMA_RELAYOUT), and commit that. */
			if (ret != -ESTALE || tries == 3)
				break;
		}
		if (ret == 0 && write && o->commit != COMMIT_SYNC) {
			s->dirty_lo = s->dirty_hi == 0 || off < s->dirty_lo ? off : s->dirty_lo;
			s->dirty_hi = off + n > s->dirty_hi ? off + n : s->dirty_hi;
		}
		if (ret)
			return -ret;
		off += n;
		buf += n;
		left -= n;
	}
	return 0;
}

static enum fio_q_status dxf_queue(struct thread_data *td, struct io_u *io_u)
{
	struct dxf_file *df = io_u->file->engine_data;

	fio_ro_check(td, io_u);
	switch (io_u->ddir) {
	case DDIR_READ:
	case DDIR_WRITE:
		io_u->error = do_io(td, io_u);
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE:
		io_u->error = -commit_file(df);
		break;
	default:
		io_u->error = EINVAL;
		break;
	}
	if (io_u->error)
		td_verror(td, io_u->error, "xfer");
	return FIO_Q_COMPLETED;
}

struct ioengine_ops ioengine = {
	.name = "daxrdma",
	.version = FIO_IOOPS_VERSION,
	.flags = FIO_SYNCIO | FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL,
	.setup = dxf_setup,
	.init = dxf_init,
	.cleanup = dxf_cleanup,
	.open_file = dxf_open_file,
	.close_file = dxf_close_file,
	.queue = dxf_queue,
	.options = options,
	.option_struct_size = sizeof(struct dxf_options),
};
