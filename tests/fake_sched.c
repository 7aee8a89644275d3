/* fake_sched: test stand-in for a sched_ext scheduler that also plays the kernel's part in a fake /sys/kernel/sched_ext directory. */

/*
 * The "kernel" files under ROOT (see SPEC.md section 4):
 *   ROOT/state        enabling | enabled | disabling | disabled  (missing = disabled)
 *   ROOT/root/ops     the registered scheduler's name; root/ exists only while registered
 *   ROOT/enable_seq   number of successful enables so far (missing = 0)
 * and ROOT/.uevent, the daemon's socket for the kernel's uevents (kernel_uevent()),
 * plus one private file of ours, ROOT/.fake_owner, naming the registration that owns
 * the files (see watcher_cleanup() for why).  Every file is replaced atomically
 * (write ROOT/.tmp.X, then rename) so a reader never sees a half-written value.
 * Read-check-write sequences take flock() on the ROOT directory, so two fakes (or a
 * fake and the watcher of a dead one) cannot both claim the slot.
 *
 * The scheduler process never cleans up the kernel files: a forked "kernel watcher"
 * (own session, holds a pidfd on the scheduler) does it when the scheduler dies by any
 * means, SIGKILL included, as the real kernel does when the BPF link goes away.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define NSEC_PER_SEC 1000000000LL
#define NEVER INT64_MAX

#define OWNER_FILE ".fake_owner"
#define STALL_REASON "runnable task stall (fake)"
#define UNREG_REASON "unregistered from user space"
#define INIT_FAIL_REASON "runtime error (ops.init() failed (-22))"

typedef int64_t nsec_t;

static struct {
	const char *root;
	const char *ops;
	nsec_t enable_after;
	bool never_enable;
	bool fail_load;
	bool init_fail;
	bool ignore_term;
	nsec_t term_delay;
	nsec_t exit_after;       /* -1 = not set */
	int exit_code;
	const char *exit_reason;
	nsec_t crash_after;      /* -1 = not set */
	int crash_signal;
	int fork_n;
	int escape_n;
	nsec_t print_every;      /* -1 = not set */
	nsec_t eject_after;      /* -1 = not set */
	bool exit_on_eject;
	nsec_t reenable_after;   /* -1 = not set */
	nsec_t disable_delay;
} opt = {
	.ops = "fake",
	.enable_after = 50 * 1000000LL,
	.exit_after = -1,
	.exit_reason = UNREG_REASON,
	.crash_after = -1,
	.crash_signal = SIGSEGV,
	.print_every = -1,
	.eject_after = -1,
	.reenable_after = -1,
};

static int root_fd = -1;        /* O_DIRECTORY fd on ROOT (scheduler side) */
static char root_path[PATH_MAX]; /* absolute, because the watcher chdir()s to / */
static char owner_token[96];    /* identifies this process's registration */

/* ---- small helpers ---- */

static nsec_t now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (nsec_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void sleep_ns(nsec_t ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC_PER_SEC, .tv_nsec = ns % NSEC_PER_SEC };

	while (ns > 0 && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	fputs("fake: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void __attribute__((noreturn, format(printf, 1, 2))) usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("fake: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (try --help)\n", stderr);
	exit(2);
}

/* Durations as in SPEC.md: 250ms, 2s, 1.5s, 1m, 1h; a bare number is seconds. */
static bool parse_duration(const char *s, nsec_t *out)
{
	unsigned __int128 whole = 0, frac = 0, frac_scale = 1, unit;
	const char *p = s;
	int digits = 0;

	for (; isdigit((unsigned char)*p); p++, digits++) {
		whole = whole * 10 + (unsigned)(*p - '0');
		if (whole > 1000000000ULL)
			return false;
	}
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits++) {
			if (frac_scale < NSEC_PER_SEC) { /* more than ns precision is noise */
				frac = frac * 10 + (unsigned)(*p - '0');
				frac_scale *= 10;
			}
		}
	}
	if (digits == 0)
		return false;
	if (*p == '\0' || strcmp(p, "s") == 0)
		unit = NSEC_PER_SEC;
	else if (strcmp(p, "ms") == 0)
		unit = 1000000;
	else if (strcmp(p, "m") == 0)
		unit = (unsigned __int128)60 * NSEC_PER_SEC;
	else if (strcmp(p, "h") == 0)
		unit = (unsigned __int128)3600 * NSEC_PER_SEC;
	else
		return false;
	whole = whole * unit + frac * unit / frac_scale;
	if (whole > (unsigned __int128)(INT64_MAX / 4))
		return false;
	*out = (nsec_t)whole;
	return true;
}

