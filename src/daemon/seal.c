#include "daemon/seal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "daxrdma_proto.h"
#include "daemon/daemon.h"
#include "daemon/fmap.h"
#include "daemon/reap.h"
#include "daemon/recall.h"

/* F_SETSIG with a real-time signal puts the lease's fd in si_fd. When the
 * real-time queue overflows the kernel sends SIGIO instead. */
#define LEASE_SIGNAL (SIGRTMIN + 1)
#define FIEMAP_BATCH 128
#define PREPARE_PASSES 3

static long sys_openat2(int dirfd, const char *path, struct open_how *how)
{
	return syscall(SYS_openat2, dirfd, path, how, sizeof(*how));
}

struct dx_file *dx_file_find(struct dxd *d, dev_t dev, ino_t ino)
{
	struct dx_file *f;

	TAILQ_FOREACH(f, &d->files, link)
		if (f->dev == dev && f->ino == ino)
			return f;
	return NULL;
}

int dx_file_stat(const struct dx_file *f, struct stat *st)
{
	if (fstat(f->fd, st))
		return -errno;
	if (f->device) {
		st->st_size = (off_t)f->device_size;
		st->st_blocks = (blkcnt_t)(f->device_size / 512);
	}
	return 0;
}

static struct dx_file *file_by_fd(struct dxd *d, int fd)
{
	struct dx_file *f;

	TAILQ_FOREACH(f, &d->files, link)
		if (f->fd == fd)
			return f;
	return NULL;
}

const char *dx_lease_state_name(enum dx_lease_state s)
{
	switch (s) {
	case LEASE_UNLEASED: return "unleased";
	case LEASE_LEASED: return "leased";
	case LEASE_BREAKING: return "breaking";
	case LEASE_HOLDOFF: return "holdoff";
	}
	return "?";
}

static bool legal_lease_move(enum dx_lease_state from, enum dx_lease_state to)
{
	switch (from) {
	case LEASE_UNLEASED: return to == LEASE_LEASED;
	case LEASE_LEASED: return to == LEASE_BREAKING || to == LEASE_UNLEASED;
	case LEASE_BREAKING: return to == LEASE_HOLDOFF;
	case LEASE_HOLDOFF: return to == LEASE_LEASED || to == LEASE_UNLEASED;
	}
	return false;
}

static void set_lease(struct dx_file *f, enum dx_lease_state to)
{
	if (!legal_lease_move(f->lease, to)) {
		log_err("BUG: %s/%s: no lease move from %s to %s", f->export_name, f->relpath,
			dx_lease_state_name(f->lease), dx_lease_state_name(to));
		assert(!"illegal lease state move");
		return;
	}
	log_debug("%s/%s: lease %s -> %s", f->export_name, f->relpath, dx_lease_state_name(f->lease),
		  dx_lease_state_name(to));
	f->lease = to;
	if (to != LEASE_LEASED)
		f->n_prepared = 0; /* others may change the blocks now */
}

/*
 * Lease breaks are noted by a thread of their own, which only waits for the
 * signal and stamps the time: the recall deadline counts from the moment the
 * kernel signalled the break, however busy the loop was then. The loop stays
 * the only owner of state; it reads the notes at the highest priority.
 */
struct lease_note {
	int32_t signo;
	int32_t fd;
	int64_t at_ms;
};

struct dx_lease_watch {
	sigset_t set;
	int pipe[2];
	pthread_t thread;
	bool thread_started;
	struct event *ev;
};

int64_t dx_lease_bound_ms(const struct dx_file *f)
{
	return f->break_ms + (int64_t)f->break_lbt_s * 1000 - DX_LEASE_MARGIN_MS;
}

int dx_lease_break_time_read(const char *path)
{
	FILE *fp = fopen(path, "re");
	int v = -1;

	if (!fp)
		return -errno;
	if (fscanf(fp, "%d", &v) != 1 || v < 0)
		v = -EINVAL;
	fclose(fp);
	return v;
}

/* The lease-break-time the kernel applies to a break now: read again, so
 * that lowering fs.lease-break-time at run time never leaves a bound late.
 * If it cannot be read, the last value stays. */
