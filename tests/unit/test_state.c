/* state.json read back as hostile input: every field checked, a bad file refused whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

static char dir[64], path[96];

#define SCHED                                                                                      \
	"{\"name\":\"fast\",\"path\":\"/usr/bin/fake\",\"args\":[],\"kind\":\"sched_ext\","          \
	"\"ops\":\"fast\",\"mode\":null,\"argv\":[\"fast\"],\"env\":[],\"client_args\":[],"       \
	"\"grace_ms\":1000,\"ready_after_ms\":100,\"startup_timeout_ms\":3000,"                   \
	"\"disable_timeout_ms\":500,\"stop_signal\":15,\"kill_mode\":\"group\"}"

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_state.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.json", dir);
	return 0;
}

static int
teardown(void **state)
{
	char tmp[128];

	(void)state;
	unlink(path);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	unlink(tmp);
	rmdir(dir);
	return 0;
}

static int
read_text(const char *text, struct state_file *sf, char *why)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return state_read(path, "/var/log/schedlifed", sf, why, 256);
}

static void
test_no_file(void **state)
{
	struct state_file sf;
	char why[256];

	(void)state;
	assert_int_equal(state_read(path, "/l", &sf, why, sizeof(why)), 0);
}

static void
test_valid_file(void **state)
{
	struct state_file sf;
	char why[256] = "";

	(void)state;
	assert_int_equal(
		read_text("{\"version\":2,\"seq\":7,\"state\":\"stopping\",\"scheduler\":" SCHED
			  ",\"pid\":42,\"spawn_seq\":7,\"started_at_ms\":1800000000000,"
			  "\"log\":\"/var/log/schedlifed/fast.7.log\",\"start_time\":12345,"
			  "\"exe\":\"/usr/bin/fake\",\"op\":{\"kind\":\"replace\",\"target\":" SCHED
			  "},\"policy\":{\"restarts\":2,\"gave_up\":false,\"restart_delay_ms\":1000,"
			  "\"restart_times_ms\":[1800000000000],\"restart_due_ms\":1800000001000}}",
			  &sf, why),
		1);
	assert_int_equal(sf.seq, 7);
	assert_int_equal(sf.saved.state, SLOT_STOPPING);
	assert_int_equal(sf.saved.pid, 42);
	assert_int_equal(sf.start_time, 12345);
	assert_string_equal(sf.exe, "/usr/bin/fake");
	assert_string_equal(sf.saved.log, "/var/log/schedlifed/fast.7.log");
	assert_int_equal(sf.saved.op, CMD_REPLACE);
	assert_non_null(sf.saved.target);
	assert_true(sf.saved.restart_pending);
	assert_int_equal(sf.saved.restart_count, 1);
	assert_int_equal(sf.saved.restarts, 2);
	state_file_free(&sf);
}

static void
test_hostile_files(void **state)
{
	static const char *const bad[] = {
		"{\"seq\":-5}",
		"{\"version\":2,\"seq\":-5,\"state\":\"detached\"}",
		"{\"version\":2,\"seq\":1e300,\"state\":\"detached\"}",
		"{\"version\":2,\"seq\":9007199254740994,\"state\":\"detached\"}",
		"{\"version\":2,\"seq\":1.5,\"state\":\"detached\"}",
		"{\"version\":2,\"seq\":\"7\",\"state\":\"detached\"}",
		"{\"version\":2,\"seq\":3,\"state\":\"exploded\"}",
		"{\"version\":9,\"seq\":3,\"state\":\"detached\"}",
		"{\"version\":2,\"seq\":3,\"state\":\"detached\",\"extra\":1}",
		"{\"version\":2,\"seq\":3,\"state\":\"detached\",\"pid\":5}",
		"{\"version\":2,\"seq\":3,\"state\":\"attached\",\"scheduler\":{\"name\":\"fa",
		"[1,2,3]",
		"",
		/* pid out of range */
		"{\"version\":2,\"seq\":3,\"state\":\"attached\",\"scheduler\":" SCHED
		",\"pid\":-1,\"spawn_seq\":3,\"started_at_ms\":1,\"start_time\":1,\"exe\":\"/x\"}",
		/* spawn_seq beyond seq */
		"{\"version\":2,\"seq\":3,\"state\":\"attached\",\"scheduler\":" SCHED
		",\"pid\":5,\"spawn_seq\":4,\"started_at_ms\":1,\"start_time\":1,\"exe\":\"/x\"}",
		/* a log that is not this spawn's */
		"{\"version\":2,\"seq\":3,\"state\":\"attached\",\"scheduler\":" SCHED
		",\"pid\":5,\"spawn_seq\":3,\"started_at_ms\":1,\"start_time\":1,\"exe\":\"/x\","
		"\"log\":\"/etc/shadow\"}",
		/* a relative exe */
		"{\"version\":2,\"seq\":3,\"state\":\"attached\",\"scheduler\":" SCHED
		",\"pid\":5,\"spawn_seq\":3,\"started_at_ms\":1,\"start_time\":1,\"exe\":\"x\"}",
		/* an identity with a bad name, a bad signal */
		"{\"version\":2,\"seq\":3,\"state\":\"detached\",\"last\":{\"name\":\"../x\"}}",
		"{\"version\":2,\"seq\":3,\"state\":\"detached\",\"op\":{\"kind\":\"logs\"}}",
		"{\"version\":2,\"seq\":3,\"state\":\"detached\",\"policy\":{\"restarts\":-1}}",
		"{\"version\":2,\"seq\":3,\"state\":\"detached\",\"last_exit\":{\"x\":{\"y\":1}}}",
	};
	struct state_file sf;
	char why[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (read_text(bad[i], &sf, why) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(why[0] != '\0');
		assert_null(sf.saved.id);
		assert_null(sf.last);
	}
}

static void
test_not_a_regular_file(void **state)
{
	struct state_file sf;
	char why[256];

	(void)state;
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(state_read(path, "/l", &sf, why, sizeof(why)), -1);
	rmdir(path);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(state_read(path, "/l", &sf, why, sizeof(why)), -1);
}

static void
test_write_is_whole(void **state)
{
	cJSON *o = cJSON_CreateObject();
	struct state_file sf;
	char err[256], why[256], tmp[128];

	(void)state;
	cJSON_AddNumberToObject(o, "version", 2);
	cJSON_AddNumberToObject(o, "seq", 9);
	cJSON_AddStringToObject(o, "state", "detached");
	assert_int_equal(state_write(path, o, err, sizeof(err)), 0);
	snprintf(tmp, sizeof(tmp), "%s/state.json.tmp", dir);
	assert_int_equal(access(tmp, F_OK), -1); /* renamed, not left behind */
	assert_int_equal(state_read(path, "/l", &sf, why, sizeof(why)), 1);
	assert_int_equal(sf.seq, 9);
	state_file_free(&sf);
	/* A temp path that cannot be opened fails the write, and says why. */
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(state_write(path, o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "open"));
	rmdir(tmp);
	cJSON_Delete(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_no_file),
		T(test_valid_file),
		T(test_hostile_files),
		T(test_not_a_regular_file),
		T(test_write_is_whole),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
