/* The control requests: parse, check, dispatch, answer; events to subscribers. */
#include "control.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authz.h"
#include "clients.h"
#include "log.h"
#include "logs.h"
#include "registry.h"

/* What the daemon lends this room (control_listen). */
static struct control_env E;

static int follow_line(void *ctx, const char *line);

static void
send_ok(struct client *c, const cJSON *id, cJSON *result)
{
	size_t len;
	char *line = proto_response_ok(id, result, &len);

	client_send(c, line, len);
}

/*
 * A status result is the same for every client in one turn of the loop: its text is
 * built once and kept until something changes or the turn ends.
 */
static char *status_text;

void
control_forget_status(void)
{
	free(status_text);
	status_text = NULL;
}

static void
send_status(struct client *c, const cJSON *id)
{
	size_t len;
	char *line;
	cJSON *st;

	if (status_text == NULL) {
		st = lc_status(E.lc);
		status_text = cJSON_PrintUnformatted(st);
		cJSON_Delete(st);
		if (status_text == NULL)
			return;
	}
	line = proto_response_ok_text(id, status_text, &len);
	client_send(c, line, len);
}

static void
send_err(struct client *c, const cJSON *id, enum proto_err code, const char *msg, cJSON *extra)
{
	size_t len;
	char *line = proto_response_error(id, code, msg, extra, &len);

	client_send(c, line, len);
}

void
control_reply(uint64_t token, enum proto_err err, const char *msg, cJSON *payload)
{
	struct client *c = client_find(token);

	if (token == CONTROL_TOKEN_SHUTDOWN) {
		cJSON_Delete(payload);
		if (E.shutting_down() && E.lc->qlen == 0)
			loop_stop();
		return;
	}
	if (c == NULL) {
		cJSON_Delete(payload); /* the client went away; its request still ran */
		return;
	}
	if (err == E_OK)
		send_ok(c, c->pending_id, payload);
	else
		send_err(c, c->pending_id, err, msg, payload);
	if (client_find(token) == c)
		client_idle(c);
}

void
control_broadcast(const cJSON *event)
{
	size_t len;
	char *line = proto_line(event, &len);
	struct client *c, *next;

	if (line == NULL)
		return;
	for (c = clients_first(); c != NULL; c = next) {
		next = c->next;
		if (!c->dead && c->subscriber)
			client_send(c, strdup(line), len);
	}
	free(line);
}

static bool
wait_holds(const struct client *c)
{
	return c->wait_attached ? E.lc->state == SLOT_ATTACHED : E.lc->state == SLOT_DETACHED;
}

void
control_state_changed(void)
{
	struct client *c, *next;

	control_forget_status();
	for (c = clients_first(); c != NULL; c = next) {
		next = c->next;
		if (!c->dead && c->waiting && wait_holds(c)) {
			c->waiting = false;
			send_ok(c, c->pending_id, lc_status(E.lc));
			if (client_find(c->id) == c)
				client_idle(c);
		}
	}
}

/* A waiter's time is up: it gets the state as it is. */
static void
wait_timeout(struct client *c)
{
	c->waiting = false;
	send_err(c, c->pending_id, E_TIMEOUT, "timed out waiting for the state", lc_status(E.lc));
	if (client_find(c->id) == c)
		client_idle(c);
}

/* ---- the requests ---- */

static void
do_lifecycle(struct client *c, struct proto_request *rq)
{
	struct lc_request lr = {0};
	enum proto_err e;

	if (!authz_may_control(E.cfg, c->uid, c->gid)) {
		log_info("%s refused for uid %d pid %d: permission denied", proto_cmds[rq->cmd].name,
			 (int)c->uid, (int)c->pid);
		send_err(c, rq->id, E_PERMISSION_DENIED, "permission denied: lifecycle requests need root, a uid in control.users or membership of control.group", NULL);
		return;
	}
	if (E.shutting_down()) {
		send_err(c, rq->id, E_BUSY, "schedlifed is shutting down", NULL);
		return;
	}
	lr.cmd = rq->cmd;
	lr.token = c->id;
	lr.uid = c->uid;
	lr.caller = c->pid;
	lr.name = rq->name != NULL ? strdup(rq->name) : NULL;
	lr.mode = rq->mode != NULL ? strdup(rq->mode) : NULL;
	lr.args = rq->args != NULL ? strv_from_json(rq->args) : NULL;
	lr.wait = rq->wait;
	lr.rollback = rq->rollback;
	lr.grace_ms = rq->grace_ms;
	lr.signal = rq->signal;
	log_info("%s%s%s requested by uid %d pid %d", proto_cmds[rq->cmd].name, rq->name ? " " : "",
		 rq->name ? rq->name : "", (int)c->uid, (int)c->pid);
	c->busy = true;
	c->pending_id = rq->id != NULL ? cJSON_Duplicate(rq->id, true) : NULL;
	e = lc_submit(E.lc, &lr);
	if (e != E_OK) {
		lc_request_free(&lr);
		send_err(c, rq->id, e, "too many lifecycle requests queued", NULL);
		c->busy = false;
		cJSON_Delete(c->pending_id);
		c->pending_id = NULL;
	}
}

