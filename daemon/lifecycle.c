/* The lifecycle state machine of the one scheduler slot (SPEC 3). */
#include "lifecycle.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "names.h"

#define OPS (lc->ops)
#define CTX (lc->ctx)

static const char *const state_names[] = {"detached", "starting", "attached", "stopping"};

const char *
slot_state_name(enum slot_state s)
{
	return state_names[s];
}

void
lc_init(struct lifecycle *lc, const struct lc_ops *ops, void *ctx)
{
	memset(lc, 0, sizeof(*lc));
	lc->ops = ops;
	lc->ctx = ctx;
	policy_init(&lc->policy, ops, ctx);
}

void
lc_request_free(struct lc_request *rq)
{
	free(rq->name);
	free(rq->mode);
	strv_free(rq->args);
	memset(rq, 0, sizeof(*rq));
}

static void
op_clear(struct lc_op *op)
{
	lc_request_free(&op->rq);
	identity_free(op->target);
	identity_free(op->previous);
	free(op->fail_msg);
	cJSON_Delete(op->fail_extra);
	cJSON_Delete(op->stopped);
	cJSON_Delete(op->exit);
	memset(op, 0, sizeof(*op));
}

static void
slot_clear(struct lifecycle *lc)
{
	if (lc->cur != NULL && lc->cur->kind == KIND_SCHED_EXT)
		lc->kernel_lagging = true;
	identity_free(lc->cur);
	lc->cur = NULL;
	lc->pid = 0;
	free(lc->log);
	lc->log = NULL;
	lc->adopted = false;
	lc->kernel_enabled = false;
	lc->state = SLOT_DETACHED;
	OPS->kernel_watch(CTX, KW_OFF);
}

void
lc_free(struct lifecycle *lc)
{
	if (lc->running)
		op_clear(&lc->op);
	for (int i = 0; i < lc->qlen; i++)
		lc_request_free(&lc->queue[(lc->qhead + i) % LC_QUEUE_MAX]);
	identity_free(lc->cur);
	identity_free(lc->last);
	free(lc->log);
	policy_free(&lc->policy);
	free(lc->persist_error);
	cJSON_Delete(lc->last_exit);
}

void
lc_set_policy(struct lifecycle *lc, const struct lc_policy *p)
{
	policy_configure(&lc->policy, p);
}

static cJSON *
event_new(struct lifecycle *lc, const char *name)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "event", name);
	cJSON_AddNumberToObject(e, "seq", (double)lc->seq);
	if (lc->cur != NULL) {
		cJSON_AddStringToObject(e, "name", lc->cur->name);
		cJSON_AddNumberToObject(e, "pid", lc->pid);
	}
	return e;
}

cJSON *
exit_to_json(const struct exit_info *ei)
{
	cJSON *o = cJSON_CreateObject();

	if (!ei->known) {
		cJSON_AddBoolToObject(o, "unknown", true);
	} else if (ei->signal != 0) {
		cJSON_AddNumberToObject(o, "signal", ei->signal);
		cJSON_AddStringToObject(o, "signal_name", signal_name(ei->signal));
		cJSON_AddBoolToObject(o, "core_dumped", ei->core_dumped);
	} else {
		cJSON_AddNumberToObject(o, "code", ei->code);
	}
	return o;
}

static void
describe_exit(const struct exit_info *ei, char *buf, size_t len)
{
	if (!ei->known)
		snprintf(buf, len, "exited (status unknown)");
	else if (ei->signal != 0)
		snprintf(buf, len, "was killed by %s%s", signal_name(ei->signal),
			 ei->core_dumped ? " (core dumped)" : "");
	else
		snprintf(buf, len, "exited with code %d", ei->code);
}

/* The current spawn's log, its last lines and its last EXIT: reason, into o. */
static void
add_log_tail(struct lifecycle *lc, cJSON *o)
{
	cJSON *tail = NULL;
	char *reason = NULL;

	if (lc->log != NULL) {
		cJSON_AddStringToObject(o, "log", lc->log);
		OPS->log_info(CTX, lc->log, &tail, &reason);
	} else {
		cJSON_AddNullToObject(o, "log");
	}
	cJSON_AddItemToObject(o, "log_tail", tail != NULL ? tail : cJSON_CreateArray());
	if (reason != NULL)
		cJSON_AddStringToObject(o, "reason", reason);
	else
		cJSON_AddNullToObject(o, "reason");
	free(reason);
}

/*
 * The exit record, one shape wherever it goes (last_exit in status and state.json, the
 * exited event, already_gone): who exited, how (the exit object under "exit"), after
 * how long, when, and what its log said last.
 */
static cJSON *
exit_record(struct lifecycle *lc, const struct exit_info *ei)
{
	cJSON *o = cJSON_CreateObject();
	char at[40];

	cJSON_AddStringToObject(o, "name", lc->cur->name);
	cJSON_AddNumberToObject(o, "pid", lc->pid);
	cJSON_AddNumberToObject(o, "seq", (double)lc->seq);
	cJSON_AddItemToObject(o, "exit", exit_to_json(ei));
	if (lc->adopted)
		cJSON_AddNullToObject(o, "runtime_ms");
	else
		cJSON_AddNumberToObject(o, "runtime_ms",
					(double)(OPS->now_ms(CTX) - lc->started_mono_ms));
	format_utc_ms(OPS->wall_ms(CTX), at, sizeof(at));
	cJSON_AddStringToObject(o, "at", at);
	add_log_tail(lc, o);
	return o;
}

static void
add_kernel(cJSON *o, const struct kernel_view *kv)
{
	cJSON *k;

	if (!kv->available) {
		cJSON_AddNullToObject(o, "sched_ext");
		return;
	}
	k = cJSON_AddObjectToObject(o, "sched_ext");
	cJSON_AddStringToObject(k, "state", kv->state[0] ? kv->state : "disabled");
	if (kv->ops[0])
		cJSON_AddStringToObject(k, "ops", kv->ops);
	else
		cJSON_AddNullToObject(k, "ops");
	cJSON_AddNumberToObject(k, "enable_seq", (double)kv->enable_seq);
}

