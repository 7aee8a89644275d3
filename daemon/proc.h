/* The scheduler process: spawn it, signal it through its pidfd, reap it. */
#ifndef SCHEDLIFE_PROC_H
#define SCHEDLIFE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "identity.h"
#include "lifecycle.h"

struct proc {
	pid_t pid;
	int pidfd;
	bool child; /* false when adopted: its exit status cannot be reaped */
	bool group;
	/*
	 * No pidfds here (kernels before 5.3, valgrind 3.19): our own child is then
	 * tracked by pid, which stays ours until we reap it; SIGCHLD says when it exits.
	 */
	bool by_pid;
	/*
	 * The scheduler's own cgroup (v2) directory, malloc'd; NULL where none could be
	 * made: the process group is then the scope of a kill (kill_mode "group").
	 */
	char *cgroup;
};

/*
 * Start id with stdout and stderr appended to log_path, in a new session, stdin on
 * /dev/null, no other descriptors. With cgroup (and kill_mode "group"), in a new cgroup
 * <the daemon's cgroup>/schedlife-<daemon pid>-<seq> where one can be made, else its
 * process group alone (the reason logged once). Returns 0 once the program has been
 * executed, or an errno with err saying what failed.
 */
int proc_spawn(const struct identity *id, const char *log_path, bool cgroup, int64_t seq,
	       struct proc *p, char *err, size_t errlen);
/*
 * Take over a process this daemon did not start; cgroup: the one state.json names, used
 * only when the process is really in it.
 */
int proc_adopt(pid_t pid, bool group, const char *cgroup, struct proc *p);
/* "cgroup", "process_group" or "process": what a kill reaches. */
const char *proc_kill_scope(const struct proc *p);
/* 0, or an errno (ESRCH when it is gone). */
int proc_signal(struct proc *p, int sig, bool group);
/* After the pidfd became readable: kill what is left of the group, reap, close. */
void proc_reap(struct proc *p, struct exit_info *ei);
bool proc_exited(const struct proc *p);
/* Is a process being tracked (spawned or adopted, not yet reaped)? */
bool proc_tracked(const struct proc *p);

/* /proc/PID/stat's start time (clock ticks since boot), or -1. */
int64_t proc_start_time(pid_t pid);
/* readlink of /proc/PID/exe into buf; -1 when unreadable. */
int proc_exe(pid_t pid, char *buf, size_t len);

#endif
