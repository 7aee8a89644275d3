/* The lifecycle's ops for real: processes, timers, exec hooks, reboot, state.json. */
#include "daemon.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "kwatch.h"
#include "log.h"
#include "logs.h"
#include "names.h"
#include "state.h"

struct daemon D;

/* Identity checks for re-adoption, kept beside state.json's copy of the slot. */
static int64_t cur_start_time = -1;
static char cur_exe[PATH_MAX];

static int64_t
op_now(void *ctx)
{
	(void)ctx;
	return mono_ms();
}

static int64_t
op_wall(void *ctx)
{
	(void)ctx;
	return realtime_ms();
}

static enum proto_err
op_resolve(void *ctx, const struct lc_request *rq, struct identity **out, char *err, size_t errlen)
{
	(void)ctx;
	/* Internal requests (boot, fallback) act as root. */
	return registry_resolve(&D.cfg, rq->name, rq->mode, rq->args,
				rq->token == 0 || rq->uid == 0, out, err, errlen);
}

static void
op_kernel_read(void *ctx, struct kernel_view *kv)
{
	(void)ctx;
	kwatch_read(kv);
}

static void
op_kernel_watch(void *ctx, enum kwatch how)
{
	(void)ctx;
	kwatch_set(how);
}

static void
proc_gone(struct watch *w, uint32_t events)
{
	struct exit_info ei;

	(void)events;
	kwatch_forget();
	if (w->fd >= 0)
		loop_del(w);
	proc_reap(&D.proc, &ei);
	w->fd = -1;
	cur_start_time = -1;
	lc_on_exit(&D.lc, &ei);
	daemon_reap_others();
}

static int
watch_proc(void)
{
	D.proc_w.fd = D.proc.pidfd;
	D.proc_w.fn = proc_gone;
	if (D.proc.by_pid)
		return 0; /* no pidfd: SIGCHLD brings daemon_reap_others to it */
	return loop_add(&D.proc_w, EPOLLIN);
}

static int
op_spawn(void *ctx, const struct identity *id, int64_t seq, pid_t *pid, char **log, char *err,
	 size_t errlen)
{
	char path[PATH_MAX];
	int e;

	(void)ctx;
	snprintf(path, sizeof(path), "%s/%s.%lld.log", D.log_dir, id->name, (long long)seq);
	e = proc_spawn(id, path, D.cfg.cgroup, seq, &D.proc, err, errlen);
	log_prune(D.log_dir, D.cfg.log_keep);
	if (e != 0) {
		log_warnx("spawn of %s (seq %lld) failed: %s", id->name, (long long)seq, err);
		return e;
	}
	if (watch_proc() < 0) {
		e = errno;
		snprintf(err, errlen, "epoll: %s", strerror(e));
		proc_signal(&D.proc, SIGKILL, true);
		struct exit_info ei;
		proc_reap(&D.proc, &ei);
		return e;
	}
	cur_start_time = proc_start_time(D.proc.pid);
	if (proc_exe(D.proc.pid, cur_exe, sizeof(cur_exe)) < 0)
		cur_exe[0] = '\0';
	*pid = D.proc.pid;
	*log = strdup(path);
	log_info("spawned %s (pid %d, seq %lld), log %s", id->name, (int)D.proc.pid, (long long)seq,
		 path);
	return 0;
}

/* status: what a kill reaches, and the scheduler's cgroup. */
static void
op_status_extra(void *ctx, cJSON *o)
{
	(void)ctx;
	if (D.lc.cur != NULL && proc_tracked(&D.proc))
		cJSON_AddStringToObject(o, "kill_scope", proc_kill_scope(&D.proc));
	else
		cJSON_AddNullToObject(o, "kill_scope");
	if (D.lc.cur != NULL && D.proc.cgroup != NULL)
		cJSON_AddStringToObject(o, "cgroup", D.proc.cgroup);
	else
		cJSON_AddNullToObject(o, "cgroup");
}

static int
op_signal(void *ctx, int sig, bool group)
{
	(void)ctx;
	log_debug("sending %s to %s %d", signal_name(sig), group ? "group" : "pid", (int)D.proc.pid);
	return proc_signal(&D.proc, sig, group);
}

static void
lc_timer_fired(struct timer *t) /* cppcheck-suppress constParameter */
{
	kwatch_forget();
	lc_on_timer(&D.lc, (enum lc_timer)(t - D.timers));
}

static void
op_timer(void *ctx, enum lc_timer t, int64_t delay_ms)
{
	(void)ctx;
	if (delay_ms < 0)
		timer_disarm(&D.timers[t]);
	else
		timer_arm_ms(&D.timers[t], delay_ms);
}

