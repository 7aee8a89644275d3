/* The kernel's sched_ext files watched: one read per turn, uevents, settle re-checks. */
#include "kwatch.h"

#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>

#include "control.h"
#include "log.h"
#include "loop.h"
#include "scx.h"

/*
 * The kernel's uevents (sysfs raises no inotify event), and a short re-check when one
 * finds the files still in between (enabling, disabling).
 */
static struct {
	const char *scx_root;
	struct lifecycle *lc;
	struct watch uev_w;
	struct timer settle_timer;
	int64_t settle_ms;
	struct timer poll_timer; /* only without a uevent socket */
} K = {.uev_w = {.fd = -1}};

/*
 * The kernel's files are read once per turn of the loop: the status answers of one
 * batch share a snapshot (a burst of clients costs one read, not three files each),
 * and every kernel change, timer and exit starts from a fresh read.
 */
static struct kernel_view kv_cache;
static bool kv_cached;

void
kwatch_forget(void)
{
	kv_cached = false;
	control_forget_status();
}

void
kwatch_read(struct kernel_view *kv)
{
	if (!kv_cached) {
		scx_read(K.scx_root, &kv_cache);
		kv_cached = true;
	}
	*kv = kv_cache;
}

/* After a uevent the files may still say enabling or disabling: look again soon. */
#define SETTLE_FIRST_MS 10
#define SETTLE_LAST_MS 320

static void
kernel_settle(int64_t delay_ms)
{
	struct kernel_view kv;

	kwatch_read(&kv);
	if (delay_ms <= SETTLE_LAST_MS &&
	    (strcmp(kv.state, "enabling") == 0 || strcmp(kv.state, "disabling") == 0)) {
		K.settle_ms = delay_ms;
		timer_arm_ms(&K.settle_timer, delay_ms);
	} else {
		K.settle_ms = 0;
		timer_disarm(&K.settle_timer);
	}
}

static void
kernel_changed(struct watch *w, uint32_t events)
{
	(void)events;
	if (!scx_uevent_drain(w->fd))
		return;
	kwatch_forget();
	lc_on_kernel(K.lc);
	kernel_settle(SETTLE_FIRST_MS);
}

static void
kernel_recheck(struct timer *t)
{
	(void)t;
	kwatch_forget();
	lc_on_kernel(K.lc);
	kernel_settle(K.settle_ms * 2);
}

/* Only where no uevent socket could be opened: the old 50 ms re-check while waiting. */
static void
kernel_poll(struct timer *t)
{
	(void)t;
	kwatch_forget();
	lc_on_kernel(K.lc);
}

void
kwatch_set(enum kwatch how)
{
	/* The uevents always come; the lifecycle ignores what its phase does not need. */
	/*
	 * Waiting for the kernel: a failed start backs out with no uevent at all, so if the
	 * files are in between now, look again a few times (the settle timer).
	 */
	if (how == KW_POLL && K.settle_ms == 0)
		kernel_settle(SETTLE_FIRST_MS);
	if (K.uev_w.fd < 0 && how == KW_POLL)
		timer_arm_interval_ms(&K.poll_timer, 50);
	else if (K.uev_w.fd < 0)
		timer_disarm(&K.poll_timer);
}

int
kwatch_setup(const char *scx_root, struct lifecycle *lc)
{
	K.scx_root = scx_root;
	K.lc = lc;
	K.uev_w.fn = kernel_changed;
	K.uev_w.fd = scx_uevent_open(K.scx_root);
	if (K.uev_w.fd < 0)
		log_warn("cannot listen to the kernel's uevents: re-reading sched_ext every 50 ms while waiting for it, and an ejection is seen only at the next request or exit");
	else if (loop_add(&K.uev_w, EPOLLIN) < 0)
		return -1;
	if (timer_init(&K.settle_timer, kernel_recheck, NULL) < 0 ||
	    timer_init(&K.poll_timer, kernel_poll, NULL) < 0)
		return -1;
	return 0;
}
