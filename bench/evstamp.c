/* evstamp: timestamps event lines the moment they arrive.
 *
 *   evstamp --stdin [--out F]
 *       Reads lines on stdin (e.g. from `schedctl events --json`) and writes
 *       "NS LINE" for each, NS being CLOCK_REALTIME nanoseconds at read time.
 *   evstamp --socket PATH [--out F]
 *       Connects to a schedlife socket, sends {"id":1,"cmd":"subscribe"} and
 *       stamps every line that comes back (the response, then the events).
 *   evstamp --supervisor-listener --out F
 *       Runs as a supervisord [eventlistener]: speaks the READY / RESULT
 *       protocol on stdin/stdout and writes "NS HEADER | PAYLOAD" per event.
 *
 * Output is written with write(2) per line, so nothing waits in a buffer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static char buf[1 << 20];
static size_t have;

/* Read more input into buf; returns bytes read, 0 on EOF, -1 on error. */
static ssize_t fill(int fd)
{
	ssize_t n;
	if (have == sizeof buf)
		have = 0; /* a line longer than 1 MiB: drop it */
	do
		n = read(fd, buf + have, sizeof buf - have);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		have += (size_t)n;
	return n;
}

static int stamp_lines(int in, int out)
{
	for (;;) {
		char *nl;
		ssize_t n = fill(in);
		uint64_t t = now_ns();
		if (n <= 0)
			return n == 0 ? 0 : 1;
		while ((nl = memchr(buf, '\n', have)) != NULL) {
			char pre[32];
			size_t len = (size_t)(nl - buf) + 1;
			int m = snprintf(pre, sizeof pre, "%llu ", (unsigned long long)t);
			if (write_all(out, pre, (size_t)m) || write_all(out, buf, len))
				return 1;
			memmove(buf, buf + len, have - len);
			have -= len;
		}
	}
}

static int listener(int out)
{
	for (;;) {
		char *nl, pre[32], *lenp;
		size_t hlen, plen;
		uint64_t t;
		int m;

		if (write_all(1, "READY\n", 6))
			return 1;
		while ((nl = memchr(buf, '\n', have)) == NULL)
			if (fill(0) <= 0)
				return 0;
		t = now_ns();
		hlen = (size_t)(nl - buf);
		*nl = 0;
		lenp = strstr(buf, "len:");
		plen = lenp ? (size_t)strtoul(lenp + 4, NULL, 10) : 0;
		while (have < hlen + 1 + plen)
			if (fill(0) <= 0)
				return 0;
		m = snprintf(pre, sizeof pre, "%llu ", (unsigned long long)t);
		if (write_all(out, pre, (size_t)m) || write_all(out, buf, hlen) ||
		    write_all(out, " | ", 3) || write_all(out, buf + hlen + 1, plen) ||
		    write_all(out, "\n", 1))
			return 1;
		memmove(buf, buf + hlen + 1 + plen, have - hlen - 1 - plen);
		have -= hlen + 1 + plen;
		if (write_all(1, "RESULT 2\nOK", 11))
			return 1;
	}
}

int main(int argc, char **argv)
{
	const char *sock = NULL, *outp = NULL;
	int mode = 0, out = 1, i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--stdin"))
			mode = 1;
		else if (!strcmp(argv[i], "--supervisor-listener"))
			mode = 3;
		else if (!strcmp(argv[i], "--socket") && i + 1 < argc) {
			mode = 2;
			sock = argv[++i];
		} else if (!strcmp(argv[i], "--out") && i + 1 < argc)
			outp = argv[++i];
		else
			mode = -1;
	}
	if (mode <= 0 || (mode == 3 && !outp)) {
		fprintf(stderr, "usage: evstamp --stdin | --socket PATH | --supervisor-listener  [--out F]\n");
		return 2;
	}
	if (outp) {
		out = open(outp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (out < 0) {
			perror(outp);
			return 1;
		}
	}
	if (mode == 1)
		return stamp_lines(0, out);
	if (mode == 3)
		return listener(out);

	{
		struct sockaddr_un a;
		static const char req[] = "{\"id\":1,\"cmd\":\"subscribe\"}\n";
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		memset(&a, 0, sizeof a);
		a.sun_family = AF_UNIX;
		if (strlen(sock) >= sizeof a.sun_path) {
			fprintf(stderr, "evstamp: socket path too long\n");
			return 2;
		}
		memcpy(a.sun_path, sock, strlen(sock) + 1);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
			perror(sock);
			return 1;
		}
		if (write_all(fd, req, sizeof req - 1))
			return 1;
		return stamp_lines(fd, out);
	}
}
