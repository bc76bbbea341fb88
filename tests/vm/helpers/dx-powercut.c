/*
 * dx-powercut: the load of the power-cut test and the check after the cut.
 *
 *   dx-powercut load HOST EXPORT DIR LOG SECONDS
 *        One client, through the library's public API as an application
 *        uses it (libdaxrdma-client(3): DAXRDMA_RELAYOUT, poll() on its fd
 *        while it waits). On an FS-DAX export (DIR: its directory here) it
 *        creates files $DX_PC_PREFIX-0..3 and, until SECONDS pass or the
 *        power goes, writes and commits random page-aligned ranges, extends
 *        files (ALLOCATE, then writes there), and punches holes locally (a
 *        child process's fallocate, never synced, which recalls the client's
 *        layout) that later writes fill again. On a device-DAX export (DIR:
 *        the device, /dev/daxX.Y) it writes and commits within
 *        [$DX_PC_BASE, +4 MiB) of the device's file. Commits persist by the
 *        layout's method: COMMIT, or one-sided where the export offers it
 *        (an RDMA READ after the writes, or an RDMA FLUSH where the layout
 *        takes it);
 *        with DX_COMMIT_MESSAGE set, always COMMIT (DAXRDMA_COMMIT_MESSAGE).
 *   dx-powercut control FILE LOG SECONDS
 *        The control: extends FILE by 4 KiB every 50 ms with pwrite(2) and
 *        never syncs it. A cut should lose some of it: if it never does, the
 *        rig cannot show a loss.
 *   dx-powercut check LOG...
 *        After the cut, each LOG against the files: prints one line
 *        "records R acked A bytes_checked C bytes_wrong W control_lost L"
 *        (summed) and a line per wrong range; exit 1 if W > 0.
 *
 * The log, written with fdatasync before each step is taken (B) and after
 * it is acknowledged (A), so that whatever the cut leaves of it, it never
 * claims more than happened:
 *   F FID PATH KIND        a file (KIND zero: new, empty; any: a device's old bytes;
 *                          control: the control's)
 *   B SEQ W FID OFF LEN    a write of SEQ's pattern about to be sent
 *   B SEQ P FID OFF LEN    a local hole punch about to start
 *   B SEQ X FID OLD NEW    an ALLOCATE that extends the file from OLD bytes to NEW
 *   A SEQ [HOW]            SEQ was acknowledged: persisted (HOW: commit, or
 *                          one-sided); a punch never is
 *   U SEQ FID OFF LEN      the control wrote this (unsynced)
 * Each 8-byte word of a write holds SEQ, FID and its word index, so a word
 * says which write put it there. After the cut a word must hold what the
 * last acknowledged step over it left (zeros for a punch, or for a new
 * file's never-written bytes), or what a later unacknowledged step would
 * have put there; and every file is at least as long as its acknowledged
 * writes reach.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "daxrdma.h"

#define PAGE 4096u
#define NFILES 4
#define FILE_START (1u << 20)
#define FILE_MAX (8u << 20)
#define DEVICE_SPAN (4u << 20)
#define MAX_IO (128u * 1024u)
#define MAX_LOGFILES 16
#define MAX_PENDING 4096

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t word_of(uint32_t seq, unsigned int fid, uint64_t w)
{
	return (uint64_t)seq << 32 | (uint64_t)(fid & 0xff) << 24 | (w & 0xffffff);
}

static void fill(uint64_t *buf, uint32_t seq, unsigned int fid, uint64_t off, size_t len)
{
	for (size_t i = 0; i < len / 8; i++)
		buf[i] = word_of(seq, fid, off / 8 + i);
}

/* ---- the log ---- */

static int logfd = -1;

static void logf_sync(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One record, on the host before the step it announces. */
static void logf_sync(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (write(logfd, line, (size_t)n) != n || fdatasync(logfd)) {
		perror("dx-powercut: log");
		exit(1);
	}
}

static void open_log(const char *path)
{
	logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0) {
		perror(path);
		exit(1);
	}
}

