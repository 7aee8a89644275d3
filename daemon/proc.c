/* Spawning, signalling and reaping the scheduler process, always through its pidfd. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "logs.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

extern char **environ;

static int
pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int
pidfd_send_signal(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* The daemon's environment with the entry's KEY=VALUE pairs put over it. */
static char **
build_env(char *const *extra)
{
	size_t n = strv_len(environ), m = strv_len(extra), k = 0;
	char **env = calloc(n + m + 1, sizeof(*env));

	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool overridden = false;
		for (size_t j = 0; j < m && !overridden; j++)
			overridden = strncmp(extra[j], environ[i], klen) == 0 && extra[j][klen] == '=';
		if (!overridden)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < m; j++)
		env[k++] = extra[j];
	return env;
}

/* Runs in the child: only async-signal-safe calls from here on. */
static void __attribute__((noreturn))
child(const struct identity *id, char **env, int logfd, int errfd)
{
	sigset_t none;
	int nullfd, e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (setsid() < 0)
		goto fail;
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0 || dup2(nullfd, 0) < 0 || dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0)
		goto fail;
	/* Every descriptor of ours is CLOEXEC already; this catches a library's. */
	syscall(SYS_close_range, 3U, UINT_MAX, CLOSE_RANGE_CLOEXEC);
	execve(id->path, id->argv, env);
fail:
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

int
proc_spawn(const struct identity *id, const char *log_path, struct proc *p, char *err,
	   size_t errlen)
{
	int logfd, pipefd[2], child_errno = 0, e;
	char **env;
	ssize_t n;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	p->pidfd = -1;
	logfd = log_open_safe(log_path, O_WRONLY | O_CREAT | O_APPEND);
	if (logfd < 0) {
		e = errno;
		snprintf(err, errlen, "cannot open log %s: %s", log_path, strerror(e));
		return e;
	}
	if ((env = build_env(id->env)) == NULL) {
		close(logfd);
		snprintf(err, errlen, "out of memory");
		return ENOMEM;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		e = errno;
		free(env);
		close(logfd);
		snprintf(err, errlen, "pipe: %s", strerror(e));
		return e;
	}
	pid = fork();
	if (pid < 0) {
		e = errno;
		snprintf(err, errlen, "fork: %s", strerror(e));
		goto out;
	}
	if (pid == 0)
		child(id, env, logfd, pipefd[1]);
	close(pipefd[1]);
	pipefd[1] = -1;
	/* The pipe closes on exec; a word on it is the exec's errno. */
	do
		n = read(pipefd[0], &child_errno, sizeof(child_errno));
	while (n < 0 && errno == EINTR);
	/* Not reaped yet, so the pid cannot have been reused. */
	p->pid = pid;
	p->child = true;
	p->pidfd = pidfd_open(pid);
	if (n == sizeof(child_errno)) {
		e = child_errno;
		snprintf(err, errlen, "cannot execute %s: %s", id->path, strerror(e));
		waitpid(pid, NULL, 0);
		if (p->pidfd >= 0)
			close(p->pidfd);
		p->pidfd = -1;
		goto out;
	}
	if (p->pidfd < 0 && errno == ENOSYS) {
		p->by_pid = true;
	} else if (p->pidfd < 0) {
		e = errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(e));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		goto out;
	}
	p->group = id->t.kill_mode == KILL_GROUP;
	e = 0;
out:
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	close(pipefd[0]);
	close(logfd);
	free(env);
	return e;
}

int
proc_adopt(pid_t pid, bool group, struct proc *p)
{
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->group = group;
	p->child = false;
	p->pidfd = pidfd_open(pid);
	return p->pidfd < 0 ? errno : 0;
}

bool
proc_tracked(const struct proc *p)
{
	return p->pidfd >= 0 || (p->by_pid && p->pid > 0);
}

bool
proc_exited(const struct proc *p)
{
	struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
	siginfo_t si;

	if (p->by_pid && p->pid > 0) {
		memset(&si, 0, sizeof(si));
		return waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 ||
		       si.si_pid != 0;
	}
	return p->pidfd < 0 || poll(&pfd, 1, 0) > 0;
}

int
proc_signal(struct proc *p, int sig, bool group)
{
	bool whole = group && p->group;

	/*
	 * Through the pidfd, so a reused pid is never hit; for the group, a check through
	 * the pidfd first (signal 0), then the group once, the leader included. The group
	 * id is the leader's pid, which cannot be reused while the leader lives or is our
	 * unreaped child, nor while any member of the group lives.
	 */
	if (p->by_pid && p->pid > 0) {
		if (kill(whole ? -p->pid : p->pid, sig) < 0) /* our unreaped child: safe */
			return errno;
		return 0;
	}
	if (p->pidfd < 0)
		return ESRCH;
	if (pidfd_send_signal(p->pidfd, whole ? 0 : sig) < 0)
		return errno;
	if (whole && kill(-p->pid, sig) < 0)
		return errno;
	return 0;
}

void
proc_reap(struct proc *p, struct exit_info *ei)
{
	siginfo_t si;

	memset(ei, 0, sizeof(*ei));
	if (p->group)
		kill(-p->pid, SIGKILL); /* what the scheduler left behind in its group */
	memset(&si, 0, sizeof(si));
	if (p->by_pid ? waitid(P_PID, (id_t)p->pid, &si, WEXITED) == 0
		      : p->child && waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, WEXITED) == 0) {
		ei->known = true;
		if (si.si_code == CLD_EXITED) {
			ei->code = si.si_status;
		} else {
			ei->signal = si.si_status;
			ei->core_dumped = si.si_code == CLD_DUMPED;
		}
	}
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	p->pid = 0;
	p->by_pid = false;
}

int64_t
proc_start_time(pid_t pid)
{
	char path[64], buf[1024], *p, *end;
	long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: count from the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p++;
	/* Field 3 (state) follows; start time is field 22. */
	for (int field = 3; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -1;
	errno = 0;
	v = strtoll(p, &end, 10);
	if (end == p || errno != 0 || v < 0)
		return -1;
	return v;
}

int
proc_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}
