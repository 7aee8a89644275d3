/* The registry: which schedulers there are (list) and what a name runs (resolve). */
#include "registry.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz.h"
#include "names.h"

static enum proto_err __attribute__((format(printf, 4, 5)))
resolve_fail(enum proto_err code, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		text_sanitize(err); /* it quotes what the client sent */
	}
	return code;
}

static bool
is_executable_file(const char *path)
{
	struct stat st;

	return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * Would root run the discovered file dir/name? It must be a regular executable file
 * (symlinks followed) owned by root that group and others may not write, in a
 * directory owned by root that group and others may not write (or anyone could swap
 * the file between this check and the exec). Otherwise false, with why.
 */
static bool
discover_safe(const char *dir, const char *path, char *why, size_t whylen)
{
	struct stat st;

	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, whylen,
			 "directory %.200s is not owned by root or is writable by group or others",
			 dir);
		return false;
	}
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
		return false;
	if (st.st_uid != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(why, whylen,
			 "%.200s is not owned by root or is writable by group or others", path);
		return false;
	}
	return true;
}

/*
 * The first DIR/name on discover_path that is an executable file; malloc'd, or NULL.
 * A file found there that root must not run (discover_safe) stops the search: NULL with
 * why set, so the caller can say so; why is "" when nothing was found.
 */
static char *
discover(const struct config *c, const char *name, char *why, size_t whylen)
{
	const char *s, *end;
	char *found, *dir;

	why[0] = '\0';
	if (c->discover_path == NULL)
		return NULL;
	for (s = c->discover_path; *s != '\0'; s = *end ? end + 1 : end) {
		end = strchrnul(s, ':');
		if (end == s || *s != '/')
			continue;
		if ((dir = strndup(s, (size_t)(end - s))) == NULL)
			return NULL;
		if (asprintf(&found, "%s/%s", dir, name) < 0) {
			free(dir);
			return NULL;
		}
		if (is_executable_file(found)) {
			bool ok = discover_safe(dir, found, why, whylen);
			free(dir);
			if (ok)
				return found;
			free(found);
			if (why[0] != '\0')
				return NULL;
			continue;
		}
		free(dir);
		free(found);
	}
	return NULL;
}

/* Only sched_ext schedulers are discovered: names that start with scx_. */
static bool
discoverable_name(const char *name)
{
	return strncmp(name, "scx_", 4) == 0;
}

static const struct sched_entry *
find_entry(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nschedulers; i++)
		if (strcmp(c->schedulers[i].name, name) == 0)
			return &c->schedulers[i];
	return NULL;
}

static const struct sched_mode *
find_mode(const struct sched_entry *e, const char *mode)
{
	for (size_t i = 0; i < e->nmodes; i++)
		if (strcmp(e->modes[i].name, mode) == 0)
			return &e->modes[i];
	return NULL;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

static enum proto_err
unknown_mode(const struct sched_entry *e, const char *mode, char *err, size_t errlen)
{
	char list[512] = "";
	size_t used = 0;

	if (e->nmodes == 0)
		return resolve_fail(E_BAD_REQUEST, err, errlen,
				    "unknown mode \"%.64s\" for %s (has no modes)", mode, e->name);
	for (size_t i = 0; i < e->nmodes && used < sizeof(list); i++) {
		int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
				 e->modes[i].name);
		if (w < 0)
			break;
		used += (size_t)w;
	}
	return resolve_fail(E_BAD_REQUEST, err, errlen, "unknown mode \"%.64s\" for %s (modes: %s)",
			    mode, e->name, list);
}

/* argv = basename(path), entry args, mode args, client args. */
static char **
build_argv(const char *path, char *const *args, char *const *mode_args, char *const *client)
{
	size_t n = 1 + strv_len(args) + strv_len(mode_args) + strv_len(client), k = 0;
	char *const *parts[] = {args, mode_args, client};
	char **v = calloc(n + 1, sizeof(*v));

	if (v == NULL || (v[k++] = strdup(base_name(path))) == NULL)
		goto fail;
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; parts[i] != NULL && parts[i][j] != NULL; j++)
			if ((v[k++] = strdup(parts[i][j])) == NULL)
				goto fail;
	return v;