/* ---- the load ---- */

struct lfile {
	unsigned int fid;
	struct daxrdma_file *f;
	struct daxrdma_layout *l; /* over [0, size) */
	uint64_t base, size;      /* the window this client uses (device: [0, SPAN)) */
	char local[512];
};

static struct {
	struct daxrdma_client *c;
	struct lfile f[NFILES];
	unsigned int n;
	bool device;
	uint32_t seq;
	uint64_t acked, failed, punches, extends, one_sided, flushes;
	uint64_t *buf;
} L;

static uint64_t rnd(uint64_t n)
{
	return n ? (uint64_t)random() % n : 0;
}

static int relayout(struct lfile *lf)
{
	if (lf->l)
		daxrdma_layout_return(&lf->l);
	return daxrdma_layout_get(lf->f, lf->base, lf->size, DAXRDMA_RW, &lf->l);
}

static void op_write(struct lfile *lf, uint64_t off, uint64_t len)
{
	uint32_t seq = ++L.seq;
	int method = 0, ret;

	fill(L.buf, seq, lf->fid, off, len);
	logf_sync("B %u W %u %" PRIu64 " %" PRIu64 "\n", seq, lf->fid, off, len);
	ret = lf->l ? 0 : relayout(lf);
	if (!ret)
		ret = daxrdma_write(lf->l, off, L.buf, len);
	if (!ret)
		ret = daxrdma_commit_method(lf->l, off, len, &method);
	if (ret) {
		/* Not acknowledged: the bytes may or may not be there. */
		L.failed++;
		fprintf(stderr, "dx-powercut: write %u of %s: %s\n", seq, lf->local, strerror(-ret));
		if (lf->l)
			daxrdma_layout_return(&lf->l);
		return;
	}
	logf_sync("A %u %s\n", seq, method == DAXRDMA_PERSIST_FLUSH ? "flush"
				   : method == DAXRDMA_PERSIST_READ_AFTER_WRITE ? "one-sided" : "commit");
	L.acked++;
	L.one_sided += method != DAXRDMA_PERSIST_COMMIT;
	L.flushes += method == DAXRDMA_PERSIST_FLUSH;
}

/* ALLOCATE to a larger size; the new range is zeros (and written later). */
static void op_extend(struct lfile *lf)
{
	uint64_t size = lf->size + PAGE * (1 + rnd(64));
	uint32_t seq = ++L.seq;
	int ret;

	if (size > FILE_MAX)
		return;
	logf_sync("B %u X %u %" PRIu64 " %" PRIu64 "\n", seq, lf->fid, lf->size, size);
	if (lf->l)
		daxrdma_layout_return(&lf->l);
	ret = daxrdma_allocate(lf->f, lf->size, size - lf->size);
	if (ret) {
		L.failed++;
		fprintf(stderr, "dx-powercut: allocate of %s: %s\n", lf->local, strerror(-ret));
		return;
	}
	logf_sync("A %u\n", seq);
	L.extends++;
	lf->size = size;
	op_write(lf, size - PAGE * (1 + rnd(4)), PAGE); /* bytes in the new range, committed */
}

/* A local process punches a hole: the lease breaks, the library returns our
 * layout on the recall while we poll its fd. Nothing syncs it, so that XFS's
 * log is forced by the daemon's work alone (a sync here would make durable
 * whatever the daemon left undone before it): the punch may or may not
 * survive a cut, but the writes that fill the hole again and are
 * acknowledged must, block allocations included. */
