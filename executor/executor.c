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
 *   G                               the files are set up: run the operations
 *   o <file> <write>                open(2)
 *   c <fd>                          close(2)
 *   m <slot> <fd> <pgoff> <pages> <type> <sync> <direct> <write>
 *                                   mmap(2); type 0 MAP_SHARED, 1 MAP_PRIVATE,
 *                                   2 MAP_SHARED_VALIDATE
 *   u <slot>                        munmap(2)
 *   l <slot> <page>                 a CPU load of a mapped page's first byte
 *   s <slot> <page> <val>           a CPU store of val over the mapped page
 *   w <fd> <page> <val>             pwrite(2) of a page filled with val
 *   t <fd> <pages>                  ftruncate(2)
 *   p <fd> <page> <pages>           fallocate(2) PUNCH_HOLE|KEEP_SIZE
 *   a <fd> <page> <pages>           fallocate(2) mode 0
 *   r <fd> <page> <slot> <bufpage>  pread(2) of one page with O_DIRECT into a mapped page
 *   x <fd> <page> <slot> <bufpage>  pwrite(2) of one page with O_DIRECT from a mapped page
 *   f <fd>                          fcntl(2) F_MAP_DIRECT (never upstream: EINVAL)
 *   k                               tick: nothing to do
 *   y                               fork(2): the child keeps its copies of the
 *                                   fds and mappings, and waits to be killed
 *                                   when the program ends
 *   E                               the program ends: report the files
 *
 * Out, one line each:
 *   R <id> <n> ok <value>           operation n returned (value: fd, byte loaded, or 0)
 *   R <id> <n> err <ERRNO>
 *   R <id> <n> sig <SIGBUS|SIGSEGV>
 *   S <id> <i> <bytes> <dax> <b0> <b1> ...   file i at the end: size, DAX state, first byte of each page
 *   X <id> <message>                the executor could not run the program as asked
 *
 * Built static by `daxcheck vm setup`; runs as the guest's init's child.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif
/* MAP_DIRECT has no upstream bit.  The series' own, 0x100000, is
 * MAP_FIXED_NOREPLACE since 4.17 (a fixed mapping at the NULL hint:
 * EEXIST); what the model means by MAP_DIRECT on an upstream kernel is a
 * flag upstream does not know, so the executor passes one it does not. */
#define MAP_DIRECT_UNKNOWN 0x200000
#define F_MAP_DIRECT_SERIES 1038   /* F_LINUX_SPECIFIC_BASE + 14: not an upstream fcntl */
#ifndef STATX_ATTR_DAX
#define STATX_ATTR_DAX 0x00200000
#endif

#define PAGE 4096
#define PAGES 4
#define FILES 3
#define SLOTS 64
#define OUT_FD 100
#define IN_FD 101

static FILE *out;
static char paths[FILES][96];
static int nfiles;
static char *slot_addr[SLOTS];
static long slot_len[SLOTS];
static sigjmp_buf fault_jmp;
static volatile int fault_sig;
static pid_t children[16];
static int nchildren;

static void on_fault(int sig) {
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

static const char *errname(int e) {
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case EMFILE: return "EMFILE";
	case ETXTBSY: return "ETXTBSY";
	case EFBIG: return "EFBIG";
	case ENOSPC: return "ENOSPC";
	case ESPIPE: return "ESPIPE";
	case EROFS: return "EROFS";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EOVERFLOW: return "EOVERFLOW";
	default: return NULL;
	}
}

static void result(int id, int n, long rv, int err) {
	if (rv < 0) {
		const char *name = errname(err);
		if (name) fprintf(out, "R %d %d err %s\n", id, n, name);
		else fprintf(out, "R %d %d err E%d\n", id, n, err);
	} else {
		fprintf(out, "R %d %d ok %ld\n", id, n, rv);
	}
}

/* A page-sized buffer filled with one byte, aligned for O_DIRECT. */
static char *page_of(int val) {
	static char *buf;
	if (!buf && posix_memalign((void **)&buf, PAGE, PAGE)) return NULL;
	memset(buf, val, PAGE);
	return buf;
}