static bool
kernel_disabled(const struct kernel_view *kv)
{
	return !kv->available || kv->state[0] == '\0' || strcmp(kv->state, "disabled") == 0;
}

cJSON *
lc_status(struct lifecycle *lc)
{
	cJSON *o = cJSON_CreateObject();
	struct kernel_view kv;
	char at[40];
	bool ours;

	OPS->kernel_read(CTX, &kv);
	cJSON_AddStringToObject(o, "state", slot_state_name(lc->state));
	if (lc->cur != NULL) {
		cJSON_AddItemToObject(o, "scheduler", identity_to_json(lc->cur));
		cJSON_AddNumberToObject(o, "pid", lc->pid);
	} else {
		cJSON_AddNullToObject(o, "scheduler");
		cJSON_AddNullToObject(o, "pid");
	}
	cJSON_AddNumberToObject(o, "seq", (double)lc->seq);
	if (lc->cur != NULL) {
		format_utc_ms(lc->started_wall_ms, at, sizeof(at));
		cJSON_AddStringToObject(o, "started_at", at);
		cJSON_AddNumberToObject(o, "uptime_ms",
					(double)(OPS->wall_ms(CTX) - lc->started_wall_ms));
	} else {
		cJSON_AddNullToObject(o, "started_at");
		cJSON_AddNullToObject(o, "uptime_ms");
	}
	if (lc->log != NULL)
		cJSON_AddStringToObject(o, "log", lc->log);
	else
		cJSON_AddNullToObject(o, "log");
	add_kernel(o, &kv);
	/*
	 * A loaded scheduler that is not the one in our slot, nor ours still on its way
	 * out of the kernel (after a kill, or a disable_timeout).
	 */
	ours = (lc->cur != NULL && lc->cur->kind == KIND_SCHED_EXT) ||
	       (lc->cur == NULL && lc->kernel_lagging && lc->last != NULL &&
		lc->last->kind == KIND_SCHED_EXT && ops_matches(lc->last->ops, kv.ops));
	cJSON_AddBoolToObject(o, "foreign", !ours && !kernel_disabled(&kv));
	cJSON_AddBoolToObject(o, "adopted", lc->adopted);
	if (lc->last_exit != NULL)
		cJSON_AddItemToObject(o, "last_exit", cJSON_Duplicate(lc->last_exit, true));
	else
		cJSON_AddNullToObject(o, "last_exit");
	cJSON_AddNumberToObject(o, "restarts", lc->policy.restarts);
	cJSON_AddBoolToObject(o, "gave_up", lc->policy.gave_up);
	if (lc->persist_error != NULL)
		cJSON_AddStringToObject(o, "persist_error", lc->persist_error);
	else
		cJSON_AddNullToObject(o, "persist_error");
	if (OPS->status_extra != NULL)
		OPS->status_extra(CTX, o);
	return o;
}

cJSON *
lc_state_json(const struct lifecycle *lc)
{
	cJSON *o = cJSON_CreateObject(), *p;
	int64_t now = OPS->now_ms(CTX), wall = OPS->wall_ms(CTX);

	cJSON_AddNumberToObject(o, "version", 2);
	cJSON_AddNumberToObject(o, "seq", (double)lc->next_seq);
	cJSON_AddStringToObject(o, "state", slot_state_name(lc->state));
	if (lc->cur != NULL) {
		cJSON_AddItemToObject(o, "scheduler", identity_to_state(lc->cur));
		cJSON_AddNumberToObject(o, "pid", lc->pid);
		cJSON_AddNumberToObject(o, "spawn_seq", (double)lc->seq);
		cJSON_AddNumberToObject(o, "started_at_ms", (double)lc->started_wall_ms);
		if (lc->log != NULL)
			cJSON_AddStringToObject(o, "log", lc->log);
	}
	if (lc->last != NULL)
		cJSON_AddItemToObject(o, "last", identity_to_state(lc->last));
	if (lc->last_exit != NULL)
		cJSON_AddItemToObject(o, "last_exit", cJSON_Duplicate(lc->last_exit, true));
	/* The request in progress, so that the next daemon can finish it. */
	if (lc->running) {
		p = cJSON_AddObjectToObject(o, "op");
		cJSON_AddStringToObject(p, "kind", proto_cmds[lc->op.rq.cmd].name);
		if (lc->op.target != NULL)
			cJSON_AddItemToObject(p, "target", identity_to_state(lc->op.target));
	}
	/* The on_exit policy's counters, its clock times on the wall clock. */
	cJSON_AddItemToObject(o, "policy", policy_state_json(&lc->policy, now, wall));
	return o;
}

/* ---- replies and the request queue ---- */

static void start_next(struct lifecycle *lc);

static void
op_reply(struct lifecycle *lc, enum proto_err err, const char *msg, cJSON *payload)
{
	struct lc_op *op = &lc->op;

	if (op->replied || op->rq.token == 0) {
		cJSON_Delete(payload);
		return;
	}
	op->replied = true;
	OPS->reply(CTX, op->rq.token, err, msg, payload);
}

static void
op_done(struct lifecycle *lc)
{
	for (int t = T_READY_AFTER; t <= T_DISABLE; t++)
		OPS->timer(CTX, (enum lc_timer)t, -1);
	op_clear(&lc->op);
	lc->running = false;
	start_next(lc);
}

static void __attribute__((format(printf, 4, 5)))
op_fail(struct lifecycle *lc, enum proto_err err, cJSON *extra, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	op_reply(lc, err, msg, extra);
	op_done(lc);
}

static int64_t
elapsed(struct lifecycle *lc)
{
	return OPS->now_ms(CTX) - lc->op.t0_ms;
}

enum proto_err
lc_submit(struct lifecycle *lc, struct lc_request *rq)
{
	if (lc->qlen == LC_QUEUE_MAX)
		return E_BUSY;
	lc->queue[(lc->qhead + lc->qlen) % LC_QUEUE_MAX] = *rq;
	lc->qlen++;
	memset(rq, 0, sizeof(*rq));
	start_next(lc);
	return E_OK;
}