fail:
	strv_free(v);
	return NULL;
}

static char *
strdup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

static struct identity *
build_identity(const struct sched_entry *e, const char *path, const struct sched_mode *m,
	       char *const *client_args)
{
	static char *const none[] = {NULL};
	struct identity *id = calloc(1, sizeof(*id));

	if (id == NULL)
		return NULL;
	id->name = strdup(e->name);
	id->path = strdup(path);
	id->ops = strdup_or_null(e->ops);
	id->mode = m != NULL ? strdup(m->name) : NULL;
	id->argv = build_argv(path, e->args, m != NULL ? m->args : NULL, client_args);
	id->env = strv_dup(e->env != NULL ? e->env : none);
	id->client_args = strv_dup(client_args != NULL ? client_args : none);
	id->kind = e->kind;
	id->t = e->t;
	if (id->name == NULL || id->path == NULL || (e->ops != NULL && id->ops == NULL) ||
	    (m != NULL && id->mode == NULL) || id->argv == NULL || id->env == NULL ||
	    id->client_args == NULL) {
		identity_free(id);
		return NULL;
	}
	return id;
}

static enum proto_err
discover_fail(const char *name, const char *why, char *err, size_t errlen)
{
	if (why[0] == '\0')
		return resolve_fail(E_UNKNOWN_SCHEDULER, err, errlen,
				    "unknown scheduler \"%s\": not in the config nor on "
				    "discover_path",
				    name);
	return resolve_fail(E_UNKNOWN_SCHEDULER, err, errlen,
			    "scheduler \"%s\" is not run: %s (root runs only a discovered "
			    "file that is owned by root and that only root may write)",
			    name, why);
}

enum proto_err
registry_resolve(const struct config *c, const char *name, const char *mode,
		 char *const *client_args, bool privileged, struct identity **out, char *err,
		 size_t errlen)
{
	struct sched_entry tmp = {0};
	const struct sched_entry *e;
	const struct sched_mode *m = NULL;
	char *found = NULL, why[512];
	const char *path;

	*out = NULL;
	if (name == NULL || *name == '\0')
		return resolve_fail(E_INVALID_NAME, err, errlen, "missing scheduler name");
	tmp.kind = KIND_SCHED_EXT;
	tmp.t = c->defaults;
	if (name[0] == '/') {
		/* Without allow_paths a path is no name at all; with it, root's alone. */
		if (!c->allow_paths)
			return resolve_fail(E_INVALID_NAME, err, errlen,
					    "absolute paths are not names: allow_paths is false");
		if (!authz_may_run_path(c, privileged))
			return resolve_fail(E_PERMISSION_DENIED, err, errlen,
					    "absolute paths need root");
		if (!is_executable_file(name))
			return resolve_fail(E_UNKNOWN_SCHEDULER, err, errlen,
					    "\"%.200s\" is not an executable file", name);
		if (!sched_name_valid(base_name(name)))
			return resolve_fail(E_INVALID_NAME, err, errlen,
					    "invalid scheduler name \"%.200s\"", base_name(name));
		tmp.name = (char *)base_name(name);
		e = &tmp;
		path = name;
	} else {
		if (!sched_name_valid(name))
			return resolve_fail(E_INVALID_NAME, err, errlen,
					    "invalid scheduler name \"%.200s\"", name);
		e = find_entry(c, name);
		if (e == NULL) {
			if (!discoverable_name(name))
				return resolve_fail(E_UNKNOWN_SCHEDULER, err, errlen,
						    "unknown scheduler \"%s\": not in the config, "
						    "and only scx_* names are discovered on "
						    "discover_path",
						    name);
			if ((found = discover(c, name, why, sizeof(why))) == NULL)
				return discover_fail(name, why, err, errlen);
			tmp.name = (char *)name;
			e = &tmp;
		}
		path = e->path != NULL ? e->path : found;
	}
	if (mode != NULL && (m = find_mode(e, mode)) == NULL) {
		free(found);
		return unknown_mode(e, mode, err, errlen);
	}
	if (strv_len(client_args) > 0 && !authz_may_pass_args(e, privileged)) {
		free(found);
		return resolve_fail(E_PERMISSION_DENIED, err, errlen,
				    "extra arguments for %s need root or client_args", e->name);
	}
	if (path == NULL && (path = found = discover(c, name, why, sizeof(why))) == NULL) {
		if (why[0] != '\0')
			return discover_fail(name, why, err, errlen);
		return resolve_fail(E_UNKNOWN_SCHEDULER, err, errlen,
				    "scheduler \"%s\" has no path and is not on discover_path",
				    name);
	}
	*out = build_identity(e, path, m, client_args);
	free(found);
	if (*out == NULL)
		return resolve_fail(E_INTERNAL, err, errlen, "out of memory");
	return E_OK;
}

