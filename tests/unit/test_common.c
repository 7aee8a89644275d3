/* Unit tests for common/: durations, names, signals, the protocol and its line framing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "names.h"
#include "proto.h"

/* ---- durations ---- */

static void
test_duration_parse_good(void **state)
{
	static const struct {
		const char *s;
		int64_t ms;
	} good[] = {
		{"250ms", 250},
		{"2s", 2000},
		{"1.5s", 1500},
		{"1m", 60000},
		{"1h", 3600000},
		{"0", 0},
		{"3", 3000},
		{"0.25", 250},
		{"0ms", 0},
		{"0.5m", 30000},
		{"1.25h", 4500000},
		{"10", 10000},
		{"007s", 7000},
		{"0.0001s", 0},
		{"1.999ms", 1},
		{"720h", DURATION_MAX_MS},
		{"2592000", DURATION_MAX_MS},
		{"2592000000ms", DURATION_MAX_MS},
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = -42;
		if (duration_parse(good[i].s, &ms) != 0 || ms != good[i].ms)
			fail_msg("duration_parse(\"%s\"): got %lld, want %lld", good[i].s,
				 (long long)ms, (long long)good[i].ms);
	}
}

static void
test_duration_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"abc",
		"1x",
		"-1",
		"1.5.2",
		".5s",
		"5 s",
		" 5s",
		"5s ",
		"1.",
		"1.s",
		"s",
		"ms",
		"+1s",
		"1S",
		"1ms5",
		"1sms",
		"1e3",
		"0x10",
		"1d",
		"721h",
		"2592001",
		"2592000.5",
		"2592000001ms",
		"99999999999999999999",
		"99999999999999999999999999999999999999ms",
		"1.5.2s",
	};
	int64_t ms;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ms = -42;
		if (duration_parse(bad[i], &ms) != -1)
			fail_msg("duration_parse(\"%s\") accepted: %lld", bad[i], (long long)ms);
		assert_int_equal(ms, -42); /* untouched on failure */
	}
	assert_int_equal(duration_parse(NULL, &ms), -1);
}

static void
test_duration_format(void **state)
{
	static const struct {
		int64_t ms;
		const char *s;
	} cases[] = {
		{0, "0ms"},	 {1, "1ms"},	   {250, "250ms"},   {999, "999ms"},
		{1000, "1s"},	 {2000, "2s"},	   {60000, "60s"},   {3600000, "3600s"},
		{1234, "1.234s"}, {1500, "1.5s"}, {1250, "1.25s"}, {12345, "12.345s"},
		{10500, "10.5s"}, {61001, "61.001s"},
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		duration_format(cases[i].ms, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].s);
	}
	/* a short buffer is truncated, never overrun */
	duration_format(250, buf, 3);
	assert_string_equal(buf, "25");
}

/* What duration_format prints, duration_parse reads back, to within its rounding. */
static void
test_duration_round_trip(void **state)
{
	static const int64_t samples[] = {
		0,    1,     120,   999,   1000,  1001,	 1500,	  1999,	    2000,	    9990,
		9999, 10000, 10049, 59999, 60000, 61234, 3600000, 86400000, DURATION_MAX_MS};
	char buf[32];
	int64_t back;

	(void)state;
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		int64_t ms = samples[i];
		int64_t slack = 0; /* milliseconds are always printed whole */

		duration_format(ms, buf, sizeof(buf));
		if (duration_parse(buf, &back) != 0)
			fail_msg("duration_format(%lld) = \"%s\" does not parse", (long long)ms,
				 buf);
		if (llabs(back - ms) > slack)
			fail_msg("duration_format(%lld) = \"%s\" reads back as %lld", (long long)ms,
				 buf, (long long)back);
	}
}

/* ---- names and signals ---- */

static void
test_sched_name_valid(void **state)
{
	static const char *const good[] = {"scx_simple",     "a",  "Z",	 "0",  "9lives",
					   "scx_lavd-1.2+3", "a_", "a.", "a-", "a+",
					   "A.B_C-D+E"};
	static const char *const bad[] = {"",	 ".",	      ".a",  "_a",  "-a",  "+a",   "a b",
					  "a/b", "/a",	      "a\n", "a\t", "a=b", "a:b",  "a;b",
					  "é",	 "a\xc3\xa9", "..",  "a*",  "a$b", "a\\b", "a\"b"};
	char name[SCHED_NAME_MAX + 2];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!sched_name_valid(good[i]))
			fail_msg("\"%s\" should be valid", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sched_name_valid(bad[i]))
			fail_msg("\"%s\" should be invalid", bad[i]);
	assert_false(sched_name_valid(NULL));

	memset(name, 'a', sizeof(name));
	name[SCHED_NAME_MAX] = '\0'; /* 64 characters */
	assert_true(sched_name_valid(name));
	name[0] = '_';
	assert_false(sched_name_valid(name));
	name[0] = 'a';
	name[SCHED_NAME_MAX - 1] = '_';
	assert_true(sched_name_valid(name));
	name[SCHED_NAME_MAX] = 'a';
	name[SCHED_NAME_MAX + 1] = '\0'; /* 65 */
	assert_false(sched_name_valid(name));
}

