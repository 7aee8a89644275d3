/* One function per schedctl command: build its request, ask schedlifed, print the answer. */
#include "commands.h"

#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "names.h"
#include "print.h"

/* The command line as a request: each parameter the protocol command takes, if given. */
static cJSON *
build_request(struct client *c, const struct cmd_args *a)
{
	enum proto_cmd cmd = a->command->request;
	unsigned params = proto_cmds[cmd].params;
	cJSON *req = client_request(c, cmd);

	if (req == NULL)
		return NULL;
	if (params & P_NAME)
		cJSON_AddStringToObject(req, "name", a->operand);
	if (params & P_ARGS) {
		cJSON *args = cJSON_AddArrayToObject(req, "args");
		for (int i = 0; i < a->nargs; i++)
			cJSON_AddItemToArray(args, cJSON_CreateString(a->args[i]));
	}
	if ((params & P_MODE) && a->mode != NULL)
		cJSON_AddStringToObject(req, "mode", a->mode);
	if (params & P_WAIT)
		cJSON_AddBoolToObject(req, "wait", !a->no_wait);
	if ((params & P_GRACE) && a->grace_ms >= 0)
		cJSON_AddNumberToObject(req, "grace_ms", (double)a->grace_ms);
	if ((params & P_SIGNAL) && a->signal > 0) {
		const char *name = signal_name(a->signal);
		if (strcmp(name, "SIG?") == 0)
			cJSON_AddNumberToObject(req, "signal", a->signal);
		else
			cJSON_AddStringToObject(req, "signal", name);
	}
	if (params & P_ROLLBACK)
		cJSON_AddBoolToObject(req, "rollback", a->rollback);
	if ((params & P_SEQ) && a->seq > 0)
		cJSON_AddNumberToObject(req, "seq", (double)a->seq);
	if ((params & P_LINES) && a->lines >= 0)
		cJSON_AddNumberToObject(req, "lines", (double)a->lines);
	if (params & P_FOLLOW)
		cJSON_AddBoolToObject(req, "follow", a->follow);
	if (params & P_STATE)
		cJSON_AddStringToObject(req, "state", a->operand);
	if ((params & P_TIMEOUT) && a->timeout_ms >= 0)
		cJSON_AddNumberToObject(req, "timeout_ms", (double)a->timeout_ms);
	return req;
}

/* Connect and ask: 0 with *resp filled (ok or not), or an exit code already explained.
 * The caller closes c either way. */
static int
ask(const struct ctl *ctl, struct client *c, const struct cmd_args *a, const char *what,
    struct proto_response *resp)
{
	int rc = client_connect(c, ctl->socket, ctl->connect_timeout_ms, ctl->progress);

	memset(resp, 0, sizeof(*resp));
	if (rc != 0)
		return rc;
	return client_call(c, build_request(c, a), what, resp);
}

static int
show_result(const struct ctl *ctl, const cJSON *result, human_printer *human)
{
	if (ctl->json)
		print_json(result);
	else if (!ctl->quiet)
		human(result);
	return 0;
}

static int
show_error(const struct ctl *ctl, const struct proto_response *r)
{
	warnx("%s", r->message);
	print_error_details(r->error);
	if (ctl->json)
		print_json(r->error);
	return proto_errs[r->code].exit;
}

int
report_local_error(const struct ctl *ctl, enum proto_err code, const char *message)
{
	warnx("%s", message);
	if (ctl->json) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "code", proto_errs[code].name);
		cJSON_AddStringToObject(e, "message", message);
		print_json(e);
		cJSON_Delete(e);
	}
	return proto_errs[code].exit;
}

/* The one-request commands: ask, then print the result or the error. */
static int
request_and_show(const struct ctl *ctl, const struct cmd_args *a, const char *what,
		 human_printer *human)
{
	struct client c;
	struct proto_response r;
	int rc = ask(ctl, &c, a, what, &r);

	client_close(&c);
	if (rc == 0)
		rc = r.ok ? show_result(ctl, r.result, human) : show_error(ctl, &r);
	cJSON_Delete(r.root);
	return rc;
}

int
cmd_status(const struct ctl *ctl, const struct cmd_args *a)
{
	return request_and_show(ctl, a, NULL, print_status);
}

int
cmd_list(const struct ctl *ctl, const struct cmd_args *a)
{
	return request_and_show(ctl, a, NULL, print_list);
}

int
cmd_attach(const struct ctl *ctl, const struct cmd_args *a)
{
	char what[128];

	snprintf(what, sizeof(what), "attaching %s", a->operand);
	return request_and_show(ctl, a, what, print_attach);
}

int
cmd_detach(const struct ctl *ctl, const struct cmd_args *a)
{
	return request_and_show(ctl, a, "detaching", print_detach);
}