static void op_punch(struct lfile *lf)
{
	uint64_t off = rnd(lf->size / PAGE) * PAGE, len = PAGE * (1 + rnd(16));
	uint32_t seq = ++L.seq;
	int64_t end = now_ms() + 20000;
	int status = -1;
	pid_t pid;

	if (off + len > lf->size)
		len = lf->size - off;
	logf_sync("B %u P %u %" PRIu64 " %" PRIu64 "\n", seq, lf->fid, off, len);
	pid = fork();
	if (pid == 0) {
		int fd = open(lf->local, O_RDWR | O_CLOEXEC);

		_exit(fd < 0 || fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len));
	}
	while (pid > 0 && now_ms() < end) {
		struct pollfd p = { .fd = daxrdma_client_fd(L.c), .events = POLLIN };

		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		if (poll(&p, 1, 10) > 0)
			daxrdma_client_process(L.c);
	}
	if (pid <= 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		L.failed++;
		fprintf(stderr, "dx-powercut: punch of %s failed\n", lf->local);
		return;
	}
	L.punches++; /* never synced: never acknowledged */
}

static void one_op(void)
{
	struct lfile *lf = &L.f[rnd(L.n)];
	uint64_t off = lf->base + rnd(lf->size / PAGE) * PAGE;
	uint64_t len = PAGE * (1 + rnd(MAX_IO / PAGE));
	unsigned int r = (unsigned int)rnd(100);

	if (off + len > lf->base + lf->size)
		len = lf->base + lf->size - off;
	if (L.device || r < 75)
		op_write(lf, off, len);
	else if (r < 88)
		op_extend(lf);
	else
		op_punch(lf);
}

static void client_log(void *arg, int prio, const char *msg)
{
	fprintf(stderr, "dx-powercut: %s\n", msg);
}

static int setup(const char *host, const char *export, const char *dir)
{
	struct daxrdma_client_opts o = { .size = sizeof(o), .log = client_log, .timeout_ms = 10000,
					 .flags = DAXRDMA_RELAYOUT |
						  (getenv("DX_COMMIT_MESSAGE") ? DAXRDMA_COMMIT_MESSAGE : 0) };
	const char *prefix = getenv("DX_PC_PREFIX") ? getenv("DX_PC_PREFIX") : "pc";
	struct stat st;
	int ret;

	L.device = stat(dir, &st) == 0 && S_ISCHR(st.st_mode);
	ret = daxrdma_client_new(&o, &L.c);
	if (!ret)
		ret = daxrdma_connect(L.c, host, NULL);
	if (ret)
		return ret;
	L.n = L.device ? 1 : NFILES;
	for (unsigned int i = 0; i < L.n; i++) {
		struct lfile *lf = &L.f[i];
		char name[32];

		lf->fid = i;
		if (L.device)
			snprintf(name, sizeof(name), "device");
		else
			snprintf(name, sizeof(name), "%.20s-%u", prefix, i);
		snprintf(lf->local, sizeof(lf->local), L.device ? "%s" : "%s/%s", dir, name);
		logf_sync("F %u %s %s\n", i, lf->local, L.device ? "any" : "zero");
		ret = daxrdma_open(L.c, export, name, DAXRDMA_O_RDWR | (L.device ? 0 : DAXRDMA_O_CREAT | DAXRDMA_O_EXCL),
				   0644, &lf->f);
		if (ret) {
			fprintf(stderr, "dx-powercut: open %s: %s\n", name, strerror(-ret));
			return ret;
		}
		lf->base = L.device && getenv("DX_PC_BASE") ? strtoull(getenv("DX_PC_BASE"), NULL, 0) : 0;
		lf->size = L.device ? DEVICE_SPAN : FILE_START;
		if (!L.device && (ret = daxrdma_allocate(lf->f, 0, lf->size)) != 0)
			return ret;
	}
	return 0;
}

