/* Request parsing, response building and newline framing for the control protocol. */
#include "proto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duration.h"
#include "jsontext.h"
#include "names.h"

const struct proto_cmd_info proto_cmds[CMD_COUNT] = {
	[CMD_HELLO] = {"hello", false, 0},
	[CMD_STATUS] = {"status", false, 0},
	[CMD_LIST] = {"list", false, 0},
	[CMD_ATTACH] = {"attach", true, P_NAME | P_ARGS | P_MODE | P_WAIT},
	[CMD_DETACH] = {"detach", true, P_GRACE},
	[CMD_KILL] = {"kill", true, P_GRACE | P_SIGNAL},
	[CMD_REPLACE] = {"replace", true, P_NAME | P_ARGS | P_MODE | P_GRACE | P_ROLLBACK},
	[CMD_RESTART] = {"restart", true, P_GRACE},
	[CMD_LOGS] = {"logs", false, P_SEQ | P_LINES | P_FOLLOW},
	[CMD_SUBSCRIBE] = {"subscribe", false, 0},
	[CMD_WAIT] = {"wait", false, P_STATE | P_TIMEOUT},
};

const struct proto_err_info proto_errs[E_COUNT] = {
	[E_OK] = {"ok", EXIT_OK_},
	[E_BAD_REQUEST] = {"bad_request", EXIT_FAILED},
	[E_TOO_LARGE] = {"too_large", EXIT_FAILED},
	[E_UNKNOWN_COMMAND] = {"unknown_command", EXIT_FAILED},
	[E_UNKNOWN_SCHEDULER] = {"unknown_scheduler", EXIT_UNKNOWN},
	[E_INVALID_NAME] = {"invalid_name", EXIT_UNKNOWN},
	[E_PERMISSION_DENIED] = {"permission_denied", EXIT_DENIED},
	[E_ALREADY_ATTACHED] = {"already_attached", EXIT_CONFLICT},
	[E_NOT_ATTACHED] = {"not_attached", EXIT_CONFLICT},
	[E_BUSY] = {"busy", EXIT_CONFLICT},
	[E_SCHED_EXT_UNAVAILABLE] = {"sched_ext_unavailable", EXIT_FAILED},
	[E_SCHED_EXT_BUSY] = {"sched_ext_busy", EXIT_CONFLICT},
	[E_SPAWN_FAILED] = {"spawn_failed", EXIT_FAILED},
	[E_STARTUP_DIED] = {"startup_died", EXIT_FAILED},
	[E_STARTUP_TIMEOUT] = {"startup_timeout", EXIT_TIMEOUT},
	[E_OPS_MISMATCH] = {"ops_mismatch", EXIT_FAILED},
	[E_STILL_ALIVE_AFTER_SIGKILL] = {"still_alive_after_sigkill", EXIT_FAILED},
	[E_DISABLE_TIMEOUT] = {"disable_timeout", EXIT_TIMEOUT},
	[E_TIMEOUT] = {"timeout", EXIT_TIMEOUT},
	[E_INTERNAL] = {"internal", EXIT_FAILED},
};

int
proto_cmd_lookup(const char *name)
{
	for (int i = 0; i < CMD_COUNT; i++)
		if (strcmp(proto_cmds[i].name, name) == 0)
			return i;
	return -1;
}

int
proto_err_lookup(const char *name)
{
	for (int i = 0; i < E_COUNT; i++)
		if (strcmp(proto_errs[i].name, name) == 0)
			return i;
	return E_INTERNAL;
}

static const struct {
	const char *key;
	enum proto_param bit;
} param_keys[] = {
	{"name", P_NAME},	  {"args", P_ARGS},	      {"mode", P_MODE},
	{"wait", P_WAIT},	  {"grace_ms", P_GRACE},      {"signal", P_SIGNAL},
	{"rollback", P_ROLLBACK}, {"seq", P_SEQ},	      {"lines", P_LINES},
	{"follow", P_FOLLOW},	  {"state", P_STATE},	      {"timeout_ms", P_TIMEOUT},
};

static enum proto_err __attribute__((format(printf, 3, 4)))
bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	text_sanitize(err); /* it may quote the client, cut at a byte limit */
	return E_BAD_REQUEST;
}

int
json_get_int(const cJSON *item, int64_t min, int64_t max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(item))
		return -1;
	d = item->valuedouble;
	if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

