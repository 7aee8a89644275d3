/* What the slot says about itself: events, the exit record, status and state.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "lifecycle_impl.h"
#include "names.h"

static const char *const state_names[] = {"detached", "starting", "attached", "stopping"};

const char *
slot_state_name(enum slot_state s)
{
	return state_names[s];
}

cJSON *
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

void
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
void
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
cJSON *
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
