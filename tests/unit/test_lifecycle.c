/* The lifecycle state machine against a fake clock, fake processes and a fake kernel. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

/* ---- the fake world ---- */

#define MAX_LOG 64

static struct fake {
	int64_t now;
	int64_t deadline[T_COUNT]; /* -1: disarmed */
	struct kernel_view kv;
	enum kwatch kwatch;
	int spawn_errno;
	pid_t next_pid;
	int nspawn;
	int spawn_tries; /* failed spawns too */
	struct {
		int sig;
		bool group;
		int64_t at;
	} sigs[MAX_LOG];
	int nsigs;
	char events[MAX_LOG][32];
	int nevents;
	int nreplies;
	enum proto_err reply_err;
	cJSON *reply;
	int persists;
	int persists_now;
	int persist_fail_at; /* the persist_now call (1, 2...) that fails; 0: none */
	int hooks;
	int reboots;
} F;

static struct lifecycle LC;

static int64_t f_now(void *c) { (void)c; return F.now; }
static int64_t f_wall(void *c) { (void)c; return 1800000000000LL + F.now; }

static struct identity *
make_identity(const char *name, enum sched_kind kind)
{
	struct identity id = {0};
	char *argv[] = {(char *)name, NULL}, *none[] = {NULL};

	id.name = (char *)name;
	id.path = (char *)"/usr/bin/fake";
	id.ops = kind == KIND_SCHED_EXT ? (char *)name : NULL;
	id.argv = argv;
	id.env = none;
	id.client_args = none;
	id.kind = kind;
	id.t = (struct timing){.grace_ms = 1000, .ready_after_ms = 100, .startup_timeout_ms = 3000,
			       .disable_timeout_ms = 500, .stop_signal = SIGTERM,
			       .kill_mode = KILL_GROUP};
	return identity_dup(&id);
}

static enum proto_err
f_resolve(void *c, const struct lc_request *rq, struct identity **out, char *err, size_t len)
{
	(void)c;
	if (strcmp(rq->name, "unknown") == 0) {
		snprintf(err, len, "unknown scheduler");
		return E_UNKNOWN_SCHEDULER;
	}
	*out = make_identity(rq->name, strcmp(rq->name, "proc") == 0 ? KIND_PROCESS : KIND_SCHED_EXT);
	return E_OK;
}

static void f_kread(void *c, struct kernel_view *kv) { (void)c; *kv = F.kv; }
static void f_kwatch(void *c, enum kwatch how) { (void)c; F.kwatch = how; }

static int
f_spawn(void *c, const struct identity *id, int64_t seq, pid_t *pid, char **log, char *err,
	size_t len)
{
	(void)c;
	(void)seq;
	F.spawn_tries++;
	if (F.spawn_errno) {
		snprintf(err, len, "cannot execute %s", id->path);
		return F.spawn_errno;
	}
	F.nspawn++;
	*pid = F.next_pid++;
	*log = strdup("/tmp/fake.log");
	return 0;
}

static int
f_signal(void *c, int sig, bool group)
{
	(void)c;
	F.sigs[F.nsigs].sig = sig;
	F.sigs[F.nsigs].group = group;
	F.sigs[F.nsigs].at = F.now;
	F.nsigs++;
	return 0;
}

static void f_timer(void *c, enum lc_timer t, int64_t d) { (void)c; F.deadline[t] = d < 0 ? -1 : F.now + d; }

static void
f_reply(void *c, uint64_t token, enum proto_err err, const char *msg, cJSON *payload)
{
	(void)c;
	(void)token;
	(void)msg;
	F.nreplies++;
	F.reply_err = err;
	cJSON_Delete(F.reply);
	F.reply = payload;
}

static void
f_emit(void *c, cJSON *e)
{
	(void)c;
	snprintf(F.events[F.nevents++ % MAX_LOG], 32, "%s", cJSON_GetObjectItem(e, "event")->valuestring);
	cJSON_Delete(e);
}

static void f_persist(void *c) { (void)c; F.persists++; }
static void f_log_info(void *c, const char *p, cJSON **tail, char **reason)
{
	(void)c;
	(void)p;
	*tail = cJSON_CreateArray();
	*reason = strdup("runnable task stall");
}
static void f_hook(void *c, const cJSON *e) { (void)c; (void)e; F.hooks++; }
static void f_reboot(void *c) { (void)c; F.reboots++; }
static int
f_persist_now(void *c, char *err, size_t len)
{
	(void)c;
	if (++F.persists_now == F.persist_fail_at) {
		snprintf(err, len, "No space left on device");
		return -1;
	}
	return 0;
}

static const struct lc_ops fake_ops = {
	f_now, f_wall, f_resolve, f_kread, f_kwatch, f_spawn, f_signal, f_timer,
	f_reply, f_emit, f_persist, f_log_info, f_hook, f_reboot, f_persist_now, NULL,
};