/* ---- the on_exit policy's requests ---- */

static void
submit_internal(struct lifecycle *lc, enum proto_cmd cmd, const char *name)
{
	struct lc_request rq = {.cmd = cmd, .wait = true, .grace_ms = -1};

	rq.name = name != NULL ? strdup(name) : NULL;
	if (lc_submit(lc, &rq) != E_OK)
		lc_request_free(&rq);
}

/* What the policy asks for after an exit nobody asked for: a fallback to attach. */
static void
after_unasked_exit(struct lifecycle *lc, const cJSON *rec, const char *exited_name)
{
	struct policy_exit x = {.seq = lc->seq, .exited = exited_name};
	const char *fallback;

	x.restart = lc->last != NULL ? lc->last->name : NULL;
	fallback = policy_after_exit(&lc->policy, &x, rec);
	if (fallback != NULL)
		submit_internal(lc, CMD_ATTACH, fallback);
}

/* ---- attach ---- */

static void begin_attach(struct lifecycle *lc);
static void await_ready(struct lifecycle *lc, int64_t ready_after_ms);
static void check_ready(struct lifecycle *lc);
static void start_abort(struct lifecycle *lc, enum proto_err err, const char *msg);

/* Write state.json at once; a failure says why, for the request's answer. */
static int
persist_now(struct lifecycle *lc, char *err, size_t errlen)
{
	char why[256] = "";

	if (OPS->persist_now == NULL) {
		OPS->persist(CTX);
		return 0;
	}
	if (OPS->persist_now(CTX, why, sizeof(why)) == 0)
		return 0;
	snprintf(err, errlen, "cannot record the scheduler in state.json: %s", why);
	return -1;
}

/* An attach that leaves no process behind has failed: roll back or report. */
static void
attach_failed(struct lifecycle *lc, enum proto_err err, const char *msg, cJSON *extra)
{
	struct lc_op *op = &lc->op;
	char *name = op->target != NULL ? strdup(op->target->name) : NULL;

	if (op->rq.cmd == CMD_REPLACE && op->rq.rollback && op->previous != NULL && op->stage == 1) {
		/* Keep the first error: it is the answer, whatever the rollback does. */
		op->fail = err;
		op->fail_msg = strdup(msg);
		op->fail_extra = extra;
		identity_free(op->target);
		op->target = op->previous;
		op->previous = NULL;
		op->stage = 2;
		free(name);
		begin_attach(lc);
		return;
	}
	if (op->stage == 2) {
		/* The rollback failed too: report the replace's own error. */
		cJSON_Delete(extra);
		extra = op->fail_extra != NULL ? op->fail_extra : cJSON_CreateObject();
		op->fail_extra = NULL;
		cJSON_AddBoolToObject(extra, "rolled_back", false);
		op_reply(lc, op->fail, op->fail_msg, extra);
	} else {
		if (op->rq.cmd == CMD_REPLACE) {
			if (extra == NULL)
				extra = cJSON_CreateObject();
			cJSON_AddBoolToObject(extra, "rolled_back", false);
		}
		op_reply(lc, err, msg, extra);
	}
	if (policy_retries(&lc->policy, &op->rq)) {
		/* What the policy retries: the scheduler it just failed to start (a boot
		 * attach has no earlier one to fall back on). */
		if (op->target != NULL) {
			identity_free(lc->last);
			lc->last = identity_dup(op->target);
		}
		struct policy_exit x = {.seq = lc->seq, .exited = name != NULL ? name : ""};
		x.restart = lc->last != NULL ? lc->last->name : NULL;
		policy_attach_failed(&lc->policy, &x);
	}
	free(name);
	op_done(lc);
}

static void
startup_failed_event(struct lifecycle *lc, enum proto_err err, const char *msg, const cJSON *exit)
{
	cJSON *e = event_new(lc, "startup_failed");

	if (lc->cur == NULL && lc->op.target != NULL)
		cJSON_AddStringToObject(e, "name", lc->op.target->name);
	cJSON_AddStringToObject(e, "error", proto_errs[err].name);
	cJSON_AddStringToObject(e, "message", msg);
	if (exit != NULL)
		cJSON_AddItemToObject(e, "exit", cJSON_Duplicate(exit, true));
	OPS->emit(CTX, e);
}

static void
begin_attach(struct lifecycle *lc)
{
	struct lc_op *op = &lc->op;
	struct identity *id = op->target;
	struct kernel_view kv;
	char err[256];
	pid_t pid;
	char *log = NULL;
	int64_t prev_seq;
	int r;

	if (id->kind == KIND_SCHED_EXT) {
		OPS->kernel_read(CTX, &kv);
		if (!kv.available) {
			attach_failed(lc, E_SCHED_EXT_UNAVAILABLE,
				      "sched_ext is not available: this kernel has no sched_ext root", NULL);
			return;
		}
		/*
		 * Our own scheduler just went (a kill does not wait for the kernel, nor does
		 * an unexpected exit), or the kernel says disabling: that clears
		 * by itself, so wait for it (disable_timeout) before calling it busy.
		 */
		if (!kernel_disabled(&kv) && !op->waited_kernel &&
		    (lc->kernel_lagging || strcmp(kv.state, "disabling") == 0)) {
			op->waited_kernel = true;
			op->phase = PH_PRE_ATTACH;
			OPS->kernel_watch(CTX, KW_POLL);
			OPS->timer(CTX, T_DISABLE, id->t.disable_timeout_ms);
			return;
		}
		if (!kernel_disabled(&kv)) {
			snprintf(err, sizeof(err), "sched_ext is busy: ops \"%s\" is loaded (state %s)",
				 kv.ops[0] ? kv.ops : "?", kv.state);
			cJSON *extra = cJSON_CreateObject();
			cJSON_AddStringToObject(extra, "ops", kv.ops);
			cJSON_AddStringToObject(extra, "kernel_state", kv.state);
			attach_failed(lc, E_SCHED_EXT_BUSY, err, extra);
			return;
		}
	}
	prev_seq = lc->seq;
	lc->seq = ++lc->next_seq;
	/* Persist before acting: a scheduler never runs without state.json knowing. */
	if (persist_now(lc, err, sizeof(err)) < 0) {
		lc->seq = prev_seq;
		attach_failed(lc, E_INTERNAL, err, NULL);
		return;
	}
	r = OPS->spawn(CTX, id, lc->seq, &pid, &log, err, sizeof(err));
	OPS->persist(CTX);
	if (r != 0) {
		startup_failed_event(lc, E_SPAWN_FAILED, err, NULL);
		attach_failed(lc, E_SPAWN_FAILED, err, NULL);
		return;
	}
	lc->cur = id;
	op->target = NULL;
	if (id->kind == KIND_SCHED_EXT)
		lc->kernel_lagging = false; /* a process-kind one leaves the kernel to us */
	lc->pid = pid;
	lc->log = log;
	lc->started_mono_ms = OPS->now_ms(CTX);
	lc->started_wall_ms = OPS->wall_ms(CTX);
	lc->adopted = false;
	lc->kernel_enabled = false;
	lc->exited_unasked = false;
	lc->state = SLOT_STARTING;
	op->phase = PH_STARTING;
	if (persist_now(lc, err, sizeof(err)) < 0) {
		start_abort(lc, E_INTERNAL, err);
		return;
	}
	await_ready(lc, id->t.ready_after_ms);
}