static enum proto_err
parse_param(struct proto_request *req, const cJSON *item, enum proto_param bit, char *err,
	    size_t errlen)
{
	const char *key = item->string;
	int64_t n;

	switch (bit) {
	case P_NAME:
	case P_MODE:
	case P_STATE:
		if (!cJSON_IsString(item))
			return bad(err, errlen, "%s must be a string", key);
		if (bit == P_NAME)
			req->name = item->valuestring;
		else if (bit == P_MODE)
			req->mode = item->valuestring;
		else if (strcmp(item->valuestring, "attached") == 0 ||
			 strcmp(item->valuestring, "detached") == 0)
			req->state = item->valuestring;
		else
			return bad(err, errlen, "state must be \"attached\" or \"detached\"");
		return E_OK;
	case P_ARGS: {
		const cJSON *a;
		if (!cJSON_IsArray(item))
			return bad(err, errlen, "args must be an array of strings");
		cJSON_ArrayForEach(a, item) if (!cJSON_IsString(a)) return bad(
			err, errlen, "args must be an array of strings");
		req->args = item;
		return E_OK;
	}
	case P_WAIT:
	case P_ROLLBACK:
	case P_FOLLOW:
		if (!cJSON_IsBool(item))
			return bad(err, errlen, "%s must be true or false", key);
		if (bit == P_WAIT)
			req->wait = cJSON_IsTrue(item);
		else if (bit == P_ROLLBACK)
			req->rollback = cJSON_IsTrue(item);
		else
			req->follow = cJSON_IsTrue(item);
		return E_OK;
	case P_GRACE:
	case P_TIMEOUT:
		if (json_get_int(item, 0, DURATION_MAX_MS, &n) < 0)
			return bad(err, errlen, "%s must be a whole number of milliseconds", key);
		if (bit == P_GRACE)
			req->grace_ms = n;
		else
			req->timeout_ms = n;
		return E_OK;
	case P_SIGNAL:
		req->signal = -1;
		if (cJSON_IsString(item))
			req->signal = signal_parse(item->valuestring);
		else if (json_get_int(item, 1, 64, &n) == 0)
			req->signal = (int)n;
		if (req->signal <= 0)
			return bad(err, errlen, "signal: unknown signal");
		return E_OK;
	case P_SEQ:
		if (json_get_int(item, 1, INT64_MAX / 2, &req->seq) < 0)
			return bad(err, errlen, "seq must be a positive whole number");
		return E_OK;
	case P_LINES:
		if (json_get_int(item, 0, 100000, &req->lines) < 0)
			return bad(err, errlen, "lines must be a whole number from 0 to 100000");
		return E_OK;
	}
	return bad(err, errlen, "unknown parameter \"%s\"", key);
}

