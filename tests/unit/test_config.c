/* Unit tests for config.c, registry.c and authz.c: parsing, defaults, resolve, list, authz. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authz.h"
#include "config.h"
#include "names.h"
#include "registry.h"

/* ---- helpers ---- */

static int
parse(const char *json, bool allow_reboot, struct config *c, char *err, size_t errlen)
{
	return config_parse(json, strlen(json), allow_reboot, c, err, errlen);
}

static void
parse_ok(const char *json, struct config *c)
{
	char err[512] = "";

	if (parse(json, false, c, err, sizeof(err)) != 0)
		fail_msg("config %s: unexpected error: %s", json, err);
}

static void
check_error(const char *json, bool allow_reboot, const char *want)
{
	struct config c;
	char err[512] = "";
	int rc = parse(json, allow_reboot, &c, err, sizeof(err));

	if (rc == 0)
		config_free(&c);
	if (rc != -1 || strcmp(err, want) != 0)
		fail_msg("config %s\n  want: %s\n  got:  %s (rc %d)", json, want, err, rc);
}

static void
assert_strv(char *const *v, const char *const *want)
{
	size_t i;

	assert_non_null(v);
	for (i = 0; want[i] != NULL; i++) {
		assert_non_null(v[i]);
		assert_string_equal(v[i], want[i]);
	}
	assert_null(v[i]);
}

static void
assert_default_timing(const struct timing *t)
{
	assert_int_equal(t->grace_ms, 10000);
	assert_int_equal(t->stop_signal, SIGTERM);
	assert_int_equal(t->ready_after_ms, 1000);
	assert_int_equal(t->startup_timeout_ms, 10000);
	assert_int_equal(t->disable_timeout_ms, 10000);
	assert_int_equal(t->kill_mode, KILL_GROUP);
}

/* ---- defaults and the good example ---- */

static void
test_defaults(void **state)
{
	struct config c;

	(void)state;
	config_defaults(&c);
	assert_default_timing(&c.defaults);
	assert_int_equal(c.on_exit, ON_EXIT_NONE);
	assert_null(c.on_exit_exec);
	assert_int_equal(c.restart_delay_ms, 500);
	assert_int_equal(c.restart_max_delay_ms, 30000);
	assert_int_equal(c.restart_burst, 5);
	assert_int_equal(c.restart_window_ms, 60000);
	assert_null(c.fallback);
	assert_null(c.boot);
	assert_int_equal(c.on_shutdown, SHUTDOWN_DETACH);
	assert_int_equal(c.log_keep, 20);
	assert_string_equal(c.discover_path, "/usr/local/bin:/usr/bin:/usr/sbin");
	assert_false(c.allow_paths);
	assert_true(c.cgroup);
	assert_false(c.has_group);
	assert_int_equal(c.ncontrol_uids, 0);
	assert_int_equal(c.nschedulers, 0);
	config_free(&c);
	/* config_free leaves a zeroed struct that may be freed again */
	config_free(&c);
}

static void
test_empty_object_is_defaults(void **state)
{
	struct config c;

	(void)state;
	parse_ok("{}", &c);
	assert_default_timing(&c.defaults);
	assert_int_equal(c.log_keep, 20);
	assert_string_equal(c.discover_path, "/usr/local/bin:/usr/bin:/usr/sbin");
	assert_int_equal(c.nschedulers, 0);
	config_free(&c);
	parse_ok("  \n{ }\n\n", &c);
	config_free(&c);
}

static const char spec_example[] =
	"{\n"
	"  \"defaults\": {\"grace\": \"10s\", \"stop_signal\": \"TERM\", \"ready_after\": \"1s\",\n"
	"               \"startup_timeout\": \"10s\", \"disable_timeout\": \"10s\", \"kill_mode\": "
	"\"group\"},\n"
	"  \"on_exit\": {\"action\": \"none\", \"exec\": [\"/usr/local/bin/notify\", \"x\"]},\n"
	"  \"restart\": {\"delay\": \"500ms\", \"max_delay\": \"30s\", \"burst\": 5, \"window\": "
	"\"60s\"},\n"
	"  \"fallback\": \"scx_simple\",\n"
	"  \"boot\": \"scx_simple\",\n"
	"  \"on_shutdown\": \"detach\",\n"
	"  \"log_keep\": 20,\n"
	"  \"discover_path\": \"/usr/local/bin:/usr/bin:/usr/sbin\",\n"
	"  \"allow_paths\": false,\n"
	"  \"control\": {\"group\": \"schedlife-no-such-group\", \"users\": []},\n"
	"  \"schedulers\": [\n"
	"    {\"name\": \"scx_lavd\", \"path\": \"/usr/bin/scx_lavd\", \"args\": [], \"ops\": "
	"\"lavd\",\n"
	"     \"kind\": \"sched_ext\", \"grace\": \"2s\", \"env\": {\"RUST_LOG\": \"info\"},\n"
	"     \"modes\": {\"powersave\": [\"--powersave\"], \"performance\": "
	"[\"--performance\"]},\n"
	"     \"client_args\": false}\n"
	"  ]\n"
	"}\n";

static void
test_spec_example(void **state)
{
	struct config c;
	const struct sched_entry *e;

	(void)state;
	parse_ok(spec_example, &c);
	assert_default_timing(&c.defaults);
	assert_int_equal(c.on_exit, ON_EXIT_NONE);
	assert_strv(c.on_exit_exec, (const char *[]){"/usr/local/bin/notify", "x", NULL});
	assert_int_equal(c.restart_delay_ms, 500);
	assert_int_equal(c.restart_max_delay_ms, 30000);
	assert_int_equal(c.restart_burst, 5);
	assert_int_equal(c.restart_window_ms, 60000);
	assert_string_equal(c.fallback, "scx_simple");
	assert_string_equal(c.boot, "scx_simple");
	assert_int_equal(c.on_shutdown, SHUTDOWN_DETACH);
	assert_int_equal(c.log_keep, 20);
	assert_false(c.allow_paths);
	/* an unknown group is not an error: it just admits nobody */
	assert_false(c.has_group);
	assert_string_equal(c.control_group, "schedlife-no-such-group");
	assert_int_equal(c.ncontrol_uids, 0);

	assert_int_equal(c.nschedulers, 1);
	e = &c.schedulers[0];
	assert_string_equal(e->name, "scx_lavd");
	assert_string_equal(e->path, "/usr/bin/scx_lavd");
	assert_strv(e->args, (const char *[]){NULL});
	assert_string_equal(e->ops, "lavd");
	assert_int_equal(e->kind, KIND_SCHED_EXT);
	assert_strv(e->env, (const char *[]){"RUST_LOG=info", NULL});
	assert_int_equal(e->nmodes, 2);
	assert_string_equal(e->modes[0].name, "powersave");
	assert_strv(e->modes[0].args, (const char *[]){"--powersave", NULL});
	assert_string_equal(e->modes[1].name, "performance");
	assert_strv(e->modes[1].args, (const char *[]){"--performance", NULL});
	assert_false(e->client_args);
	assert_int_equal(e->t.grace_ms, 2000);
	assert_int_equal(e->t.ready_after_ms, 1000);
	assert_int_equal(e->t.startup_timeout_ms, 10000);
	assert_int_equal(e->t.stop_signal, SIGTERM);
	config_free(&c);
}

