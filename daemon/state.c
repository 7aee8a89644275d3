/* state.json: written whole before the daemon acts on it, read back as hostile input. */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "duration.h"
#include "proto.h"

#define STATE_FILE_MAX (4 << 20)
#define EXIT_STR_MAX 4096
#define EXIT_TAIL_MAX 100

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
state_write(const char *path, const cJSON *o, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 8], dir[PATH_MAX];
	char *text = cJSON_Print(o);
	int fd = -1, e;

	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* Beside it, synced, then renamed: a reader sees the old file or the new, never half. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || write_all(fd, "\n", 1) < 0 ||
	    fsync(fd) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", fd < 0 ? "open" : "write", strerror(e));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(text);
		return -1;
	}
	free(text);
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "rename: %s", strerror(errno));
		unlink(tmp);
		return -1;
	}
	/* The rename itself survives a power cut only once the directory is synced. */
	snprintf(dir, sizeof(dir), "%s", path);
	fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

/* ---- reading: every field checked ---- */

static bool
int_in(const cJSON *x, int64_t min, int64_t max, int64_t *out)
{
	if (!cJSON_IsNumber(x) ||
	    !(x->valuedouble >= (double)min && x->valuedouble <= (double)max) ||
	    x->valuedouble != (double)(int64_t)x->valuedouble)
		return false;
	*out = (int64_t)x->valuedouble;
	return true;
}

static int64_t
pid_max(void)
{
	char buf[32], *end;
	long long v = 0;
	ssize_t n;
	int fd = open("/proc/sys/kernel/pid_max", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		v = strtoll(buf, &end, 10);
		if (end == buf)
			v = 0;
	}
	return v > 1 ? v : 4194304; /* PID_MAX_LIMIT */
}

static bool
key_in(const char *key, const char *const *keys)
{
	for (; *keys != NULL; keys++)
		if (strcmp(key, *keys) == 0)
			return true;
	return false;
}

/* Every key of o is one of keys. */
static bool
keys_known(const cJSON *o, const char *const *keys, char *why, size_t len)
{
	const cJSON *x;

	cJSON_ArrayForEach(x, o)
	{
		if (x->string == NULL || !key_in(x->string, keys)) {
			snprintf(why, len, "unknown field \"%.40s\"", x->string != NULL ? x->string : "?");
			return false;
		}
	}
	return true;
}

/* A record from before the exit object was nested (version 0.1.0 wrote it flat): the
 * exit's own fields move under "exit", so clients see one shape. */
static void
nest_exit(cJSON *rec)
{
	static const char *const keys[] = {"code", "signal", "signal_name", "core_dumped",
					   "unknown"};
	cJSON *exit;

	if (rec == NULL || cJSON_GetObjectItemCaseSensitive(rec, "exit") != NULL)
		return;
	if ((exit = cJSON_CreateObject()) == NULL)
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(rec, keys[i]);
		if (v != NULL)
			cJSON_AddItemToObject(exit, keys[i], v);
	}
	cJSON_AddItemToObject(rec, "exit", exit);
}

/* last_exit goes back to clients as it is: bounded values only, and one object inside,
 * the exit itself under "exit" (flat). */
static bool
exit_ok(const cJSON *o, bool nested)
{
	const cJSON *x, *l;

	if (!cJSON_IsObject(o) || cJSON_GetArraySize(o) > 32)
		return false;
	cJSON_ArrayForEach(x, o)
	{
		if (cJSON_IsObject(x)) {
			if (nested || strcmp(x->string, "exit") != 0 || !exit_ok(x, true))
				return false;
		} else if (cJSON_IsString(x)) {
			if (strlen(x->valuestring) > EXIT_STR_MAX)
				return false;
		} else if (cJSON_IsNumber(x)) {
			if (!(x->valuedouble >= -(double)STATE_SEQ_MAX &&
			      x->valuedouble <= (double)STATE_SEQ_MAX))
				return false;
		} else if (cJSON_IsArray(x)) {
			if (cJSON_GetArraySize(x) > EXIT_TAIL_MAX)
				return false;
			cJSON_ArrayForEach(l, x)
			{
				if (!cJSON_IsString(l) || strlen(l->valuestring) > EXIT_STR_MAX)
					return false;
			}
		} else if (!cJSON_IsBool(x) && !cJSON_IsNull(x)) {
			return false;
		}
	}
	return true;
}

