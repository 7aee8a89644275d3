/* schedctl: the command table, the global options, parsing and dispatch. */
#include "schedctl.h"

#include <argp.h>
#include <ctype.h>
#include <err.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "commands.h"
#include "duration.h"
#include "names.h"

/* Options without a short form. */
enum {
	K_SIGNAL = 256,
	K_NO_WAIT,
	K_ROLLBACK,
	K_SEQ,
	K_TIMEOUT,
	K_CONNECT_TIMEOUT,
};

#define MODE_DOC "add the scheduler's argument list named MODE"
#define GRACE_DOC                                                                                  \
	"time between the stop signal and SIGKILL (default: the configured grace; 0: SIGKILL at "  \
	"once)"

static const struct argp_option attach_options[] = {
	{"mode", 'm', "MODE", 0, MODE_DOC, 0},
	{"no-wait", K_NO_WAIT, NULL, 0,
	 "answer once it is spawned, without waiting until it is ready", 0},
	{0},
};
static const struct argp_option grace_options[] = {
	{"grace", 'g', "DUR", 0, GRACE_DOC, 0},
	{0},
};
static const struct argp_option kill_options[] = {
	{"grace", 'g', "DUR", 0, GRACE_DOC, 0},
	{"signal", K_SIGNAL, "SIG", 0,
	 "send SIG (TERM, SIGINT, 2...) instead of the configured stop signal", 0},
	{0},
};
static const struct argp_option replace_options[] = {
	{"mode", 'm', "MODE", 0, MODE_DOC, 0},
	{"grace", 'g', "DUR", 0, GRACE_DOC, 0},
	{"rollback", K_ROLLBACK, NULL, 0,
	 "if NAME fails to attach, attach the previous scheduler again", 0},
	{0},
};
static const struct argp_option logs_options[] = {
	{"follow", 'f', NULL, 0, "go on printing lines as they are written", 0},
	{"lines", 'n', "N", 0, "print the last N lines", 0},
	{"seq", K_SEQ, "N", 0, "the log of spawn N (default: the newest)", 0},
	{0},
};
static const struct argp_option wait_options[] = {
	{"timeout", K_TIMEOUT, "DUR", 0, "give up after DUR (exit status 5)", 0},
	{0},
};

static int cmd_help(const struct ctl *ctl, const struct cmd_args *a);

