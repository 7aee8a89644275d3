/* Identity copies and their JSON forms for status and state.json. */
#include "identity.h"

#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "names.h"

const char *
kind_name(enum sched_kind kind)
{
	return kind == KIND_SCHED_EXT ? "sched_ext" : "process";
}

size_t
strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

char **
strv_dup(char *const *v)
{
	size_t n = strv_len(v);
	char **d = calloc(n + 1, sizeof(*d));

	if (d == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if ((d[i] = strdup(v[i])) == NULL) {
			strv_free(d);
			return NULL;
		}
	}
	return d;
}

void
strv_free(char **v)
{
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

cJSON *
strv_to_json(char *const *v)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

char **
strv_from_json(const cJSON *arr)
{
	const cJSON *s;
	char **v;
	size_t n = 0;

	if (!cJSON_IsArray(arr))
		return NULL;
	v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	cJSON_ArrayForEach(s, arr)
	{
		if (!cJSON_IsString(s) || (v[n++] = strdup(s->valuestring)) == NULL) {
			strv_free(v);
			return NULL;
		}
	}
	return v;
}

static char *
strdup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct identity *
identity_dup(const struct identity *id)
{
	struct identity *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return NULL;
	*d = *id;
	d->name = strdup(id->name);
	d->path = strdup(id->path);
	d->ops = strdup_or_null(id->ops);
	d->mode = strdup_or_null(id->mode);
	d->argv = strv_dup(id->argv);
	d->env = strv_dup(id->env);
	d->client_args = strv_dup(id->client_args);
	if (d->name == NULL || d->path == NULL || d->argv == NULL || d->env == NULL ||
	    d->client_args == NULL || (id->ops && !d->ops) || (id->mode && !d->mode)) {
		identity_free(d);
		return NULL;
	}
	return d;
}

void
identity_free(struct identity *id)
{
	if (id == NULL)
		return;
	free(id->name);
	free(id->path);
	free(id->ops);
	free(id->mode);
	strv_free(id->argv);
	strv_free(id->env);
	strv_free(id->client_args);
	free(id);
}

static void
add_string_or_null(cJSON *o, const char *key, const char *s)
{
	if (s != NULL)
		cJSON_AddStringToObject(o, key, s);
	else
		cJSON_AddNullToObject(o, key);
}

cJSON *
identity_to_json(const struct identity *id)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", id->name);
	cJSON_AddStringToObject(o, "path", id->path);
	/* args as they reach the program, without argv[0] */
	cJSON_AddItemToObject(o, "args", strv_to_json(id->argv != NULL ? id->argv + 1 : NULL));
	cJSON_AddStringToObject(o, "kind", kind_name(id->kind));
	add_string_or_null(o, "ops", id->ops);
	add_string_or_null(o, "mode", id->mode);
	return o;
}

cJSON *
identity_to_state(const struct identity *id)
{
	cJSON *o = identity_to_json(id);

	cJSON_AddItemToObject(o, "argv", strv_to_json(id->argv));
	cJSON_AddItemToObject(o, "env", strv_to_json(id->env));
	cJSON_AddItemToObject(o, "client_args", strv_to_json(id->client_args));
	cJSON_AddNumberToObject(o, "grace_ms", (double)id->t.grace_ms);
	cJSON_AddNumberToObject(o, "ready_after_ms", (double)id->t.ready_after_ms);
	cJSON_AddNumberToObject(o, "startup_timeout_ms", (double)id->t.startup_timeout_ms);
	cJSON_AddNumberToObject(o, "disable_timeout_ms", (double)id->t.disable_timeout_ms);
	cJSON_AddNumberToObject(o, "stop_signal", id->t.stop_signal);
	cJSON_AddStringToObject(o, "kill_mode", id->t.kill_mode == KILL_GROUP ? "group" : "process");
	return o;
}

/*
 * How long a string or a list from state.json may be: the file is input too. Beyond
 * anything a sane config gives (the config's own bound is its 1 MiB file).
 */
