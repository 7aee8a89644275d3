/* schedlifed: options, the run dir lock, signals, start-up and shut-down. */
#include <argp.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "daemon.h"
#include "log.h"
#include "logs.h"
#include "names.h"
#include "scx.h"

#define DEFAULT_CONFIG "/etc/schedlifed/schedlifed.json"
#define DEFAULT_LOG_DIR "/var/log/schedlifed"

enum { OPT_RUN_DIR = 256, OPT_LOG_DIR, OPT_SCX_ROOT, OPT_ATTACH, OPT_ALLOW_REBOOT, OPT_CHECK };

static struct {
	const char *config;
	const char *socket;
	const char *run_dir;
	const char *log_dir;
	const char *scx_root;
	const char *attach;
	bool allow_reboot;
	bool check;
} opt = {
	.config = DEFAULT_CONFIG,
	.run_dir = PROTO_DEFAULT_RUN_DIR,
	.log_dir = DEFAULT_LOG_DIR,
};

const char *argp_program_version = "schedlifed " SCHEDLIFE_VERSION;

static const struct argp_option options[] = {
	{"config", 'c', "CONFIG", 0, "Config file (default " DEFAULT_CONFIG ")", 0},
	{"socket", 's', "SOCKET", 0, "Control socket (default RUN_DIR/" PROTO_SOCKET_NAME ", env SCHEDLIFED_SOCKET)", 0},
	{"run-dir", OPT_RUN_DIR, "DIR", 0, "Lock and state.json (default " PROTO_DEFAULT_RUN_DIR ")", 0},
	{"log-dir", OPT_LOG_DIR, "DIR", 0, "Per-spawn logs (default " DEFAULT_LOG_DIR ")", 0},
	{"sched-ext-root", OPT_SCX_ROOT, "DIR", 0, "The kernel's sched_ext directory (default " SCX_DEFAULT_ROOT ", env SCHEDLIFED_SCHED_EXT_ROOT)", 0},
	{"attach", OPT_ATTACH, "NAME", 0, "Attach NAME at start (overrides the config's boot)", 0},
	{"allow-reboot", OPT_ALLOW_REBOOT, NULL, 0, "Allow on_exit \"reboot\" when not PID 1", 0},
	{"check-config", OPT_CHECK, NULL, 0, "Validate the config and exit", 0},
	{"verbose", 'v', NULL, 0, "Log debug detail", 0},
	{NULL, 'h', NULL, 0, "The same as --help", -1},
	{NULL, 0, NULL, 0, NULL, 0},
};

static error_t
parse_opt(int key, char *arg, struct argp_state *state)
{
	switch (key) {
	case 'c':
		opt.config = arg;
		break;
	case 's':
		opt.socket = arg;
		break;
	case OPT_RUN_DIR:
		opt.run_dir = arg;
		break;
	case OPT_LOG_DIR:
		opt.log_dir = arg;
		break;
	case OPT_SCX_ROOT:
		opt.scx_root = arg;
		break;
	case OPT_ATTACH:
		if (!sched_name_valid(arg) && arg[0] != '/')
			argp_error(state, "invalid scheduler name \"%s\"", arg);
		opt.attach = arg;
		break;
	case OPT_ALLOW_REBOOT:
		opt.allow_reboot = true;
		break;
	case OPT_CHECK:
		opt.check = true;
		break;
	case 'v':
		log_verbose = 1;
		break;
	case 'h':
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	case ARGP_KEY_ARG:
		argp_error(state, "unexpected argument \"%s\"", arg);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp argp = {
	options, parse_opt, NULL,
	"Own the sched_ext scheduler slot: start, watch and stop one scheduler process.\v"
	"Runs in the foreground and logs to stderr. schedctl(1) is its client.",
	NULL, NULL, NULL,
};

static struct watch sig_w;

static bool
shutting_down(void)
{
	return D.shutting_down;
}

/* What the control requests may use of the daemon (control.h). */
static const struct control_env control_env = {
	.cfg = &D.cfg,
	.lc = &D.lc,
	.log_path = daemon_log_path,
	.shutting_down = shutting_down,
};

static void
shutdown_begin(void)
{
	struct lc_request rq = {.cmd = CMD_DETACH, .token = CONTROL_TOKEN_SHUTDOWN, .grace_ms = -1};

	if (D.shutting_down) {
		log_info("second signal: exiting now");
		loop_stop();
		return;
	}
	D.shutting_down = true;
	if (D.cfg.on_shutdown == SHUTDOWN_LEAVE || (D.lc.state == SLOT_DETACHED && !D.lc.running)) {
		if (D.lc.state != SLOT_DETACHED)
			log_info("leaving %s (pid %d) running for the next schedlifed",
				 D.lc.cur->name, (int)D.lc.pid);
		loop_stop();
		return;
	}
	log_info("shutting down: detaching first");
	if (lc_submit(&D.lc, &rq) != E_OK)
		loop_stop();
}

static void
config_warnings(const struct config *c)
{
	if (c->control_group != NULL && !c->has_group)
		log_warnx("control.group \"%s\" does not exist: no group may control", c->control_group);
}

static void
reload(void)
{
	struct config c;
	char err[512];
	struct lc_policy p;

	if (config_load(D.config_path, D.allow_reboot, &c, err, sizeof(err)) < 0) {
		log_warnx("reload: %s; keeping the old config", err);
		return;
	}
	config_free(&D.cfg);
	D.cfg = c;
	config_warnings(&D.cfg);
	config_policy(&D.cfg, &p);
	lc_set_policy(&D.lc, &p);
	log_info("reloaded %s", D.config_path);
}

static void
signal_ready(struct watch *w, uint32_t events)
{
	struct signalfd_siginfo si;

	(void)events;
	while (read(w->fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			log_info("got %s", signal_name((int)si.ssi_signo));
			shutdown_begin();
			break;
		case SIGHUP:
			reload();
			break;
		case SIGCHLD:
			daemon_reap_others();
			break;
		}
	}
}

static int lock_fd = -1;

/* One daemon per run dir: an flock held for our whole life, naming its holder. */
static void
lock_run_dir(void)
{
	char path[PATH_MAX], holder[32] = "";
	ssize_t n;

	snprintf(path, sizeof(path), "%s/schedlifed.lock", D.run_dir);
	lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lock_fd < 0)
		fatal("cannot open %s", path);
	if (flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
		n = pread(lock_fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		fatalx("another schedlifed (pid %s) holds %s", holder[0] ? holder : "?", path);
	}
	if (ftruncate(lock_fd, 0) == 0) {
		snprintf(holder, sizeof(holder), "%d\n", (int)getpid());
		(void)!pwrite(lock_fd, holder, strlen(holder), 0);
	}
}

static void
notify_ready(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, strlen(path));
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0'; /* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sun, len) < 0)
		log_warn("cannot notify %s", path);
	close(fd);
	/* Said once; the schedulers we spawn must not talk to our supervisor. */
	unsetenv("NOTIFY_SOCKET");
}

/* Create dir with mode, and its missing parents 0755, as mkdir -p does. */
static void
mkdir_or_die(const char *dir, mode_t mode)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path))
		fatal("cannot create %s: path too long", dir);
	for (char *p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			fatal("cannot create %s", path);
		*p = '/';
	}
	if (mkdir(dir, mode) < 0 && errno != EEXIST)
		fatal("cannot create %s", dir);
}