static void
test_signal_parse(void **state)
{
	static const struct {
		const char *s;
		int sig;
	} good[] = {
		{"TERM", SIGTERM},    {"SIGTERM", SIGTERM}, {"term", SIGTERM}, {"sigterm", SIGTERM},
		{"SigTerm", SIGTERM}, {"15", SIGTERM},	    {"9", SIGKILL},    {"KILL", SIGKILL},
		{"INT", SIGINT},      {"2", SIGINT},	    {"HUP", SIGHUP},   {"USR1", SIGUSR1},
		{"SIGUSR2", SIGUSR2}, {"CONT", SIGCONT},    {"STOP", SIGSTOP}, {"1", 1},
		{"64", 64},
	};
	static const char *const bad[] = {"",	   "0",	    "65",  "-9",  "15x",
					  " 15",   "15 ",   "FOO", "SIG", "SIGFOO",
					  "SIG15", "TERM ", "S",   "1e1", "99999999999999999999"};

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (signal_parse(good[i].s) != good[i].sig)
			fail_msg("signal_parse(\"%s\") = %d, want %d", good[i].s,
				 signal_parse(good[i].s), good[i].sig);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (signal_parse(bad[i]) != -1)
			fail_msg("signal_parse(\"%s\") = %d, want -1", bad[i],
				 signal_parse(bad[i]));
	assert_int_equal(signal_parse(NULL), -1);
}

