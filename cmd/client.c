/* Talking to schedlifed: connect (with retry), send a request, wait for its line, stream. */
#include "client.h"

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CONNECT_RETRY_MS 50
#define PROGRESS_AFTER_MS 500
#define PROGRESS_EVERY_MS 100
/* Responses carry log excerpts, so they may be far longer than a request may be. */
#define RESPONSE_MAX ((size_t)64 * 1024 * 1024)

static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	interrupted = sig;
}

void
client_signals_init(void)
{
	struct sigaction sa;

	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: poll() has to return so that we can tidy the terminal. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* End as the signal would have ended us, so the shell sees an interrupted command. */
static void die_interrupted(void) __attribute__((noreturn));

static void
die_interrupted(void)
{
	int sig = interrupted;

	fflush(stdout);
	signal(sig, SIG_DFL);
	raise(sig);
	/* raise(3) returns when the signal is blocked or ignored */
	// cppcheck-suppress unreachableCode
	_exit(128 + sig);
}

/* A one-line "attaching scx_simple... 1.2s" on stderr, drawn only after half a second. */
struct progress {
	const char *what;
	bool enabled;
	int64_t start_ms;
	int64_t drawn_ms;
	int width; /* of what is on the screen now */
};

static void
progress_start(struct progress *p, const char *what, bool enabled)
{
	p->what = what;
	p->enabled = enabled && what != NULL;
	p->start_ms = mono_ms();
	p->drawn_ms = 0;
	p->width = 0;
}

/* How long poll() may sleep before the line needs drawing again; -1: forever. */
static int
progress_timeout(const struct progress *p)
{
	int64_t elapsed = mono_ms() - p->start_ms;

	if (!p->enabled)
		return -1;
	return elapsed < PROGRESS_AFTER_MS ? (int)(PROGRESS_AFTER_MS - elapsed) : PROGRESS_EVERY_MS;
}

static void
progress_draw(struct progress *p)
{
	int64_t now = mono_ms(), elapsed = now - p->start_ms;
	int n;

	/* Callers may come more often than the line needs redrawing (connect retries). */
	if (!p->enabled || elapsed < PROGRESS_AFTER_MS || now - p->drawn_ms < PROGRESS_EVERY_MS)
		return;
	p->drawn_ms = now;
	n = fprintf(stderr, "\r%s... %.1fs", p->what, (double)elapsed / 1000.0);
	if (n > 0 && n - 1 > p->width)
		p->width = n - 1;
}

static void
progress_clear(struct progress *p)
{
	if (p->width > 0)
		fprintf(stderr, "\r%*s\r", p->width, "");
	p->width = 0;
}

static int
unreachable(const char *path, int error)
{
	if (error == EAGAIN)
		warnx("cannot reach schedlifed at %s: its queue of new connections is full "
		      "(the daemon is not accepting)",
		      path);
	else
		warnx("cannot reach schedlifed at %s: %s", path, strerror(error));
	return EXIT_UNREACHABLE;
}

int
client_connect(struct client *c, const char *path, int64_t retry_ms, bool progress)
{
	struct sockaddr_un sa;
	struct progress p;
	char what[sizeof(sa.sun_path) + 32];
	int64_t start = mono_ms();

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->progress = progress;
	linebuf_init(&c->in, RESPONSE_MAX);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return unreachable(path, ENAMETOOLONG);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	snprintf(what, sizeof(what), "waiting for schedlifed at %s", path);
	progress_start(&p, what, progress);

	for (;;) {
		/* Non-blocking: a daemon that stopped accepting (its listen queue full) gives
		 * EAGAIN at once, where a blocking connect would wait for ever. */
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), error;
		int64_t left;

		if (fd < 0)
			return unreachable(path, errno);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			progress_clear(&p);
			if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
				close(fd);
				return unreachable(path, errno);
			}
			c->fd = fd;
			return 0;
		}
		error = errno;
		close(fd);
		if (interrupted) {
			progress_clear(&p);
			die_interrupted();
		}
		left = retry_ms - (mono_ms() - start);
		/* Not there yet (boot scripts start us early): try again until the time is up. */
		if ((error != ENOENT && error != ECONNREFUSED && error != EINTR && error != EAGAIN) ||
		    left <= 0) {
			progress_clear(&p);
			return unreachable(path, error);
		}
		progress_draw(&p);
		poll(NULL, 0, left < CONNECT_RETRY_MS ? (int)left : CONNECT_RETRY_MS);
	}
}

