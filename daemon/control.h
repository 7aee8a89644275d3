/* The control socket: clients, framing, authorization and the request switch. */
#ifndef SCHEDLIFE_CONTROL_H
#define SCHEDLIFE_CONTROL_H

#include <stdint.h>

#include <cjson/cJSON.h>

#include "proto.h"

/* Connection and output limits are in the config (struct limits, schedlifed.json(5)). */
#define CONTROL_LINE_TIMEOUT_MS ((int64_t)10000)
/* The token of replies nobody waits for but the daemon itself (shutdown). */
#define CONTROL_TOKEN_SHUTDOWN UINT64_MAX

int control_listen(const char *path);
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
