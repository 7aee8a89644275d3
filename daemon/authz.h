/* Authorization: who may run lifecycle requests, pass arguments, run a path. */
#ifndef SCHEDLIFE_AUTHZ_H
#define SCHEDLIFE_AUTHZ_H

#include <stdbool.h>
#include <sys/types.h>

#include "config.h"

/* May this uid (with these groups) run lifecycle requests? */
bool authz_may_control(const struct config *c, uid_t uid, gid_t gid);
/* May this caller pass arguments to the entry? privileged: the caller is root. */
bool authz_may_pass_args(const struct sched_entry *e, bool privileged);
/* May this caller name an absolute path instead of a scheduler? */
bool authz_may_run_path(const struct config *c, bool privileged);

#endif
