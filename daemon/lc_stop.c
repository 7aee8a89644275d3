/* Stopping: the stop signal, the grace, SIGKILL, then (detach) the kernel's disable. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle_impl.h"
#include "names.h"

/* SIGKILL to the group, said as kill_escalated whether the grace ran out or was 0. */
void
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

void
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

cJSON *
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
	cJSON_AddNumberToObject(r, "elapsed_ms", (double)op_elapsed(lc));
	/* A detach's own field (also in the detached part of a replace or restart). */
	if (op->rq.cmd != CMD_KILL)
		cJSON_AddBoolToObject(r, "already_detached", outcome == NULL);
	return r;
}

void
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

/* The process is gone (and the kernel disabled, or not within the timeout). */
void
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

void
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