static const struct { const char *name; int sig; } sig_table[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
	{ "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "PWR", SIGPWR }, { "SYS", SIGSYS },
};

static int parse_signal(const char *s)
{
	char *end;
	long n;

	if (isdigit((unsigned char)*s)) {
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno || *end || n < 1 || n > SIGRTMAX)
			return -1;
		return (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < sizeof(sig_table) / sizeof(sig_table[0]); i++)
		if (strcasecmp(s, sig_table[i].name) == 0)
			return sig_table[i].sig;
	return -1;
}

static const char *signal_name(int sig, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(sig_table) / sizeof(sig_table[0]); i++)
		if (sig_table[i].sig == sig) {
			snprintf(buf, len, "SIG%s", sig_table[i].name);
			return buf;
		}
	snprintf(buf, len, "signal %d", sig);
	return buf;
}

static long parse_int(const char *s, const char *what, long lo, long hi)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < lo || n > hi)
		usage_error("%s: invalid number \"%s\" (want %ld..%ld)", what, s, lo, hi);
	return n;
}

/* ---- the fake kernel files ---- */

/* Replace ROOT/path with text: write a temp file in ROOT, then rename it over path. */
static int write_atomic(int dfd, const char *path, const char *text)
{
	char tmp[128];
	const char *leaf = strrchr(path, '/');
	size_t len = strlen(text), off = 0;
	int fd, saved;

	snprintf(tmp, sizeof(tmp), ".tmp.%s.%d", leaf ? leaf + 1 : path, (int)getpid());
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		off += (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (renameat(dfd, tmp, dfd, path) < 0) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dfd, tmp, 0);
	errno = saved;
	return -1;
}

/* Read a small file, trailing newlines stripped; -1 if it cannot be read (e.g. missing). */
static ssize_t read_small(int dfd, const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n;
}

static bool kernel_disabled(int dfd)
{
	char st[64];

	return read_small(dfd, "state", st, sizeof(st)) < 0 || strcmp(st, "disabled") == 0;
}

static void must(int rc, const char *what)
{
	if (rc < 0)
		die("cannot write %s/%s: %s", root_path, what, strerror(errno));
}

/*
 * The real kernel raises no inotify event on these files; it sends uevents of the
 * /kernel/sched_ext/root kobject instead: "add" once enabled, "remove" at the end of
 * every disable (unregister, eject, hotplug), nothing for a failed start. The fake
 * sends the same message, to ROOT/.uevent, a datagram socket the daemon binds there.
 */
static void kernel_uevent(const char *action)
{
	static unsigned long long seqnum;
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char msg[512];
	int n, fd;

	if ((size_t)snprintf(un.sun_path, sizeof(un.sun_path), "%s/.uevent", root_path) >=
	    sizeof(un.sun_path))
		return;
	n = snprintf(msg, sizeof(msg), "%s@/kernel/sched_ext/root%cACTION=%s%cDEVPATH=/kernel/sched_ext/root%c"
		     "SUBSYSTEM=sched_ext%cSCXOPS=%s%cSEQNUM=%llu", action, 0, action, 0, 0, 0,
		     opt.ops, 0, ++seqnum);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return;
	/* Nobody listening (no daemon, or not yet) is fine: a kernel does not wait either. */
	(void)sendto(fd, msg, (size_t)n + 1, MSG_NOSIGNAL, (struct sockaddr *)&un, sizeof(un));
	close(fd);
}

/*
 * Claim the slot (caller holds the lock and saw it disabled): owner first, so that
 * whenever state is not disabled the owner file already names us; then "enabling"
 * and root/ops, which the kernel creates before the scheduler's init has finished.
 */
static void kernel_begin_enable(void)
{
	char line[512];

	must(write_atomic(root_fd, OWNER_FILE, owner_token), OWNER_FILE);
	must(write_atomic(root_fd, "state", "enabling\n"), "state");
	if (mkdirat(root_fd, "root", 0755) < 0 && errno != EEXIST)
		die("cannot create %s/root: %s", root_path, strerror(errno));
	snprintf(line, sizeof(line), "%s\n", opt.ops);
	must(write_atomic(root_fd, "root/ops", line), "root/ops");
}

