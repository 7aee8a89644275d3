/* logs.c's follow: new lines go to the callback its starter gave, and -1 ends it. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logs.h"
#include "loop.h"

static char dir[64], path[96];

/* What the receiver got, and when it says it is gone. */
struct receiver {
	struct log_follow *f;
	char lines[4][32];
	int n;
	int gone_after; /* after this many lines: stop the follow, return -1 */
};

static int
receive(void *ctx, const char *line)
{
	struct receiver *r = ctx;

	assert_true(r->n < 4);
	snprintf(r->lines[r->n++], sizeof(r->lines[0]), "%s", line);
	if (r->n < r->gone_after)
		return 0;
	/* The receiver leaves: as clients.c does, it stops the follow itself. */
	log_follow_stop(r->f);
	r->f = NULL;
	loop_stop();
	return -1;
}

static void
give_up(struct timer *t)
{
	(void)t;
	loop_stop();
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/test_logs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fake.1.log", dir);
	return loop_init();
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	rmdir(dir);
	return 0;
}

static void
test_follow_callback(void **state)
{
	struct receiver r = {.gone_after = 2};
	struct timer t;
	int fd;

	(void)state;
	fd = log_open_safe(path, O_WRONLY | O_CREAT | O_APPEND);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "before\n", 7), 7); /* a follow starts at the end */
	r.f = log_follow_start(path, receive, &r);
	assert_non_null(r.f);
	/* Three lines in one write: the receiver leaves after the second. */
	assert_int_equal(write(fd, "one\ntwo\nthree\n", 14), 14);
	close(fd);
	assert_int_equal(timer_init(&t, give_up, NULL), 0);
	timer_arm_ms(&t, 5000);
	assert_int_equal(loop_run(), 0);
	timer_close(&t);
	assert_null(r.f);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.lines[0], "one");
	assert_string_equal(r.lines[1], "two");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_follow_callback, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