static void
op_reply(void *ctx, uint64_t token, enum proto_err err, const char *msg, cJSON *payload)
{
	(void)ctx;
	if (err != E_OK)
		log_info("request failed: %s: %s", proto_errs[err].name, msg);
	control_reply(token, err, msg, payload);
}

static void
op_emit(void *ctx, cJSON *e)
{
	char at[40], *line;

	(void)ctx;
	if (cJSON_GetObjectItem(e, "at") == NULL) {
		format_utc_ms(realtime_ms(), at, sizeof(at));
		cJSON_AddStringToObject(e, "at", at);
	}
	line = cJSON_PrintUnformatted(e);
	log_info("event %s", line != NULL ? line : "?");
	free(line);
	control_broadcast(e);
	cJSON_Delete(e);
}

static void
op_persist(void *ctx)
{
	(void)ctx;
	/* Written once the loop has sent this round's replies and events. */
	D.persist_dirty = true;
	control_state_changed();
}

static int
op_persist_now(void *ctx, char *err, size_t errlen)
{
	(void)ctx;
	return daemon_persist_checked(err, errlen);
}

static void
after_events(void)
{
	kwatch_forget();
	daemon_persist_pending();
}

void
daemon_persist_pending(void)
{
	if (D.persist_dirty)
		daemon_persist();
}

static void
op_log_info(void *ctx, const char *path, cJSON **tail, char **reason)
{
	(void)ctx;
	*tail = log_tail(path, LC_LOG_TAIL_LINES, reason);
}

static void
setenv_json(const cJSON *e, const char *key, const char *var)
{
	const cJSON *v = cJSON_GetObjectItem(e, key);
	char buf[64];

	if (cJSON_IsString(v)) {
		setenv(var, v->valuestring, 1);
	} else if (cJSON_IsNumber(v)) {
		snprintf(buf, sizeof(buf), "%lld", (long long)v->valuedouble);
		setenv(var, buf, 1);
	}
}

static void
op_exit_hook(void *ctx, const cJSON *e)
{
	pid_t pid;

	(void)ctx;
	if (D.cfg.on_exit_exec == NULL)
		return;
	if (D.nhooks == DAEMON_MAX_HOOKS) {
		log_warnx("on_exit.exec not run: %d hooks still running", D.nhooks);
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_warn("on_exit.exec: fork");
		return;
	}
	if (pid == 0) {
		sigset_t none;
		int fd = open("/dev/null", O_RDONLY);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		setsid();
		if (fd >= 0)
			dup2(fd, 0);
		setenv_json(e, "event", "SCHEDLIFE_EVENT");
		setenv_json(e, "name", "SCHEDLIFE_NAME");
		setenv_json(e, "pid", "SCHEDLIFE_PID");
		setenv_json(e, "seq", "SCHEDLIFE_SEQ");
		setenv_json(cJSON_GetObjectItem(e, "exit"), "code", "SCHEDLIFE_EXIT_CODE");
		setenv_json(cJSON_GetObjectItem(e, "exit"), "signal", "SCHEDLIFE_EXIT_SIGNAL");
		setenv_json(e, "log", "SCHEDLIFE_LOG");
		setenv_json(e, "reason", "SCHEDLIFE_REASON");
		execv(D.cfg.on_exit_exec[0], D.cfg.on_exit_exec);
		fprintf(stderr, "schedlifed: on_exit.exec %s: %s\n", D.cfg.on_exit_exec[0],
			strerror(errno));
		_exit(127);
	}
	D.hooks[D.nhooks++] = pid;
	log_info("on_exit.exec %s started (pid %d)", D.cfg.on_exit_exec[0], (int)pid);
}

static void
reboot_now(void)
{
	log_info("on_exit: rebooting");
	sync();
	if (reboot(RB_AUTOBOOT) < 0)
		log_warn("reboot");
}

static void
reboot_timeout(struct timer *t)
{
	(void)t;
	log_warnx("on_exit.exec still running after %ds: rebooting anyway",
		  REBOOT_HOOK_WAIT_MS / 1000);
	reboot_now();
}

static void
op_reboot(void *ctx)
{
	(void)ctx;
	if (!D.allow_reboot) {
		log_warnx("on_exit reboot refused: not PID 1 and no --allow-reboot");
		return;
	}
	/* Let the exec hook save what it must first (daemon_reap_others goes on). */
	if (D.nhooks > 0) {
		log_info("on_exit: reboot once on_exit.exec is done (at most %ds)",
			 REBOOT_HOOK_WAIT_MS / 1000);
		D.reboot_pending = true;
		timer_arm_ms(&D.reboot_timer, REBOOT_HOOK_WAIT_MS);
		return;
	}
	reboot_now();
}

