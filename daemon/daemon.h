/* The daemon's one instance: its places, config, slot, and the lifecycle's real ops. */
#ifndef SCHEDLIFE_DAEMON_H
#define SCHEDLIFE_DAEMON_H

#include <limits.h>
#include <stdbool.h>

#include "authz.h"
#include "config.h"
#include "lifecycle.h"
#include "loop.h"
#include "proc.h"
#include "registry.h"

#define DAEMON_MAX_HOOKS 16
#define REBOOT_HOOK_WAIT_MS 10000

struct daemon {
	const char *socket_path;
	const char *run_dir;
	const char *log_dir;
	const char *scx_root;
	const char *config_path;
	char state_path[PATH_MAX];
	bool allow_reboot;
	bool shutting_down;

	struct config cfg;
	struct lifecycle lc;

	struct proc proc;
	struct watch proc_w;
	struct timer timers[T_COUNT];

	bool persist_dirty;

	pid_t hooks[DAEMON_MAX_HOOKS];
	int nhooks;
	/* on_exit reboot waits for the exec hooks (up to REBOOT_HOOK_WAIT_MS), then goes. */
	bool reboot_pending;
	struct timer reboot_timer;
	struct timer persist_retry; /* state.json could not be written: try again */
};

extern struct daemon D;
extern const struct lc_ops daemon_ops;

int daemon_setup(void);
/* Read state.json: the seq, the last exit, and a scheduler to re-adopt. */
void daemon_restore(void);
void daemon_persist(void);
/* Write state.json now: 0, or -1 with err filled (and retried every second). */
int daemon_persist_checked(char *err, size_t errlen);
/* Write state.json if a transition asked for it since the last write. */
void daemon_persist_pending(void);
/* Reap children that are not the scheduler: exec hooks, and orphans when PID 1. */
void daemon_reap_others(void);
/* The newest log of a seq (<= 0: the current or latest one). */
int daemon_log_path(int64_t seq, char *buf, size_t len, int64_t *found_seq);

#endif
