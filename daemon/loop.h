/* A single-threaded epoll loop: file descriptors and one-shot timers, nothing else. */
#ifndef SCHEDLIFE_LOOP_H
#define SCHEDLIFE_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct watch;
typedef void (*watch_fn)(struct watch *w, uint32_t events);

struct watch {
	int fd;
	watch_fn fn;
	void *data;
};

/* A timerfd, armed on the monotonic clock. */
struct timer {
	struct watch w;
	void (*fire)(struct timer *t);
	void *data;
	bool armed;
};

int loop_init(void);
int loop_add(struct watch *w, uint32_t events);
int loop_mod(struct watch *w, uint32_t events);
/* Also drops w's events still pending in the current batch: w may be freed after it. */
void loop_del(struct watch *w);
/* Run until loop_stop; returns 0, or -1 when epoll itself fails. */
int loop_run(void);
void loop_stop(void);
/*
 * Run fn after each batch of events (up to 4 of them, in the order given): work that
 * may wait until replies have gone out, and freeing what died during the batch.
 */
void loop_after_events(void (*fn)(void));

int timer_init(struct timer *t, void (*fire)(struct timer *), void *data);
void timer_arm_ms(struct timer *t, int64_t delay_ms);
void timer_arm_interval_ms(struct timer *t, int64_t period_ms);
void timer_disarm(struct timer *t);
void timer_close(struct timer *t);

#endif