static void
test_minimal_entry(void **state)
{
	struct config c;
	const struct sched_entry *e;

	(void)state;
	parse_ok("{\"schedulers\": [{\"name\": \"scx_simple\"}]}", &c);
	e = &c.schedulers[0];
	assert_null(e->path);
	assert_null(e->ops);
	assert_int_equal(e->kind, KIND_SCHED_EXT);
	assert_strv(e->args, (const char *[]){NULL});
	assert_strv(e->env, (const char *[]){NULL});
	assert_int_equal(e->nmodes, 0);
	assert_false(e->client_args);
	assert_default_timing(&e->t);
	config_free(&c);

	/* null means absent for path and ops, as list prints them */
	parse_ok("{\"schedulers\": [{\"name\": \"x\", \"path\": null, \"ops\": null}]}", &c);
	assert_null(c.schedulers[0].path);
	assert_null(c.schedulers[0].ops);
	config_free(&c);
}

static void
test_defaults_after_schedulers(void **state)
{
	struct config c;
	const struct timing *a, *b;

	(void)state;
	parse_ok("{\"schedulers\": [{\"name\": \"a\", \"grace\": \"2s\", \"kill_mode\": "
		 "\"process\"},"
		 "                 {\"name\": \"b\"}],"
		 " \"defaults\": {\"grace\": \"7s\", \"ready_after\": \"3s\", \"stop_signal\": "
		 "\"INT\","
		 "              \"startup_timeout\": 20, \"disable_timeout\": \"1m\","
		 "              \"kill_mode\": \"group\"}}",
		 &c);
	a = &c.schedulers[0].t;
	b = &c.schedulers[1].t;
	assert_int_equal(a->grace_ms, 2000);
	assert_int_equal(a->kill_mode, KILL_PROCESS);
	assert_int_equal(a->ready_after_ms, 3000);
	assert_int_equal(a->stop_signal, SIGINT);
	assert_int_equal(a->startup_timeout_ms, 20000);
	assert_int_equal(a->disable_timeout_ms, 60000);
	assert_int_equal(b->grace_ms, 7000);
	assert_int_equal(b->kill_mode, KILL_GROUP);
	assert_int_equal(b->ready_after_ms, 3000);
	config_free(&c);
}

static void
test_entry_overrides_all_six(void **state)
{
	struct config c;
	const struct timing *t;

	(void)state;
	parse_ok("{\"schedulers\": [{\"name\": \"p\", \"kind\": \"process\", \"grace\": \"250ms\","
		 " \"stop_signal\": 2, \"ready_after\": 0, \"startup_timeout\": \"1.5s\","
		 " \"disable_timeout\": \"1h\", \"kill_mode\": \"process\", \"client_args\": true,"
		 " \"args\": [\"-a\", \"b c\"], \"env\": {\"A\": \"1\", \"_B2\": \"x=y\"}}]}",
		 &c);
	t = &c.schedulers[0].t;
	assert_int_equal(c.schedulers[0].kind, KIND_PROCESS);
	assert_true(c.schedulers[0].client_args);
	assert_strv(c.schedulers[0].args, (const char *[]){"-a", "b c", NULL});
	assert_strv(c.schedulers[0].env, (const char *[]){"A=1", "_B2=x=y", NULL});
	assert_int_equal(t->grace_ms, 250);
	assert_int_equal(t->stop_signal, SIGINT);
	assert_int_equal(t->ready_after_ms, 0);
	assert_int_equal(t->startup_timeout_ms, 1500);
	assert_int_equal(t->disable_timeout_ms, 3600000);
	assert_int_equal(t->kill_mode, KILL_PROCESS);
	/* the defaults themselves are untouched */
	assert_default_timing(&c.defaults);
	config_free(&c);
}

static void
test_duration_forms(void **state)
{
	static const struct {
		const char *value;
		int64_t ms;
	} good[] = {
		{"\"250ms\"", 250},  {"\"2s\"", 2000},
		{"\"1.5s\"", 1500},  {"\"1m\"", 60000},
		{"\"1h\"", 3600000}, {"\"3\"", 3000},
		{"\"0\"", 0},	     {"0", 0},
		{"3", 3000},	     {"0.25", 250},
		{"1.5", 1500},	     {"0.29", 290},
		{"0.001", 1},	     {"2592000", 2592000000LL},
	};
	static const struct {
		const char *value;
		const char *msg;
	} bad[] = {
		{"\"abc\"", "invalid duration \"abc\""},
		{"\"\"", "invalid duration \"\""},
		{"\"-1s\"", "invalid duration \"-1s\""},
		{"\"1x\"", "invalid duration \"1x\""},
		{"-1", "invalid duration -1"},
		{"1e12", "invalid duration 1e+12"},
		{"true", "must be a duration (\"2s\", \"250ms\") or a number of seconds"},
		{"null", "must be a duration (\"2s\", \"250ms\") or a number of seconds"},
		{"[1]", "must be a duration (\"2s\", \"250ms\") or a number of seconds"},
	};
	char json[256], want[256];
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json), "{\"defaults\": {\"grace\": %s}}", good[i].value);
		parse_ok(json, &c);
		if (c.defaults.grace_ms != good[i].ms)
			fail_msg("grace %s: got %lld ms, want %lld", good[i].value,
				 (long long)c.defaults.grace_ms, (long long)good[i].ms);
		config_free(&c);
		snprintf(json, sizeof(json), "{\"restart\": {\"window\": %s}}", good[i].value);
		parse_ok(json, &c);
		assert_int_equal(c.restart_window_ms, good[i].ms);
		config_free(&c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(json, sizeof(json),
			 "{\"schedulers\": [{\"name\": \"a\"}, {\"name\": \"b\", \"grace\": %s}]}",
			 bad[i].value);
		snprintf(want, sizeof(want), "schedulers[1].grace: %s", bad[i].msg);
		check_error(json, false, want);
		snprintf(json, sizeof(json), "{\"restart\": {\"delay\": %s}}", bad[i].value);
		snprintf(want, sizeof(want), "restart.delay: %s", bad[i].msg);
		check_error(json, false, want);
	}
}

static void
test_startup_timeout_positive(void **state)
{
	struct config c;

	(void)state;
	check_error("{\"defaults\": {\"startup_timeout\": 0}}", false,
		    "defaults.startup_timeout: must be more than 0");
	check_error("{\"schedulers\": [{\"name\": \"a\", \"startup_timeout\": \"0ms\"}]}", false,
		    "schedulers[0].startup_timeout: must be more than 0");
	/* ready_after may exceed startup_timeout */
	parse_ok("{\"defaults\": {\"ready_after\": \"20s\", \"startup_timeout\": \"1ms\"}}", &c);
	assert_int_equal(c.defaults.ready_after_ms, 20000);
	assert_int_equal(c.defaults.startup_timeout_ms, 1);
	config_free(&c);
}

static void
test_stop_signal_forms(void **state)
{
	static const struct {
		const char *value;
		int sig;
	} good[] = {
		{"\"TERM\"", SIGTERM}, {"\"SIGINT\"", SIGINT}, {"\"hup\"", SIGHUP},
		{"2", SIGINT},	       {"\"9\"", SIGKILL},     {"64", 64},
	};
	char json[128];
	struct config c;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(json, sizeof(json), "{\"defaults\": {\"stop_signal\": %s}}",
			 good[i].value);
		parse_ok(json, &c);
		assert_int_equal(c.defaults.stop_signal, good[i].sig);
		config_free(&c);
	}
	check_error("{\"defaults\": {\"stop_signal\": \"FOO\"}}", false,
		    "defaults.stop_signal: unknown signal \"FOO\"");
	check_error("{\"defaults\": {\"stop_signal\": 0}}", false,
		    "defaults.stop_signal: unknown signal 0");
	check_error("{\"defaults\": {\"stop_signal\": 1.5}}", false,
		    "defaults.stop_signal: unknown signal 1.5");
	check_error("{\"defaults\": {\"stop_signal\": 99}}", false,
		    "defaults.stop_signal: unknown signal 99");
	check_error("{\"schedulers\": [{\"name\": \"a\", \"stop_signal\": true}]}", false,
		    "schedulers[0].stop_signal: must be a signal name or number");
}