static int lease_break_time_now(struct dxd *d)
{
	int lbt;

	if (!d->lease_break_time_path)
		return d->lease_break_time_s;
	lbt = dx_lease_break_time_read(d->lease_break_time_path);
	if (lbt < 0) {
		log_warn("reading %s: %s: the lease bound uses %d s", d->lease_break_time_path, strerror(-lbt),
			 d->lease_break_time_s);
		return d->lease_break_time_s;
	}
	if (lbt != d->lease_break_time_s) {
		log_notice("fs.lease-break-time is %d s now (was %d s)", lbt, d->lease_break_time_s);
		if (d->cfg->recall_timeout_ms > (int64_t)lbt * 1000 - DX_LEASE_MARGIN_MS)
			log_warn("recall_timeout_ms = %lld no longer fits fs.lease-break-time (%d s): holders of a "
				 "breaking file are fenced at its lease bound, before their recall deadline",
				 (long long)d->cfg->recall_timeout_ms, lbt);
		d->lease_break_time_s = lbt;
	}
	return lbt;
}

static void on_lease_bound(evutil_socket_t fd, short what, void *arg)
{
	struct dx_file *f = arg;

	log_warn("%s/%s: lease bound reached %lld ms after the break: fencing every holder of a layout on it",
		 f->export_name, f->relpath, (long long)(dx_now_ms() - f->break_ms));
	if (dx_recall_fence_file(f)) {
		/* An rkey on the file may still work and the kernel is about to
		 * give the file to a local process. Exiting makes the kernel
		 * tear down every QP and MR of the daemon, which cannot fail;
		 * systemd starts it again. */
		dx_log(LOG_CRIT, "%s/%s: an rkey on it cannot be killed (ibv_dereg_mr, ibv_modify_qp and "
		       "ibv_destroy_qp failed) and its lease bound is here: daxrdmad stops", f->export_name, f->relpath);
		abort();
	}
	dx_reap_soon(f->d); /* the lease goes with the fenced layouts */
}

/* The one deadline of a breaking lease. Without it nothing would bound a
 * queued recall or a copy-back: failing to arm it fences now. */