static void persist_retry(struct timer *t);

const struct lc_ops daemon_ops = {
	.now_ms = op_now,
	.wall_ms = op_wall,
	.resolve = op_resolve,
	.kernel_read = op_kernel_read,
	.kernel_watch = op_kernel_watch,
	.spawn = op_spawn,
	.signal = op_signal,
	.timer = op_timer,
	.reply = op_reply,
	.emit = op_emit,
	.persist = op_persist,
	.log_info = op_log_info,
	.exit_hook = op_exit_hook,
	.reboot = op_reboot,
	.persist_now = op_persist_now,
	.status_extra = op_status_extra,
};

int
daemon_setup(void)
{
	if (kwatch_setup(D.scx_root, &D.lc) < 0)
		return -1;
	loop_after_events(after_events);
	D.proc.pidfd = -1;
	D.proc_w.fd = -1;
	for (int t = 0; t < T_COUNT; t++)
		if (timer_init(&D.timers[t], lc_timer_fired, NULL) < 0)
			return -1;
	if (timer_init(&D.reboot_timer, reboot_timeout, NULL) < 0 ||
	    timer_init(&D.persist_retry, persist_retry, NULL) < 0)
		return -1;
	snprintf(D.state_path, sizeof(D.state_path), "%s/state.json", D.run_dir);
	lc_init(&D.lc, &daemon_ops, NULL);
	return 0;
}

/* A write that failed is tried again every second, and shown in status until then. */
static void
persist_retry(struct timer *t)
{
	(void)t;
	daemon_persist();
}

int
daemon_persist_checked(char *err, size_t errlen)
{
	cJSON *o;
	char exe[PATH_MAX];
	int r;

	D.persist_dirty = false;
	/*
	 * The executable as it is now: a wrapper that execs the scheduler changes it after
	 * the spawn (the start time stays), and the next daemon compares with this one.
	 */
	if (D.lc.cur != NULL && proc_tracked(&D.proc) && D.proc.pid == D.lc.pid &&
	    proc_start_time(D.lc.pid) == cur_start_time && proc_exe(D.lc.pid, exe, sizeof(exe)) == 0)
		snprintf(cur_exe, sizeof(cur_exe), "%s", exe);
	o = lc_state_json(&D.lc);
	if (D.lc.cur != NULL) {
		cJSON_AddNumberToObject(o, "start_time", (double)cur_start_time);
		cJSON_AddStringToObject(o, "exe", cur_exe);
		if (D.proc.cgroup != NULL)
			cJSON_AddStringToObject(o, "cgroup", D.proc.cgroup);
	}
	r = state_write(D.state_path, o, err, errlen);
	cJSON_Delete(o);
	if (r < 0) {
		if (D.lc.persist_error == NULL)
			log_warnx("cannot write %s: %s", D.state_path, err);
		free(D.lc.persist_error);
		D.lc.persist_error = strdup(err);
		timer_arm_ms(&D.persist_retry, 1000);
		control_forget_status();
		return -1;
	}
	if (D.lc.persist_error != NULL) {
		log_info("%s written again", D.state_path);
		free(D.lc.persist_error);
		D.lc.persist_error = NULL;
		timer_disarm(&D.persist_retry);
		control_forget_status();
	}
	return 0;
}

void
daemon_persist(void)
{
	char err[256];

	(void)daemon_persist_checked(err, sizeof(err));
}

/* The highest seq a log in the log dir has: the seq never goes back, state.json or not. */
static int64_t
highest_log_seq(void)
{
	char path[PATH_MAX];
	int64_t found = 0;

	if (log_find(D.log_dir, 0, path, sizeof(path), &found) < 0 || found < 0 ||
	    found > STATE_SEQ_MAX)
		return 0;
	return found;
}

/* Is pid still the process state.json recorded: same start time, same executable? */
static bool
same_process(pid_t pid, int64_t start, const char *want_exe)
{
	char exe[PATH_MAX];

	return start >= 0 && proc_start_time(pid) == start &&
	       proc_exe(pid, exe, sizeof(exe)) == 0 && strcmp(exe, want_exe) == 0;
}

/*
 * After a bad state file: the processes whose output goes to one of our logs are
 * schedulers an earlier daemon spawned. Named in the log, not adopted: nothing in the
 * file can be trusted to say which one was in the slot, nor how to stop it.
 */
