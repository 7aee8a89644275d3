/* The parser's tools: a strict walk over a JSON object by key table, and value getters. */
#ifndef SCHEDLIFE_CONFIG_WALK_H
#define SCHEDLIFE_CONFIG_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "config.h"

#define PATH_BUF 256 /* a key's path in an error: "schedulers[1].modes.fast[0]" */

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

/* One parse: the config it fills, and where its first error goes. */
struct parser {
	struct config *c;
	bool allow_reboot;
	struct timing_spec *entry_t; /* one per scheduler entry, applied at the end */
	char *err;
	size_t errlen;
};

/* A key's handler: path names the key ("on_exit.action"), target is the walk's. */
typedef int (*key_fn)(struct parser *p, const char *path, const cJSON *item, void *target);

struct key {
	const char *name;
	key_fn fn;
};

/* Write "path: message" to the parser's err; returns -1. */
int fail(struct parser *p, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* path.key, cut to fit. */
void child_path(char *buf, size_t len, const char *path, const char *key);
/*
 * Hand each key of obj to its handler in keys[], with target. Strictness lives here: obj
 * must be an object, and a duplicate or unknown key is an error.
 */
int walk_object(struct parser *p, const char *path, const cJSON *obj, const struct key *keys,
		size_t nkeys, void *target);

/* The getters: 0 with *out set, or -1 through fail(). */
int get_duration(struct parser *p, const char *path, const cJSON *item, int64_t *ms);
int get_bool(struct parser *p, const char *path, const cJSON *item, bool *out);
int get_string(struct parser *p, const char *path, const cJSON *item, char **out);
/* A scheduler name, or null for none. */
int get_name(struct parser *p, const char *path, const cJSON *item, char **out);
int get_strv(struct parser *p, const char *path, const cJSON *item, char ***out);
/* One of names[], as its index; expect says which, for the error. */
int get_enum(struct parser *p, const char *path, const cJSON *item, const char *const *names,
	     size_t n, const char *expect, int *out);
/* One timing key (grace, stop_signal, ...) into target, a struct timing_spec. */
int timing_key(struct parser *p, const char *path, const cJSON *item, void *target);
/* An object of timing keys, as "defaults" is. */
int walk_timing(struct parser *p, const char *path, const cJSON *item, struct timing_spec *ts);

#endif
