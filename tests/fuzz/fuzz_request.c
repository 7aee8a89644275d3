/*
 * libFuzzer harness for the request side of the control protocol.
 *
 * The input is a byte stream as a client would send it. It goes through a pipe in chunks
 * of varying size into struct linebuf, exactly as the daemon reads a socket; every
 * complete line goes through proto_request_parse, and the response the daemon would send
 * is built and read back with proto_response_parse. The checks below are the protocol's
 * promises: framing gives back the bytes that were sent, a line longer than the limit and
 * only such a line is refused, a response is one line that parses, the id comes back as
 * it was sent, and a parsed request printed again parses to the same request.
 *
 * And a request that is valid UTF-8 gets a response that is valid UTF-8 (see
 * tests/fuzz/README; SCHEDLIFE_FUZZ_UTF8=0 turns that check off).
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "duration.h"
#include "fuzz_util.h"
#include "names.h"
#include "proto.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool strict_utf8;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *s = getenv("SCHEDLIFE_FUZZ_UTF8");

	(void)argc;
	(void)argv;
	strict_utf8 = s == NULL || strcmp(s, "0") != 0;
	/* The write end of the pipe may close early; never die of SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- JSON comparison ---- */

/*
 * Does got (printed and parsed again) say what want said? Order and duplicate keys
 * count. cJSON prints a non-finite number as null, so that is what comes back.
 */
static bool
json_same(const cJSON *want, const cJSON *got)
{
	const cJSON *a, *b;

	if (want == NULL || got == NULL)
		return want == got;
	if (cJSON_IsNumber(want) && !isfinite(want->valuedouble))
		return cJSON_IsNull(got);
	if ((want->type & 0xff) != (got->type & 0xff))
		return false;
	if (cJSON_IsNumber(want)) {
		double x = want->valuedouble, y = got->valuedouble;
		return fabs(x - y) <= fmax(fabs(x), fabs(y)) * (4 * DBL_EPSILON);
	}
	if (cJSON_IsString(want))
		return strcmp(want->valuestring, got->valuestring) == 0;
	if (!cJSON_IsArray(want) && !cJSON_IsObject(want))
		return true; /* null, true, false */
	for (a = want->child, b = got->child; a != NULL && b != NULL; a = a->next, b = b->next) {
		if (cJSON_IsObject(want) && strcmp(a->string, b->string) != 0)
			return false;
		if (!json_same(a, b))
			return false;
	}
	return a == NULL && b == NULL;
}

static bool
str_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* ---- responses ---- */

/* A response line: one line, no NUL, ends in '\n'; parse it back and hand it over. */
static void
check_line(const char *line, size_t len, bool request_was_utf8, struct proto_response *resp)
{
	CHECK(line != NULL);
	CHECK(len >= 2 && line[len - 1] == '\n' && line[len] == '\0');
	CHECK(strlen(line) == len);
	CHECK(memchr(line, '\n', len - 1) == NULL);
	if (strict_utf8 && request_was_utf8)
		CHECK(fuzz_utf8_valid((const unsigned char *)line, len));
	CHECK(proto_response_parse(line, resp) == 0);
	CHECK(resp->root != NULL);
}

/* The response echoes the request's id: byte for byte when it is the request's own text. */
static void
check_id(const struct proto_response *resp, const cJSON *id, const char *line)
{
	const cJSON *got = cJSON_GetObjectItemCaseSensitive(resp->root, "id");

	if (id == NULL) {
		CHECK(got == NULL);
		return;
	}
	CHECK(got != NULL);
	if (cJSON_IsRaw(id)) {
		size_t n = strlen(id->valuestring);
		CHECK(strncmp(line, "{\"id\":", 6) == 0);
		CHECK(strncmp(line + 6, id->valuestring, n) == 0);
		CHECK(strncmp(line + 6 + n, ",\"ok\":", 6) == 0);
		return;
	}
	CHECK(json_same(id, got));
}

static void
error_roundtrip(const cJSON *id, enum proto_err code, const char *message, bool utf8)
{
	struct proto_response resp;
	size_t len = 0;
	char *line = proto_response_error(id, code, message, NULL, &len);

	check_line(line, len, utf8, &resp);
	CHECK(!resp.ok);
	CHECK(resp.code_name != NULL && strcmp(resp.code_name, proto_errs[code].name) == 0);
	CHECK(resp.code == code);
	CHECK(resp.message != NULL);
	CHECK(strcmp(resp.message, message != NULL ? message : proto_errs[code].name) == 0);
	check_id(&resp, id, line);
	cJSON_Delete(resp.root);
	free(line);
}

