/*
 * The operations of daxcheck's executor (executor.c): each runs one line
 * of a program on the real kernel and says its outcome as an R line (and
 * in `outcome`).  The reproducers `daxcheck csource` writes carry this
 * file verbatim, so a reproducer does each operation exactly as the
 * kernel oracle does.  The line format is executor.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/capability.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <linux/netlink.h>
#include <rdma/rdma_netlink.h>
#include <sys/socket.h>
#include <time.h>
#ifndef NO_RDMA
#define RDMA_STATIC_PROVIDERS rxe
#include <infiniband/verbs.h>
#endif
#include <dirent.h>
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
#define MEMLOCK_PAGES 4 /* the model's LIMITS.memlockPages */
#define MID (PAGE / 2)
#define PAGES 4
#define FILES 3
#define SLOTS 64
#define OUT_FD 100
#define IN_FD 101

static FILE *out;
static char paths[FILES][240];
static int nfiles;
static char *slot_addr[SLOTS];
static long slot_len[SLOTS];
static __thread sigjmp_buf fault_jmp;
static __thread volatile int fault_sig;
/* the last operation's outcome on this thread, as its R line says it */
static __thread char outcome[64];
/* where the programs' files go: DAX files under <dax_root>/p<id>/dax,
 * the others under <page_root>/p<id>/page */
static const char *dax_root = "/mnt", *page_root = "/mnt";
static pid_t children[16];
static int nchildren;
static void end_rdma(void);
static void end_ring(void);

static void on_fault(int sig) {
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

/* What every program runs under: SIGBUS and SIGSEGV caught (a load or
 * store's outcome), SIGXFSZ ignored (RLIMIT_FSIZE gives EFBIG), SIGIO
 * blocked (a lease break's signal waits for sigtimedwait). */
static void program_signals(void) {
	signal(SIGXFSZ, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	sigset_t io;
	sigemptyset(&io);
	sigaddset(&io, SIGIO);
	sigprocmask(SIG_BLOCK, &io, NULL);
}

/* Every task of a process and its kernel stack, each line after `prefix`:
 * what a hung operation sleeps on. */
static __attribute__((unused)) void print_stacks(pid_t pid, const char *prefix) {
	char dir[64];
	snprintf(dir, sizeof dir, "/proc/%d/task", pid);
	DIR *d = opendir(dir);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.') continue;
		char path[320], buf[4096];
		snprintf(path, sizeof path, "%s/%s/stack", dir, e->d_name);
		int fd = open(path, O_RDONLY);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0) close(fd);
		fprintf(out, "%stask %s\n", prefix, e->d_name);
		if (n <= 0) { fprintf(out, "%s  (no stack: %s)\n", prefix, fd < 0 ? "not root, or no CONFIG_STACKTRACE" : "empty"); continue; }
		buf[n] = 0;
		for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) fprintf(out, "%s  %s\n", prefix, l);
	}
	closedir(d);
}

static const char *errname(int e) {
	switch (e) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case ENXIO: return "ENXIO";
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

/* a concurrent section's threads keep their outcomes; the section reports them */
static __thread int silent;

static void said(int id, int n) {
	if (!silent) fprintf(out, "R %d %d %s\n", id, n, outcome);
}

static void result(int id, int n, long rv, int err) {
	if (rv < 0) {
		const char *name = errname(err);
		if (name) snprintf(outcome, sizeof outcome, "err %s", name);
		else snprintf(outcome, sizeof outcome, "err E%d", err);
	} else {
		snprintf(outcome, sizeof outcome, "ok %ld", rv);
	}
	said(id, n);
}

/* A page-sized buffer filled with one byte, aligned for O_DIRECT. */
static char *page_of(int val) {
	static __thread char *buf;
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
	char dir[200];
	snprintf(dir, sizeof dir, "%s/p%d/%s", dax ? dax_root : page_root, id, dax ? "dax" : "page");
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

/* SIGIO is blocked: a lease break's signal waits for sigtimedwait ('i'). */
static void drain_sigio(void) {
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGIO);
	struct timespec zero = { 0, 0 };
	while (sigtimedwait(&set, NULL, &zero) > 0) {}
}

static void start_program(int id) {
	char dir[200];
	drain_sigio();
	snprintf(dir, sizeof dir, "%s/p%d", dax_root, id);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/p%d/dax", dax_root, id);
	mkdir(dir, 0755);
	if (set_dax_flag(dir) < 0) fprintf(out, "X %d cannot set FS_XFLAG_DAX on %s: %s\n", id, dir, strerror(errno));
	snprintf(dir, sizeof dir, "%s/p%d", page_root, id);
	mkdir(dir, 0755);
	snprintf(dir, sizeof dir, "%s/p%d/page", page_root, id);
	mkdir(dir, 0755);
	nfiles = 0;
	memset(slot_addr, 0, sizeof slot_addr);
}

/* Each open fd's O_DIRECT twin, for a concurrent section; -1: none. */
static int direct_twin[16] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1 };