enum proto_err
proto_request_parse(const char *line, size_t len, struct proto_request *req, char *err,
		    size_t errlen)
{
	const cJSON *cmd, *item;
	int c;

	memset(req, 0, sizeof(*req));
	req->wait = true;
	req->grace_ms = -1;
	req->seq = -1;
	req->lines = -1;
	req->timeout_ms = -1;

	const char *end = NULL;
	struct json_request_text text;
	unsigned seen = 0;

	/* Every byte the daemon writes must be JSON, and it echoes what it was sent. */
	if (!utf8_valid(line, len))
		return bad(err, errlen, "a request must be valid UTF-8");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 && line[i] != '\t' && line[i] != '\r')
			return bad(err, errlen, "a control character in a request must be escaped");
	req->root = cJSON_ParseWithLengthOpts(line, len, &end, false);
	if (req->root == NULL)
		return bad(err, errlen, "malformed JSON");
	/* One object a line: anything after it but blanks is an error, not ignored. */
	while (end < line + len && (*end == ' ' || *end == '\t' || *end == '\r'))
		end++;
	if (end != line + len)
		return bad(err, errlen, "malformed JSON: text after the request object");
	if (!cJSON_IsObject(req->root))
		return bad(err, errlen, "a request must be a JSON object");
	json_request_scan(line, (size_t)(end - line), &text);
	if ((item = cJSON_GetObjectItemCaseSensitive(req->root, "id")) != NULL) {
		char *raw;
		if (text.id == NULL)
			return bad(err, errlen, "write the key \"id\" without escapes");
		if (!cJSON_IsString(item) && !cJSON_IsNull(item) &&
		    !(cJSON_IsNumber(item) && json_number_strict(text.id, text.id_len)))
			return bad(err, errlen, "id must be a string, a number or null");
		if ((raw = strndup(text.id, text.id_len)) == NULL)
			return bad(err, errlen, "out of memory");
		req->id_raw = cJSON_CreateRaw(raw);
		free(raw);
		if (req->id_raw == NULL)
			return bad(err, errlen, "out of memory");
		req->id = req->id_raw;
	}
	if (text.ctl)
		return bad(err, errlen, "a control character in a string must be escaped");
	if (text.nul)
		return bad(err, errlen, "strings may not hold \\u0000");
	cmd = cJSON_GetObjectItemCaseSensitive(req->root, "cmd");
	if (!cJSON_IsString(cmd))
		return bad(err, errlen, "missing \"cmd\"");
	c = proto_cmd_lookup(cmd->valuestring);
	if (c < 0) {
		snprintf(err, errlen, "unknown command \"%.64s\"", cmd->valuestring);
		text_sanitize(err);
		return E_UNKNOWN_COMMAND;
	}
	req->cmd = (enum proto_cmd)c;

	cJSON_ArrayForEach(item, req->root)
	{
		enum proto_param bit = 0;
		if (strcmp(item->string, "id") == 0 || strcmp(item->string, "cmd") == 0) {
			/* two bits past the parameters' */
			unsigned own = item->string[0] == 'i' ? 1u << 30 : 1u << 31;
			if (seen & own)
				return bad(err, errlen, "\"%s\" is given twice", item->string);
			seen |= own;
			continue;
		}
		for (size_t i = 0; i < sizeof(param_keys) / sizeof(param_keys[0]); i++)
			if (strcmp(item->string, param_keys[i].key) == 0)
				bit = param_keys[i].bit;
		if (bit == 0 || (proto_cmds[c].params & bit) == 0)
			return bad(err, errlen, "%s takes no parameter \"%.64s\"", proto_cmds[c].name,
				   item->string);
		if (seen & bit)
			return bad(err, errlen, "\"%s\" is given twice", item->string);
		seen |= bit;
		enum proto_err e = parse_param(req, item, bit, err, errlen);
		if (e != E_OK)
			return e;
	}
	if ((req->cmd == CMD_ATTACH || req->cmd == CMD_REPLACE) && req->name == NULL)
		return bad(err, errlen, "%s needs \"name\"", proto_cmds[c].name);
	if (req->cmd == CMD_WAIT && req->state == NULL)
		return bad(err, errlen, "wait needs \"state\"");
	return E_OK;
}

void
proto_request_free(struct proto_request *req)
{
	cJSON_Delete(req->root);
	cJSON_Delete(req->id_raw);
	req->root = NULL;
	req->id_raw = NULL;
	req->id = NULL;
}

char *
proto_line(const cJSON *obj, size_t *len)
{
	char *s = cJSON_PrintUnformatted(obj), *line;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (line == NULL) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	if (len != NULL)
		*len = n + 1;
	return line;
}

static char *
respond(const cJSON *id, bool ok, const char *key, cJSON *payload, size_t *len)
{
	cJSON *r = cJSON_CreateObject();
	char *line;

	if (r == NULL) {
		cJSON_Delete(payload);
		return NULL;
	}
	if (id != NULL)
		cJSON_AddItemToObject(r, "id", cJSON_Duplicate(id, true));
	cJSON_AddBoolToObject(r, "ok", ok);
	cJSON_AddItemToObject(r, key, payload != NULL ? payload : cJSON_CreateObject());
	line = proto_line(r, len);
	cJSON_Delete(r);
	return line;
}

char *
proto_response_ok(const cJSON *id, cJSON *result, size_t *len)
{
	return respond(id, true, "result", result, len);
}

char *
proto_response_ok_text(const cJSON *id, const char *result, size_t *len)
{
	char *idtext = NULL, *line;
	size_t n;
	int w;

	if (id != NULL && (idtext = cJSON_PrintUnformatted(id)) == NULL)
		return NULL;
	n = strlen(result) + (idtext != NULL ? strlen(idtext) : 0) + 32;
	if ((line = malloc(n)) != NULL) {
		/* the key order of respond(): id, ok, result */
		w = snprintf(line, n, "{%s%s%s\"ok\":true,\"result\":%s}\n", idtext ? "\"id\":" : "",
			     idtext ? idtext : "", idtext ? "," : "", result);
		if (len != NULL)
			*len = (size_t)w;
	}
	free(idtext);
	return line;
}