void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	linebuf_free(&c->in);
}

cJSON *
client_request(struct client *c, enum proto_cmd cmd)
{
	return proto_request_new(cmd, ++c->last_id);
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR && !interrupted)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

enum read_result { READ_LINE, READ_EOF, READ_ERROR, READ_INTERRUPTED };

/* The next line from the daemon, drawing progress while we wait for it. */
static enum read_result
read_line(struct client *c, struct progress *p, char **out)
{
	for (;;) {
		struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
		size_t len;
		ssize_t got;
		int n;

		*out = linebuf_next(&c->in, &len);
		if (*out != NULL)
			return READ_LINE;
		if (interrupted)
			return READ_INTERRUPTED;
		n = poll(&pfd, 1, progress_timeout(p));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			warn("cannot wait for schedlifed");
			return READ_ERROR;
		}
		if (n == 0) {
			progress_draw(p);
			continue;
		}
		got = linebuf_fill(&c->in, c->fd);
		/* A reset is how a peer that closed with our bytes unread says goodbye. */
		if (got == 0 || (got < 0 && errno == ECONNRESET))
			return READ_EOF;
		if (got == -2) {
			warnx("a line from schedlifed is longer than %zu bytes", RESPONSE_MAX);
			return READ_ERROR;
		}
		if (got < 0 && errno != EINTR) {
			warn("cannot read from schedlifed");
			return READ_ERROR;
		}
	}
}

/* The response must answer our request; a response without an id (the daemon turning a
 * connection away) answers whatever we asked. */
static bool
answers(const struct proto_response *resp, int64_t id)
{
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(resp->root, "id");

	return rid == NULL || cJSON_IsNull(rid) ||
	       (cJSON_IsNumber(rid) && rid->valuedouble == (double)id);
}

int
client_call(struct client *c, cJSON *req, const char *what, struct proto_response *resp)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(req, "id");
	int64_t want = cJSON_IsNumber(id) ? (int64_t)id->valuedouble : 0;
	struct progress p;
	size_t len;
	char *line = req != NULL ? proto_line(req, &len) : NULL;
	int send_error = 0;
	enum read_result r;

	memset(resp, 0, sizeof(*resp));
	cJSON_Delete(req);
	if (line == NULL) {
		warnx("out of memory");
		return EXIT_FAILED;
	}
	if (write_all(c->fd, line, len) < 0)
		send_error = errno;
	free(line);
	/* Even when sending failed, the daemon may have said why before it closed. */
	progress_start(&p, what, c->progress && send_error == 0);
	r = read_line(c, &p, &line);
	progress_clear(&p);
	switch (r) {
	case READ_LINE:
		break;
	case READ_INTERRUPTED:
		die_interrupted();
	case READ_EOF:
		if (send_error != 0 && send_error != EPIPE && send_error != ECONNRESET)
			warnx("cannot send to schedlifed: %s", strerror(send_error));
		else
			warnx("schedlifed closed the connection before answering");
		return EXIT_FAILED;
	case READ_ERROR:
		return EXIT_FAILED;
	}
	if (proto_response_parse(line, resp) < 0 || !answers(resp, want)) {
		cJSON_Delete(resp->root);
		memset(resp, 0, sizeof(*resp));
		warnx("malformed response from schedlifed: %.200s", line);
		return EXIT_FAILED;
	}
	return 0;
}

int
client_stream(struct client *c, client_line_fn *fn, const void *arg)
{
	struct progress none;

	progress_start(&none, NULL, false);
	for (;;) {
		char *line;
		cJSON *obj;
		int rc;

		switch (read_line(c, &none, &line)) {
		case READ_LINE:
			break;
		case READ_EOF:
		case READ_INTERRUPTED:
			/* Following until interrupted or closed is what a stream is for. */
			return 0;
		case READ_ERROR:
			return EXIT_FAILED;
		}
		obj = cJSON_Parse(line);
		if (!cJSON_IsObject(obj)) {
			cJSON_Delete(obj);
			warnx("malformed line from schedlifed: %.200s", line);
			return EXIT_FAILED;
		}
		rc = fn(obj, line, arg);
		cJSON_Delete(obj);
		if (rc != 0)
			return rc == CLIENT_STOP ? 0 : rc;
	}
}
