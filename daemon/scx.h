/* The kernel's sched_ext files: state, root/ops, enable_seq (SPEC 4), and its uevents. */
#ifndef SCHEDLIFE_SCX_H
#define SCHEDLIFE_SCX_H

#include "lifecycle.h"

#define SCX_DEFAULT_ROOT "/sys/kernel/sched_ext"
#define SCX_ROOT_ENV "SCHEDLIFED_SCHED_EXT_ROOT"
/* Under a fake root, the fake sends the kernel's uevents to this datagram socket. */
#define SCX_FAKE_UEVENT ".uevent"

void scx_read(const char *root, struct kernel_view *kv);
/*
 * sysfs raises no inotify event when the kernel changes state: the kernel announces
 * enable ("add") and the end of every disable ("remove") as uevents of the
 * /kernel/sched_ext/root kobject. The real root: a NETLINK_KOBJECT_UEVENT socket; any
 * other root: a datagram socket bound at ROOT/.uevent. Nonblocking; -1 on failure.
 */
int scx_uevent_open(const char *root);
/* Drain the socket; returns whether a message concerned sched_ext (or some were lost). */
bool scx_uevent_drain(int fd);

#endif
