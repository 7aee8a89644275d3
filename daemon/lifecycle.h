/*
 * The scheduler slot as a state machine: requests, timers, process exits and kernel
 * changes in; spawns, signals, replies and events out through struct lc_ops. No system
 * calls here, so tests drive it with a fake clock and fake processes.
 */
#ifndef SCHEDLIFE_LIFECYCLE_H
#define SCHEDLIFE_LIFECYCLE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "identity.h"
#include "policy.h"
#include "proto.h"

#define LC_QUEUE_MAX 16
#define LC_KILL_WAIT_MS 2000
#define LC_LOG_TAIL_LINES 10

enum slot_state { SLOT_DETACHED, SLOT_STARTING, SLOT_ATTACHED, SLOT_STOPPING };
const char *slot_state_name(enum slot_state s);

enum lc_timer { T_READY_AFTER, T_STARTUP, T_GRACE, T_KILL, T_DISABLE, T_RESTART, T_COUNT };

/* What the lifecycle waits for from the kernel: nothing, changes while attached, a change soon. */
enum kwatch { KW_OFF, KW_EVENTS, KW_POLL };

struct exit_info {
	bool known; /* false: a re-adopted process, whose status nobody can reap */
	int code;
	int signal; /* 0: exited with code */
	bool core_dumped;
};

struct kernel_view {
	bool available; /* the sched_ext root exists */
	char state[16]; /* "" when the file is missing */
	char ops[128];	/* "" when root/ops is missing */
	int64_t enable_seq;
};

struct lc_request {
	enum proto_cmd cmd;
	uint64_t token; /* who gets the reply; 0: nobody (boot, policies) */
	uid_t uid;
	pid_t caller;
	char *name;
	char **args; /* NULL-terminated, or NULL */
	char *mode;
	bool wait;
	bool rollback;
	int64_t grace_ms; /* -1: the identity's grace */
	int signal;	  /* 0: the identity's stop signal */
};

struct lc_ops {
	int64_t (*now_ms)(void *ctx);  /* monotonic */
	int64_t (*wall_ms)(void *ctx); /* realtime, for "at" and started_at */
	enum proto_err (*resolve)(void *ctx, const struct lc_request *rq, struct identity **out,
				  char *err, size_t errlen);
	void (*kernel_read)(void *ctx, struct kernel_view *kv);
	void (*kernel_watch)(void *ctx, enum kwatch how);
	/* 0 and *pid and *log set, or an errno with err filled. */
	int (*spawn)(void *ctx, const struct identity *id, int64_t seq, pid_t *pid, char **log,
		     char *err, size_t errlen);
	/* Signal the current process, or its group; 0 or an errno (ESRCH: gone). */
	int (*signal)(void *ctx, int sig, bool group);
	/* Arm a timer delay_ms from now; a negative delay disarms it. */
	void (*timer)(void *ctx, enum lc_timer t, int64_t delay_ms);
	/* The answer to a request: payload is the result, or extra error fields. */
	void (*reply)(void *ctx, uint64_t token, enum proto_err err, const char *msg,
		      cJSON *payload);
	void (*emit)(void *ctx, cJSON *event); /* takes the event; "at" is added by ops */
	void (*persist)(void *ctx);
	/* The last lines of a log and its last "EXIT: " line, if any. */
	void (*log_info)(void *ctx, const char *path, cJSON **tail, char **reason);
	void (*exit_hook)(void *ctx, const cJSON *exit_event);
	void (*reboot)(void *ctx);
	/*
	 * Write state.json now, before acting on what it records: 0, or -1 with err
	 * filled. NULL: persist() is all there is.
	 */
	int (*persist_now)(void *ctx, char *err, size_t errlen);
	/* Optional (NULL: none): fields the process side adds to status. */
	void (*status_extra)(void *ctx, cJSON *status);
};

enum lc_phase {
	PH_IDLE,
	PH_PRE_ATTACH,	 /* the kernel is still letting go of the previous scheduler */
	PH_STARTING,	 /* spawned; waiting out ready_after and the kernel's readiness */
	PH_START_ABORT,	 /* startup failed; SIGKILL sent, waiting for the exit */
	PH_STOP_GRACE,	 /* stop signal sent; waiting out the grace */
	PH_STOP_KILL,	 /* SIGKILL sent; waiting up to 2 s */
	PH_STOP_DISABLE, /* process gone; waiting for the kernel to say disabled */
	PH_COUNT
};