#define STATE_STR_MAX ((size_t)64 * 1024)
#define STATE_STRV_MAX 4096

/* An integral number within [min, max]. */
static bool
num(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n) || !(n->valuedouble >= (double)min && n->valuedouble <= (double)max) ||
	    n->valuedouble != (double)(int64_t)n->valuedouble)
		return false;
	*out = (int64_t)n->valuedouble;
	return true;
}

/* A string of at most STATE_STR_MAX bytes; with null_ok, also null or absent (NULL). */
static bool
str(const cJSON *o, const char *key, bool null_ok, const char **out)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	*out = NULL;
	if (s == NULL || cJSON_IsNull(s))
		return null_ok;
	if (!cJSON_IsString(s) || strlen(s->valuestring) > STATE_STR_MAX)
		return false;
	*out = s->valuestring;
	return true;
}

static bool
strv_ok(const cJSON *o, const char *key)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key), *s;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > STATE_STRV_MAX)
		return false;
	cJSON_ArrayForEach(s, a)
	{
		if (!cJSON_IsString(s) || strlen(s->valuestring) > STATE_STR_MAX)
			return false;
	}
	return true;
}

/* Every field present and as the config would have it; anything else is NULL. */
struct identity *
identity_from_state(const cJSON *o)
{
	struct identity *id;
	const char *name, *path, *ops, *mode, *kind, *km;
	int64_t grace, ready, startup, disable, sig;

	if (!cJSON_IsObject(o) || !str(o, "name", false, &name) || !sched_name_valid(name) ||
	    !str(o, "path", false, &path) || path[0] == '\0' || !str(o, "ops", true, &ops) ||
	    (ops != NULL && ops[0] == '\0') ||
	    !str(o, "mode", true, &mode) || !str(o, "kind", false, &kind) ||
	    !str(o, "kill_mode", false, &km) || !strv_ok(o, "argv") || !strv_ok(o, "env") ||
	    !strv_ok(o, "client_args") ||
	    !num(o, "grace_ms", 0, DURATION_MAX_MS, &grace) ||
	    !num(o, "ready_after_ms", 0, DURATION_MAX_MS, &ready) ||
	    !num(o, "startup_timeout_ms", 1, DURATION_MAX_MS, &startup) ||
	    !num(o, "disable_timeout_ms", 0, DURATION_MAX_MS, &disable) ||
	    !num(o, "stop_signal", 1, 64, &sig))
		return NULL;
	if ((strcmp(kind, "sched_ext") != 0 && strcmp(kind, "process") != 0) ||
	    (strcmp(km, "group") != 0 && strcmp(km, "process") != 0))
		return NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return NULL;
	id->name = strdup(name);
	id->path = strdup(path);
	id->ops = strdup_or_null(ops);
	id->mode = strdup_or_null(mode);
	id->argv = strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "argv"));
	id->env = strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "env"));
	id->client_args = strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "client_args"));
	id->kind = strcmp(kind, "process") == 0 ? KIND_PROCESS : KIND_SCHED_EXT;
	id->t.grace_ms = grace;
	id->t.ready_after_ms = ready;
	id->t.startup_timeout_ms = startup;
	id->t.disable_timeout_ms = disable;
	id->t.stop_signal = (int)sig;
	id->t.kill_mode = strcmp(km, "process") == 0 ? KILL_PROCESS : KILL_GROUP;
	if (id->name == NULL || id->path == NULL || (ops != NULL && id->ops == NULL) ||
	    (mode != NULL && id->mode == NULL) || id->argv == NULL || id->argv[0] == NULL ||
	    id->env == NULL || id->client_args == NULL) {
		identity_free(id);
		return NULL;
	}
	return id;
}

/* The kernel's ops equals the wanted name, or is it followed by '_' (a version suffix). */
bool
ops_matches(const char *want, const char *have)
{
	size_t n;

	if (have == NULL || *have == '\0')
		return false;
	if (want == NULL)
		return true;
	n = strlen(want);
	return strncmp(want, have, n) == 0 && (have[n] == '\0' || have[n] == '_');
}