/* Each bad config and the exact message it must give. */
static const struct {
	const char *json;
	const char *msg;
} bad_configs[] = {
	/* the examples from the brief */
	{"{\"schedulers\": [{\"name\": \"a\"}, {\"name\": \"b\", \"grace\": \"abc\"}]}",
	 "schedulers[1].grace: invalid duration \"abc\""},
	{"{\"defaults\": {\"kill_mode\": \"tree\"}}",
	 "defaults.kill_mode: must be \"group\" or \"process\""},
	{"{\"restart\": {\"dealy\": \"1s\"}}", "restart.dealy: unknown key"},
	{"{\"schedulers\": [{\"name\": \"a b\"}]}", "schedulers[0].name: invalid name \"a b\""},
	{"{\"schedulers\": [{\"name\": \"scx_lavd\"}, {\"name\": \"x\"}, {\"name\": "
	 "\"scx_lavd\"}]}",
	 "schedulers[2].name: duplicate name \"scx_lavd\""},
	{"{\"on_exit\": {\"action\": \"reboot\"}}",
	 "on_exit.action: \"reboot\" needs schedlifed to run as PID 1 or with --allow-reboot"},
	/* the top level */
	{"[]", "the top level must be a JSON object"},
	{"\"x\"", "the top level must be a JSON object"},
	{"42", "the top level must be a JSON object"},
	{"{\"foo\": 1}", "foo: unknown key"},
	{"{\"log_keep\": 1, \"log_keep\": 2}", "log_keep: duplicate key"},
	{"{\"Defaults\": {}}", "Defaults: unknown key"},
	/* defaults */
	{"{\"defaults\": []}", "defaults: must be an object"},
	{"{\"defaults\": {\"graze\": \"1s\"}}", "defaults.graze: unknown key"},
	{"{\"defaults\": {\"grace\": \"1s\", \"grace\": \"2s\"}}",
	 "defaults.grace: duplicate key"},
	{"{\"defaults\": {\"kill_mode\": 1}}",
	 "defaults.kill_mode: must be \"group\" or \"process\""},
	{"{\"defaults\": {\"ready_after\": \"soon\"}}",
	 "defaults.ready_after: invalid duration \"soon\""},
	{"{\"defaults\": {\"disable_timeout\": \"-5s\"}}",
	 "defaults.disable_timeout: invalid duration \"-5s\""},
	/* on_exit */
	{"{\"on_exit\": \"restart\"}", "on_exit: must be an object"},
	{"{\"on_exit\": {\"action\": \"explode\"}}",
	 "on_exit.action: must be \"none\", \"restart\", \"fallback\" or \"reboot\""},
	{"{\"on_exit\": {\"action\": 1}}",
	 "on_exit.action: must be \"none\", \"restart\", \"fallback\" or \"reboot\""},
	{"{\"on_exit\": {\"action\": \"fallback\"}}",
	 "on_exit.action: \"fallback\" needs a \"fallback\" scheduler"},
	{"{\"on_exit\": {\"exec\": []}}", "on_exit.exec: must not be empty"},
	{"{\"on_exit\": {\"exec\": \"/bin/true\"}}", "on_exit.exec: must be an array of strings"},
	{"{\"on_exit\": {\"exec\": [\"notify\"]}}", "on_exit.exec[0]: must be an absolute path"},
	{"{\"on_exit\": {\"exec\": [\"/bin/x\", 1]}}", "on_exit.exec[1]: must be a string"},
	{"{\"on_exit\": {\"when\": 1}}", "on_exit.when: unknown key"},
	/* restart */
	{"{\"restart\": 5}", "restart: must be an object"},
	{"{\"restart\": {\"burst\": 0}}", "restart.burst: must be a whole number >= 1"},
	{"{\"restart\": {\"burst\": 1.5}}", "restart.burst: must be a whole number >= 1"},
	{"{\"restart\": {\"burst\": \"5\"}}", "restart.burst: must be a whole number >= 1"},
	{"{\"restart\": {\"max_delay\": \"forever\"}}",
	 "restart.max_delay: invalid duration \"forever\""},
	{"{\"restart\": {\"window\": -1}}", "restart.window: invalid duration -1"},
	/* names */
	{"{\"fallback\": \"a b\"}", "fallback: invalid name \"a b\""},
	{"{\"fallback\": 3}", "fallback: must be a string"},
	{"{\"boot\": \".hidden\"}", "boot: invalid name \".hidden\""},
	{"{\"boot\": \"/usr/bin/scx_simple\"}", "boot: invalid name \"/usr/bin/scx_simple\""},
	{"{\"boot\": true}", "boot: must be a string"},
	/* scalars */
	{"{\"on_shutdown\": \"stop\"}", "on_shutdown: must be \"detach\" or \"leave\""},
	{"{\"log_keep\": 0}", "log_keep: must be a whole number >= 1"},
	{"{\"log_keep\": -3}", "log_keep: must be a whole number >= 1"},
	{"{\"log_keep\": 2.5}", "log_keep: must be a whole number >= 1"},
	{"{\"log_keep\": \"20\"}", "log_keep: must be a whole number >= 1"},
	{"{\"discover_path\": 5}", "discover_path: must be a string"},
	{"{\"discover_path\": \"/usr/bin:bin\"}",
	 "discover_path: \"bin\" is not an absolute directory"},
	{"{\"allow_paths\": \"yes\"}", "allow_paths: must be true or false"},
	{"{\"allow_paths\": 1}", "allow_paths: must be true or false"},
	{"{\"cgroup\": \"no\"}", "cgroup: must be true or false"},
	/* control */
	{"{\"control\": \"wheel\"}", "control: must be an object"},
	{"{\"control\": {\"group\": 10}}", "control.group: must be a string"},
	{"{\"control\": {\"users\": \"root\"}}",
	 "control.users: must be an array of user names or uids"},
	{"{\"control\": {\"users\": [\"root\", \"no-such-user-zz\"]}}",
	 "control.users[1]: unknown user \"no-such-user-zz\""},
	{"{\"control\": {\"users\": [-1]}}", "control.users[0]: must be a user name or a uid"},
	{"{\"control\": {\"users\": [1.5]}}", "control.users[0]: must be a user name or a uid"},
	{"{\"control\": {\"users\": [true]}}", "control.users[0]: must be a user name or a uid"},
	{"{\"control\": {\"user\": []}}", "control.user: unknown key"},
	/* schedulers */
	{"{\"schedulers\": {}}", "schedulers: must be an array of objects"},
	{"{\"schedulers\": [\"scx_simple\"]}", "schedulers[0]: must be an object"},
	{"{\"schedulers\": [{\"name\": \"a\"}, {}]}", "schedulers[1]: missing \"name\""},
	{"{\"schedulers\": [{\"path\": \"/x\"}]}", "schedulers[0]: missing \"name\""},
	{"{\"schedulers\": [{\"name\": 5}]}", "schedulers[0].name: must be a string"},
	{"{\"schedulers\": [{\"name\": \"\"}]}", "schedulers[0].name: invalid name \"\""},
	{"{\"schedulers\": [{\"name\": \"_x\"}]}", "schedulers[0].name: invalid name \"_x\""},
	{"{\"schedulers\": [{\"name\": "
	 "\"a1234567890123456789012345678901234567890123456789012345678901234\"}]}",
	 "schedulers[0].name: invalid name "
	 "\"a1234567890123456789012345678901234567890123456789012345678901234\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"nmae\": \"b\"}]}",
	 "schedulers[0].nmae: unknown key"},
	{"{\"schedulers\": [{\"name\": \"a\", \"name\": \"b\"}]}",
	 "schedulers[0].name: duplicate key"},
	{"{\"schedulers\": [{\"name\": \"a\", \"path\": \"bin/a\"}]}",
	 "schedulers[0].path: must be an absolute path"},
	{"{\"schedulers\": [{\"name\": \"a\", \"path\": 1}]}",
	 "schedulers[0].path: must be a string"},
	{"{\"schedulers\": [{\"name\": \"a\", \"args\": \"-v\"}]}",
	 "schedulers[0].args: must be an array of strings"},
	{"{\"schedulers\": [{\"name\": \"a\", \"args\": [\"-v\", 2]}]}",
	 "schedulers[0].args[1]: must be a string"},
	{"{\"schedulers\": [{\"name\": \"a\", \"ops\": \"\"}]}",
	 "schedulers[0].ops: must be a non-empty string"},
	{"{\"schedulers\": [{\"name\": \"a\", \"ops\": 7}]}",
	 "schedulers[0].ops: must be a non-empty string"},
	{"{\"schedulers\": [{\"name\": \"a\", \"kind\": \"bpf\"}]}",
	 "schedulers[0].kind: must be \"sched_ext\" or \"process\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"env\": [\"A=1\"]}]}",
	 "schedulers[0].env: must be an object of strings"},
	{"{\"schedulers\": [{\"name\": \"a\", \"env\": {\"A=B\": \"1\"}}]}",
	 "schedulers[0].env: invalid variable name \"A=B\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"env\": {\"\": \"1\"}}]}",
	 "schedulers[0].env: invalid variable name \"\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"env\": {\"1X\": \"1\"}}]}",
	 "schedulers[0].env: invalid variable name \"1X\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"env\": {\"A\": 1}}]}",
	 "schedulers[0].env.A: must be a string"},
	{"{\"schedulers\": [{\"name\": \"a\", \"env\": {\"A\": \"1\", \"A\": \"2\"}}]}",
	 "schedulers[0].env.A: duplicate key"},
	{"{\"schedulers\": [{\"name\": \"a\", \"modes\": [\"fast\"]}]}",
	 "schedulers[0].modes: must be an object of argument lists"},
	{"{\"schedulers\": [{\"name\": \"a\", \"modes\": {\"a b\": []}}]}",
	 "schedulers[0].modes: invalid mode name \"a b\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"modes\": {\"fast\": \"--fast\"}}]}",
	 "schedulers[0].modes.fast: must be an array of strings"},
	{"{\"schedulers\": [{\"name\": \"a\", \"modes\": {\"fast\": [\"-f\", null]}}]}",
	 "schedulers[0].modes.fast[1]: must be a string"},
	{"{\"schedulers\": [{\"name\": \"a\", \"modes\": {\"fast\": [], \"fast\": []}}]}",
	 "schedulers[0].modes.fast: duplicate key"},
	{"{\"schedulers\": [{\"name\": \"a\", \"client_args\": \"no\"}]}",
	 "schedulers[0].client_args: must be true or false"},
	{"{\"schedulers\": [{\"name\": \"a\", \"kill_mode\": \"all\"}]}",
	 "schedulers[0].kill_mode: must be \"group\" or \"process\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"ready_after\": \"1 s\"}]}",
	 "schedulers[0].ready_after: invalid duration \"1 s\""},
	{"{\"schedulers\": [{\"name\": \"a\", \"disable_timeout\": false}]}",
	 "schedulers[0].disable_timeout: must be a duration (\"2s\", \"250ms\") or a number of "
	 "seconds"},
	/* malformed JSON, with the line it breaks on */
	{"", "invalid JSON near line 1"},
	{"{", "invalid JSON near line 1"},
	{"{\n  \"log_keep\": 1\n  \"boot\": \"x\"\n}", "invalid JSON near line 3"},
	{"{\n\"a\": [1,\n2,,3]}", "invalid JSON near line 3"},
	{"{}\n\nx", "invalid JSON near line 3"},
	{"{\"log_keep\": 1,}", "invalid JSON near line 1"},
	{"{'log_keep': 1}", "invalid JSON near line 1"},
};

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_configs) / sizeof(bad_configs[0]); i++)
		check_error(bad_configs[i].json, false, bad_configs[i].msg);
}

