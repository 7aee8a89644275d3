/* loadgen: closed-loop request load on a Unix socket, one thread, epoll.
 *
 *   loadgen --socket PATH [--conns N] [--duration SEC | --count N]
 *           [--warmup-ms N] [--proto jsonl|xmlrpc] [--xmlrpc-name NAME]
 *
 * Opens N connections.  Each keeps exactly one request in flight: it sends a
 * request, waits for the whole response, records the latency and sends the
 * next one.  --proto jsonl (default) sends schedlife's
 *     {"id":K,"cmd":"status"}\n
 * and a response is one line, which must carry the same id and "ok":true.
 * --proto xmlrpc sends supervisord's XML-RPC supervisor.getProcessInfo(NAME)
 * as HTTP/1.1 POST /RPC2 (for a peer comparison); a response is complete at
 * Content-Length, and a fault counts as an error.
 *
 * The run lasts --duration seconds (default 3) or until --count responses.
 * Responses during the first --warmup-ms are not counted.  Prints one JSON
 * line: requests, errors, reconnects, seconds, rps, p50/p90/p99/max latency
 * in microseconds.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RBUF ((size_t)128 * 1024)
#define MAXCONN 4096

enum { P_JSONL, P_XMLRPC };

struct conn {
	int fd;
	int want_out;
	uint64_t id;
	uint64_t t_sent;
	size_t woff, wlen;
	size_t rlen;
	char wbuf[1024];
	char rbuf[RBUF];
};

static int proto = P_JSONL;
static const char *sock_path;
static const char *xname = "bench_idle";
static int ep;
static uint64_t next_id = 1;
static uint64_t *lat;
static size_t nlat, caplat;
static uint64_t n_err, n_reconn, n_done_total;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int open_conn(void)
{
	struct sockaddr_un a;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	if (strlen(sock_path) >= sizeof a.sun_path) {
		fprintf(stderr, "loadgen: socket path too long\n");
		exit(2);
	}
	memcpy(a.sun_path, sock_path, strlen(sock_path) + 1);
	/* blocking connect (immediate for AF_UNIX), then non-blocking I/O */
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0)
		die(sock_path);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl");
	return fd;
}

static void set_events(struct conn *c, int want_out)
{
	struct epoll_event ev;
	ev.events = EPOLLIN | (want_out ? EPOLLOUT : 0u);
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
		die("epoll_ctl");
	c->want_out = want_out;
}

static void add_conn(struct conn *c)
{
	struct epoll_event ev;
	c->fd = open_conn();
	c->rlen = 0;
	c->want_out = 0;
	ev.events = EPOLLIN;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		die("epoll_ctl");
}

static void reconnect(struct conn *c)
{
	close(c->fd); /* also removes it from the epoll set */
	n_reconn++;
	add_conn(c);
}

static void flush_out(struct conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t w = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!c->want_out)
					set_events(c, 1);
				return;
			}
			if (errno == EINTR)
				continue;
			n_err++;
			reconnect(c);
			return;
		}
		c->woff += (size_t)w;
	}
	if (c->want_out)
		set_events(c, 0);
}

static void send_req(struct conn *c)
{
	int n;
	c->id = next_id++;
	if (proto == P_JSONL) {
		n = snprintf(c->wbuf, sizeof c->wbuf, "{\"id\":%llu,\"cmd\":\"status\"}\n",
			     (unsigned long long)c->id);
	} else {
		char body[512];
		int b = snprintf(body, sizeof body,
				 "<?xml version=\"1.0\"?><methodCall><methodName>supervisor.getProcessInfo"
				 "</methodName><params><param><value><string>%s</string></value></param>"
				 "</params></methodCall>",
				 xname);
		n = snprintf(c->wbuf, sizeof c->wbuf,
			     "POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
			     "Content-Length: %d\r\n\r\n%s",
			     b, body);
	}
	c->wlen = (size_t)n;
	c->woff = 0;
	c->t_sent = now_ns();
	flush_out(c);
}

static void record(uint64_t ns)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 65536;
		lat = realloc(lat, caplat * sizeof *lat);
		if (!lat)
			die("realloc");
	}
	lat[nlat++] = ns;
}

/* length of the first complete response in c->rbuf, 0 if incomplete;
 * *ok tells whether it was a success; *close_after if the server closes */