/* Started: wait out ready_after and, for sched_ext, the kernel (startup_timeout). */
static void
await_ready(struct lifecycle *lc, int64_t ready_after_ms)
{
	struct lc_op *op = &lc->op;
	const struct identity *id = lc->cur;

	op->phase = PH_STARTING;
	/* sched_ext: ready is the kernel's word (its exit would be seen); ready_after is
	 * for process-kind ones only (issue 12). */
	op->alive_ok = ready_after_ms <= 0 || id->kind == KIND_SCHED_EXT;
	op->kernel_ok = id->kind != KIND_SCHED_EXT;
	if (!op->alive_ok)
		OPS->timer(CTX, T_READY_AFTER, ready_after_ms);
	if (id->kind == KIND_SCHED_EXT) {
		OPS->timer(CTX, T_STARTUP, id->t.startup_timeout_ms);
		OPS->kernel_watch(CTX, KW_POLL);
	}
	OPS->persist(CTX);
	if (!op->rq.wait && op->rq.cmd == CMD_ATTACH) {
		cJSON *st = lc_status(lc);
		cJSON_AddNumberToObject(st, "elapsed_ms", (double)elapsed(lc));
		op_reply(lc, E_OK, NULL, st);
	}
	if (id->kind == KIND_SCHED_EXT)
		lc_on_kernel(lc);
	else
		check_ready(lc);
}

static bool
kernel_ready(const struct identity *id, const struct kernel_view *kv)
{
	return strcmp(kv->state, "enabled") == 0 && ops_matches(id->ops, kv->ops);
}

static void
check_ready(struct lifecycle *lc)
{
	struct lc_op *op = &lc->op;
	struct kernel_view kv = {0};
	cJSON *st, *result, *e;

	if (!op->alive_ok || !op->kernel_ok)
		return;
	if (lc->cur->kind == KIND_SCHED_EXT) {
		OPS->kernel_read(CTX, &kv);
		if (!kernel_ready(lc->cur, &kv)) {
			op->kernel_ok = false; /* it went away again: keep waiting */
			return;
		}
	}
	OPS->timer(CTX, T_READY_AFTER, -1);
	OPS->timer(CTX, T_STARTUP, -1);
	lc->state = SLOT_ATTACHED;
	op->phase = PH_IDLE;
	lc->kernel_enabled = lc->cur->kind == KIND_SCHED_EXT;
	lc->enable_seq = kv.enable_seq;
	OPS->kernel_watch(CTX, lc->cur->kind == KIND_SCHED_EXT ? KW_EVENTS : KW_OFF);
	identity_free(lc->last);
	lc->last = identity_dup(lc->cur);
	policy_attached(&lc->policy, &op->rq);
	e = event_new(lc, "attached");
	cJSON_AddNumberToObject(e, "elapsed_ms", (double)elapsed(lc));
	OPS->emit(CTX, e);
	OPS->persist(CTX);

	st = lc_status(lc);
	cJSON_AddNumberToObject(st, "elapsed_ms", (double)elapsed(lc));
	if (op->rq.cmd == CMD_REPLACE || op->rq.cmd == CMD_RESTART) {
		result = cJSON_CreateObject();
		cJSON_AddItemToObject(result, "detached", op->stopped);
		op->stopped = NULL;
		cJSON_AddItemToObject(result, "attached", st);
		cJSON_AddBoolToObject(result, "rolled_back", op->stage == 2);
	} else {
		result = st;
	}
	if (op->stage == 2) {
		/* Rolled back: the replace still failed, with the new one's error. */
		cJSON *extra = op->fail_extra != NULL ? op->fail_extra : cJSON_CreateObject();
		op->fail_extra = NULL;
		cJSON_AddBoolToObject(extra, "rolled_back", true);
		cJSON_AddItemToObject(extra, "result", result);
		op_reply(lc, op->fail, op->fail_msg, extra);
	} else {
		op_reply(lc, E_OK, NULL, result);
	}
	op_done(lc);
}

/* Startup went wrong with the process alive: SIGKILL its group and wait for it. */
static void
start_abort(struct lifecycle *lc, enum proto_err err, const char *msg)
{
	struct lc_op *op = &lc->op;

	op->fail = err;
	free(op->fail_msg);
	op->fail_msg = strdup(msg);
	OPS->timer(CTX, T_READY_AFTER, -1);
	OPS->timer(CTX, T_STARTUP, -1);
	OPS->signal(CTX, SIGKILL, true);
	op->phase = PH_START_ABORT;
	OPS->timer(CTX, T_KILL, LC_KILL_WAIT_MS);
}