static void
ok_roundtrip(const struct proto_request *req, bool utf8)
{
	struct proto_response resp;
	cJSON *result = cJSON_CreateObject(), *want;
	size_t len = 0;
	char *line;

	CHECK(result != NULL);
	cJSON_AddStringToObject(result, "cmd", proto_cmds[req->cmd].name);
	if (req->name != NULL)
		cJSON_AddStringToObject(result, "name", req->name);
	if (req->args != NULL)
		cJSON_AddItemToObject(result, "args", cJSON_Duplicate(req->args, true));
	want = cJSON_Duplicate(result, true);
	CHECK(want != NULL);
	line = proto_response_ok(req->id, result, &len);
	check_line(line, len, utf8, &resp);
	CHECK(resp.ok);
	CHECK(resp.result != NULL);
	CHECK(json_same(want, resp.result));
	check_id(&resp, req->id, line);
	cJSON_Delete(want);
	cJSON_Delete(resp.root);
	free(line);
}

/* ---- requests ---- */

static void
check_request(const struct proto_request *req)
{
	unsigned params;

	CHECK(req->root != NULL);
	CHECK((int)req->cmd >= 0 && req->cmd < CMD_COUNT);
	params = proto_cmds[req->cmd].params;
	CHECK(req->name == NULL || (params & P_NAME));
	CHECK(req->args == NULL || ((params & P_ARGS) && cJSON_IsArray(req->args)));
	CHECK(req->mode == NULL || (params & P_MODE));
	CHECK(req->state == NULL || (params & P_STATE));
	if (req->args != NULL) {
		const cJSON *a;
		cJSON_ArrayForEach(a, req->args)
		{
			CHECK(cJSON_IsString(a) && a->valuestring != NULL);
		}
	}
	if (req->cmd == CMD_ATTACH || req->cmd == CMD_REPLACE)
		CHECK(req->name != NULL);
	if (req->cmd == CMD_WAIT)
		CHECK(req->state != NULL && (strcmp(req->state, "attached") == 0 ||
					     strcmp(req->state, "detached") == 0));
	CHECK(req->grace_ms == -1 || (req->grace_ms >= 0 && req->grace_ms <= DURATION_MAX_MS));
	CHECK(req->timeout_ms == -1 ||
	      (req->timeout_ms >= 0 && req->timeout_ms <= DURATION_MAX_MS));
	CHECK(req->signal >= 0 && req->signal < NSIG);
	CHECK(req->signal == 0 || (params & P_SIGNAL));
	CHECK(req->seq == -1 || req->seq >= 1);
	CHECK(req->lines >= -1 && req->lines <= 100000);
	if (req->wait == false)
		CHECK(params & P_WAIT);
	if (req->rollback)
		CHECK(params & P_ROLLBACK);
	if (req->follow)
		CHECK(params & P_FOLLOW);
}

/* Print the parsed request the way a client would build it, parse it, compare. */
static void
request_roundtrip(const struct proto_request *req)
{
	unsigned params = proto_cmds[req->cmd].params;
	struct proto_request again;
	char err[256];
	cJSON *r = proto_request_new(req->cmd, 42);
	size_t len = 0;
	char *line;
	enum proto_err e;

	CHECK(r != NULL);
	if (req->name != NULL)
		cJSON_AddStringToObject(r, "name", req->name);
	if (req->args != NULL)
		cJSON_AddItemToObject(r, "args", cJSON_Duplicate(req->args, true));
	if (req->mode != NULL)
		cJSON_AddStringToObject(r, "mode", req->mode);
	if (params & P_WAIT)
		cJSON_AddBoolToObject(r, "wait", req->wait);
	if (req->grace_ms >= 0)
		cJSON_AddNumberToObject(r, "grace_ms", (double)req->grace_ms);
	if (req->signal != 0)
		cJSON_AddNumberToObject(r, "signal", req->signal);
	if (params & P_ROLLBACK)
		cJSON_AddBoolToObject(r, "rollback", req->rollback);
	if (req->seq >= 0)
		cJSON_AddNumberToObject(r, "seq", (double)req->seq);
	if (req->lines >= 0)
		cJSON_AddNumberToObject(r, "lines", (double)req->lines);
	if (params & P_FOLLOW)
		cJSON_AddBoolToObject(r, "follow", req->follow);
	if (req->state != NULL)
		cJSON_AddStringToObject(r, "state", req->state);
	if (req->timeout_ms >= 0)
		cJSON_AddNumberToObject(r, "timeout_ms", (double)req->timeout_ms);
	line = proto_line(r, &len);
	cJSON_Delete(r);
	CHECK(line != NULL && len > 0 && line[len - 1] == '\n');
	e = proto_request_parse(line, len - 1, &again, err, sizeof(err));
	if (e != E_OK)
		fprintf(stderr, "re-parse of %s failed: %s\n", line, err);
	CHECK(e == E_OK);
	CHECK(again.cmd == req->cmd);
	CHECK(cJSON_IsRaw(again.id) && strcmp(again.id->valuestring, "42") == 0);
	CHECK(str_same(again.name, req->name));
	CHECK(json_same(req->args, again.args));
	CHECK(str_same(again.mode, req->mode));
	CHECK(again.wait == req->wait);
	CHECK(again.grace_ms == req->grace_ms);
	CHECK(again.signal == req->signal);
	CHECK(again.rollback == req->rollback);
	CHECK(again.seq == req->seq);
	CHECK(again.lines == req->lines);
	CHECK(again.follow == req->follow);
	CHECK(str_same(again.state, req->state));
	CHECK(again.timeout_ms == req->timeout_ms);
	proto_request_free(&again);
	free(line);
}