static __attribute__((unused)) void direct_twins(void) {
	for (int fd = 0; fd < 16; fd++) {
		int fl = fcntl(fd, F_GETFL);
		if (fl < 0) continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		int t = open(path, (fl & O_ACCMODE) | O_DIRECT);
		if (t < 0) continue;
		direct_twin[fd] = dup2(t, 40 + fd);
		close(t);
	}
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
	end_rdma();
	end_ring();
	for (int s = 0; s < SLOTS; s++)
		if (slot_addr[s]) { munmap(slot_addr[s], slot_len[s]); slot_addr[s] = NULL; }
	for (int fd = 0; fd < 16; fd++) close(fd);
	for (int i = 0; i < nfiles; i++) {
		struct statx stx;
		if (syscall(SYS_statx, AT_FDCWD, paths[i], 0, STATX_SIZE, &stx) < 0) {
			if (errno == ENOENT) fprintf(out, "S %d %d -\n", id, i); /* unlinked */
			else fprintf(out, "X %d cannot statx %s\n", id, paths[i]);
			continue;
		}
		int fd = open(paths[i], O_RDONLY);
		fprintf(out, "S %d %d %llu %d", id, i, (unsigned long long)stx.stx_size, (stx.stx_attributes & STATX_ATTR_DAX) ? 1 : 0);
		for (long pg = 0; pg * PAGE < (long)stx.stx_size && pg < PAGES + 4; pg++) {
			unsigned char b = 0;
			if (pread(fd, &b, 1, pg * PAGE + MID) != 1) b = 0;
			fprintf(out, " %u", b);
		}
		fprintf(out, "\n");
		close(fd);
	}
	fflush(out);
}


/* ---- Linux AIO: one context, each request waited for ---- */

static aio_context_t aio_ctx;
/* a reproducer's AIO: io_submit(2) returns and the completion is reaped
 * later (aio_reap), so the transfer overlaps what follows */
static int aio_deferred;
static int aio_pending;

/* An O_DIRECT transfer through io_submit: the outcome is io_submit's error,
 * or the completion's result. */
static long aio_rw(int fd, int write, char *buf, off_t off, int *err) {
	if (!aio_ctx && syscall(SYS_io_setup, 8, &aio_ctx) < 0) { *err = errno; return -1; }
	struct iocb cb;
	struct iocb *cbs[1] = { &cb };
	memset(&cb, 0, sizeof cb);
	cb.aio_fildes = fd;
	cb.aio_lio_opcode = write ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb.aio_buf = (unsigned long)buf;
	cb.aio_nbytes = PAGE;
	cb.aio_offset = off;
	if (syscall(SYS_io_submit, aio_ctx, 1, cbs) != 1) { *err = errno; return -1; }
	if (aio_deferred) { aio_pending++; return PAGE; }
	struct io_event ev;
	if (syscall(SYS_io_getevents, aio_ctx, 1, 1, &ev, NULL) != 1) { *err = errno; return -1; }
	if ((long)ev.res < 0) { *err = -(long)ev.res; return -1; }
	return (long)ev.res;
}

/* Waits (up to `seconds`) for the deferred AIO completions; the number that
 * never came. */
static __attribute__((unused)) int aio_reap(int seconds) {
	while (aio_pending > 0) {
		struct io_event ev;
		struct timespec t = { seconds, 0 };
		if (syscall(SYS_io_getevents, aio_ctx, 1, 1, &ev, &t) != 1) break;
		aio_pending--;
	}
	return aio_pending;
}

/* ---- the RDMA NIC: soft-RoCE on a dummy netdev, one RC QP connected to
 * itself, so the NIC's work requests are the kernel's own loopback ---- */

#ifndef NO_RDMA
#define MRS 64
static struct ibv_context *ib_ctx;
static struct ibv_pd *ib_pd;
static struct ibv_cq *ib_cq;
static struct ibv_qp *ib_qp;
static union ibv_gid ib_gid;
static int ib_gid_index = -1;
static char *bounce;
static struct ibv_mr *bounce_mr;
static struct ibv_mr *mrs[MRS];
static char *mr_start[MRS]; /* where each MR's pages start (page-aligned) */
static char *mr_from[MRS]; /* the MR's first byte */
static const char *rdma_problem;