/* ---- stop: the kill protocol, then (detach) the kernel's disable ---- */

static void stop_finish(struct lifecycle *lc, enum proto_err err);

/* SIGKILL to the group, said as kill_escalated whether the grace ran out or was 0. */
static void
escalate(struct lifecycle *lc, int64_t waited_ms)
{
	struct lc_op *op = &lc->op;
	cJSON *e;

	OPS->signal(CTX, SIGKILL, true);
	e = event_new(lc, "kill_escalated");
	cJSON_AddNumberToObject(e, "grace_ms", (double)waited_ms);
	OPS->emit(CTX, e);
	op->phase = PH_STOP_KILL;
	OPS->timer(CTX, T_KILL, LC_KILL_WAIT_MS);
}

static void
begin_stop(struct lifecycle *lc, bool wait_disable)
{
	struct lc_op *op = &lc->op;
	int sig = op->rq.signal > 0 ? op->rq.signal : lc->cur->t.stop_signal;
	int64_t grace = op->rq.grace_ms >= 0 ? op->rq.grace_ms : lc->cur->t.grace_ms;
	bool stuck = lc->state == SLOT_STOPPING;

	lc->exited_unasked = false;
	op->stop_t0_ms = OPS->now_ms(CTX);
	op->stop_pid = lc->pid;
	op->wait_disable = wait_disable && lc->cur->kind == KIND_SCHED_EXT;
	lc->state = SLOT_STOPPING;
	/* Our own stop is not the kernel dropping the scheduler. */
	OPS->kernel_watch(CTX, KW_OFF);
	OPS->persist(CTX);
	if (stuck || grace == 0) {
		escalate(lc, 0);
		return;
	}
	/* ESRCH means it is already dying: its exit is on its way. */
	OPS->signal(CTX, sig, lc->cur->t.kill_mode == KILL_GROUP);
	op->phase = PH_STOP_GRACE;
	OPS->timer(CTX, T_GRACE, grace);
}

static cJSON *
stop_result(struct lifecycle *lc, const char *outcome, cJSON *exit)
{
	struct lc_op *op = &lc->op;
	cJSON *r = cJSON_CreateObject();

	if (outcome != NULL)
		cJSON_AddStringToObject(r, "outcome", outcome);
	else
		cJSON_AddNullToObject(r, "outcome");
	if (lc->cur != NULL) {
		cJSON_AddStringToObject(r, "name", lc->cur->name);
		cJSON_AddNumberToObject(r, "pid", op->stop_pid);
	} else {
		cJSON_AddNullToObject(r, "name");
		cJSON_AddNullToObject(r, "pid");
	}
	cJSON_AddItemToObject(r, "exit", exit != NULL ? exit : cJSON_CreateNull());
	cJSON_AddNumberToObject(r, "elapsed_ms", (double)elapsed(lc));
	/* A detach's own field (also in the detached part of a replace or restart). */
	if (op->rq.cmd != CMD_KILL)
		cJSON_AddBoolToObject(r, "already_detached", outcome == NULL);
	return r;
}

static void
stop_exited(struct lifecycle *lc, const struct exit_info *ei)
{
	struct lc_op *op = &lc->op;
	struct kernel_view kv;

	OPS->timer(CTX, T_GRACE, -1);
	OPS->timer(CTX, T_KILL, -1);
	cJSON_Delete(op->exit); /* a replace stops one, then maybe a failed start */
	op->exit = exit_to_json(ei);
	if (!op->wait_disable) {
		stop_finish(lc, E_OK);
		return;
	}
	op->phase = PH_STOP_DISABLE;
	OPS->kernel_read(CTX, &kv);
	if (kernel_disabled(&kv)) {
		stop_finish(lc, E_OK);
		return;
	}
	OPS->kernel_watch(CTX, KW_POLL);
	OPS->timer(CTX, T_DISABLE, lc->cur->t.disable_timeout_ms);
}

static void after_failed_start(struct lifecycle *lc, enum proto_err disable_err);

/* The process is gone (and the kernel disabled, or not within the timeout). */
static void
stop_finish(struct lifecycle *lc, enum proto_err err)
{
	struct lc_op *op = &lc->op;
	struct kernel_view kv;
	cJSON *result, *e;
	char msg[256];

	OPS->timer(CTX, T_DISABLE, -1);
	if (op->fail != E_OK) {
		after_failed_start(lc, err);
		return;
	}
	result = stop_result(lc, op->outcome, cJSON_Duplicate(op->exit, true));
	/* What was sent first, and how long it was given. */
	cJSON_AddStringToObject(result, "signal",
				signal_name(op->rq.signal > 0 ? op->rq.signal : lc->cur->t.stop_signal));
	cJSON_AddNumberToObject(result, "grace_ms",
				(double)(op->rq.grace_ms >= 0 ? op->rq.grace_ms : lc->cur->t.grace_ms));
	e = event_new(lc, "detached");
	cJSON_AddStringToObject(e, "outcome", op->outcome);
	cJSON_AddItemToObject(e, "exit", cJSON_Duplicate(op->exit, true));
	slot_clear(lc);
	/* The kernel confirmed disabled: nothing of ours is left in it (issue 12, bug 2). */
	if (op->wait_disable && err == E_OK)
		lc->kernel_lagging = false;
	OPS->emit(CTX, e);
	OPS->persist(CTX);
	if (err == E_DISABLE_TIMEOUT) {
		OPS->kernel_read(CTX, &kv);
		snprintf(msg, sizeof(msg),
			 "the kernel still reports sched_ext state \"%s\" after the scheduler exited; the slot is empty",
			 kv.state);
		op_fail(lc, E_DISABLE_TIMEOUT, result, "%s", msg);
		return;
	}
	if (op->rq.cmd == CMD_REPLACE || op->rq.cmd == CMD_RESTART) {
		op->stopped = result;
		op->stage = 1;
		begin_attach(lc);
		return;
	}
	op_reply(lc, E_OK, NULL, result);
	op_done(lc);
}