static bool
parse_policy(const cJSON *p, struct lc_saved *s, char *why, size_t len)
{
	static const char *const keys[] = {"restarts", "gave_up", "restart_delay_ms",
					   "restart_times_ms", "restart_due_ms", NULL};
	const cJSON *x, *t;
	int64_t v;
	int n = 0;

	if (!cJSON_IsObject(p) || !keys_known(p, keys, why, len))
		return false;
	if (!int_in(cJSON_GetObjectItemCaseSensitive(p, "restarts"), 0, INT32_MAX, &v))
		goto bad;
	s->restarts = (int)v;
	x = cJSON_GetObjectItemCaseSensitive(p, "gave_up");
	if (!cJSON_IsBool(x))
		goto bad;
	s->gave_up = cJSON_IsTrue(x);
	if (!int_in(cJSON_GetObjectItemCaseSensitive(p, "restart_delay_ms"), 0, DURATION_MAX_MS,
		    &s->restart_delay_ms))
		goto bad;
	x = cJSON_GetObjectItemCaseSensitive(p, "restart_times_ms");
	if (!cJSON_IsArray(x) || cJSON_GetArraySize(x) > 64)
		goto bad;
	cJSON_ArrayForEach(t, x)
	{
		if (!int_in(t, 0, STATE_SEQ_MAX, &s->restart_times_wall_ms[n++]))
			goto bad;
	}
	s->restart_count = n;
	x = cJSON_GetObjectItemCaseSensitive(p, "restart_due_ms");
	if (x != NULL && !cJSON_IsNull(x)) {
		if (!int_in(x, 0, STATE_SEQ_MAX, &s->restart_due_wall_ms))
			goto bad;
		s->restart_pending = true;
	}
	return true;
bad:
	snprintf(why, len, "bad \"policy\"");
	return false;
}

static bool
parse_op(const cJSON *p, struct lc_saved *s, char *why, size_t len)
{
	static const char *const keys[] = {"kind", "target", NULL};
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "kind"));
	const cJSON *t;
	int c;

	if (!cJSON_IsObject(p) || !keys_known(p, keys, why, len))
		return false;
	c = kind != NULL ? proto_cmd_lookup(kind) : -1;
	if (c != CMD_ATTACH && c != CMD_DETACH && c != CMD_KILL && c != CMD_REPLACE &&
	    c != CMD_RESTART) {
		snprintf(why, len, "bad \"op\"");
		return false;
	}
	s->op = (enum proto_cmd)c;
	t = cJSON_GetObjectItemCaseSensitive(p, "target");
	if (t != NULL && (s->target = identity_from_state(t)) == NULL) {
		snprintf(why, len, "bad \"op.target\"");
		return false;
	}
	return true;
}

/* The slot's scheduler: identity, pid, seq, start time, exe, log. */
static bool
parse_slot(const cJSON *o, const char *log_dir, struct state_file *sf, char *why, size_t len)
{
	struct lc_saved *s = &sf->saved;
	const cJSON *x;
	int64_t v;

	if ((s->id = identity_from_state(cJSON_GetObjectItemCaseSensitive(o, "scheduler"))) == NULL) {
		snprintf(why, len, "bad \"scheduler\"");
		return false;
	}
	if (!int_in(cJSON_GetObjectItemCaseSensitive(o, "pid"), 1, pid_max(), &v)) {
		snprintf(why, len, "bad \"pid\"");
		return false;
	}
	s->pid = (pid_t)v;
	if (!int_in(cJSON_GetObjectItemCaseSensitive(o, "spawn_seq"), 1, sf->seq, &s->seq)) {
		snprintf(why, len, "bad \"spawn_seq\"");
		return false;
	}
	if (!int_in(cJSON_GetObjectItemCaseSensitive(o, "started_at_ms"), 0, STATE_SEQ_MAX,
		    &s->started_wall_ms)) {
		snprintf(why, len, "bad \"started_at_ms\"");
		return false;
	}
	if (!int_in(cJSON_GetObjectItemCaseSensitive(o, "start_time"), -1, STATE_SEQ_MAX,
		    &sf->start_time)) {
		snprintf(why, len, "bad \"start_time\"");
		return false;
	}
	x = cJSON_GetObjectItemCaseSensitive(o, "exe");
	if (!cJSON_IsString(x) || strlen(x->valuestring) >= sizeof(sf->exe) ||
	    (x->valuestring[0] != '\0' && x->valuestring[0] != '/')) {
		snprintf(why, len, "bad \"exe\"");
		return false;
	}
	snprintf(sf->exe, sizeof(sf->exe), "%s", x->valuestring);
	/* Its cgroup, as /proc/PID/cgroup names it; proc_adopt uses it only if the process
	 * is in it. */
	x = cJSON_GetObjectItemCaseSensitive(o, "cgroup");
	if (x != NULL) {
		if (!cJSON_IsString(x) || x->valuestring[0] != '/' ||
		    strlen(x->valuestring) >= sizeof(sf->cgroup) ||
		    strstr(x->valuestring, "/..") != NULL || strstr(x->valuestring, "//") != NULL) {
			snprintf(why, len, "bad \"cgroup\"");
			return false;
		}
		snprintf(sf->cgroup, sizeof(sf->cgroup), "%s", x->valuestring);
	}
	/* The log is shown to anyone who asks: only the one this spawn's name and seq give. */
	x = cJSON_GetObjectItemCaseSensitive(o, "log");
	if (x != NULL) {
		snprintf(sf->log, sizeof(sf->log), "%s/%s.%lld.log", log_dir, s->id->name,
			 (long long)s->seq);
		if (!cJSON_IsString(x) || strcmp(x->valuestring, sf->log) != 0) {
			snprintf(why, len, "bad \"log\"");
			return false;
		}
		s->log = sf->log;
	}
	return true;
}