static void nl_attr(struct nlmsghdr *h, int type, const char *str) {
	struct nlattr *a = (struct nlattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));
	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + strlen(str) + 1;
	memcpy((char *)a + NLA_HDRLEN, str, strlen(str) + 1);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

/* `rdma link add rxe0 type rxe netdev <netdev>`, by RDMA_NLDEV_CMD_NEWLINK */
static int rxe_newlink(const char *ibdev, const char *netdev) {
	int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_RDMA);
	if (s < 0) return -1;
	union { struct nlmsghdr h; char buf[512]; } req, ack;
	memset(&req, 0, sizeof req);
	req.h.nlmsg_len = NLMSG_LENGTH(0);
	req.h.nlmsg_type = RDMA_NL_GET_TYPE(RDMA_NL_NLDEV, RDMA_NLDEV_CMD_NEWLINK);
	req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req.h.nlmsg_seq = 1;
	nl_attr(&req.h, RDMA_NLDEV_ATTR_DEV_NAME, ibdev);
	nl_attr(&req.h, RDMA_NLDEV_ATTR_LINK_TYPE, "rxe");
	nl_attr(&req.h, RDMA_NLDEV_ATTR_NDEV_NAME, netdev);
	struct sockaddr_nl to = { .nl_family = AF_NETLINK };
	int rv = -1;
	if (sendto(s, &req, req.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to) > 0 && recv(s, &ack, sizeof ack, 0) > 0 && ack.h.nlmsg_type == NLMSG_ERROR) {
		int e = ((struct nlmsgerr *)NLMSG_DATA(&ack.h))->error;
		rv = e == 0 ? 0 : -1;
		if (e) errno = -e;
	}
	close(s);
	return rv;
}

