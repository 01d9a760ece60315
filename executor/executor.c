/*
 * daxcheck's executor: runs the model's programs on a real kernel, in the
 * guest the VM boots (vm/).  Programs come as plain text, one operation a
 * line, with every index already resolved by the host to a concrete fd,
 * page or mapping slot; each operation's outcome goes back as a line.
 *
 *   P <id>                          a program starts: fresh files under /mnt/p<id>/
 *   F <i> <dax> <pages> <sparse> <v0> <v1> <v2> <v3>
 *                                   file i: DAX or not, its size in pages,
 *                                   whether the pages below size are holes,
 *                                   and the byte each page is filled with
 *   B <seconds>                     /proc/sys/fs/lease-break-time for this program
 *   G                               the files are set up: run the operations
 *   o <file> <write> <nonblock>     open(2), O_RDWR or O_RDONLY, O_NONBLOCK or not
 *   c <fd>                          close(2)
 *   m <slot> <fd> <pgoff> <pages> <type> <sync> <direct> <write>
 *                                   mmap(2); type 0 MAP_SHARED, 1 MAP_PRIVATE,
 *                                   2 MAP_SHARED_VALIDATE
 *   u <slot>                        munmap(2)
 *   v <slot> <page> <pages>         madvise(2) MADV_DONTNEED of pages of a mapping
 *   l <slot> <page>                 a CPU load of a mapped page's first byte
 *   s <slot> <page> <val>           a CPU store of val over the mapped page
 *   w <fd> <page> <val>             pwrite(2) of a page filled with val
 *   t <fd> <pages>                  ftruncate(2)
 *   T <file> <pages>                truncate(2) by the file's path
 *   U <file>                        unlink(2) of the file's path
 *   A <fd> <mode> <page> <pages>    fallocate(2) with the FALLOC_FL_* bits of mode
 *   K <fd> <srcfd> <srcpage> <page> <pages>
 *                                   ioctl(2) FICLONERANGE onto fd from srcfd
 *                                   (pages 0: to the source's EOF)
 *   r <fd> <page> <slot> <bufpage> <aio>
 *                                   pread(2) of one page with O_DIRECT into a mapped
 *                                   page; aio: io_submit(2) IOCB_CMD_PREAD instead,
 *                                   its completion waited for (io_getevents(2))
 *   x <fd> <page> <slot> <bufpage> <aio>
 *                                   the same, writing: pwrite(2) or IOCB_CMD_PWRITE
 *   f <fd>                          fcntl(2) F_MAP_DIRECT (never upstream: EINVAL)
 *   L <fd> <type>                   fcntl(2) F_SETLEASE: 0 F_RDLCK, 1 F_WRLCK, 2 F_UNLCK
 *   J <fd>                          fcntl(2) F_GETLEASE (ok: the lease type)
 *   i                               sigtimedwait(2) for SIGIO, not waiting (ok 29,
 *                                   or EAGAIN); SIGIO stays blocked throughout
 *   k <sleep>                       tick: a second, really slept (1.1 s) if sleep is 1
 *   g <mr> <slot> <page> <pages> <unaligned>
 *                                   ibv_reg_mr(3) of a mapping's pages (soft-RoCE,
 *                                   rdma_rxe); unaligned: from the middle of the
 *                                   first page
 *   d <mr>                          ibv_dereg_mr(3) (an MR never registered: a
 *                                   handle the kernel never gave)
 *   W <mr> <page> <val>             the NIC: an RDMA WRITE of val over the MR's part
 *                                   of its page, from a loopback RC QP, waited for
 *   Q <mr> <page>                   the NIC: an RDMA READ of the page's middle byte
 *   q <slot> <page> <pages>         io_uring_register(2) IORING_REGISTER_BUFFERS of one
 *                                   buffer, a mapping's pages, with the process's ring
 *   z                               io_uring_register(2) IORING_UNREGISTER_BUFFERS
 *   h <fd> <page> <bufpage>         io_uring READ_FIXED of a file page into a page of
 *                                   the registered buffer, its completion waited for
 *   j <fd> <page> <bufpage>         the same, WRITE_FIXED
 *   y                               fork(2): the child keeps its copies of the
 *                                   fds and mappings, and waits to be killed
 *                                   when the program ends
 *   E                               the program ends: report the files
 *
 *   C [<seconds>]                   a concurrent section (daxcheck conform --threads),
 *                                   hung after <seconds> (default SECTION_SECONDS):
 *   <t> <line>                      thread t's next operation, any of the above
 *   N                               runs the section: a forked copy of the process
 *                                   runs one thread per t, each its operations in
 *                                   order, all released together
 *
 * Out, one line each:
 *   R <id> <n> ok <value>           operation n returned (value: fd, byte loaded or read, or 0)
 *   R <id> <n> err <ERRNO>
 *   R <id> <n> sig <SIGBUS|SIGSEGV>
 *   S <id> <i> <bytes> <dax> <b0> <b1> ...   file i at the end: size, DAX state, middle byte of each page
 *   S <id> <i> -                    file i at the end: unlinked
 *   X <id> <message>                the executor could not run the program as asked
 *
 *   H <id> <n> <t> <call> <return> <outcome>
 *                                   section operation n of thread t: called and returned
 *                                   at these CLOCK_MONOTONIC ns since the section began
 *                                   (return -1: it had not returned in time)
 *   Y <id> <text>                   a hung section: every task's kernel stack, and
 *                                   whether SIGKILL ended it
 *
 * Every writer fills a whole page (or, for the NIC, the MR's part of it),
 * and every reader looks at the byte in the middle of the page (MID): the
 * one byte an unaligned registration, which starts there, still covers.
 *
 * Built static by `daxcheck vm setup`; runs as the guest's init's child.
 */
