/* schedlifed.json into struct config: defaults, the top-level keys, load and free. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_entry.h"
#include "config_walk.h"

#define CONFIG_MAX_BYTES ((size_t)1024 * 1024)

/* ---- defaults and freeing ---- */

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->defaults.grace_ms = 10000;
	c->defaults.stop_signal = SIGTERM;
	c->defaults.ready_after_ms = 1000;
	c->defaults.startup_timeout_ms = 10000;
	c->defaults.disable_timeout_ms = 10000;
	c->defaults.kill_mode = KILL_GROUP;
	c->on_exit = ON_EXIT_NONE;
	c->restart_delay_ms = 500;
	c->restart_max_delay_ms = 30000;
	c->restart_burst = 5;
	c->restart_window_ms = 60000;
	c->on_shutdown = SHUTDOWN_DETACH;
	c->log_keep = 20;
	c->cgroup = true;
	c->discover_path = strdup("/usr/local/bin:/usr/bin:/usr/sbin");
	c->limits = (struct limits){.max_connections = 256,
				    .reserved_connections = 16,
				    .max_connections_per_user = 32,
				    .max_output_bytes = (int64_t)1024 * 1024,
				    .max_follows_per_user = 8};
}

static void
entry_free(struct sched_entry *e)
{
	free(e->name);
	free(e->path);
	strv_free(e->args);
	free(e->ops);
	strv_free(e->env);
	for (size_t i = 0; i < e->nmodes; i++) {
		free(e->modes[i].name);
		strv_free(e->modes[i].args);
	}
	free(e->modes);
}

void
config_free(struct config *c)
{
	strv_free(c->on_exit_exec);
	free(c->fallback);
	free(c->boot);
	free(c->discover_path);
	free(c->control_group);
	free(c->control_uids);
	for (size_t i = 0; i < c->nschedulers; i++)
		entry_free(&c->schedulers[i]);
	free(c->schedulers);
	memset(c, 0, sizeof(*c));
}

void
config_policy(const struct config *c, struct lc_policy *p)
{
	memset(p, 0, sizeof(*p));
	p->action = c->on_exit;
	p->delay_ms = c->restart_delay_ms;
	p->max_delay_ms = c->restart_max_delay_ms;
	p->window_ms = c->restart_window_ms;
	p->burst = c->restart_burst;
	p->fallback = c->fallback;
}

/* ---- parsing ---- */

static int
key_defaults(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct timing_spec ts = {p->c->defaults, 0};

	(void)target;
	if (walk_timing(p, path, item, &ts) < 0)
		return -1;
	p->c->defaults = ts.t;
	return 0;
}

/* on_exit */

static int
on_exit_action(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const char *const actions[] = {"none", "restart", "fallback", "reboot"};
	static const enum on_exit_action values[] = {ON_EXIT_NONE, ON_EXIT_RESTART,
						     ON_EXIT_FALLBACK, ON_EXIT_REBOOT};
	int i = 0;

	(void)target;
	if (get_enum(p, path, item, actions, 4,
		     "\"none\", \"restart\", \"fallback\" or \"reboot\"", &i) < 0)
		return -1;
	if (values[i] == ON_EXIT_REBOOT && !p->allow_reboot)
		return fail(p, path,
			    "\"reboot\" needs schedlifed to run as PID 1 or with --allow-reboot");
	p->c->on_exit = values[i];
	return 0;
}

static int
on_exit_exec(struct parser *p, const char *path, const cJSON *item, void *target)
{
	char sub[PATH_BUF];

	(void)target;
	if (get_strv(p, path, item, &p->c->on_exit_exec) < 0)
		return -1;
	if (p->c->on_exit_exec[0] == NULL)
		return fail(p, path, "must not be empty");
	if (p->c->on_exit_exec[0][0] != '/') {
		snprintf(sub, sizeof(sub), "%s[0]", path);
		return fail(p, sub, "must be an absolute path");
	}
	return 0;
}