static void
kernel(const char *state, const char *ops)
{
	if (strcmp(state, "enabled") == 0 && strcmp(F.kv.state, "enabled") != 0)
		F.kv.enable_seq++;
	snprintf(F.kv.state, sizeof(F.kv.state), "%s", state);
	snprintf(F.kv.ops, sizeof(F.kv.ops), "%s", ops);
	lc_on_kernel(&LC);
}

/* Move the clock, firing timers in deadline order, as the event loop would. */
static void
advance(int64_t ms)
{
	int64_t end = F.now + ms;

	for (;;) {
		int next = -1;
		for (int t = 0; t < T_COUNT; t++)
			if (F.deadline[t] >= 0 && F.deadline[t] <= end &&
			    (next < 0 || F.deadline[t] < F.deadline[next]))
				next = t;
		if (next < 0)
			break;
		F.now = F.deadline[next];
		F.deadline[next] = -1;
		lc_on_timer(&LC, (enum lc_timer)next);
	}
	F.now = end;
}

static void
proc_exits(int code, int sig)
{
	struct exit_info ei = {.known = true, .code = code, .signal = sig};

	lc_on_exit(&LC, &ei);
}

static void
submit(enum proto_cmd cmd, const char *name, int64_t grace)
{
	struct lc_request rq = {.cmd = cmd, .token = 7, .wait = true, .grace_ms = grace};

	rq.name = name != NULL ? strdup(name) : NULL;
	assert_int_equal(lc_submit(&LC, &rq), E_OK);
}

static bool
armed_any(void)
{
	for (int t = 0; t < T_COUNT; t++)
		if (F.deadline[t] >= 0)
			return true;
	return false;
}

static const char *
last_event(void)
{
	return F.nevents ? F.events[(F.nevents - 1) % MAX_LOG] : "";
}

static const char *
result_str(const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(F.reply, key);
	return cJSON_IsString(v) ? v->valuestring : "";
}

static int
setup(void **state)
{
	(void)state;
	cJSON_Delete(F.reply);
	memset(&F, 0, sizeof(F));
	for (int t = 0; t < T_COUNT; t++)
		F.deadline[t] = -1;
	F.kv.available = true;
	strcpy(F.kv.state, "disabled");
	F.next_pid = 100;
	lc_init(&LC, &fake_ops, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	lc_free(&LC);
	cJSON_Delete(F.reply);
	F.reply = NULL;
	return 0;
}

/* Attach "fast" and bring it to attached. */
static void
attach_fast(void)
{
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(LC.state, SLOT_STARTING);
	kernel("enabling", "fast");
	advance(50);
	kernel("enabled", "fast");
	/* At once: for sched_ext, ready is the kernel's word, not ready_after. */
	assert_int_equal(LC.state, SLOT_ATTACHED);
	assert_int_equal(F.reply_err, E_OK);
}

/* ---- tests ---- */

static void
test_attach_waits_for_liveness_and_kernel(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.kwatch, KW_POLL);
	assert_int_equal(F.deadline[T_READY_AFTER], -1); /* not for sched_ext */
	advance(100); /* alive, but the kernel has not enabled it */
	assert_int_equal(LC.state, SLOT_STARTING);
	kernel("enabling", "fast"); /* root/ops alone is not ready */
	assert_int_equal(LC.state, SLOT_STARTING);
	kernel("enabled", "fast");
	assert_int_equal(LC.state, SLOT_ATTACHED);
	assert_int_equal(F.nreplies, 1);
	assert_int_equal(F.reply_err, E_OK);
	assert_string_equal(result_str("state"), "attached");
	assert_string_equal(last_event(), "attached");
	assert_int_equal(F.kwatch, KW_EVENTS); /* no polling once attached */
	assert_false(armed_any());
}

static void
test_ops_with_version_suffix_matches(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1);
	kernel("enabled", "fast_1.0.3");
	advance(100);
	assert_int_equal(LC.state, SLOT_ATTACHED);
}

static void
test_ops_mismatch_kills_and_fails(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1);
	kernel("enabled", "fastest");
	assert_int_equal(F.nsigs, 1);
	assert_int_equal(F.sigs[0].sig, SIGKILL);
	assert_true(F.sigs[0].group);
	assert_int_equal(F.nreplies, 0);
	proc_exits(0, SIGKILL);
	kernel("disabled", "");
	assert_int_equal(F.reply_err, E_OPS_MISMATCH);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_false(armed_any());
}

static void
test_startup_timeout_kills_then_waits_for_kernel(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1);
	kernel("enabling", "fast");
	advance(2999);
	assert_int_equal(F.nsigs, 0);
	advance(1);
	assert_int_equal(F.nsigs, 1);
	assert_int_equal(F.sigs[0].sig, SIGKILL);
	assert_int_equal(F.sigs[0].at, 3000);
	proc_exits(0, SIGKILL);
	assert_int_equal(F.nreplies, 0); /* the kernel still says enabling */
	kernel("disabled", "");
	assert_int_equal(F.reply_err, E_STARTUP_TIMEOUT);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_string_equal(last_event(), "startup_failed");
}

