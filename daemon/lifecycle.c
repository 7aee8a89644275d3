/* The lifecycle state machine of the one scheduler slot (SPEC 3): which input does what. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "lifecycle_impl.h"

/*
 * An input in one phase of the request in progress (PH_IDLE: none runs). ei: the exit
 * status, for EV_EXIT only.
 */
typedef void input_fn(struct lifecycle *lc, const struct exit_info *ei);

static input_fn exited_idle, exited_starting, exited_aborted, exited_graceful, exited_killed;
static input_fn kernel_idle, kernel_pre_attach, kernel_starting, kernel_disabling;
static input_fn ready_after_over, startup_timeout, grace_over, kill_wait_over,
	pre_attach_timeout, disable_timeout;

/*
 * Phase × input → action: every transition the inputs make. An empty cell: the input
 * means nothing in that phase. Before the table: with no scheduler in the slot, an exit
 * is ignored, and a kernel change (unless an attach waits for it) only says whether ours
 * has left the kernel.
 */
static input_fn *const actions[PH_COUNT][EV_COUNT] = {
	[PH_IDLE] = {[EV_EXIT] = exited_idle, [EV_KERNEL] = kernel_idle},
	[PH_PRE_ATTACH] = {[EV_EXIT] = exited_idle, [EV_KERNEL] = kernel_pre_attach,
			   [EV_TIMER_DISABLE] = pre_attach_timeout},
	[PH_STARTING] = {[EV_EXIT] = exited_starting, [EV_KERNEL] = kernel_starting,
			 [EV_TIMER_READY] = ready_after_over, [EV_TIMER_STARTUP] = startup_timeout},
	[PH_START_ABORT] = {[EV_EXIT] = exited_aborted, [EV_TIMER_KILL] = kill_wait_over},
	[PH_STOP_GRACE] = {[EV_EXIT] = exited_graceful, [EV_TIMER_GRACE] = grace_over},
	[PH_STOP_KILL] = {[EV_EXIT] = exited_killed, [EV_TIMER_KILL] = kill_wait_over},
	[PH_STOP_DISABLE] = {[EV_EXIT] = exited_idle, [EV_KERNEL] = kernel_disabling,
			     [EV_TIMER_DISABLE] = disable_timeout},
};

_Static_assert(EV_TIMER_READY + T_DISABLE == EV_TIMER_DISABLE,
	       "the timers' events are in enum lc_timer's order");

static void
dispatch(struct lifecycle *lc, enum lc_event ev, const struct exit_info *ei)
{
	input_fn *action = actions[lc->running ? lc->op.phase : PH_IDLE][ev];

	if (action != NULL)
		action(lc, ei);
}

static void submit_internal(struct lifecycle *lc, enum proto_cmd cmd, const char *name);

void
lc_on_exit(struct lifecycle *lc, const struct exit_info *ei)
{
	if (lc->cur != NULL)
		dispatch(lc, EV_EXIT, ei);
	lc_run_queue(lc);
}

void
lc_on_kernel(struct lifecycle *lc)
{
	struct kernel_view kv;

	if (lc->cur == NULL && !(lc->running && lc->op.phase == PH_PRE_ATTACH)) {
		/* Ours (killed, or past disable_timeout) has left the kernel at last. */
		if (lc->kernel_lagging) {
			OPS->kernel_read(CTX, &kv);
			if (kernel_disabled(&kv))
				lc->kernel_lagging = false;
		}
		return;
	}
	dispatch(lc, EV_KERNEL, NULL);
	lc_run_queue(lc);
}

void
lc_on_timer(struct lifecycle *lc, enum lc_timer t)
{
	if (t == T_RESTART) {
		/* The on_exit policy's, not a request's. */
		if (policy_restart_due(&lc->policy))
			submit_internal(lc, CMD_RESTART, NULL);
		return;
	}
	if (lc->running && t < T_RESTART)
		dispatch(lc, (enum lc_event)(EV_TIMER_READY + t), NULL);
	lc_run_queue(lc);
}

/* ---- requests ---- */

