/* Reading, pruning and following the per-spawn logs in the log dir. */
#include "logs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "loop.h"
#include "names.h"

/* How much of a log's end is read for its tail and reason. */
#define TAIL_BYTES ((size_t)64 * 1024)

int
log_open_safe(const char *path, int flags)
{
	struct stat st;
	int fd;

	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0640);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_nlink != 1 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	/* O_NONBLOCK only kept a FIFO from blocking the open; a regular file ignores it */
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
log_dir_check(const char *dir, char *why, size_t len)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		snprintf(why, len, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s: not a directory", dir);
		return -1;
	}
	if (st.st_uid != geteuid()) {
		snprintf(why, len, "log dir %s is not owned by uid %d", dir, (int)geteuid());
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, len,
			 "log dir %s is writable by group or others (mode %04o): anyone could "
			 "plant a log there",
			 dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}


cJSON *
log_tail(const char *path, int n, char **reason)
{
	char *buf, *p, *start;
	cJSON *lines;
	struct stat st;
	off_t off = 0;
	ssize_t got;
	int fd, count = 0;

	if (reason != NULL)
		*reason = NULL;
	if ((fd = log_open_safe(path, O_RDONLY)) < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > (off_t)TAIL_BYTES)
		off = st.st_size - (off_t)TAIL_BYTES;
	buf = malloc(TAIL_BYTES + 1);
	got = buf != NULL ? pread(fd, buf, TAIL_BYTES, off) : -1;
	close(fd);
	if (got < 0) {
		free(buf);
		return NULL;
	}
	buf[got] = '\0';
	lines = cJSON_CreateArray();
	if (got == 0) {
		free(buf);
		return lines; /* an empty log has no lines, not one empty line */
	}
	/* Drop a partial first line when the read started mid-file. */
	start = buf;
	if (off > 0 && (p = strchr(buf, '\n')) != NULL)
		start = p + 1;
	if (buf[got - 1] == '\n')
		buf[got - 1] = '\0';
	/* Walk backwards: the tail, and the last EXIT: line wherever it is. */
	for (p = start + strlen(start); p >= start; p--) {
		if (p != start && p[-1] != '\n')
			continue;
		char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) : strlen(p);
		if (count < n) {
			cJSON *s = cJSON_CreateString("");
			free(s->valuestring);
			s->valuestring = strndup(p, len);
			if (s->valuestring != NULL)
				utf8_sanitize(s->valuestring);
			cJSON_InsertItemInArray(lines, 0, s);
			count++;
		}
		if (reason != NULL && *reason == NULL && strncmp(p, "EXIT: ", 6) == 0 &&
		    (*reason = strndup(p + 6, len - 6)) != NULL)
			utf8_sanitize(*reason);
		if (count >= n && (reason == NULL || *reason != NULL))
			break;
		if (p == start)
			break;
	}
	free(buf);
	return lines;
}

/* "<name>.<seq>.log": the seq, or -1. */
static int64_t
log_seq(const char *fname)
{
	size_t len = strlen(fname);
	const char *dot;
	char *end;
	long long v;

	if (len < 6 || strcmp(fname + len - 4, ".log") != 0)
		return -1;
	for (dot = fname + len - 5; dot > fname && *dot != '.'; dot--)
		;
	if (dot == fname)
		return -1;
	v = strtoll(dot + 1, &end, 10);
	return (end == fname + len - 4 && v > 0) ? v : -1;
}

static int
cmp_seq(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void
log_prune(const char *dir, int keep)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int64_t *seqs = NULL, cut;
	size_t n = 0, cap = 0;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int64_t s = log_seq(e->d_name);
		if (s < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *p = realloc(seqs, cap * sizeof(*seqs));
			if (p == NULL)
				break;
			seqs = p;
		}
		seqs[n++] = s;
	}
	if (seqs != NULL && keep > 0 && n > (size_t)keep) {
		qsort(seqs, n, sizeof(*seqs), cmp_seq);
		cut = seqs[n - (size_t)keep];
		rewinddir(d);
		while ((e = readdir(d)) != NULL) {
			int64_t s = log_seq(e->d_name);
			if (s > 0 && s < cut)
				unlinkat(dirfd(d), e->d_name, 0);
		}
	}
	free(seqs);
	closedir(d);
}