static void
test_startup_died(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1);
	advance(20);
	proc_exits(1, 0);
	assert_int_equal(F.reply_err, E_STARTUP_DIED);
	const cJSON *exit = cJSON_GetObjectItem(F.reply, "exit");
	assert_int_equal(cJSON_GetObjectItem(exit, "code")->valueint, 1);
	assert_int_equal(LC.state, SLOT_DETACHED);
}

static void
test_spawn_failure(void **state)
{
	(void)state;
	F.spawn_errno = 2;
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.reply_err, E_SPAWN_FAILED);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_false(LC.running);
}

static void
test_unavailable_and_busy(void **state)
{
	(void)state;
	F.kv.available = false;
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.reply_err, E_SCHED_EXT_UNAVAILABLE);
	F.kv.available = true;
	strcpy(F.kv.state, "enabled");
	strcpy(F.kv.ops, "other");
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.reply_err, E_SCHED_EXT_BUSY);
	assert_int_equal(F.nspawn, 0);
	/* A process-kind scheduler does not care about the kernel; ready_after is its ready. */
	submit(CMD_ATTACH, "proc", -1);
	advance(99);
	assert_int_equal(LC.state, SLOT_STARTING);
	advance(1);
	assert_int_equal(LC.state, SLOT_ATTACHED);
}

static void
test_kill_grace_then_sigkill_exactly_at_grace(void **state)
{
	(void)state;
	attach_fast();
	int64_t t0 = F.now;
	submit(CMD_KILL, NULL, 1000);
	assert_int_equal(F.sigs[0].sig, SIGTERM);
	advance(999);
	assert_int_equal(F.nsigs, 1);
	advance(1);
	assert_int_equal(F.nsigs, 2);
	assert_int_equal(F.sigs[1].sig, SIGKILL);
	assert_int_equal(F.sigs[1].at - t0, 1000);
	assert_string_equal(last_event(), "kill_escalated");
	proc_exits(0, SIGKILL);
	assert_int_equal(F.reply_err, E_OK);
	assert_string_equal(result_str("outcome"), "sigkill_escalation");
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_false(armed_any());
	assert_int_equal(LC.last_exit, NULL); /* a requested stop is not an unexpected exit */
}

static void
test_kill_graceful(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_KILL, NULL, -1);
	advance(120);
	proc_exits(0, 0);
	assert_string_equal(result_str("outcome"), "sigterm_graceful");
	assert_int_equal(F.nsigs, 1);
	assert_false(armed_any());
}

static void
test_kill_grace_zero_is_sigkill_at_once(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_KILL, NULL, 0);
	assert_int_equal(F.sigs[0].sig, SIGKILL);
	/* SIGKILL sent is SIGKILL said, a grace of 0 too */
	assert_int_equal(F.nevents, 2);
	assert_string_equal(F.events[1], "kill_escalated");
	proc_exits(0, SIGKILL);
	assert_string_equal(result_str("outcome"), "sigkill_escalation");
}

static void
test_still_alive_after_sigkill(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_KILL, NULL, 1000);
	advance(1000 + 1999);
	assert_int_equal(F.nreplies, 1); /* only the attach so far */
	advance(1);
	assert_int_equal(F.reply_err, E_STILL_ALIVE_AFTER_SIGKILL);
	assert_int_equal(LC.state, SLOT_STOPPING);
	assert_false(LC.running);
	/* The daemon keeps watching: when it finally goes, the slot empties. */
	proc_exits(0, SIGKILL);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_string_equal(last_event(), "detached");
}

static void
test_detach_waits_for_kernel_disabled(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_DETACH, NULL, -1);
	proc_exits(0, 0);
	kernel("disabling", "fast");
	assert_int_equal(F.nreplies, 1);
	assert_int_equal(F.kwatch, KW_POLL);
	kernel("disabled", "");
	assert_int_equal(F.nreplies, 2);
	assert_int_equal(F.reply_err, E_OK);
	assert_string_equal(result_str("outcome"), "sigterm_graceful");
	assert_int_equal(F.kwatch, KW_OFF);
	/* Idempotent. */
	submit(CMD_DETACH, NULL, -1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(F.reply, "already_detached")));
}

static void
test_detach_disable_timeout_empties_slot(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_DETACH, NULL, -1);
	kernel("disabling", "fast");
	proc_exits(0, 0);
	advance(500);
	assert_int_equal(F.reply_err, E_DISABLE_TIMEOUT);
	assert_int_equal(LC.state, SLOT_DETACHED);
	/* Still ours on its way out, not a foreign scheduler. */
	cJSON *st = lc_status(&LC);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(st, "foreign")));
	cJSON_Delete(st);
}