static void
do_logs(struct client *c, struct proto_request *rq)
{
	char path[PATH_MAX], err[256];
	int64_t seq;
	cJSON *r, *lines;
	int follows = 0;

	/* The logs are root's 0640 files: those who may control may read them, no one else. */
	if (!authz_may_control(E.cfg, c->uid, c->gid)) {
		log_info("logs refused for uid %d pid %d: permission denied", (int)c->uid,
			 (int)c->pid);
		send_err(c, rq->id, E_PERMISSION_DENIED,
			 "permission denied: logs need root, a uid in control.users or membership "
			 "of control.group",
			 NULL);
		return;
	}
	if (rq->follow && c->uid != 0) {
		for (const struct client *o = clients_first(); o != NULL; o = o->next)
			follows += !o->dead && o->follow != NULL && o->uid == c->uid;
		if (follows >= E.cfg->limits.max_follows_per_user) {
			snprintf(err, sizeof(err), "too many log follows for uid %d (limits.max_follows_per_user)",
				 (int)c->uid);
			log_info("logs --follow refused for uid %d pid %d: %s", (int)c->uid, (int)c->pid, err);
			send_err(c, rq->id, E_BUSY, err, NULL);
			return;
		}
	}
	if (E.log_path(rq->seq, path, sizeof(path), &seq) < 0) {
		if (rq->seq > 0)
			snprintf(err, sizeof(err), "no log for seq %lld", (long long)rq->seq);
		else
			snprintf(err, sizeof(err), "no scheduler has been started yet");
		send_err(c, rq->id, E_BAD_REQUEST, err, NULL);
		return;
	}
	lines = log_tail(path, rq->lines >= 0 ? (int)rq->lines : 20, NULL);
	if (lines == NULL) {
		/* a symlink, another's file: log_open_safe refused it */
		snprintf(err, sizeof(err), "cannot read log %.150s: %s", path, strerror(errno));
		send_err(c, rq->id, E_BAD_REQUEST, err, NULL);
		return;
	}
	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "path", path);
	cJSON_AddNumberToObject(r, "seq", (double)seq);
	cJSON_AddItemToObject(r, "lines", lines);
	send_ok(c, rq->id, r);
	if (rq->follow && client_find(c->id) == c) {
		c->follow = log_follow_start(path, follow_line, c);
		if (c->follow == NULL) {
			c->closing = true;
			client_flush(c);
			return;
		}
		c->streaming = true;
		c->deadline_ms = 0;
	}
}

/* A new line of the client's followed log (logs.c): 0, or -1 when the follow is over. */
static int
follow_line(void *ctx, const char *line)
{
	struct client *c = ctx;
	cJSON *e;
	size_t len;

	if (c->dead || c->follow == NULL)
		return -1;
	e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "event", "log");
	cJSON_AddStringToObject(e, "line", line);
	char *s = proto_line(e, &len);
	cJSON_Delete(e);
	client_send(c, s, len);
	/* Dropped or closed: log_follow_stop has freed the follow already. */
	return c->dead || c->follow == NULL ? -1 : 0;
}

static void
handle_request(struct client *c, const char *line, size_t len)
{
	struct proto_request rq;
	char err[256];
	enum proto_err e;
	cJSON *r;

	e = proto_request_parse(line, len, &rq, err, sizeof(err));
	if (e != E_OK) {
		send_err(c, rq.id, e, err, NULL);
		proto_request_free(&rq);
		return;
	}
	switch (rq.cmd) {
	case CMD_HELLO:
		r = cJSON_CreateObject();
		cJSON_AddNumberToObject(r, "protocol", PROTO_VERSION);
		cJSON_AddStringToObject(r, "version", SCHEDLIFE_VERSION);
		send_ok(c, rq.id, r);
		break;
	case CMD_STATUS:
		send_status(c, rq.id);
		break;
	case CMD_LIST:
		send_ok(c, rq.id, registry_list(E.cfg));
		break;
	case CMD_ATTACH:
	case CMD_DETACH:
	case CMD_KILL:
	case CMD_REPLACE:
	case CMD_RESTART:
		do_lifecycle(c, &rq);
		break;
	case CMD_LOGS:
		do_logs(c, &rq);
		break;
	case CMD_SUBSCRIBE:
		send_ok(c, rq.id, cJSON_CreateObject());
		c->subscriber = true;
		c->streaming = true;
		c->deadline_ms = 0;
		break;
	case CMD_WAIT:
		c->wait_attached = strcmp(rq.state, "attached") == 0;
		if (wait_holds(c)) {
			send_ok(c, rq.id, lc_status(E.lc));
			break;
		}
		c->waiting = true;
		c->busy = true;
		c->pending_id = rq.id != NULL ? cJSON_Duplicate(rq.id, true) : NULL;
		c->wait_deadline_ms = rq.timeout_ms >= 0 ? mono_ms() + rq.timeout_ms : 0;
		if (rq.timeout_ms == 0)
			c->wait_deadline_ms = mono_ms();
		break;
	case CMD_COUNT:
		break;
	}
	proto_request_free(&rq);
}

static bool
may_control(uid_t uid, gid_t gid)
{
	return authz_may_control(E.cfg, uid, gid);
}

static const struct limits *
limits(void)
{
	return &E.cfg->limits;
}

static const struct clients_ops control_ops = {
	.request = handle_request,
	.wait_timeout = wait_timeout,
	.may_control = may_control,
	.limits = limits,
};

int
control_listen(const char *path, const struct control_env *env)
{
	E = *env;
	return clients_listen(path, &control_ops);
}

void
control_close(void)
{
	clients_close();
}