/* The grammar: each command, what it takes, what it asks, and its help, in one place. */
static const struct command commands[] = {
	{"status", CMD_STATUS, cmd_status, OPERAND_NONE, false, NULL,
	 "show the scheduler, the kernel's view, last exit", NULL},
	{"list", CMD_LIST, cmd_list, OPERAND_NONE, false, NULL,
	 "list the schedulers schedlifed can attach", NULL},
	{"attach", CMD_ATTACH, cmd_attach, OPERAND_NAME, true, "NAME [-- ARGS...]",
	 "start scheduler NAME and wait until it is ready"
	 "\vARGS follow the configured arguments and those of the mode. Callers other than "
	 "root may pass ARGS only to schedulers whose entry sets client_args.",
	 attach_options},
	{"detach", CMD_DETACH, cmd_detach, OPERAND_NONE, false, NULL,
	 "stop the scheduler, wait until the kernel lets go"
	 "\vSucceeds when nothing is attached, too.",
	 grace_options},
	{"kill", CMD_KILL, cmd_kill, OPERAND_NONE, false, NULL,
	 "signal the scheduler, SIGKILL it after the grace", kill_options},
	{"replace", CMD_REPLACE, cmd_replace, OPERAND_NAME, true, "NAME [-- ARGS...]",
	 "detach the scheduler, then attach NAME"
	 "\vA replace whose attach fails fails, even when --rollback brought the previous "
	 "scheduler back.",
	 replace_options},
	{"restart", CMD_RESTART, cmd_restart, OPERAND_NONE, false, NULL,
	 "detach, then attach the same scheduler again", grace_options},
	{"logs", CMD_LOGS, cmd_logs, OPERAND_NONE, false, NULL, "print a scheduler's output",
	 logs_options},
	{"events", CMD_SUBSCRIBE, cmd_events, OPERAND_NONE, false, NULL,
	 "print lifecycle events as they happen"
	 "\vRuns until interrupted or until schedlifed closes the connection.",
	 NULL},
	{"wait", CMD_WAIT, cmd_wait, OPERAND_STATE, false, "attached|detached",
	 "wait until the slot is attached or detached", wait_options},
	{"version", CMD_HELLO, cmd_version, OPERAND_NONE, false, NULL,
	 "print the versions of schedctl and schedlifed", NULL},
	{"help", CMD_COUNT, cmd_help, OPERAND_TOPIC, false, "[COMMAND]",
	 "print help for schedctl or for COMMAND", NULL},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int
unknown_command(const char *name)
{
	warnx("unknown command \"%s\"", name);
	fprintf(stderr, "Try '%s help' for the list of commands.\n", program_invocation_short_name);
	return EXIT_USAGE;
}

static int64_t
duration_arg(const char *arg, const char *option)
{
	int64_t ms;

	if (duration_parse(arg, &ms) < 0)
		errx(EXIT_USAGE, "invalid duration \"%s\" for --%s", arg, option);
	return ms;
}

static int64_t
number_arg(const char *arg, const char *option, int64_t min, int64_t max)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(arg, &end, 10);
	if (!isdigit((unsigned char)arg[0]) || *end != '\0' || errno != 0 || n < min || n > max)
		errx(EXIT_USAGE, "invalid number \"%s\" for --%s", arg, option);
	return n;
}

static const struct argp_option global_options[] = {
	{"socket", 's', "PATH", 0,
	 "schedlifed's socket (default: $" PROTO_SOCKET_ENV ", else " PROTO_DEFAULT_SOCKET ")", 0},
	{"json", 'j', NULL, 0, "print results and errors as JSON, one object a line", 0},
	{"quiet", 'q', NULL, 0, "print nothing on success", 0},
	{"connect-timeout", K_CONNECT_TIMEOUT, "DUR", 0,
	 "keep trying to connect for up to DUR while schedlifed is not listening yet", 0},
	{NULL, 'h', NULL, 0, "the same as --help", -1},
	{0},
};

