/* schedctl's connection to schedlifed: connect with retry, a request and its answer, streams. */
#ifndef SCHEDCTL_CLIENT_H
#define SCHEDCTL_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct client {
	int fd;
	struct linebuf in;
	int64_t last_id;
	bool progress; /* may draw a progress line on stderr */
};

/* Ignore SIGPIPE; catch SIGINT and SIGTERM so a progress line can be erased first. */
void client_signals_init(void);

/* Connect to path, retrying for up to retry_ms while nobody listens yet. 0, or
 * EXIT_UNREACHABLE after saying why. */
int client_connect(struct client *c, const char *path, int64_t retry_ms, bool progress);
void client_close(struct client *c);

/* A request skeleton with this connection's next id. */
cJSON *client_request(struct client *c, enum proto_cmd cmd);

/* Send req (consumed) and wait for its response, showing `what` ("attaching scx_simple")
 * on a terminal if that takes a while. 0 with *resp filled (ok or not; free resp->root),
 * or EXIT_FAILED after saying why. */
int client_call(struct client *c, cJSON *req, const char *what, struct proto_response *resp);

/* Called per streamed line: 0 goes on, CLIENT_STOP ends the stream with success, anything
 * else ends it with that exit code. */
#define CLIENT_STOP (-1)
typedef int client_line_fn(const cJSON *obj, const char *line, const void *arg);

/* Hand each following line to fn until the daemon closes or we are interrupted (both
 * success) or fn stops. */
int client_stream(struct client *c, client_line_fn *fn, const void *arg);

#endif
