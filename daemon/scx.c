/* Reading the sched_ext root, and hearing the kernel's uevents about it. */
#include "scx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

/* One line of a small file, without its newline; "" when missing. */
static void
read_line(const char *root, const char *name, char *buf, size_t len)
{
	char path[4096];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", root, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

void
scx_read(const char *root, struct kernel_view *kv)
{
	char seq[32];
	struct stat st;

	memset(kv, 0, sizeof(*kv));
	kv->available = stat(root, &st) == 0 && S_ISDIR(st.st_mode);
	if (!kv->available)
		return;
	/* state before enable_seq: an enable bumps the count before it says enabled. */
	read_line(root, "state", kv->state, sizeof(kv->state));
	read_line(root, "root/ops", kv->ops, sizeof(kv->ops));
	read_line(root, "enable_seq", seq, sizeof(seq));
	kv->enable_seq = strtoll(seq, NULL, 10);
}

/* Enough for a burst of uevents at boot or a hotplug storm; more is ENOBUFS: re-read. */
#define UEVENT_RCVBUF (256 * 1024)

static bool
fake_uevent_live(const struct sockaddr_un *un)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true;
	live = connect(fd, (const struct sockaddr *)un, sizeof(*un)) == 0 || errno != ECONNREFUSED;
	close(fd);
	if (live)
		errno = EADDRINUSE;
	return live;
}

int
scx_uevent_open(const char *root)
{
	int fd, size = UEVENT_RCVBUF;

	if (strcmp(root, SCX_DEFAULT_ROOT) == 0) {
		struct sockaddr_nl nl = {.nl_family = AF_NETLINK, .nl_groups = 1};
		fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			    NETLINK_KOBJECT_UEVENT);
		if (fd < 0)
			return -1;
		if (bind(fd, (struct sockaddr *)&nl, sizeof(nl)) < 0) {
			close(fd);
			return -1;
		}
	} else {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		if ((size_t)snprintf(un.sun_path, sizeof(un.sun_path), "%s/%s", root,
				     SCX_FAKE_UEVENT) >= sizeof(un.sun_path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -1;
		/* Another daemon's live socket is not taken over; a stale one is replaced. */
		if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 &&
		    (errno != EADDRINUSE || fake_uevent_live(&un) || unlink(un.sun_path) < 0 ||
		     bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0)) {
			close(fd);
			return -1;
		}
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return fd;
}

/* One uevent: "ACTION@DEVPATH" then NUL-separated KEY=VALUE fields. */
static bool
uevent_is_sched_ext(const char *buf, size_t len)
{
	for (size_t i = 0; i < len; i += strnlen(buf + i, len - i) + 1) {
		const char *f = buf + i;
		size_t n = strnlen(f, len - i);
		if ((n >= 25 && strncmp(f, "DEVPATH=/kernel/sched_ext", 25) == 0) ||
		    (n == 19 && strncmp(f, "SUBSYSTEM=sched_ext", 19) == 0))
			return true;
	}
	return false;
}

bool
scx_uevent_drain(int fd)
{
	char buf[8192];
	struct sockaddr_storage from;
	socklen_t fromlen;
	bool any = false;
	ssize_t n;

	for (;;) {
		memset(&from, 0, sizeof(from));
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* Overflow: messages were lost, so look again at the files. */
			if (errno == ENOBUFS)
				any = true;
			return any;
		}
		/* On netlink only the kernel (port 0) speaks; udev's re-broadcasts are group 2. */
		if (from.ss_family == AF_NETLINK && ((struct sockaddr_nl *)&from)->nl_pid != 0)
			continue;
		if (uevent_is_sched_ext(buf, (size_t)n))
			any = true;
	}
}
