#!/usr/bin/env bats
# Where a script written from the man pages alone met the program (issue 14): each test
# holds one thing the pages promise.

load helpers
bats_require_minimum_version 1.5.0

teardown() {
	teardown_world
}

@test "an exit by a real-time signal is named as kill(1) names it, never SIG?" {
	world
	start_daemon
	run ctl -q attach sleeper
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json kill --signal RTMIN+2 --grace 2s
	[ "$status" -eq 0 ]
	rt2=$(($(kill -l RTMIN) + 2))
	[ "$(field .exit.signal)" = "$rt2" ]
	[ "$(field .exit.signal_name)" = SIGRTMIN+2 ]
	run ctl kill --signal RTMIN+999
	[ "$status" -eq 2 ]
}

@test "--run-dir and --log-dir with missing parents are created, as mkdir -p would" {
	world
	SOCK=$T/deep/er/run/schedlifed.sock
	start_daemon --run-dir "$T/deep/er/run" --log-dir "$T/logs/a/b"
	[ -S "$SOCK" ]
	[ "$(stat -c %a "$T/deep/er/run")" = 755 ]
	[ "$(stat -c %a "$T/deep/er")" = 755 ]
	[ "$(stat -c %a "$T/logs/a/b")" = 750 ]
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	ls "$T/logs/a/b"/fast.*.log
}