static void
test_signal_name(void **state)
{
	char num[8];

	(void)state;
	assert_string_equal(signal_name(SIGTERM), "SIGTERM");
	assert_string_equal(signal_name(SIGKILL), "SIGKILL");
	assert_string_equal(signal_name(SIGSEGV), "SIGSEGV");
	assert_string_equal(signal_name(0), "SIG?");
	assert_string_equal(signal_name(-1), "SIG?");
	assert_string_equal(signal_name(NSIG), "SIG?");
	/* real-time signals as kill(1) names them, never "SIG?" */
	assert_string_equal(signal_name(SIGRTMIN), "SIGRTMIN");
	char want[32];
	snprintf(want, sizeof(want), "SIGRTMIN+%d", SIGRTMAX - SIGRTMIN);
	assert_string_equal(signal_name(SIGRTMAX), want);
	assert_int_equal(signal_parse("RTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(signal_parse("sigrtmax-1"), SIGRTMAX - 1);
	assert_int_equal(signal_parse("RTMAX"), SIGRTMAX);
	assert_int_equal(signal_parse("RTMIN+999"), -1);
	assert_int_equal(signal_parse("RTMIN+"), -1);
	assert_int_equal(signal_parse("RTMIN-1"), -1);
	assert_int_equal(signal_parse("SIGSIGTERM"), -1);
	/* every signal reads back by number, and by its name with and without SIG */
	for (int sig = 1; sig < NSIG && sig <= SIGRTMAX; sig++) {
		const char *name = signal_name(sig);
		snprintf(num, sizeof(num), "%d", sig);
		assert_int_equal(signal_parse(num), sig);
		assert_string_not_equal(name, "SIG?");
		assert_int_equal(strncmp(name, "SIG", 3), 0);
		assert_int_equal(signal_parse(name), sig);
		assert_int_equal(signal_parse(name + 3), sig);
	}
}

/* ---- requests ---- */

static enum proto_err
parse_req(const char *line, struct proto_request *req, char *err, size_t errlen)
{
	err[0] = '\0';
	return proto_request_parse(line, strlen(line), req, err, errlen);
}

static void
test_request_every_command(void **state)
{
	char line[256], err[256];
	struct proto_request req;

	(void)state;
	for (int i = 0; i < CMD_COUNT; i++) {
		const char *extra = "";
		if (i == CMD_ATTACH || i == CMD_REPLACE)
			extra = ", \"name\": \"scx_simple\"";
		else if (i == CMD_WAIT)
			extra = ", \"state\": \"detached\"";
		snprintf(line, sizeof(line), "{\"id\": %d, \"cmd\": \"%s\"%s}", i,
			 proto_cmds[i].name, extra);
		if (parse_req(line, &req, err, sizeof(err)) != E_OK)
			fail_msg("%s: %s", line, err);
		assert_int_equal(req.cmd, i);
		assert_int_equal(proto_cmd_lookup(proto_cmds[i].name), i);
		assert_true(cJSON_IsRaw(req.id)); /* its text, echoed byte for byte */
		char want[16];
		snprintf(want, sizeof(want), "%d", i);
		assert_string_equal(req.id->valuestring, want);
		/* the defaults */
		assert_true(req.wait);
		assert_int_equal(req.grace_ms, -1);
		assert_int_equal(req.signal, 0);
		assert_false(req.rollback);
		assert_int_equal(req.seq, -1);
		assert_int_equal(req.lines, -1);
		assert_false(req.follow);
		assert_int_equal(req.timeout_ms, -1);
		assert_null(req.args);
		assert_null(req.mode);
		proto_request_free(&req);
	}
	assert_int_equal(proto_cmd_lookup("nope"), -1);
	assert_int_equal(proto_cmd_lookup(""), -1);
	assert_int_equal(proto_cmd_lookup("Attach"), -1);
	/* which ones are lifecycle requests */
	assert_true(proto_cmds[CMD_ATTACH].lifecycle);
	assert_true(proto_cmds[CMD_DETACH].lifecycle);
	assert_true(proto_cmds[CMD_KILL].lifecycle);
	assert_true(proto_cmds[CMD_REPLACE].lifecycle);
	assert_true(proto_cmds[CMD_RESTART].lifecycle);
	assert_false(proto_cmds[CMD_STATUS].lifecycle);
	assert_false(proto_cmds[CMD_WAIT].lifecycle);
	assert_false(proto_cmds[CMD_LOGS].lifecycle);
}

static void
test_request_params(void **state)
{
	char err[256];
	struct proto_request req;

	(void)state;
	assert_int_equal(
		parse_req("{\"id\": 7, \"cmd\": \"attach\", \"name\": \"scx_simple\","
			  " \"args\": [\"-v\", \"--x\"], \"mode\": \"fast\", \"wait\": false}",
			  &req, err, sizeof(err)),
		E_OK);
	assert_int_equal(req.cmd, CMD_ATTACH);
	assert_string_equal(req.name, "scx_simple");
	assert_int_equal(cJSON_GetArraySize(req.args), 2);
	assert_string_equal(cJSON_GetArrayItem(req.args, 1)->valuestring, "--x");
	assert_string_equal(req.mode, "fast");
	assert_false(req.wait);
	proto_request_free(&req);

	assert_int_equal(parse_req("{\"cmd\": \"kill\", \"grace_ms\": 0, \"signal\": \"KILL\"}",
				   &req, err, sizeof(err)),
			 E_OK);
	assert_null(req.id);
	assert_int_equal(req.grace_ms, 0);
	assert_int_equal(req.signal, SIGKILL);
	proto_request_free(&req);

	assert_int_equal(parse_req("{\"cmd\": \"kill\", \"signal\": 2}", &req, err, sizeof(err)),
			 E_OK);
	assert_int_equal(req.signal, SIGINT);
	proto_request_free(&req);

	assert_int_equal(parse_req("{\"cmd\": \"replace\", \"name\": \"b\", \"grace_ms\": 2500,"
				   " \"rollback\": true, \"args\": [], \"mode\": \"m\"}",
				   &req, err, sizeof(err)),
			 E_OK);
	assert_int_equal(req.grace_ms, 2500);
	assert_true(req.rollback);
	assert_int_equal(cJSON_GetArraySize(req.args), 0);
	proto_request_free(&req);

	assert_int_equal(
		parse_req("{\"cmd\": \"logs\", \"seq\": 3, \"lines\": 0, \"follow\": true}", &req,
			  err, sizeof(err)),
		E_OK);
	assert_int_equal(req.seq, 3);
	assert_int_equal(req.lines, 0);
	assert_true(req.follow);
	proto_request_free(&req);

	assert_int_equal(
		parse_req("{\"cmd\": \"wait\", \"state\": \"attached\", \"timeout_ms\": 5000}",
			  &req, err, sizeof(err)),
		E_OK);
	assert_string_equal(req.state, "attached");
	assert_int_equal(req.timeout_ms, 5000);
	proto_request_free(&req);

	assert_int_equal(parse_req("{\"cmd\": \"detach\", \"grace_ms\": 2592000000}", &req, err,
				   sizeof(err)),
			 E_OK);
	assert_int_equal(req.grace_ms, DURATION_MAX_MS);
	proto_request_free(&req);

	/* len rules, not the NUL */
	assert_int_equal(
		proto_request_parse("{\"cmd\": \"hello\"}XXXX", 16, &req, err, sizeof(err)), E_OK);
	proto_request_free(&req);
}

/* Each bad request, the error it gets and the message. */
static const struct {
	const char *line;
	enum proto_err code;
	const char *msg;
} bad_requests[] = {
	{"{\"cmd\": \"hello\"} junk", E_BAD_REQUEST, "malformed JSON: text after the request object"},
	{"{\"cmd\": \"hello\"}{\"cmd\": \"status\"}", E_BAD_REQUEST,
	 "malformed JSON: text after the request object"},
	{"not json", E_BAD_REQUEST, "malformed JSON"},
	{"", E_BAD_REQUEST, "malformed JSON"},
	{"{\"cmd\": \"hello\"", E_BAD_REQUEST, "malformed JSON"},
	{"[\"hello\"]", E_BAD_REQUEST, "a request must be a JSON object"},
	{"\"hello\"", E_BAD_REQUEST, "a request must be a JSON object"},
	{"{\"id\": 1}", E_BAD_REQUEST, "missing \"cmd\""},
	{"{\"id\": 1, \"cmd\": 5}", E_BAD_REQUEST, "missing \"cmd\""},
	{"{\"id\": 1, \"cmd\": \"nope\"}", E_UNKNOWN_COMMAND, "unknown command \"nope\""},
	{"{\"cmd\": \"HELLO\"}", E_UNKNOWN_COMMAND, "unknown command \"HELLO\""},
	/* unknown parameters, and ones the command does not take */
	{"{\"cmd\": \"status\", \"name\": \"x\"}", E_BAD_REQUEST,
	 "status takes no parameter \"name\""},
	{"{\"cmd\": \"attach\", \"name\": \"x\", \"bogus\": 1}", E_BAD_REQUEST,
	 "attach takes no parameter \"bogus\""},
	{"{\"cmd\": \"detach\", \"signal\": \"TERM\"}", E_BAD_REQUEST,
	 "detach takes no parameter \"signal\""},
	{"{\"cmd\": \"kill\", \"grace\": 5}", E_BAD_REQUEST, "kill takes no parameter \"grace\""},
	{"{\"cmd\": \"restart\", \"name\": \"x\"}", E_BAD_REQUEST,
	 "restart takes no parameter \"name\""},
	/* missing required ones */
	{"{\"cmd\": \"attach\"}", E_BAD_REQUEST, "attach needs \"name\""},
	{"{\"cmd\": \"replace\", \"args\": []}", E_BAD_REQUEST, "replace needs \"name\""},
	{"{\"cmd\": \"wait\"}", E_BAD_REQUEST, "wait needs \"state\""},
	/* wrong types and values */
	{"{\"cmd\": \"attach\", \"name\": 5}", E_BAD_REQUEST, "name must be a string"},
	{"{\"cmd\": \"attach\", \"name\": null}", E_BAD_REQUEST, "name must be a string"},
	{"{\"cmd\": \"attach\", \"name\": \"x\", \"mode\": []}", E_BAD_REQUEST,
	 "mode must be a string"},
	{"{\"cmd\": \"attach\", \"name\": \"x\", \"args\": \"-v\"}", E_BAD_REQUEST,
	 "args must be an array of strings"},
	{"{\"cmd\": \"attach\", \"name\": \"x\", \"args\": [\"-v\", 1]}", E_BAD_REQUEST,
	 "args must be an array of strings"},
	{"{\"cmd\": \"attach\", \"name\": \"x\", \"wait\": \"yes\"}", E_BAD_REQUEST,
	 "wait must be true or false"},
	{"{\"cmd\": \"replace\", \"name\": \"x\", \"rollback\": 1}", E_BAD_REQUEST,
	 "rollback must be true or false"},
	{"{\"cmd\": \"logs\", \"follow\": null}", E_BAD_REQUEST, "follow must be true or false"},
	{"{\"cmd\": \"detach\", \"grace_ms\": -1}", E_BAD_REQUEST,
	 "grace_ms must be a whole number of milliseconds"},
	{"{\"cmd\": \"detach\", \"grace_ms\": 1.5}", E_BAD_REQUEST,
	 "grace_ms must be a whole number of milliseconds"},
	{"{\"cmd\": \"detach\", \"grace_ms\": \"1s\"}", E_BAD_REQUEST,
	 "grace_ms must be a whole number of milliseconds"},
	{"{\"cmd\": \"detach\", \"grace_ms\": 2592000001}", E_BAD_REQUEST,
	 "grace_ms must be a whole number of milliseconds"},
	{"{\"cmd\": \"wait\", \"state\": \"attached\", \"timeout_ms\": -5}", E_BAD_REQUEST,
	 "timeout_ms must be a whole number of milliseconds"},
	{"{\"cmd\": \"kill\", \"signal\": \"FOO\"}", E_BAD_REQUEST, "signal: unknown signal"},
	{"{\"cmd\": \"kill\", \"signal\": 0}", E_BAD_REQUEST, "signal: unknown signal"},
	{"{\"cmd\": \"kill\", \"signal\": 65}", E_BAD_REQUEST, "signal: unknown signal"},
	{"{\"cmd\": \"kill\", \"signal\": 9.5}", E_BAD_REQUEST, "signal: unknown signal"},
	{"{\"cmd\": \"kill\", \"signal\": true}", E_BAD_REQUEST, "signal: unknown signal"},
	{"{\"cmd\": \"logs\", \"seq\": 0}", E_BAD_REQUEST, "seq must be a positive whole number"},
	{"{\"cmd\": \"logs\", \"seq\": \"1\"}", E_BAD_REQUEST,
	 "seq must be a positive whole number"},
	{"{\"cmd\": \"logs\", \"lines\": -1}", E_BAD_REQUEST,
	 "lines must be a whole number from 0 to 100000"},
	{"{\"cmd\": \"logs\", \"lines\": 100001}", E_BAD_REQUEST,
	 "lines must be a whole number from 0 to 100000"},
	{"{\"cmd\": \"wait\", \"state\": \"running\"}", E_BAD_REQUEST,
	 "state must be \"attached\" or \"detached\""},
	{"{\"cmd\": \"wait\", \"state\": 1}", E_BAD_REQUEST, "state must be a string"},
};

static void
test_request_errors(void **state)
{
	char err[256];
	struct proto_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_requests) / sizeof(bad_requests[0]); i++) {
		enum proto_err e = parse_req(bad_requests[i].line, &req, err, sizeof(err));
		if (e != bad_requests[i].code || strcmp(err, bad_requests[i].msg) != 0)
			fail_msg("%s\n  want: %s %s\n  got:  %s %s", bad_requests[i].line,
				 proto_errs[bad_requests[i].code].name, bad_requests[i].msg,
				 proto_errs[e].name, err);
		proto_request_free(&req);
	}
}

