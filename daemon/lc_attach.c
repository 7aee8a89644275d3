/* Attaching: the kernel letting go, the spawn, waiting for ready, a failed start's way out. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle_impl.h"

/* An attach that leaves no process behind has failed: roll back or report. */
void
attach_failed(struct lifecycle *lc, enum proto_err err, const char *msg, cJSON *extra)
{
	struct lc_op *op = &lc->op;
	char *name = op->target != NULL ? strdup(op->target->name) : NULL;
	struct policy_exit x = {.seq = lc->seq};

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
		x.exited = name != NULL ? name : "";
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

void
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
void
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
		cJSON_AddNumberToObject(st, "elapsed_ms", (double)op_elapsed(lc));
		op_reply(lc, E_OK, NULL, st);
	}
	if (id->kind == KIND_SCHED_EXT)
		starting_kernel_changed(lc);
	else
		check_ready(lc);
}

/* Starting: the kernel loaded something; ours, or another's. */
void
starting_kernel_changed(struct lifecycle *lc)
{
	struct kernel_view kv;
	char msg[256];

	OPS->kernel_read(CTX, &kv);
	if (strcmp(kv.state, "enabled") != 0 || kv.ops[0] == '\0')
		return;
	if (!ops_matches(lc->cur->ops, kv.ops)) {
		snprintf(msg, sizeof(msg), "the kernel loaded ops \"%s\", expected \"%s\"",
			 kv.ops, lc->cur->ops);
		start_abort(lc, E_OPS_MISMATCH, msg);
		return;
	}
	lc->op.kernel_ok = true;
	check_ready(lc);
}

void
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
	cJSON_AddNumberToObject(e, "elapsed_ms", (double)op_elapsed(lc));
	OPS->emit(CTX, e);
	OPS->persist(CTX);

	st = lc_status(lc);
	cJSON_AddNumberToObject(st, "elapsed_ms", (double)op_elapsed(lc));
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
void
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

/* A startup that failed has no process left and (if it could) waited for the kernel. */
void
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
	if (cJSON_GetObjectItem(extra, "log_tail") == NULL)
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
