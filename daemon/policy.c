/* The on_exit policy: restart with backoff inside a crash-loop window, fall back, reboot. */
#include "policy.h"

#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

#define OPS (p->ops)
#define CTX (p->ctx)

void
policy_init(struct policy *p, const struct lc_ops *ops, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->ctx = ctx;
	p->cfg.delay_ms = 500;
	p->cfg.max_delay_ms = 30000;
	p->cfg.burst = 5;
	p->cfg.window_ms = 60000;
	p->restart_delay_ms = p->cfg.delay_ms;
}

void
policy_free(struct policy *p)
{
	free(p->cfg.fallback);
	p->cfg.fallback = NULL;
}

void
policy_configure(struct policy *p, const struct lc_policy *cfg)
{
	free(p->cfg.fallback);
	p->cfg = *cfg;
	p->cfg.fallback = cfg->fallback != NULL ? strdup(cfg->fallback) : NULL;
	if (p->restart_delay_ms < cfg->delay_ms || p->restart_count == 0)
		p->restart_delay_ms = cfg->delay_ms;
}

void
policy_reset(struct policy *p)
{
	p->restarts = 0;
	p->restart_count = 0;
	p->gave_up = false;
	p->restart_delay_ms = p->cfg.delay_ms;
	OPS->timer(CTX, T_RESTART, -1);
	p->restart_armed = false;
	p->pending = false;
}

bool
policy_owns(const struct lc_request *rq)
{
	return rq->token == 0 && (rq->cmd == CMD_RESTART || rq->cmd == CMD_ATTACH);
}

void
policy_attached(struct policy *p, const struct lc_request *rq)
{
	if (!policy_owns(rq) || !p->pending)
		return;
	p->pending = false;
	if (p->cfg.action == ON_EXIT_RESTART) {
		p->restarts++;
		p->restart_times[p->restart_count++] = OPS->now_ms(CTX);
	}
}

void
policy_uptime(struct policy *p, int64_t uptime_ms)
{
	/* A scheduler that stayed up for a whole window earns a fresh backoff. */
	if (uptime_ms >= p->cfg.window_ms) {
		p->restart_delay_ms = p->cfg.delay_ms;
		p->restart_count = 0;
	}
}

static cJSON *
policy_event(const struct policy_exit *x, const char *name)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddStringToObject(e, "event", name);
	cJSON_AddNumberToObject(e, "seq", (double)x->seq);
	if (x->restart != NULL)
		cJSON_AddStringToObject(e, "name", x->restart);
	return e;
}

/* Again after a delay that doubles up to max_delay; gave_up after burst within the window. */
static void
restart_later(struct policy *p, const struct policy_exit *x)
{
	int64_t now = OPS->now_ms(CTX);
	int kept = 0;
	cJSON *e;

	/* Forget restarts that fell out of the window. */
	for (int i = 0; i < p->restart_count; i++)
		if (now - p->restart_times[i] < p->cfg.window_ms)
			p->restart_times[kept++] = p->restart_times[i];
	p->restart_count = kept;
	if (kept >= p->cfg.burst || kept >= POLICY_TIMES_MAX) {
		p->gave_up = true;
		e = policy_event(x, "gave_up");
		cJSON_AddNumberToObject(e, "restarts", kept);
		cJSON_AddNumberToObject(e, "window_ms", (double)p->cfg.window_ms);
		OPS->emit(CTX, e);
		OPS->persist(CTX);
		return;
	}
	e = policy_event(x, "restarting");
	cJSON_AddNumberToObject(e, "delay_ms", (double)p->restart_delay_ms);
	cJSON_AddNumberToObject(e, "attempt", kept + 1);
	OPS->emit(CTX, e);
	p->pending = true;
	p->restart_armed = true;
	p->restart_due_ms = now + p->restart_delay_ms;
	OPS->timer(CTX, T_RESTART, p->restart_delay_ms);
	p->restart_delay_ms *= 2;
	if (p->restart_delay_ms > p->cfg.max_delay_ms)
		p->restart_delay_ms = p->cfg.max_delay_ms;
	OPS->persist(CTX); /* a daemon killed during the delay still restarts it */
}