static void
test_embedded_nul(void **state)
{
	static const char text[] = "{\n\"log_keep\": 1\n}\0{}";
	struct config c;
	char err[128] = "";

	(void)state;
	assert_int_equal(config_parse(text, sizeof(text) - 1, false, &c, err, sizeof(err)), -1);
	assert_string_equal(err, "invalid JSON near line 3");
	/* text need not be NUL-terminated: len rules */
	assert_int_equal(config_parse("{}garbage", 2, false, &c, err, sizeof(err)), 0);
	config_free(&c);
}

static void
test_failed_parse_leaves_config(void **state)
{
	struct config c;
	char err[128];

	(void)state;
	parse_ok("{\"log_keep\": 7}", &c);
	assert_int_equal(parse("{\"log_keep\": 0}", false, &c, err, sizeof(err)), -1);
	assert_int_equal(c.log_keep, 7);
	config_free(&c);
	/* a tiny err buffer is truncated, not overrun */
	assert_int_equal(parse("{\"nope\": 0}", false, &c, err, 5), -1);
	assert_string_equal(err, "nope");
	/* errors half way through an entry free what was built (valgrind checks) */
	check_error(
		"{\"schedulers\": [{\"name\": \"a\", \"args\": [\"x\"], \"env\": {\"A\": \"1\"},"
		" \"modes\": {\"m\": [\"-m\"], \"n\": [1]}}]}",
		false, "schedulers[0].modes.n[0]: must be a string");
	check_error("{\"control\": {\"users\": [0, 1, \"nobody-zz\"]}}", false,
		    "control.users[2]: unknown user \"nobody-zz\"");
}

static void
test_on_exit(void **state)
{
	struct config c;
	char err[256];

	(void)state;
	parse_ok("{\"on_exit\": {\"action\": \"restart\"}}", &c);
	assert_int_equal(c.on_exit, ON_EXIT_RESTART);
	assert_null(c.on_exit_exec);
	config_free(&c);
	/* fallback may be named after on_exit */
	parse_ok("{\"on_exit\": {\"action\": \"fallback\"}, \"fallback\": \"scx_simple\"}", &c);
	assert_int_equal(c.on_exit, ON_EXIT_FALLBACK);
	assert_string_equal(c.fallback, "scx_simple");
	config_free(&c);
	parse_ok("{\"on_exit\": {\"action\": \"none\"}, \"fallback\": null, \"boot\": null}", &c);
	assert_null(c.fallback);
	assert_null(c.boot);
	config_free(&c);
	assert_int_equal(parse("{\"on_exit\": {\"action\": \"reboot\", \"exec\": [\"/bin/sync\"]}}",
			       true, &c, err, sizeof(err)),
			 0);
	assert_int_equal(c.on_exit, ON_EXIT_REBOOT);
	assert_strv(c.on_exit_exec, (const char *[]){"/bin/sync", NULL});
	config_free(&c);
}