static void
test_request_id_echo(void **state)
{
	static const char *const lines[] = {
		"{\"id\": 42, \"cmd\": \"nope\"}",
		"{\"cmd\": \"attach\", \"id\": 42}",
		"{\"id\": 42, \"cmd\": \"status\", \"bogus\": true}",
		"{\"id\": 42}",
		"{\"id\": 42, \"cmd\": \"kill\", \"signal\": \"FOO\"}",
	};
	char err[256];
	struct proto_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		assert_int_not_equal(parse_req(lines[i], &req, err, sizeof(err)), E_OK);
		assert_non_null(req.id);
		assert_string_equal(req.id->valuestring, "42");
		proto_request_free(&req);
	}
	/* a string, a number or null, echoed byte for byte; nothing else */
	static const char *const not_ids[] = {"{\"a\": [1]}", "[1]", "true", "01", "+1", "1.",
					      ".5", "1e", "-"};
	for (size_t i = 0; i < sizeof(not_ids) / sizeof(not_ids[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "{\"id\": %s, \"cmd\": \"hello\"}", not_ids[i]);
		assert_int_equal(parse_req(line, &req, err, sizeof(err)), E_BAD_REQUEST);
		assert_null(req.id);
		proto_request_free(&req);
	}
	/* NUL and other control characters: cJSON takes them as blanks; a request may not */
	assert_int_equal(proto_request_parse("{\"id\"\0: 1, \"cmd\": \"hello\"}", 26, &req, err,
					     sizeof(err)),
			 E_BAD_REQUEST);
	proto_request_free(&req);
	assert_int_equal(parse_req("{\"id\": \"abc\", \"cmd\": \"hello\"}", &req, err, sizeof(err)),
			 E_OK);
	assert_string_equal(req.id->valuestring, "\"abc\"");
	proto_request_free(&req);
	static const char *const exact[] = {"9007199254740993", "1e400", "\"a\\u0000b\"", "7.50",
					    "-0", "\"\\\"}\"", "null", "-0.0E+05"};
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
		char line[128], *resp;
		snprintf(line, sizeof(line), "{\"cmd\": \"hello\", \"id\" : %s }", exact[i]);
		assert_int_equal(parse_req(line, &req, err, sizeof(err)), E_OK);
		assert_string_equal(req.id->valuestring, exact[i]);
		resp = proto_response_ok(req.id, NULL, NULL);
		assert_non_null(strstr(resp, exact[i]));
		free(resp);
		proto_request_free(&req);
	}
	/* an escaped key would be found by cJSON but not by the scan: refused, not guessed */
	assert_int_equal(parse_req("{\"\\u0069d\": 1, \"cmd\": \"hello\"}", &req, err, sizeof(err)),
			 E_BAD_REQUEST);
	proto_request_free(&req);
	/* no id to echo from a line that is not an object */
	assert_int_equal(parse_req("{\"id\": 1,", &req, err, sizeof(err)), E_BAD_REQUEST);
	assert_null(req.id);
	proto_request_free(&req);
}

