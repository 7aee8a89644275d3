/* The parser's tools: a strict walk over a JSON object by key table, and value getters. */
#include "config_walk.h"

#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "names.h"

int
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

void
child_path(char *buf, size_t len, const char *path, const char *key)
{
	if (path == NULL || *path == '\0')
		snprintf(buf, len, "%.64s", key);
	else
		snprintf(buf, len, "%s.%.64s", path, key);
}

/* Strictness lives here: the object's type, duplicate keys and unknown keys. */
int
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

int
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

int
get_bool(struct parser *p, const char *path, const cJSON *item, bool *out)
{
	if (!cJSON_IsBool(item))
		return fail(p, path, "must be true or false");
	*out = cJSON_IsTrue(item);
	return 0;
}

int
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
int
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

int
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
int
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
int
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

int
walk_timing(struct parser *p, const char *path, const cJSON *item, struct timing_spec *ts)
{
	return walk_object(p, path, item, timing_keys,
			   sizeof(timing_keys) / sizeof(timing_keys[0]), ts);
}