static void
test_foreign_scheduler_in_status(void **state)
{
	(void)state;
	strcpy(F.kv.state, "enabled");
	strcpy(F.kv.ops, "someone_else");
	cJSON *st = lc_status(&LC);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "foreign")));
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(st, "sched_ext"), "ops")->valuestring,
			    "someone_else");
	cJSON_Delete(st);
}

/* Issue 12, bug 2: a detach the kernel confirmed leaves nothing of ours behind. */
static void
test_after_confirmed_detach_a_hand_started_one_is_foreign(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_DETACH, NULL, -1);
	proc_exits(0, 0);
	kernel("disabled", "");
	assert_int_equal(F.reply_err, E_OK);
	/* The same scheduler started by hand: not ours, and attach is busy at once. */
	kernel("enabled", "fast");
	cJSON *st = lc_status(&LC);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "foreign")));
	cJSON_Delete(st);
	int replies = F.nreplies;
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.nreplies, replies + 1);
	assert_int_equal(F.reply_err, E_SCHED_EXT_BUSY);
	assert_int_equal(F.nspawn, 1);
}

/* A kill does not wait for the kernel; once it says disabled, nothing is ours. */
static void
test_after_kill_disabled_clears_lagging(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_KILL, NULL, -1);
	proc_exits(0, 0);
	assert_int_equal(F.reply_err, E_OK);
	kernel("disabled", "");
	kernel("enabled", "fast");
	cJSON *st = lc_status(&LC);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "foreign")));
	cJSON_Delete(st);
}

static void
test_queue_is_bounded(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1); /* runs: waits for the kernel */
	for (int i = 0; i < LC_QUEUE_MAX; i++)
		submit(CMD_DETACH, NULL, -1);
	struct lc_request rq = {.cmd = CMD_DETACH, .token = 9, .grace_ms = -1};
	assert_int_equal(lc_submit(&LC, &rq), E_BUSY);
}

/* An unknown name is unknown_scheduler, attached or not: the request is checked first. */
static void
test_attach_unknown_while_attached(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_ATTACH, "unknown", -1);
	assert_int_equal(F.reply_err, E_UNKNOWN_SCHEDULER);
	assert_int_equal(LC.state, SLOT_ATTACHED);
	submit(CMD_ATTACH, "other", -1);
	assert_int_equal(F.reply_err, E_ALREADY_ATTACHED);
	assert_int_equal(F.nspawn, 1);
}

static void
test_replace_unknown_keeps_current(void **state)
{
	(void)state;
	attach_fast();
	submit(CMD_REPLACE, "unknown", -1);
	assert_int_equal(F.reply_err, E_UNKNOWN_SCHEDULER);
	assert_int_equal(F.nsigs, 0);
	assert_int_equal(LC.state, SLOT_ATTACHED);
}

static void
test_replace_rollback(void **state)
{
	(void)state;
	attach_fast();
	struct lc_request rq = {.cmd = CMD_REPLACE, .token = 7, .wait = true, .grace_ms = -1,
				.rollback = true};
	rq.name = strdup("other");
	lc_submit(&LC, &rq);
	proc_exits(0, 0);
	kernel("disabled", "");
	/* "other" starts but dies during startup. */
	assert_int_equal(LC.state, SLOT_STARTING);
	proc_exits(1, 0);
	/* Rolled back to fast. */
	assert_int_equal(LC.state, SLOT_STARTING);
	assert_string_equal(LC.cur->name, "fast");
	kernel("enabled", "fast");
	advance(100);
	assert_int_equal(LC.state, SLOT_ATTACHED);
	assert_int_equal(F.reply_err, E_STARTUP_DIED);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(F.reply, "rolled_back")));
}

/* A request queued behind another starts in the input that ends the first. */
static void
test_queued_request_starts_when_the_first_ends(void **state)
{
	(void)state;
	submit(CMD_ATTACH, "fast", -1);
	submit(CMD_DETACH, NULL, -1);
	assert_int_equal(LC.qlen, 1);
	assert_int_equal(F.nsigs, 0);
	kernel("enabled", "fast");
	assert_int_equal(F.nreplies, 1); /* the attach's */
	assert_int_equal(LC.qlen, 0);
	assert_true(LC.running);
	assert_int_equal(LC.op.rq.cmd, CMD_DETACH);
	assert_int_equal(LC.state, SLOT_STOPPING);
	assert_int_equal(F.nsigs, 1);
	assert_int_equal(F.sigs[0].sig, SIGTERM);
}