static int
key_on_exit(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const struct key keys[] = {{"action", on_exit_action}, {"exec", on_exit_exec}};

	(void)target;
	return walk_object(p, path, item, keys, sizeof(keys) / sizeof(keys[0]), NULL);
}

/* restart */

static int
restart_key(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct config *c = p->c;
	int64_t n = 0; /* set by get_duration/json_get_int on success */

	(void)target;
	if (strcmp(item->string, "burst") == 0) {
		if (json_get_int(item, 1, INT_MAX, &n) < 0)
			return fail(p, path, "must be a whole number >= 1");
		c->restart_burst = (int)n;
		return 0;
	}
	if (get_duration(p, path, item, &n) < 0)
		return -1;
	if (strcmp(item->string, "delay") == 0)
		c->restart_delay_ms = n;
	else if (strcmp(item->string, "max_delay") == 0)
		c->restart_max_delay_ms = n;
	else
		c->restart_window_ms = n;
	return 0;
}

static int
key_restart(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const struct key keys[] = {
		{"delay", restart_key},
		{"max_delay", restart_key},
		{"burst", restart_key},
		{"window", restart_key},
	};

	(void)target;
	return walk_object(p, path, item, keys, sizeof(keys) / sizeof(keys[0]), NULL);
}

/* The scalar top-level keys. */

static int
key_fallback(struct parser *p, const char *path, const cJSON *item, void *target)
{
	(void)target;
	return get_name(p, path, item, &p->c->fallback);
}

static int
key_boot(struct parser *p, const char *path, const cJSON *item, void *target)
{
	(void)target;
	return get_name(p, path, item, &p->c->boot);
}

static int
key_on_shutdown(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const char *const modes[] = {"detach", "leave"};
	int i = 0;

	(void)target;
	if (get_enum(p, path, item, modes, 2, "\"detach\" or \"leave\"", &i) < 0)
		return -1;
	p->c->on_shutdown = i == 0 ? SHUTDOWN_DETACH : SHUTDOWN_LEAVE;
	return 0;
}

static int
key_log_keep(struct parser *p, const char *path, const cJSON *item, void *target)
{
	int64_t n = 0; /* set by get_duration/json_get_int on success */

	(void)target;
	if (json_get_int(item, 1, INT_MAX, &n) < 0)
		return fail(p, path, "must be a whole number >= 1");
	p->c->log_keep = (int)n;
	return 0;
}

static int
key_discover_path(struct parser *p, const char *path, const cJSON *item, void *target)
{
	const char *s, *end;

	(void)target;
	if (get_string(p, path, item, &p->c->discover_path) < 0)
		return -1;
	/* A relative directory would mean the daemon's working directory: refuse it. */
	for (s = p->c->discover_path; *s != '\0'; s = *end ? end + 1 : end) {
		end = strchrnul(s, ':');
		if (end != s && *s != '/')
			return fail(p, path, "\"%.*s\" is not an absolute directory",
				    (int)(end - s > 64 ? 64 : end - s), s);
	}
	return 0;
}

static int
key_cgroup(struct parser *p, const char *path, const cJSON *item, void *target)
{
	(void)target;
	return get_bool(p, path, item, &p->c->cgroup);
}

static int
key_allow_paths(struct parser *p, const char *path, const cJSON *item, void *target)
{
	(void)target;
	return get_bool(p, path, item, &p->c->allow_paths);
}

/* control */

static int
control_group(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct group *gr;

	(void)target;
	if (get_string(p, path, item, &p->c->control_group) < 0)
		return -1;
	/* An unknown group is not fatal: the daemon says so and no one gets in by it. */
	p->c->has_group = false;
	if (*p->c->control_group != '\0' && (gr = getgrnam(p->c->control_group)) != NULL) {
		p->c->has_group = true;
		p->c->control_gid = gr->gr_gid;
	}
	return 0;
}

