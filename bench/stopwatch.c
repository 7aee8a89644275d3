/* stopwatch: times a command and, optionally, the death of another process.
 *
 *   stopwatch [--pid-file F] [--linger-ms N] [--out F] -- CMD ARGS...
 *       Opens a pidfd on the pid in F (if given) before starting CMD, then
 *       runs CMD and waits with poll() for both CMD's exit and the watched
 *       process's death.  Prints one JSON line:
 *         {"start_ns":..,"end_ns":..,"dead_ns":..|null,"rc":..}
 *       start_ns is taken right before fork(), end_ns when CMD's pidfd turns
 *       readable, dead_ns when the watched process's pidfd turns readable (it
 *       exited, whoever killed it).  After CMD exits, the watched process gets
 *       --linger-ms (default 3000) more to die.  All times CLOCK_REALTIME ns.
 *
 *   stopwatch --repeat N [--out F] -- CMD ARGS...
 *       Runs CMD N times in a row and prints "NS RC" per run (wall time from
 *       before fork() to CMD's exit).
 *
 * CMD's stdin is /dev/null; its stdout and stderr go to --out (appended) or
 * to /dev/null.  CMD is looked up in PATH.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: stopwatch [--pid-file F] [--linger-ms N] [--out F] -- CMD...\n"
			"       stopwatch --repeat N [--out F] -- CMD...\n");
	exit(2);
}

static pid_t spawn(char **cmd, const char *out)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int o = out ? open(out, O_WRONLY | O_CREAT | O_APPEND, 0644) : open("/dev/null", O_WRONLY);
		if (in < 0 || o < 0)
			_exit(126);
		dup2(in, 0);
		dup2(o, 1);
		dup2(o, 2);
		if (in > 2)
			close(in);
		if (o > 2)
			close(o);
		execvp(cmd[0], cmd);
		_exit(127);
	}
	return pid;
}

static int wait_rc(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}

static pid_t read_pid(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return (pid_t)strtol(buf, NULL, 10);
}

int main(int argc, char **argv)
{
	const char *pid_file = NULL, *out = NULL;
	long linger_ms = 3000, repeat = 0;
	char **cmd = NULL;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			cmd = argv + i + 1;
			break;
		}
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--pid-file"))
			pid_file = argv[++i];
		else if (!strcmp(argv[i], "--linger-ms"))
			linger_ms = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--out"))
			out = argv[++i];
		else if (!strcmp(argv[i], "--repeat"))
			repeat = strtol(argv[++i], NULL, 10);
		else
			usage();
	}
	if (!cmd || !cmd[0])
		usage();

	if (repeat > 0) {
		for (i = 0; i < repeat; i++) {
			uint64_t t0 = now_ns();
			int rc = wait_rc(spawn(cmd, out));
			uint64_t t1 = now_ns();
			printf("%llu %d\n", (unsigned long long)(t1 - t0), rc);
		}
		return 0;
	}

	{
		int target = -1, cmdfd, rc = -1, cmd_done = 0, dead = 0;
		uint64_t t_start, t_end = 0, t_dead = 0, deadline = 0;
		pid_t pid, tpid;

		if (pid_file) {
			tpid = read_pid(pid_file);
			if (tpid > 0)
				target = pidfd_open(tpid);
			if (target < 0)
				fprintf(stderr, "stopwatch: cannot watch pid from %s\n", pid_file);
		}
		t_start = now_ns();
		pid = spawn(cmd, out);
		cmdfd = pidfd_open(pid);
		if (cmdfd < 0) {
			perror("pidfd_open");
			return 1;
		}
		while (!cmd_done || (target >= 0 && !dead)) {
			struct pollfd p[2];
			int n = 0, timeout = -1, r, k;
			if (!cmd_done) {
				p[n].fd = cmdfd;
				p[n].events = POLLIN;
				n++;
			}
			if (target >= 0 && !dead) {
				p[n].fd = target;
				p[n].events = POLLIN;
				n++;
			}
			if (cmd_done) {
				uint64_t t = now_ns();
				if (t >= deadline)
					break;
				timeout = (int)((deadline - t) / 1000000ull) + 1;
			}
			r = poll(p, (nfds_t)n, timeout);
			if (r < 0 && errno != EINTR) {
				perror("poll");
				return 1;
			}
			for (k = 0; r > 0 && k < n; k++) {
				if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
					continue;
				if (p[k].fd == cmdfd) {
					t_end = now_ns();
					rc = wait_rc(pid);
					cmd_done = 1;
					deadline = t_end + (uint64_t)linger_ms * 1000000ull;
				} else {
					t_dead = now_ns();
					dead = 1;
				}
			}
		}
		printf("{\"start_ns\":%llu,\"end_ns\":%llu,", (unsigned long long)t_start,
		       (unsigned long long)t_end);
		if (dead)
			printf("\"dead_ns\":%llu,", (unsigned long long)t_dead);
		else
			printf("\"dead_ns\":null,");
		printf("\"rc\":%d}\n", rc);
	}
	return 0;
}
