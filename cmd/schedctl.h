/* What the parts of schedctl share: global options, a parsed command line, the command table. */
#ifndef SCHEDCTL_H
#define SCHEDCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct argp_option;

/* The global options. */
struct ctl {
	const char *socket;
	bool json;
	bool quiet;
	int64_t connect_timeout_ms; /* 0: try once */
	bool progress;		    /* a terminal on stderr, neither --json nor -q */
};

/* What a command takes besides options. */
enum cmd_operand {
	OPERAND_NONE,
	OPERAND_NAME,  /* a scheduler name, checked before connecting */
	OPERAND_STATE, /* attached or detached */
	OPERAND_TOPIC, /* help's optional COMMAND */
};

struct command;

/* One command line after parsing; -1 (or NULL, false) means not given. */
struct cmd_args {
	const struct command *command;
	const char *operand;
	char **args; /* after "--" */
	int nargs;
	const char *mode;
	bool no_wait;
	bool rollback;
	bool follow;
	int64_t grace_ms;
	int signal; /* 0: not given */
	int64_t lines;
	int64_t seq;
	int64_t timeout_ms;
};

struct command {
	const char *name;
	enum proto_cmd request; /* CMD_COUNT: talks to nobody */
	int (*run)(const struct ctl *ctl, const struct cmd_args *a);
	enum cmd_operand operand;
	bool takes_args; /* [-- ARGS...] */
	const char *args_doc;
	const char *doc;
	const struct argp_option *options;
};

#endif