/*
 * enable_seq is bumped before state says "enabled", so a reader that sees "enabled"
 * and then reads enable_seq always gets the new count.
 */
static void kernel_finish_enable(void)
{
	char buf[64];
	unsigned long long seq = 0;

	flock(root_fd, LOCK_EX);
	if (read_small(root_fd, "enable_seq", buf, sizeof(buf)) > 0)
		seq = strtoull(buf, NULL, 10);
	snprintf(buf, sizeof(buf), "%llu\n", seq + 1);
	must(write_atomic(root_fd, "enable_seq", buf), "enable_seq");
	must(write_atomic(root_fd, "state", "enabled\n"), "state");
	flock(root_fd, LOCK_UN);
	kernel_uevent("add");
}

/*
 * Unregister: disabling, root/ gone, owner gone, disabled, then the "remove" uevent
 * (none for a failed ops.init(), as the kernel).  Used by eject, init failure, watcher.
 */
static void kernel_teardown(int dfd, nsec_t delay, bool uevent)
{
	write_atomic(dfd, "state", "disabling\n");
	if (delay > 0) {
		/* let others read "disabling" (and see the slot busy) while we wait */
		flock(dfd, LOCK_UN);
		sleep_ns(delay);
		flock(dfd, LOCK_EX);
	}
	unlinkat(dfd, "root/ops", 0);
	unlinkat(dfd, "root", AT_REMOVEDIR);
	unlinkat(dfd, OWNER_FILE, 0);
	write_atomic(dfd, "state", "disabled\n");
	if (uevent)
		kernel_uevent("remove");
}

/* Caller holds the lock.  Returns false (after saying so) if another scheduler has it. */
static bool kernel_check_free(void)
{
	char ops[256];

	if (kernel_disabled(root_fd))
		return true;
	if (read_small(root_fd, "root/ops", ops, sizeof(ops)) < 0)
		ops[0] = '\0';
	fprintf(stderr, "fake: sched_ext busy: ops=%s\n", ops);
	return false;
}

/* ---- the kernel watcher ---- */

/*
 * Only tear down if the files still belong to this scheduler's registration: the
 * owner file holds our token and state is not already disabled.  After an eject the
 * slot is free and another scheduler (possibly also called "fake", so root/ops alone
 * cannot tell) may have registered; a kernel never unregisters a scheduler because an
 * unrelated process died, so neither may we.  Likewise if state is already disabled
 * (we were ejected) there is nothing to undo.
 */
static void watcher_cleanup(void)
{
	char owner[sizeof(owner_token) + 8];
	int dfd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return; /* the test already removed the root */
	flock(dfd, LOCK_EX);
	if (read_small(dfd, OWNER_FILE, owner, sizeof(owner)) >= 0 &&
	    strcmp(owner, owner_token) == 0 && !kernel_disabled(dfd))
		kernel_teardown(dfd, opt.disable_delay, true);
	flock(dfd, LOCK_UN);
	close(dfd);
}

/* Close every fd from 3 up except keep (-1: keep none). */
static void close_fds_except(int keep)
{
	/* close_range is Linux 5.9+; fall back to a plain loop if it is refused */
	if (keep < 3) {
		if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
			return;
	} else if ((keep == 3 || syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) == 0) &&
		   syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0) {
		return;
	}
	struct rlimit rl;
	int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? (int)rl.rlim_cur : 65536;

	for (int fd = 3; fd < max; fd++)
		if (fd != keep)
			close(fd);
}

/*
 * The kernel is in no scheduler's cgroup: if we were started in one schedlifed made
 * (".../schedlife-*"), move to its parent, so the daemon's cgroup.kill misses us as its
 * group kill does. Best effort: without cgroup2 there is nothing to leave.
 */
