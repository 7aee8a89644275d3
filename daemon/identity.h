/* What a scheduler is: the resolved entry a spawn runs, kept whole across reloads. */
#ifndef SCHEDLIFE_IDENTITY_H
#define SCHEDLIFE_IDENTITY_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum sched_kind { KIND_SCHED_EXT, KIND_PROCESS };
enum kill_mode { KILL_GROUP, KILL_PROCESS };

struct timing {
	int64_t grace_ms;
	int64_t ready_after_ms;
	int64_t startup_timeout_ms;
	int64_t disable_timeout_ms;
	int stop_signal;
	enum kill_mode kill_mode;
};

struct identity {
	char *name;
	char *path;
	char *ops;  /* NULL: any non-empty ops */
	char *mode; /* NULL: none */
	char **argv; /* NULL-terminated; argv[0] is the name */
	char **env;  /* NULL-terminated "KEY=VALUE" additions */
	char **client_args; /* NULL-terminated: what the request added (restart keeps them) */
	enum sched_kind kind;
	struct timing t;
};

const char *kind_name(enum sched_kind kind);
struct identity *identity_dup(const struct identity *id);
void identity_free(struct identity *id);
cJSON *identity_to_json(const struct identity *id); /* status's "scheduler" */
cJSON *identity_to_state(const struct identity *id); /* everything, for state.json */
struct identity *identity_from_state(const cJSON *obj);
bool ops_matches(const char *want, const char *have);

/* NULL-terminated string vectors. */
char **strv_dup(char *const *v);
void strv_free(char **v);
size_t strv_len(char *const *v);
cJSON *strv_to_json(char *const *v);
char **strv_from_json(const cJSON *arr); /* NULL unless an array of strings */

#endif