/* ---- responses ---- */

/* One line: a single '\n', at the end, and *len counting it. */
static void
assert_one_line(const char *line, size_t len)
{
	assert_non_null(line);
	assert_int_equal(strlen(line), len);
	assert_true(len > 0);
	assert_int_equal(line[len - 1], '\n');
	assert_null(memchr(line, '\n', len - 1));
}

static void
test_response_ok_round_trip(void **state)
{
	cJSON *id = cJSON_CreateNumber(7), *result = cJSON_CreateObject();
	struct proto_response resp;
	size_t len = 0;
	char *line;

	(void)state;
	cJSON_AddStringToObject(result, "state", "attached");
	cJSON_AddStringToObject(result, "multi", "a\nb");
	line = proto_response_ok(id, result, &len);
	assert_one_line(line, len);
	assert_int_equal(proto_response_parse(line, &resp), 0);
	assert_true(resp.ok);
	assert_string_equal(cJSON_GetObjectItem(resp.result, "state")->valuestring, "attached");
	assert_string_equal(cJSON_GetObjectItem(resp.result, "multi")->valuestring, "a\nb");
	assert_int_equal(cJSON_GetObjectItem(resp.root, "id")->valueint, 7);
	cJSON_Delete(resp.root);
	free(line);

	/* no result is an empty one; no id is no id */
	line = proto_response_ok(NULL, NULL, &len);
	assert_one_line(line, len);
	assert_int_equal(proto_response_parse(line, &resp), 0);
	assert_true(resp.ok);
	assert_true(cJSON_IsObject(resp.result));
	assert_null(resp.result->child);
	assert_null(cJSON_GetObjectItem(resp.root, "id"));
	cJSON_Delete(resp.root);
	free(line);

	/* len may be NULL */
	line = proto_response_ok(id, NULL, NULL);
	assert_non_null(line);
	free(line);
	cJSON_Delete(id);
}

