#!/usr/bin/env bats
# schedctl on a terminal: a wait longer than half a second shows a one-line progress on
# stderr, erased when done; never in a pipe, with --json or with -q (SPEC 6).

load helpers

setup() {
	world
	start_daemon
}

teardown() { teardown_world; }

# Run schedctl on a pseudo-terminal (script(1)); its whole output in $T/tty.
on_tty() {
	script -qec "$(printf '%q ' "$SCHEDCTL" -s "$SOCK" "$@")" /dev/null >"$T/tty"
}

@test "a wait over half a second shows progress on a terminal, then erases it" {
	on_tty attach slow
	grep -q $'\rattaching slow\\.\\.\\. 0\\.[5-9]s' "$T/tty"
	grep -q "slow attached (pid" "$T/tty"
	# the progress line is blanked before the answer is printed
	grep -q $'\r *\rslow attached' "$T/tty"
}

@test "a quick request shows no progress, even on a terminal" {
	on_tty attach fast
	! grep -q "attaching" "$T/tty"
	grep -q "fast attached" "$T/tty"
}

@test "no progress with --json or -q on a terminal" {
	on_tty --json attach slow
	! grep -q "attaching" "$T/tty"
	ctl -q detach
	on_tty -q attach slow
	! grep -q "attaching" "$T/tty"
}

@test "no progress in a pipe: stderr stays empty" {
	ctl attach slow >"$T/out" 2>"$T/err"
	[ ! -s "$T/err" ]
	grep -q "slow attached" "$T/out"
}
