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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "logs.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
/* Added to the errno the child reports when it could not enter its cgroup. */
#define CGROUP_JOIN_FAILED (1 << 20)

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

/* ---- cgroup v2: each scheduler in a cgroup of its own, killed with cgroup.kill ---- */

/* Read a small file into buf; its length, or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The cgroup2 mount point, from /proc/self/mountinfo; 0 or -1. */
static int
cg_mount(char *buf, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep, mnt[PATH_MAX];
	size_t cap = 0;
	int r = -1;

	if (f == NULL)
		return -1;
	while (r < 0 && getline(&line, &cap, f) > 0) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPER */
		if ((sep = strstr(line, " - ")) == NULL || strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1 && strchr(mnt, '\\') == NULL &&
		    (size_t)snprintf(buf, len, "%s", mnt) < len)
			r = 0;
	}
	free(line);
	fclose(f);
	return r;
}

/* The cgroup2 directory of pid (0: ourselves), from /proc/PID/cgroup's "0::" line. */
static int
cg_of(pid_t pid, char *buf, size_t len)
{
	char path[64], text[4096], mnt[PATH_MAX], *l, *nl;

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	else
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_small(path, text, sizeof(text)) <= 0 || cg_mount(mnt, sizeof(mnt)) < 0)
		return -1;
	for (l = text; l != NULL && *l != '\0'; l = nl != NULL ? nl + 1 : NULL) {
		if ((nl = strchr(l, '\n')) != NULL)
			*nl = '\0';
		if (strncmp(l, "0::/", 4) != 0)
			continue;
		if (strstr(l, "/..") != NULL || strstr(l, " (deleted)") != NULL)
			return -1;
		return (size_t)snprintf(buf, len, "%s%s", mnt, strcmp(l + 3, "/") == 0 ? "" : l + 3) <
			       len
			       ? 0
			       : -1;
	}
	return -1;
}

