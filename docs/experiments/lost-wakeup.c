/*
 * A truncate that waits for a DAX page pinned by an AIO O_DIRECT read,
 * and is not woken when the read completes (docs/fidelity.md, "Races on
 * the real kernel").  A DAX file of one page is mapped shared; an AIO
 * read from a page-cache file on a slow device (dm-delay, 1 s reads, as
 * daxcheck repro's guest sets up) goes into the mapped page; a second
 * thread ftruncates the DAX file to 0 while the file is still mapped.
 * The main thread reaps the AIO completion, waits 2 s, and sends the
 * truncating thread a signal with SA_RESTART; then a second ftruncate from
 * another fd.  Built with the executor's operations:
 *
 *   gcc -static -pthread -O2 -o lost-wakeup docs/experiments/lost-wakeup.c
 *   ./lost-wakeup DAXDIR SLOWDIR          (as root)
 *
 * On Debian's 6.1.0-57 (6.1.192) in daxcheck's guest (2026-12-03):
 *   8.254 r 1 0 0 0 1 -> ok 0                     the AIO read submitted
 *   9.256 reaped, 0 lost                          its completion, 1 s on
 *  11.260 SIGUSR1 to the truncating thread        the truncate still asleep
 *  11.270 t 0 0 -> ok 0                           restarted: returns at once
 *  16.302 second truncate -> 0
 * The page's count was 1 from the completion on; the waiter in
 * xfs_break_dax_layouts was not woken until the signal.
 */
#define NO_RDMA
#include "../../executor/ops.c"
#include <pthread.h>
static double t0;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9 - t0; }
static void run(int id, const char *l) { char b[128]; snprintf(b, sizeof b, "%s", l); run_op(id, 0, b); fprintf(out, "  %.3f %s -> %s\n", now(), l, outcome); }
static void *trunc_thread(void *a) { (void)a; run(4, "t 0 0"); return NULL; }
static void on_usr1(int s) { (void)s; }
int main(int argc, char **argv) {
	(void)argc; dup2(1, OUT_FD); out = fdopen(OUT_FD, "w"); setvbuf(out, NULL, _IOLBF, 0); close(0); close(1); close(2);
	dax_root = argv[1]; page_root = argv[2];
	struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); t0 = t.tv_sec + t.tv_nsec / 1e9;
	struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = on_usr1; sa.sa_flags = SA_RESTART; sigaction(SIGUSR1, &sa, NULL);
	int id = 4;
	start_program(id);
	int v[4] = { 11, 12, 0, 0 }, w[4] = { 21, 0, 0, 0 };
	setup_file(id, 0, 1, 1, 0, v); setup_file(id, 1, 0, 1, 0, w); nfiles = 2;
	run(id, "o 0 1 0"); run(id, "o 1 0 0"); run(id, "m 0 0 0 1 0 0 0 1");
	aio_deferred = 1; aio_pending = 0;
	run(id, "r 1 0 0 0 1");
	pthread_t th; pthread_create(&th, NULL, trunc_thread, NULL);
	int lost = aio_reap(20); fprintf(out, "  %.3f reaped, %d lost\n", now(), lost);
	sleep(2);
	fprintf(out, "  %.3f SIGUSR1 to the truncating thread (SA_RESTART)\n", now());
	pthread_kill(th, SIGUSR1);
	for (int i = 0; i < 50; i++) { usleep(100000); }
	fprintf(out, "  %.3f a second ftruncate from the main thread on another fd\n", now());
	int fd2 = open(paths[0], O_RDWR);
	alarm(10);
	int r = ftruncate(fd2, 0);
	fprintf(out, "  %.3f second truncate -> %d\n", now(), r);
	pthread_join(th, NULL);
	fprintf(out, "  %.3f joined\n", now());
	return 0;
}
