/* The kernel's sched_ext files: state, root/ops, enable_seq (SPEC 4). */
#ifndef SCHEDLIFE_SCX_H
#define SCHEDLIFE_SCX_H

#include "lifecycle.h"

#define SCX_DEFAULT_ROOT "/sys/kernel/sched_ext"
#define SCX_ROOT_ENV "SCHEDLIFED_SCHED_EXT_ROOT"

void scx_read(const char *root, struct kernel_view *kv);
/* One inotify descriptor for the daemon's life: closing one stalls for milliseconds. */
int scx_watch_init(void);
/* Watch root on it: a watch descriptor, or -1 when root is missing. */
int scx_watch_add(int fd, const char *root);
/* Drain the inotify descriptor; returns whether anything was there. */
bool scx_watch_drain(int fd);

#endif