/* The client's side: schedctl reads whatever the socket gives it as a response. */
static void
client_parse(const char *line)
{
	struct proto_response resp;

	if (proto_response_parse(line, &resp) != 0) {
		/* Its callers free root on failure too; it may or may not be NULL. */
		cJSON_Delete(resp.root);
		return;
	}
	CHECK(cJSON_IsObject(resp.root));
	if (resp.ok) {
		CHECK(cJSON_IsObject(resp.result));
	} else {
		CHECK(resp.code_name != NULL && resp.message != NULL);
		CHECK((int)resp.code >= 0 && resp.code < E_COUNT);
		CHECK(resp.code == E_INTERNAL || strcmp(proto_errs[resp.code].name, resp.code_name) == 0);
	}
	cJSON_Delete(resp.root);
}

static void
handle_line(const char *line, size_t len, uint64_t *rng)
{
	struct proto_request req;
	char err[256];
	bool utf8 = fuzz_utf8_valid((const unsigned char *)line, len);
	enum proto_err e;

	memset(err, 'x', sizeof(err));
	e = proto_request_parse(line, len, &req, err, sizeof(err));
	CHECK(e == E_OK || e == E_BAD_REQUEST || e == E_UNKNOWN_COMMAND);
	if (e != E_OK) {
		CHECK(memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0');
		/* What the daemon sends back: the code, the message, the id when it had one. */
		error_roundtrip(req.id, e, err, utf8);
	} else {
		check_request(&req);
		request_roundtrip(&req);
		ok_roundtrip(&req, utf8);
		error_roundtrip(req.id, (enum proto_err)(1 + fuzz_rand(rng) % (E_COUNT - 1)),
				(fuzz_rand(rng) & 1) ? req.name : NULL, utf8);
	}
	proto_request_free(&req);
	CHECK(req.root == NULL);
	client_parse(line);
}

/* ---- the small parsers, on NUL-terminated strings ---- */

static bool
duration_grammar(const char *s)
{
	const char *p = s;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return strcmp(p, "") == 0 || strcmp(p, "ms") == 0 || strcmp(p, "s") == 0 ||
	       strcmp(p, "m") == 0 || strcmp(p, "h") == 0;
}

static bool
name_reference(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > SCHED_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '+' && c != '-')))
			return false;
	}
	return true;
}

