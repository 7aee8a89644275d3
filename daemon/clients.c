/* The control socket's connections: accept, budgets, buffers, framing, pauses, drops. */
#include "clients.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "logs.h"

static const struct clients_ops *ops;

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
static void client_drop(struct client *c, const char *reason);
static void listen_resume(void);

struct client *
clients_first(void)
{
	return clients;
}

struct client *
client_find(uint64_t id)
{
	for (struct client *c = clients; c != NULL; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

/* The earliest deadline among idle clients and waiters; the timer sleeps without them. */
static void
clients_rearm(void)
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
int
client_flush(struct client *c)
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

/*
 * Queue a line; the loop flushes what the socket does not take now. A client whose
 * output would pass limits.max_output_bytes is dropped instead.
 */
void
client_send(struct client *c, char *line, size_t len)
{
	if (line == NULL || c->dead) {
		free(line);
		return;
	}
	if (c->outlen + len > (size_t)ops->limits()->max_output_bytes && !c->closing) {
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
	client_flush(c);
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
	clients_rearm();
	listen_resume();
	if (nclients == 0)
		timer_arm_ms(&trim_timer, TRIM_DELAY_MS);
}

/* After each batch: free the clients that died in it. */
static void
clients_reap(void)
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
		  (int)c->pid, reason, (long long)ops->limits()->max_output_bytes);
	n = snprintf(bye, sizeof(bye), "\n{\"event\":\"dropped\",\"reason\":\"%s\"}\n", reason);
	c->outlen = 0;
	c->subscriber = false;
	log_follow_stop(c->follow);
	c->follow = NULL;
	c->closing = true;
	c->deadline_ms = mono_ms() + DROP_GRACE_MS;
	clients_rearm();
	client_send(c, strndup(bye, (size_t)n), (size_t)n);
}

/* A request is done: let the client's next buffered line in. */
void
client_idle(struct client *c)
{
	c->busy = false;
	cJSON_Delete(c->pending_id);
	c->pending_id = NULL;
	if (!c->streaming && c->outlen == 0)
		c->deadline_ms = mono_ms() + CLIENT_LINE_TIMEOUT_MS;
	client_process(c);
	client_settle(c);
	clients_rearm();
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
			ops->wait_timeout(c);
		} else if (c->deadline_ms > 0 && c->deadline_ms <= now) {
			log_debug("closing client pid %d: no complete line in %ds", (int)c->pid,
				  (int)(CLIENT_LINE_TIMEOUT_MS / 1000));
			client_close(c);
		}
	}
	clients_rearm();
}

/* A line past PROTO_MAX_LINE: say so, and close once that is sent. */
static void
close_too_large(struct client *c)
{
	size_t len;
	char *line = proto_response_error(NULL, E_TOO_LARGE, "request line longer than 64 KiB",
					  NULL, &len);

	client_send(c, line, len);
	if (c->dead)
		return;
	c->closing = true;
	client_flush(c);
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
		ops->request(c, line, len);
		if (client_find(id) != c)
			return;
		if (!c->busy && !c->streaming)
			c->deadline_ms = mono_ms() + CLIENT_LINE_TIMEOUT_MS;
	}
	if (client_find(id) == c && linebuf_pending(&c->in) > PROTO_MAX_LINE)
		close_too_large(c);
}

/* Read what the client sent, answer it; at its end of file, finish and close. */
static void
client_read(struct client *c)
{
	ssize_t n = linebuf_fill(&c->in, c->w.fd);

	if (n == -2) {
		close_too_large(c);
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

	if ((events & EPOLLOUT) && client_flush(c) < 0)
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
	clients_rearm();
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
	const struct limits *l = ops->limits();
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
	    !ops->may_control(cred->uid, cred->gid))
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
		c->deadline_ms = mono_ms() + CLIENT_LINE_TIMEOUT_MS;
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
	clients_rearm();
}

int
clients_listen(const char *path, const struct clients_ops *o)
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
	ops = o;
	listen_w.fd = fd;
	listen_w.fn = accept_ready;
	reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	loop_after_events(clients_reap);
	if (loop_add(&listen_w, EPOLLIN) < 0 || timer_init(&deadline_timer, deadline_fired, NULL) < 0 ||
	    timer_init(&trim_timer, trim_fired, NULL) < 0) {
		close(fd);
		return -1;
	}
	return 0;
}

void
clients_close(void)
{
	for (struct client *c = clients; c != NULL; c = c->next) {
		/* Last words to subscribers are already queued; try once more. */
		if (client_flush(c) == 0)
			client_close(c);
	}
	clients_reap();
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