static size_t complete(struct conn *c, int *ok, int *close_after)
{
	*close_after = 0;
	if (proto == P_JSONL) {
		char *nl = memchr(c->rbuf, '\n', c->rlen);
		char *p;
		size_t len;
		if (!nl)
			return 0;
		len = (size_t)(nl - c->rbuf) + 1;
		*nl = 0;
		*ok = (strstr(c->rbuf, "\"ok\":true") || strstr(c->rbuf, "\"ok\": true"));
		p = strstr(c->rbuf, "\"id\"");
		if (p) {
			p += 4;
			while (*p == ' ' || *p == ':')
				p++;
			if (strtoull(p, NULL, 10) != c->id)
				*ok = 0;
		} else {
			*ok = 0;
		}
		return len;
	} else {
		char *end, *cl;
		size_t hlen, blen = 0;
		if (c->rlen >= RBUF)
			return 0;
		c->rbuf[c->rlen] = 0;
		end = strstr(c->rbuf, "\r\n\r\n");
		if (!end)
			return 0;
		hlen = (size_t)(end - c->rbuf) + 4;
		*end = 0;
		cl = strcasestr(c->rbuf, "\r\ncontent-length:");
		if (cl)
			blen = strtoul(cl + 17, NULL, 10);
		if (strcasestr(c->rbuf, "\r\nconnection: close"))
			*close_after = 1;
		*end = '\r';
		if (c->rlen < hlen + blen)
			return 0;
		*ok = !strncmp(c->rbuf, "HTTP/1.1 200", 12) || !strncmp(c->rbuf, "HTTP/1.0 200", 12);
		c->rbuf[hlen + blen - 1] = 0;
		if (strstr(c->rbuf + hlen, "<fault>"))
			*ok = 0;
		return hlen + blen;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(double p)
{
	size_t i;
	if (!nlat)
		return 0;
	i = (size_t)ceil(p * (double)nlat);
	if (i < 1)
		i = 1;
	if (i > nlat)
		i = nlat;
	return (double)lat[i - 1] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr, "usage: loadgen --socket PATH [--conns N] [--duration SEC | --count N]\n"
			"               [--warmup-ms N] [--proto jsonl|xmlrpc] [--xmlrpc-name NAME]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long conns = 1, count = 0, warmup_ms = 0;
	double duration = 3.0;
	struct conn *cs;
	struct epoll_event evs[256];
	uint64_t t0, t_measure, t_end = 0, drain_until = 0, counted = 0;
	int stopping = 0, i;
	long inflight;

	for (i = 1; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--socket"))
			sock_path = argv[++i];
		else if (!strcmp(argv[i], "--conns"))
			conns = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--duration"))
			duration = strtod(argv[++i], NULL);
		else if (!strcmp(argv[i], "--count"))
			count = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--warmup-ms"))
			warmup_ms = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--xmlrpc-name"))
			xname = argv[++i];
		else if (!strcmp(argv[i], "--proto")) {
			i++;
			if (!strcmp(argv[i], "jsonl"))
				proto = P_JSONL;
			else if (!strcmp(argv[i], "xmlrpc"))
				proto = P_XMLRPC;
			else
				usage();
		} else
			usage();
	}
	if (!sock_path || conns < 1 || conns > MAXCONN || duration <= 0 || strlen(xname) > 200)
		usage();

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		die("epoll_create1");
	cs = calloc((size_t)conns, sizeof *cs);
	if (!cs)
		die("calloc");
	for (i = 0; i < conns; i++)
		add_conn(&cs[i]);

	t0 = now_ns();
	t_measure = t0 + (uint64_t)warmup_ms * 1000000ull;
	for (i = 0; i < conns; i++)
		send_req(&cs[i]);
	inflight = conns;

	while (inflight > 0) {
		uint64_t t = now_ns();
		int timeout, n, k;
		if (!stopping) {
			uint64_t stop_at = t_measure + (uint64_t)(duration * 1e9);
			if (count == 0 && t >= stop_at) {
				stopping = 1;
				t_end = stop_at;
			}
		}
		if (stopping && !drain_until)
			drain_until = t + 2000000000ull;
		if (stopping && t >= drain_until)
			break;
		if (stopping)
			timeout = (int)((drain_until - t) / 1000000ull) + 1;
		else if (count == 0)
			timeout = (int)((t_measure + (uint64_t)(duration * 1e9) - t) / 1000000ull) + 1;
		else
			timeout = 1000;
		n = epoll_wait(ep, evs, 256, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (k = 0; k < n; k++) {
			struct conn *c = evs[k].data.ptr;
			if (evs[k].events & EPOLLOUT)
				flush_out(c);
			if (!(evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			for (;;) {
				ssize_t r;
				size_t len;
				int ok = 0, close_after = 0;
				if (c->rlen >= RBUF) {
					/* response too large for us: count and start over */
					n_err++;
					reconnect(c);
					send_req(c);
					break;
				}
				r = recv(c->fd, c->rbuf + c->rlen, RBUF - c->rlen, 0);
				if (r < 0) {
					if (errno == EINTR)
						continue;
					if (errno == EAGAIN || errno == EWOULDBLOCK)
						break;
					r = 0;
				}
				if (r == 0) {
					/* closed by the server before a full response */
					n_err++;
					reconnect(c);
					if (stopping) {
						inflight--;
						break;
					}
					send_req(c);
					break;
				}
				c->rlen += (size_t)r;
				len = complete(c, &ok, &close_after);
				if (!len)
					continue;
				{
					uint64_t tr = now_ns();
					n_done_total++;
					if (!ok)
						n_err++;
					if (c->t_sent >= t_measure && (!t_end || tr <= t_end)) {
						record(tr - c->t_sent);
						counted++;
					}
					if (count && counted >= (uint64_t)count && !stopping) {
						stopping = 1;
						t_end = tr;
					}
				}
				memmove(c->rbuf, c->rbuf + len, c->rlen - len);
				c->rlen -= len;
				if (close_after)
					reconnect(c);
				if (stopping) {
					inflight--;
					break;
				}
				send_req(c);
				break;
			}
		}
	}
	if (!t_end)
		t_end = now_ns();

	qsort(lat, nlat, sizeof *lat, cmp_u64);
	{
		double secs = (double)(t_end - t_measure) / 1e9;
		printf("{\"proto\":\"%s\",\"conns\":%ld,\"requests\":%llu,\"errors\":%llu,"
		       "\"reconnects\":%llu,\"seconds\":%.3f,\"rps\":%.0f,\"p50_us\":%.1f,"
		       "\"p90_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f}\n",
		       proto == P_JSONL ? "jsonl" : "xmlrpc", conns, (unsigned long long)counted,
		       (unsigned long long)n_err, (unsigned long long)n_reconn, secs,
		       secs > 0 ? (double)counted / secs : 0.0, pct(0.50), pct(0.90), pct(0.99),
		       nlat ? (double)lat[nlat - 1] / 1000.0 : 0.0);
	}
	return n_err && !counted ? 1 : 0;
}
