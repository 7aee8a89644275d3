/* state.json: written whole before the daemon acts on it, read back as hostile input. */
#ifndef SCHEDLIFE_STATE_H
#define SCHEDLIFE_STATE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "lifecycle.h"

/* Beyond this a seq is not an exact JSON number: refused. */
#define STATE_SEQ_MAX (INT64_C(1) << 53)

struct state_file {
	int64_t seq;
	struct lc_saved saved;	 /* saved.id, saved.target: owned until lc_restore */
	struct identity *last;
	cJSON *last_exit;
	int64_t start_time;	 /* of saved.pid, in clock ticks since boot; -1: unknown */
	char exe[PATH_MAX];	 /* of saved.pid when last written */
	char log[PATH_MAX];
	char cgroup[PATH_MAX];	 /* of saved.pid, when it has one; "" otherwise */
};

/* Write o to path through path.tmp, fsync and rename: 0, or -1 with err filled. */
int state_write(const char *path, const cJSON *o, char *err, size_t errlen);
/*
 * Read and check path: 1 with sf filled, 0 when there is no file, -1 with why filled
 * when it is not a state file this daemon wrote (every field is checked).
 */
int state_read(const char *path, const char *log_dir, struct state_file *sf, char *why,
	       size_t whylen);
void state_file_free(struct state_file *sf);

#endif