int
cmd_kill(const struct ctl *ctl, const struct cmd_args *a)
{
	return request_and_show(ctl, a, "stopping", print_kill);
}

int
cmd_replace(const struct ctl *ctl, const struct cmd_args *a)
{
	char what[128];

	snprintf(what, sizeof(what), "replacing with %s", a->operand);
	return request_and_show(ctl, a, what, print_replace);
}

int
cmd_restart(const struct ctl *ctl, const struct cmd_args *a)
{
	return request_and_show(ctl, a, "restarting", print_replace);
}

int
cmd_wait(const struct ctl *ctl, const struct cmd_args *a)
{
	char what[64];

	snprintf(what, sizeof(what), "waiting until %s", a->operand);
	return request_and_show(ctl, a, what, print_wait);
}

/* Streams print as they go: flush each line, and stop quietly once the reader has gone. */
static int
flush_stdout(void)
{
	if (fflush(stdout) == 0)
		return 0;
	if (errno == EPIPE)
		return CLIENT_STOP;
	warn("cannot write to standard output");
	return EXIT_FAILED;
}

/* The daemon drops a reader that falls too far behind, and may say so in a last line. */
static int
stream_dropped(const cJSON *ev)
{
	const char *event = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "event"));
	const char *reason = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ev, "reason"));

	if (event == NULL || strcmp(event, "dropped") != 0)
		return 0;
	fflush(stdout);
	warnx("schedlifed ended the stream: %s", reason != NULL ? reason : "no reason given");
	return EXIT_FAILED;
}

static int
print_log_event(const cJSON *ev, const char *line, const void *arg)
{
	const struct ctl *ctl = arg;
	const cJSON *text = cJSON_GetObjectItemCaseSensitive(ev, "line");

	if (ctl->json)
		puts(line);
	if (stream_dropped(ev))
		return EXIT_FAILED;
	if (!ctl->json && !ctl->quiet && cJSON_IsString(text))
		puts(text->valuestring);
	return flush_stdout();
}

static void
print_log_lines(const cJSON *result)
{
	const cJSON *line;

	cJSON_ArrayForEach (line, cJSON_GetObjectItemCaseSensitive(result, "lines"))
		if (cJSON_IsString(line))
			puts(line->valuestring);
}

int
cmd_logs(const struct ctl *ctl, const struct cmd_args *a)
{
	struct client c;
	struct proto_response r;
	int rc = ask(ctl, &c, a, NULL, &r);

	if (rc == 0 && !r.ok) {
		rc = show_error(ctl, &r);
	} else if (rc == 0) {
		show_result(ctl, r.result, print_log_lines);
		rc = flush_stdout();
		if (rc == 0 && a->follow)
			rc = client_stream(&c, print_log_event, ctl);
	}
	client_close(&c);
	cJSON_Delete(r.root);
	return rc == CLIENT_STOP ? 0 : rc;
}

static int
print_one_event(const cJSON *ev, const char *line, const void *arg)
{
	const struct ctl *ctl = arg;

	if (ctl->json)
		puts(line);
	if (stream_dropped(ev))
		return EXIT_FAILED;
	if (!ctl->json && !ctl->quiet)
		print_event(ev);
	return flush_stdout();
}

int
cmd_events(const struct ctl *ctl, const struct cmd_args *a)
{
	struct client c;
	struct proto_response r;
	int rc = ask(ctl, &c, a, NULL, &r);

	if (rc == 0 && !r.ok)
		rc = show_error(ctl, &r);
	else if (rc == 0)
		rc = client_stream(&c, print_one_event, ctl);
	client_close(&c);
	cJSON_Delete(r.root);
	return rc;
}

/* version: ours first, so it shows even when the daemon cannot be reached. */
int
cmd_version(const struct ctl *ctl, const struct cmd_args *a)
{
	struct client c;
	struct proto_response r;
	int rc;

	if (!ctl->json && !ctl->quiet) {
		printf("schedctl %s\n", SCHEDLIFE_VERSION);
		fflush(stdout);
	}
	rc = ask(ctl, &c, a, NULL, &r);
	client_close(&c);
	if (rc == 0 && !r.ok) {
		rc = show_error(ctl, &r);
	} else if (ctl->json) {
		cJSON *out = rc == 0 ? cJSON_Duplicate(r.result, true) : cJSON_CreateObject();
		cJSON_AddStringToObject(out, "client_version", SCHEDLIFE_VERSION);
		cJSON_AddNumberToObject(out, "client_protocol", PROTO_VERSION);
		print_json(out);
		cJSON_Delete(out);
	} else if (rc == 0 && !ctl->quiet) {
		print_hello(r.result);
	}
	cJSON_Delete(r.root);
	return rc;
}