/* A timer that does not belong to the phase (one left over) changes nothing. */
static void
test_a_timer_out_of_its_phase_is_ignored(void **state)
{
	int events;

	(void)state;
	attach_fast();
	events = F.nevents;
	for (int t = T_READY_AFTER; t <= T_DISABLE; t++)
		lc_on_timer(&LC, (enum lc_timer)t);
	assert_int_equal(LC.state, SLOT_ATTACHED);
	assert_int_equal(F.nsigs, 0);
	assert_int_equal(F.nevents, events);
	submit(CMD_KILL, NULL, -1);
	assert_int_equal(LC.op.phase, PH_STOP_GRACE);
	lc_on_timer(&LC, T_READY_AFTER);
	lc_on_timer(&LC, T_STARTUP);
	lc_on_timer(&LC, T_KILL);
	lc_on_timer(&LC, T_DISABLE);
	assert_int_equal(LC.op.phase, PH_STOP_GRACE);
	assert_int_equal(F.nsigs, 1);
	lc_on_timer(&LC, T_GRACE);
	assert_int_equal(LC.op.phase, PH_STOP_KILL);
	assert_int_equal(F.sigs[1].sig, SIGKILL);
}

static void
test_restart_without_history(void **state)
{
	(void)state;
	submit(CMD_RESTART, NULL, -1);
	assert_int_equal(F.reply_err, E_NOT_ATTACHED);
	submit(CMD_KILL, NULL, -1);
	assert_int_equal(F.reply_err, E_NOT_ATTACHED);
}

static void
test_unexpected_exit_records_and_emits(void **state)
{
	(void)state;
	attach_fast();
	advance(5000);
	proc_exits(0, 0); /* scx's C schedulers exit 0 when the kernel ejects them */
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_string_equal(last_event(), "exited");
	assert_non_null(LC.last_exit);
	/* one record shape: the exit object nested under "exit" */
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(LC.last_exit, "exit"), "code")->valueint, 0);
	assert_null(cJSON_GetObjectItem(LC.last_exit, "code"));
	assert_int_equal((int)cJSON_GetObjectItem(LC.last_exit, "runtime_ms")->valuedouble, 5050); /* ready at 50 ms: the kernel said so */
	assert_string_equal(cJSON_GetObjectItem(LC.last_exit, "reason")->valuestring,
			    "runnable task stall");
	assert_int_equal(F.hooks, 1);
	/* kill now reports it as already gone: a kill result, and the same record */
	submit(CMD_KILL, NULL, -1);
	assert_string_equal(result_str("outcome"), "already_gone");
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(F.reply, "exit"), "code")->valueint, 0);
	assert_true(cJSON_Compare(cJSON_GetObjectItem(F.reply, "last_exit"), LC.last_exit, true));
	assert_null(cJSON_GetObjectItem(F.reply, "already_detached"));
}

static void
test_restart_policy_backoff_then_gave_up(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_RESTART, .delay_ms = 500, .max_delay_ms = 1500,
			      .burst = 3, .window_ms = 60000};
	int64_t delays[8] = {0};
	int n = 0;

	(void)state;
	lc_set_policy(&LC, &p);
	attach_fast();
	for (int i = 0; i < 4; i++) {
		proc_exits(0, 0);
		if (LC.policy.gave_up)
			break;
		assert_string_equal(last_event(), "restarting");
		delays[n++] = F.deadline[T_RESTART] - F.now;
		advance(F.deadline[T_RESTART] - F.now);
		/* The restart waits for the kernel to let go of the dead one. */
		assert_int_equal(LC.op.phase, PH_PRE_ATTACH);
		kernel("disabled", "");
		assert_int_equal(LC.state, SLOT_STARTING);
		kernel("enabled", "fast");
		advance(100);
		assert_int_equal(LC.state, SLOT_ATTACHED);
	}
	assert_int_equal(n, 3);
	assert_int_equal(delays[0], 500);
	assert_int_equal(delays[1], 1000);
	assert_int_equal(delays[2], 1500); /* capped at max_delay */
	assert_true(LC.policy.gave_up);
	assert_string_equal(last_event(), "gave_up");
	assert_int_equal(LC.policy.restarts, 3);
	assert_int_equal(LC.state, SLOT_DETACHED);
}

/* A scheduler that stayed up for a whole window starts the backoff afresh. */
static void
test_a_window_of_uptime_resets_the_backoff(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_RESTART, .delay_ms = 500, .max_delay_ms = 8000,
			      .burst = 5, .window_ms = 10000};

	(void)state;
	lc_set_policy(&LC, &p);
	attach_fast();
	for (int i = 0; i < 2; i++) {
		proc_exits(0, 0);
		assert_string_equal(last_event(), "restarting");
		assert_int_equal(F.deadline[T_RESTART] - F.now, 500 << i);
		advance(F.deadline[T_RESTART] - F.now);
		kernel("disabled", "");
		kernel("enabled", "fast");
		assert_int_equal(LC.state, SLOT_ATTACHED);
	}
	advance(10000);
	proc_exits(0, 0);
	assert_string_equal(last_event(), "restarting");
	assert_int_equal(F.deadline[T_RESTART] - F.now, 500); /* not 2000 */
	assert_int_equal(LC.policy.restart_count, 0);
}

