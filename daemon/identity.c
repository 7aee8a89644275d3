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

/* A number from state.json within [min, max], else the default: the file is input too. */
static int64_t
num(const cJSON *o, const char *key, int64_t min, int64_t max, int64_t dflt)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(n) || !(n->valuedouble >= (double)min && n->valuedouble <= (double)max))
		return dflt;
	return (int64_t)n->valuedouble;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

struct identity *
identity_from_state(const cJSON *o)
{
	struct identity *id;
	const char *kind = str(o, "kind"), *km = str(o, "kill_mode");

	if (!cJSON_IsObject(o) || str(o, "name") == NULL || str(o, "path") == NULL)
		return NULL;
	if ((id = calloc(1, sizeof(*id))) == NULL)
		return NULL;
	id->name = strdup(str(o, "name"));
	id->path = strdup(str(o, "path"));
	id->ops = strdup_or_null(str(o, "ops"));
	id->mode = strdup_or_null(str(o, "mode"));
	id->argv = strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "argv"));
	id->env = strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "env"));
	id->client_args = strv_from_json(cJSON_GetObjectItemCaseSensitive(o, "client_args"));
	id->kind = (kind != NULL && strcmp(kind, "process") == 0) ? KIND_PROCESS : KIND_SCHED_EXT;
	id->t.grace_ms = num(o, "grace_ms", 0, DURATION_MAX_MS, 10000);
	id->t.ready_after_ms = num(o, "ready_after_ms", 0, DURATION_MAX_MS, 1000);
	id->t.startup_timeout_ms = num(o, "startup_timeout_ms", 1, DURATION_MAX_MS, 10000);
	id->t.disable_timeout_ms = num(o, "disable_timeout_ms", 0, DURATION_MAX_MS, 10000);
	id->t.stop_signal = (int)num(o, "stop_signal", 1, 64, 15);
	id->t.kill_mode = (km != NULL && strcmp(km, "process") == 0) ? KILL_PROCESS : KILL_GROUP;
	if (id->name == NULL || id->path == NULL || id->argv == NULL || id->argv[0] == NULL ||
	    id->env == NULL || id->client_args == NULL || !sched_name_valid(id->name)) {
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