static int
control_users(struct parser *p, const char *path, const cJSON *item, void *target)
{
	const cJSON *u;
	uid_t *uids;
	size_t n = 0;
	char sub[PATH_BUF];

	(void)target;
	if (!cJSON_IsArray(item))
		return fail(p, path, "must be an array of user names or uids");
	uids = calloc((size_t)cJSON_GetArraySize(item) + 1, sizeof(*uids));
	if (uids == NULL)
		return fail(p, path, "out of memory");
	free(p->c->control_uids);
	p->c->control_uids = uids;
	p->c->ncontrol_uids = 0;
	cJSON_ArrayForEach(u, item)
	{
		int64_t uid;
		snprintf(sub, sizeof(sub), "%s[%zu]", path, n);
		if (cJSON_IsString(u)) {
			struct passwd *pw = getpwnam(u->valuestring);
			if (pw == NULL)
				return fail(p, sub, "unknown user \"%.64s\"", u->valuestring);
			uids[n++] = pw->pw_uid;
		} else if (json_get_int(u, 0, (uid_t)-2, &uid) == 0) {
			uids[n++] = (uid_t)uid;
		} else {
			return fail(p, sub, "must be a user name or a uid");
		}
		p->c->ncontrol_uids = n;
	}
	return 0;
}

static int
key_control(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const struct key keys[] = {{"group", control_group}, {"users", control_users}};

	(void)target;
	return walk_object(p, path, item, keys, sizeof(keys) / sizeof(keys[0]), NULL);
}

/* limits: each a whole number in its range. */

static const struct {
	const char *name;
	size_t off;
	int64_t min, max;
} limit_ranges[] = {
	{"max_connections", offsetof(struct limits, max_connections), 1, 65536},
	{"reserved_connections", offsetof(struct limits, reserved_connections), 0, 65535},
	{"max_connections_per_user", offsetof(struct limits, max_connections_per_user), 1, 65536},
	{"max_output_bytes", offsetof(struct limits, max_output_bytes), (int64_t)256 * 1024,
	 (int64_t)1024 * 1024 * 1024},
	{"max_follows_per_user", offsetof(struct limits, max_follows_per_user), 0, 65536},
};

static int
limit_key(struct parser *p, const char *path, const cJSON *item, void *target)
{
	(void)target;
	for (size_t i = 0; i < sizeof(limit_ranges) / sizeof(limit_ranges[0]); i++) {
		if (strcmp(item->string, limit_ranges[i].name) != 0)
			continue;
		if (json_get_int(item, limit_ranges[i].min, limit_ranges[i].max,
				 (int64_t *)(void *)((char *)&p->c->limits + limit_ranges[i].off)) < 0)
			return fail(p, path, "must be a whole number from %lld to %lld",
				    (long long)limit_ranges[i].min, (long long)limit_ranges[i].max);
		return 0;
	}
	return fail(p, path, "unknown key");
}

static int
key_limits(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const struct key keys[] = {
		{"max_connections", limit_key},	     {"reserved_connections", limit_key},
		{"max_connections_per_user", limit_key}, {"max_output_bytes", limit_key},
		{"max_follows_per_user", limit_key},
	};

	(void)target;
	if (walk_object(p, path, item, keys, sizeof(keys) / sizeof(keys[0]), NULL) < 0)
		return -1;
	if (p->c->limits.reserved_connections >= p->c->limits.max_connections)
		return fail(p, path, "reserved_connections must be less than max_connections");
	return 0;
}

/* schedulers[i] */

static int
key_schedulers(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct config *c = p->c;
	const cJSON *s;
	size_t n;
	char sub[PATH_BUF];

	(void)target;
	if (!cJSON_IsArray(item))
		return fail(p, path, "must be an array of objects");
	n = (size_t)cJSON_GetArraySize(item);
	if ((c->schedulers = calloc(n + 1, sizeof(*c->schedulers))) == NULL ||
	    (p->entry_t = calloc(n + 1, sizeof(*p->entry_t))) == NULL)
		return fail(p, path, "out of memory");
	c->nschedulers = n;
	n = 0;
	cJSON_ArrayForEach(s, item)
	{
		snprintf(sub, sizeof(sub), "%s[%zu]", path, n);
		if (entry_parse(p, sub, s, n) < 0)
			return -1;
		n++;
	}
	return 0;
}

