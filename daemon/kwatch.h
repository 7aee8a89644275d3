/* The kernel's sched_ext files watched: one read per turn, uevents, settle re-checks. */
#ifndef SCHEDLIFE_KWATCH_H
#define SCHEDLIFE_KWATCH_H

#include "lifecycle.h"

/* Listen to the kernel's uevents under scx_root; its changes go to lc_on_kernel(lc). */
int kwatch_setup(const char *scx_root, struct lifecycle *lc);
/* The kernel's files as read once in this turn of the loop. */
void kwatch_read(struct kernel_view *kv);
/* Something may have changed: the next read is fresh, and so is the next status. */
void kwatch_forget(void);
/* What the lifecycle waits for now (its kernel_watch op). */
void kwatch_set(enum kwatch how);

#endif