static int set_dax_flag(const char *dir) {
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	struct fsxattr fa;
	if (fd < 0) return -1;
	if (ioctl(fd, FS_IOC_FSGETXATTR, &fa) < 0) { close(fd); return -1; }
	fa.fsx_xflags |= FS_XFLAG_DAX;
	int rv = ioctl(fd, FS_IOC_FSSETXATTR, &fa);
	close(fd);
	return rv;
}

static void setup_file(int id, int i, int dax, int pages, int sparse, const int *vals) {
	char dir[64];
	snprintf(dir, sizeof dir, "/mnt/p%d/%s", id, dax ? "dax" : "page");
	snprintf(paths[i], sizeof paths[i], "%s/f%d", dir, i);
	int fd = open(paths[i], O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) { fprintf(out, "X %d cannot create %s: %s\n", id, paths[i], strerror(errno)); return; }
	if (!sparse)
		for (int pg = 0; pg < pages; pg++)
			if (pwrite(fd, page_of(vals[pg]), PAGE, (off_t)pg * PAGE) != PAGE) fprintf(out, "X %d cannot fill %s\n", id, paths[i]);
	if (ftruncate(fd, (off_t)pages * PAGE) < 0) fprintf(out, "X %d cannot size %s\n", id, paths[i]);
	fsync(fd);
	close(fd);
}

static void start_program(int id) {
	char dir[64];
	snprintf(dir, sizeof dir, "/mnt/p%d", id);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "/mnt/p%d/dax", id);
	mkdir(dir, 0755);
	if (set_dax_flag(dir) < 0) fprintf(out, "X %d cannot set FS_XFLAG_DAX on %s: %s\n", id, dir, strerror(errno));
	snprintf(dir, sizeof dir, "/mnt/p%d/page", id);
	mkdir(dir, 0755);
	nfiles = 0;
	memset(slot_addr, 0, sizeof slot_addr);
}

/* An address for a mapping slot's page: NULL (EFAULT, SIGSEGV) when the slot has none. */
static char *addr_of(int slot, int page) {
	if (slot < 0 || slot >= SLOTS || !slot_addr[slot]) return NULL;
	return slot_addr[slot] + (long)page * PAGE;
}

static void end_program(int id) {
	for (int c = 0; c < nchildren; c++) {
		kill(children[c], SIGKILL);
		waitpid(children[c], NULL, 0);
	}
	nchildren = 0;
	for (int s = 0; s < SLOTS; s++)
		if (slot_addr[s]) { munmap(slot_addr[s], slot_len[s]); slot_addr[s] = NULL; }
	for (int fd = 0; fd < 16; fd++) close(fd);
	for (int i = 0; i < nfiles; i++) {
		struct statx stx;
		if (syscall(SYS_statx, AT_FDCWD, paths[i], 0, STATX_SIZE, &stx) < 0) { fprintf(out, "X %d cannot statx %s\n", id, paths[i]); continue; }
		int fd = open(paths[i], O_RDONLY);
		fprintf(out, "S %d %d %llu %d", id, i, (unsigned long long)stx.stx_size, (stx.stx_attributes & STATX_ATTR_DAX) ? 1 : 0);
		for (long pg = 0; pg * PAGE < (long)stx.stx_size && pg < PAGES + 4; pg++) {
			unsigned char b = 0;
			if (pread(fd, &b, 1, pg * PAGE) != 1) b = 0;
			fprintf(out, " %u", b);
		}
		fprintf(out, "\n");
		close(fd);
	}
	fflush(out);
}

