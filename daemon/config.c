/* schedlifed.json, strictly parsed into struct config: keys, types, durations, defaults. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "names.h"

#define CONFIG_MAX_BYTES ((size_t)1024 * 1024)
#define PATH_BUF 256

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

/* The six timing keys, as a scheduler entry overrides them. */
enum {
	T_SET_GRACE = 1 << 0,
	T_SET_SIGNAL = 1 << 1,
	T_SET_READY = 1 << 2,
	T_SET_STARTUP = 1 << 3,
	T_SET_DISABLE = 1 << 4,
	T_SET_KILL_MODE = 1 << 5,
};

struct timing_spec {
	struct timing t;
	unsigned set;
};

struct parser {
	struct config *c;
	bool allow_reboot;
	struct timing_spec *entry_t; /* one per scheduler entry, applied at the end */
	char *err;
	size_t errlen;
};

/* Where in the file we are, and what the handler fills in. */
struct entry_ctx {
	struct sched_entry *e;
	struct timing_spec *ts;
	bool has_name;
};

static int __attribute__((format(printf, 3, 4)))
fail(struct parser *p, const char *path, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->errlen > 0) {
		if (path != NULL && *path != '\0')
			snprintf(p->err, p->errlen, "%s: %s", path, msg);
		else
			snprintf(p->err, p->errlen, "%s", msg);
		text_sanitize(p->err); /* keys and values are quoted, cut at a byte limit */
	}
	return -1;
}

typedef int (*key_fn)(struct parser *p, const char *path, const cJSON *item, void *target);

struct key {
	const char *name;
	key_fn fn;
};

static void
child_path(char *buf, size_t len, const char *path, const char *key)
{
	if (path == NULL || *path == '\0')
		snprintf(buf, len, "%.64s", key);
	else
		snprintf(buf, len, "%s.%.64s", path, key);
}

/* Strictness lives here: the object's type, duplicate keys and unknown keys. */
static int
walk_object(struct parser *p, const char *path, const cJSON *obj, const struct key *keys,
	    size_t nkeys, void *target)
{
	const cJSON *item, *prev;
	char sub[PATH_BUF];

	if (!cJSON_IsObject(obj))
		return fail(p, path, "must be an object");
	cJSON_ArrayForEach(item, obj)
	{
		const struct key *k = NULL;

		/* Errors name the key's own path: "schedulers[1].on_exit.bogus: unknown key". */
		child_path(sub, sizeof(sub), path, item->string);
		for (prev = obj->child; prev != item; prev = prev->next)
			if (strcmp(prev->string, item->string) == 0)
				return fail(p, sub, "duplicate key");
		for (size_t i = 0; i < nkeys; i++)
			if (strcmp(keys[i].name, item->string) == 0)
				k = &keys[i];
		if (k == NULL)
			return fail(p, sub, "unknown key");
		if (k->fn(p, sub, item, target) < 0)
			return -1;
	}
	return 0;
}

static int
get_duration(struct parser *p, const char *path, const cJSON *item, int64_t *ms)
{
	if (cJSON_IsString(item)) {
		if (duration_parse(item->valuestring, ms) < 0)
			return fail(p, path, "invalid duration \"%.64s\"", item->valuestring);
		return 0;
	}
	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;
		if (!(d >= 0) || d * 1000.0 > (double)DURATION_MAX_MS)
			return fail(p, path, "invalid duration %g", d);
		/* To the nearest millisecond: 0.29 s is 290 ms, not 289. */
		*ms = (int64_t)(d * 1000.0 + 0.5);
		return 0;
	}
	return fail(p, path, "must be a duration (\"2s\", \"250ms\") or a number of seconds");
}


static int
get_bool(struct parser *p, const char *path, const cJSON *item, bool *out)
{
	if (!cJSON_IsBool(item))
		return fail(p, path, "must be true or false");
	*out = cJSON_IsTrue(item);
	return 0;
}

