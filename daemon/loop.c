/* The event loop: epoll over every descriptor, timerfds for time. */
#include "loop.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

static int epfd = -1;
static bool stopping;
#define LOOP_MAX_AFTER 4
static void (*after_events[LOOP_MAX_AFTER])(void);
static int nafter;

/*
 * The batch being dispatched. A watch deleted during it loses its events still waiting
 * in it, so its owner may free it at once: nothing of this batch reaches it afterwards.
 */
#define LOOP_BATCH 64
static struct epoll_event batch[LOOP_BATCH];
static int batch_len, batch_at;

void
loop_after_events(void (*fn)(void))
{
	if (nafter < LOOP_MAX_AFTER)
		after_events[nafter++] = fn;
}

int
loop_init(void)
{
	epfd = epoll_create1(EPOLL_CLOEXEC);
	return epfd < 0 ? -1 : 0;
}

int
loop_add(struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

int
loop_mod(struct watch *w, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = w};

	return epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void
loop_del(struct watch *w)
{
	if (w->fd >= 0)
		epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
	for (int i = batch_at + 1; i < batch_len; i++)
		if (batch[i].data.ptr == w)
			batch[i].data.ptr = NULL;
}

void
loop_stop(void)
{
	stopping = true;
}

int
loop_run(void)
{
	while (!stopping) {
		int n = epoll_wait(epfd, batch, LOOP_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return -1;
		}
		batch_len = n;
		for (batch_at = 0; batch_at < n && !stopping; batch_at++) {
			struct watch *w = batch[batch_at].data.ptr;
			if (w != NULL) /* NULL: deleted earlier in this batch */
				w->fn(w, batch[batch_at].events);
		}
		batch_len = batch_at = 0;
		for (int i = 0; i < nafter; i++)
			after_events[i]();
	}
	return 0;
}

static void
timer_ready(struct watch *w, uint32_t events)
{
	struct timer *t = w->data;
	uint64_t ticks;

	(void)events;
	if (read(w->fd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return; /* disarmed after it fired: nothing to do */
	t->fire(t);
}

int
timer_init(struct timer *t, void (*fire)(struct timer *), void *data)
{
	memset(t, 0, sizeof(*t));
	t->w.fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (t->w.fd < 0)
		return -1;
	t->w.fn = timer_ready;
	t->w.data = t;
	t->fire = fire;
	t->data = data;
	return loop_add(&t->w, EPOLLIN);
}

static void
timer_set(struct timer *t, int64_t delay_ms, int64_t period_ms)
{
	struct itimerspec its = {0};

	/* A zero it_value disarms, so "now" is one nanosecond from now. */
	its.it_value.tv_sec = delay_ms / 1000;
	its.it_value.tv_nsec = (delay_ms % 1000) * 1000000 + (delay_ms == 0);
	its.it_interval.tv_sec = period_ms / 1000;
	its.it_interval.tv_nsec = (period_ms % 1000) * 1000000;
	timerfd_settime(t->w.fd, 0, &its, NULL);
	t->armed = true;
}

void
timer_arm_ms(struct timer *t, int64_t delay_ms)
{
	timer_set(t, delay_ms < 0 ? 0 : delay_ms, 0);
}

void
timer_arm_interval_ms(struct timer *t, int64_t period_ms)
{
	timer_set(t, period_ms, period_ms);
}

void
timer_disarm(struct timer *t)
{
	struct itimerspec its = {0};
	uint64_t ticks;

	if (!t->armed)
		return;
	timerfd_settime(t->w.fd, 0, &its, NULL);
	/* Drop an expiry that is already pending so it cannot fire late. */
	(void)!read(t->w.fd, &ticks, sizeof(ticks));
	t->armed = false;
}

void
timer_close(struct timer *t)
{
	if (t->w.fd >= 0) {
		loop_del(&t->w);
		close(t->w.fd);
		t->w.fd = -1;
	}
}