static void arm_lease_bound(struct dx_file *f)
{
	int64_t ms = dx_lease_bound_ms(f) - dx_now_ms();
	struct timeval tv = { 0, 0 };

	if (ms > 0)
		tv = (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	if (!f->ev_bound)
		f->ev_bound = evtimer_new(f->d->base, on_lease_bound, f);
	if (!f->ev_bound || event_priority_set(f->ev_bound, DX_PRIO_URGENT) || evtimer_add(f->ev_bound, &tv)) {
		dx_log_fail("evtimer_add (lease bound)", -ENOMEM);
		log_err("%s/%s: no timer for the lease bound: fencing every holder now", f->export_name, f->relpath);
		on_lease_bound(-1, 0, f);
	}
}

static void lease_broken(struct dx_file *f, int64_t at_ms)
{
	if (f->lease != LEASE_LEASED)
		return;
	/* The fd may have been reused since the signal: a lease still held
	 * whole is not being broken. */
	if (fcntl(f->fd, F_GETLEASE) == F_WRLCK)
		return;
	set_lease(f, LEASE_BREAKING);
	f->break_ms = at_ms;
	f->break_lbt_s = lease_break_time_now(f->d);
	f->lease_breaks++;
	f->d->st.lease_breaks++;
	log_notice("lease break on %s/%s: a local process wants the file; recalling its layouts (signalled %lld ms ago)",
		   f->export_name, f->relpath, (long long)(dx_now_ms() - at_ms));
	dx_recall_file(f, 0, UINT64_MAX, DXP_RECALL_LOCAL);
	arm_lease_bound(f);
}

static void *watch_leases(void *arg)
{
	struct dx_lease_watch *w = arg;
	struct lease_note n;
	siginfo_t si;

	for (;;) {
		if (sigwaitinfo(&w->set, &si) < 0)
			continue; /* EINTR */
		n.signo = si.si_signo;
		n.fd = si.si_fd;
		n.at_ms = dx_now_ms();
		/* 16 bytes: one atomic write; it blocks only if the loop is far behind. */
		if (write(w->pipe[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
			log_err("lease watcher: write to the loop: %s", strerror(errno));
	}
	return NULL;
}

static void on_lease_note(evutil_socket_t fd, short what, void *arg)
{
	struct dxd *d = arg;
	struct lease_note n;
	struct dx_file *f, *tmp;

	for (;;) {
		ssize_t got = read(fd, &n, sizeof(n));

		if (got != (ssize_t)sizeof(n)) {
			if (got < 0 && errno != EAGAIN)
				dx_log_fail("read (lease notes)", -errno);
			return;
		}
		if (n.signo == LEASE_SIGNAL) {
			f = file_by_fd(d, n.fd);
			if (f)
				lease_broken(f, n.at_ms);
			continue;
		}
		/* SIGIO: the signal queue overflowed; ask every file (lease_broken
		 * asks the kernel whether its lease is being broken). */
		TAILQ_FOREACH_SAFE(f, &d->files, link, tmp)
			lease_broken(f, n.at_ms);
	}
}

int dx_seal_init(struct dxd *d)
{
	struct dx_lease_watch *w = calloc(1, sizeof(*w));
	int ret;

	if (!w)
		return -ENOMEM;
	d->leases = w;
	w->pipe[0] = w->pipe[1] = -1;
	sigemptyset(&w->set);
	sigaddset(&w->set, LEASE_SIGNAL);
	sigaddset(&w->set, SIGIO);
	/* Blocked in every thread (threads inherit the mask): only sigwaitinfo takes them. */
	ret = pthread_sigmask(SIG_BLOCK, &w->set, NULL);
	if (ret)
		return dx_log_fail("pthread_sigmask", -ret);
	if (pipe2(w->pipe, O_CLOEXEC))
		return dx_log_fail("pipe2 (lease notes)", -errno);
	if (evutil_make_socket_nonblocking(w->pipe[0]))
		return dx_log_fail("O_NONBLOCK (lease notes)", -EIO);
	w->ev = event_new(d->base, w->pipe[0], EV_READ | EV_PERSIST, on_lease_note, d);
	if (!w->ev || event_priority_set(w->ev, DX_PRIO_URGENT) || event_add(w->ev, NULL))
		return dx_log_fail("event_add (lease notes)", -ENOMEM);
	ret = pthread_create(&w->thread, NULL, watch_leases, w);
	if (ret)
		return dx_log_fail("pthread_create (lease watcher)", -ret);
	w->thread_started = true;
	return 0;
}

void dx_seal_fini(struct dxd *d)
{
	struct dx_lease_watch *w = d->leases;

	if (!w)
		return;
	if (w->thread_started) {
		pthread_cancel(w->thread);
		pthread_join(w->thread, NULL);
	}
	if (w->ev)
		event_free(w->ev);
	if (w->pipe[0] >= 0)
		close(w->pipe[0]);
	if (w->pipe[1] >= 0)
		close(w->pipe[1]);
	free(w);
	d->leases = NULL;
}

/* An O_PATH lookup opens nothing, so it does not break our own lease on the
 * file when a second client opens it. A path never crosses a mount point
 * (RESOLVE_NO_XDEV): what is mounted below an export (a bind mount, a file
 * system without DAX, FUSE) is not what the export's mode and persistence
 * were decided for, and a FUSE server could stall the loop. */
static int lookup(const struct dx_export *x, const char *path, uint64_t oflags, unsigned int mode)
{
	struct open_how how = {
		.flags = oflags | O_CLOEXEC | ((oflags & O_PATH) ? 0 : O_NOCTTY), /* O_PATH takes few flags */
		.mode = (oflags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	long fd = sys_openat2(x->fd, path, &how);

	return fd < 0 ? -errno : (int)fd;
}

/* PATH's parent directory beneath X (an O_PATH fd) and, in *BASE, its last
 * component; or -errno. */
static int parent_of(const struct dx_export *x, const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];

	*base = slash ? slash + 1 : path;
	if (!**base || strcmp(*base, ".") == 0 || strcmp(*base, "..") == 0)
		return -EINVAL;
	if (!slash)
		return lookup(x, ".", O_PATH | O_DIRECTORY, 0);
	if ((size_t)(slash - path) >= sizeof(dir))
		return -ENAMETOOLONG;
	/* "/a" keeps its slash: RESOLVE_BENEATH refuses it (-EXDEV). */
	snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 : (int)(slash - path), path);
	return lookup(x, dir, O_PATH | O_DIRECTORY, 0);
}

/* PATHFD's file opened for reading, and for writing too if RW: the fd or
 * -errno. Non-blocking: it never waits for another holder's lease. */
static int reopen(int pathfd, bool rw)
{
	char proc[64];
	int fd;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pathfd);
	fd = open(proc, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fd < 0 ? -errno : fd;
}

/* FD, open for writing, takes the place of F's read-only fd; the mapping
 * made from the old one goes. */
static void replace_fd(struct dx_file *f, int fd)
{
	dx_fmap_put(&f->fmap);
	close(f->fd);
	f->fd = fd;
	f->writable = true;
	f->n_prepared = 0;
}

/*
 * The daemon's one fd on a file serves every export the file is in. It is
 * opened for writing when the first opener's export is writable (and the
 * file can be written), else read-only: an O_RDWR open through a read-only
 * export would break another process's read lease and make local execs of
 * the file fail. A later RW open through a writable export upgrades it,
 * which needs the fd's lease not held: with layouts on the file they are
 * recalled first (-EBUSY: the client retries).
 */
static int make_writable(struct dx_file *f, int pathfd)
{
	int fd;

	if (!TAILQ_EMPTY(&f->layouts) || f->lease == LEASE_LEASED || f->lease == LEASE_BREAKING) {
		dx_recall_file(f, 0, UINT64_MAX, DXP_RECALL_CONFLICT);
		return -EBUSY;
	}
	fd = reopen(pathfd, true);
	if (fd < 0)
		return fd;
	replace_fd(f, fd);
	log_info("%s/%s: open for writing now", f->export_name, f->relpath);
	return 0;
}

/* What tells this file from another that later takes its inode number:
 * the inode generation where the file system keeps one, else the birth
 * time, else nothing (0). */
static uint64_t file_generation(int fd)
{
	struct statx stx;
	int gen = 0;

	if (ioctl(fd, FS_IOC_GETVERSION, &gen) == 0 && gen != 0)
		return (uint32_t)gen;
	if (statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &stx) == 0 && (stx.stx_mask & STATX_BTIME))
		return (uint64_t)stx.stx_btime.tv_sec * 1000000000u + stx.stx_btime.tv_nsec;
	return 0;
}

/* Whether FD's file is DAX itself: on a dax=inode mount, files with the
 * attribute off are in the page cache below an FS-DAX export. */
static bool file_is_dax(int fd)
{
	struct statx stx;

	return statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) == 0 && (stx.stx_attributes & STATX_ATTR_DAX);
}

static int file_new(struct dxd *d, const struct dx_export *x, const char *path, int fd,
		    const struct stat *st, struct dx_file **out)
{
	struct dx_file *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->export_name = strdup(x->cfg->name);
	f->relpath = strdup(path);
	if (!f->export_name || !f->relpath) {
		free(f->export_name);
		free(f->relpath);
		free(f);
		return -ENOMEM;
	}
	f->d = d;
	f->x = x;
	f->fd = fd;
	f->writable = true;
	f->dev = st->st_dev;
	f->ino = st->st_ino;
	f->gen = file_generation(fd);
	f->dax = x->kind == DX_EXPORT_DEVDAX || file_is_dax(fd);
	TAILQ_INIT(&f->layouts);
	TAILQ_INSERT_TAIL(&d->files, f, link);
	*out = f;
	return 0;
}

/* A device-DAX export's one file: the export's own fd on the device,
 * duplicated (the file may outlive the export across a reload). */
static int device_open(struct dxd *d, const struct dx_export *x, const char *path, uint32_t flags,
		       struct dx_file **out)
{
	struct dx_file *f;
	struct stat st;
	int fd, ret;

	if (strcmp(path, x->cfg->device_file) != 0)
		return -ENOENT;
	if ((flags & (DXP_OPEN_CREATE | DXP_OPEN_EXCL)) == (DXP_OPEN_CREATE | DXP_OPEN_EXCL))
		return -EEXIST;
	if (flags & DXP_OPEN_TRUNC)
		return -EOPNOTSUPP;
	if (fstat(x->fd, &st))
		return dx_log_fail("fstat (device-DAX)", -errno);
	f = dx_file_find(d, st.st_dev, st.st_ino);
	if (!f) {
		fd = fcntl(x->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return dx_log_fail("fcntl F_DUPFD_CLOEXEC (device-DAX)", -errno);
		ret = file_new(d, x, path, fd, &st, &f);
		if (ret) {
			close(fd);
			return ret;
		}
		f->device = true;
		f->device_size = x->dev_size;
	}
	/* The export's fd: O_RDONLY on a read_only export. A device has no
	 * lease to keep: a writable export's fd takes its place at once. */
	f->writable = (fcntl(f->fd, F_GETFL) & O_ACCMODE) == O_RDWR;
	if ((flags & DXP_OPEN_RW) && !f->writable) {
		fd = fcntl(x->fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return dx_log_fail("fcntl F_DUPFD_CLOEXEC (device-DAX)", -errno);
		if ((fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDWR) {
			close(fd);
			return -EACCES;
		}
		replace_fd(f, fd);
	}
	f->handles++;
	*out = f;
	return 0;
}

/* FBASE in FDIR takes the name TBASE in TDIR. What it replaces must be a
 * regular file the daemon could write: a client replaces only what it
 * could have changed (not a directory, a symlink or a read-only file). */
static int rename_over(int fdir, const char *fbase, int tdir, const char *tbase)
{
	struct stat st;

	if (fstatat(tdir, tbase, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (!S_ISREG(st.st_mode))
			return -EEXIST;
		if (faccessat(tdir, tbase, W_OK, AT_EACCESS))
			return -errno;
	} else if (errno != ENOENT) {
		return -errno;
	}
	return renameat(fdir, fbase, tdir, tbase) ? -errno : 0;
}

int dx_file_rename(struct dx_file *f, const struct dx_export *x, const char *from, const char *to)
{
	const char *fbase, *tbase;
	int fdir, tdir = -1, ret;
	struct stat st;
	char *name;

	if (f->device)
		return -EOPNOTSUPP;
	fdir = parent_of(x, from, &fbase);
	if (fdir < 0)
		return fdir == -ENOENT ? -ESTALE : fdir;
	/* A local process may have moved F, or put another file at FROM,
	 * since the client opened it: that one is not the client's to move. */
	if (fstatat(fdir, fbase, &st, AT_SYMLINK_NOFOLLOW))
		ret = errno == ENOENT ? -ESTALE : -errno;
	else if (st.st_dev != f->dev || st.st_ino != f->ino)
		ret = -ESTALE;
	else if (!to)
		ret = unlinkat(fdir, fbase, 0) ? -errno : 0;
	else if ((tdir = parent_of(x, to, &tbase)) < 0)
		ret = tdir;
	else
		ret = rename_over(fdir, fbase, tdir, tbase);
	if (tdir >= 0)
		close(tdir);
	close(fdir);
	if (ret)
		return ret;
	log_info("%s %s/%s%s%s", to ? "renamed" : "removed", x->cfg->name, from, to ? " to " : "", to ? to : "");
	if (to && f->x == x && strcmp(f->relpath, from) == 0 && (name = strdup(to))) {
		free(f->relpath);
		f->relpath = name;
	}
	return 0;
}

int dx_file_open(struct dxd *d, const struct dx_export *x, const char *path, uint32_t flags,
		 unsigned int mode, struct dx_file **out)
{
	bool writable = !x->cfg->read_only;
	struct dx_file *f;
	struct stat st;
	int pfd, fd, ret;

	if (x->kind == DX_EXPORT_DEVDAX)
		return device_open(d, x, path, flags, out);
	if (path[0] == '\0')
		return -EISDIR;
	pfd = lookup(x, path, O_PATH, 0);
	if (pfd == -ENOENT && (flags & DXP_OPEN_CREATE)) {
		/* A new file: nobody can hold it open, creating it breaks no lease.
		 * The client never chooses setuid, setgid or sticky bits. */
		fd = lookup(x, path, O_RDWR | O_CREAT | O_EXCL, mode & x->cfg->create_mask & 0777);
		if (fd < 0)
			return fd;
		if (fstat(fd, &st)) {
			ret = -errno;
			close(fd);
			return ret;
		}
		ret = file_new(d, x, path, fd, &st, out);
		if (ret) {
			close(fd);
			return ret;
		}
		(*out)->handles = 1;
		log_info("created %s/%s", x->cfg->name, path);
		return 0;
	}
	if (pfd < 0)
		return pfd;
	if ((flags & (DXP_OPEN_CREATE | DXP_OPEN_EXCL)) == (DXP_OPEN_CREATE | DXP_OPEN_EXCL)) {
		close(pfd);
		return -EEXIST;
	}
	if (fstat(pfd, &st)) {
		ret = -errno;
		close(pfd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(pfd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	f = dx_file_find(d, st.st_dev, st.st_ino);
	if (!f) {
		fd = reopen(pfd, writable);
		if (fd == -EROFS || fd == -EACCES || fd == -EPERM || fd == -ETXTBSY || fd == -EWOULDBLOCK) {
			writable = false; /* a read-only file; an RW open below says why */
			fd = reopen(pfd, false);
		}
		if (fd < 0) {
			close(pfd);
			return fd;
		}
		ret = file_new(d, x, path, fd, &st, &f);
		if (ret) {
			close(fd);
			close(pfd);
			return ret;
		}
		f->writable = writable;
	}
	ret = (flags & DXP_OPEN_RW) && !f->writable ? make_writable(f, pfd) : 0;
	close(pfd);
	if (ret) {
		dx_reap_soon(d); /* a file no one else has open goes */
		return ret;
	}
	f->handles++;
	if (flags & DXP_OPEN_TRUNC) {
		/* Truncating through the lease holder's own fd breaks no lease; the
		 * layouts on the file come back first and the client retries. */
		if (!TAILQ_EMPTY(&f->layouts)) {
			dx_recall_file(f, 0, UINT64_MAX, DXP_RECALL_CONFLICT);
			ret = -EBUSY;
		} else if (ftruncate(f->fd, 0)) {
			ret = -errno;
			log_warn("ftruncate %s/%s: %s", x->cfg->name, path, strerror(errno));
		} else {
			ret = 0;
		}
		if (ret) {
			dx_file_put(f);
			return ret;
		}
	}
	*out = f;
	return 0;
}

void dx_file_put(struct dx_file *f)
{
	if (f->handles)
		f->handles--;
	if (!f->handles)
		dx_reap_soon(f->d);
}

void dx_file_settle(struct dx_file *f)
{
	if (!TAILQ_EMPTY(&f->layouts))
		return;
	if (f->lease == LEASE_LEASED || f->lease == LEASE_BREAKING) {
		if (fcntl(f->fd, F_SETLEASE, F_UNLCK))
			dx_log_fail("fcntl F_SETLEASE F_UNLCK", -errno);
		if (f->lease == LEASE_BREAKING) {
			if (f->ev_bound)
				evtimer_del(f->ev_bound);
			log_notice("%s/%s: all layouts are back; lease released, the local operation proceeds "
				   "(%lld ms after the break)", f->export_name, f->relpath,
				   (long long)(dx_now_ms() - f->break_ms));
			f->holdoff_until_ms = dx_now_ms() + DX_LEASE_HOLDOFF_MS;
			set_lease(f, LEASE_HOLDOFF);
		} else {
			set_lease(f, LEASE_UNLEASED);
		}
	}
	if (f->handles)
		return;
	TAILQ_REMOVE(&f->d->files, f, link);
	if (f->ev_bound)
		event_free(f->ev_bound);
	dx_fmap_put(&f->fmap);
	close(f->fd);
	free(f->export_name);
	free(f->relpath);
	free(f);
}

int dx_seal_lease(struct dx_file *f)
{
	if (f->lease == LEASE_LEASED || f->device)
		return 0;
	if (f->lease == LEASE_BREAKING)
		return -EAGAIN;
	/* Right after a break the local process may not have run yet. */
	if (f->lease == LEASE_HOLDOFF) {
		if (dx_now_ms() < f->holdoff_until_ms)
			return -EAGAIN;
		set_lease(f, LEASE_UNLEASED);
	}
	if (fcntl(f->fd, F_SETSIG, LEASE_SIGNAL))
		return dx_log_fail("fcntl F_SETSIG", -errno);
	if (fcntl(f->fd, F_SETLEASE, F_WRLCK)) {
		if (errno == EAGAIN || errno == EBUSY) {
			log_info("%s/%s is open locally: no lease, no layout (BUSY_LOCAL)", f->export_name,
				 f->relpath);
			return -EAGAIN;
		}
		return dx_log_fail("fcntl F_SETLEASE F_WRLCK", -errno);
	}
	set_lease(f, LEASE_LEASED);
	return 0;
}

/* Zero [OFF, OFF+LEN) through our own fd: that turns holes and unwritten
 * extents into written, zeroed blocks. */
static int write_zeros(int fd, uint64_t off, uint64_t len)
{
	static const char zeros[65536];

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		ssize_t w = pwrite(fd, zeros, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? dx_log_fail("pwrite (zeroing)", -errno) : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

enum { RANGE_CLEAN, RANGE_FIXED, RANGE_NO_FIEMAP };

/* Fix [pos, pos + n) with zeros (FIX), or only say it needs it. */
static int zero_or_flag(struct dx_file *f, bool fix, uint64_t pos, uint64_t n)
{
	int ret = fix ? write_zeros(f->fd, pos, n) : 0;

	return ret < 0 ? ret : RANGE_FIXED;
}

/* One FIEMAP pass over the range, fixing (FIX) or just finding what is not
 * plain written blocks. RANGE_CLEAN if nothing needed fixing. */
static int fiemap_pass(struct dx_file *f, uint64_t off, uint64_t len, bool fix)
{
	size_t sz = sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent);
	struct fiemap *fm = malloc(sz);
	uint64_t pos = off, end = off + len;
	int ret = RANGE_CLEAN;

	if (!fm)
		return -ENOMEM;
	while (pos < end) {
		memset(fm, 0, sz);
		fm->fm_start = pos;
		fm->fm_length = end - pos;
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(f->fd, FS_IOC_FIEMAP, fm)) {
			ret = (errno == EOPNOTSUPP || errno == ENOTTY) ? RANGE_NO_FIEMAP
								       : dx_log_fail("ioctl FS_IOC_FIEMAP", -errno);
			break;
		}
		if (fm->fm_mapped_extents == 0) { /* a hole to the end */
			ret = zero_or_flag(f, fix, pos, end - pos);
			break;
		}
		for (unsigned int i = 0; i < fm->fm_mapped_extents && ret >= 0; i++) {
			const struct fiemap_extent *e = &fm->fm_extents[i];
			uint64_t s = e->fe_logical > pos ? e->fe_logical : pos;
			uint64_t t = e->fe_logical + e->fe_length < end ? e->fe_logical + e->fe_length : end;

			if (e->fe_logical > pos) /* a hole before this extent */
				ret = zero_or_flag(f, fix, pos, (e->fe_logical < end ? e->fe_logical : end) - pos);
			if (ret >= 0 && s < t && (e->fe_flags & FIEMAP_EXTENT_SHARED)) {
				if (fix && fallocate(f->fd, FALLOC_FL_UNSHARE_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)s,
						     (off_t)(t - s)))
					ret = dx_log_fail("fallocate FALLOC_FL_UNSHARE_RANGE", -errno);
				else
					ret = RANGE_FIXED;
			}
			if (ret >= 0 && s < t &&
			    (e->fe_flags & (FIEMAP_EXTENT_UNWRITTEN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN)))
				ret = zero_or_flag(f, fix, s, t - s);
			pos = e->fe_logical + e->fe_length > pos ? e->fe_logical + e->fe_length : pos;
			if (e->fe_flags & FIEMAP_EXTENT_LAST) {
				if (ret >= 0 && pos < end)
					ret = zero_or_flag(f, fix, pos, end - pos);
				pos = end;
			}
		}
		if (ret < 0 || (!fix && ret == RANGE_FIXED))
			break;
	}
	free(fm);
	return ret;
}

static bool prepared(const struct dx_file *f, uint64_t off, uint64_t end)
{
	for (unsigned int i = 0; i < f->n_prepared && f->prepared[i].lo <= off; i++)
		if (end <= f->prepared[i].hi)
			return true;
	return false;
}

/* Add [off, end), merged with the ranges it touches. */
static void remember_prepared(struct dx_file *f, uint64_t off, uint64_t end)
{
	unsigned int i = 0, j;

	while (i < f->n_prepared && f->prepared[i].hi < off)
		i++;
	for (j = i; j < f->n_prepared && f->prepared[j].lo <= end; j++) {
		off = f->prepared[j].lo < off ? f->prepared[j].lo : off;
		end = f->prepared[j].hi > end ? f->prepared[j].hi : end;
	}
	/* ranges i..j-1 merge into one at i */
	if (i == j && f->n_prepared == DX_PREPARED_MAX) {
		f->n_prepared = 0;
		i = j = 0;
	}
	memmove(&f->prepared[i + 1], &f->prepared[j], (f->n_prepared - j) * sizeof(f->prepared[0]));
	f->n_prepared = f->n_prepared + 1 - (j - i);
	f->prepared[i].lo = off;
	f->prepared[i].hi = end;
}

void dx_seal_forget_prepared(struct dx_file *f, uint64_t from)
{
	while (f->n_prepared && f->prepared[f->n_prepared - 1].hi > from) {
		struct dx_range *r = &f->prepared[f->n_prepared - 1];

		if (r->lo < from) {
			r->hi = from;
			break;
		}
		f->n_prepared--;
	}
}

static int prepare(struct dx_file *f, uint64_t off, uint64_t len)
{
	struct stat st;
	int ret = RANGE_FIXED;

	if (fstat(f->fd, &st))
		return dx_log_fail("fstat", -errno);
	if (off + len > (uint64_t)st.st_size)
		return -ERANGE;
	/* A range that is plain written blocks already (a file written before)
	 * needs nothing: fallocate would only make XFS unmap every DAX mapping
	 * of the file (xfs_break_dax_layouts), and each page fault again. */
	ret = fiemap_pass(f, off, len, false);
	if (ret == RANGE_CLEAN)
		return 0;
	if (ret < 0)
		return ret;
	ret = RANGE_FIXED;
	if (fallocate(f->fd, FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len)) {
		if (errno == ENOSPC)
			return -ENOSPC;
		if (errno != EOPNOTSUPP)
			return dx_log_fail("fallocate", -errno);
	}
	for (int pass = 0; pass < PREPARE_PASSES && ret == RANGE_FIXED; pass++)
		ret = fiemap_pass(f, off, len, true);
	if (ret == RANGE_FIXED) {
		log_err("%s/%s [%llu, +%llu): FIEMAP still shows holes, unwritten or shared extents after %d passes",
			f->export_name, f->relpath, (unsigned long long)off, (unsigned long long)len, PREPARE_PASSES);
		return -EIO;
	}
	if (ret == RANGE_NO_FIEMAP)
		log_debug("%s/%s: no FIEMAP here; fallocate alone prepared the range", f->export_name, f->relpath);
	return ret < 0 ? ret : 0;
}

bool dx_seal_allocated(struct dx_file *f, uint64_t off, uint64_t len)
{
	struct stat st;

	if (fstat(f->fd, &st) || off + len > (uint64_t)st.st_size)
		return false;
	return prepared(f, off, off + len) || fiemap_pass(f, off, len, false) == RANGE_CLEAN;
}

int dx_seal_prepare(struct dx_file *f, uint64_t off, uint64_t len)
{
	int ret;

	if (f->device) /* nothing to allocate, zero or unshare on a device */
		return off + len > f->device_size ? -ERANGE : 0;
	if (prepared(f, off, off + len))
		return 0;
	ret = prepare(f, off, len);

	if (ret == 0 && f->lease == LEASE_LEASED)
		remember_prepared(f, off, off + len);
	return ret;
}