/* A boot attach (token 0) that never starts: the policy retries that scheduler, each
 * failed attempt counts toward the burst, and it ends in gave_up. */
static void
test_failed_boot_attach_retried_then_gave_up(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_RESTART, .delay_ms = 500, .max_delay_ms = 1500,
			      .burst = 2, .window_ms = 60000};
	struct lc_request rq = {.cmd = CMD_ATTACH, .token = 0, .wait = true, .grace_ms = -1};
	int spawns;

	(void)state;
	lc_set_policy(&LC, &p);
	F.spawn_errno = 2;
	rq.name = strdup("fast");
	assert_int_equal(lc_submit(&LC, &rq), E_OK);
	for (int i = 0; i < 2; i++) {
		assert_string_equal(last_event(), "restarting");
		spawns = F.spawn_tries;
		advance(F.deadline[T_RESTART] - F.now);
		assert_int_equal(F.spawn_tries, spawns + 1); /* the same scheduler, tried again */
	}
	assert_true(LC.policy.gave_up);
	assert_string_equal(last_event(), "gave_up");
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_false(armed_any());
}

static void
test_fallback_once(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_FALLBACK, .fallback = (char *)"safe",
			      .delay_ms = 500, .max_delay_ms = 1000, .burst = 3, .window_ms = 1000};

	(void)state;
	lc_set_policy(&LC, &p);
	attach_fast();
	proc_exits(0, 0);
	kernel("disabled", "");
	assert_int_equal(LC.state, SLOT_STARTING);
	assert_string_equal(LC.cur->name, "safe");
	kernel("enabled", "safe");
	advance(100);
	assert_int_equal(LC.state, SLOT_ATTACHED);
	/* The fallback itself dying is not followed by another fallback. */
	proc_exits(0, 0);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_false(LC.running);
}

static void
test_kernel_drops_and_takes_back(void **state)
{
	(void)state;
	attach_fast();
	kernel("disabled", "");
	assert_string_equal(last_event(), "sched_ext_disabled");
	assert_int_equal(LC.state, SLOT_ATTACHED); /* the process still lives */
	kernel("enabling", "fast");
	kernel("enabled", "fast");
	assert_string_equal(last_event(), "sched_ext_enabled");
}

static void
test_reboot_policy(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_REBOOT, .delay_ms = 1, .max_delay_ms = 1,
			      .burst = 1, .window_ms = 1};

	(void)state;
	lc_set_policy(&LC, &p);
	attach_fast();
	proc_exits(0, SIGSEGV);
	assert_int_equal(F.reboots, 1);
}

/* ---- state.json: persist before acting, and a restarted daemon taking over ---- */

static void
test_attach_refused_when_state_cannot_be_written(void **state)
{
	(void)state;
	F.persist_fail_at = 1; /* before the spawn */
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.nspawn, 0);
	assert_int_equal(F.reply_err, E_INTERNAL);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_int_equal(LC.seq, 0);
	assert_false(LC.running);
}

static void
test_spawn_unrecorded_is_killed(void **state)
{
	(void)state;
	F.persist_fail_at = 2; /* the write with the new pid */
	submit(CMD_ATTACH, "fast", -1);
	assert_int_equal(F.nspawn, 1);
	assert_int_equal(F.nsigs, 1);
	assert_int_equal(F.sigs[0].sig, SIGKILL);
	assert_int_equal(F.nreplies, 0);
	proc_exits(0, SIGKILL);
	assert_int_equal(F.reply_err, E_INTERNAL);
	assert_int_equal(LC.state, SLOT_DETACHED);
}

/* What daemon_restore hands over: "fast", pid 42, spawned 300 ms of wall time ago. */
static void
saved(struct lc_saved *s, enum slot_state st, bool alive)
{
	memset(s, 0, sizeof(*s));
	s->id = make_identity("fast", KIND_SCHED_EXT);
	s->state = st;
	s->pid = 42;
	s->seq = 7;
	s->started_wall_ms = f_wall(NULL) - 300;
	s->alive = alive;
	s->op = CMD_COUNT;
}

static void
test_restore_starting_waits_for_ready_again(void **state)
{
	struct lc_saved s;

	(void)state;
	F.now = 10000;
	saved(&s, SLOT_STARTING, true);
	lc_restore(&LC, &s);
	assert_int_equal(LC.state, SLOT_STARTING);
	assert_int_equal(LC.pid, 42);
	assert_true(LC.adopted);
	assert_int_equal(F.kwatch, KW_POLL);
	assert_int_equal(F.deadline[T_STARTUP], 10000 + 3000); /* a fresh startup_timeout */
	kernel("enabled", "fast");
	assert_int_equal(LC.state, SLOT_ATTACHED); /* ready_after (100 ms) was over long ago */
	assert_int_equal(F.nspawn, 0);
	assert_int_equal(F.nreplies, 0); /* nobody to answer */
	assert_string_equal(last_event(), "attached");
	assert_false(LC.running);
}

