/* A daemon that restarts: take up the slot, and the request in progress, from state.json. */
#include <stdlib.h>
#include <string.h>

#include "lifecycle_impl.h"

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
	lc_after_unasked_exit(lc, rec, name != NULL ? name : "");
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
	lc_run_queue(lc);
}
