/*
 * The driver of a daxcheck reproducer.  `daxcheck csource` writes a C file
 * made of ops.c (the executor's operations), the counterexample as data
 * (the files, the operations, who waits for whom) and this file.
 *
 * Each attempt runs in a child process: it makes the files, then runs one
 * thread per program thread (one process per program process), each
 * operation started once the operations the model ran before it have
 * started or returned, as the counterexample's schedule has them.  Then
 * it looks for what the real kernel can show of the divergence:
 *   results    an operation's outcome outside what the reference allows
 *   blocks     an asynchronous transfer that lands in a DAX block its
 *              page no longer owns alone (read from the raw device before
 *              and after the transfer completes)
 *   coherence  a shared mapping that reads other than read(2) of its file
 *   hang       an operation that has not returned after HANG_SECONDS;
 *              every task's kernel stack is printed and SIGKILL is tried
 * and the kernel's WARNINGs and BUGs (dmesg, when readable).
 */
#include <pthread.h>
#include <stdarg.h>
#include <sys/sysmacros.h>
#include <linux/fiemap.h>
#include <sys/klog.h>

#define RAW_FD 102
#define MAXOPS 64
#define MAXT 8

struct rfile { int dax, pages, sparse, vals[PAGES]; };
struct rop {
	int thread;
	const char *line; /* the executor's line, every index resolved */
	const char *text; /* the operation as daxcheck prints it */
	const char *model; /* the model's outcome; NULL: it never returned in the counterexample */
	const char *allowed; /* what the reference allows, "|"-separated; NULL: not the diverging operation */
	int starts[MAXT]; /* operations of each thread that must have started first */
	int returns[MAXT]; /* ... and returned first */
	int xfer_file, xfer_page; /* an asynchronous transfer into or out of this DAX page; -1: none */
	int hangs; /* the model says it never returns */
};
struct rmap { int slot, file, pgoff, pages, shared; };

/* Shared by the attempt's processes and the monitor. */
struct shared {
	volatile int started[MAXT], returned[MAXT];
	volatile int state[MAXOPS]; /* 0 not started, 1 started, 2 returned */
	char outcome[MAXOPS][64];
	volatile int pids[MAXT + 1];
	int facts; /* bit 0 results, 1 blocks, 2 coherence, 3 hang */
	char why[16][200];
	int nwhy;
};
static struct shared *sh;