static void
test_response_error_round_trip(void **state)
{
	cJSON *id = cJSON_CreateString("req-1"), *extra = cJSON_CreateObject();
	struct proto_response resp;
	size_t len;
	char *line;

	(void)state;
	cJSON_AddTrueToObject(extra, "rolled_back");
	line = proto_response_error(id, E_NOT_ATTACHED, "nothing is attached", extra, &len);
	assert_one_line(line, len);
	assert_int_equal(proto_response_parse(line, &resp), 0);
	assert_false(resp.ok);
	assert_null(resp.result);
	assert_int_equal(resp.code, E_NOT_ATTACHED);
	assert_string_equal(resp.code_name, "not_attached");
	assert_string_equal(resp.message, "nothing is attached");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(resp.error, "rolled_back")));
	assert_string_equal(cJSON_GetObjectItem(resp.root, "id")->valuestring, "req-1");
	cJSON_Delete(resp.root);
	free(line);

	/* without a message, the code is the message */
	line = proto_response_error(NULL, E_BUSY, NULL, NULL, &len);
	assert_int_equal(proto_response_parse(line, &resp), 0);
	assert_int_equal(resp.code, E_BUSY);
	assert_string_equal(resp.message, "busy");
	cJSON_Delete(resp.root);
	free(line);

	/* every code survives the trip */
	for (int e = 1; e < E_COUNT; e++) {
		line = proto_response_error(id, (enum proto_err)e, "m", NULL, &len);
		assert_int_equal(proto_response_parse(line, &resp), 0);
		assert_int_equal(resp.code, e);
		assert_string_equal(resp.code_name, proto_errs[e].name);
		assert_int_equal(proto_err_lookup(proto_errs[e].name), e);
		cJSON_Delete(resp.root);
		free(line);
	}
	cJSON_Delete(id);
}

static void
test_error_codes(void **state)
{
	(void)state;
	for (int e = 0; e < E_COUNT; e++) {
		assert_non_null(proto_errs[e].name);
		for (int f = 0; f < e; f++)
			assert_string_not_equal(proto_errs[e].name, proto_errs[f].name);
	}
	assert_int_equal(proto_err_lookup("no_such_code"), E_INTERNAL);
	/* SPEC 6's exit codes */
	assert_int_equal(proto_errs[E_ALREADY_ATTACHED].exit, EXIT_CONFLICT);
	assert_int_equal(proto_errs[E_NOT_ATTACHED].exit, EXIT_CONFLICT);
	assert_int_equal(proto_errs[E_SCHED_EXT_BUSY].exit, EXIT_CONFLICT);
	assert_int_equal(proto_errs[E_BUSY].exit, EXIT_CONFLICT);
	assert_int_equal(proto_errs[E_TIMEOUT].exit, EXIT_TIMEOUT);
	assert_int_equal(proto_errs[E_STARTUP_TIMEOUT].exit, EXIT_TIMEOUT);
	assert_int_equal(proto_errs[E_PERMISSION_DENIED].exit, EXIT_DENIED);
	assert_int_equal(proto_errs[E_UNKNOWN_SCHEDULER].exit, EXIT_UNKNOWN);
	assert_int_equal(proto_errs[E_INVALID_NAME].exit, EXIT_UNKNOWN);
	assert_int_equal(proto_errs[E_SPAWN_FAILED].exit, EXIT_FAILED);
}

static void
test_response_parse_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"{}",
		"{\"ok\": \"yes\", \"result\": {}}",
		"{\"ok\": true}",
		"{\"ok\": true, \"result\": []}",
		"{\"ok\": false}",
		"{\"ok\": false, \"error\": \"busy\"}",
		"{\"ok\": false, \"error\": {\"message\": \"x\"}}",
		"{\"ok\": false, \"error\": {\"code\": 3}}",
	};
	struct proto_response resp;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (proto_response_parse(bad[i], &resp) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_null(resp.root); /* nothing left to free after a failure */
	}
	/* a code this client does not know is internal, its name kept */
	assert_int_equal(
		proto_response_parse("{\"ok\": false, \"error\": {\"code\": \"new_one\"}}", &resp),
		0);
	assert_int_equal(resp.code, E_INTERNAL);
	assert_string_equal(resp.code_name, "new_one");
	assert_string_equal(resp.message, "new_one");
	cJSON_Delete(resp.root);
}

static void
test_request_new_round_trip(void **state)
{
	cJSON *r = proto_request_new(CMD_ATTACH, 12);
	struct proto_request req;
	char err[128], *line;
	size_t len;

	(void)state;
	cJSON_AddStringToObject(r, "name", "scx_simple");
	cJSON_AddItemToObject(r, "args", cJSON_CreateArray());
	line = proto_line(r, &len);
	assert_one_line(line, len);
	assert_int_equal(proto_request_parse(line, len - 1, &req, err, sizeof(err)), E_OK);
	assert_int_equal(req.cmd, CMD_ATTACH);
	assert_string_equal(req.id->valuestring, "12");
	assert_string_equal(req.name, "scx_simple");
	proto_request_free(&req);
	free(line);
	cJSON_Delete(r);
}

/* ---- framing ---- */

static void
write_all(int fd, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(fd, s, n), (ssize_t)n);
}

