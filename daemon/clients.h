/* The control socket's connections: accept, budgets, buffers, framing, pauses, drops. */
#ifndef SCHEDLIFE_CLIENTS_H
#define SCHEDLIFE_CLIENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "loop.h"
#include "proto.h"

/* An idle client with no complete request line is closed after this. */
#define CLIENT_LINE_TIMEOUT_MS ((int64_t)10000)

struct client {
	struct watch w;
	uint64_t id;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	struct linebuf in;
	char *out;
	size_t outlen, outcap;
	bool dead;	 /* closed during this batch: skipped by all, freed after it */
	bool eof;	 /* the peer shut down its writing: answer what it sent, then close */
	bool closing;	 /* close once the output is flushed */
	bool busy;	 /* a request of this client is in progress: hold its next lines */
	bool streaming;	 /* subscribe or logs --follow: events go out, input is ignored */
	bool subscriber;
	int64_t deadline_ms; /* when an idle client with no complete line is closed */
	uint32_t events;     /* what epoll watches for it now */
	cJSON *pending_id;
	/* wait */
	bool waiting;
	bool wait_attached;
	int64_t wait_deadline_ms;
	/* logs --follow */
	struct log_follow *follow;
	struct client *next;
};

/* What the connections need from the room that answers them (control.c). */
struct clients_ops {
	/* One request line of c; c may be closed by it (dead), never freed. */
	void (*request)(struct client *c, const char *line, size_t len);
	/* c's wait_deadline_ms passed while it was waiting. */
	void (*wait_timeout)(struct client *c);
	/* May uid/gid control: the last connections are kept for those who may. */
	bool (*may_control)(uid_t uid, gid_t gid);
	/* The limits of the config now in force. */
	const struct limits *(*limits)(void);
};

int clients_listen(const char *path, const struct clients_ops *ops);
/* Flush what can be flushed, close every client and the listener. */
void clients_close(void);
/* Live and dead clients, newest first: skip the dead. */
struct client *clients_first(void);
/* The live client of an id, or NULL. */
struct client *client_find(uint64_t id);
/* Queue a line (consumed); a client that falls too far behind is dropped. */
void client_send(struct client *c, char *line, size_t len);
/* Send what the socket takes; -1 when that closed the client. */
int client_flush(struct client *c);
/* A request of c is done: its next buffered line is read. */
void client_idle(struct client *c);

#endif