static int
get_string(struct parser *p, const char *path, const cJSON *item, char **out)
{
	char *s;

	if (!cJSON_IsString(item))
		return fail(p, path, "must be a string");
	if ((s = strdup(item->valuestring)) == NULL)
		return fail(p, path, "out of memory");
	free(*out);
	*out = s;
	return 0;
}

/* A scheduler name, or null for none. */
static int
get_name(struct parser *p, const char *path, const cJSON *item, char **out)
{
	if (cJSON_IsNull(item)) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (get_string(p, path, item, out) < 0)
		return -1;
	if (!sched_name_valid(*out))
		return fail(p, path, "invalid name \"%.100s\"", *out);
	return 0;
}

static int
get_strv(struct parser *p, const char *path, const cJSON *item, char ***out)
{
	const cJSON *s;
	char **v;
	size_t n = 0;
	char sub[PATH_BUF];

	if (!cJSON_IsArray(item))
		return fail(p, path, "must be an array of strings");
	cJSON_ArrayForEach(s, item)
	{
		if (!cJSON_IsString(s)) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, n);
			return fail(p, sub, "must be a string");
		}
		n++;
	}
	if ((v = calloc(n + 1, sizeof(*v))) == NULL)
		return fail(p, path, "out of memory");
	n = 0;
	cJSON_ArrayForEach(s, item)
	{
		if ((v[n++] = strdup(s->valuestring)) == NULL) {
			strv_free(v);
			return fail(p, path, "out of memory");
		}
	}
	strv_free(*out);
	*out = v;
	return 0;
}

/* One of names[], as its index. */
static int
get_enum(struct parser *p, const char *path, const cJSON *item, const char *const *names,
	 size_t n, const char *expect, int *out)
{
	if (cJSON_IsString(item))
		for (size_t i = 0; i < n; i++)
			if (strcmp(item->valuestring, names[i]) == 0) {
				*out = (int)i;
				return 0;
			}
	return fail(p, path, "must be %s", expect);
}

/* defaults and scheduler entries: grace, stop_signal, ready_after, ... */
static int
timing_key(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const char *const kill_modes[] = {"group", "process"};
	struct timing_spec *ts = target;
	const char *key = item->string;
	int64_t n = 0; /* set by get_duration/json_get_int on success */
	int km = 0;

	if (strcmp(key, "stop_signal") == 0) {
		int sig = -1;
		if (cJSON_IsString(item))
			sig = signal_parse(item->valuestring);
		else if (json_get_int(item, 1, NSIG - 1, &n) == 0)
			sig = (int)n;
		else if (!cJSON_IsNumber(item))
			return fail(p, path, "must be a signal name or number");
		if (sig <= 0) {
			if (cJSON_IsString(item))
				return fail(p, path, "unknown signal \"%.32s\"", item->valuestring);
			return fail(p, path, "unknown signal %g", item->valuedouble);
		}
		ts->t.stop_signal = sig;
		ts->set |= T_SET_SIGNAL;
		return 0;
	}
	if (strcmp(key, "kill_mode") == 0) {
		if (get_enum(p, path, item, kill_modes, 2, "\"group\" or \"process\"", &km) < 0)
			return -1;
		ts->t.kill_mode = km == 0 ? KILL_GROUP : KILL_PROCESS;
		ts->set |= T_SET_KILL_MODE;
		return 0;
	}
	if (get_duration(p, path, item, &n) < 0)
		return -1;
	if (strcmp(key, "grace") == 0) {
		ts->t.grace_ms = n;
		ts->set |= T_SET_GRACE;
	} else if (strcmp(key, "ready_after") == 0) {
		ts->t.ready_after_ms = n;
		ts->set |= T_SET_READY;
	} else if (strcmp(key, "startup_timeout") == 0) {
		if (n <= 0)
			return fail(p, path, "must be more than 0");
		ts->t.startup_timeout_ms = n;
		ts->set |= T_SET_STARTUP;
	} else {
		ts->t.disable_timeout_ms = n;
		ts->set |= T_SET_DISABLE;
	}
	return 0;
}