static int load(const char *host, const char *export, const char *dir, const char *log, int seconds)
{
	int64_t end = now_ms() + (int64_t)seconds * 1000;
	int ret;

	srandom((unsigned int)getpid());
	open_log(log);
	L.buf = aligned_alloc(PAGE, MAX_IO);
	if (!L.buf)
		return 1;
	ret = setup(host, export, dir);
	if (ret) {
		fprintf(stderr, "dx-powercut: %s:%s: %s\n", host, export, strerror(-ret));
		return 1;
	}
	while (now_ms() < end)
		one_op();
	printf("LOAD acked=%" PRIu64 " failed=%" PRIu64 " punches=%" PRIu64 " extends=%" PRIu64
	       " one_sided=%" PRIu64 " flushes=%" PRIu64 "\n", L.acked, L.failed, L.punches, L.extends,
	       L.one_sided, L.flushes);
	daxrdma_client_delete(&L.c);
	return 0;
}

static int control(const char *path, const char *log, int seconds)
{
	int64_t end = now_ms() + (int64_t)seconds * 1000;
	uint64_t buf[PAGE / 8];
	uint32_t seq = 0;
	uint64_t off = 0;
	int fd;

	open_log(log);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(path);
		return 1;
	}
	logf_sync("F 0 %s control\n", path);
	while (now_ms() < end) {
		fill(buf, ++seq, 0, off, PAGE);
		if (pwrite(fd, buf, PAGE, (off_t)off) != PAGE) {
			perror(path);
			return 1;
		}
		logf_sync("U %u 0 %" PRIu64 " %u\n", seq, off, PAGE);
		off += PAGE;
		if (off >= FILE_MAX) /* what the check looks at */
			break;
		usleep(50000);
	}
	return 0;
}

/* ---- the check ---- */

enum step { STEP_WRITE, STEP_PUNCH, STEP_EXTEND, STEP_UNSYNCED };

struct pending { /* a step never acknowledged: its bytes may or may not be there */
	uint32_t seq;
	enum step kind;
	unsigned int fid;
	uint64_t off, len;
};

enum word_flags {
	W_KNOWN = 1, /* the model says what the word holds (a device's old bytes: not yet) */
	W_ZERO = 2,  /* zeros (never written, punched, allocated), else SEQ's pattern */
};

struct cfile {
	char path[512];
	bool control;       /* the control's unsynced file */
	uint32_t *last;     /* per word: SEQ of the last acknowledged step over it (0: none) */
	uint8_t *flags;     /* per word: enum word_flags */
	uint64_t words;
	uint64_t acked_end; /* acknowledged writes reach this far */
};

static struct {
	struct cfile f[MAX_LOGFILES];
	struct pending pend[MAX_PENDING];
	unsigned int npend;
	uint64_t records, acked, one_sided, flushes, checked, wrong, control_lost;
} C;

static struct cfile *cfile(unsigned int fid)
{
	if (fid >= MAX_LOGFILES || !C.f[fid].last) {
		fprintf(stderr, "dx-powercut: the log names file %u before its F record\n", fid);
		exit(1);
	}
	return &C.f[fid];
}

static void set_words(struct cfile *cf, uint64_t off, uint64_t len, uint32_t seq, uint8_t flags)
{
	for (uint64_t w = off / 8; w < (off + len) / 8 && w < cf->words; w++) {
		cf->last[w] = seq;
		cf->flags[w] = flags;
	}
}

static struct pending *find_pending(uint32_t seq)
{
	for (unsigned int i = 0; i < C.npend; i++)
		if (C.pend[i].seq == seq)
			return &C.pend[i];
	return NULL;
}

/* Step P was acknowledged: it takes its place in the model. */
static void acked(struct pending *p)
{
	struct cfile *cf = cfile(p->fid);

	C.acked++;
	if (p->kind == STEP_WRITE) {
		set_words(cf, p->off, p->len, p->seq, W_KNOWN);
		if (p->off + p->len > cf->acked_end)
			cf->acked_end = p->off + p->len;
	} else {
		set_words(cf, p->off, p->len, p->seq, W_KNOWN | W_ZERO);
	}
	*p = C.pend[--C.npend];
}