#include "ops.c"

/* ---- a concurrent section ---- */

#include <pthread.h>

#define SECTION_OPS 48
#define SECTION_THREADS 4
#define SECTION_SECONDS 20

struct sec_out {
	volatile int state; /* 0 not started, 1 called, 2 returned */
	long long call, ret;
	char outcome[64];
};
static struct { int thread; char line[256]; } sec[SECTION_OPS];
static int nsec, sec_seconds = SECTION_SECONDS;
static struct sec_out *so;
static pthread_barrier_t sec_go;
static struct timespec sec_t0;

static long long since_t0(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - sec_t0.tv_sec) * 1000000000LL + (t.tv_nsec - sec_t0.tv_nsec);
}

static void *sec_thread(void *arg) {
	int t = (int)(long)arg;
	silent = 1;
	pthread_barrier_wait(&sec_go);
	for (int i = 0; i < nsec; i++) {
		if (sec[i].thread != t) continue;
		char line[256];
		memcpy(line, sec[i].line, sizeof line);
		so[i].call = since_t0();
		so[i].state = 1;
		run_op(-1, i, line);
		so[i].ret = since_t0();
		memcpy(so[i].outcome, outcome, sizeof so[i].outcome);
		__atomic_store_n(&so[i].state, 2, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* Runs the section in a forked copy of the process (a hung section is
 * killed without losing the executor); 0 when the executor can go on. */
static int run_section(int id) {
	int threads = 0;
	for (int i = 0; i < nsec; i++) if (sec[i].thread + 1 > threads) threads = sec[i].thread + 1;
	memset(so, 0, sizeof *so * SECTION_OPS);
	fflush(out);
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit rl = { 64, 64 };
		setrlimit(RLIMIT_NOFILE, &rl); /* the twins; a section opens nothing of its own */
		direct_twins();
		pthread_t th[SECTION_THREADS];
		pthread_barrier_init(&sec_go, NULL, threads + 1);
		for (int t = 0; t < threads; t++) pthread_create(&th[t], NULL, sec_thread, (void *)(long)t);
		clock_gettime(CLOCK_MONOTONIC, &sec_t0);
		pthread_barrier_wait(&sec_go);
		for (int t = 0; t < threads; t++) pthread_join(th[t], NULL);
		_exit(0);
	}
	if (pid < 0) { fprintf(out, "X %d fork for the section: %s\n", id, strerror(errno)); return 0; }
	int status, done = 0, dead = 1;
	for (int ms = 0; ms < sec_seconds * 1000 && !(done = waitpid(pid, &status, WNOHANG)); ms += 10) usleep(10000);
	if (!done) {
		char prefix[32];
		snprintf(prefix, sizeof prefix, "Y %d ", id);
		print_stacks(pid, prefix);
		kill(pid, SIGKILL);
		for (int ms = 0; ms < 5000 && !(done = waitpid(pid, &status, WNOHANG)); ms += 10) usleep(10000);
		fprintf(out, "Y %d SIGKILL %s\n", id, done ? "ended it" : "did not end it within 5 s");
		dead = done;
	}
	for (int i = 0; i < nsec; i++)
		fprintf(out, "H %d %d %d %lld %lld %s\n", id, i, sec[i].thread, so[i].state ? so[i].call : -1LL, so[i].state == 2 ? so[i].ret : -1LL, so[i].state == 2 ? so[i].outcome : so[i].state ? "hang" : "none");
	nsec = 0;
	fflush(out);
	if (!dead) fprintf(out, "X %d the section's tasks do not die: no further programs\n", id);
	return dead;
}

int main(int argc, char **argv) {
	const char *progs = argc > 1 ? argv[1] : "/progs";
	if (argc > 2) dax_root = page_root = argv[2]; /* the files' directory (default /mnt) */
	if (dup2(1, OUT_FD) < 0) return 2;
	out = fdopen(OUT_FD, "w");
	int pfd = open(progs, O_RDONLY);
	if (pfd < 0) { fprintf(out, "X -1 no programs at %s\n", progs); return 2; }
	/* out of the way of the programs' fds, which start at 0 */
	if (dup2(pfd, IN_FD) < 0) return 2;
	close(pfd);
	FILE *in = fdopen(IN_FD, "r");
	setvbuf(out, NULL, _IOLBF, 0);
	/* the RDMA device's fds out of the programs' way: above 31 */
	int null = open("/dev/null", O_RDWR);
	for (int fd = 0; fd < 32; fd++) if (fd != null) dup2(null, fd);
	/* before the device is opened: uverbs refuses a descriptor whose
	 * opener's credentials have since changed (ib_safe_file_access) */
	memlock_limit(MEMLOCK_PAGES);
	rdma_init();
	ring_init();
	/* the model's fd numbers start at 0 and stop at LIMITS.fds */
	for (int fd = 0; fd < 32; fd++) close(fd);
	struct rlimit rl = { 6, 6 };
	setrlimit(RLIMIT_NOFILE, &rl);
	/* the model's files never grow past PAGES (RLIMIT_FSIZE: EFBIG, and
	 * SIGXFSZ, ignored, for an INSERT_RANGE that would) */
	struct rlimit fsize = { (rlim_t)PAGES * PAGE, (rlim_t)PAGES * PAGE };
	setrlimit(RLIMIT_FSIZE, &fsize);
	program_signals();
	so = mmap(NULL, sizeof *so * SECTION_OPS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (so == MAP_FAILED) return 2;
	char line[256];
	int id = -1, n = 0;
	while (fgets(line, sizeof line, in)) {
		switch (line[0]) {
		case 'P':
			id = atoi(line + 2);
			n = 0;
			start_program(id);
			break;
		case 'F': {
			int i, dax, pages, sparse, v[PAGES] = {0};
			sscanf(line + 2, "%d %d %d %d %d %d %d %d", &i, &dax, &pages, &sparse, &v[0], &v[1], &v[2], &v[3]);
			if (i >= 0 && i < FILES) {
				setup_file(id, i, dax, pages, sparse, v);
				if (i + 1 > nfiles) nfiles = i + 1;
			}
			break;
		}
		case 'B': {
			FILE *f = fopen("/proc/sys/fs/lease-break-time", "w");
			if (!f || fprintf(f, "%d\n", atoi(line + 2)) < 0) fprintf(out, "X %d cannot set lease-break-time\n", id);
			if (f) fclose(f);
			break;
		}
		case 'G':
			break;
		case 'E':
			end_program(id);
			break;
		case 'C':
			nsec = 0;
			sec_seconds = atoi(line + 1) > 0 ? atoi(line + 1) : SECTION_SECONDS;
			break;
		case 'N':
			if (!run_section(id)) { fflush(out); return 1; }
			break;
		case '0': case '1': case '2': case '3':
			if (nsec < SECTION_OPS) {
				sec[nsec].thread = line[0] - '0';
				snprintf(sec[nsec].line, sizeof sec[nsec].line, "%s", line + 2);
				nsec++;
			}
			break;
		case '\n':
		case '#':
			break;
		default:
			run_op(id, n++, line);
		}
	}
	fprintf(out, "D\n");
	fflush(out);
	return 0;
}