static const struct key timing_keys[] = {
	{"grace", timing_key},		 {"stop_signal", timing_key},
	{"ready_after", timing_key},	 {"startup_timeout", timing_key},
	{"disable_timeout", timing_key}, {"kill_mode", timing_key},
};

static int
key_defaults(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct timing_spec ts = {p->c->defaults, 0};

	(void)target;
	if (walk_object(p, path, item, timing_keys, sizeof(timing_keys) / sizeof(timing_keys[0]),
			&ts) < 0)
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

/* schedulers[i] */

static int
entry_name(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;

	if (get_string(p, path, item, &ec->e->name) < 0)
		return -1;
	if (!sched_name_valid(ec->e->name))
		return fail(p, path, "invalid name \"%.100s\"", ec->e->name);
	ec->has_name = true;
	return 0;
}

static int
entry_path(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;

	if (cJSON_IsNull(item))
		return 0;
	if (get_string(p, path, item, &ec->e->path) < 0)
		return -1;
	if (ec->e->path[0] != '/')
		return fail(p, path, "must be an absolute path");
	return 0;
}

static int
entry_args(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;

	return get_strv(p, path, item, &ec->e->args);
}

static int
entry_ops(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;

	if (cJSON_IsNull(item))
		return 0;
	if (!cJSON_IsString(item) || item->valuestring[0] == '\0')
		return fail(p, path, "must be a non-empty string");
	return get_string(p, path, item, &ec->e->ops);
}

static int
entry_kind(struct parser *p, const char *path, const cJSON *item, void *target)
{
	static const char *const kinds[] = {"sched_ext", "process"};
	struct entry_ctx *ec = target;
	int i = 0;

	if (get_enum(p, path, item, kinds, 2, "\"sched_ext\" or \"process\"", &i) < 0)
		return -1;
	ec->e->kind = i == 0 ? KIND_SCHED_EXT : KIND_PROCESS;
	return 0;
}

/* What execve and a shell would take: [A-Za-z_][A-Za-z0-9_]*. */
static bool
env_name_valid(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int
entry_env(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;
	const cJSON *v, *prev;
	char **env;
	size_t n = 0;
	char sub[PATH_BUF];

	if (!cJSON_IsObject(item))
		return fail(p, path, "must be an object of strings");
	cJSON_ArrayForEach(v, item)
	{
		if (!env_name_valid(v->string))
			return fail(p, path, "invalid variable name \"%.64s\"", v->string);
		child_path(sub, sizeof(sub), path, v->string);
		for (prev = item->child; prev != v; prev = prev->next)
			if (strcmp(prev->string, v->string) == 0)
				return fail(p, sub, "duplicate key");
		if (!cJSON_IsString(v)) {
			return fail(p, sub, "must be a string");
		}
		n++;
	}
	if ((env = calloc(n + 1, sizeof(*env))) == NULL)
		return fail(p, path, "out of memory");
	strv_free(ec->e->env);
	ec->e->env = env;
	n = 0;
	cJSON_ArrayForEach(v, item)
	{
		if (asprintf(&env[n], "%s=%s", v->string, v->valuestring) < 0) {
			env[n] = NULL;
			return fail(p, path, "out of memory");
		}
		n++;
	}
	return 0;
}

static int
entry_modes(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;
	struct sched_entry *e = ec->e;
	const cJSON *m, *prev;
	char sub[PATH_BUF];
	size_t n;

	if (!cJSON_IsObject(item))
		return fail(p, path, "must be an object of argument lists");
	for (size_t i = 0; i < e->nmodes; i++) {
		free(e->modes[i].name);
		strv_free(e->modes[i].args);
	}
	free(e->modes);
	e->nmodes = 0;
	n = (size_t)cJSON_GetArraySize(item);
	if ((e->modes = calloc(n + 1, sizeof(*e->modes))) == NULL)
		return fail(p, path, "out of memory");
	e->nmodes = n;
	n = 0;
	cJSON_ArrayForEach(m, item)
	{
		struct sched_mode *sm = &e->modes[n++];
		if (!sched_name_valid(m->string))
			return fail(p, path, "invalid mode name \"%.64s\"", m->string);
		child_path(sub, sizeof(sub), path, m->string);
		for (prev = item->child; prev != m; prev = prev->next)
			if (strcmp(prev->string, m->string) == 0)
				return fail(p, sub, "duplicate key");
		if ((sm->name = strdup(m->string)) == NULL)
			return fail(p, path, "out of memory");
		if (get_strv(p, sub, m, &sm->args) < 0)
			return -1;
	}
	return 0;
}

static int
entry_client_args(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;

	return get_bool(p, path, item, &ec->e->client_args);
}

static int
entry_timing(struct parser *p, const char *path, const cJSON *item, void *target)
{
	struct entry_ctx *ec = target;

	return timing_key(p, path, item, ec->ts);
}

static const struct key entry_keys[] = {
	{"name", entry_name},
	{"path", entry_path},
	{"args", entry_args},
	{"ops", entry_ops},
	{"kind", entry_kind},
	{"env", entry_env},
	{"modes", entry_modes},
	{"client_args", entry_client_args},
	{"grace", entry_timing},
	{"stop_signal", entry_timing},
	{"ready_after", entry_timing},
	{"startup_timeout", entry_timing},
	{"disable_timeout", entry_timing},
	{"kill_mode", entry_timing},
};

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
		struct entry_ctx ec = {&c->schedulers[n], &p->entry_t[n], false};

		snprintf(sub, sizeof(sub), "%s[%zu]", path, n);
		ec.e->kind = KIND_SCHED_EXT;
		ec.e->args = calloc(1, sizeof(char *));
		ec.e->env = calloc(1, sizeof(char *));
		if (ec.e->args == NULL || ec.e->env == NULL)
			return fail(p, sub, "out of memory");
		if (walk_object(p, sub, s, entry_keys, sizeof(entry_keys) / sizeof(entry_keys[0]),
				&ec) < 0)
			return -1;
		if (!ec.has_name)
			return fail(p, sub, "missing \"name\"");
		for (size_t i = 0; i < n; i++)
			if (strcmp(c->schedulers[i].name, ec.e->name) == 0) {
				char name_path[64];
				snprintf(name_path, sizeof(name_path), "schedulers[%zu].name", n);
				return fail(p, name_path, "duplicate name \"%s\"", ec.e->name);
			}
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
	{"schedulers", key_schedulers},
};

/* Defaults first, then each entry's overrides: defaults may come after schedulers. */
static void
apply_timing(struct parser *p)
{
	struct config *c = p->c;

	for (size_t i = 0; i < c->nschedulers; i++) {
		const struct timing_spec *ts = &p->entry_t[i];
		struct timing *t = &c->schedulers[i].t;

		*t = c->defaults;
		if (ts->set & T_SET_GRACE)
			t->grace_ms = ts->t.grace_ms;
		if (ts->set & T_SET_SIGNAL)
			t->stop_signal = ts->t.stop_signal;
		if (ts->set & T_SET_READY)
			t->ready_after_ms = ts->t.ready_after_ms;
		if (ts->set & T_SET_STARTUP)
			t->startup_timeout_ms = ts->t.startup_timeout_ms;
		if (ts->set & T_SET_DISABLE)
			t->disable_timeout_ms = ts->t.disable_timeout_ms;
		if (ts->set & T_SET_KILL_MODE)
			t->kill_mode = ts->t.kill_mode;
	}
}

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
		apply_timing(&p);
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