/* The inputs of lifecycle.c's table actions[phase][input]; timers in enum lc_timer's order. */
enum lc_event { EV_EXIT, EV_KERNEL, EV_TIMER_READY, EV_TIMER_STARTUP, EV_TIMER_GRACE,
		EV_TIMER_KILL, EV_TIMER_DISABLE, EV_COUNT };

/* One lifecycle request in progress. */
struct lc_op {
	struct lc_request rq;
	int stage; /* replace/restart: 0 detach, 1 attach, 2 rollback */
	enum lc_phase phase;
	int64_t t0_ms, stop_t0_ms;
	struct identity *target;   /* what to attach */
	struct identity *previous; /* replace --rollback: what to go back to */
	bool alive_ok, kernel_ok;
	bool waited_kernel;
	bool wait_disable;
	enum proto_err fail;	 /* a startup failure waiting on the kill and the kernel */
	char *fail_msg;
	cJSON *fail_extra;
	const char *outcome;
	cJSON *stopped; /* the stop's result, kept for replace */
	cJSON *exit;
	pid_t stop_pid;
	bool replied;
};

struct lifecycle {
	const struct lc_ops *ops;
	void *ctx;
	struct policy policy; /* what follows an exit nobody asked for */

	enum slot_state state;
	struct identity *cur;  /* the scheduler in the slot */
	struct identity *last; /* the most recent one, for restart when detached */
	pid_t pid;
	int64_t seq, next_seq;
	int64_t started_mono_ms, started_wall_ms;
	char *log;
	bool adopted;	      /* re-adopted after a daemon restart */
	bool exited_unasked;  /* the last one died on its own and nothing happened since */
	bool kernel_lagging;  /* ours went without the kernel confirming "disabled" yet */
	bool kernel_enabled;  /* for sched_ext_disabled / sched_ext_enabled */
	int64_t enable_seq;
	cJSON *last_exit;
	char *persist_error;  /* why the last write of state.json failed, or NULL */

	bool running;
	struct lc_op op;
	struct lc_request queue[LC_QUEUE_MAX];
	int qhead, qlen;
};

void lc_init(struct lifecycle *lc, const struct lc_ops *ops, void *ctx);
void lc_free(struct lifecycle *lc);
void lc_set_policy(struct lifecycle *lc, const struct lc_policy *p);

/* Queue a lifecycle request; E_BUSY when the queue is full. Takes rq's strings. */
enum proto_err lc_submit(struct lifecycle *lc, struct lc_request *rq);
void lc_request_free(struct lc_request *rq);

void lc_on_exit(struct lifecycle *lc, const struct exit_info *ei);
void lc_on_timer(struct lifecycle *lc, enum lc_timer t);
void lc_on_kernel(struct lifecycle *lc);

/* What a valid state.json says, for lc_restore. */
struct lc_saved {
	struct identity *id; /* the scheduler in the slot, or NULL */
	enum slot_state state;
	pid_t pid;
	int64_t seq, started_wall_ms;
	const char *log;
	bool alive;		  /* pid, start time and executable agree: the same process */
	enum proto_cmd op;	  /* the request in progress, or CMD_COUNT */
	struct identity *target;  /* a replace's or restart's scheduler still to attach */
	bool restart_pending;	  /* an on_exit restart waiting for its delay */
	int64_t restart_due_wall_ms;
	int restarts, restart_count;
	int64_t restart_times_wall_ms[POLICY_TIMES_MAX];
	int64_t restart_delay_ms;
	bool gave_up;
};

/*
 * Take up where the last daemon left off: re-adopt a live scheduler in the state it
 * was in (starting: wait for it to be ready again; stopping: finish the kill, and a
 * replace's attach), run the on_exit policy for one that died meanwhile, and re-arm a
 * pending restart. Takes s->id and s->target.
 */
void lc_restore(struct lifecycle *lc, struct lc_saved *s);

cJSON *lc_status(struct lifecycle *lc);
cJSON *lc_state_json(const struct lifecycle *lc); /* for state.json */
cJSON *exit_to_json(const struct exit_info *ei);

#endif