static void
test_scalars(void **state)
{
	struct config c;

	(void)state;
	parse_ok(
		"{\"on_shutdown\": \"leave\", \"log_keep\": 1, \"allow_paths\": true,"
		" \"discover_path\": \"/opt/scx/bin::/usr/bin\", \"cgroup\": false,"
		" \"restart\": {\"delay\": 1, \"max_delay\": \"2m\", \"burst\": 3, \"window\": 0}}",
		&c);
	assert_int_equal(c.on_shutdown, SHUTDOWN_LEAVE);
	assert_int_equal(c.log_keep, 1);
	assert_true(c.allow_paths);
	assert_false(c.cgroup);
	assert_string_equal(c.discover_path, "/opt/scx/bin::/usr/bin");
	assert_int_equal(c.restart_delay_ms, 1000);
	assert_int_equal(c.restart_max_delay_ms, 120000);
	assert_int_equal(c.restart_burst, 3);
	assert_int_equal(c.restart_window_ms, 0);
	config_free(&c);
}

static void
test_limits(void **state)
{
	struct config c;

	(void)state;
	parse_ok("{}", &c);
	assert_int_equal(c.limits.max_connections, 256);
	assert_int_equal(c.limits.reserved_connections, 16);
	assert_int_equal(c.limits.max_connections_per_user, 32);
	assert_int_equal(c.limits.max_output_bytes, 1024 * 1024);
	assert_int_equal(c.limits.max_follows_per_user, 8);
	config_free(&c);
	parse_ok("{\"limits\": {\"max_connections\": 40, \"reserved_connections\": 0,"
		 " \"max_connections_per_user\": 5, \"max_output_bytes\": 262144,"
		 " \"max_follows_per_user\": 0}}",
		 &c);
	assert_int_equal(c.limits.max_connections, 40);
	assert_int_equal(c.limits.reserved_connections, 0);
	assert_int_equal(c.limits.max_connections_per_user, 5);
	assert_int_equal(c.limits.max_output_bytes, 262144);
	assert_int_equal(c.limits.max_follows_per_user, 0);
	config_free(&c);
	check_error("{\"limits\": {\"max_connections\": 0}}", false,
		    "limits.max_connections: must be a whole number from 1 to 65536");
	check_error("{\"limits\": {\"max_output_bytes\": 1000}}", false,
		    "limits.max_output_bytes: must be a whole number from 262144 to 1073741824");
	check_error("{\"limits\": {\"max_connections_per_user\": \"5\"}}", false,
		    "limits.max_connections_per_user: must be a whole number from 1 to 65536");
	check_error("{\"limits\": {\"max_connections\": 16}}", false,
		    "limits: reserved_connections must be less than max_connections");
	check_error("{\"limits\": {\"max_clients\": 16}}", false, "limits.max_clients: unknown key");
	check_error("{\"limits\": 3}", false, "limits: must be an object");
}

static void
test_control(void **state)
{
	struct config c;
	struct passwd *pw = getpwnam("nobody");
	uid_t nobody = pw != NULL ? pw->pw_uid : 0; /* the next getpwnam reuses *pw */

	(void)state;
	parse_ok("{\"control\": {\"group\": \"root\", \"users\": [\"root\", 1234, 0]}}", &c);
	assert_true(c.has_group);
	assert_int_equal(c.control_gid, 0);
	assert_string_equal(c.control_group, "root");
	assert_int_equal(c.ncontrol_uids, 3);
	assert_int_equal(c.control_uids[0], 0);
	assert_int_equal(c.control_uids[1], 1234);
	assert_int_equal(c.control_uids[2], 0);
	config_free(&c);

	parse_ok("{\"control\": {\"group\": \"no-such-group-zz\"}}", &c);
	assert_false(c.has_group);
	assert_string_equal(c.control_group, "no-such-group-zz");
	config_free(&c);

	parse_ok("{\"control\": {\"group\": \"\"}}", &c);
	assert_false(c.has_group);
	config_free(&c);

	if (pw != NULL) {
		parse_ok("{\"control\": {\"users\": [\"nobody\"]}}", &c);
		assert_int_equal(c.ncontrol_uids, 1);
		assert_int_equal(c.control_uids[0], nobody);
		config_free(&c);
	}
}

static void
test_policy(void **state)
{
	struct config c;
	struct lc_policy p;

	(void)state;
	parse_ok("{\"on_exit\": {\"action\": \"fallback\"}, \"fallback\": \"scx_simple\","
		 " \"restart\": {\"delay\": \"1s\", \"max_delay\": \"8s\", \"burst\": 2,"
		 " \"window\": \"10s\"}}",
		 &c);
	config_policy(&c, &p);
	assert_int_equal(p.action, ON_EXIT_FALLBACK);
	assert_int_equal(p.delay_ms, 1000);
	assert_int_equal(p.max_delay_ms, 8000);
	assert_int_equal(p.burst, 2);
	assert_int_equal(p.window_ms, 10000);
	assert_ptr_equal(p.fallback, c.fallback);
	config_free(&c);

	config_defaults(&c);
	config_policy(&c, &p);
	assert_int_equal(p.action, ON_EXIT_NONE);
	assert_int_equal(p.delay_ms, 500);
	assert_int_equal(p.max_delay_ms, 30000);
	assert_int_equal(p.burst, 5);
	assert_int_equal(p.window_ms, 60000);
	assert_null(p.fallback);
	config_free(&c);
}

/* ---- files: config_load, and the directories resolve and list search ---- */

static char tmp_root[64];
static char dir1[128], dir2[128], dir3[128];

static void
make_file(const char *dir, const char *name, mode_t mode)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
	close(fd);
	assert_int_equal(chmod(path, mode), 0);
}

