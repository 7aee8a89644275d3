/*
 * libFuzzer harness for schedlifed.json: config_parse, then what the daemon does with a
 * config it accepted (registry_resolve, registry_list, config_policy, identity JSON).
 *
 * The first byte holds flags, the rest is the file:
 *   bit 0  allow_reboot
 *   bit 1  the caller of registry_resolve is privileged (root)
 *   bit 2  also run registry_list (reads the discover_path directories: slower)
 *   bit 3  pass client args to registry_resolve
 * Seeds start with one of '0'..'?' (0x30-0x3f) so they stay readable.
 *
 * Nothing here writes: resolve and list only stat, access and read directories named by
 * the config's discover_path and absolute scheduler paths.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "authz.h"
#include "config.h"
#include "duration.h"
#include "fuzz_util.h"
#include "identity.h"
#include "names.h"
#include "proto.h"
#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
strv_same(char *const *a, char *const *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return a == b;
	for (i = 0; a[i] != NULL && b[i] != NULL; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return a[i] == NULL && b[i] == NULL;
}

static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static bool
timing_same(const struct timing *a, const struct timing *b)
{
	return a->grace_ms == b->grace_ms && a->ready_after_ms == b->ready_after_ms &&
	       a->startup_timeout_ms == b->startup_timeout_ms &&
	       a->disable_timeout_ms == b->disable_timeout_ms && a->stop_signal == b->stop_signal &&
	       a->kill_mode == b->kill_mode;
}

static void
check_timing(const struct timing *t)
{
	CHECK(t->grace_ms >= 0 && t->grace_ms <= DURATION_MAX_MS);
	CHECK(t->ready_after_ms >= 0 && t->ready_after_ms <= DURATION_MAX_MS);
	CHECK(t->startup_timeout_ms > 0 && t->startup_timeout_ms <= DURATION_MAX_MS);
	CHECK(t->disable_timeout_ms >= 0 && t->disable_timeout_ms <= DURATION_MAX_MS);
	CHECK(t->stop_signal > 0 && t->stop_signal < NSIG);
	CHECK(t->kill_mode == KILL_GROUP || t->kill_mode == KILL_PROCESS);
}

static void
check_strv(char *const *v)
{
	CHECK(v != NULL);
	for (size_t i = 0; v[i] != NULL; i++)
		CHECK(strlen(v[i]) < (size_t)-1);
}

/* What an accepted config promises (SPEC 2). */
static void
check_config(const struct config *c, bool allow_reboot)
{
	check_timing(&c->defaults);
	CHECK(c->on_exit == ON_EXIT_NONE || c->on_exit == ON_EXIT_RESTART ||
	      c->on_exit == ON_EXIT_FALLBACK || (c->on_exit == ON_EXIT_REBOOT && allow_reboot));
	if (c->on_exit == ON_EXIT_FALLBACK)
		CHECK(c->fallback != NULL);
	if (c->on_exit_exec != NULL) {
		check_strv(c->on_exit_exec);
		CHECK(c->on_exit_exec[0] != NULL && c->on_exit_exec[0][0] == '/');
	}
	CHECK(c->restart_delay_ms >= 0 && c->restart_delay_ms <= DURATION_MAX_MS);
	CHECK(c->restart_max_delay_ms >= 0 && c->restart_max_delay_ms <= DURATION_MAX_MS);
	CHECK(c->restart_window_ms >= 0 && c->restart_window_ms <= DURATION_MAX_MS);
	CHECK(c->restart_burst >= 1);
	CHECK(c->fallback == NULL || sched_name_valid(c->fallback));
	CHECK(c->boot == NULL || sched_name_valid(c->boot));
	CHECK(c->on_shutdown == SHUTDOWN_DETACH || c->on_shutdown == SHUTDOWN_LEAVE);
	CHECK(c->log_keep >= 1);
	CHECK(c->discover_path != NULL);
	for (const char *s = c->discover_path, *end; *s != '\0'; s = *end ? end + 1 : end) {
		end = strchrnul(s, ':');
		CHECK(end == s || *s == '/');
	}
	CHECK(c->ncontrol_uids == 0 || c->control_uids != NULL);
	if (c->has_group)
		CHECK(c->control_group != NULL && c->control_group[0] != '\0');
	CHECK(c->nschedulers == 0 || c->schedulers != NULL);
	for (size_t i = 0; i < c->nschedulers; i++) {
		const struct sched_entry *e = &c->schedulers[i];

		CHECK(e->name != NULL && sched_name_valid(e->name));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(c->schedulers[j].name, e->name) != 0);
		CHECK(e->path == NULL || e->path[0] == '/');
		CHECK(e->ops == NULL || e->ops[0] != '\0');
		CHECK(e->kind == KIND_SCHED_EXT || e->kind == KIND_PROCESS);
		check_strv(e->args);
		check_strv(e->env);
		for (size_t k = 0; e->env[k] != NULL; k++) {
			const char *eq = strchr(e->env[k], '=');
			CHECK(eq != NULL && eq != e->env[k]);
		}
		CHECK(e->nmodes == 0 || e->modes != NULL);
		for (size_t m = 0; m < e->nmodes; m++) {
			CHECK(e->modes[m].name != NULL && sched_name_valid(e->modes[m].name));
			check_strv(e->modes[m].args);
			for (size_t k = 0; k < m; k++)
				CHECK(strcmp(e->modes[k].name, e->modes[m].name) != 0);
		}
		check_timing(&e->t);
	}
}