static int qp_connect(void) {
	struct ibv_qp_attr a;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RESET;
	if (ibv_modify_qp(ib_qp, &a, IBV_QP_STATE)) return -1;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
	if (ibv_modify_qp(ib_qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS)) return -1;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = ib_qp->qp_num;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 1;
	a.ah_attr.is_global = 1;
	a.ah_attr.grh.dgid = ib_gid;
	a.ah_attr.grh.sgid_index = ib_gid_index;
	a.ah_attr.grh.hop_limit = 1;
	a.ah_attr.port_num = 1;
	if (ibv_modify_qp(ib_qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER)) return -1;
	memset(&a, 0, sizeof a);
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 10;
	a.retry_cnt = 1;
	a.rnr_retry = 1;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(ib_qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static void rdma_init(void) {
	/* a reproducer's later attempts find the link its first made */
	if (rxe_newlink("rxe0", "dummy0") < 0 && errno != EEXIST) { static char why[160]; snprintf(why, sizeof why, "rdma link add rxe0 type rxe netdev dummy0: %s", strerror(errno)); rdma_problem = why; return; }
	int n = 0;
	struct ibv_device **list = ibv_get_device_list(&n);
	if (!list || n < 1 || !(ib_ctx = ibv_open_device(list[0]))) { rdma_problem = "no RDMA device"; return; }
	/* the GID table fills as the netdev's addresses appear: wait for an IPv4 one */
	for (int tries = 0; tries < 200 && ib_gid_index < 0; tries++) {
		for (int i = 0; i < 16; i++) {
			union ibv_gid g;
			if (ibv_query_gid(ib_ctx, 1, i, &g)) break;
			if (g.raw[10] == 0xff && g.raw[11] == 0xff && (g.raw[12] | g.raw[13] | g.raw[14] | g.raw[15])) { ib_gid = g; ib_gid_index = i; break; }
		}
		if (ib_gid_index < 0) usleep(10000);
	}
	if (ib_gid_index < 0) { rdma_problem = "no IPv4 GID on rxe0"; return; }
	ib_pd = ibv_alloc_pd(ib_ctx);
	ib_cq = ib_pd ? ibv_create_cq(ib_ctx, 16, NULL, NULL, 0) : NULL;
	struct ibv_qp_init_attr qa;
	memset(&qa, 0, sizeof qa);
	qa.send_cq = qa.recv_cq = ib_cq;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 1;
	qa.cap.max_send_wr = 4;
	qa.cap.max_recv_wr = 1;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	ib_qp = ib_cq ? ibv_create_qp(ib_pd, &qa) : NULL;
	bounce = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bounce_mr = ib_qp && bounce != MAP_FAILED ? ibv_reg_mr(ib_pd, bounce, PAGE, IBV_ACCESS_LOCAL_WRITE) : NULL;
	if (!bounce_mr || qp_connect()) rdma_problem = "cannot set up the loopback QP";
}

static void reg_mr(int id, int n, int mr, int slot, int page, int pages, int unaligned) {
	char *start = addr_of(slot, page);
	if (!start) { start = (char *)(16L * PAGE); pages = 1; unaligned = 0; } /* nothing mapped there */
	char *from = start + (unaligned ? MID : 0);
	struct ibv_mr *m = ibv_reg_mr(ib_pd, from, (size_t)pages * PAGE - (from - start), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ);
	if (!m) { result(id, n, -1, errno); return; }
	if (mr >= 0 && mr < MRS) { mrs[mr] = m; mr_start[mr] = start; mr_from[mr] = from; }
	result(id, n, 0, 0);
}

static void dereg_mr(int id, int n, int mr) {
	if (mr >= 0 && mr < MRS && mrs[mr]) {
		int rv = ibv_dereg_mr(mrs[mr]);
		if (rv == 0) mrs[mr] = NULL;
		result(id, n, rv ? -1 : 0, rv);
		return;
	}
	/* no such registration: a handle the kernel never gave out (the provider
	 * frees the struct only when the kernel accepts it) */
	struct ibv_mr *fake = calloc(1, 4096);
	memcpy(fake, bounce_mr, sizeof *bounce_mr);
	fake->handle = 0x7ffffff0;
	int rv = ibv_dereg_mr(fake);
	if (rv == 0) { fprintf(out, "X %d the kernel deregistered a handle it never gave\n", id); return; }
	free(fake);
	result(id, n, -1, rv);
}

static const char *wc_name(enum ibv_wc_status s) {
	switch (s) {
	case IBV_WC_REM_ACCESS_ERR: return "REM_ACCESS_ERR";
	case IBV_WC_LOC_PROT_ERR: return "LOC_PROT_ERR";
	case IBV_WC_RETRY_EXC_ERR: return "RETRY_EXC_ERR";
	case IBV_WC_WR_FLUSH_ERR: return "WR_FLUSH_ERR";
	default: return "WC_ERR";
	}
}

/* One RDMA WRITE or READ by the NIC, waited for; page `page` of MR `mr`. */
static void nic_op(int id, int n, int write, int mr, int page, int val) {
	if (mr < 0 || mr >= MRS || !mrs[mr]) { fprintf(out, "X %d NIC work request on MR %d, which is not registered\n", id, mr); return; }
	char *pg = mr_start[mr] + (long)page * PAGE;
	char *lo = pg < mr_from[mr] ? mr_from[mr] : pg;
	char *hi = pg + PAGE;
	char *end = mr_from[mr] + mrs[mr]->length;
	if (hi > end) hi = end;
	struct ibv_sge sge = { .addr = (uintptr_t)bounce, .lkey = bounce_mr->lkey };
	struct ibv_send_wr wr, *bad;
	memset(&wr, 0, sizeof wr);
	wr.sg_list = &sge;
	wr.num_sge = 1;
	if (write) {
		memset(bounce, val, PAGE);
		wr.opcode = IBV_WR_RDMA_WRITE;
		wr.wr.rdma.remote_addr = (uintptr_t)lo;
		sge.length = hi - lo;
	} else {
		bounce[0] = 0;
		wr.opcode = IBV_WR_RDMA_READ;
		wr.wr.rdma.remote_addr = (uintptr_t)(pg + MID);
		sge.length = 1;
	}
	wr.wr.rdma.rkey = mrs[mr]->rkey;
	if (ibv_post_send(ib_qp, &wr, &bad)) { result(id, n, -1, errno); return; }
	struct ibv_wc wc;
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int got;
	while ((got = ibv_poll_cq(ib_cq, 1, &wc)) == 0) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10) break;
	}
	if (got != 1) { fprintf(out, "X %d the NIC never completed a work request\n", id); qp_connect(); return; }
	if (wc.status != IBV_WC_SUCCESS) {
		snprintf(outcome, sizeof outcome, "nic %s", wc_name(wc.status));
		said(id, n);
		qp_connect(); /* an error leaves the QP in the error state */
		return;
	}
	result(id, n, write ? 0 : (unsigned char)bounce[0], 0);
}