static void fact(int bit, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fact(int bit, const char *fmt, ...) {
	va_list ap;
	__atomic_or_fetch(&sh->facts, 1 << bit, __ATOMIC_SEQ_CST);
	int i = __atomic_fetch_add(&sh->nwhy, 1, __ATOMIC_SEQ_CST);
	if (i >= 16) return;
	va_start(ap, fmt);
	vsnprintf(sh->why[i], sizeof sh->why[i], fmt, ap);
	va_end(ap);
}

static int attempt_id;
static long initial_block[FILES][PAGES]; /* physical byte address of each DAX page at setup; -1 none */

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* The physical address of a file page, from FIEMAP; -1 for a hole or an
 * unwritten extent; `shared`: the extent is shared with another file. */
static long phys_of(const char *path, int page, int *shared) {
	int fd = open(path, O_RDONLY);
	if (fd < 0) return -1;
	union { struct fiemap f; char buf[sizeof(struct fiemap) + 4 * sizeof(struct fiemap_extent)]; } u;
	memset(&u, 0, sizeof u);
	u.f.fm_start = (unsigned long long)page * PAGE;
	u.f.fm_length = PAGE;
	u.f.fm_flags = FIEMAP_FLAG_SYNC;
	u.f.fm_extent_count = 4;
	long p = -1;
	if (ioctl(fd, FS_IOC_FIEMAP, &u.f) == 0) {
		for (unsigned i = 0; i < u.f.fm_mapped_extents; i++) {
			struct fiemap_extent *e = &u.f.fm_extents[i];
			unsigned long long off = (unsigned long long)page * PAGE;
			if (off < e->fe_logical || off >= e->fe_logical + e->fe_length) continue;
			if (e->fe_flags & FIEMAP_EXTENT_UNWRITTEN) break;
			p = (long)(e->fe_physical + (off - e->fe_logical));
			if (shared) *shared = !!(e->fe_flags & FIEMAP_EXTENT_SHARED);
		}
	}
	close(fd);
	return p;
}

static int raw_byte(long phys) {
	static char *buf;
	if (!buf && posix_memalign((void **)&buf, PAGE, PAGE)) return -1;
	if (pread(RAW_FD, buf, PAGE, phys) != PAGE) return -1;
	return (unsigned char)buf[MID];
}

static void wait_turn(const struct rop *o) {
	for (;;) {
		int ok = 1;
		for (int u = 0; u < NTHREADS_; u++)
			if (sh->started[u] < o->starts[u] || sh->returned[u] < o->returns[u]) ok = 0;
		if (ok) return;
		sched_yield();
	}
}

static void *run_thread(void *arg) {
	int t = (int)(long)arg;
	for (int i = 0; i < NOPS_; i++) {
		const struct rop *o = &rops[i];
		if (o->thread != t) continue;
		wait_turn(o);
		sh->state[i] = 1;
		__atomic_add_fetch(&sh->started[t], 1, __ATOMIC_SEQ_CST);
		char line[256];
		snprintf(line, sizeof line, "%s", o->line);
		run_op(attempt_id, i, line);
		snprintf(sh->outcome[i], sizeof sh->outcome[i], "%s", outcome);
		sh->state[i] = 2;
		__atomic_add_fetch(&sh->returned[t], 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

static int allows(const char *allowed, const char *got) {
	char buf[200];
	snprintf(buf, sizeof buf, "%s", allowed);
	for (char *s = strtok(buf, "|"); s; s = strtok(NULL, "|"))
		if (!strcmp(s, got) || (!strcmp(s, "ok") && !strncmp(got, "ok", 2))) return 1;
	return 0;
}

/* The checks once every thread is done: blocks, then coherence. */
static void check_end(void) {
	struct rlimit rl = { 64, 64 };
	setrlimit(RLIMIT_NOFILE, &rl);
	long watch[MAXOPS];
	int before[MAXOPS];
	for (int i = 0; i < NOPS_; i++) {
		const struct rop *o = &rops[i];
		watch[i] = -1;
		if (o->xfer_file < 0 || sh->state[i] != 2 || strncmp(sh->outcome[i], "ok", 2)) continue;
		long p = initial_block[o->xfer_file][o->xfer_page];
		if (p < 0) continue;
		int shared = 0;
		long now_p = phys_of(paths[o->xfer_file], o->xfer_page, &shared);
		if (now_p == p && !shared) continue; /* the page still owns its block alone */
		watch[i] = p;
		before[i] = raw_byte(p);
	}
	int lost = aio_reap(HANG_SECONDS);
	if (lost) fact(3, "%d asynchronous transfer(s) did not complete within %d s", lost, HANG_SECONDS);
	for (int i = 0; i < NOPS_; i++) {
		if (watch[i] < 0) continue;
		int after = raw_byte(watch[i]);
		int shared = 0;
		long now_p = phys_of(paths[rops[i].xfer_file], rops[i].xfer_page, &shared);
		if (after != before[i])
			fact(1, "op %d %s: its transfer wrote block %#lx (byte %d -> %d) after file %d page %d %s it", i, rops[i].text, watch[i], before[i], after,
			     rops[i].xfer_file, rops[i].xfer_page, now_p == watch[i] ? "came to share" : "no longer owned");
	}
	for (int m = 0; m < NMAPS_; m++) {
		const struct rmap *r = &rmaps[m];
		if (!r->shared || !slot_addr[r->slot]) continue;
		struct stat st;
		if (stat(paths[r->file], &st) < 0) continue;
		int fd = open(paths[r->file], O_RDONLY);
		if (fd < 0) continue;
		for (int pg = 0; pg < r->pages && (long)(r->pgoff + pg) * PAGE < st.st_size; pg++) {
			volatile char *p = (volatile char *)slot_addr[r->slot] + (long)pg * PAGE;
			unsigned char via_read = 0;
			if (pread(fd, &via_read, 1, (long)(r->pgoff + pg) * PAGE + MID) != 1) continue;
			if (sigsetjmp(fault_jmp, 1)) continue;
			unsigned char via_map = (unsigned char)p[MID];
			if (via_map != via_read)
				fact(2, "mapping %d of file %d page %d reads %u; read(2) of the file reads %u", r->slot, r->file, r->pgoff + pg, via_map, via_read);
		}
		close(fd);
	}
	for (int i = 0; i < NOPS_; i++) {
		const struct rop *o = &rops[i];
		if (o->allowed && sh->state[i] == 2 && !allows(o->allowed, sh->outcome[i]))
			fact(0, "op %d %s returned %s; the reference allows %s", i, o->text, sh->outcome[i], o->allowed);
	}
}

/* One process of the program: its threads, then (process 0) the checks. */
static void run_process(int proc) {
	pthread_t th[MAXT];
	int n = 0, ids[MAXT];
	for (int t = 0; t < NTHREADS_; t++)
		if (thread_proc[t] == proc) {
			ids[n] = t;
			pthread_create(&th[n], NULL, run_thread, (void *)(long)t);
			n++;
		}
	for (int i = 0; i < n; i++) pthread_join(th[i], NULL);
	(void)ids;
	if (proc > 0) aio_reap(HANG_SECONDS); /* the block check looks at process 0's transfers only */
}

/* The child of one attempt. */
static void attempt_child(void) {
	start_program(attempt_id);
	for (int i = 0; i < NFILES_; i++) {
		setup_file(attempt_id, i, rfiles[i].dax, rfiles[i].pages, rfiles[i].sparse, rfiles[i].vals);
		nfiles = i + 1;
		for (int pg = 0; pg < PAGES; pg++) initial_block[i][pg] = rfiles[i].dax && pg < rfiles[i].pages ? phys_of(paths[i], pg, NULL) : -1;
	}
	FILE *f = fopen("/proc/sys/fs/lease-break-time", "w");
	if (f) { fprintf(f, "%d\n", LEASE_BREAK_TIME_); fclose(f); }
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 32; fd++) if (fd != null) dup2(null, fd);
	if (NEED_RDMA_) { memlock_limit(MEMLOCK_PAGES); rdma_init(); }
	if (NEED_RING_) ring_init();
	for (int fd = 0; fd < 32; fd++) close(fd);
	struct rlimit rl = { LIMIT_FDS_, 64 };
	setrlimit(RLIMIT_NOFILE, &rl);
	aio_deferred = 1;
	int nprocs = 1;
	for (int t = 0; t < NTHREADS_; t++) if (thread_proc[t] + 1 > nprocs) nprocs = thread_proc[t] + 1;
	for (int p = 1; p < nprocs; p++) {
		pid_t pid = fork();
		if (pid == 0) { sh->pids[p] = getpid(); run_process(p); _exit(0); }
	}
	run_process(0);
	for (int p = 1; p < nprocs; p++) wait(NULL);
	check_end();
	_exit(0);
}

/* The kernel's WARNINGs and BUGs since `mark` bytes of its log. */
static int kernel_warnings(int mark, int print) {
	static char log[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, sizeof log - 1);
	if (n < 0) return -1;
	log[n] = 0;
	if (print && mark < n)
		for (char *l = strtok(log + mark, "\n"); l; l = strtok(NULL, "\n"))
			if (strstr(l, "WARNING") || strstr(l, "BUG") || strstr(l, "Oops")) fprintf(out, "repro: kernel: %s\n", l);
	return n;
}

/* Every task in uninterruptible sleep, kernel threads and workers among
 * them (SysRq w, into the kernel log): what a hung operation waits on may
 * be a task of no attempt. */
static void blocked_tasks(void) {
	static char log[1 << 20];
	int mark = klogctl(3, log, sizeof log - 1);
	int fd = open("/proc/sysrq-trigger", O_WRONLY);
	if (mark < 0 || fd < 0 || write(fd, "w", 1) != 1) {
		if (fd >= 0) close(fd);
		fprintf(out, "repro: (no SysRq: the blocked tasks are not listed)\n");
		return;
	}
	close(fd);
	usleep(300000);
	int n = klogctl(3, log, sizeof log - 1);
	if (n <= mark) return;
	log[n] = 0;
	fprintf(out, "repro: the tasks in uninterruptible sleep (SysRq w):\n");
	for (char *l = strtok(log + mark, "\n"); l; l = strtok(NULL, "\n")) fprintf(out, "repro:   %s\n", l);
}

/* Runs attempt `id`; 1 when it showed the class's consequence, -1 when a
 * hung task would not die. */
static int attempt(int id, int verbose) {
	memset(sh, 0, sizeof *sh);
	attempt_id = id;
	pid_t pid = fork();
	if (pid == 0) { sh->pids[0] = getpid(); attempt_child(); }
	double t0 = now();
	int status, done = 0, unkillable = 0, hung = 0;
	/* the operations get HANG_SECONDS, the checks (the transfers' completions) as long again */
	while (!(done = waitpid(pid, &status, WNOHANG))) {
		int busy = 0;
		for (int i = 0; i < NOPS_; i++) busy |= sh->state[i] == 1;
		if ((busy && now() - t0 > HANG_SECONDS) || now() - t0 > 2 * HANG_SECONDS + 5) { hung = 1; break; }
		usleep(10000);
	}
	if (hung) {
		for (int i = 0; i < NOPS_; i++)
			if (sh->state[i] == 1) fact(3, "op %d %s (thread %d) has not returned after %d s", i, rops[i].text, rops[i].thread, HANG_SECONDS);
		fprintf(out, "repro: attempt %d hangs; the kernel stacks of its tasks:\n", id);
		for (int p = 0; p <= MAXT; p++) if (sh->pids[p] > 0) print_stacks(sh->pids[p], "repro:   ");
		blocked_tasks();
		for (int p = MAXT; p >= 0; p--) if (sh->pids[p] > 0) kill(sh->pids[p], SIGKILL);
		double k0 = now();
		while (!(done = waitpid(pid, &status, WNOHANG)) && now() - k0 < 5) usleep(10000);
		if (done) fprintf(out, "repro: SIGKILL ends it\n");
		else { fprintf(out, "repro: SIGKILL does not end it within 5 s (an uninterruptible sleep)\n"); unkillable = 1; }
	}
	if (verbose || sh->facts)
		for (int i = 0; i < NOPS_; i++) {
			const char *got = sh->state[i] == 2 ? sh->outcome[i] : sh->state[i] == 1 ? "(not returned)" : "(not started)";
			const char *model = rops[i].model ? rops[i].model : rops[i].hangs ? "(never returns)" : "(in flight at the divergence)";
			int same = rops[i].model && (!strcmp(model, got) || (!strcmp(model, "ok") && !strncmp(got, "ok", 2)));
			if (verbose || !same) fprintf(out, "repro: attempt %d op %d T%d %-40s kernel %-16s model %s\n", id, i, rops[i].thread, rops[i].text, got, model);
		}
	for (int i = 0; i < sh->nwhy && i < 16; i++) fprintf(out, "repro: attempt %d: %s\n", id, sh->why[i]);
	if (unkillable) return -1;
	return (sh->facts & CONSEQUENCE_) ? 1 : 0;
}

static int dax_works(const char *dir) {
	char path[300];
	snprintf(path, sizeof path, "%s/.daxcheck-probe", dir);
	mkdir(path, 0755);
	if (set_dax_flag(path) < 0) return 0;
	char file[340];
	snprintf(file, sizeof file, "%s/f", path);
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) return 0;
	close(fd);
	struct statx stx;
	int ok = syscall(SYS_statx, AT_FDCWD, file, 0, STATX_BASIC_STATS, &stx) == 0 && (stx.stx_attributes & STATX_ATTR_DAX);
	unlink(file);
	rmdir(path);
	return ok;
}

int main(int argc, char **argv) {
	int times = DEFAULT_TIMES_, verbose = 0;
	const char *dirs[2] = { NULL, NULL };
	int nd = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-n") && i + 1 < argc) times = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-v")) verbose = 1;
		else if (argv[i][0] != '-' && nd < 2) dirs[nd++] = argv[i];
		else { fprintf(stderr, "usage: %s DAXDIR [SLOWDIR] [-n TIMES] [-v]\n", argv[0]); return 2; }
	}
	if (!dirs[0] || times < 1) { fprintf(stderr, "usage: %s DAXDIR [SLOWDIR] [-n TIMES] [-v]\n", argv[0]); return 2; }
	if (dup2(1, OUT_FD) < 0) return 2;
	out = fdopen(OUT_FD, "w");
	setvbuf(out, NULL, _IOLBF, 0);
	dax_root = dirs[0];
	page_root = dirs[1] ? dirs[1] : dirs[0];
	if (!dax_works(dax_root)) { fprintf(stderr, "%s: %s does not give DAX files (XFS or ext4 on pmem, mounted with -o dax=inode or dax=always)\n", argv[0], dax_root); return 2; }
	struct stat st;
	int raw = -1;
	if (stat(dax_root, &st) == 0) {
		char uevent[96], line[128], dev[160] = "";
		snprintf(uevent, sizeof uevent, "/sys/dev/block/%u:%u/uevent", major(st.st_dev), minor(st.st_dev));
		FILE *u = fopen(uevent, "r");
		while (u && fgets(line, sizeof line, u)) if (!strncmp(line, "DEVNAME=", 8)) { line[strcspn(line, "\n")] = 0; snprintf(dev, sizeof dev, "/dev/%s", line + 8); }
		if (u) fclose(u);
		if (dev[0]) raw = open(dev, O_RDONLY | O_DIRECT);
		if (raw >= 0) { dup2(raw, RAW_FD); close(raw); }
		else fprintf(out, "repro: cannot read the DAX device %s (%s): the block check is off\n", dev[0] ? dev : "(unknown)", strerror(errno));
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) return 2;
	program_signals();
	struct rlimit fsize = { (rlim_t)PAGES * PAGE, RLIM_INFINITY };
	int mark = kernel_warnings(0, 0);
	fprintf(out, "repro: %s on %s: %s, files under %s and %s, %d attempts\n", CLASS_, VARIANT_, TITLE_, dax_root, page_root, times);
	int seen = 0, ran = 0, hung = 0;
	for (int i = 0; i < times; i++) {
		pid_t pid = fork(); /* each attempt's limits stay in its own process tree */
		if (pid == 0) {
			setrlimit(RLIMIT_FSIZE, &fsize);
			int r = attempt(i, verbose);
			exit(r == 1 ? 1 : r < 0 ? 3 : (sh->facts & 8) ? 4 : 0);
		}
		int status;
		waitpid(pid, &status, 0);
		ran++;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 1) seen++;
		if (WIFEXITED(status) && (WEXITSTATUS(status) == 3 || WEXITSTATUS(status) == 4)) hung++;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 3) { fprintf(out, "repro: a task that does not die holds the files: no further attempts\n"); break; }
	}
	if (mark >= 0) kernel_warnings(mark, 1);
	else fprintf(out, "repro: cannot read the kernel log (not root?): WARNINGs unchecked\n");
	if (hung) fprintf(out, "repro: %d of %d attempts hung\n", hung, ran);
	if (seen) fprintf(out, "repro: reproduced in %d/%d runs\n", seen, ran);
	else fprintf(out, "repro: not reproduced in %d runs\n", ran);
	return seen ? 1 : 0;
}