static void leave_sched_cgroup(void)
{
	char text[4096], mnt[PATH_MAX], path[2 * PATH_MAX], *line = NULL, *cg, *nl, *slash;
	size_t cap = 0;
	FILE *f;
	int fd = open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	text[n] = '\0';
	if ((cg = strstr(text, "0::/")) == NULL || (cg != text && cg[-1] != '\n'))
		return;
	cg += 3;
	if ((nl = strchr(cg, '\n')) != NULL)
		*nl = '\0';
	if ((slash = strrchr(cg, '/')) == NULL || strncmp(slash, "/schedlife-", 11) != 0)
		return;
	*slash = '\0';
	mnt[0] = '\0';
	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return;
	while (getline(&line, &cap, f) > 0)
		if (strstr(line, " - cgroup2 ") != NULL &&
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
			break;
	free(line);
	fclose(f);
	if (mnt[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s%s/cgroup.procs", mnt, cg);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
		(void)!write(fd, "0", 1);
		close(fd);
	}
}

/*
 * Runs in its own session (so a process-group kill aimed at the scheduler misses
 * it) and out of the scheduler's cgroup, holding nothing but /dev/null and the pidfd, so it never keeps the log file or
 * a test harness's pipe open after the scheduler is gone.
 */
static void __attribute__((noreturn)) watcher_main(int pidfd, pid_t sched_pid, int ready_fd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	sigset_t none, usr1;
	int nul;

	setsid();
	leave_sched_cgroup();
	/* Only now may the scheduler go on: a group or cgroup kill from here on misses us. */
	(void)!write(ready_fd, "", 1);
	close(ready_fd);
	prctl(PR_SET_NAME, "fake-kwatch", 0, 0, 0);
	if (chdir("/") < 0)
		_exit(1);
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
	}
	close_fds_except(pidfd); /* pidfd is -1 or >= 3: main() made sure 0..2 were open */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);

	if (pidfd >= 0) {
		/* a pidfd polls readable once the process has exited, even if nobody reaps it */
		while (poll(&pfd, 1, -1) < 0 && errno == EINTR)
			;
	} else {
		/*
		 * No pidfd_open (valgrind 3.19 lacks it): ask for a signal when our parent,
		 * the single-threaded scheduler, dies; getppid() catches a death that
		 * happened before the prctl.
		 */
		sigemptyset(&usr1);
		sigaddset(&usr1, SIGUSR1);
		sigprocmask(SIG_BLOCK, &usr1, NULL);
		prctl(PR_SET_PDEATHSIG, SIGUSR1, 0, 0, 0);
		while (getppid() == sched_pid && sigwaitinfo(&usr1, NULL) < 0)
			;
	}
	watcher_cleanup();
	_exit(0);
}

/* ---- the scheduler ---- */

