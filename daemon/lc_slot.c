/* The slot and the request in progress: emptying them, and a request's answer and end. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle_impl.h"

void
lc_request_free(struct lc_request *rq)
{
	free(rq->name);
	free(rq->mode);
	strv_free(rq->args);
	memset(rq, 0, sizeof(*rq));
}

void
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

void
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

/* The request is over; the machine starts the next one once its input is handled. */
void
op_done(struct lifecycle *lc)
{
	for (int t = T_READY_AFTER; t <= T_DISABLE; t++)
		OPS->timer(CTX, (enum lc_timer)t, -1);
	op_clear(&lc->op);
	lc->running = false;
}

void
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

int64_t
op_elapsed(struct lifecycle *lc)
{
	return OPS->now_ms(CTX) - lc->op.t0_ms;
}

/* Write state.json at once; a failure says why, for the request's answer. */
int
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
