/* vmtool: the guest's small helpers for the real-kernel tier (busybox has no ms clock). */
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCX "/sys/kernel/sched_ext"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
read_small(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	buf[0] = '\0';
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

/* The kernel says enabled and names an ops (or says the wanted state). */
static int
state_is(const char *want)
{
	char st[32], ops[128];

	read_small(SCX "/state", st, sizeof(st));
	if (strcmp(st, want) != 0)
		return 0;
	if (strcmp(want, "enabled") != 0)
		return 1;
	read_small(SCX "/root/ops", ops, sizeof(ops));
	return ops[0] != '\0';
}

/* Poll the state every millisecond: the way a scheduler's own user would time it. */
static int
wait_state(const char *want, long long t0, long long timeout_ms)
{
	struct timespec ms = {0, 1000000};

	while (!state_is(want)) {
		if (now_ms() - t0 > timeout_ms)
			return -1;
		nanosleep(&ms, NULL);
	}
	printf("%lld\n", now_ms() - t0);
	return 0;
}

/* Every uevent, one line each, fields joined by spaces, stamped with the monotonic ms. */
static int
uevents(void)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = 1};
	char buf[8192];
	ssize_t n;
	int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("vmtool: uevent socket");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (;;) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			return 1;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\0')
				buf[i] = ' ';
		buf[n] = '\0';
		printf("%lld %s\n", now_ms(), buf);
	}
}

/* Copy stdin to stdout, each line prefixed by the monotonic ms of its arrival. */
static int
stamp(void)
{
	char line[65536];

	setvbuf(stdout, NULL, _IOLBF, 0);
	while (fgets(line, sizeof(line), stdin) != NULL)
		printf("%lld %s", now_ms(), line);
	return 0;
}

static int
run_timed(const char *out, char **argv)
{
	long long t0 = now_ms();
	int status;
	pid_t pid = fork();
	FILE *f;

	if (pid < 0)
		return 127;
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	f = fopen(out, "w");
	if (f != NULL) {
		fprintf(f, "%lld\n", now_ms() - t0);
		fclose(f);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Start a scheduler by hand and time it to enabled, the way its own user would. */
static int
spawn_wait(char **argv)
{
	long long t0 = now_ms();
	int fd;
	pid_t pid = fork();

	if (pid < 0)
		return 1;
	if (pid == 0) {
		setsid();
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	fprintf(stderr, "%d\n", (int)pid);
	return wait_state("enabled", t0, 60000) < 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	sigset_t term;

	if (argc >= 2 && strcmp(argv[1], "ms") == 0) {
		printf("%lld\n", now_ms());
		return 0;
	}
	if (argc >= 4 && strcmp(argv[1], "wait-state") == 0)
		return wait_state(argv[2], now_ms(), strtoll(argv[3], NULL, 10)) < 0 ? 1 : 0;
	if (argc >= 3 && strcmp(argv[1], "term-wait") == 0) {
		/* SIGTERM a scheduler, time the kernel to disabled. */
		long long t0 = now_ms();
		if (kill((pid_t)strtol(argv[2], NULL, 10), SIGTERM) < 0)
			return 1;
		return wait_state("disabled", t0, 60000) < 0 ? 1 : 0;
	}
	if (argc >= 2 && strcmp(argv[1], "uevents") == 0)
		return uevents();
	if (argc >= 2 && strcmp(argv[1], "stamp") == 0)
		return stamp();
	if (argc >= 4 && strcmp(argv[1], "time") == 0)
		return run_timed(argv[2], argv + 3);
	if (argc >= 3 && strcmp(argv[1], "spawn-wait") == 0)
		return spawn_wait(argv + 2);
	if (argc >= 3 && strcmp(argv[1], "blockterm") == 0) {
		/* A blocked signal stays blocked across exec and past signal(): TERM never lands. */
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		sigprocmask(SIG_BLOCK, &term, NULL);
		execvp(argv[2], argv + 2);
		perror("vmtool: exec");
		return 127;
	}
	fprintf(stderr, "usage: vmtool ms | wait-state STATE TIMEOUT_MS | uevents | stamp |\n"
			"       time OUTFILE CMD... | spawn-wait CMD... | term-wait PID | blockterm CMD...\n");
	return 2;
}
