/* What the lifecycle's rooms give each other; nothing outside the lifecycle includes it. */
/* Room by room, each calling only those listed below it (daemon/README, "Lifecycle"). */
#ifndef SCHEDLIFE_LIFECYCLE_IMPL_H
#define SCHEDLIFE_LIFECYCLE_IMPL_H

#include <string.h>

#include "lifecycle.h"

#define OPS (lc->ops)
#define CTX (lc->ctx)

static inline bool
kernel_disabled(const struct kernel_view *kv)
{
	return !kv->available || kv->state[0] == '\0' || strcmp(kv->state, "disabled") == 0;
}

static inline bool
kernel_ready(const struct identity *id, const struct kernel_view *kv)
{
	return strcmp(kv->state, "enabled") == 0 && ops_matches(id->ops, kv->ops);
}

/* lifecycle.c: the machine, for lc_restore */
void lc_run_queue(struct lifecycle *lc);
void lc_after_unasked_exit(struct lifecycle *lc, const cJSON *rec, const char *exited_name);

/* lc_stop.c: stopping */
void begin_stop(struct lifecycle *lc, bool wait_disable);
void escalate(struct lifecycle *lc, int64_t waited_ms);
void stop_exited(struct lifecycle *lc, const struct exit_info *ei);
void stop_finish(struct lifecycle *lc, enum proto_err err);
void still_alive(struct lifecycle *lc);
cJSON *stop_result(struct lifecycle *lc, const char *outcome, cJSON *exit);

/* lc_attach.c: attaching */
void begin_attach(struct lifecycle *lc);
void await_ready(struct lifecycle *lc, int64_t ready_after_ms);
void starting_kernel_changed(struct lifecycle *lc);
void check_ready(struct lifecycle *lc);
void start_abort(struct lifecycle *lc, enum proto_err err, const char *msg);
void attach_failed(struct lifecycle *lc, enum proto_err err, const char *msg, cJSON *extra);
void after_failed_start(struct lifecycle *lc, enum proto_err disable_err);

/* lc_slot.c: the slot and the request in progress */
void slot_clear(struct lifecycle *lc);
void op_clear(struct lc_op *op);
void op_reply(struct lifecycle *lc, enum proto_err err, const char *msg, cJSON *payload);
void op_done(struct lifecycle *lc);
void __attribute__((format(printf, 4, 5)))
op_fail(struct lifecycle *lc, enum proto_err err, cJSON *extra, const char *fmt, ...);
int64_t op_elapsed(struct lifecycle *lc);
int persist_now(struct lifecycle *lc, char *err, size_t errlen);

/* lc_record.c: what the slot says about itself */
cJSON *event_new(struct lifecycle *lc, const char *name);
cJSON *exit_record(struct lifecycle *lc, const struct exit_info *ei);
void add_log_tail(struct lifecycle *lc, cJSON *o);
void describe_exit(const struct exit_info *ei, char *buf, size_t len);

#endif