static int
check(const cJSON *o, const char *log_dir, struct state_file *sf, char *why, size_t len)
{
	static const char *const keys[] = {"version", "seq", "state", "scheduler", "pid",
					   "spawn_seq", "started_at_ms", "log", "start_time", "exe",
					   "cgroup", "last", "last_exit", "op", "policy", NULL};
	static const char *const slot_keys[] = {"scheduler", "pid", "spawn_seq", "started_at_ms",
						"log", "start_time", "exe", "cgroup", NULL};
	const char *st;
	const cJSON *x;
	int64_t v;

	if (!cJSON_IsObject(o)) {
		snprintf(why, len, "not a JSON object");
		return -1;
	}
	if (!keys_known(o, keys, why, len))
		return -1;
	if (!int_in(cJSON_GetObjectItemCaseSensitive(o, "version"), 1, 2, &v)) {
		snprintf(why, len, "bad \"version\"");
		return -1;
	}
	if (!int_in(cJSON_GetObjectItemCaseSensitive(o, "seq"), 0, STATE_SEQ_MAX, &sf->seq)) {
		snprintf(why, len, "bad \"seq\"");
		return -1;
	}
	st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "state"));
	if (st == NULL) {
		snprintf(why, len, "bad \"state\"");
		return -1;
	}
	for (v = SLOT_DETACHED; v <= SLOT_STOPPING; v++)
		if (strcmp(st, slot_state_name((enum slot_state)v)) == 0)
			break;
	if (v > SLOT_STOPPING) {
		snprintf(why, len, "bad \"state\"");
		return -1;
	}
	sf->saved.state = (enum slot_state)v;
	if (sf->saved.state != SLOT_DETACHED) {
		if (!parse_slot(o, log_dir, sf, why, len))
			return -1;
	} else {
		for (int i = 0; slot_keys[i] != NULL; i++) {
			if (cJSON_GetObjectItemCaseSensitive(o, slot_keys[i]) != NULL) {
				snprintf(why, len, "\"%s\" with no scheduler", slot_keys[i]);
				return -1;
			}
		}
	}
	x = cJSON_GetObjectItemCaseSensitive(o, "last");
	if (x != NULL && (sf->last = identity_from_state(x)) == NULL) {
		snprintf(why, len, "bad \"last\"");
		return -1;
	}
	x = cJSON_GetObjectItemCaseSensitive(o, "last_exit");
	if (x != NULL) {
		if (!exit_ok(x, false)) {
			snprintf(why, len, "bad \"last_exit\"");
			return -1;
		}
		sf->last_exit = cJSON_Duplicate(x, true);
		nest_exit(sf->last_exit);
	}
	x = cJSON_GetObjectItemCaseSensitive(o, "op");
	if (x != NULL && !parse_op(x, &sf->saved, why, len))
		return -1;
	x = cJSON_GetObjectItemCaseSensitive(o, "policy");
	if (x != NULL && !parse_policy(x, &sf->saved, why, len))
		return -1;
	return 1;
}

int
state_read(const char *path, const char *log_dir, struct state_file *sf, char *why,
	   size_t whylen)
{
	struct stat st;
	char *buf;
	ssize_t n;
	cJSON *o;
	int fd, r;

	memset(sf, 0, sizeof(*sf));
	sf->saved.op = CMD_COUNT;
	sf->start_time = -1;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size >= STATE_FILE_MAX) {
		snprintf(why, whylen, "not a regular file under 4 MiB");
		close(fd);
		return -1;
	}
	buf = malloc(STATE_FILE_MAX);
	n = buf != NULL ? read(fd, buf, STATE_FILE_MAX - 1) : -1;
	close(fd);
	if (n < 0) {
		snprintf(why, whylen, "%s", strerror(errno));
		free(buf);
		return -1;
	}
	o = cJSON_ParseWithLength(buf, (size_t)n);
	free(buf);
	if (o == NULL) {
		snprintf(why, whylen, "not valid JSON");
		return -1;
	}
	r = check(o, log_dir, sf, why, whylen);
	cJSON_Delete(o);
	if (r < 0)
		state_file_free(sf);
	return r;
}

void
state_file_free(struct state_file *sf)
{
	identity_free(sf->saved.id);
	identity_free(sf->saved.target);
	identity_free(sf->last);
	cJSON_Delete(sf->last_exit);
	sf->saved.id = sf->saved.target = sf->last = NULL;
	sf->last_exit = NULL;
}