static int
cg_write(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * Make <own cgroup>/schedlife-<daemon pid>-<seq>: its path (malloc'd) and an fd on its
 * cgroup.procs for the child, or NULL with why.
 */
static char *
cg_create(int64_t seq, int *procs_fd, char *why, size_t whylen)
{
	char base[PATH_MAX], path[PATH_MAX], file[PATH_MAX + 16];

	*procs_fd = -1;
	if (cg_of(0, base, sizeof(base)) < 0) {
		snprintf(why, whylen, "cgroup2 is not mounted, or schedlifed is in no cgroup2 cgroup");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/schedlife-%d-%lld", base, (int)getpid(),
			     (long long)seq) >= sizeof(path)) {
		snprintf(why, whylen, "cgroup path too long");
		return NULL;
	}
	if (mkdir(path, 0755) < 0 && !(errno == EEXIST && rmdir(path) == 0 && mkdir(path, 0755) == 0)) {
		snprintf(why, whylen, "cannot create cgroup %s: %s", path, strerror(errno));
		return NULL;
	}
	snprintf(file, sizeof(file), "%s/cgroup.kill", path);
	if (access(file, W_OK) < 0) {
		snprintf(why, whylen, "%s: %s (cgroup.kill needs Linux 5.14)", file, strerror(errno));
		rmdir(path);
		return NULL;
	}
	snprintf(file, sizeof(file), "%s/cgroup.procs", path);
	if ((*procs_fd = open(file, O_WRONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "%s: %s", file, strerror(errno));
		rmdir(path);
		return NULL;
	}
	return strdup(path);
}

/* Is the cgroup still populated? cgroup.events says; unreadable counts as empty. */
static bool
cg_populated(const char *dir)
{
	char path[PATH_MAX], text[256];

	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	return read_small(path, text, sizeof(text)) > 0 && strstr(text, "populated 1") != NULL;
}

/*
 * Kill everything in the cgroup and remove it. SIGKILLed processes leave the cgroup as
 * they exit, unreaped zombies included, so this waits briefly (100 ms at most) for it
 * to become empty.
 */
static void
cg_destroy(const char *dir)
{
	struct timespec ts = {0, 2000000L}; /* 2 ms */

	if (cg_populated(dir) && cg_write(dir, "cgroup.kill", "1") < 0)
		log_warn("cannot kill cgroup %s", dir);
	for (int i = 0; i < 50 && cg_populated(dir); i++)
		nanosleep(&ts, NULL);
	if (rmdir(dir) < 0 && errno != ENOENT)
		log_warn("cannot remove cgroup %s", dir);
}

/* Send sig to every process of the cgroup but skip (the main one, signalled by pidfd). */
static int
cg_signal(const char *dir, int sig, pid_t skip)
{
	char path[PATH_MAX], *line = NULL, *end;
	size_t cap = 0;
	FILE *f;
	long pid;

	if (sig == SIGKILL)
		return cg_write(dir, "cgroup.kill", "1") < 0 ? errno : 0;
	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	if ((f = fopen(path, "re")) == NULL)
		return errno;
	while (getline(&line, &cap, f) > 0) {
		pid = strtol(line, &end, 10);
		if (end != line && pid > 0 && pid <= INT_MAX && (pid_t)pid != skip)
			kill((pid_t)pid, sig); /* a member now; one that exits meanwhile is ESRCH */
	}
	free(line);
	fclose(f);
	return 0;
}

const char *
proc_kill_scope(const struct proc *p)
{
	return p->cgroup != NULL ? "cgroup" : p->group ? "process_group" : "process";
}

/* Runs in the child: only async-signal-safe calls from here on. */
static void __attribute__((noreturn))
child(const struct identity *id, char **env, int logfd, int cgfd, int errfd)
{
	sigset_t none;
	int nullfd, e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	if (setsid() < 0)
		goto fail;
	/* Into our own cgroup before anything runs that could fork. */
	if (cgfd >= 0 && write(cgfd, "0", 1) != 1) {
		e = errno | CGROUP_JOIN_FAILED;
		(void)!write(errfd, &e, sizeof(e));
		_exit(127);
	}
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
proc_spawn(const struct identity *id, const char *log_path, bool cgroup, int64_t seq,
	   struct proc *p, char *err, size_t errlen)
{
	static bool told;
	int logfd, pipefd[2], child_errno = 0, e, cgfd = -1;
	char **env, why[PATH_MAX + 128];
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
	if (cgroup && id->t.kill_mode == KILL_GROUP &&
	    (p->cgroup = cg_create(seq, &cgfd, why, sizeof(why))) == NULL && !told) {
		log_warnx("no cgroup for the scheduler (%s): a kill reaches its process group "
			  "only",
			  why);
		told = true;
	}
	pid = fork();
	if (pid < 0) {
		e = errno;
		snprintf(err, errlen, "fork: %s", strerror(e));
		goto out;
	}
	if (pid == 0)
		child(id, env, logfd, cgfd, pipefd[1]);
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
		e = child_errno & ~CGROUP_JOIN_FAILED;
		if (child_errno & CGROUP_JOIN_FAILED)
			snprintf(err, errlen, "cannot enter cgroup %s: %s", p->cgroup, strerror(e));
		else
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
	if (e != 0 && p->cgroup != NULL) {
		cg_destroy(p->cgroup);
		free(p->cgroup);
		p->cgroup = NULL;
	}
	if (cgfd >= 0)
		close(cgfd);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	close(pipefd[0]);
	close(logfd);
	free(env);
	return e;
}

int
proc_adopt(pid_t pid, bool group, const char *cgroup, struct proc *p)
{
	char now[PATH_MAX];

	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->group = group;
	p->child = false;
	p->pidfd = pidfd_open(pid);
	if (p->pidfd < 0)
		return errno;
	/* state.json is input: its cgroup is used only if the process is in it. */
	if (group && cgroup != NULL) {
		if (cg_of(pid, now, sizeof(now)) == 0 && strcmp(now, cgroup) == 0 &&
		    strstr(cgroup, "/schedlife-") != NULL)
			p->cgroup = strdup(cgroup);
		else
			log_warnx("pid %d is not in cgroup %s: a kill reaches its process group only",
				  (int)pid, cgroup);
	}
	return 0;
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
		if (whole && p->cgroup != NULL)
			return kill(p->pid, sig) < 0 ? errno : cg_signal(p->cgroup, sig, p->pid);
		if (kill(whole ? -p->pid : p->pid, sig) < 0) /* our unreaped child: safe */
			return errno;
		return 0;
	}
	if (p->pidfd < 0)
		return ESRCH;
	/*
	 * With a cgroup: the main process through its pidfd, then every other process of
	 * the cgroup by pid, the ones that left the group too; SIGKILL by cgroup.kill.
	 */
	if (whole && p->cgroup != NULL) {
		if (pidfd_send_signal(p->pidfd, sig) < 0)
			return errno;
		return cg_signal(p->cgroup, sig, p->pid);
	}
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
	if (p->cgroup != NULL) {
		cg_destroy(p->cgroup); /* what the scheduler left behind, wherever it went */
		free(p->cgroup);
		p->cgroup = NULL;
	} else if (p->group) {
		kill(-p->pid, SIGKILL); /* what the scheduler left behind in its group */
	}
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
