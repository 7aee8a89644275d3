/* The control socket: accept, read lines, answer requests, stream events. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "logs.h"

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

static struct watch listen_w = {.fd = -1};
/* Live and dead clients; nclients counts the live ones. */
static struct client *clients;
static int nclients;
/* Kept open to accept (and refuse) one connection when the daemon is out of fds. */
static int reserve_fd = -1;
static int64_t listen_resume_ms; /* the listener is paused until then; 0: not paused */
static uint64_t next_client_id = 1;
static struct timer deadline_timer;
static int64_t deadline_armed; /* when the timer fires; 0: disarmed */
/* A second after the last client leaves, give the heap back: once, not periodically. */
#define TRIM_DELAY_MS 1000
static struct timer trim_timer;

/*
 * Reading pauses while this much output waits: a client that sends requests and reads
 * no answers gets no more answered, and its output stays under the drop limit.
 */
#define OUTPUT_PAUSE ((size_t)64 * 1024)

static void client_close(struct client *c);
static void client_process(struct client *c);
static void listen_resume(void);
static int follow_line(void *ctx, const char *line);

static struct client *
client_find(uint64_t id)
{
	for (struct client *c = clients; c != NULL; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

/* The earliest deadline among idle clients and waiters; the timer sleeps without them. */
static void
deadline_rearm(void)
{
	int64_t first = listen_resume_ms > 0 ? listen_resume_ms : INT64_MAX;

	for (struct client *c = clients; c != NULL; c = c->next) {
		if (c->dead)
			continue;
		if (c->deadline_ms > 0 && c->deadline_ms < first)
			first = c->deadline_ms;
		if (c->waiting && c->wait_deadline_ms > 0 && c->wait_deadline_ms < first)
			first = c->wait_deadline_ms;
	}
	/*
	 * No deadline, no timer: an idle daemon never wakes. Otherwise re-arm only for an
	 * earlier deadline; one that fires early re-arms for the true one.
	 */
	if (first == INT64_MAX) {
		if (deadline_armed != 0)
			timer_disarm(&deadline_timer);
		deadline_armed = 0;
	} else if (deadline_armed == 0 || first < deadline_armed) {
		timer_arm_ms(&deadline_timer, first - mono_ms());
		deadline_armed = first;
	}
}

/*
 * Input is read only while the client may send a request: not while one is in
 * progress, its output is backed up, or after its end of file. Otherwise epoll only
 * reports a full hang-up (EPOLLHUP), never a level-triggered EPOLLIN or EPOLLRDHUP the
 * daemon would not act on.
 */
static void
update_events(struct client *c)
{
	uint32_t ev = 0;

	if (!c->busy && !c->closing && !c->eof && c->outlen < OUTPUT_PAUSE)
		ev |= EPOLLIN | EPOLLRDHUP;
	if (c->outlen > 0)
		ev |= EPOLLOUT;
	if (ev != c->events && loop_mod(&c->w, ev) == 0)
		c->events = ev;
}

/* A complete request line is waiting in the input. */
static bool
has_line(const struct linebuf *lb)
{
	return lb->len > 0 && memchr(lb->data + lb->start, '\n', lb->len) != NULL;
}

/* After any work on a client: close it when it is done, else set what epoll watches. */
static void
client_settle(struct client *c)
{
	if (c->dead)
		return;
	if (c->eof && !c->busy && !c->streaming && !has_line(&c->in))
		c->closing = true;
	if (c->closing && c->outlen == 0) {
		client_close(c);
		return;
	}
	update_events(c);
}

/* Send what the socket takes; -1 when that closed the client (c is then dead). */
static int
flush_out(struct client *c)
{
	if (c->dead)
		return -1;
	while (c->outlen > 0) {
		ssize_t n = send(c->w.fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			client_close(c);
			return -1;
		}
		memmove(c->out, c->out + n, c->outlen - (size_t)n);
		c->outlen -= (size_t)n;
	}
	if (c->outlen == 0 && c->closing) {
		client_close(c);
		return -1;
	}
	update_events(c);
	return 0;
}

static void client_drop(struct client *c, const char *reason);

/*
 * Queue a line; the loop flushes what the socket does not take now. A client whose
 * output would pass limits.max_output_bytes is dropped instead.
 */
static void
client_send(struct client *c, char *line, size_t len)
{
	if (line == NULL || c->dead) {
		free(line);
		return;
	}
	if (c->outlen + len > (size_t)D.cfg.limits.max_output_bytes && !c->closing) {
		free(line);
		client_drop(c, c->subscriber ? "subscriber too slow"
			       : c->follow != NULL ? "log follower too slow"
						   : "client too slow");
		return;
	}
	if (c->outlen + len > c->outcap) {
		size_t cap = c->outcap ? c->outcap : 4096;
		while (cap < c->outlen + len)
			cap *= 2;
		char *p = realloc(c->out, cap);
		if (p == NULL) {
			free(line);
			c->closing = true;
			return;
		}
		c->out = p;
		c->outcap = cap;
	}
	memcpy(c->out + c->outlen, line, len);
	c->outlen += len;
	free(line);
	flush_out(c);
}

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
		st = lc_status(&D.lc);
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

/*
 * Close a client: its fd leaves epoll (which drops its events still pending in this
 * batch) and is closed at once; its memory stays, marked dead, until the batch is over,
 * so that nothing that still holds it in this batch can touch freed memory.
 */
static void
client_close(struct client *c)
{
	if (c->dead)
		return;
	c->dead = true;
	loop_del(&c->w);
	close(c->w.fd);
	c->w.fd = -1;
	log_follow_stop(c->follow);
	c->follow = NULL;
	nclients--;
	deadline_rearm();
	listen_resume();
	if (nclients == 0)
		timer_arm_ms(&trim_timer, TRIM_DELAY_MS);
}

/* After each batch: free the clients that died in it. */
static void
control_reap(void)
{
	struct client **pp = &clients, *c;

	while ((c = *pp) != NULL) {
		if (!c->dead) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		linebuf_free(&c->in);
		free(c->out);
		cJSON_Delete(c->pending_id);
		free(c);
	}
}

static void
trim_fired(struct timer *t)
{
	(void)t;
	if (nclients == 0)
		malloc_trim(0); /* the buffers of a burst of clients */
}

/*
 * A reader too far behind: forget its backlog and queue only the reason (its leading
 * newline ends a line it may have half received). It goes once it reads that, or
 * after DROP_GRACE_MS; either way the daemon holds a few bytes for it, not megabytes.
 */
#define DROP_GRACE_MS 5000
static void
client_drop(struct client *c, const char *reason)
{
	char bye[160];
	int n;

	log_warnx("dropping client (uid %d pid %d): %s, more than %lld bytes behind", (int)c->uid,
		  (int)c->pid, reason, (long long)D.cfg.limits.max_output_bytes);
	n = snprintf(bye, sizeof(bye), "\n{\"event\":\"dropped\",\"reason\":\"%s\"}\n", reason);
	c->outlen = 0;
	c->subscriber = false;
	log_follow_stop(c->follow);
	c->follow = NULL;
	c->closing = true;
	c->deadline_ms = mono_ms() + DROP_GRACE_MS;
	deadline_rearm();
	client_send(c, strndup(bye, (size_t)n), (size_t)n);
}

/* A request is done: let the client's next buffered line in. */
static void
client_idle(struct client *c)
{
	c->busy = false;
	cJSON_Delete(c->pending_id);
	c->pending_id = NULL;
	if (!c->streaming && c->outlen == 0)
		c->deadline_ms = mono_ms() + CONTROL_LINE_TIMEOUT_MS;
	client_process(c);
	client_settle(c);
	deadline_rearm();
}

void
control_reply(uint64_t token, enum proto_err err, const char *msg, cJSON *payload)
{
	struct client *c = client_find(token);

	if (token == CONTROL_TOKEN_SHUTDOWN) {
		cJSON_Delete(payload);
		if (D.shutting_down && D.lc.qlen == 0)
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
	for (c = clients; c != NULL; c = next) {
		next = c->next;
		if (!c->dead && c->subscriber)
			client_send(c, strdup(line), len);
	}
	free(line);
}

static bool
wait_holds(const struct client *c)
{
	return c->wait_attached ? D.lc.state == SLOT_ATTACHED : D.lc.state == SLOT_DETACHED;
}

void
control_state_changed(void)
{
	struct client *c, *next;

	control_forget_status();
	for (c = clients; c != NULL; c = next) {
		next = c->next;
		if (!c->dead && c->waiting && wait_holds(c)) {
			c->waiting = false;
			send_ok(c, c->pending_id, lc_status(&D.lc));
			if (client_find(c->id) == c)
				client_idle(c);
		}
	}
}

static void
deadline_fired(struct timer *t)
{
	int64_t now = mono_ms();
	struct client *c, *next;

	(void)t;
	deadline_armed = 0;
	if (listen_resume_ms > 0 && listen_resume_ms <= now)
		listen_resume();
	for (c = clients; c != NULL; c = next) {
		next = c->next;
		if (c->dead)
			continue;
		if (c->waiting && c->wait_deadline_ms > 0 && c->wait_deadline_ms <= now) {
			c->waiting = false;
			send_err(c, c->pending_id, E_TIMEOUT, "timed out waiting for the state", lc_status(&D.lc));
			if (client_find(c->id) == c)
				client_idle(c);
		} else if (c->deadline_ms > 0 && c->deadline_ms <= now) {
			log_debug("closing client pid %d: no complete line in %ds", (int)c->pid,
				  (int)(CONTROL_LINE_TIMEOUT_MS / 1000));
			client_close(c);
		}
	}
	deadline_rearm();
}

/* ---- the requests ---- */

static void
do_lifecycle(struct client *c, struct proto_request *rq)
{
	struct lc_request lr = {0};
	enum proto_err e;

	if (!config_may_control(&D.cfg, c->uid, c->gid)) {
		log_info("%s refused for uid %d pid %d: permission denied", proto_cmds[rq->cmd].name,
			 (int)c->uid, (int)c->pid);
		send_err(c, rq->id, E_PERMISSION_DENIED, "permission denied: lifecycle requests need root, a uid in control.users or membership of control.group", NULL);
		return;
	}
	if (D.shutting_down) {
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
	e = lc_submit(&D.lc, &lr);
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
	if (!config_may_control(&D.cfg, c->uid, c->gid)) {
		log_info("logs refused for uid %d pid %d: permission denied", (int)c->uid,
			 (int)c->pid);
		send_err(c, rq->id, E_PERMISSION_DENIED,
			 "permission denied: logs need root, a uid in control.users or membership "
			 "of control.group",
			 NULL);
		return;
	}
	if (rq->follow && c->uid != 0) {
		for (struct client *o = clients; o != NULL; o = o->next)
			follows += !o->dead && o->follow != NULL && o->uid == c->uid;
		if (follows >= D.cfg.limits.max_follows_per_user) {
			snprintf(err, sizeof(err), "too many log follows for uid %d (limits.max_follows_per_user)",
				 (int)c->uid);
			log_info("logs --follow refused for uid %d pid %d: %s", (int)c->uid, (int)c->pid, err);
			send_err(c, rq->id, E_BUSY, err, NULL);
			return;
		}
	}
	if (daemon_log_path(rq->seq, path, sizeof(path), &seq) < 0) {
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
			flush_out(c);
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
		send_ok(c, rq.id, config_list(&D.cfg));
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
			send_ok(c, rq.id, lc_status(&D.lc));
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

/* Answer buffered lines until one leaves a request in progress. */
static void
client_process(struct client *c)
{
	uint64_t id = c->id;
	char *line;
	size_t len;

	while (!c->busy && !c->closing && c->outlen < OUTPUT_PAUSE &&
	       (line = linebuf_next(&c->in, &len)) != NULL) {
		if (c->streaming)
			continue; /* a stream takes no more requests */
		c->deadline_ms = 0;
		handle_request(c, line, len);
		if (client_find(id) != c)
			return;
		if (!c->busy && !c->streaming)
			c->deadline_ms = mono_ms() + CONTROL_LINE_TIMEOUT_MS;
	}
	if (client_find(id) == c && linebuf_pending(&c->in) > PROTO_MAX_LINE) {
		send_err(c, NULL, E_TOO_LARGE, "request line longer than 64 KiB", NULL);
		if (client_find(id) == c) {
			c->closing = true;
			flush_out(c);
		}
	}
}

/* Read what the client sent, answer it; at its end of file, finish and close. */
static void
client_read(struct client *c)
{
	ssize_t n = linebuf_fill(&c->in, c->w.fd);

	if (n == -2) {
		send_err(c, NULL, E_TOO_LARGE, "request line longer than 64 KiB", NULL);
		c->closing = true;
		flush_out(c);
		return;
	}
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		client_close(c);
		return;
	}
	if (n == 0)
		c->eof = true;
	client_process(c);
	client_settle(c);
}

static void
client_ready(struct watch *w, uint32_t events)
{
	struct client *c = w->data;

	if ((events & EPOLLOUT) && flush_out(c) < 0)
		return;
	if ((events & (EPOLLHUP | EPOLLERR)) && (c->busy || c->closing || c->eof)) {
		/* Gone for good: nothing it sent is read any more, nothing reaches it. */
		client_close(c);
	} else if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
		if (c->events & EPOLLIN)
			client_read(c);
		else if (events & (EPOLLHUP | EPOLLERR))
			client_close(c);
	} else if (!c->busy && c->outlen < OUTPUT_PAUSE) {
		/* Its output drained: answer the requests it sent meanwhile. */
		client_process(c);
		client_settle(c);
	}
	deadline_rearm();
}

/* Connections refused are logged at most once every 10 s, with how many there were. */
#define REFUSAL_LOG_MS 10000
static void
refuse(int fd, const char *why, uid_t uid)
{
	static int64_t last_log;
	static unsigned refused;
	int64_t now = mono_ms();
	size_t len;
	char *line = proto_response_error(NULL, E_BUSY, why, NULL, &len);

	if (line != NULL)
		(void)!send(fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	free(line);
	close(fd);
	refused++;
	if (last_log == 0 || now - last_log >= REFUSAL_LOG_MS) {
		log_warnx("refused a connection of uid %d: %s (%u refused since the last report)",
			  (int)uid, why, refused);
		last_log = now;
		refused = 0;
	}
}

/*
 * The connection budget: max_connections in all; an uid other than root at most
 * max_connections_per_user; the last reserved_connections only for root and control
 * users, so that control is never locked out. NULL: admitted; else why not.
 */
static const char *
admit(const struct ucred *cred, char *buf, size_t len)
{
	const struct limits *l = &D.cfg.limits;
	int mine = 0;

	if (nclients >= l->max_connections)
		return "too many connections";
	if (cred->uid == 0)
		return NULL;
	for (struct client *c = clients; c != NULL; c = c->next)
		mine += !c->dead && c->uid == cred->uid;
	if (mine >= l->max_connections_per_user) {
		snprintf(buf, len, "too many connections from uid %d (limits.max_connections_per_user)",
			 (int)cred->uid);
		return buf;
	}
	if (nclients >= l->max_connections - l->reserved_connections &&
	    !config_may_control(&D.cfg, cred->uid, cred->gid))
		return "too many connections (the rest are reserved for root and control users)";
	return NULL;
}

/*
 * Out of file descriptors with connections waiting: the listener would stay readable
 * and the loop spin. Give up the reserve fd to accept one and refuse it; when even
 * that fails, stop listening for a second or until a client leaves.
 */
static void
shed_connection(int lfd)
{
	int fd = -1;

	if (reserve_fd >= 0) {
		close(reserve_fd);
		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			refuse(fd, "out of file descriptors", (uid_t)-1);
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0 && listen_resume_ms == 0) {
		log_warn("accept, listener paused for a second");
		listen_resume_ms = mono_ms() + 1000;
		loop_mod(&listen_w, 0);
	}
}

static void
listen_resume(void)
{
	if (listen_resume_ms == 0)
		return;
	if (reserve_fd < 0)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	listen_resume_ms = 0;
	loop_mod(&listen_w, EPOLLIN);
}

static void
accept_ready(struct watch *w, uint32_t events)
{
	struct ucred cred;
	socklen_t clen;
	struct client *c;
	char why[128];
	const char *no;
	int fd;

	(void)events;
	while (listen_resume_ms == 0) {
		fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				shed_connection(w->fd);
			if (errno == EAGAIN || listen_resume_ms != 0)
				break;
			continue;
		}
		clen = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
			close(fd);
			continue;
		}
		if ((no = admit(&cred, why, sizeof(why))) != NULL) {
			refuse(fd, no, cred.uid);
			continue;
		}
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->w.fd = fd;
		c->w.fn = client_ready;
		c->w.data = c;
		c->id = next_client_id++;
		c->uid = cred.uid;
		c->gid = cred.gid;
		c->pid = cred.pid;
		c->deadline_ms = mono_ms() + CONTROL_LINE_TIMEOUT_MS;
		linebuf_init(&c->in, PROTO_MAX_LINE);
		c->events = EPOLLIN | EPOLLRDHUP;
		if (loop_add(&c->w, c->events) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = clients;
		clients = c;
		nclients++;
	}
	deadline_rearm();
}

int
control_listen(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, probe;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	/* A socket that answers belongs to a live daemon; one that does not is stale. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
		close(probe);
		errno = EADDRINUSE;
		return -1;
	}
	if (probe >= 0)
		close(probe);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	old = umask(0111);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	chmod(path, 0666);
	if (listen(fd, 128) < 0) {
		close(fd);
		return -1;
	}
	listen_w.fd = fd;
	listen_w.fn = accept_ready;
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	loop_after_events(control_reap);
	if (loop_add(&listen_w, EPOLLIN) < 0 || timer_init(&deadline_timer, deadline_fired, NULL) < 0 ||
	    timer_init(&trim_timer, trim_fired, NULL) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

void
control_close(void)
{
	for (struct client *c = clients; c != NULL; c = c->next) {
		/* Last words to subscribers are already queued; try once more. */
		if (flush_out(c) == 0)
			client_close(c);
	}
	control_reap();
	if (reserve_fd >= 0)
		close(reserve_fd);
	reserve_fd = -1;
	if (listen_w.fd >= 0) {
		loop_del(&listen_w);
		close(listen_w.fd);
		listen_w.fd = -1;
	}
	timer_close(&deadline_timer);
	timer_close(&trim_timer);
}