static void
report_orphans(void)
{
	char fd1[64], target[PATH_MAX];
	size_t dlen = strlen(D.log_dir);
	struct dirent *e;
	DIR *d = opendir("/proc");
	ssize_t n;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (*end != '\0' || pid <= 1 || pid == (long)getpid())
			continue;
		snprintf(fd1, sizeof(fd1), "/proc/%ld/fd/1", pid);
		n = readlink(fd1, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, D.log_dir, dlen) == 0 && target[dlen] == '/' &&
		    strchr(target + dlen + 1, '/') == NULL && n > 4 &&
		    strcmp(target + n - 4, ".log") == 0)
			log_warnx("pid %ld writes to %s: a scheduler of an earlier schedlifed, left "
				  "running and not supervised",
				  pid, target);
	}
	closedir(d);
}

void
daemon_restore(void)
{
	struct state_file sf;
	struct lc_saved *s = &sf.saved;
	char why[256], bad[PATH_MAX + 8];
	int64_t logs_seq = highest_log_seq();
	int r = state_read(D.state_path, D.log_dir, &sf, why, sizeof(why));

	if (r <= 0) {
		if (r < 0) {
			/*
			 * Not ours, or damaged: kept for a look, never trusted. A scheduler it
			 * named and that still runs is not adopted on the file's word; the kernel
			 * shows it loaded, and status calls it foreign.
			 */
			snprintf(bad, sizeof(bad), "%s.bad", D.state_path);
			if (rename(D.state_path, bad) < 0)
				log_warn("cannot rename %s", D.state_path);
			log_warnx("%s: %s; kept aside as %s, starting with an empty slot",
				  D.state_path, why, bad);
			report_orphans();
		}
		D.lc.next_seq = D.lc.seq = logs_seq;
		daemon_persist();
		return;
	}
	D.lc.next_seq = sf.seq > logs_seq ? sf.seq : logs_seq;
	D.lc.seq = D.lc.next_seq;
	D.lc.last_exit = sf.last_exit;
	sf.last_exit = NULL;
	D.lc.last = sf.last;
	sf.last = NULL;
	if (s->id != NULL) {
		/* The same process only if pid, start time and executable all agree. */
		s->alive = same_process(s->pid, sf.start_time, sf.exe) &&
			   proc_adopt(s->pid, s->id->t.kill_mode == KILL_GROUP,
				      sf.cgroup[0] != '\0' ? sf.cgroup : NULL, &D.proc) == 0 &&
			   watch_proc() == 0;
		if (s->alive) {
			cur_start_time = sf.start_time;
			snprintf(cur_exe, sizeof(cur_exe), "%s", sf.exe);
			log_info("re-adopted %s (pid %d, seq %lld, %s)", s->id->name, (int)s->pid,
				 (long long)s->seq, slot_state_name(s->state));
		} else {
			log_info("%s (pid %d, seq %lld) exited while schedlifed was down", s->id->name,
				 (int)s->pid, (long long)s->seq);
		}
	}
	if (s->op != CMD_COUNT)
		log_info("the last daemon was in the middle of a %s", proto_cmds[s->op].name);
	lc_restore(&D.lc, s);
	state_file_free(&sf);
	daemon_persist();
}

void
daemon_reap_others(void)
{
	if (D.proc.by_pid && proc_exited(&D.proc))
		proc_gone(&D.proc_w, 0);
	for (int i = 0; i < D.nhooks;) {
		int status;
		pid_t r = waitpid(D.hooks[i], &status, WNOHANG);
		if (r == D.hooks[i] || (r < 0 && errno == ECHILD)) {
			if (r > 0 && WIFEXITED(status) && WEXITSTATUS(status) != 0)
				log_warnx("on_exit.exec exited with code %d", WEXITSTATUS(status));
			D.hooks[i] = D.hooks[--D.nhooks];
		} else {
			i++;
		}
	}
	if (D.reboot_pending && D.nhooks == 0)
		reboot_now();
	/* As PID 1, orphans are ours to reap; never the scheduler, whose pidfd does that. */
	if (getpid() != 1)
		return;
	for (;;) {
		siginfo_t si = {0};
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid == 0)
			return;
		if (si.si_pid == D.proc.pid && proc_tracked(&D.proc))
			return;
		waitpid(si.si_pid, NULL, WNOHANG);
	}
}

int
daemon_log_path(int64_t seq, char *buf, size_t len, int64_t *found_seq)
{
	if (seq <= 0 && D.lc.log != NULL) {
		snprintf(buf, len, "%s", D.lc.log);
		*found_seq = D.lc.seq;
		return 0;
	}
	return log_find(D.log_dir, seq, buf, len, found_seq);
}