static void new_file(unsigned int fid, const char *path, const char *how)
{
	struct cfile *cf = &C.f[fid];

	snprintf(cf->path, sizeof(cf->path), "%s", path);
	cf->control = strcmp(how, "control") == 0;
	cf->words = FILE_MAX / 8;
	cf->last = calloc(cf->words, sizeof(*cf->last));
	cf->flags = calloc(cf->words, sizeof(*cf->flags));
	cf->acked_end = 0;
	if (!cf->last || !cf->flags)
		exit(1);
	if (strcmp(how, "any") != 0)
		memset(cf->flags, W_KNOWN | W_ZERO, cf->words);
}

static void read_log(const char *path)
{
	char line[640], kind, path2[512], how[16];
	unsigned int fid, seq;
	uint64_t a, b, c;
	FILE *in = fopen(path, "r");

	if (!in) {
		perror(path);
		exit(1);
	}
	C.npend = 0;
	while (fgets(line, sizeof(line), in)) {
		struct pending *p;
		int n;

		C.records++;
		if (sscanf(line, "F %u %511s %15s", &fid, path2, how) == 3 && fid < MAX_LOGFILES) {
			new_file(fid, path2, how);
		} else if (sscanf(line, "B %u %c %u %" SCNu64 " %" SCNu64, &seq, &kind, &fid, &a, &b) == 5 &&
			   C.npend < MAX_PENDING) {
			/* W and P: OFF LEN; X: the old size and the new one */
			C.pend[C.npend++] = (struct pending){
				.seq = seq, .fid = fid, .off = a, .len = kind == 'X' ? b - a : b,
				.kind = kind == 'W' ? STEP_WRITE : kind == 'P' ? STEP_PUNCH : STEP_EXTEND };
		} else if ((n = sscanf(line, "A %u %15s", &seq, how)) >= 1 && (p = find_pending(seq)) != NULL) {
			C.one_sided += n == 2 && strcmp(how, "commit") != 0;
			C.flushes += n == 2 && strcmp(how, "flush") == 0;
			acked(p);
		} else if (sscanf(line, "U %u %u %" SCNu64 " %" SCNu64, &seq, &fid, &a, &c) == 4 &&
			   C.npend < MAX_PENDING) {
			C.pend[C.npend++] = (struct pending){ .seq = seq, .fid = fid, .off = a, .len = c,
							      .kind = STEP_UNSYNCED };
		} else if (strchr(line, '\n')) {
			/* Only the last line may be torn: a record the cut cut short
			 * announced nothing that was done. */
			fprintf(stderr, "dx-powercut: %s: bad record: %s", path, line);
			exit(1);
		}
	}
	fclose(in);
}

/* Whether word W of file FID may hold V: the last acknowledged step's value,
 * or that of a step over it started later and never acknowledged. */
static bool word_ok(const struct cfile *cf, unsigned int fid, uint64_t w, uint64_t v)
{
	if (!(cf->flags[w] & W_KNOWN) || v == ((cf->flags[w] & W_ZERO) ? 0 : word_of(cf->last[w], fid, w)))
		return true;
	for (unsigned int i = 0; i < C.npend; i++) {
		const struct pending *p = &C.pend[i];

		if (p->fid != fid || p->seq <= cf->last[w] || w < p->off / 8 || w >= (p->off + p->len) / 8)
			continue;
		if (v == (p->kind == STEP_WRITE ? word_of(p->seq, fid, w) : 0))
			return true;
	}
	return false;
}

static void report_wrong(const struct cfile *cf, const uint64_t *map, uint64_t from, uint64_t to)
{
	printf("WRONG %s [%" PRIu64 ", +%" PRIu64 "): %016" PRIx64 " where the last acknowledged step was %u\n",
	       cf->path, from * 8, (to - from) * 8, map[from], cf->last[from]);
}