int
log_find(const char *dir, int64_t seq, char *buf, size_t len, int64_t *found)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int64_t best = -1;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		int64_t s = log_seq(e->d_name);
		if (s < 0 || (seq > 0 && s != seq) || s <= best)
			continue;
		best = s;
		snprintf(buf, len, "%s/%s", dir, e->d_name);
	}
	closedir(d);
	if (best < 0)
		return -1;
	*found = best;
	return 0;
}

/*
 * Following: one inotify instance for every follower (an instance per follower would
 * charge root's fs.inotify.max_user_instances once per client). Followers of the same
 * file share its watch descriptor: inotify gives one inode one wd per instance.
 */
struct log_follow {
	int fd;
	int wd; /* -1: its file's watch is gone (the file was removed) */
	off_t off;
	log_line_fn fn;
	void *ctx;
	char part[4096];
	size_t partlen;
	struct log_follow *next;
};

static struct watch follow_w = {.fd = -1};
static struct log_follow *follows;

/* Send a follower its file's new lines; -1 when its receiver is gone, and f with it. */
static int
follow_read(struct log_follow *f)
{
	char buf[4096];
	ssize_t n;

	while ((n = pread(f->fd, buf, sizeof(buf), f->off)) > 0) {
		f->off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n' || f->partlen == sizeof(f->part) - 1) {
				f->part[f->partlen] = '\0';
				f->partlen = 0;
				utf8_sanitize(f->part);
				/* A receiver too far behind is dropped, and f with it. */
				if (f->fn(f->ctx, f->part) < 0)
					return -1;
				if (buf[i] == '\n')
					continue;
			}
			f->part[f->partlen++] = buf[i];
		}
	}
	return 0;
}

/* Every follower of wd (-1: all, after the queue overflowed). */
static void
follow_wd(int wd, bool ignored)
{
	struct log_follow *f, *next;

	for (f = follows; f != NULL; f = next) {
		next = f->next; /* follow_read may free f, never another follower */
		if (wd != -1 && f->wd != wd)
			continue;
		if (ignored)
			f->wd = -1;
		else
			(void)follow_read(f);
	}
}

static void
follow_ready(struct watch *w, uint32_t events)
{
	char ibuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t n;

	(void)events;
	while ((n = read(w->fd, ibuf, sizeof(ibuf))) > 0) {
		for (char *p = ibuf; p < ibuf + n; p += sizeof(*ev) + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				follow_wd(-1, false);
			else
				follow_wd(ev->wd, (ev->mask & IN_IGNORED) != 0);
		}
	}
}

struct log_follow *
log_follow_start(const char *path, log_line_fn fn, void *ctx)
{
	struct log_follow *f = calloc(1, sizeof(*f));
	struct stat st;

	if (f == NULL)
		return NULL;
	if (follow_w.fd < 0) {
		follow_w.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		follow_w.fn = follow_ready;
		if (follow_w.fd >= 0 && loop_add(&follow_w, EPOLLIN) < 0) {
			close(follow_w.fd);
			follow_w.fd = -1;
		}
	}
	f->fn = fn;
	f->ctx = ctx;
	f->fd = log_open_safe(path, O_RDONLY);
	f->wd = -1;
	if (f->fd < 0 || follow_w.fd < 0 || fstat(f->fd, &st) < 0 ||
	    (f->wd = inotify_add_watch(follow_w.fd, path, IN_MODIFY | IN_MASK_ADD)) < 0) {
		if (f->fd >= 0)
			close(f->fd);
		free(f);
		return NULL;
	}
	f->off = st.st_size;
	f->next = follows;
	follows = f;
	return f;
}

void
log_follow_stop(struct log_follow *f)
{
	struct log_follow **pp;
	bool shared = false;

	if (f == NULL)
		return;
	for (pp = &follows; *pp != NULL && *pp != f; pp = &(*pp)->next)
		;
	if (*pp != NULL)
		*pp = f->next;
	for (struct log_follow *o = follows; o != NULL; o = o->next)
		shared |= o->wd == f->wd;
	if (f->wd >= 0 && !shared)
		inotify_rm_watch(follow_w.fd, f->wd);
	close(f->fd);
	free(f);
	/* The last follower gone: so is the instance. */
	if (follows == NULL && follow_w.fd >= 0) {
		loop_del(&follow_w);
		close(follow_w.fd);
		follow_w.fd = -1;
	}
}