/* ---- list ---- */

static bool
listed(const cJSON *arr, const char *name)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return true;
	}
	return false;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static cJSON *
list_item(const char *name, const char *path, enum sched_kind kind, const char *ops,
	  char *const *args, const struct sched_entry *e, const char *source)
{
	cJSON *o = cJSON_CreateObject(), *modes = cJSON_CreateArray();

	cJSON_AddStringToObject(o, "name", name);
	if (path != NULL)
		cJSON_AddStringToObject(o, "path", path);
	else
		cJSON_AddNullToObject(o, "path");
	cJSON_AddStringToObject(o, "kind", kind_name(kind));
	if (ops != NULL)
		cJSON_AddStringToObject(o, "ops", ops);
	else
		cJSON_AddNullToObject(o, "ops");
	cJSON_AddItemToObject(o, "args", strv_to_json(args));
	for (size_t i = 0; e != NULL && i < e->nmodes; i++)
		cJSON_AddItemToArray(modes, cJSON_CreateString(e->modes[i].name));
	cJSON_AddItemToObject(o, "modes", modes);
	cJSON_AddStringToObject(o, "source", source);
	return o;
}

static cJSON *
discovered_item(const char *name, const char *path)
{
	return list_item(name, path, KIND_SCHED_EXT, NULL, NULL, NULL, "discovered");
}

/* scx_* executables in one directory, sorted, that nothing before them named. */
static void
list_dir(const char *dir, cJSON *arr)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL, *path, why[512];
	size_t n = 0, cap = 0;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!discoverable_name(de->d_name) || !sched_name_valid(de->d_name))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **p = realloc(names, ncap * sizeof(*names));
			if (p == NULL)
				break;
			names = p;
			cap = ncap;
		}
		if ((names[n] = strdup(de->d_name)) != NULL)
			n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		if (!listed(arr, names[i]) && asprintf(&path, "%s/%s", dir, names[i]) >= 0) {
			if (is_executable_file(path) && discover_safe(dir, path, why, sizeof(why)))
				cJSON_AddItemToArray(arr, discovered_item(names[i], path));
			free(path);
		}
		free(names[i]);
	}
	free(names);
}

cJSON *
registry_list(const struct config *c)
{
	cJSON *res = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(res, "schedulers");
	const char *s, *end;

	for (size_t i = 0; i < c->nschedulers; i++) {
		const struct sched_entry *e = &c->schedulers[i];
		char why[512];
		char *found = e->path == NULL ? discover(c, e->name, why, sizeof(why)) : NULL;

		cJSON_AddItemToArray(arr, list_item(e->name, e->path != NULL ? e->path : found,
						    e->kind, e->ops, e->args, e, "config"));
		free(found);
	}
	for (s = c->discover_path != NULL ? c->discover_path : ""; *s != '\0';
	     s = *end ? end + 1 : end) {
		char *dir;
		end = strchrnul(s, ':');
		if (end == s || *s != '/' || (dir = strndup(s, (size_t)(end - s))) == NULL)
			continue;
		list_dir(dir, arr);
		free(dir);
	}
	return res;
}
