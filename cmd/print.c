/* schedctl's output: a JSON line, or one short human fact a line, from the same result. */
#include "print.h"

#include <err.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "duration.h"
#include "names.h"
#include "proto.h"

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
num(const cJSON *o, const char *key, long long *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return false;
	*out = (long long)v->valuedouble;
	return true;
}

static bool
flag(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const cJSON *
object(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsObject(v) ? v : NULL;
}

void
print_json(const cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);

	if (s == NULL) {
		warnx("out of memory");
		return;
	}
	puts(s);
	free(s);
}

/* "0.21s", "12.3s": how long a request took. */
static void
fmt_elapsed(long long ms, char *buf, size_t len)
{
	snprintf(buf, len, ms < 10000 ? "%.2fs" : "%.1fs", (double)ms / 1000.0);
}

/* "12.3s", "5m 3s", "2h 5m", "3d 4h": how long something has been running. */
static void
fmt_uptime(long long ms, char *buf, size_t len)
{
	long long s = ms / 1000;

	if (s < 60)
		snprintf(buf, len, "%.1fs", (double)ms / 1000.0);
	else if (s < 3600)
		snprintf(buf, len, "%lldm %llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh %lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd %lldh", s / 86400, s % 86400 / 3600);
}

/* "code 0", "signal SIGKILL", "signal SIGSEGV (core dumped)", "status unknown". */
static void
fmt_exit(const cJSON *e, char *buf, size_t len)
{
	long long v;

	if (!flag(e, "unknown") && num(e, "code", &v)) {
		snprintf(buf, len, "code %lld", v);
	} else if (!flag(e, "unknown") && num(e, "signal", &v)) {
		const char *name = str(e, "signal_name");
		snprintf(buf, len, "signal %s%s", name != NULL ? name : signal_name((int)v),
			 flag(e, "core_dumped") ? " (core dumped)" : "");
	} else {
		snprintf(buf, len, "status unknown");
	}
}

static bool
has_exit(const cJSON *e)
{
	long long v;

	return flag(e, "unknown") || num(e, "code", &v) || num(e, "signal", &v);
}

/*
 * A protocol time stamp ("2026-11-27T17:20:01.123Z") in local time: with the date and
 * zone for status, as "17:20:01.123" for events. The stamp itself when it is not one.
 */
static void
fmt_time(const char *at, bool with_date, char *buf, size_t len)
{
	struct tm tm;
	int ms = 0, scale = 100;
	const char *p;
	time_t t;
	char hms[16];

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(at, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		goto raw;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += (*p - '0') * scale;
	if (strcmp(p, "Z") != 0)
		goto raw;
	t = timegm(&tm);
	if (t == (time_t)-1 || localtime_r(&t, &tm) == NULL)
		goto raw;
	if (with_date) {
		if (strftime(buf, len, "%Y-%m-%d %H:%M:%S %Z", &tm) > 0)
			return;
	} else if (strftime(hms, sizeof(hms), "%H:%M:%S", &tm) > 0) {
		snprintf(buf, len, "%s.%03d", hms, ms);
		return;
	}
raw:
	snprintf(buf, len, "%s", at);
}

/* An argument as a shell would need it, so a printed command line can be pasted. */
static void
print_arg(const char *s)
{
	if (*s != '\0' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				    "0123456789_./=:,+-@%") == strlen(s)) {
		fputs(s, stdout);
		return;
	}
	putchar('\'');
	for (; *s != '\0'; s++) {
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	}
	putchar('\'');
}

/* "(pid 4242, seq 3)", leaving out what the result does not say. */
static void
fmt_ident(const cJSON *o, char *buf, size_t len)
{
	long long pid, seq;
	bool has_pid = num(o, "pid", &pid), has_seq = num(o, "seq", &seq);

	if (has_pid && has_seq)
		snprintf(buf, len, " (pid %lld, seq %lld)", pid, seq);
	else if (has_pid)
		snprintf(buf, len, " (pid %lld)", pid);
	else
		buf[0] = '\0';
}

/* status: aligned "key: value" lines. */
#define KEY_WIDTH 13

