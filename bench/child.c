/* child: the supervised process used by the benchmarks.
 *
 *   child --mode MODE --pid-file F [--term-file F] [--exit-file F]
 *         [--after-ms N] [--max-life S]
 *
 * MODE is one of
 *   idle        sleep forever; SIGTERM keeps its default action (dies at once)
 *   ignore      catch SIGTERM, record when it arrived, keep running (only
 *               SIGKILL ends it): for the TERM-to-KILL gap
 *   exit        catch SIGTERM, record when it arrived, exit 0 at once
 *   exit-after  exit 0 by itself after --after-ms, recording the time just
 *               before _exit(): for exit detection
 *
 * Times are CLOCK_REALTIME in nanoseconds, written as "PID NS\n".  The pid
 * file is written (atomically, via rename) only once the SIGTERM handler is in
 * place, so a watcher that sees the pid knows the child is ready to be
 * measured.  --max-life (default 300 s) arms alarm(): a leftover child can
 * never outlive a benchmark run by much.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int term_fd = -1;
static volatile sig_atomic_t term_seen;
static int exit_on_term;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* async-signal-safe "PID NS\n" formatting */
static size_t fmt_u64(char *p, uint64_t v)
{
	char tmp[24];
	size_t n = 0, i;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

static void write_stamp(int fd, uint64_t ns)
{
	char buf[64];
	size_t n = fmt_u64(buf, (uint64_t)getpid());
	ssize_t w;
	buf[n++] = ' ';
	n += fmt_u64(buf + n, ns);
	buf[n++] = '\n';
	w = write(fd, buf, n);
	(void)w;
}

static void on_term(int sig)
{
	uint64_t t = now_ns();
	(void)sig;
	if (!term_seen && term_fd >= 0)
		write_stamp(term_fd, t);
	term_seen = 1;
	if (exit_on_term)
		_exit(0);
}

static void usage(void)
{
	fprintf(stderr, "usage: child --mode idle|ignore|exit|exit-after --pid-file F "
			"[--term-file F] [--exit-file F] [--after-ms N] [--max-life S]\n");
	exit(2);
}

static void write_pid_file(const char *path)
{
	char tmp[4096], buf[32];
	int fd, n;
	if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof tmp)
		exit(2);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(tmp);
		exit(1);
	}
	n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
	if (write(fd, buf, (size_t)n) != n || close(fd) != 0 || rename(tmp, path) != 0) {
		perror(path);
		exit(1);
	}
}

int main(int argc, char **argv)
{
	const char *mode = NULL, *pid_file = NULL, *term_file = NULL, *exit_file = NULL;
	long after_ms = 100, max_life = 300;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (i + 1 >= argc)
			usage();
		if (!strcmp(a, "--mode"))
			mode = argv[++i];
		else if (!strcmp(a, "--pid-file"))
			pid_file = argv[++i];
		else if (!strcmp(a, "--term-file"))
			term_file = argv[++i];
		else if (!strcmp(a, "--exit-file"))
			exit_file = argv[++i];
		else if (!strcmp(a, "--after-ms"))
			after_ms = strtol(argv[++i], NULL, 10);
		else if (!strcmp(a, "--max-life"))
			max_life = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (!mode || !pid_file)
		usage();

	if (term_file) {
		term_fd = open(term_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (term_fd < 0) {
			perror(term_file);
			return 1;
		}
	}
	if (max_life > 0)
		alarm((unsigned)max_life);

	if (!strcmp(mode, "ignore") || !strcmp(mode, "exit")) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		exit_on_term = !strcmp(mode, "exit");
		if (sigaction(SIGTERM, &sa, NULL) != 0) {
			perror("sigaction");
			return 1;
		}
	} else if (!strcmp(mode, "idle")) {
		signal(SIGTERM, SIG_DFL);
	} else if (!strcmp(mode, "exit-after")) {
		struct timespec ts = { after_ms / 1000, (after_ms % 1000) * 1000000L };
		int fd = -1;
		if (exit_file) {
			fd = open(exit_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
			if (fd < 0) {
				perror(exit_file);
				return 1;
			}
		}
		write_pid_file(pid_file);
		while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
			;
		if (fd >= 0)
			write_stamp(fd, now_ns());
		_exit(0);
	} else {
		usage();
	}

	write_pid_file(pid_file);
	for (;;)
		pause();
}
