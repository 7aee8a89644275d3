/* The on_exit policy: what follows an exit nobody asked for (restart, fall back, reboot). */
#ifndef SCHEDLIFE_POLICY_H
#define SCHEDLIFE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct lc_ops;
struct lc_request;
struct lc_saved;

enum on_exit_action { ON_EXIT_NONE, ON_EXIT_RESTART, ON_EXIT_FALLBACK, ON_EXIT_REBOOT };

struct lc_policy {
	enum on_exit_action action;
	int64_t delay_ms, max_delay_ms, window_ms;
	int burst;
	char *fallback; /* a scheduler name, or NULL */
};

#define POLICY_TIMES_MAX 64

/* The policy's configuration and what it remembers between exits. */
struct policy {
	const struct lc_ops *ops;
	void *ctx;
	struct lc_policy cfg;
	int restarts; /* policy restarts since the last request */
	bool gave_up;
	int64_t restart_times[POLICY_TIMES_MAX]; /* monotonic: the restarts in the window */
	int restart_count;
	int64_t restart_delay_ms; /* the next restart's delay */
	bool pending;		  /* a restart or fallback of its own, queued and not yet attached */
	bool restart_armed;	  /* T_RESTART runs, due at restart_due_ms */
	int64_t restart_due_ms;
};

/* An exit as the policy sees it. */
struct policy_exit {
	int64_t seq;	     /* the slot's spawn count, for the events */
	const char *restart; /* what a restart would start again, or NULL */
	const char *exited;  /* the one that went: no falling back from the fallback itself */
};

void policy_init(struct policy *p, const struct lc_ops *ops, void *ctx);
void policy_free(struct policy *p);
void policy_configure(struct policy *p, const struct lc_policy *cfg);

/* Someone asked for something: the backoff and the window start afresh. */
void policy_reset(struct policy *p);
/* A request of the policy's own (or the boot attach): nobody waits for its answer. */
bool policy_owns(const struct lc_request *rq);
/* rq attached its scheduler. */
void policy_attached(struct policy *p, const struct lc_request *rq);
/* A scheduler that stayed up for uptime_ms has exited (before the slot is cleared). */
void policy_uptime(struct policy *p, int64_t uptime_ms);
/*
 * After an exit nobody asked for: announce it ("exited", the exit record), run the exec
 * hook, then the on_exit action. Returns the scheduler to attach now (the fallback), or
 * NULL.
 */
const char *policy_after_exit(struct policy *p, const struct policy_exit *x, const cJSON *record);
/* Whether a failed attach of rq is retried (call policy_attach_failed next). */
bool policy_retries(const struct policy *p, const struct lc_request *rq);
/* A policy's own attach failed: it counts toward the burst; retry later, or give up. */
void policy_attach_failed(struct policy *p, const struct policy_exit *x);
/* T_RESTART went off: true when the machine is to queue the restart now. */
bool policy_restart_due(struct policy *p);

/* Its part of state.json, its times on the wall clock; and back. */
cJSON *policy_state_json(const struct policy *p, int64_t now, int64_t wall);
void policy_restore(struct policy *p, const struct lc_saved *s, int64_t now, int64_t wall);
/* A restart that was waiting out its delay when the last daemon stopped, due at the same wall time. */
void policy_rearm(struct policy *p, int64_t due_wall_ms, int64_t now, int64_t wall);

#endif