static void
test_restore_starting_never_ready_is_killed(void **state)
{
	struct lc_saved s;

	(void)state;
	saved(&s, SLOT_STARTING, true);
	lc_restore(&LC, &s);
	advance(3000);
	assert_int_equal(F.nsigs, 1);
	assert_int_equal(F.sigs[0].sig, SIGKILL);
	proc_exits(0, SIGKILL);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_string_equal(last_event(), "startup_failed");
}

static void
test_restore_stopping_finishes_the_kill(void **state)
{
	struct lc_saved s;

	(void)state;
	saved(&s, SLOT_STOPPING, true);
	s.op = CMD_KILL;
	lc_restore(&LC, &s);
	assert_int_equal(F.nsigs, 1);
	assert_int_equal(F.sigs[0].sig, SIGKILL); /* the grace ran out with the last daemon */
	assert_true(F.sigs[0].group);
	proc_exits(0, SIGKILL);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_string_equal(last_event(), "detached");
	assert_false(LC.running);
}

static void
test_restore_replace_kills_old_attaches_new(void **state)
{
	struct lc_saved s;

	(void)state;
	kernel("enabled", "fast");
	saved(&s, SLOT_STOPPING, true);
	s.op = CMD_REPLACE;
	s.target = make_identity("fast2", KIND_SCHED_EXT);
	lc_restore(&LC, &s);
	assert_int_equal(F.sigs[0].sig, SIGKILL);
	proc_exits(0, SIGKILL);
	assert_int_equal(F.nspawn, 0); /* the kernel lets go of the old one first */
	kernel("disabled", "");
	assert_int_equal(F.nspawn, 1);
	assert_string_equal(LC.cur->name, "fast2");
	kernel("enabled", "fast2");
	advance(100);
	assert_int_equal(LC.state, SLOT_ATTACHED);
	assert_false(LC.running);
}

static void
test_restore_replace_old_already_gone(void **state)
{
	struct lc_saved s;

	(void)state;
	saved(&s, SLOT_STOPPING, false);
	s.op = CMD_REPLACE;
	s.target = make_identity("fast2", KIND_SCHED_EXT);
	lc_restore(&LC, &s);
	assert_int_equal(F.nsigs, 0);
	assert_int_equal(F.nspawn, 1);
	assert_string_equal(LC.cur->name, "fast2");
	assert_int_equal(LC.state, SLOT_STARTING);
}

static void
test_restore_replace_between_stop_and_spawn(void **state)
{
	struct lc_saved s = {.op = CMD_REPLACE, .state = SLOT_DETACHED};

	(void)state;
	s.target = make_identity("fast2", KIND_SCHED_EXT);
	lc_restore(&LC, &s);
	assert_int_equal(F.nspawn, 1);
	assert_string_equal(LC.cur->name, "fast2");
	kernel("enabled", "fast2");
	advance(100);
	assert_int_equal(LC.state, SLOT_ATTACHED);
}

static void
test_restore_dead_runs_the_restart_policy(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_RESTART, .delay_ms = 500, .max_delay_ms = 1000,
			      .burst = 3, .window_ms = 60000};
	struct lc_saved s;

	(void)state;
	lc_set_policy(&LC, &p);
	saved(&s, SLOT_ATTACHED, false);
	lc_restore(&LC, &s);
	assert_int_equal(LC.state, SLOT_DETACHED);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(LC.last_exit, "while_daemon_down")));
	assert_int_equal(F.hooks, 1);
	assert_string_equal(last_event(), "restarting");
	advance(500);
	assert_int_equal(F.nspawn, 1);
	assert_string_equal(LC.cur->name, "fast");
}

static void
test_restore_dead_while_stopping_is_not_restarted(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_RESTART, .delay_ms = 500, .max_delay_ms = 1000,
			      .burst = 3, .window_ms = 60000};
	struct lc_saved s;

	(void)state;
	lc_set_policy(&LC, &p);
	saved(&s, SLOT_STOPPING, false);
	s.op = CMD_DETACH;
	lc_restore(&LC, &s);
	advance(5000);
	assert_int_equal(F.nspawn, 0);
	assert_int_equal(F.hooks, 0);
	assert_int_equal(LC.state, SLOT_DETACHED);
}