static void __attribute__((noreturn)) child_main(int pidfd, int sfd)
{
	sigset_t none;

	if (pidfd >= 0)
		close(pidfd);
	close(sfd);
	close(root_fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* SIGTERM stays ignored with --ignore-term (inherited), else it kills */
	signal(SIGINT, SIG_DFL);
	printf("fake: child pid %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}

static void __attribute__((noreturn)) exit_with_reason(const char *reason, int code)
{
	printf("EXIT: %s\n", reason);
	exit(code);
}

static void __attribute__((noreturn)) crash(void)
{
	char name[32];
	sigset_t none;

	fprintf(stderr, "fake: crashing with %s\n", signal_name(opt.crash_signal, name, sizeof(name)));
	fflush(NULL);
	/* default disposition and unblocked, so the signal really terminates us */
	signal(opt.crash_signal, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	raise(opt.crash_signal);
	// cppcheck-suppress unreachableCode
	fprintf(stderr, "fake: %s did not kill the process\n", name);
	_exit(1);
}

static void usage(void)
{
	puts("usage: fake_sched [OPTIONS]\n"
	     "Fake sched_ext scheduler for tests: registers in a fake sched_ext root directory.\n"
	     "  --root DIR              fake sched_ext root (default: $SCHEDLIFED_SCHED_EXT_ROOT)\n"
	     "  --ops NAME              name written to root/ops (default fake)\n"
	     "  --enable-after DUR      enabling -> enabled after DUR (default 50ms)\n"
	     "  --never-enable          stay in enabling forever\n"
	     "  --fail-load             fail like a BPF load error: exit 1, touch nothing\n"
	     "  --init-fail             fail like ops.init(): at enable time back to disabled\n"
	     "                          with no uevent, print \"EXIT: " INIT_FAIL_REASON "\", exit 0\n"
	     "  --ignore-term           ignore SIGTERM\n"
	     "  --term-delay DUR        on SIGTERM/SIGINT wait DUR, then exit 0 (default 0)\n"
	     "  --exit-after DUR        exit DUR after enable (after start if never enabled)\n"
	     "  --exit-code N           exit code for --exit-after (default 0)\n"
	     "  --exit-reason TEXT      printed as \"EXIT: TEXT\" (default: " UNREG_REASON ")\n"
	     "  --crash-after DUR       die by a signal DUR after enable (after start if never enabled)\n"
	     "  --crash-signal SIG      signal for --crash-after (default SEGV)\n"
	     "  --fork N                fork N children in our process group that pause()\n"
	     "  --escape N              start N descendants that leave our process group and\n"
	     "                          session (setsid, double fork) and pause()\n"
	     "  --print-every DUR       print \"tick N\" every DUR\n"
	     "  --eject-after DUR       DUR after enable, the kernel drops us (process lives)\n"
	     "  --exit-on-eject         on eject print \"EXIT: " STALL_REASON "\" and exit 0\n"
	     "  --reenable-after DUR    DUR after an eject, enable again\n"
	     "  --disable-delay DUR     kernel time from disabling to disabled (default 0)\n"
	     "Durations: 250ms, 2s, 1.5s, 1m, 1h; a bare number is seconds.");
}

enum {
	O_ROOT = 256, O_OPS, O_ENABLE_AFTER, O_NEVER_ENABLE, O_FAIL_LOAD, O_IGNORE_TERM,
	O_TERM_DELAY, O_EXIT_AFTER, O_EXIT_CODE, O_EXIT_REASON, O_CRASH_AFTER, O_CRASH_SIGNAL,
	O_FORK, O_ESCAPE, O_PRINT_EVERY, O_EJECT_AFTER, O_EXIT_ON_EJECT, O_REENABLE_AFTER,
	O_DISABLE_DELAY, O_INIT_FAIL,
};

static nsec_t dur_arg(const char *name, const char *val)
{
	nsec_t d;

	if (!parse_duration(val, &d))
		usage_error("--%s: invalid duration \"%s\"", name, val);
	return d;
}

static void parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, O_ROOT },
		{ "ops", required_argument, NULL, O_OPS },
		{ "enable-after", required_argument, NULL, O_ENABLE_AFTER },
		{ "never-enable", no_argument, NULL, O_NEVER_ENABLE },
		{ "fail-load", no_argument, NULL, O_FAIL_LOAD },
		{ "init-fail", no_argument, NULL, O_INIT_FAIL },
		{ "ignore-term", no_argument, NULL, O_IGNORE_TERM },
		{ "term-delay", required_argument, NULL, O_TERM_DELAY },
		{ "exit-after", required_argument, NULL, O_EXIT_AFTER },
		{ "exit-code", required_argument, NULL, O_EXIT_CODE },
		{ "exit-reason", required_argument, NULL, O_EXIT_REASON },
		{ "crash-after", required_argument, NULL, O_CRASH_AFTER },
		{ "crash-signal", required_argument, NULL, O_CRASH_SIGNAL },
		{ "fork", required_argument, NULL, O_FORK },
		{ "escape", required_argument, NULL, O_ESCAPE },
		{ "print-every", required_argument, NULL, O_PRINT_EVERY },
		{ "eject-after", required_argument, NULL, O_EJECT_AFTER },
		{ "exit-on-eject", no_argument, NULL, O_EXIT_ON_EJECT },
		{ "reenable-after", required_argument, NULL, O_REENABLE_AFTER },
		{ "disable-delay", required_argument, NULL, O_DISABLE_DELAY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, idx;

	while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
		const char *name = c >= 256 ? longopts[idx].name : "";

		switch (c) {
		case O_ROOT: opt.root = optarg; break;
		case O_OPS: opt.ops = optarg; break;
		case O_ENABLE_AFTER: opt.enable_after = dur_arg(name, optarg); break;
		case O_NEVER_ENABLE: opt.never_enable = true; break;
		case O_FAIL_LOAD: opt.fail_load = true; break;
		case O_INIT_FAIL: opt.init_fail = true; break;
		case O_IGNORE_TERM: opt.ignore_term = true; break;
		case O_TERM_DELAY: opt.term_delay = dur_arg(name, optarg); break;
		case O_EXIT_AFTER: opt.exit_after = dur_arg(name, optarg); break;
		case O_EXIT_CODE: opt.exit_code = (int)parse_int(optarg, "--exit-code", 0, 255); break;
		case O_EXIT_REASON: opt.exit_reason = optarg; break;
		case O_CRASH_AFTER: opt.crash_after = dur_arg(name, optarg); break;
		case O_CRASH_SIGNAL: {
			int sig = parse_signal(optarg);

			if (sig < 0)
				usage_error("--crash-signal: unknown signal \"%s\"", optarg);
			/* these do not terminate a process by default */
			if (sig == SIGCHLD || sig == SIGCONT || sig == SIGURG || sig == SIGWINCH ||
			    sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU)
				usage_error("--crash-signal: \"%s\" does not terminate a process", optarg);
			opt.crash_signal = sig;
			break;
		}
		case O_FORK: opt.fork_n = (int)parse_int(optarg, "--fork", 0, 1000); break;
		case O_ESCAPE: opt.escape_n = (int)parse_int(optarg, "--escape", 0, 1000); break;
		case O_PRINT_EVERY:
			opt.print_every = dur_arg(name, optarg);
			if (opt.print_every == 0)
				usage_error("--print-every: must be more than 0");
			break;
		case O_EJECT_AFTER: opt.eject_after = dur_arg(name, optarg); break;
		case O_EXIT_ON_EJECT: opt.exit_on_eject = true; break;
		case O_REENABLE_AFTER: opt.reenable_after = dur_arg(name, optarg); break;
		case O_DISABLE_DELAY: opt.disable_delay = dur_arg(name, optarg); break;
		case 'h': usage(); exit(0);
		default: exit(2); /* getopt_long already said what was wrong */
		}
	}
	if (optind < argc)
		usage_error("unexpected argument \"%s\"", argv[optind]);
	if (!opt.root || !*opt.root)
		opt.root = getenv("SCHEDLIFED_SCHED_EXT_ROOT");
	if ((!opt.root || !*opt.root) && !opt.fail_load)
		usage_error("no sched_ext root: give --root DIR or set SCHEDLIFED_SCHED_EXT_ROOT");
}

/* A spawner may hand us closed stdio; make 0..2 valid so no later fd lands there. */
static void ensure_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int nul = open("/dev/null", O_RDWR);

		if (nul >= 0 && nul != fd) {
			dup2(nul, fd);
			close(nul);
		}
	}
}