/* A startup that failed has no process left and (if it could) waited for the kernel. */
static void
after_failed_start(struct lifecycle *lc, enum proto_err disable_err)
{
	struct lc_op *op = &lc->op;
	enum proto_err err = op->fail;
	char *msg = op->fail_msg;
	cJSON *extra = op->fail_extra;

	op->fail = E_OK;
	op->fail_msg = NULL;
	op->fail_extra = NULL;
	if (extra == NULL)
		extra = cJSON_CreateObject();
	if (op->exit != NULL && cJSON_GetObjectItem(extra, "exit") == NULL)
		cJSON_AddItemToObject(extra, "exit", cJSON_Duplicate(op->exit, true));
	if (lc->cur != NULL && cJSON_GetObjectItem(extra, "log_tail") == NULL)
		add_log_tail(lc, extra);
	if (disable_err == E_DISABLE_TIMEOUT)
		cJSON_AddBoolToObject(extra, "disable_timeout", true);
	startup_failed_event(lc, err, msg, cJSON_GetObjectItem(extra, "exit"));
	/* The target is consumed: lc->cur was it; keep it for a rollback's records. */
	op->target = lc->cur;
	lc->cur = NULL;
	slot_clear(lc);
	if (op->target->kind == KIND_SCHED_EXT)
		lc->kernel_lagging = true; /* disabled, or not within disable_timeout */
	OPS->persist(CTX);
	attach_failed(lc, err, msg, extra);
	free(msg);
}

/* ---- events into the machine ---- */

static void
unexpected_exit(struct lifecycle *lc, const struct exit_info *ei)
{
	cJSON *rec = exit_record(lc, ei);
	char *name = strdup(lc->cur->name);

	cJSON_Delete(lc->last_exit);
	lc->last_exit = rec;
	policy_uptime(&lc->policy, OPS->now_ms(CTX) - lc->started_mono_ms);
	slot_clear(lc);
	lc->exited_unasked = true;
	OPS->persist(CTX);
	after_unasked_exit(lc, rec, name);
	free(name);
}

void
lc_on_exit(struct lifecycle *lc, const struct exit_info *ei)
{
	struct lc_op *op = &lc->op;
	char what[96], msg[512];

	if (lc->cur == NULL)
		return;
	switch (lc->running ? op->phase : PH_IDLE) {
	case PH_STARTING: {
		describe_exit(ei, what, sizeof(what));
		snprintf(msg, sizeof(msg), "%s %s during startup", lc->cur->name, what);
		op->fail = E_STARTUP_DIED;
		op->fail_msg = strdup(msg);
		op->fail_extra = cJSON_CreateObject();
		cJSON_AddItemToObject(op->fail_extra, "exit", exit_to_json(ei));
		OPS->timer(CTX, T_READY_AFTER, -1);
		OPS->timer(CTX, T_STARTUP, -1);
		op->wait_disable = lc->cur->kind == KIND_SCHED_EXT;
		stop_exited(lc, ei);
		break;
	}
	case PH_START_ABORT:
		op->wait_disable = lc->cur->kind == KIND_SCHED_EXT;
		stop_exited(lc, ei);
		break;
	case PH_STOP_GRACE:
		op->outcome = "sigterm_graceful";
		stop_exited(lc, ei);
		break;
	case PH_STOP_KILL:
		op->outcome = "sigkill_escalation";
		stop_exited(lc, ei);
		break;
	default:
		if (lc->state == SLOT_STOPPING) {
			/* Gone at last after a still_alive_after_sigkill. */
			cJSON *e = event_new(lc, "detached");
			cJSON_AddItemToObject(e, "exit", exit_to_json(ei));
			slot_clear(lc);
			OPS->emit(CTX, e);
			OPS->persist(CTX);
		} else {
			unexpected_exit(lc, ei);
		}
		break;
	}
}

static void
still_alive(struct lifecycle *lc)
{
	struct lc_op *op = &lc->op;
	char msg[512];

	/* The slot stays in "stopping" and the daemon keeps watching the process. */
	snprintf(msg, sizeof(msg), "%s (pid %d) is still alive %ds after SIGKILL",
		 lc->cur->name, (int)lc->pid, LC_KILL_WAIT_MS / 1000);
	if (op->fail != E_OK) {
		op->fail = E_OK;
		op_fail(lc, E_STILL_ALIVE_AFTER_SIGKILL, NULL, "%s; startup had failed: %s", msg,
			op->fail_msg);
		return;
	}
	op_fail(lc, E_STILL_ALIVE_AFTER_SIGKILL, NULL, "%s", msg);
}

void
lc_on_timer(struct lifecycle *lc, enum lc_timer t)
{
	struct lc_op *op = &lc->op;
	struct kernel_view kv;
	char msg[256], d[32];

	if (t == T_RESTART) {
		if (policy_restart_due(&lc->policy))
			submit_internal(lc, CMD_RESTART, NULL);
		return;
	}
	if (!lc->running)
		return;
	switch (t) {
	case T_READY_AFTER:
		if (op->phase == PH_STARTING) {
			op->alive_ok = true;
			check_ready(lc);
		}
		break;
	case T_STARTUP:
		if (op->phase == PH_STARTING) {
			OPS->kernel_read(CTX, &kv);
			duration_format(lc->cur->t.startup_timeout_ms, d, sizeof(d));
			snprintf(msg, sizeof(msg),
				 "%s did not become ready within %s (kernel state \"%s\", ops \"%s\")",
				 lc->cur->name, d, kv.state, kv.ops);
			start_abort(lc, E_STARTUP_TIMEOUT, msg);
		}
		break;
	case T_GRACE:
		if (op->phase == PH_STOP_GRACE)
			escalate(lc, OPS->now_ms(CTX) - op->stop_t0_ms);
		break;
	case T_KILL:
		if (op->phase == PH_STOP_KILL || op->phase == PH_START_ABORT)
			still_alive(lc);
		break;
	case T_DISABLE:
		if (op->phase == PH_PRE_ATTACH) {
			OPS->kernel_watch(CTX, KW_OFF);
			op->phase = PH_IDLE;
			begin_attach(lc); /* still not disabled: now it is busy */
		} else if (op->phase == PH_STOP_DISABLE)
			stop_finish(lc, E_DISABLE_TIMEOUT);
		break;
	default:
		break;
	}
}