/* The configured action; the fallback's name when one is to be attached. */
static const char *
act(struct policy *p, const struct policy_exit *x)
{
	switch (p->cfg.action) {
	case ON_EXIT_NONE:
		break;
	case ON_EXIT_RESTART:
		restart_later(p, x);
		break;
	case ON_EXIT_FALLBACK:
		/* Once: never fall back from the fallback itself. */
		if (p->cfg.fallback != NULL && strcmp(x->exited, p->cfg.fallback) != 0) {
			p->pending = true;
			return p->cfg.fallback;
		}
		break;
	case ON_EXIT_REBOOT:
		OPS->reboot(CTX);
		break;
	}
	return NULL;
}

const char *
policy_after_exit(struct policy *p, const struct policy_exit *x, const cJSON *record)
{
	cJSON *e = cJSON_Duplicate(record, true);

	cJSON_AddStringToObject(e, "event", "exited");
	OPS->emit(CTX, cJSON_Duplicate(e, true));
	OPS->exit_hook(CTX, e);
	cJSON_Delete(e);
	return act(p, x);
}

bool
policy_retries(const struct policy *p, const struct lc_request *rq)
{
	return policy_owns(rq) && p->cfg.action == ON_EXIT_RESTART;
}

void
policy_attach_failed(struct policy *p, const struct policy_exit *x)
{
	/* A failed attempt counts toward the burst as a successful one does, so a
	 * scheduler that never starts ends in gave_up, not in retries for ever. */
	if (p->pending && p->restart_count < POLICY_TIMES_MAX)
		p->restart_times[p->restart_count++] = OPS->now_ms(CTX);
	p->pending = false;
	(void)act(p, x);
}

bool
policy_restart_due(struct policy *p)
{
	p->restart_armed = false;
	return p->pending;
}

cJSON *
policy_state_json(const struct policy *p, int64_t now, int64_t wall)
{
	cJSON *o = cJSON_CreateObject(), *a;

	cJSON_AddNumberToObject(o, "restarts", p->restarts);
	cJSON_AddBoolToObject(o, "gave_up", p->gave_up);
	cJSON_AddNumberToObject(o, "restart_delay_ms", (double)p->restart_delay_ms);
	a = cJSON_AddArrayToObject(o, "restart_times_ms");
	for (int i = 0; i < p->restart_count; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber((double)(wall - (now - p->restart_times[i]))));
	if (p->restart_armed)
		cJSON_AddNumberToObject(o, "restart_due_ms", (double)(wall + (p->restart_due_ms - now)));
	else
		cJSON_AddNullToObject(o, "restart_due_ms");
	return o;
}

void
policy_restore(struct policy *p, const struct lc_saved *s, int64_t now, int64_t wall)
{
	int n = s->restart_count;

	p->restarts = s->restarts;
	p->gave_up = s->gave_up;
	if (s->restart_delay_ms > 0)
		p->restart_delay_ms = s->restart_delay_ms;
	if (n > POLICY_TIMES_MAX)
		n = POLICY_TIMES_MAX;
	for (int i = 0; i < n; i++)
		p->restart_times[i] = now - (wall - s->restart_times_wall_ms[i]);
	p->restart_count = n > 0 ? n : 0;
}

void
policy_rearm(struct policy *p, int64_t due_wall_ms, int64_t now, int64_t wall)
{
	/* At once when overdue. */
	int64_t left = due_wall_ms - wall;

	if (p->pending)
		return;
	p->pending = true;
	p->restart_armed = true;
	p->restart_due_ms = now + (left > 0 ? left : 0);
	OPS->timer(CTX, T_RESTART, left > 0 ? left : 0);
	OPS->persist(CTX);
}