static const struct sched_entry *
entry_named(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->nschedulers; i++)
		if (strcmp(c->schedulers[i].name, name) == 0)
			return &c->schedulers[i];
	return NULL;
}

/* An identity that resolve handed out, and its JSON forms for status and state.json. */
static void
check_identity(const struct config *c, const struct identity *id, const char *name,
	       const char *mode, char *const *client_args)
{
	const struct sched_entry *e = name[0] == '/' ? NULL : entry_named(c, name);
	const char *slash;
	struct identity *back, *dup;
	cJSON *j, *state;
	char *line;
	size_t n;

	CHECK(id->name != NULL && sched_name_valid(id->name));
	CHECK(id->path != NULL && id->path[0] == '/');
	CHECK(id->argv != NULL && id->argv[0] != NULL);
	slash = strrchr(id->path, '/');
	CHECK(strcmp(id->argv[0], slash + 1) == 0);
	CHECK(str_same(id->mode, mode));
	CHECK(strv_same(id->client_args, client_args != NULL ? client_args : (char *[]){NULL}));
	check_strv(id->env);
	check_timing(&id->t);
	if (e != NULL) {
		size_t want = 1 + strv_len(e->args) + strv_len(client_args);
		for (size_t m = 0; mode != NULL && m < e->nmodes; m++)
			if (strcmp(e->modes[m].name, mode) == 0)
				want += strv_len(e->modes[m].args);
		CHECK(strcmp(id->name, e->name) == 0);
		CHECK(e->path == NULL || strcmp(id->path, e->path) == 0);
		CHECK(str_same(id->ops, e->ops));
		CHECK(id->kind == e->kind);
		CHECK(strv_len(id->argv) == want);
		CHECK(strv_same(id->env, e->env));
		CHECK(timing_same(&id->t, &e->t));
	} else {
		CHECK(id->ops == NULL && id->kind == KIND_SCHED_EXT);
		CHECK(timing_same(&id->t, &c->defaults));
	}

	/* status's view */
	j = identity_to_json(id);
	CHECK(j != NULL);
	line = proto_line(j, &n);
	CHECK(line != NULL && memchr(line, '\n', n - 1) == NULL);
	free(line);
	cJSON_Delete(j);

	/* state.json keeps all of it across a restart of the daemon */
	state = identity_to_state(id);
	CHECK(state != NULL);
	line = proto_line(state, &n);
	CHECK(line != NULL);
	cJSON_Delete(state);
	state = cJSON_Parse(line);
	free(line);
	CHECK(state != NULL);
	back = identity_from_state(state);
	cJSON_Delete(state);
	CHECK(back != NULL);
	CHECK(strcmp(back->name, id->name) == 0 && strcmp(back->path, id->path) == 0);
	CHECK(str_same(back->ops, id->ops) && str_same(back->mode, id->mode));
	CHECK(strv_same(back->argv, id->argv) && strv_same(back->env, id->env));
	CHECK(strv_same(back->client_args, id->client_args));
	CHECK(back->kind == id->kind && timing_same(&back->t, &id->t));
	dup = identity_dup(back);
	CHECK(dup != NULL && strv_same(dup->argv, back->argv));
	identity_free(dup);
	identity_free(back);
}