static const struct key top_keys[] = {
	{"defaults", key_defaults},
	{"on_exit", key_on_exit},
	{"restart", key_restart},
	{"fallback", key_fallback},
	{"boot", key_boot},
	{"on_shutdown", key_on_shutdown},
	{"log_keep", key_log_keep},
	{"discover_path", key_discover_path},
	{"allow_paths", key_allow_paths},
	{"cgroup", key_cgroup},
	{"control", key_control},
	{"limits", key_limits},
	{"schedulers", key_schedulers},
};

static int
json_error(struct parser *p, const char *text, const char *at)
{
	int line = 1;

	if (at == NULL || at < text)
		at = text;
	for (const char *s = text; s < at && *s != '\0'; s++)
		if (*s == '\n')
			line++;
	return fail(p, NULL, "invalid JSON near line %d", line);
}

int
config_parse(const char *text, size_t len, bool allow_reboot, struct config *c, char *err,
	     size_t errlen)
{
	struct config nc;
	struct parser p = {&nc, allow_reboot || getpid() == 1, NULL, err, errlen};
	const char *end = NULL;
	const char *nul;
	cJSON *root;
	char *buf;
	int rc = -1;

	config_defaults(&nc);
	if (nc.discover_path == NULL) {
		fail(&p, NULL, "out of memory");
		goto out;
	}
	/* cJSON wants a terminated string; an embedded NUL is bad JSON, as is trailing junk. */
	if ((buf = malloc(len + 1)) == NULL) {
		fail(&p, NULL, "out of memory");
		goto out;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	if ((nul = memchr(text, '\0', len)) != NULL) {
		json_error(&p, buf, buf + (nul - text));
		free(buf);
		goto out;
	}
	root = cJSON_ParseWithOpts(buf, &end, true);
	if (root == NULL) {
		json_error(&p, buf, end != NULL ? end : cJSON_GetErrorPtr());
		free(buf);
		goto out;
	}
	if (!cJSON_IsObject(root))
		fail(&p, NULL, "the top level must be a JSON object");
	else if (walk_object(&p, "", root, top_keys, sizeof(top_keys) / sizeof(top_keys[0]),
			     NULL) == 0) {
		if (nc.on_exit == ON_EXIT_FALLBACK && nc.fallback == NULL)
			fail(&p, "on_exit.action", "\"fallback\" needs a \"fallback\" scheduler");
		else
			rc = 0;
	}
	cJSON_Delete(root);
	free(buf);
	if (rc == 0)
		apply_entry_timing(&p);
out:
	free(p.entry_t);
	if (rc == 0)
		*c = nc;
	else
		config_free(&nc);
	return rc;
}

int
config_load(const char *path, bool allow_reboot, struct config *c, char *err, size_t errlen)
{
	char *text = NULL, sub[1024];
	size_t len = 0;
	ssize_t n;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		config_defaults(c);
		if (c->discover_path == NULL) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		return 0;
	}
	if (fd < 0)
		goto fail_errno;
	if ((text = malloc(CONFIG_MAX_BYTES + 1)) == NULL) {
		errno = ENOMEM;
		goto fail_errno;
	}
	/* Read one byte past the cap to know that the file is too large. */
	while (len <= CONFIG_MAX_BYTES) {
		n = read(fd, text + len, CONFIG_MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		free(text);
		return -1;
	}
	rc = config_parse(text, len, allow_reboot, c, sub, sizeof(sub));
	free(text);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, sub);
	return rc;

fail_errno:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(text);
	return -1;
}