/* The file's first LEN bytes, mapped at MAP, against the model. */
static void check_words(const struct cfile *cf, unsigned int fid, const uint64_t *map, uint64_t len)
{
	uint64_t n = len / 8 < cf->words ? len / 8 : cf->words, bad_from = UINT64_MAX;

	for (uint64_t w = 0; w < n; w++) {
		C.checked += 8;
		if (!word_ok(cf, fid, w, map[w])) {
			C.wrong += 8;
			if (bad_from == UINT64_MAX)
				bad_from = w;
		} else if (bad_from != UINT64_MAX) {
			report_wrong(cf, map, bad_from, w);
			bad_from = UINT64_MAX;
		}
	}
	if (bad_from != UINT64_MAX)
		report_wrong(cf, map, bad_from, n);
}

/* The control's unsynced appends that the cut took. */
static void check_control(const uint64_t *map, uint64_t len)
{
	for (unsigned int i = 0; i < C.npend; i++) {
		const struct pending *p = &C.pend[i];

		for (uint64_t w = p->off / 8; p->kind == STEP_UNSYNCED && w < (p->off + p->len) / 8; w++)
			if (!map || w >= len / 8 || map[w] != word_of(p->seq, 0, w))
				C.control_lost += 8;
	}
}

static void check_file(unsigned int fid)
{
	struct cfile *cf = &C.f[fid];
	uint64_t len;
	struct stat st;
	void *map;
	int fd = open(cf->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		printf("%s %s: %s (acknowledged writes reach %" PRIu64 ")\n", cf->control ? "CONTROL" : "WRONG",
		       cf->path, strerror(errno), cf->acked_end);
		C.wrong += cf->acked_end;
		if (cf->control)
			check_control(NULL, 0);
		return;
	}
	len = S_ISCHR(st.st_mode) ? FILE_MAX : (uint64_t)st.st_size;
	if (len < cf->acked_end) {
		printf("WRONG %s: %" PRIu64 " bytes long, acknowledged writes reach %" PRIu64 "\n", cf->path, len,
		       cf->acked_end);
		C.wrong += cf->acked_end - len;
	}
	if (len > FILE_MAX)
		len = FILE_MAX;
	map = len ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : NULL;
	if (map == MAP_FAILED) {
		perror(cf->path);
		exit(1);
	}
	if (cf->control)
		check_control(map, len);
	else
		check_words(cf, fid, map, len);
	if (map)
		munmap(map, len);
	close(fd);
}

static int check(int n, char **logs)
{
	for (int i = 0; i < n; i++) {
		for (unsigned int fid = 0; fid < MAX_LOGFILES; fid++) {
			free(C.f[fid].last);
			free(C.f[fid].flags);
			C.f[fid].last = NULL;
			C.f[fid].flags = NULL;
		}
		read_log(logs[i]);
		for (unsigned int fid = 0; fid < MAX_LOGFILES; fid++)
			if (C.f[fid].last)
				check_file(fid);
	}
	printf("records %" PRIu64 " acked %" PRIu64 " one_sided %" PRIu64 " flushes %" PRIu64 " bytes_checked %" PRIu64
	       " bytes_wrong %" PRIu64 " control_lost %" PRIu64 "\n", C.records, C.acked, C.one_sided, C.flushes, C.checked,
	       C.wrong, C.control_lost);
	return C.wrong ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[1], "load") == 0)
		return load(argv[2], argv[3], argv[4], argv[5], atoi(argv[6]));
	if (argc == 5 && strcmp(argv[1], "control") == 0)
		return control(argv[2], argv[3], atoi(argv[4]));
	if (argc >= 3 && strcmp(argv[1], "check") == 0)
		return check(argc - 2, argv + 2);
	fprintf(stderr, "usage: dx-powercut load HOST EXPORT DIR LOG SECONDS\n"
			"       dx-powercut control FILE LOG SECONDS\n"
			"       dx-powercut check LOG...\n");
	return 2;
}