static void
resolve_one(const struct config *c, const char *name, const char *mode, char *const *client_args,
	    bool privileged)
{
	struct identity *id = (struct identity *)1;
	char err[256];
	enum proto_err e;

	memset(err, 'x', sizeof(err));
	e = registry_resolve(c, name, mode, client_args, privileged, &id, err, sizeof(err));
	if (e == E_OK) {
		CHECK(id != NULL);
		check_identity(c, id, name, mode, client_args);
		identity_free(id);
		return;
	}
	CHECK(id == NULL);
	CHECK(e == E_INVALID_NAME || e == E_UNKNOWN_SCHEDULER || e == E_PERMISSION_DENIED ||
	      e == E_BAD_REQUEST || e == E_INTERNAL);
	CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
	/* A name the config lists always resolves for root, or fails only for want of a path. */
	if (privileged && entry_named(c, name) != NULL && mode == NULL)
		CHECK(e == E_UNKNOWN_SCHEDULER && entry_named(c, name)->path == NULL);
}

static void
exercise(const struct config *c, uint8_t flags)
{
	static char *const some_args[] = {"--verbose", "", "-x=1", NULL};
	char *const *cargs = (flags & 8) ? some_args : NULL;
	bool priv = (flags & 2) != 0;
	struct lc_policy pol;
	const char *names[] = {c->fallback, c->boot, "scx_simple", "sh", "/bin/sh",
			       "/usr/bin/[", "/nonexistent/scx_x", "bad name", "", "-x"};

	config_policy(c, &pol);
	CHECK(pol.burst == c->restart_burst && pol.fallback == c->fallback);

	for (size_t i = 0; i < c->nschedulers && i < 8; i++) {
		const struct sched_entry *e = &c->schedulers[i];

		resolve_one(c, e->name, NULL, cargs, priv);
		resolve_one(c, e->name, NULL, NULL, true);
		if (e->nmodes > 0)
			resolve_one(c, e->name, e->modes[e->nmodes - 1].name, cargs, priv);
		resolve_one(c, e->name, "no-such-mode", NULL, priv);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i] != NULL)
			resolve_one(c, names[i], NULL, cargs, priv);

	CHECK(authz_may_control(c, 0, 0));

	if (flags & 4) {
		cJSON *list = registry_list(c), *arr;
		char *line;
		size_t n;

		CHECK(list != NULL);
		arr = cJSON_GetObjectItemCaseSensitive(list, "schedulers");
		CHECK(cJSON_IsArray(arr) && (size_t)cJSON_GetArraySize(arr) >= c->nschedulers);
		line = proto_line(list, &n);
		CHECK(line != NULL && memchr(line, '\n', n - 1) == NULL);
		free(line);
		cJSON_Delete(list);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];
	uint8_t flags;
	bool allow_reboot;
	int rc;

	if (size == 0)
		return 0;
	flags = data[0];
	allow_reboot = (flags & 1) != 0;
	memset(&c, 0xa5, sizeof(c));
	memset(err, 'x', sizeof(err));
	rc = config_parse((const char *)data + 1, size - 1, allow_reboot, &c, err, sizeof(err));
	if (rc != 0) {
		CHECK(rc == -1);
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		return 0;
	}
	check_config(&c, allow_reboot || getpid() == 1);
	exercise(&c, flags);
	config_free(&c);
	CHECK(c.schedulers == NULL && c.discover_path == NULL);
	return 0;
}
