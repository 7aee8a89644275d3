/* Reading the sched_ext root, and watching it with inotify while it matters. */
#include "scx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
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

int
scx_watch_init(void)
{
	return inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
}

int
scx_watch_add(int fd, const char *root)
{
	return inotify_add_watch(fd, root,
				 IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO |
					 IN_MOVED_FROM | IN_ATTRIB | IN_DELETE_SELF);
}

bool
scx_watch_drain(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;

	while (read(fd, buf, sizeof(buf)) > 0)
		any = true;
	return any;
}
