/* schedlifed.json, strictly parsed into plain structs (registry.h and authz.h use them). */
#ifndef SCHEDLIFE_CONFIG_H
#define SCHEDLIFE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "identity.h"
#include "lifecycle.h"

struct sched_mode {
	char *name;
	char **args; /* NULL-terminated */
};

struct sched_entry {
	char *name;
	char *path; /* absolute; NULL: found on discover_path at attach time */
	char **args;
	char *ops; /* NULL: any */
	enum sched_kind kind;
	char **env; /* "KEY=VALUE", NULL-terminated */
	struct sched_mode *modes;
	size_t nmodes;
	bool client_args;
	struct timing t; /* defaults with the entry's overrides applied */
};

enum on_shutdown { SHUTDOWN_DETACH, SHUTDOWN_LEAVE };

/* What one client may cost the daemon (schedlifed.json(5), "limits"). */
struct limits {
	int64_t max_connections;	  /* all clients together */
	int64_t reserved_connections;	  /* of those, kept for root and control users */
	int64_t max_connections_per_user; /* per uid other than root */
	int64_t max_output_bytes;	  /* a connection further behind is dropped */
	int64_t max_follows_per_user;	  /* logs --follow per uid other than root */
};

struct config {
	struct timing defaults;
	enum on_exit_action on_exit;
	char **on_exit_exec; /* NULL or NULL-terminated argv */
	int64_t restart_delay_ms, restart_max_delay_ms, restart_window_ms;
	int restart_burst;
	char *fallback;
	char *boot;
	enum on_shutdown on_shutdown;
	int log_keep;
	char *discover_path;
	bool allow_paths;
	bool cgroup; /* each scheduler in a cgroup of its own where one can be made */
	char *control_group; /* as written, NULL when absent; has_group: it exists */
	bool has_group;
	gid_t control_gid;
	uid_t *control_uids;
	size_t ncontrol_uids;
	struct sched_entry *schedulers;
	size_t nschedulers;
	struct limits limits;
};

/* Built-in defaults (SPEC 2). */
void config_defaults(struct config *c);
/*
 * Parse JSON text. On error returns -1 with err naming the path of the bad key, as in
 * `schedulers[1].grace: invalid duration "abc"`. allow_reboot: on_exit "reboot" allowed
 * (always as PID 1). Success overwrites *c without freeing it; failure leaves it alone,
 * so a reload can parse into a new struct and keep the old one on error.
 */
int config_parse(const char *text, size_t len, bool allow_reboot, struct config *c, char *err,
		 size_t errlen);
/* Read and parse a file (errors start with its path); a missing file is the defaults. */
int config_load(const char *path, bool allow_reboot, struct config *c, char *err, size_t errlen);
void config_free(struct config *c);

/* The policy half of the config, for the lifecycle. */
void config_policy(const struct config *c, struct lc_policy *p);

#endif