/* The global options, before the command word or after it ("schedctl status --json"). */
static error_t
parse_global_option(int key, char *arg, struct argp_state *state)
{
	struct ctl *ctl = state->input;

	switch (key) {
	case 's':
		ctl->socket = arg;
		break;
	case 'j':
		ctl->json = true;
		break;
	case 'q':
		ctl->quiet = true;
		break;
	case K_CONNECT_TIMEOUT:
		ctl->connect_timeout_ms = duration_arg(arg, "connect-timeout");
		break;
	case 'h':
		/* The help of whichever parser we are a child of: schedctl's or a command's. */
		argp_state_help(state, stdout, ARGP_HELP_STD_HELP);
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp global_argp = {
	global_options, parse_global_option, NULL, NULL, NULL, NULL, NULL,
};

static const struct argp_child command_children[] = {
	{&global_argp, 0, "Global options:", 1},
	{0},
};

/* What parsing a command line fills in. */
struct command_parse {
	struct cmd_args *args;
	struct ctl *ctl;
};

static error_t
parse_command_option(int key, char *arg, struct argp_state *state)
{
	struct command_parse *p = state->input;
	struct cmd_args *a = p->args;
	const struct command *cmd = a->command;

	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = p->ctl;
		break;
	case 'm':
		a->mode = arg;
		break;
	case 'g':
		a->grace_ms = duration_arg(arg, "grace");
		break;
	case K_SIGNAL:
		a->signal = signal_parse(arg);
		if (a->signal <= 0)
			errx(EXIT_USAGE, "unknown signal \"%s\"", arg);
		break;
	case K_NO_WAIT:
		a->no_wait = true;
		break;
	case K_ROLLBACK:
		a->rollback = true;
		break;
	case 'f':
		a->follow = true;
		break;
	case 'n':
		a->lines = number_arg(arg, "lines", 0, 100000);
		break;
	case K_SEQ:
		a->seq = number_arg(arg, "seq", 1, INT64_MAX / 2);
		break;
	case K_TIMEOUT:
		a->timeout_ms = duration_arg(arg, "timeout");
		break;
	case ARGP_KEY_ARG:
		if (cmd->operand == OPERAND_NONE || a->operand != NULL)
			argp_error(state, "unexpected argument \"%s\"%s", arg,
				   cmd->takes_args ? " (scheduler arguments go after --)" : "");
		a->operand = arg;
		break;
	case ARGP_KEY_END:
		if (a->operand == NULL && cmd->operand == OPERAND_NAME)
			argp_error(state, "missing scheduler NAME");
		if (a->operand == NULL && cmd->operand == OPERAND_STATE)
			argp_error(state, "missing state: attached or detached");
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static void
command_argp(const struct command *cmd, struct argp *argp)
{
	memset(argp, 0, sizeof(*argp));
	argp->options = cmd->options;
	argp->parser = parse_command_option;
	argp->args_doc = cmd->args_doc;
	argp->doc = cmd->doc;
	argp->children = command_children;
}

/* The command's own options and operands; ARGS after "--" go to the scheduler untouched. */
static void
parse_command(const struct command *cmd, int argc, char **argv, struct ctl *ctl, struct cmd_args *a)
{
	struct command_parse p = {a, ctl};
	struct argp argp;
	char prog[64];
	int end = argc;

	memset(a, 0, sizeof(*a));
	a->command = cmd;
	a->grace_ms = a->lines = a->seq = a->timeout_ms = -1;
	if (cmd->takes_args) {
		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--") == 0) {
				end = i;
				a->args = argv + i + 1;
				a->nargs = argc - i - 1;
				break;
			}
		}
	}
	/* argp names the program after argv[0]: make its messages say which command. */
	snprintf(prog, sizeof(prog), "%s %s", program_invocation_short_name, cmd->name);
	argv[0] = prog;
	command_argp(cmd, &argp);
	argp_parse(&argp, end, argv, 0, NULL, &p);
}

/* Operands checked before connecting, so a typo costs no round trip. */
static int
check_operand(const struct ctl *ctl, const struct cmd_args *a)
{
	char msg[128];

	switch (a->command->operand) {
	case OPERAND_NAME:
		/* An absolute path goes to the daemon, which accepts it only if allowed to. */
		if (sched_name_valid(a->operand) || a->operand[0] == '/')
			return 0;
		snprintf(msg, sizeof(msg), "invalid scheduler name \"%.80s\"", a->operand);
		return report_local_error(ctl, E_INVALID_NAME, msg);
	case OPERAND_STATE:
		if (strcmp(a->operand, "attached") == 0 || strcmp(a->operand, "detached") == 0)
			return 0;
		warnx("invalid state \"%s\": expected attached or detached", a->operand);
		return EXIT_USAGE;
	case OPERAND_NONE:
	case OPERAND_TOPIC:
		break;
	}
	return 0;
}

/* The command list in the top-level help, from the table. */
static char *
top_help_filter(int key, const char *text, void *input)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)input;
	if (key != ARGP_KEY_HELP_POST_DOC || (f = open_memstream(&buf, &len)) == NULL)
		return (char *)text;
	fputs("Commands:\n", f);
	for (size_t i = 0; i < N_COMMANDS; i++) {
		const struct command *c = &commands[i];
		char usage[64];
		snprintf(usage, sizeof(usage), "%s%s%s", c->name, c->args_doc != NULL ? " " : "",
			 c->args_doc != NULL ? c->args_doc : "");
		fprintf(f, "  %-27s%.*s\n", usage, (int)strcspn(c->doc, "\v"), c->doc);
	}
	if (text != NULL)
		fprintf(f, "\n%s", text);
	if (fclose(f) != 0) {
		free(buf);
		return (char *)text;
	}
	return buf;
}

