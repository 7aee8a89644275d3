/* One schedulers[] entry of schedlifed.json: its keys, and its timing over the defaults. */
#include "config_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* The entry being read, and where its timing keys go. */
struct entry_ctx {
	struct sched_entry *e;
	struct timing_spec *ts;
	bool has_name;
};

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

int
entry_parse(struct parser *p, const char *path, const cJSON *item, size_t i)
{
	struct entry_ctx ec = {&p->c->schedulers[i], &p->entry_t[i], false};

	ec.e->kind = KIND_SCHED_EXT;
	ec.e->args = calloc(1, sizeof(char *));
	ec.e->env = calloc(1, sizeof(char *));
	if (ec.e->args == NULL || ec.e->env == NULL)
		return fail(p, path, "out of memory");
	if (walk_object(p, path, item, entry_keys, sizeof(entry_keys) / sizeof(entry_keys[0]),
			&ec) < 0)
		return -1;
	if (!ec.has_name)
		return fail(p, path, "missing \"name\"");
	for (size_t j = 0; j < i; j++)
		if (strcmp(p->c->schedulers[j].name, ec.e->name) == 0) {
			char name_path[64];
			snprintf(name_path, sizeof(name_path), "schedulers[%zu].name", i);
			return fail(p, name_path, "duplicate name \"%s\"", ec.e->name);
		}
	return 0;
}

/* Defaults first, then each entry's overrides: defaults may come after schedulers. */
void
apply_entry_timing(struct parser *p)
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