void
lc_init(struct lifecycle *lc, const struct lc_ops *ops, void *ctx)
{
	memset(lc, 0, sizeof(*lc));
	lc->ops = ops;
	lc->ctx = ctx;
	policy_init(&lc->policy, ops, ctx);
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

/* What a request does first, by command and the slot's state. */
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

/* One request at a time; one that ends at once lets the next one start. */
void
lc_run_queue(struct lifecycle *lc)
{
	while (!lc->running && lc->qlen > 0) {
		lc->op.rq = lc->queue[lc->qhead];
		lc->qhead = (lc->qhead + 1) % LC_QUEUE_MAX;
		lc->qlen--;
		lc->running = true;
		start_op(lc);
	}
}

enum proto_err
lc_submit(struct lifecycle *lc, struct lc_request *rq)
{
	if (lc->qlen == LC_QUEUE_MAX)
		return E_BUSY;
	lc->queue[(lc->qhead + lc->qlen) % LC_QUEUE_MAX] = *rq;
	lc->qlen++;
	memset(rq, 0, sizeof(*rq));
	lc_run_queue(lc);
	return E_OK;
}

/* A request of the policy's own: token 0 answers nobody. */
static void
submit_internal(struct lifecycle *lc, enum proto_cmd cmd, const char *name)
{
	struct lc_request rq = {.cmd = cmd, .wait = true, .grace_ms = -1};

	rq.name = name != NULL ? strdup(name) : NULL;
	if (lc_submit(lc, &rq) != E_OK)
		lc_request_free(&rq);
}

/* ---- exits ---- */

/* The exit hook and the on_exit policy; a fallback it names is queued. */
void
lc_after_unasked_exit(struct lifecycle *lc, const cJSON *rec, const char *exited_name)
{
	struct policy_exit x = {.seq = lc->seq, .exited = exited_name};
	const char *fallback;

	x.restart = lc->last != NULL ? lc->last->name : NULL;
	fallback = policy_after_exit(&lc->policy, &x, rec);
	if (fallback != NULL)
		submit_internal(lc, CMD_ATTACH, fallback);
}

/* No request waits for this exit: a crash, or the end of a still_alive_after_sigkill. */
static void
exited_idle(struct lifecycle *lc, const struct exit_info *ei)
{
	cJSON *rec, *e;
	char *name;

	if (lc->state == SLOT_STOPPING) {
		/* Gone at last after a still_alive_after_sigkill. */
		e = event_new(lc, "detached");
		cJSON_AddItemToObject(e, "exit", exit_to_json(ei));
		slot_clear(lc);
		OPS->emit(CTX, e);
		OPS->persist(CTX);
		return;
	}
	rec = exit_record(lc, ei);
	name = strdup(lc->cur->name);
	cJSON_Delete(lc->last_exit);
	lc->last_exit = rec;
	policy_uptime(&lc->policy, OPS->now_ms(CTX) - lc->started_mono_ms);
	slot_clear(lc);
	lc->exited_unasked = true;
	OPS->persist(CTX);
	lc_after_unasked_exit(lc, rec, name);
	free(name);
}

static void
exited_starting(struct lifecycle *lc, const struct exit_info *ei)
{
	struct lc_op *op = &lc->op;
	char what[96], msg[512];

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
}

static void
exited_aborted(struct lifecycle *lc, const struct exit_info *ei)
{
	lc->op.wait_disable = lc->cur->kind == KIND_SCHED_EXT;
	stop_exited(lc, ei);
}

static void
exited_graceful(struct lifecycle *lc, const struct exit_info *ei)
{
	lc->op.outcome = "sigterm_graceful";
	stop_exited(lc, ei);
}

static void
exited_killed(struct lifecycle *lc, const struct exit_info *ei)
{
	lc->op.outcome = "sigkill_escalation";
	stop_exited(lc, ei);
}

/* ---- the kernel ---- */

/* Attached and idle: the kernel dropping or taking back a live scheduler. */
static void
kernel_idle(struct lifecycle *lc, const struct exit_info *ei)
{
	struct kernel_view kv;
	bool enabled;
	cJSON *e;

	(void)ei;
	OPS->kernel_read(CTX, &kv);
	if (lc->state != SLOT_ATTACHED || lc->cur->kind != KIND_SCHED_EXT)
		return;
	enabled = kernel_ready(lc->cur, &kv);
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

/* The previous scheduler has left the kernel: attach now. */
static void
kernel_pre_attach(struct lifecycle *lc, const struct exit_info *ei)
{
	struct kernel_view kv;

	(void)ei;
	OPS->kernel_read(CTX, &kv);
	if (kernel_disabled(&kv)) {
		OPS->timer(CTX, T_DISABLE, -1);
		OPS->kernel_watch(CTX, KW_OFF);
		lc->op.phase = PH_IDLE;
		begin_attach(lc);
	}
}

static void
kernel_starting(struct lifecycle *lc, const struct exit_info *ei)
{
	(void)ei;
	starting_kernel_changed(lc);
}

static void
kernel_disabling(struct lifecycle *lc, const struct exit_info *ei)
{
	struct kernel_view kv;

	(void)ei;
	OPS->kernel_read(CTX, &kv);
	if (kernel_disabled(&kv))
		stop_finish(lc, E_OK);
}

/* ---- timers ---- */

static void
ready_after_over(struct lifecycle *lc, const struct exit_info *ei)
{
	(void)ei;
	lc->op.alive_ok = true;
	check_ready(lc);
}

static void
startup_timeout(struct lifecycle *lc, const struct exit_info *ei)
{
	struct kernel_view kv;
	char msg[256], d[32];

	(void)ei;
	OPS->kernel_read(CTX, &kv);
	duration_format(lc->cur->t.startup_timeout_ms, d, sizeof(d));
	snprintf(msg, sizeof(msg), "%s did not become ready within %s (kernel state \"%s\", ops \"%s\")",
		 lc->cur->name, d, kv.state, kv.ops);
	start_abort(lc, E_STARTUP_TIMEOUT, msg);
}

static void
grace_over(struct lifecycle *lc, const struct exit_info *ei)
{
	(void)ei;
	escalate(lc, OPS->now_ms(CTX) - lc->op.stop_t0_ms);
}

static void
kill_wait_over(struct lifecycle *lc, const struct exit_info *ei)
{
	(void)ei;
	still_alive(lc);
}

static void
pre_attach_timeout(struct lifecycle *lc, const struct exit_info *ei)
{
	(void)ei;
	OPS->kernel_watch(CTX, KW_OFF);
	lc->op.phase = PH_IDLE;
	begin_attach(lc); /* still not disabled: now it is busy */
}

static void
disable_timeout(struct lifecycle *lc, const struct exit_info *ei)
{
	(void)ei;
	stop_finish(lc, E_DISABLE_TIMEOUT);
}