static void field(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
field(const char *key, const char *fmt, ...)
{
	char label[32];
	va_list ap;

	snprintf(label, sizeof(label), "%s:", key);
	printf("%-*s", KEY_WIDTH, label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
print_scheduler(const cJSON *sched)
{
	const char *name = str(sched, "name"), *kind = str(sched, "kind");
	const char *ops = str(sched, "ops"), *mode = str(sched, "mode"), *path = str(sched, "path");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(sched, "args"), *a;

	field("scheduler", "%s (%s%s%s%s%s)", name != NULL ? name : "?",
	      kind != NULL ? kind : "unknown kind", ops != NULL ? ", ops " : "",
	      ops != NULL ? ops : "", mode != NULL ? ", mode " : "", mode != NULL ? mode : "");
	if (path == NULL)
		return;
	printf("%-*s", KEY_WIDTH, "command:");
	print_arg(path);
	cJSON_ArrayForEach (a, args)
		if (cJSON_IsString(a)) {
			putchar(' ');
			print_arg(a->valuestring);
		}
	putchar('\n');
}

static void
print_last_exit(const cJSON *e)
{
	const cJSON *tail = cJSON_GetObjectItemCaseSensitive(e, "log_tail"), *line;
	const char *name = str(e, "name"), *at = str(e, "at"), *reason = str(e, "reason");
	const char *log = str(e, "log");
	char ident[64], how[64], ran[48] = "", when[64];
	long long runtime;

	fmt_ident(e, ident, sizeof(ident));
	fmt_exit(object(e, "exit"), how, sizeof(how));
	if (num(e, "runtime_ms", &runtime)) {
		char up[32];
		fmt_uptime(runtime, up, sizeof(up));
		snprintf(ran, sizeof(ran), " after %s", up);
	}
	field("last exit", "%s%s %s%s%s", name != NULL ? name : "?", ident, how, ran,
	      flag(e, "while_daemon_down") ? " while schedlifed was down" : "");
	if (at != NULL) {
		fmt_time(at, true, when, sizeof(when));
		field("exit time", "%s", when);
	}
	if (reason != NULL)
		field("exit reason", "%s", reason);
	if (log != NULL)
		field("exit log", "%s", log);
	cJSON_ArrayForEach (line, tail)
		if (cJSON_IsString(line))
			printf("%-*s%s\n", KEY_WIDTH, "", line->valuestring);
}

void
print_status(const cJSON *st)
{
	const cJSON *sched = object(st, "scheduler"), *se = object(st, "sched_ext");
	const cJSON *last = object(st, "last_exit");
	const char *state = str(st, "state"), *started = str(st, "started_at");
	const char *log = str(st, "log");
	const char *scope = str(st, "kill_scope"), *cgroup = str(st, "cgroup");
	char buf[64];
	long long v;

	field("state", "%s", state != NULL ? state : "unknown");
	if (sched != NULL)
		print_scheduler(sched);
	if (num(st, "pid", &v))
		field("pid", "%lld%s", v,
		      flag(st, "adopted") ? " (adopted from an earlier schedlifed)" : "");
	if (sched != NULL && num(st, "seq", &v))
		field("seq", "%lld", v);
	if (started != NULL) {
		fmt_time(started, true, buf, sizeof(buf));
		field("started", "%s", buf);
	}
	if (num(st, "uptime_ms", &v)) {
		fmt_uptime(v, buf, sizeof(buf));
		field("uptime", "%s", buf);
	}
	if (se != NULL) {
		const char *kstate = str(se, "state"), *ops = str(se, "ops");
		if (num(se, "enable_seq", &v))
			snprintf(buf, sizeof(buf), ", enable_seq %lld", v);
		else
			buf[0] = '\0';
		field("kernel", "%s%s%s%s", kstate != NULL ? kstate : "unknown",
		      ops != NULL ? ", ops " : "", ops != NULL ? ops : "", buf);
	} else if (cJSON_GetObjectItemCaseSensitive(st, "sched_ext") != NULL) {
		field("kernel", "no sched_ext");
	}
	if (log != NULL)
		field("log", "%s", log);
	if (scope != NULL && strcmp(scope, "cgroup") == 0)
		field("kills", "cgroup %s", cgroup != NULL ? cgroup : "");
	else if (scope != NULL)
		field("kills", "%s", strcmp(scope, "process_group") == 0 ? "process group" : scope);
	if (num(st, "restarts", &v))
		field("restarts", "%lld%s", v, flag(st, "gave_up") ? " (gave up)" : "");
	if (last != NULL)
		print_last_exit(last);
	if (flag(st, "foreign")) {
		const char *ops = str(se, "ops");
		printf("foreign scheduler loaded: %s\n", ops != NULL ? ops : "unknown");
	}
	if (str(st, "persist_error") != NULL)
		printf("state file not written (retrying): %s\n", str(st, "persist_error"));
}

static void
join_modes(const cJSON *modes, char *buf, size_t len)
{
	const cJSON *m;
	size_t used = 0;

	buf[0] = '\0';
	/* An object of mode name to arguments; an array of names will do too. */
	cJSON_ArrayForEach (m, modes) {
		const char *name = cJSON_IsObject(modes) ? m->string : cJSON_GetStringValue(m);
		int n;
		if (name == NULL || used >= len)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "," : "", name);
		used += n > 0 ? (size_t)n : 0;
	}
}

/* list: one scheduler a line, in columns. */
void
print_list(const cJSON *r)
{
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(r, "schedulers"), *s, *a;
	static const char *const heads[] = {"NAME", "KIND", "OPS", "SOURCE", "MODES"};
	static const char *const keys[] = {"name", "kind", "ops", "source", NULL};
	int width[5];
	char modes[512];

	if (cJSON_GetArraySize(all) == 0) {
		puts("no schedulers");
		return;
	}
	for (int i = 0; i < 5; i++)
		width[i] = (int)strlen(heads[i]);
	cJSON_ArrayForEach (s, all) {
		for (int i = 0; i < 4; i++) {
			const char *v = str(s, keys[i]);
			if (v != NULL && (int)strlen(v) > width[i])
				width[i] = (int)strlen(v);
		}
		join_modes(cJSON_GetObjectItemCaseSensitive(s, "modes"), modes, sizeof(modes));
		if ((int)strlen(modes) > width[4])
			width[4] = (int)strlen(modes);
	}
	for (int i = 0; i < 5; i++)
		printf("%-*s  ", width[i], heads[i]);
	puts("COMMAND");
	cJSON_ArrayForEach (s, all) {
		const char *path = str(s, "path");
		for (int i = 0; i < 4; i++) {
			const char *v = str(s, keys[i]);
			printf("%-*s  ", width[i], v != NULL ? v : "-");
		}
		join_modes(cJSON_GetObjectItemCaseSensitive(s, "modes"), modes, sizeof(modes));
		printf("%-*s  ", width[4], modes[0] != '\0' ? modes : "-");
		print_arg(path != NULL ? path : "-");
		cJSON_ArrayForEach (a, cJSON_GetObjectItemCaseSensitive(s, "args"))
			if (cJSON_IsString(a)) {
				putchar(' ');
				print_arg(a->valuestring);
			}
		putchar('\n');
	}
}

/* attach: "scx_simple attached (pid 4242, seq 3) in 0.21s". */
void
print_attach(const cJSON *st)
{
	const char *name = str(object(st, "scheduler"), "name"), *state = str(st, "state");
	char ident[64], took[32] = "";
	long long ms;

	fmt_ident(st, ident, sizeof(ident));
	if (num(st, "elapsed_ms", &ms)) {
		strcpy(took, " in ");
		fmt_elapsed(ms, took + 4, sizeof(took) - 4);
	}
	printf("%s %s%s%s\n", name != NULL ? name : "scheduler", state != NULL ? state : "unknown",
	       ident, took);
}

/*
 * detach and kill: "scx_simple (pid 4242) exited after SIGTERM in 0.12s",
 * "... killed by SIGKILL after 1s grace", "... was already gone".
 */
static void
print_stop(const cJSON *r, bool detach)
{
	const char *outcome = str(r, "outcome"), *name = str(r, "name"), *sig = str(r, "signal");
	const cJSON *ended = object(r, "exit");
	char who[128], took[32] = "", grace[32], odd[96] = "";
	long long pid, ms;

	if (detach && flag(r, "already_detached")) {
		puts("already detached");
		return;
	}
	if (name == NULL)
		name = "the scheduler";
	if (num(r, "pid", &pid))
		snprintf(who, sizeof(who), "%s (pid %lld)", name, pid);
	else
		snprintf(who, sizeof(who), "%s", name);
	if (num(r, "elapsed_ms", &ms)) {
		strcpy(took, " in ");
		fmt_elapsed(ms, took + 4, sizeof(took) - 4);
	}
	/* A detach does not say which signal it sent: the one the process died of will do. */
	if (sig == NULL)
		sig = str(ended, "signal_name");
	/* How it ended, when that is not simply what the signal does. */
	if (ended != NULL && has_exit(ended)) {
		long long v;
		char how[64];
		fmt_exit(ended, how, sizeof(how));
		if ((num(ended, "code", &v) && v != 0) || flag(ended, "core_dumped") ||
		    (num(ended, "signal", &v) && (sig == NULL || signal_parse(sig) != v)))
			snprintf(odd, sizeof(odd), " (%s)", how);
	}

	if (outcome == NULL) {
		printf("%s %s%s\n", who, detach ? "detached" : "stopped", took);
	} else if (strcmp(outcome, "already_gone") == 0) {
		printf("%s was already gone\n", who);
	} else if (strcmp(outcome, "sigterm_graceful") == 0) {
		printf("%s exited%s%s%s%s\n", who, sig != NULL ? " after " : "",
		       sig != NULL ? sig : "", took, odd);
	} else if (strcmp(outcome, "sigkill_escalation") == 0) {
		if (!num(r, "grace_ms", &ms)) {
			printf("%s killed by SIGKILL after the grace period\n", who);
		} else if (ms == 0) {
			printf("%s killed by SIGKILL at once\n", who);
		} else {
			duration_format(ms, grace, sizeof(grace));
			printf("%s killed by SIGKILL after %s grace\n", who, grace);
		}
	} else {
		printf("%s: %s%s\n", who, outcome, took);
	}
}

void
print_detach(const cJSON *r)
{
	print_stop(r, true);
}

void
print_kill(const cJSON *r)
{
	print_stop(r, false);
}

/* replace and restart: what was stopped, then what now runs. */
void
print_replace(const cJSON *r)
{
	const cJSON *detached = object(r, "detached"), *attached = object(r, "attached");

	if (detached != NULL)
		print_stop(detached, true);
	if (attached != NULL)
		print_attach(attached);
}

/* wait: the status it waited for. */
void
print_wait(const cJSON *st)
{
	print_status(st);
}

/* What an event carries beyond its name, scheduler and pid, in the order a line shows it. */
static void
print_event_details(const cJSON *ev)
{
	const cJSON *ended = object(ev, "exit");
	const char *kernel_state = str(ev, "kernel_state"), *reason = str(ev, "reason");
	const char *message = str(ev, "message");
	char buf[64];
	long long v;

	if (ended != NULL) {
		fmt_exit(ended, buf, sizeof(buf));
		printf(" %s", buf);
	}
	if (num(ev, "elapsed_ms", &v)) {
		fmt_elapsed(v, buf, sizeof(buf));
		printf(" in %s", buf);
	}
	if (num(ev, "delay_ms", &v)) {
		duration_format(v, buf, sizeof(buf));
		printf(" in %s", buf);
	}
	if (num(ev, "attempt", &v))
		printf(" (attempt %lld)", v);
	if (num(ev, "restarts", &v)) {
		printf(" after %lld restarts", v);
		if (num(ev, "window_ms", &v)) {
			duration_format(v, buf, sizeof(buf));
			printf(" in %s", buf);
		}
	}
	if (num(ev, "grace_ms", &v)) {
		duration_format(v, buf, sizeof(buf));
		printf(" after %s grace", buf);
	}
	if (kernel_state != NULL)
		printf(" (kernel state %s)", kernel_state);
	if (num(ev, "enable_seq", &v))
		printf(" (enable_seq %lld)", v);
	if (reason != NULL)
		printf(": %s", reason);
	if (message == NULL)
		message = str(object(ev, "error"), "message");
	if (message != NULL)
		printf(": %s", message);
}

/* events: "17:20:01.123 exited scx_simple pid 4242 code 0". */
void
print_event(const cJSON *ev)
{
	const char *at = str(ev, "at"), *event = str(ev, "event"), *name = str(ev, "name");
	char when[64];
	long long pid;

	if (at != NULL) {
		fmt_time(at, false, when, sizeof(when));
		printf("%s ", when);
	}
	fputs(event != NULL ? event : "event", stdout);
	if (name != NULL)
		printf(" %s", name);
	if (num(ev, "pid", &pid))
		printf(" pid %lld", pid);
	print_event_details(ev);
	putchar('\n');
}

void
print_hello(const cJSON *r)
{
	const char *version = str(r, "version");
	long long protocol;

	printf("schedlifed %s", version != NULL ? version : "unknown");
	if (num(r, "protocol", &protocol)) {
		printf(" (protocol %lld)", protocol);
		if (protocol != PROTO_VERSION)
			printf(", but this schedctl speaks protocol %d", PROTO_VERSION);
	}
	putchar('\n');
}

void
print_error_details(const cJSON *e)
{
	/* A failed start's error carries its log's last lines beside the code. */
	const cJSON *tail = cJSON_GetObjectItemCaseSensitive(e, "log_tail"), *line;
	const char *log = str(e, "log");

	if (flag(e, "rolled_back"))
		warnx("rolled back: the previous scheduler is attached again");
	if (cJSON_GetArraySize(tail) == 0)
		return;
	warnx("last lines of %s:", log != NULL ? log : "its log");
	cJSON_ArrayForEach (line, tail)
		if (cJSON_IsString(line))
			fprintf(stderr, "  %s\n", line->valuestring);
}
