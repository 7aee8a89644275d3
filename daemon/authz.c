/* Authorization: who may run lifecycle requests, pass arguments, run a path. */
#include "authz.h"

#include <grp.h>
#include <pwd.h>
#include <stdlib.h>

static bool
in_group(uid_t uid, gid_t want)
{
	struct passwd *pw = getpwuid(uid);
	gid_t *groups;
	int n = 32;
	bool found = false;

	if (pw == NULL)
		return false;
	if (pw->pw_gid == want)
		return true;
	for (;;) {
		int have = n;
		if ((groups = calloc((size_t)n, sizeof(*groups))) == NULL)
			return false;
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) >= 0) {
			for (int i = 0; i < n; i++)
				if (groups[i] == want)
					found = true;
			free(groups);
			return found;
		}
		free(groups);
		if (n <= have) /* no growth asked for: give up rather than loop */
			return false;
	}
}

bool
authz_may_control(const struct config *c, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	for (size_t i = 0; i < c->ncontrol_uids; i++)
		if (c->control_uids[i] == uid)
			return true;
	if (!c->has_group)
		return false;
	return gid == c->control_gid || in_group(uid, c->control_gid);
}

bool
authz_may_pass_args(const struct sched_entry *e, bool privileged)
{
	return privileged || e->client_args;
}

bool
authz_may_run_path(const struct config *c, bool privileged)
{
	return c->allow_paths && privileged;
}