static void end_rdma(void) {
	for (int i = 0; i < MRS; i++)
		if (mrs[i]) { ibv_dereg_mr(mrs[i]); mrs[i] = NULL; }
}

#else
static const char *rdma_problem = "this program was built without RDMA (NO_RDMA)";
static void rdma_init(void) {}
static void reg_mr(int id, int n, int mr, int slot, int page, int pages, int unaligned) { (void)id; (void)n; (void)mr; (void)slot; (void)page; (void)pages; (void)unaligned; }
static void dereg_mr(int id, int n, int mr) { (void)id; (void)n; (void)mr; }
static void nic_op(int id, int n, int write, int mr, int page, int val) { (void)id; (void)n; (void)write; (void)mr; (void)page; (void)val; }
static void end_rdma(void) {}
#endif

/* The model's RLIMIT_MEMLOCK (LIMITS.memlockPages), on top of the bounce
 * buffer's page, and no CAP_IPC_LOCK to lift it. */
static void memlock_limit(int pages) {
	struct rlimit rl = { (rlim_t)(pages + 1) * PAGE, (rlim_t)(pages + 1) * PAGE };
	setrlimit(RLIMIT_MEMLOCK, &rl);
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct caps[2];
	if (syscall(SYS_capget, &hdr, caps) < 0) return;
	caps[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	caps[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	if (syscall(SYS_capset, &hdr, caps) < 0) fprintf(out, "X -1 cannot drop CAP_IPC_LOCK\n");
}

/* The process's io_uring: four entries, its rings mapped once; one buffer
 * slot, registered by `q` and gone at the program's end. */
static int ring_fd = -1;
static const char *ring_problem;
static struct io_uring_sqe *sqes;
static unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
static struct io_uring_cqe *cqes;
static char *ring_buf;
static int ring_pages;

static void ring_init(void) {
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	ring_fd = syscall(__NR_io_uring_setup, 4, &p);
	if (ring_fd < 0) { ring_problem = "io_uring_setup failed"; return; }
	char *sq = mmap(NULL, p.sq_off.array + p.sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
	char *cq = mmap(NULL, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_CQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) { ring_problem = "cannot map the io_uring rings"; return; }
	sq_tail = (unsigned *)(sq + p.sq_off.tail);
	sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	sq_array = (unsigned *)(sq + p.sq_off.array);
	cq_head = (unsigned *)(cq + p.cq_off.head);
	cq_tail = (unsigned *)(cq + p.cq_off.tail);
	cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
}

static void ring_register(int id, int n, int slot, int page, int pages) {
	char *start = addr_of(slot, page);
	if (!start) { start = (char *)(16L * PAGE); pages = 1; } /* nothing mapped there */
	struct iovec iov = { start, (size_t)pages * PAGE };
	long rv = syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_BUFFERS, &iov, 1);
	int err = errno;
	if (rv == 0) { ring_buf = start; ring_pages = pages; }
	result(id, n, rv, err);
}

static void ring_unregister(int id, int n) {
	long rv = syscall(__NR_io_uring_register, ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
	int err = errno;
	if (rv == 0) ring_buf = NULL;
	result(id, n, rv, err);
}

/* One READ_FIXED or WRITE_FIXED of a page, submitted and waited for. */
static void ring_rw(int id, int n, int write, int fd, int page, int bufpage) {
	char *buf = ring_buf ? ring_buf + (long)(bufpage % ring_pages) * PAGE : (char *)(16L * PAGE);
	unsigned tail = *sq_tail, i = tail & *sq_mask;
	struct io_uring_sqe *e = &sqes[i];
	memset(e, 0, sizeof *e);
	e->opcode = write ? IORING_OP_WRITE_FIXED : IORING_OP_READ_FIXED;
	e->fd = fd;
	e->addr = (unsigned long)buf;
	e->len = PAGE;
	e->off = (unsigned long)page * PAGE;
	e->buf_index = 0;
	sq_array[i] = i;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring_fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0) { result(id, n, -1, errno); return; }
	unsigned head = *cq_head;
	if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) { fprintf(out, "X %d io_uring_enter returned with no completion\n", id); return; }
	int res = cqes[head & *cq_mask].res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	if (res < 0) result(id, n, -1, -res);
	else result(id, n, res == PAGE ? 0 : res, 0);
}

static void end_ring(void) {
	if (ring_buf) syscall(__NR_io_uring_register, ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
	ring_buf = NULL;
}

static void run_op(int id, int n, char *line) {
	char op = line[0];
	strcpy(outcome, "none");
	int a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0;
	sscanf(line + 1, "%d %d %d %d %d %d %d %d", &a, &b, &c, &d, &e, &f, &g, &h);
	errno = 0;
	switch (op) {
	case 'o': {
		int fd = open(paths[a], (b ? O_RDWR : O_RDONLY) | (c ? O_NONBLOCK : 0));
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
	case 'v': {
		char *p = addr_of(a, b);
		if (!p) p = (char *)(16L * PAGE); /* never mapped: ENOMEM */
		int rv = madvise(p, (size_t)c * PAGE, MADV_DONTNEED);
		result(id, n, rv, errno);
		break;
	}
	case 'l':
	case 's': {
		volatile char *p = (volatile char *)addr_of(a, b);
		if (!p) p = (volatile char *)(16L * PAGE); /* never mapped: the fault a missing mapping gives */
		if (sigsetjmp(fault_jmp, 1)) {
			snprintf(outcome, sizeof outcome, "sig %s", fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
			said(id, n);
			break;
		}
		if (op == 'l') {
			int v = p[MID];
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
	case 'T':
		{ long rv_ = truncate(paths[a], (off_t)b * PAGE); result(id, n, rv_, errno); }
		break;
	case 'U':
		{ long rv_ = unlink(paths[a]); result(id, n, rv_, errno); }
		break;
	case 'L':
		{ long rv_ = fcntl(a, F_SETLEASE, b == 0 ? F_RDLCK : b == 1 ? F_WRLCK : F_UNLCK); result(id, n, rv_, errno); }
		break;
	case 'J':
		{ long rv_ = fcntl(a, F_GETLEASE); result(id, n, rv_, errno); }
		break;
	case 'i': {
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, SIGIO);
		struct timespec zero = { 0, 0 };
		long rv_ = sigtimedwait(&set, NULL, &zero);
		result(id, n, rv_, errno);
		break;
	}
	case 'A':
		{ long rv_ = fallocate(a, b, (off_t)c * PAGE, (off_t)d * PAGE); result(id, n, rv_, errno); }
		break;
	case 'K': {
		struct file_clone_range r = { .src_fd = b, .src_offset = (__u64)c * PAGE, .src_length = (__u64)e * PAGE, .dest_offset = (__u64)d * PAGE };
		long rv_ = ioctl(a, FICLONERANGE, &r);
		result(id, n, rv_, errno);
		break;
	}
	case 'r':
	case 'x': { /* fd page slot bufpage */
		char *buf = addr_of(c, d);
		/* in a concurrent section, the fd's O_DIRECT twin (direct_twins):
		 * setting O_DIRECT on the shared fd would change another thread's
		 * write(2) */
		int twin = a >= 0 && a < 16 && direct_twin[a] >= 0;
		int fd = twin ? direct_twin[a] : a;
		int fl = fcntl(a, F_GETFL);
		if (fl < 0) { result(id, n, -1, errno); break; }
		if (!twin && fcntl(a, F_SETFL, fl | O_DIRECT) < 0) { result(id, n, -1, errno); break; }
		int err = 0;
		long rv;
		if (e) rv = aio_rw(fd, op == 'x', buf, (off_t)b * PAGE, &err);
		else {
			rv = op == 'r' ? pread(fd, buf, PAGE, (off_t)b * PAGE) : pwrite(fd, buf, PAGE, (off_t)b * PAGE);
			err = errno;
		}
		if (!twin) fcntl(a, F_SETFL, fl);
		result(id, n, rv == PAGE ? 0 : rv, err);
		break;
	}
	case 'f':
		{ long rv_ = fcntl(a, F_MAP_DIRECT_SERIES, 0); result(id, n, rv_, errno); }
		break;
	case 'k':
		if (a) usleep(1100000);
		result(id, n, 0, 0);
		break;
	case 'g':
	case 'd':
	case 'W':
	case 'Q':
		if (rdma_problem) { fprintf(out, "X %d %s\n", id, rdma_problem); break; }
		if (op == 'g') reg_mr(id, n, a, b, c, d, e);
		else if (op == 'd') dereg_mr(id, n, a);
		else nic_op(id, n, op == 'W', a, b, c);
		break;
	case 'q':
	case 'z':
	case 'h':
	case 'j':
		if (ring_problem) { fprintf(out, "X %d %s\n", id, ring_problem); break; }
		if (op == 'q') ring_register(id, n, a, b, c);
		else if (op == 'z') ring_unregister(id, n);
		else ring_rw(id, n, op == 'j', a, b, c);
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