int
main(int argc, char **argv)
{
	static char socket_buf[PATH_MAX];
	char err[512];
	sigset_t mask;
	struct lc_policy pol;
	const char *env;

	setvbuf(stderr, NULL, _IOLBF, 0);
	argp_err_exit_status = 2; /* usage errors exit 2, as schedctl's do */
	if ((env = getenv(PROTO_SOCKET_ENV)) != NULL && *env)
		opt.socket = env;
	if ((env = getenv(SCX_ROOT_ENV)) != NULL && *env)
		opt.scx_root = env;
	argp_parse(&argp, argc, argv, 0, NULL, NULL);

	D.allow_reboot = opt.allow_reboot || getpid() == 1;
	D.config_path = opt.config;
	if (config_load(opt.config, D.allow_reboot, &D.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "schedlifed: %s\n", err);
		return 1;
	}
	if (opt.check) {
		config_warnings(&D.cfg);
		config_free(&D.cfg);
		printf("%s: ok\n", opt.config);
		return 0;
	}
	config_warnings(&D.cfg);
	D.run_dir = opt.run_dir;
	D.log_dir = opt.log_dir;
	D.scx_root = opt.scx_root != NULL ? opt.scx_root : SCX_DEFAULT_ROOT;
	if (opt.socket == NULL) {
		snprintf(socket_buf, sizeof(socket_buf), "%s/%s", D.run_dir, PROTO_SOCKET_NAME);
		opt.socket = socket_buf;
	}
	D.socket_path = opt.socket;

	mkdir_or_die(D.run_dir, 0755);
	mkdir_or_die(D.log_dir, 0750);
	if (log_dir_check(D.log_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "schedlifed: %s; make it owned by root and not writable by group "
				"or others\n",
			err);
		return 1;
	}
	lock_run_dir();

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	if (loop_init() < 0)
		fatal("epoll");
	sig_w.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	sig_w.fn = signal_ready;
	if (sig_w.fd < 0 || loop_add(&sig_w, EPOLLIN) < 0)
		fatal("signalfd");
	if (daemon_setup() < 0)
		fatal("timerfd, uevent socket");
	config_policy(&D.cfg, &pol);
	lc_set_policy(&D.lc, &pol);
	daemon_restore();

	if (control_listen(D.socket_path, &control_env) < 0) {
		if (errno == EADDRINUSE)
			fatalx("a live daemon already listens on %s", D.socket_path);
		fatal("cannot listen on %s", D.socket_path);
	}
	log_info("schedlifed %s listening on %s (sched_ext root %s)", SCHEDLIFE_VERSION,
		 D.socket_path, D.scx_root);

	const char *boot = opt.attach != NULL ? opt.attach : D.cfg.boot;
	/* Not over a scheduler taken back, nor a restart or replace resumed from state.json. */
	if (boot != NULL && D.lc.state == SLOT_DETACHED && !D.lc.running && !D.lc.policy.pending) {
		struct lc_request rq = {.cmd = CMD_ATTACH, .wait = true, .grace_ms = -1};
		rq.name = strdup(boot);
		log_info("boot: attaching %s", boot);
		lc_submit(&D.lc, &rq);
	}
	notify_ready();

	if (loop_run() < 0)
		fatalx("event loop failed");

	log_info("exiting");
	daemon_persist_pending();
	control_close();
	unlink(D.socket_path);
	if (D.proc.pidfd >= 0)
		close(D.proc.pidfd);
	lc_free(&D.lc);
	config_free(&D.cfg);
	return 0;
}