static void
test_linebuf_split(void **state)
{
	struct linebuf lb;
	int p[2];
	size_t len;
	char *line;

	(void)state;
	assert_int_equal(pipe(p), 0);
	linebuf_init(&lb, 100);
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 0);

	write_all(p[1], "hel");
	assert_int_equal(linebuf_fill(&lb, p[0]), 3);
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 3);

	write_all(p[1], "lo\nwor");
	assert_int_equal(linebuf_fill(&lb, p[0]), 6);
	line = linebuf_next(&lb, &len);
	assert_non_null(line);
	assert_int_equal(len, 5);
	assert_string_equal(line, "hello");
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 3);

	write_all(p[1], "ld\n\n{\"x\": 1}\n");
	assert_true(linebuf_fill(&lb, p[0]) > 0);
	line = linebuf_next(&lb, &len);
	assert_string_equal(line, "world");
	line = linebuf_next(&lb, &len);
	assert_non_null(line);
	assert_int_equal(len, 0);
	assert_string_equal(line, "");
	line = linebuf_next(&lb, &len);
	assert_string_equal(line, "{\"x\": 1}");
	assert_int_equal(len, 8);
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 0);

	/* a partial line at EOF stays pending */
	write_all(p[1], "tail");
	close(p[1]);
	assert_int_equal(linebuf_fill(&lb, p[0]), 4);
	assert_int_equal(linebuf_fill(&lb, p[0]), 0);
	assert_null(linebuf_next(&lb, &len));
	assert_int_equal(linebuf_pending(&lb), 4);
	close(p[0]);
	linebuf_free(&lb);

	/* a read error is -1 with errno */
	linebuf_init(&lb, 100);
	errno = 0;
	assert_int_equal(linebuf_fill(&lb, -1), -1);
	assert_int_equal(errno, EBADF);
	linebuf_free(&lb);
}

static void
test_linebuf_limit(void **state)
{
	struct linebuf lb;
	int p[2];
	size_t len;
	char *line;
	ssize_t n;

	(void)state;
	/* exactly max bytes is a line */
	assert_int_equal(pipe(p), 0);
	linebuf_init(&lb, 8);
	write_all(p[1], "01234567\nab");
	while (linebuf_pending(&lb) < 9)
		assert_true(linebuf_fill(&lb, p[0]) > 0);
	line = linebuf_next(&lb, &len);
	assert_non_null(line);
	assert_string_equal(line, "01234567");
	assert_int_equal(len, 8);
	linebuf_free(&lb);
	close(p[0]);
	close(p[1]);

	/* one more is too long: pending passes max, and the next fill says -2 */
	assert_int_equal(pipe(p), 0);
	linebuf_init(&lb, 8);
	write_all(p[1], "012345678\n");
	n = linebuf_fill(&lb, p[0]);
	assert_true(n > 0);
	assert_null(linebuf_next(&lb, &len));
	assert_true(linebuf_pending(&lb) > 8);
	assert_int_equal(linebuf_fill(&lb, p[0]), -2);
	linebuf_free(&lb);
	close(p[0]);
	close(p[1]);

	/* lines after a consumed one are not penalised by it */
	assert_int_equal(pipe(p), 0);
	linebuf_init(&lb, 8);
	write_all(p[1], "abc\n0123");
	assert_true(linebuf_fill(&lb, p[0]) > 0);
	assert_string_equal(linebuf_next(&lb, &len), "abc");
	write_all(p[1], "4567\n");
	while ((line = linebuf_next(&lb, &len)) == NULL)
		assert_true(linebuf_fill(&lb, p[0]) > 0);
	assert_string_equal(line, "01234567");
	linebuf_free(&lb);
	close(p[0]);
	close(p[1]);
}

static void
test_linebuf_big(void **state)
{
	struct linebuf lb;
	int p[2];
	size_t len, sent = 0;
	char chunk[4096], *line = NULL;
	ssize_t n = 0;

	(void)state;
	memset(chunk, 'x', sizeof(chunk));
	/* a 40000-byte line arrives in pieces and grows the buffer */
	assert_int_equal(pipe(p), 0);
	linebuf_init(&lb, PROTO_MAX_LINE);
	while (sent < 40000) {
		size_t k = 40000 - sent < sizeof(chunk) ? 40000 - sent : sizeof(chunk);
		assert_int_equal(write(p[1], chunk, k), (ssize_t)k);
		sent += k;
		assert_true(linebuf_fill(&lb, p[0]) > 0);
		assert_null(linebuf_next(&lb, &len));
	}
	write_all(p[1], "\n");
	while ((line = linebuf_next(&lb, &len)) == NULL)
		assert_true(linebuf_fill(&lb, p[0]) > 0);
	assert_int_equal(len, 40000);
	assert_int_equal(strspn(line, "x"), 40000);
	linebuf_free(&lb);
	close(p[0]);
	close(p[1]);

	/* past PROTO_MAX_LINE without a newline: -2 */
	assert_int_equal(pipe(p), 0);
	linebuf_init(&lb, PROTO_MAX_LINE);
	sent = 0;
	while (sent < PROTO_MAX_LINE + 2 * sizeof(chunk)) {
		assert_int_equal(write(p[1], chunk, sizeof(chunk)), (ssize_t)sizeof(chunk));
		sent += sizeof(chunk);
		while ((n = linebuf_fill(&lb, p[0])) > 0 && linebuf_pending(&lb) < sent)
			;
		if (n == -2)
			break;
		assert_true(n > 0);
	}
	assert_int_equal(n, -2);
	assert_true(linebuf_pending(&lb) > PROTO_MAX_LINE);
	linebuf_free(&lb);
	close(p[0]);
	close(p[1]);
}

/* ---- clocks ---- */