int main(int argc, char **argv)
{
	sigset_t sigs;
	struct timespec rt;
	int sfd, pidfd;
	pid_t pid;

	ensure_std_fds();
	setvbuf(stdout, NULL, _IOLBF, 0); /* the log must show lines as they happen */
	parse_args(argc, argv);

	printf("fake: pid %d ops %s\n", (int)getpid(), opt.ops);
	if (opt.fail_load) {
		fprintf(stderr, "fake: failed to load BPF program\n");
		return 1;
	}

	/* Signals are read from a signalfd in the main loop; --ignore-term really ignores. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	if (opt.ignore_term)
		signal(SIGTERM, SIG_IGN);
	else
		sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		die("signalfd: %s", strerror(errno));

	if (!realpath(opt.root, root_path))
		die("sched_ext root %s: %s", opt.root, strerror(errno));
	root_fd = open(root_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root_fd < 0)
		die("sched_ext root %s: %s", root_path, strerror(errno));

	clock_gettime(CLOCK_REALTIME, &rt);
	snprintf(owner_token, sizeof(owner_token), "pid %d start %lld.%09ld ops %.40s",
		 (int)getpid(), (long long)rt.tv_sec, rt.tv_nsec, opt.ops);

	/* taken before fork, so the watcher cannot miss our death or watch a reused pid */
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	if (pidfd < 0 && errno != ENOSYS)
		die("pidfd_open: %s", strerror(errno));

	flock(root_fd, LOCK_EX);
	if (!kernel_check_free())
		return 1; /* the kernel refuses a second scheduler; exiting drops the lock */
	fflush(NULL);
	int ready[2];
	char byte;
	if (pipe2(ready, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(ready[0]);
		watcher_main(pidfd, getppid(), ready[1]);
	}
	/* Wait until the watcher has its own session, out of our process group. */
	close(ready[1]);
	while (read(ready[0], &byte, 1) < 0 && errno == EINTR)
		;
	close(ready[0]);
	kernel_begin_enable();
	flock(root_fd, LOCK_UN);

	for (int i = 0; i < opt.fork_n; i++) {
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0)
			child_main(pidfd, sfd);
	}
	/* A daemon-like descendant: a new session, then the middle process exits. */
	for (int i = 0; i < opt.escape_n; i++) {
		fflush(NULL);
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			setsid();
			pid = fork();
			if (pid == 0) {
				signal(SIGTERM, SIG_IGN); /* a real daemon's own choice */
				printf("fake: escaped pid %d\n", (int)getpid());
				fflush(stdout);
				child_main(pidfd, sfd);
			}
			_exit(pid < 0 ? 1 : 0);
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (pidfd >= 0)
		close(pidfd);

	/* One event at a time from a list of monotonic deadlines; NEVER = not armed. */
	nsec_t start = now_mono();
	nsec_t enable_at = opt.never_enable ? NEVER : start + opt.enable_after;
	nsec_t term_at = NEVER, crash_at = NEVER, exit_at = NEVER;
	nsec_t eject_at = NEVER, reenable_at = NEVER, tick_at = NEVER;
	bool enabled_once = false, stopping = false;
	unsigned long ticks = 0;

	if (opt.never_enable) { /* "after enable" falls back to "after start" */
		if (opt.crash_after >= 0)
			crash_at = start + opt.crash_after;
		if (opt.exit_after >= 0)
			exit_at = start + opt.exit_after;
	}
	if (opt.print_every > 0)
		tick_at = start + opt.print_every;

	for (;;) {
		/* ties go to the earlier entry: stop requests beat scheduled events */
		nsec_t *dl[] = { &term_at, &crash_at, &exit_at, &enable_at, &eject_at,
				 &reenable_at, &tick_at };
		nsec_t *next = dl[0];
		nsec_t now = now_mono();

		for (size_t i = 1; i < sizeof(dl) / sizeof(dl[0]); i++)
			if (*dl[i] < *next)
				next = dl[i];

		if (*next <= now) {
			if (next == &term_at) {
				exit_with_reason(UNREG_REASON, 0);
			} else if (next == &crash_at) {
				crash();
			} else if (next == &exit_at) {
				exit_with_reason(opt.exit_reason, opt.exit_code);
			} else if (next == &enable_at && opt.init_fail) {
				/* ops.init() failed: the kernel backs out by itself, silently */
				flock(root_fd, LOCK_EX);
				kernel_teardown(root_fd, 0, false);
				flock(root_fd, LOCK_UN);
				exit_with_reason(INIT_FAIL_REASON, 0);
			} else if (next == &enable_at) {
				enable_at = NEVER;
				kernel_finish_enable();
				printf("fake: enabled\n");
				if (!enabled_once) {
					enabled_once = true;
					if (opt.crash_after >= 0)
						crash_at = now + opt.crash_after;
					if (opt.exit_after >= 0)
						exit_at = now + opt.exit_after;
					if (opt.eject_after >= 0)
						eject_at = now + opt.eject_after;
				}
			} else if (next == &eject_at) {
				/* the kernel dropping us (e.g. a watchdog stall), process untouched */
				eject_at = NEVER;
				flock(root_fd, LOCK_EX);
				kernel_teardown(root_fd, 0, true);
				flock(root_fd, LOCK_UN);
				printf("fake: ejected\n");
				if (opt.exit_on_eject)
					exit_with_reason(STALL_REASON, 0);
				if (opt.reenable_after >= 0)
					reenable_at = now + opt.reenable_after;
			} else if (next == &reenable_at) {
				reenable_at = NEVER;
				flock(root_fd, LOCK_EX);
				if (!kernel_check_free())
					die("re-enable failed");
				kernel_begin_enable();
				flock(root_fd, LOCK_UN);
				printf("fake: re-enabling\n");
				enable_at = now + opt.enable_after;
			} else {
				printf("tick %lu\n", ++ticks);
				/* fixed grid from start, no drift; skip ticks we slept through */
				while (tick_at <= now)
					tick_at += opt.print_every;
			}
			continue;
		}

		struct pollfd pfd = { .fd = sfd, .events = POLLIN };
		struct timespec ts, *tsp = NULL;

		if (*next != NEVER) {
			ts.tv_sec = (*next - now) / NSEC_PER_SEC;
			ts.tv_nsec = (*next - now) % NSEC_PER_SEC;
			tsp = &ts;
		}
		if (ppoll(&pfd, 1, tsp, NULL) < 0 && errno != EINTR)
			die("ppoll: %s", strerror(errno));

		struct signalfd_siginfo si;

		while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			char name[32];

			if (stopping)
				continue;
			stopping = true;
			printf("fake: got %s, stopping\n", signal_name((int)si.ssi_signo, name, sizeof(name)));
			/* a stopping scheduler does nothing else but tick */
			enable_at = crash_at = exit_at = eject_at = reenable_at = NEVER;
			term_at = now_mono() + opt.term_delay;
		}
	}
}