void
lc_on_kernel(struct lifecycle *lc)
{
	struct lc_op *op = &lc->op;
	struct kernel_view kv;
	char msg[256];
	cJSON *e;

	if (lc->running && op->phase == PH_PRE_ATTACH) {
		OPS->kernel_read(CTX, &kv);
		if (kernel_disabled(&kv)) {
			OPS->timer(CTX, T_DISABLE, -1);
			OPS->kernel_watch(CTX, KW_OFF);
			op->phase = PH_IDLE;
			begin_attach(lc);
		}
		return;
	}
	if (lc->cur == NULL) {
		/* Ours (killed, or past disable_timeout) has left the kernel at last. */
		if (lc->kernel_lagging) {
			OPS->kernel_read(CTX, &kv);
			if (kernel_disabled(&kv))
				lc->kernel_lagging = false;
		}
		return;
	}
	OPS->kernel_read(CTX, &kv);
	if (lc->running && op->phase == PH_STARTING) {
		if (strcmp(kv.state, "enabled") != 0 || kv.ops[0] == '\0')
			return;
		if (!ops_matches(lc->cur->ops, kv.ops)) {
			snprintf(msg, sizeof(msg), "the kernel loaded ops \"%s\", expected \"%s\"",
				 kv.ops, lc->cur->ops);
			start_abort(lc, E_OPS_MISMATCH, msg);
			return;
		}
		op->kernel_ok = true;
		check_ready(lc);
		return;
	}
	if (lc->running && op->phase == PH_STOP_DISABLE) {
		if (kernel_disabled(&kv))
			stop_finish(lc, E_OK);
		return;
	}
	if (lc->state != SLOT_ATTACHED || lc->cur->kind != KIND_SCHED_EXT)
		return;
	/* Attached and idle: the kernel dropping or taking back a live scheduler. */
	bool enabled = kernel_ready(lc->cur, &kv);
	if (lc->kernel_enabled && !enabled) {
		lc->kernel_enabled = false;
		e = event_new(lc, "sched_ext_disabled");
		cJSON_AddStringToObject(e, "kernel_state", kv.state[0] ? kv.state : "disabled");
		OPS->emit(CTX, e);
	} else if (enabled && kv.enable_seq > lc->enable_seq) {
		if (lc->kernel_enabled) {
			/* Dropped and taken back between two looks: it was disabled too. */
			e = event_new(lc, "sched_ext_disabled");
			cJSON_AddStringToObject(e, "kernel_state", "disabled");
			OPS->emit(CTX, e);
		}
		lc->kernel_enabled = true;
		lc->enable_seq = kv.enable_seq;
		e = event_new(lc, "sched_ext_enabled");
		cJSON_AddNumberToObject(e, "enable_seq", (double)kv.enable_seq);
		OPS->emit(CTX, e);
	}
}

/* ---- starting a request ---- */

static void
start_op(struct lifecycle *lc)
{
	struct lc_op *op = &lc->op;
	char err[256];
	enum proto_err e;

	op->t0_ms = OPS->now_ms(CTX);
	/* A request from someone starts the restart policy afresh. */
	if (op->rq.token != 0)
		policy_reset(&lc->policy);

	switch (op->rq.cmd) {
	case CMD_ATTACH:
		/* The request first: a name that does not resolve is that, attached or not. */
		e = OPS->resolve(CTX, &op->rq, &op->target, err, sizeof(err));
		if (e != E_OK) {
			attach_failed(lc, e, err, NULL);
			return;
		}
		if (lc->state != SLOT_DETACHED) {
			op_fail(lc, E_ALREADY_ATTACHED, NULL, "%s is %s (pid %d)", lc->cur->name,
				slot_state_name(lc->state), (int)lc->pid);
			return;
		}
		op->stage = 1;
		begin_attach(lc);
		return;
	case CMD_DETACH:
	case CMD_KILL:
		if (lc->state == SLOT_DETACHED) {
			if (op->rq.cmd == CMD_DETACH) {
				op_reply(lc, E_OK, NULL, stop_result(lc, NULL, NULL));
				op_done(lc);
			} else if (lc->exited_unasked && lc->last_exit != NULL) {
				/* Nothing was killed: what a kill result says, and the record. */
				const cJSON *r = lc->last_exit;
				cJSON *x = cJSON_CreateObject();
				cJSON_AddStringToObject(x, "outcome", "already_gone");
				cJSON_AddItemToObject(x, "name", cJSON_Duplicate(cJSON_GetObjectItem(r, "name"), 1));
				cJSON_AddItemToObject(x, "pid", cJSON_Duplicate(cJSON_GetObjectItem(r, "pid"), 1));
				cJSON_AddItemToObject(x, "exit", cJSON_Duplicate(cJSON_GetObjectItem(r, "exit"), 1));
				cJSON_AddNumberToObject(x, "elapsed_ms", 0);
				cJSON_AddItemToObject(x, "last_exit", cJSON_Duplicate(r, true));
				lc->exited_unasked = false;
				op_reply(lc, E_OK, NULL, x);
				op_done(lc);
			} else {
				op_fail(lc, E_NOT_ATTACHED, NULL, "no scheduler is attached");
			}
			return;
		}
		begin_stop(lc, op->rq.cmd == CMD_DETACH);
		return;
	case CMD_REPLACE:
	case CMD_RESTART:
		if (op->rq.cmd == CMD_REPLACE) {
			e = OPS->resolve(CTX, &op->rq, &op->target, err, sizeof(err));
			if (e != E_OK) {
				op_fail(lc, e, NULL, "%s", err);
				return;
			}
			if (op->rq.rollback && lc->cur != NULL)
				op->previous = identity_dup(lc->cur);
		} else {
			const struct identity *src = lc->cur != NULL ? lc->cur : lc->last;
			if (src == NULL) {
				op_fail(lc, E_NOT_ATTACHED, NULL, "nothing to restart: no scheduler was ever attached");
				return;
			}
			op->target = identity_dup(src);
		}
		if (lc->state == SLOT_DETACHED) {
			op->stopped = stop_result(lc, NULL, NULL);
			op->stage = 1;
			begin_attach(lc);
		} else {
			begin_stop(lc, true);
		}
		return;
	default:
		op_fail(lc, E_INTERNAL, NULL, "not a lifecycle command");
		return;
	}
}