static void run_op(int id, int n, char *line) {
	char op = line[0];
	int a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
	sscanf(line + 1, "%d %d %d %d %d %d %d %d", &a, &b, &c, &d, &e, &f, &g, &h);
	errno = 0;
	switch (op) {
	case 'o': {
		int fd = open(paths[a], b ? O_RDWR : O_RDONLY);
		int err = errno;
		result(id, n, fd, err);
		break;
	}
	case 'c':
		{ long rv_ = close(a); result(id, n, rv_, errno); }
		break;
	case 'm': { /* slot fd pgoff pages type sync direct write */
		int flags = e == 1 ? MAP_PRIVATE : e == 2 ? MAP_SHARED_VALIDATE : MAP_SHARED;
		if (f) flags |= MAP_SYNC;
		if (g) flags |= MAP_DIRECT_UNKNOWN;
		int prot = PROT_READ | (h ? PROT_WRITE : 0);
		void *p = mmap(NULL, (size_t)d * PAGE, prot, flags, b, (off_t)c * PAGE);
		if (p == MAP_FAILED) { result(id, n, -1, errno); break; }
		if (a >= 0 && a < SLOTS) { slot_addr[a] = p; slot_len[a] = (long)d * PAGE; }
		result(id, n, 0, 0);
		break;
	}
	case 'u': {
		char *p = addr_of(a, 0);
		if (!p) { result(id, n, -1, EINVAL); break; }
		int rv = munmap(p, slot_len[a]);
		int err = errno;
		if (rv == 0) slot_addr[a] = NULL;
		result(id, n, rv, err);
		break;
	}
	case 'l':
	case 's': {
		volatile char *p = (volatile char *)addr_of(a, b);
		if (!p) p = (volatile char *)(16L * PAGE); /* never mapped: the fault a missing mapping gives */
		if (sigsetjmp(fault_jmp, 1)) {
			fprintf(out, "R %d %d sig %s\n", id, n, fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
			break;
		}
		if (op == 'l') {
			int v = p[0];
			result(id, n, v, 0);
		} else {
			for (int i = 0; i < PAGE; i++) p[i] = (char)c;
			result(id, n, 0, 0);
		}
		break;
	}
	case 'w': {
		long rv = pwrite(a, page_of(c), PAGE, (off_t)b * PAGE);
		int err = errno;
		result(id, n, rv == PAGE ? 0 : rv, err);
		break;
	}
	case 't':
		{ long rv_ = ftruncate(a, (off_t)b * PAGE); result(id, n, rv_, errno); }
		break;
	case 'p':
		{ long rv_ = fallocate(a, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)b * PAGE, (off_t)c * PAGE); result(id, n, rv_, errno); }
		break;
	case 'a':
		{ long rv_ = fallocate(a, 0, (off_t)b * PAGE, (off_t)c * PAGE); result(id, n, rv_, errno); }
		break;
	case 'r':
	case 'x': { /* fd page slot bufpage */
		char *buf = addr_of(c, d);
		int fl = fcntl(a, F_GETFL);
		if (fl < 0) { result(id, n, -1, errno); break; }
		if (fcntl(a, F_SETFL, fl | O_DIRECT) < 0) { result(id, n, -1, errno); break; }
		long rv = op == 'r' ? pread(a, buf, PAGE, (off_t)b * PAGE) : pwrite(a, buf, PAGE, (off_t)b * PAGE);
		int err = errno;
		fcntl(a, F_SETFL, fl);
		result(id, n, rv == PAGE ? 0 : rv, err);
		break;
	}
	case 'f':
		{ long rv_ = fcntl(a, F_MAP_DIRECT_SERIES, 0); result(id, n, rv_, errno); }
		break;
	case 'k':
		result(id, n, 0, 0);
		break;
	case 'y': {
		fflush(out);
		pid_t pid = fork();
		if (pid == 0) {
			for (;;) pause();
		}
		int err = errno;
		if (pid > 0 && nchildren < 16) children[nchildren++] = pid;
		result(id, n, pid, err);
		break;
	}
	default:
		fprintf(out, "X %d unknown operation %c\n", id, op);
	}
	fflush(out);
}

int main(int argc, char **argv) {
	const char *progs = argc > 1 ? argv[1] : "/progs";
	if (dup2(1, OUT_FD) < 0) return 2;
	out = fdopen(OUT_FD, "w");
	int pfd = open(progs, O_RDONLY);
	if (pfd < 0) { fprintf(out, "X -1 no programs at %s\n", progs); return 2; }
	/* out of the way of the programs' fds, which start at 0 */
	if (dup2(pfd, IN_FD) < 0) return 2;
	close(pfd);
	FILE *in = fdopen(IN_FD, "r");
	setvbuf(out, NULL, _IOLBF, 0);
	/* the model's fd numbers start at 0 and stop at LIMITS.fds */
	for (int fd = 0; fd < 3; fd++) close(fd);
	struct rlimit rl = { 6, 6 };
	setrlimit(RLIMIT_NOFILE, &rl);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
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
		case 'G':
			break;
		case 'E':
			end_program(id);
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