static void
test_pending_restart_is_saved_and_restored(void **state)
{
	struct lc_policy p = {.action = ON_EXIT_RESTART, .delay_ms = 2000, .max_delay_ms = 8000,
			      .burst = 3, .window_ms = 60000};
	struct lc_saved s = {.op = CMD_COUNT};
	const cJSON *pol;
	cJSON *o;
	int64_t due;

	(void)state;
	lc_set_policy(&LC, &p);
	attach_fast();
	proc_exits(0, SIGSEGV);
	kernel("disabled", "");
	advance(500);
	o = lc_state_json(&LC);
	pol = cJSON_GetObjectItem(o, "policy");
	due = (int64_t)cJSON_GetObjectItem(pol, "restart_due_ms")->valuedouble;
	assert_int_equal(due, f_wall(NULL) + 1500);
	assert_int_equal((int64_t)cJSON_GetObjectItem(pol, "restart_delay_ms")->valuedouble, 4000);
	cJSON_Delete(o);

	/* A new daemon, 1 s later. */
	lc_free(&LC);
	for (int t = 0; t < T_COUNT; t++)
		F.deadline[t] = -1;
	lc_init(&LC, &fake_ops, NULL);
	lc_set_policy(&LC, &p);
	F.now += 1000;
	s.restart_pending = true;
	s.restart_due_wall_ms = due;
	s.restart_delay_ms = 4000;
	LC.last = make_identity("fast", KIND_SCHED_EXT);
	lc_restore(&LC, &s);
	assert_int_equal(F.deadline[T_RESTART], F.now + 500);
	advance(499);
	assert_int_equal(F.nspawn, 1);
	advance(1);
	assert_int_equal(F.nspawn, 2);
	assert_int_equal(LC.policy.restart_delay_ms, 4000); /* the backoff goes on where it was */
}

static void
test_overdue_restart_runs_at_once(void **state)
{
	struct lc_saved s = {.op = CMD_COUNT, .restart_pending = true};

	(void)state;
	s.restart_due_wall_ms = f_wall(NULL) - 5000;
	LC.last = make_identity("fast", KIND_SCHED_EXT);
	lc_restore(&LC, &s);
	assert_int_equal(F.deadline[T_RESTART], F.now);
	advance(0);
	assert_int_equal(F.nspawn, 1);
}

static void
test_state_json_records_the_op(void **state)
{
	cJSON *o;
	const cJSON *op;

	(void)state;
	attach_fast();
	submit(CMD_REPLACE, "fast2", 5000);
	o = lc_state_json(&LC);
	assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "stopping");
	op = cJSON_GetObjectItem(o, "op");
	assert_string_equal(cJSON_GetObjectItem(op, "kind")->valuestring, "replace");
	assert_string_equal(
		cJSON_GetObjectItem(cJSON_GetObjectItem(op, "target"), "name")->valuestring, "fast2");
	cJSON_Delete(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_attach_waits_for_liveness_and_kernel),
		T(test_ops_with_version_suffix_matches),
		T(test_ops_mismatch_kills_and_fails),
		T(test_startup_timeout_kills_then_waits_for_kernel),
		T(test_startup_died),
		T(test_spawn_failure),
		T(test_unavailable_and_busy),
		T(test_kill_grace_then_sigkill_exactly_at_grace),
		T(test_kill_graceful),
		T(test_kill_grace_zero_is_sigkill_at_once),
		T(test_still_alive_after_sigkill),
		T(test_detach_waits_for_kernel_disabled),
		T(test_detach_disable_timeout_empties_slot),
		T(test_foreign_scheduler_in_status),
		T(test_after_confirmed_detach_a_hand_started_one_is_foreign),
		T(test_after_kill_disabled_clears_lagging),
		T(test_queue_is_bounded),
		T(test_queued_request_starts_when_the_first_ends),
		T(test_a_timer_out_of_its_phase_is_ignored),
		T(test_attach_unknown_while_attached),
		T(test_replace_unknown_keeps_current),
		T(test_replace_rollback),
		T(test_restart_without_history),
		T(test_unexpected_exit_records_and_emits),
		T(test_restart_policy_backoff_then_gave_up),
		T(test_a_window_of_uptime_resets_the_backoff),
		T(test_failed_boot_attach_retried_then_gave_up),
		T(test_fallback_once),
		T(test_kernel_drops_and_takes_back),
		T(test_reboot_policy),
		T(test_attach_refused_when_state_cannot_be_written),
		T(test_spawn_unrecorded_is_killed),
		T(test_restore_starting_waits_for_ready_again),
		T(test_restore_starting_never_ready_is_killed),
		T(test_restore_stopping_finishes_the_kill),
		T(test_restore_replace_kills_old_attaches_new),
		T(test_restore_replace_old_already_gone),
		T(test_restore_replace_between_stop_and_spawn),
		T(test_restore_dead_runs_the_restart_policy),
		T(test_restore_dead_while_stopping_is_not_restarted),
		T(test_pending_restart_is_saved_and_restored),
		T(test_overdue_restart_runs_at_once),
		T(test_state_json_records_the_op),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