static int
setup_dirs(void **state)
{
	char path[512];

	(void)state;
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/schedlife-test-config.XXXXXX");
	if (mkdtemp(tmp_root) == NULL)
		return -1;
	snprintf(dir1, sizeof(dir1), "%s/one", tmp_root);
	snprintf(dir2, sizeof(dir2), "%s/two", tmp_root);
	snprintf(dir3, sizeof(dir3), "%s/none", tmp_root); /* never created */
	if (mkdir(dir1, 0755) < 0 || mkdir(dir2, 0755) < 0)
		return -1;
	make_file(dir1, "scx_test", 0755);
	make_file(dir1, "scx_dup", 0755);
	make_file(dir1, "scx_noexec", 0644);
	make_file(dir1, "scx_bad name", 0755);
	make_file(dir1, "other_exec", 0755);
	make_file(dir1, "bad name", 0755);
	snprintf(path, sizeof(path), "%s/scx_dir", dir1);
	if (mkdir(path, 0755) < 0)
		return -1;
	make_file(dir2, "scx_dup", 0755);
	make_file(dir2, "scx_two", 0755);
	make_file(dir2, "scx_noexec", 0755);
	make_file(dir2, "scx_groupw", 0775);
	make_file(dir2, "scx_otherw", 0757);
	make_file(dir2, "scx_nobodys", 0755);
	snprintf(path, sizeof(path), "%s/scx_nobodys", dir2);
	if (chown(path, 65534, 65534) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/open", tmp_root);
	if (mkdir(path, 0755) < 0 || chmod(path, 01777) < 0)
		return -1;
	make_file(path, "scx_inopen", 0755);
	return 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
teardown_dirs(void **state)
{
	(void)state;
	if (tmp_root[0] == '\0')
		return 0;
	/* depth first, not following links: the tree this test made, and only it */
	return nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
write_text(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void
test_load(void **state)
{
	struct config c;
	char path[512], err[1024], want[1024];
	char *big;

	(void)state;
	/* missing: the defaults */
	snprintf(path, sizeof(path), "%s/missing.json", tmp_root);
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), 0);
	assert_int_equal(c.log_keep, 20);
	assert_default_timing(&c.defaults);
	config_free(&c);

	snprintf(path, sizeof(path), "%s/good.json", tmp_root);
	write_text(path, spec_example, strlen(spec_example));
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), 0);
	assert_int_equal(c.nschedulers, 1);
	assert_string_equal(c.schedulers[0].name, "scx_lavd");
	config_free(&c);

	snprintf(path, sizeof(path), "%s/bad.json", tmp_root);
	write_text(path, "{\"restart\": {\"dealy\": 1}}", 25);
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: restart.dealy: unknown key", path);
	assert_string_equal(err, want);

	write_text(path, "{\n\n\"x\" 1}", 9);
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: invalid JSON near line 3", path);
	assert_string_equal(err, want);

	/* other errors: the path and strerror */
	assert_int_equal(config_load(dir1, false, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: Is a directory", dir1);
	assert_string_equal(err, want);
	snprintf(path, sizeof(path), "%s/scx_test/x.json", dir1);
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: Not a directory", path);
	assert_string_equal(err, want);

	/* 1 MiB of whitespace around {} is fine; one byte more is not */
	big = malloc(1024 * 1024 + 1);
	assert_non_null(big);
	memset(big, ' ', 1024 * 1024 + 1);
	big[0] = '{';
	big[1] = '}';
	snprintf(path, sizeof(path), "%s/big.json", tmp_root);
	write_text(path, big, (size_t)1024 * 1024);
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), 0);
	config_free(&c);
	write_text(path, big, 1024 * 1024 + 1);
	assert_int_equal(config_load(path, false, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: larger than 1 MiB", path);
	assert_string_equal(err, want);
	free(big);
}

/* A config whose discover_path is the test's directories. */
static void
load_registry(struct config *c, const char *extra)
{
	char json[4096];

	snprintf(json, sizeof(json),
		 "{\"discover_path\": \"%s:%s:%s\", \"defaults\": {\"grace\": \"3s\"},"
		 " \"schedulers\": ["
		 "  {\"name\": \"scx_lavd\", \"path\": \"/usr/bin/scx_lavd\", \"args\": [\"-a\"],"
		 "   \"ops\": \"lavd\", \"grace\": \"2s\", \"env\": {\"RUST_LOG\": \"info\"},"
		 "   \"modes\": {\"powersave\": [\"--powersave\", \"-p\"], \"performance\":"
		 " [\"--performance\"]}},"
		 "  {\"name\": \"scx_open\", \"path\": \"/opt/scx_open\", \"client_args\": true},"
		 "  {\"name\": \"scx_test\", \"ops\": \"test\", \"kind\": \"process\"},"
		 "  {\"name\": \"scx_gone\"}"
		 " ]%s}",
		 dir3, dir1, dir2, extra);
	parse_ok(json, c);
}

static void
test_resolve_config_entry(void **state)
{
	struct config c;
	struct identity *id;
	char err[256] = "", want[512];

	(void)state;
	load_registry(&c, "");
	assert_int_equal(registry_resolve(&c, "scx_lavd", NULL, NULL, false, &id, err, sizeof(err)),
			 E_OK);
	assert_string_equal(id->name, "scx_lavd");
	assert_string_equal(id->path, "/usr/bin/scx_lavd");
	assert_string_equal(id->ops, "lavd");
	assert_null(id->mode);
	assert_int_equal(id->kind, KIND_SCHED_EXT);
	assert_strv(id->argv, (const char *[]){"scx_lavd", "-a", NULL});
	assert_strv(id->env, (const char *[]){"RUST_LOG=info", NULL});
	assert_strv(id->client_args, (const char *[]){NULL});
	assert_int_equal(id->t.grace_ms, 2000);
	assert_int_equal(id->t.ready_after_ms, 1000);
	identity_free(id);

	/* entry args, then the mode's, then the client's */
	assert_int_equal(registry_resolve(&c, "scx_lavd", "powersave",
					  (char *[]){"-v", "--x=1", NULL}, true, &id, err,
					  sizeof(err)),
			 E_OK);
	assert_string_equal(id->mode, "powersave");
	assert_strv(id->argv,
		    (const char *[]){"scx_lavd", "-a", "--powersave", "-p", "-v", "--x=1", NULL});
	assert_strv(id->client_args, (const char *[]){"-v", "--x=1", NULL});
	identity_free(id);

	/* an entry without path is found on discover_path (dir3 does not exist) */
	assert_int_equal(registry_resolve(&c, "scx_test", NULL, NULL, false, &id, err, sizeof(err)),
			 E_OK);
	snprintf(want, sizeof(want), "%s/scx_test", dir1);
	assert_string_equal(id->path, want);
	assert_string_equal(id->ops, "test");
	assert_int_equal(id->kind, KIND_PROCESS);
	assert_int_equal(id->t.grace_ms, 3000);
	assert_strv(id->argv, (const char *[]){"scx_test", NULL});
	identity_free(id);

	id = (struct identity *)1;
	assert_int_equal(registry_resolve(&c, "scx_gone", NULL, NULL, true, &id, err, sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	assert_null(id);
	assert_string_equal(err, "scheduler \"scx_gone\" has no path and is not on discover_path");
	config_free(&c);
}

static void
test_resolve_modes(void **state)
{
	struct config c;
	struct identity *id;
	char err[256] = "";

	(void)state;
	load_registry(&c, "");
	assert_int_equal(registry_resolve(&c, "scx_lavd", "turbo", NULL, true, &id, err,
					  sizeof(err)),
			 E_BAD_REQUEST);
	assert_null(id);
	assert_string_equal(err,
			    "unknown mode \"turbo\" for scx_lavd (modes: powersave, performance)");
	assert_int_equal(registry_resolve(&c, "scx_open", "fast", NULL, true, &id, err,
					  sizeof(err)),
			 E_BAD_REQUEST);
	assert_string_equal(err, "unknown mode \"fast\" for scx_open (has no modes)");
	assert_int_equal(registry_resolve(&c, "scx_two", "fast", NULL, true, &id, err, sizeof(err)),
			 E_BAD_REQUEST);
	assert_string_equal(err, "unknown mode \"fast\" for scx_two (has no modes)");
	assert_int_equal(
		registry_resolve(&c, "scx_lavd", "performance", NULL, false, &id, err, sizeof(err)),
		E_OK);
	assert_strv(id->argv, (const char *[]){"scx_lavd", "-a", "--performance", NULL});
	identity_free(id);
	config_free(&c);
}

static void
test_resolve_client_args(void **state)
{
	struct config c;
	struct identity *id;
	char err[256] = "";

	(void)state;
	load_registry(&c, "");
	assert_int_equal(registry_resolve(&c, "scx_lavd", NULL, (char *[]){"-v", NULL}, false, &id,
					  err, sizeof(err)),
			 E_PERMISSION_DENIED);
	assert_null(id);
	assert_string_equal(err, "extra arguments for scx_lavd need root or client_args");
	/* discovered schedulers take no client args from non-root either */
	assert_int_equal(registry_resolve(&c, "scx_two", NULL, (char *[]){"-v", NULL}, false, &id,
					  err, sizeof(err)),
			 E_PERMISSION_DENIED);
	assert_string_equal(err, "extra arguments for scx_two need root or client_args");
	/* client_args true lets anyone */
	assert_int_equal(registry_resolve(&c, "scx_open", NULL, (char *[]){"-v", NULL}, false, &id,
					  err, sizeof(err)),
			 E_OK);
	assert_strv(id->argv, (const char *[]){"scx_open", "-v", NULL});
	identity_free(id);
	/* an empty vector is no args */
	assert_int_equal(registry_resolve(&c, "scx_lavd", NULL, (char *[]){NULL}, false, &id, err,
					  sizeof(err)),
			 E_OK);
	assert_strv(id->client_args, (const char *[]){NULL});
	identity_free(id);
	config_free(&c);
}

/* Root runs no discovered file that someone else could have put or changed there. */
static void
test_resolve_discovered_unsafe(void **state)
{
	static const char *const names[] = {"scx_groupw", "scx_otherw", "scx_nobodys"};
	struct config c;
	struct identity *id;
	char err[512] = "", want[512], json[512];

	(void)state;
	if (geteuid() != 0)
		skip(); /* the files must be root's */
	load_registry(&c, "");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(
			registry_resolve(&c, names[i], NULL, NULL, true, &id, err, sizeof(err)),
			E_UNKNOWN_SCHEDULER);
		assert_null(id);
		snprintf(want, sizeof(want),
			 "scheduler \"%s\" is not run: %s/%s is not owned by root or is writable "
			 "by group or others (root runs only a discovered file that is owned by "
			 "root and that only root may write)",
			 names[i], dir2, names[i]);
		assert_string_equal(err, want);
	}
	/* nor one in a directory others may write */
	snprintf(json, sizeof(json), "{\"discover_path\": \"%s/open\"}", tmp_root);
	config_free(&c);
	parse_ok(json, &c);
	assert_int_equal(registry_resolve(&c, "scx_inopen", NULL, NULL, true, &id, err,
					  sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	snprintf(want, sizeof(want), "directory %s/open is not owned by root", tmp_root);
	assert_non_null(strstr(err, want));
	config_free(&c);
}

static void
test_resolve_discovered(void **state)
{
	struct config c;
	struct identity *id;
	char err[256] = "", want[256];

	(void)state;
	load_registry(&c, "");
	/* the first directory on the path wins */
	assert_int_equal(registry_resolve(&c, "scx_dup", NULL, NULL, false, &id, err, sizeof(err)),
			 E_OK);
	snprintf(want, sizeof(want), "%s/scx_dup", dir1);
	assert_string_equal(id->path, want);
	assert_string_equal(id->name, "scx_dup");
	assert_null(id->ops);
	assert_null(id->mode);
	assert_int_equal(id->kind, KIND_SCHED_EXT);
	assert_int_equal(id->t.grace_ms, 3000); /* the config's defaults */
	assert_int_equal(id->t.startup_timeout_ms, 10000);
	assert_strv(id->argv, (const char *[]){"scx_dup", NULL});
	assert_strv(id->env, (const char *[]){NULL});
	assert_strv(id->client_args, (const char *[]){NULL});
	identity_free(id);

	assert_int_equal(registry_resolve(&c, "scx_two", NULL, (char *[]){"-x", NULL}, true, &id,
					  err, sizeof(err)),
			 E_OK);
	snprintf(want, sizeof(want), "%s/scx_two", dir2);
	assert_string_equal(id->path, want);
	assert_strv(id->argv, (const char *[]){"scx_two", "-x", NULL});
	identity_free(id);

	/* not executable in dir1, executable in dir2 */
	assert_int_equal(registry_resolve(&c, "scx_noexec", NULL, NULL, false, &id, err,
					  sizeof(err)),
			 E_OK);
	snprintf(want, sizeof(want), "%s/scx_noexec", dir2);
	assert_string_equal(id->path, want);
	identity_free(id);

	/* only scx_* names are discovered, even by root */
	assert_int_equal(registry_resolve(&c, "other_exec", NULL, NULL, true, &id, err,
					  sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	assert_null(id);
	assert_string_equal(err, "unknown scheduler \"other_exec\": not in the config, and only "
				 "scx_* names are discovered on discover_path");

	/* a directory is not a scheduler */
	assert_int_equal(registry_resolve(&c, "scx_dir", NULL, NULL, false, &id, err, sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	assert_null(id);
	assert_int_equal(registry_resolve(&c, "scx_nope", NULL, NULL, false, &id, err, sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	assert_string_equal(
		err, "unknown scheduler \"scx_nope\": not in the config nor on discover_path");
	config_free(&c);
}

static void
test_resolve_invalid_names(void **state)
{
	static const char *const bad[] = {"a b",	 "",	".hidden",   "_x",
					  "../scx_test", "x/y", "scx_test\n"};
	struct config c;
	struct identity *id;
	char err[256] = "", want[256];

	(void)state;
	load_registry(&c, "");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			registry_resolve(&c, bad[i], NULL, NULL, true, &id, err, sizeof(err)),
			E_INVALID_NAME);
		assert_null(id);
		if (bad[i][0] != '\0') {
			snprintf(want, sizeof(want), "invalid scheduler name \"%s\"", bad[i]);
			text_sanitize(want); /* a newline in a name is shown as '?' */
			assert_string_equal(err, want);
		}
	}
	assert_int_equal(registry_resolve(&c, NULL, NULL, NULL, true, &id, err, sizeof(err)),
			 E_INVALID_NAME);
	config_free(&c);
}

static void
test_resolve_absolute(void **state)
{
	struct config c;
	struct identity *id;
	char err[256] = "", path[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/scx_test", dir1);

	load_registry(&c, "");
	assert_int_equal(registry_resolve(&c, path, NULL, NULL, true, &id, err, sizeof(err)),
			 E_INVALID_NAME);
	assert_null(id);
	assert_string_equal(err, "absolute paths are not names: allow_paths is false");
	config_free(&c);

	load_registry(&c, ", \"allow_paths\": true");
	assert_int_equal(registry_resolve(&c, path, NULL, NULL, false, &id, err, sizeof(err)),
			 E_PERMISSION_DENIED);
	assert_string_equal(err, "absolute paths need root");

	assert_int_equal(
		registry_resolve(&c, path, NULL, (char *[]){"-v", NULL}, true, &id, err,
				 sizeof(err)),
		E_OK);
	assert_string_equal(id->name, "scx_test");
	assert_string_equal(id->path, path);
	assert_null(id->ops);
	assert_int_equal(id->kind, KIND_SCHED_EXT); /* not the config entry's "process" */
	assert_int_equal(id->t.grace_ms, 3000);
	assert_strv(id->argv, (const char *[]){"scx_test", "-v", NULL});
	assert_strv(id->client_args, (const char *[]){"-v", NULL});
	assert_strv(id->env, (const char *[]){NULL});
	identity_free(id);

	assert_int_equal(registry_resolve(&c, path, "fast", NULL, true, &id, err, sizeof(err)),
			 E_BAD_REQUEST);
	assert_string_equal(err, "unknown mode \"fast\" for scx_test (has no modes)");

	snprintf(path, sizeof(path), "%s/scx_noexec", dir1);
	assert_int_equal(registry_resolve(&c, path, NULL, NULL, true, &id, err, sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	snprintf(path, sizeof(path), "%s/scx_dir", dir1);
	assert_int_equal(registry_resolve(&c, path, NULL, NULL, true, &id, err, sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	snprintf(path, sizeof(path), "%s/missing", dir1);
	assert_int_equal(registry_resolve(&c, path, NULL, NULL, true, &id, err, sizeof(err)),
			 E_UNKNOWN_SCHEDULER);
	snprintf(path, sizeof(path), "%s/bad name", dir1);
	assert_int_equal(registry_resolve(&c, path, NULL, NULL, true, &id, err, sizeof(err)),
			 E_INVALID_NAME);
	assert_string_equal(err, "invalid scheduler name \"bad name\"");
	assert_null(id);
	config_free(&c);
}

static const cJSON *
list_find(const cJSON *arr, const char *name)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, arr)
	{
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
			return o;
	}
	return NULL;
}

static const char *
item_str(const cJSON *o, const char *key)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static void
test_list(void **state)
{
	struct config c;
	cJSON *res;
	const cJSON *arr, *o, *a;
	char want[512];
	const char *order[] = {"scx_lavd", "scx_open",	 "scx_test", "scx_gone",
			       "scx_dup",  "scx_noexec", "scx_two"};
	size_t i = 0;

	(void)state;
	load_registry(&c, "");
	res = registry_list(&c);
	assert_non_null(res);
	arr = cJSON_GetObjectItemCaseSensitive(res, "schedulers");
	assert_true(cJSON_IsArray(arr));
	/* config entries in order, then discovered ones, directory by directory, sorted */
	assert_int_equal(cJSON_GetArraySize(arr), 7);
	cJSON_ArrayForEach(o, arr) assert_string_equal(item_str(o, "name"), order[i++]);

	o = list_find(arr, "scx_lavd");
	assert_string_equal(item_str(o, "path"), "/usr/bin/scx_lavd");
	assert_string_equal(item_str(o, "kind"), "sched_ext");
	assert_string_equal(item_str(o, "ops"), "lavd");
	assert_string_equal(item_str(o, "source"), "config");
	a = cJSON_GetObjectItemCaseSensitive(o, "args");
	assert_int_equal(cJSON_GetArraySize(a), 1);
	assert_string_equal(cJSON_GetArrayItem(a, 0)->valuestring, "-a");
	a = cJSON_GetObjectItemCaseSensitive(o, "modes");
	assert_int_equal(cJSON_GetArraySize(a), 2);
	assert_string_equal(cJSON_GetArrayItem(a, 0)->valuestring, "powersave");
	assert_string_equal(cJSON_GetArrayItem(a, 1)->valuestring, "performance");

	o = list_find(arr, "scx_test");
	snprintf(want, sizeof(want), "%s/scx_test", dir1);
	assert_string_equal(item_str(o, "path"), want);
	assert_string_equal(item_str(o, "kind"), "process");
	assert_string_equal(item_str(o, "source"), "config");

	o = list_find(arr, "scx_gone");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "path")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "ops")));

	o = list_find(arr, "scx_dup");
	snprintf(want, sizeof(want), "%s/scx_dup", dir1);
	assert_string_equal(item_str(o, "path"), want);
	assert_string_equal(item_str(o, "source"), "discovered");
	assert_string_equal(item_str(o, "kind"), "sched_ext");
	assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "ops")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "args")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(o, "modes")), 0);

	/* scx_noexec is executable only in dir2, so that one is listed */
	o = list_find(arr, "scx_noexec");
	snprintf(want, sizeof(want), "%s/scx_noexec", dir2);
	assert_string_equal(item_str(o, "path"), want);
	cJSON_Delete(res);
	config_free(&c);

	/* dir2 first: its scx_dup wins; directories, non-scx and invalid names never show */
	{
		char json[1024];
		snprintf(json, sizeof(json), "{\"discover_path\": \"%s:%s\"}", dir2, dir1);
		parse_ok(json, &c);
	}
	res = registry_list(&c);
	arr = cJSON_GetObjectItemCaseSensitive(res, "schedulers");
	o = list_find(arr, "scx_noexec");
	assert_non_null(o);
	o = list_find(arr, "scx_dup");
	snprintf(want, sizeof(want), "%s/scx_dup", dir2);
	assert_string_equal(item_str(o, "path"), want);
	assert_null(list_find(arr, "scx_dir"));
	assert_null(list_find(arr, "other_exec"));
	assert_null(list_find(arr, "scx_bad name"));
	assert_int_equal(cJSON_GetArraySize(arr), 4); /* noexec, dup, two, test */
	cJSON_Delete(res);
	config_free(&c);
}

/* A user with a supplementary group that is not their primary one, if the host has one. */
static bool
find_supplementary(uid_t *uid, gid_t *gid)
{
	struct group *gr;
	bool found = false;

	setgrent();
	while (!found && (gr = getgrent()) != NULL) {
		for (char **m = gr->gr_mem; *m != NULL && !found; m++) {
			struct passwd *pw = getpwnam(*m);
			if (pw != NULL && pw->pw_uid != 0 && pw->pw_gid != gr->gr_gid) {
				*uid = pw->pw_uid;
				*gid = gr->gr_gid;
				found = true;
			}
		}
	}
	endgrent();
	return found;
}

static void
test_may_control(void **state)
{
	struct config c;
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	(void)state;
	config_defaults(&c);
	assert_true(authz_may_control(&c, 0, 0));
	assert_false(authz_may_control(&c, 1000, 1000));
	config_free(&c);

	parse_ok("{\"control\": {\"users\": [1234, 1235], \"group\": \"no-such-group-zz\"}}", &c);
	assert_true(authz_may_control(&c, 0, 99));
	assert_true(authz_may_control(&c, 1234, 99));
	assert_true(authz_may_control(&c, 1235, 99));
	assert_false(authz_may_control(&c, 1236, 99));
	config_free(&c);

	/* the group by the caller's gid, or by the user's membership */
	config_defaults(&c);
	c.has_group = true;
	c.control_gid = 4242;
	assert_true(authz_may_control(&c, 5555, 4242));
	assert_false(authz_may_control(&c, 5555, 4243)); /* no such user: no groups */
	pw = getpwnam("daemon");
	if (pw != NULL) {
		uid = pw->pw_uid;
		c.control_gid = pw->pw_gid; /* its primary group, though the caller's gid differs */
		assert_true(authz_may_control(&c, uid, 4243));
		c.control_gid = 4242;
		assert_false(authz_may_control(&c, uid, 4243));
	}
	if (find_supplementary(&uid, &gid)) {
		c.control_gid = gid;
		assert_true(authz_may_control(&c, uid, 4243));
	}
	c.has_group = false;
	c.control_gid = 4243;
	assert_false(authz_may_control(&c, 5555, 4243)); /* gid counts only with a group */
	config_free(&c);
}

/* What resolve asks authz.c: client arguments and absolute paths. */
static void
test_may_pass_args_and_run_path(void **state)
{
	struct config c;
	struct sched_entry e = {0};

	(void)state;
	assert_true(authz_may_pass_args(&e, true));
	assert_false(authz_may_pass_args(&e, false));
	e.client_args = true;
	assert_true(authz_may_pass_args(&e, true));
	assert_true(authz_may_pass_args(&e, false));

	config_defaults(&c);
	assert_false(authz_may_run_path(&c, true)); /* allow_paths is off by default */
	assert_false(authz_may_run_path(&c, false));
	c.allow_paths = true;
	assert_true(authz_may_run_path(&c, true));
	assert_false(authz_may_run_path(&c, false));
	config_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_object_is_defaults),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_minimal_entry),
		cmocka_unit_test(test_defaults_after_schedulers),
		cmocka_unit_test(test_entry_overrides_all_six),
		cmocka_unit_test(test_duration_forms),
		cmocka_unit_test(test_startup_timeout_positive),
		cmocka_unit_test(test_stop_signal_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_embedded_nul),
		cmocka_unit_test(test_failed_parse_leaves_config),
		cmocka_unit_test(test_on_exit),
		cmocka_unit_test(test_scalars),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_resolve_config_entry),
		cmocka_unit_test(test_resolve_modes),
		cmocka_unit_test(test_resolve_client_args),
		cmocka_unit_test(test_resolve_discovered),
		cmocka_unit_test(test_resolve_discovered_unsafe),
		cmocka_unit_test(test_resolve_invalid_names),
		cmocka_unit_test(test_resolve_absolute),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_may_control),
		cmocka_unit_test(test_may_pass_args_and_run_path),
	};

	return cmocka_run_group_tests(tests, setup_dirs, teardown_dirs);
}
