/* The control protocol, one definition for both sides: commands, error codes, framing. */
#ifndef SCHEDLIFE_PROTO_H
#define SCHEDLIFE_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

/* 2: exit records nest the exit object; ids are strings, numbers or null. */
#define PROTO_VERSION 2
#define PROTO_MAX_LINE ((size_t)64 * 1024)
#define PROTO_DEFAULT_RUN_DIR "/run/schedlifed"
#define PROTO_SOCKET_NAME "schedlifed.sock"
#define PROTO_DEFAULT_SOCKET PROTO_DEFAULT_RUN_DIR "/" PROTO_SOCKET_NAME
#define PROTO_SOCKET_ENV "SCHEDLIFED_SOCKET"

enum proto_cmd {
	CMD_HELLO,
	CMD_STATUS,
	CMD_LIST,
	CMD_ATTACH,
	CMD_DETACH,
	CMD_KILL,
	CMD_REPLACE,
	CMD_RESTART,
	CMD_LOGS,
	CMD_SUBSCRIBE,
	CMD_WAIT,
	CMD_COUNT
};

/* Request parameters, as bits so each command can say which it takes. */
enum proto_param {
	P_NAME = 1 << 0,
	P_ARGS = 1 << 1,
	P_MODE = 1 << 2,
	P_WAIT = 1 << 3,
	P_GRACE = 1 << 4,
	P_SIGNAL = 1 << 5,
	P_ROLLBACK = 1 << 6,
	P_SEQ = 1 << 7,
	P_LINES = 1 << 8,
	P_FOLLOW = 1 << 9,
	P_STATE = 1 << 10,
	P_TIMEOUT = 1 << 11,
};

struct proto_cmd_info {
	const char *name;
	bool lifecycle; /* queued, one at a time, needs authorization */
	unsigned params;
};
extern const struct proto_cmd_info proto_cmds[CMD_COUNT];
int proto_cmd_lookup(const char *name); /* -1 when unknown */

enum proto_err {
	E_OK,
	E_BAD_REQUEST,
	E_TOO_LARGE,
	E_UNKNOWN_COMMAND,
	E_UNKNOWN_SCHEDULER,
	E_INVALID_NAME,
	E_PERMISSION_DENIED,
	E_ALREADY_ATTACHED,
	E_NOT_ATTACHED,
	E_BUSY,
	E_SCHED_EXT_UNAVAILABLE,
	E_SCHED_EXT_BUSY,
	E_SPAWN_FAILED,
	E_STARTUP_DIED,
	E_STARTUP_TIMEOUT,
	E_OPS_MISMATCH,
	E_STILL_ALIVE_AFTER_SIGKILL,
	E_DISABLE_TIMEOUT,
	E_TIMEOUT,
	E_INTERNAL,
	E_COUNT
};

/* schedctl's exit codes (SPEC 6). */
enum exit_code {
	EXIT_OK_ = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_UNREACHABLE = 3,
	EXIT_CONFLICT = 4,
	EXIT_TIMEOUT = 5,
	EXIT_DENIED = 6,
	EXIT_UNKNOWN = 7,
};

struct proto_err_info {
	const char *name;
	enum exit_code exit;
};
extern const struct proto_err_info proto_errs[E_COUNT];
int proto_err_lookup(const char *name); /* E_INTERNAL when unknown */

/* A parsed request. Strings point into root, which the request owns. */
struct proto_request {
	cJSON *root;
	const cJSON *id; /* echoed back byte for byte (id_raw); NULL when absent */
	cJSON *id_raw;	 /* a raw cJSON item holding the id's text from the line */
	enum proto_cmd cmd;
	const char *name;
	const cJSON *args; /* array of strings, or NULL */
	const char *mode;
	bool wait;
	int64_t grace_ms; /* -1: the configured grace */
	int signal;	  /* 0: the configured stop signal */
	bool rollback;
	int64_t seq;	    /* -1: newest */
	int64_t lines;	    /* -1: default */
	bool follow;
	const char *state;  /* wait: "attached" or "detached" */
	int64_t timeout_ms; /* -1: none */
};

/*
 * Parse one request line (without its newline). Returns E_OK, or E_BAD_REQUEST /
 * E_UNKNOWN_COMMAND with a message in err. On error req->id is still set when the
 * line carried one, so the response can echo it; free with proto_request_free.
 */
enum proto_err proto_request_parse(const char *line, size_t len, struct proto_request *req,
				   char *err, size_t errlen);
void proto_request_free(struct proto_request *req);

/* Response and event lines, each ending in '\n'; malloc'd, NULL on allocation failure. */
char *proto_response_ok(const cJSON *id, cJSON *result, size_t *len);
char *proto_response_error(const cJSON *id, enum proto_err code, const char *message,
			   cJSON *extra, size_t *len);
char *proto_line(const cJSON *obj, size_t *len);
/* The same as proto_response_ok, around a result already printed as JSON text. */
char *proto_response_ok_text(const cJSON *id, const char *result, size_t *len);

/* A whole JSON number in [min, max] into *out: 0, or -1 (JSON numbers are doubles). */
int json_get_int(const cJSON *item, int64_t min, int64_t max, int64_t *out);

/* Client side: a request skeleton with id and cmd set. */
cJSON *proto_request_new(enum proto_cmd cmd, int64_t id);

struct proto_response {
	cJSON *root;
	bool ok;
	const cJSON *result; /* ok: the result object */
	enum proto_err code; /* !ok */
	const char *code_name;
	const char *message;
	const cJSON *error;
};
/* 0 when line is a well-formed response; -1 otherwise. Free with cJSON_Delete(root). */
int proto_response_parse(const char *line, struct proto_response *resp);

/* Newline framing with a hard line limit; the buffer grows only as lines need. */
struct linebuf {
	char *data;
	size_t start, len, cap, max;
};
void linebuf_init(struct linebuf *lb, size_t max);
void linebuf_free(struct linebuf *lb);
/* read(2) once into the buffer: >0 bytes, 0 EOF, -1 error (errno), -2 line too long. */
ssize_t linebuf_fill(struct linebuf *lb, int fd);
/* The next complete line, NUL-terminated without its '\n', or NULL. */
char *linebuf_next(struct linebuf *lb, size_t *len);
/* Bytes of a partial line waiting for its newline. */
size_t linebuf_pending(const struct linebuf *lb);

/* Clocks and time stamps. */
int64_t mono_ns(void);
int64_t mono_ms(void);
int64_t realtime_ms(void);
/* "2026-11-27T17:20:01.123Z" */
void format_utc_ms(int64_t realtime_ms, char *buf, size_t len);

#endif