static const struct argp_option top_options[] = {
	{"version", 'V', NULL, 0, "print schedctl's version and exit", -1},
	{0},
};

/* Up to the command word: the rest of the line is the command's to parse. */
struct top_parse {
	struct ctl *ctl;
	int command; /* index of the command word in argv; -1: none */
};

static error_t
parse_top_option(int key, char *arg, struct argp_state *state)
{
	struct top_parse *t = state->input;

	(void)arg;
	switch (key) {
	case ARGP_KEY_INIT:
		state->child_inputs[0] = t->ctl;
		break;
	case 'V':
		printf("schedctl %s\n", SCHEDLIFE_VERSION);
		exit(0);
	case ARGP_KEY_ARG:
		t->command = state->next - 1;
		state->next = state->argc;
		break;
	default:
		return ARGP_ERR_UNKNOWN;
	}
	return 0;
}

static const struct argp_child top_children[] = {
	{&global_argp, 0, NULL, 0},
	{0},
};

static const struct argp top_argp = {
	top_options,
	parse_top_option,
	"COMMAND [ARG...]",
	"Control schedlifed, which runs one sched_ext scheduler at a time."
	"\vRun 'schedctl COMMAND --help' for a command's options. Durations: 250ms, 2s, 1.5s, "
	"1m, 1h; a bare number is seconds.\n\n"
	"Exit status: 0 ok, 1 failed, 2 usage error, 3 schedlifed cannot be reached, "
	"4 state conflict, 5 timeout, 6 permission denied, 7 unknown scheduler or invalid "
	"name.",
	top_children,
	top_help_filter,
	NULL,
};

static int
cmd_help(const struct ctl *ctl, const struct cmd_args *a)
{
	const struct command *cmd;
	struct argp argp;
	char prog[64];

	(void)ctl;
	if (a->operand == NULL) {
		argp_help(&top_argp, stdout, ARGP_HELP_STD_HELP, program_invocation_short_name);
		return 0;
	}
	cmd = find_command(a->operand);
	if (cmd == NULL)
		return unknown_command(a->operand);
	command_argp(cmd, &argp);
	snprintf(prog, sizeof(prog), "%s %s", program_invocation_short_name, cmd->name);
	argp_help(&argp, stdout, ARGP_HELP_STD_HELP, prog);
	return 0;
}

int
main(int argc, char **argv)
{
	struct ctl ctl = {0};
	struct top_parse top = {&ctl, -1};
	const char *env = getenv(PROTO_SOCKET_ENV);
	const struct command *cmd;
	struct cmd_args a;
	int rc;

	ctl.socket = env != NULL && *env != '\0' ? env : PROTO_DEFAULT_SOCKET;
	argp_err_exit_status = EXIT_USAGE;
	client_signals_init();

	/* argp's messages name argv[0]; say "schedctl", not the path we were run by. */
	argv[0] = program_invocation_short_name;
	argp_parse(&top_argp, argc, argv, ARGP_IN_ORDER, NULL, &top);
	if (top.command < 0) {
		warnx("no command given");
		fprintf(stderr, "Try '%s help' for the list of commands.\n",
			program_invocation_short_name);
		return EXIT_USAGE;
	}
	cmd = find_command(argv[top.command]);
	if (cmd == NULL)
		return unknown_command(argv[top.command]);
	parse_command(cmd, argc - top.command, argv + top.command, &ctl, &a);
	rc = check_operand(&ctl, &a);
	if (rc != 0)
		return rc;
	ctl.progress = !ctl.json && !ctl.quiet && isatty(STDERR_FILENO);

	rc = cmd->run(&ctl, &a);
	if (fflush(stdout) != 0 && errno != EPIPE && rc == 0) {
		warn("cannot write to standard output");
		rc = EXIT_FAILED;
	}
	return rc;
}