char *
proto_response_error(const cJSON *id, enum proto_err code, const char *message, cJSON *extra,
		     size_t *len)
{
	cJSON *e = extra != NULL ? extra : cJSON_CreateObject();

	if (e == NULL)
		return NULL;
	cJSON_AddStringToObject(e, "code", proto_errs[code].name);
	cJSON_AddStringToObject(e, "message", message != NULL ? message : proto_errs[code].name);
	return respond(id, false, "error", e, len);
}

cJSON *
proto_request_new(enum proto_cmd cmd, int64_t id)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL)
		return NULL;
	cJSON_AddNumberToObject(r, "id", (double)id);
	cJSON_AddStringToObject(r, "cmd", proto_cmds[cmd].name);
	return r;
}

int
proto_response_parse(const char *line, struct proto_response *resp)
{
	const cJSON *ok, *code, *msg;

	memset(resp, 0, sizeof(*resp));
	resp->root = cJSON_Parse(line);
	if (!cJSON_IsObject(resp->root))
		goto fail;
	ok = cJSON_GetObjectItemCaseSensitive(resp->root, "ok");
	if (!cJSON_IsBool(ok))
		goto fail;
	resp->ok = cJSON_IsTrue(ok);
	if (resp->ok) {
		resp->result = cJSON_GetObjectItemCaseSensitive(resp->root, "result");
		if (!cJSON_IsObject(resp->result))
			goto fail;
		return 0;
	}
	resp->error = cJSON_GetObjectItemCaseSensitive(resp->root, "error");
	code = cJSON_GetObjectItemCaseSensitive(resp->error, "code");
	msg = cJSON_GetObjectItemCaseSensitive(resp->error, "message");
	if (!cJSON_IsString(code))
		goto fail;
	resp->code_name = code->valuestring;
	resp->code = (enum proto_err)proto_err_lookup(code->valuestring);
	resp->message = cJSON_IsString(msg) ? msg->valuestring : code->valuestring;
	return 0;
fail:
	cJSON_Delete(resp->root);
	resp->root = NULL;
	return -1;
}

#define LINEBUF_MIN 4096

void
linebuf_init(struct linebuf *lb, size_t max)
{
	memset(lb, 0, sizeof(*lb));
	lb->max = max;
}

void
linebuf_free(struct linebuf *lb)
{
	free(lb->data);
	memset(lb, 0, sizeof(*lb));
}

ssize_t
linebuf_fill(struct linebuf *lb, int fd)
{
	ssize_t n;

	if (lb->start > 0) {
		memmove(lb->data, lb->data + lb->start, lb->len);
		lb->start = 0;
	}
	/* Room for max bytes of line, its newline and our NUL. */
	if (lb->len + 1 >= lb->cap) {
		size_t cap = lb->cap ? lb->cap * 2 : LINEBUF_MIN;
		char *p;
		if (cap > lb->max + 2)
			cap = lb->max + 2;
		if (cap <= lb->len + 1)
			return -2;
		p = realloc(lb->data, cap);
		if (p == NULL)
			return -1;
		lb->data = p;
		lb->cap = cap;
	}
	n = read(fd, lb->data + lb->len, lb->cap - lb->len - 1);
	if (n > 0)
		lb->len += (size_t)n;
	return n;
}

char *
linebuf_next(struct linebuf *lb, size_t *len)
{
	char *line, *nl;

	if (lb->len == 0)
		return NULL;
	line = lb->data + lb->start;
	nl = memchr(line, '\n', lb->len);
	if (nl == NULL)
		return NULL;
	*nl = '\0';
	*len = (size_t)(nl - line);
	lb->start += *len + 1;
	lb->len -= *len + 1;
	if (lb->len == 0)
		lb->start = 0;
	return line;
}

size_t
linebuf_pending(const struct linebuf *lb)
{
	return lb->len;
}

int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t
mono_ms(void)
{
	return mono_ns() / 1000000;
}

int64_t
realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
format_utc_ms(int64_t ms, char *buf, size_t len)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}
