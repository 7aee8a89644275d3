/* The control requests: parse, check, dispatch, answer; events to subscribers. */
#ifndef SCHEDLIFE_CONTROL_H
#define SCHEDLIFE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "lifecycle.h"
#include "proto.h"

/* The token of replies nobody waits for but the daemon itself (shutdown). */
#define CONTROL_TOKEN_SHUTDOWN UINT64_MAX

/*
 * What the requests need of the daemon, lent by its owner (main.c): this room calls
 * no daemon_* function and reads no global of the daemon's. Connection and output
 * limits are in the config (struct limits, schedlifed.json(5)).
 */
struct control_env {
	const struct config *cfg; /* the config in force; a reload rewrites it in place */
	struct lifecycle *lc;
	/* The newest log of a seq (<= 0: the current or latest one): 0, or -1. */
	int (*log_path)(int64_t seq, char *buf, size_t len, int64_t *found_seq);
	bool (*shutting_down)(void);
};

int control_listen(const char *path, const struct control_env *env);
void control_close(void);
/* The answer to a queued lifecycle request; payload is consumed. */
void control_reply(uint64_t token, enum proto_err err, const char *msg, cJSON *payload);
/* Send an event to every subscriber; the event is not consumed. */
void control_broadcast(const cJSON *event);
/* The slot changed state: answer the waiters whose state now holds. */
void control_state_changed(void);
/* The slot or the kernel may have changed: the next status is built afresh. */
void control_forget_status(void);

#endif