static void
test_clocks(void **state)
{
	char buf[32];
	int64_t a = mono_ms(), b = mono_ms();

	(void)state;
	assert_true(b >= a);
	assert_true(mono_ns() / 1000000 >= b);
	assert_true(realtime_ms() > 1600000000000LL);
	format_utc_ms(0, buf, sizeof(buf));
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	format_utc_ms(1000000000123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2001-09-09T01:46:40.123Z");
	format_utc_ms(1795800001123LL, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-27T17:20:01.123Z");
}

static void
test_text_sanitize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"plain ascii", "plain ascii"},
		{"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
		{"cut \xc3", "cut ?"},			 /* a character cut by a byte limit */
		{"cut \xe2\x82", "cut ??"},
		{"line\nforged", "line?forged"},	 /* no second log line */
		{"tab\tdel\x7f", "tab?del?"},
		{"over\xc0\xaflong", "over??long"},	 /* overlong '/' */
		{"surrogate \xed\xa0\x80", "surrogate ???"},
		{"too big \xf4\x90\x80\x80", "too big ????"},
		{"stray \x80 byte", "stray ? byte"},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		text_sanitize(buf);
		assert_string_equal(buf, cases[i].out);
	}
}

/* Log lines keep their control characters (JSON escapes them); only bad UTF-8 goes. */
static void
test_utf8_sanitize(void **state)
{
	static const struct {
		const char *in, *out;
		bool valid;
	} cases[] = {
		{"plain\ttab\x1b[1m", "plain\ttab\x1b[1m", true},
		{"caf\xc3\xa9 \xf0\x9f\x98\x80", "caf\xc3\xa9 \xf0\x9f\x98\x80", true},
		{"cut \xc3", "cut ?", false},
		{"\xff\xfe binary", "?? binary", false},
		{"surrogate \xed\xa0\x80", "surrogate ???", false},
		{"over\xc0\xaflong", "over??long", false},
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(utf8_valid(cases[i].in, strlen(cases[i].in)), cases[i].valid);
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		utf8_sanitize(buf);
		assert_string_equal(buf, cases[i].out);
		assert_true(utf8_valid(buf, strlen(buf)));
	}
	/* a character cut by the length given is not valid, though the bytes go on */
	assert_false(utf8_valid("\xc3\xa9", 1));
	assert_true(utf8_valid("a\0b", 3));
}

/* Found by fuzzing: "%.64s" cut a two-byte character, and the response was not UTF-8. */
static void
test_error_message_stays_utf8(void **state)
{
	char line[128], err[256];
	struct proto_request req;
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(line, sizeof(line), "{\"cmd\":\"a");
	for (int i = 0; i < 32; i++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, "\xc3\xa9");
	n += (size_t)snprintf(line + n, sizeof(line) - n, "\"}");
	assert_int_equal(proto_request_parse(line, n, &req, err, sizeof(err)), E_UNKNOWN_COMMAND);
	proto_request_free(&req);
	/* 'a', 31 whole characters, and the cut one shown as '?' */
	assert_non_null(strstr(err, "\xc3\xa9?\""));
	char copy[256];
	snprintf(copy, sizeof(copy), "%s", err);
	text_sanitize(copy);
	assert_string_equal(copy, err); /* already clean */
}

/* The status fast path writes exactly what proto_response_ok would. */
static void
test_response_ok_text_matches(void **state)
{
	const char *ids[] = {NULL, "7", "\"req-1\"", "{\"a\":[1,2]}"};
	cJSON *result = cJSON_Parse("{\"state\":\"attached\",\"pid\":42,\"args\":[\"-v\"]}");
	char *text = cJSON_PrintUnformatted(result);

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		cJSON *id = ids[i] != NULL ? cJSON_Parse(ids[i]) : NULL;
		size_t la, lb;
		char *a = proto_response_ok(id, cJSON_Duplicate(result, true), &la);
		char *b = proto_response_ok_text(id, text, &lb);
		assert_string_equal(a, b);
		assert_int_equal(la, lb);
		free(a);
		free(b);
		cJSON_Delete(id);
	}
	free(text);
	cJSON_Delete(result);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_duration_parse_good),
		cmocka_unit_test(test_duration_parse_bad),
		cmocka_unit_test(test_duration_format),
		cmocka_unit_test(test_text_sanitize),
		cmocka_unit_test(test_utf8_sanitize),
		cmocka_unit_test(test_response_ok_text_matches),
		cmocka_unit_test(test_error_message_stays_utf8),
		cmocka_unit_test(test_duration_round_trip),
		cmocka_unit_test(test_sched_name_valid),
		cmocka_unit_test(test_signal_parse),
		cmocka_unit_test(test_signal_name),
		cmocka_unit_test(test_request_every_command),
		cmocka_unit_test(test_request_params),
		cmocka_unit_test(test_request_errors),
		cmocka_unit_test(test_request_id_echo),
		cmocka_unit_test(test_response_ok_round_trip),
		cmocka_unit_test(test_response_error_round_trip),
		cmocka_unit_test(test_error_codes),
		cmocka_unit_test(test_response_parse_bad),
		cmocka_unit_test(test_request_new_round_trip),
		cmocka_unit_test(test_linebuf_split),
		cmocka_unit_test(test_linebuf_limit),
		cmocka_unit_test(test_linebuf_big),
		cmocka_unit_test(test_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