static void
start_next(struct lifecycle *lc)
{
	if (lc->running || lc->qlen == 0)
		return;
	lc->op.rq = lc->queue[lc->qhead];
	lc->qhead = (lc->qhead + 1) % LC_QUEUE_MAX;
	lc->qlen--;
	lc->running = true;
	start_op(lc);
}

/* ---- a daemon that restarts ---- */

/* An internal request, running now: token 0 answers nobody. */
static void
resume_op(struct lifecycle *lc, enum proto_cmd cmd, struct identity *target)
{
	struct lc_op *op = &lc->op;

	memset(op, 0, sizeof(*op));
	op->rq = (struct lc_request){.cmd = cmd, .wait = true, .grace_ms = -1};
	op->t0_ms = OPS->now_ms(CTX);
	op->target = target;
	lc->running = true;
}

/* Take over a live scheduler, in the state the last daemon left it in. */
static void
readopt(struct lifecycle *lc, struct lc_saved *s)
{
	struct identity *id = s->id;
	struct kernel_view kv;
	int64_t since;

	lc->cur = id;
	s->id = NULL;
	lc->pid = s->pid;
	lc->seq = s->seq;
	lc->started_wall_ms = s->started_wall_ms;
	since = OPS->wall_ms(CTX) - s->started_wall_ms;
	lc->started_mono_ms = OPS->now_ms(CTX) - (since > 0 ? since : 0);
	lc->log = s->log != NULL ? strdup(s->log) : NULL;
	lc->adopted = true;
	identity_free(lc->last);
	lc->last = identity_dup(id);
	switch (s->state) {
	case SLOT_STARTING:
		/* Never enabled as far as we know: wait for it again, with a fresh startup_timeout. */
		lc->state = SLOT_STARTING;
		resume_op(lc, CMD_ATTACH, NULL);
		lc->op.stage = 1;
		identity_free(s->target);
		s->target = NULL;
		await_ready(lc, id->t.ready_after_ms - (since > 0 ? since : 0));
		return;
	case SLOT_STOPPING:
		/* Being stopped: finish it with SIGKILL, then attach what a replace wanted. */
		lc->state = SLOT_STOPPING;
		if (s->op != CMD_DETACH && s->op != CMD_REPLACE && s->op != CMD_RESTART)
			s->op = CMD_KILL;
		resume_op(lc, s->op, s->target);
		s->target = NULL;
		if (lc->op.target == NULL && s->op != CMD_KILL)
			lc->op.rq.cmd = CMD_DETACH;
		begin_stop(lc, lc->op.rq.cmd != CMD_KILL);
		return;
	default:
		break;
	}
	identity_free(s->target);
	s->target = NULL;
	lc->state = SLOT_ATTACHED;
	if (id->kind == KIND_SCHED_EXT) {
		OPS->kernel_read(CTX, &kv);
		lc->kernel_enabled = kernel_ready(id, &kv);
		lc->enable_seq = kv.enable_seq;
		OPS->kernel_watch(CTX, KW_EVENTS);
	}
	OPS->persist(CTX);
}

/* The scheduler died while no daemon watched: record it, then do what its exit asks. */
static void
record_lost(struct lifecycle *lc, struct lc_saved *s)
{
	struct exit_info unknown = {.known = false};
	enum slot_state was = s->state;
	char *name;
	cJSON *rec;

	lc->cur = s->id;
	s->id = NULL;
	lc->pid = s->pid;
	lc->seq = s->seq;
	lc->log = s->log != NULL ? strdup(s->log) : NULL;
	lc->adopted = true;
	rec = exit_record(lc, &unknown);
	cJSON_AddBoolToObject(rec, "while_daemon_down", true);
	cJSON_Delete(lc->last_exit);
	lc->last_exit = rec;
	identity_free(lc->last);
	lc->last = identity_dup(lc->cur);
	name = strdup(lc->cur->name);
	slot_clear(lc);
	OPS->persist(CTX);
	if (was == SLOT_STOPPING) {
		/* Its stop was asked for: not an exit to act on (a replace attaches next). */
		free(name);
		return;
	}
	/* Gone on its own, as a crash is: the exit hook and the on_exit policy. */
	lc->exited_unasked = true;
	after_unasked_exit(lc, rec, name != NULL ? name : "");
	free(name);
}

void
lc_restore(struct lifecycle *lc, struct lc_saved *s)
{
	int64_t now = OPS->now_ms(CTX), wall = OPS->wall_ms(CTX);

	policy_restore(&lc->policy, s, now, wall);
	if (s->id != NULL && s->alive)
		readopt(lc, s);
	else if (s->id != NULL)
		record_lost(lc, s);
	if (lc->cur == NULL && !lc->running && s->target != NULL &&
	    (s->op == CMD_REPLACE || s->op == CMD_RESTART)) {
		/* A replace or restart whose old scheduler is gone: its attach is still to do. */
		resume_op(lc, s->op, s->target);
		s->target = NULL;
		lc->op.stopped = stop_result(lc, NULL, NULL);
		lc->op.stage = 1;
		begin_attach(lc);
	}
	if (s->restart_pending && lc->cur == NULL && !lc->running)
		policy_rearm(&lc->policy, s->restart_due_wall_ms, now, wall);
	identity_free(s->id);
	identity_free(s->target);
	s->id = NULL;
	s->target = NULL;
}