static void
check_strings(const char *s)
{
	int64_t ms = -7, back = -7;
	char buf[64];
	int sig, e;

	if (duration_parse(s, &ms) == 0) {
		CHECK(duration_grammar(s));
		CHECK(ms >= 0 && ms <= DURATION_MAX_MS);
		duration_format(ms, buf, sizeof(buf));
		CHECK(duration_parse(buf, &back) == 0);
		/* Printing rounds to 2 (below 10 s) or 1 decimal of a second. */
		CHECK(llabs(back - ms) <= (ms < 1000 || ms % 1000 == 0 ? 0 : ms < 10000 ? 5 : 50));
	} else {
		CHECK(ms == -7);
	}

	sig = signal_parse(s);
	CHECK(sig == -1 || (sig > 0 && sig < NSIG));
	if (sig > 0 && strcmp(signal_name(sig), "SIG?") != 0) {
		CHECK(signal_parse(signal_name(sig)) == sig);
		CHECK(signal_parse(signal_name(sig) + 3) == sig);
	}

	CHECK(sched_name_valid(s) == name_reference(s));

	if (proto_cmd_lookup(s) >= 0)
		CHECK(strcmp(proto_cmds[proto_cmd_lookup(s)].name, s) == 0);
	e = proto_err_lookup(s);
	CHECK(e >= 0 && e < E_COUNT);
	if (e != E_INTERNAL)
		CHECK(strcmp(proto_errs[e].name, s) == 0);
}

/* ---- framing ---- */

static void
framing(const uint8_t *data, size_t size, uint64_t *rng)
{
	struct linebuf lb;
	size_t max, wrote = 0, got = 0, used = 0, chunk_max;
	uint64_t pick = fuzz_rand(rng);
	int p[2];

	/*
	 * Mostly the daemon's own limit; sometimes a tiny one, or one just above the
	 * buffer's first size, so short inputs reach the limit and the growth path.
	 */
	if (pick % 4 == 0)
		max = 1 + (size_t)(fuzz_rand(rng) % 300);
	else if (pick % 4 == 1)
		max = 4090 + (size_t)(fuzz_rand(rng) % 200);
	else
		max = PROTO_MAX_LINE;
	/* Chunks from single bytes to more than the pipe holds; at most ~64 writes. */
	chunk_max = 1 + (size_t)(fuzz_rand(rng) % ((fuzz_rand(rng) & 1) ? 16 : 70000));
	if (chunk_max < size / 64)
		chunk_max = size / 64;

	CHECK(pipe2(p, O_NONBLOCK | O_CLOEXEC) == 0);
	linebuf_init(&lb, max);
	for (;;) {
		ssize_t n;
		char *line;
		size_t len;

		if (wrote < size) {
			size_t want = 1 + (size_t)(fuzz_rand(rng) % chunk_max);
			if (want > size - wrote)
				want = size - wrote;
			n = write(p[1], data + wrote, want);
			CHECK(n > 0 || errno == EAGAIN);
			if (n > 0)
				wrote += (size_t)n;
		} else if (p[1] >= 0) {
			close(p[1]);
			p[1] = -1;
		}
		n = linebuf_fill(&lb, p[0]);
		if (n == -2) {
			/* Refused: only a partial line longer than the limit. */
			CHECK(linebuf_pending(&lb) == got - used);
			CHECK(got - used > max);
			CHECK(memchr(data + used, '\n', got - used) == NULL);
			break;
		}
		if (n == 0) {
			/* EOF: only after everything was written; a partial tail stays. */
			CHECK(p[1] < 0 && wrote == size && got == size);
			CHECK(linebuf_pending(&lb) == size - used);
			CHECK(memchr(data + used, '\n', size - used) == NULL);
			break;
		}
		if (n < 0) {
			CHECK(n == -1 && errno == EAGAIN);
			continue;
		}
		got += (size_t)n;
		CHECK(got <= wrote);
		while ((line = linebuf_next(&lb, &len)) != NULL) {
			/* The bytes that were sent, up to their newline, and no more. */
			CHECK(len <= max);
			CHECK(used + len < got);
			CHECK(memcmp(line, data + used, len) == 0);
			CHECK(data[used + len] == '\n');
			CHECK(line[len] == '\0');
			used += len + 1;
			handle_line(line, len, rng);
			check_strings(line);
		}
		CHECK(linebuf_pending(&lb) == got - used);
		CHECK(memchr(data + used, '\n', got - used) == NULL);
	}
	linebuf_free(&lb);
	CHECK(lb.data == NULL);
	close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t rng = fuzz_hash(data, size);
	char *copy;

	framing(data, size, &rng);

	/*
	 * Input without a newline never reached the parser above: parse it as one line
	 * anyway, terminated as linebuf terminates its lines. And the string helpers get
	 * the input as a C string, up to its first NUL.
	 */
	copy = malloc(size + 1);
	CHECK(copy != NULL);
	memcpy(copy, data, size);
	copy[size] = '\0';
	if (memchr(data, '\n', size) == NULL)
		handle_line(copy, size, &rng);
	check_strings(copy);
	free(copy);
	return 0;
}
