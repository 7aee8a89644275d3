#!/usr/bin/env bats
# The kill protocol of SPEC section 3: stop signal, grace, SIGKILL escalation, the
# process group, exit statuses, and detach waiting for the kernel.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	world
	start_daemon
}

teardown() {
	teardown_world
}

# The pids of the forker's children, from its log lines "fake: child pid P".
child_pids() {
	sed -n 's/^fake: child pid \([0-9][0-9]*\)$/\1/p' "$1"
}

three_children() {
	[ "$(child_pids "$1" | wc -l)" -eq 3 ]
}

state_is() {
	[ "$(ctl --json status | jget .state)" = "$1" ]
}

# The slot is stopping, and still shows pid $1.
stopping_with_pid() {
	local st
	st=$(ctl --json status)
	[ "$(jget .state <<<"$st")" = stopping ] && [ "$(jget .pid <<<"$st")" = "$1" ]
}

all_gone() {
	local p
	for p in "$@"; do
		gone "$p" || return 1
	done
}

@test "kill --grace 1s on a SIGTERM-ignoring scheduler: SIGKILL after 1 s, kill_escalated event" {
	subscribe
	run ctl -q attach stubborn
	[ "$status" -eq 0 ]
	# the subscriber is live once it has seen the attach
	eventually 5 grep -q '"event": *"attached"' "$T/events"
	pid=$(ctl --json status | jget .pid)
	t0=$(now_ms)
	run --separate-stderr ctl --json kill --grace 1s
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	# measured from outside too: the SIGKILL did not come before the grace was over
	echo "wall ms=$((t1 - t0))"
	[ $((t1 - t0)) -ge 1000 ]
	[ "$(field .outcome)" = sigkill_escalation ]
	[ "$(field .pid)" = "$pid" ]
	[ "$(field .exit.signal)" = 9 ]
	ms=$(field .elapsed_ms)
	echo "elapsed_ms=$ms"
	[ "$ms" -ge 1000 ]
	[ "$ms" -lt 1500 ]
	gone "$pid"
	eventually 3 grep -q '"event": *"kill_escalated"' "$T/events"
	grep '"event": *"kill_escalated"' "$T/events" | grep -q "\"pid\": *$pid"
	# the stubborn fake really got (and ignored) the SIGTERM: it printed nothing about it,
	# and it was still there when the SIGKILL came
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	eventually 3 no_leftovers
}

@test "kill on slowterm with grace 2s: sigterm_graceful after its 300 ms, exit code 0" {
	run ctl -q attach slowterm
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json kill --grace 2s
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigterm_graceful ]
	[ "$(field .pid)" = "$pid" ]
	[ "$(field .exit.code)" = 0 ]
	[ "$(field .exit.signal)" = null ]
	ms=$(field .elapsed_ms)
	[ "$ms" -ge 250 ]
	[ "$ms" -lt 1900 ]
	gone "$pid"
	seq=$(ctl --json status | jget .seq)
	grep -q 'fake: got SIGTERM, stopping' "$T/log/slowterm.$seq.log"
}

@test "kill --grace 0: SIGKILL at once, exit.signal 9" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json kill --grace 0
	[ "$status" -eq 0 ]
	[ "$(field .pid)" = "$pid" ]
	[ "$(field .exit.signal)" = 9 ]
	[ "$(field .elapsed_ms)" -lt 500 ]
	gone "$pid"
	# no SIGTERM first: the fake would have logged it
	seq=$(ctl --json status | jget .seq)
	run grep -c 'fake: got SIGTERM' "$T/log/fast.$seq.log"
	[ "$output" = 0 ]
}

@test "kill --signal INT sends SIGINT instead of the stop signal" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	seq=$(ctl --json status | jget .seq)
	run --separate-stderr ctl --json kill --signal INT
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigterm_graceful ]
	[ "$(field .exit.code)" = 0 ]
	gone "$pid"
	grep -q 'fake: got SIGINT, stopping' "$T/log/fast.$seq.log"
	run grep -c 'fake: got SIGTERM' "$T/log/fast.$seq.log"
	[ "$output" = 0 ]
}

@test "kill: the forker's three children are gone afterwards" {
	run ctl -q attach forker
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	log=$(ctl --json status | jget .log)
	eventually 3 three_children "$log"
	kids=$(child_pids "$log")
	for k in $kids; do alive "$k"; done
	run --separate-stderr ctl --json kill
	[ "$status" -eq 0 ]
	gone "$pid"
	# shellcheck disable=SC2086
	eventually 2 all_gone $kids
	eventually 3 no_leftovers
}

@test "detach: the forker's three children are gone afterwards" {
	run ctl -q attach forker
	[ "$status" -eq 0 ]
	log=$(ctl --json status | jget .log)
	eventually 3 three_children "$log"
	kids=$(child_pids "$log")
	for k in $kids; do alive "$k"; done
	run ctl -q detach
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2086
	eventually 2 all_gone $kids
	eventually 3 no_leftovers
	[ "$(kstate)" = disabled ]
}

@test "kill --grace abc: usage error 2 naming the value" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run ctl kill --grace abc
	[ "$status" -eq 2 ]
	[[ "$output" == *abc* ]]
	run ctl detach -g 5x
	[ "$status" -eq 2 ]
	[[ "$output" == *5x* ]]
	# nothing was killed
	alive "$pid"
	[ "$(ctl --json status | jget .state)" = attached ]
}

@test "an exit by signal carries signal_name SIGKILL and core_dumped false" {
	run ctl -q attach stubborn
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json kill --grace 100ms
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigkill_escalation ]
	[ "$(field .exit.signal)" = 9 ]
	[ "$(field .exit.signal_name)" = SIGKILL ]
	[ "$(field .exit.core_dumped)" = false ]
	[ "$(field .exit.code)" = null ]
	# the human form says so too
	run ctl -q attach stubborn
	run --separate-stderr ctl kill --grace 100ms
	[ "$status" -eq 0 ]
	[[ "$output" == *SIGKILL* ]]
}

@test "kill when the scheduler already exited on its own: not a kill of anything" {
	run ctl -q attach quitter
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	eventually 5 gone "$pid"
	run --separate-stderr ctl --json kill
	# either nothing is attached any more (the monitor saw the exit) or already_gone
	if [ "$status" -eq 0 ]; then
		[ "$(field .outcome)" = already_gone ]
	else
		[ "$status" -eq 4 ]
		[ "$(field .code)" = not_attached ]
	fi
}

@test "detach on sticky (kernel stays disabling): exit 5 disable_timeout, slot detached" {
	run ctl -q attach sticky
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	t0=$(now_ms)
	run --separate-stderr ctl --json detach
	t1=$(now_ms)
	[ "$status" -eq 5 ]
	[ "$(field .code)" = disable_timeout ]
	# disable_timeout of sticky is 300 ms, not the default 2 s nor the fake's 10 s
	[ $((t1 - t0)) -ge 250 ]
	[ $((t1 - t0)) -lt 1900 ]
	gone "$pid"
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	[ "$(field .pid)" = null ]
	[ "$(field .scheduler)" = null ]
	# let the fake kernel finish now instead of in 10 s: its watcher sleeps in "disabling"
	# shellcheck disable=SC2046
	kill -KILL $(pgrep -f -- "--root $SCX") 2>/dev/null || true
	echo disabled >"$SCX/state"
	rm -rf "$SCX/root"
}

@test "kill without --grace uses the configured grace; meanwhile the slot is stopping" {
	run ctl -q attach stubborn
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	# no --grace: the config's default grace (2s) applies
	ctl --json kill >"$T/kill.out" 2>"$T/kill.err" &
	kpid=$!
	# one status that says both (a loaded machine may be slow to ask twice within 2 s)
	eventually 2 stopping_with_pid "$pid"
	rc=0
	wait "$kpid" || rc=$?
	[ "$rc" -eq 0 ]
	output=$(cat "$T/kill.out")
	[ "$(field .outcome)" = sigkill_escalation ]
	[ "$(field .elapsed_ms)" -ge 2000 ]
	[ "$(field .elapsed_ms)" -lt 3500 ]
	state_is detached
}

@test "detach --grace 100ms on a SIGTERM-ignoring scheduler escalates after 100 ms" {
	run ctl -q attach stubborn
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json detach -g 100ms
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigkill_escalation ]
	[ "$(field .exit.signal)" = 9 ]
	ms=$(field .elapsed_ms)
	[ "$ms" -ge 100 ]
	[ "$ms" -lt 1500 ]
	gone "$pid"
	[ "$(kstate)" = disabled ]
}

@test "an entry's stop_signal and grace are used by kill" {
	add_scheduler "{\"name\": \"intstop\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"intstop\"], \"ops\": \"intstop\", \"stop_signal\": \"INT\"}" \
		"{\"name\": \"quickgrace\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"quickgrace\", \"--ignore-term\"], \"ops\": \"quickgrace\", \"grace\": \"200ms\"}"
	stop_daemon
	start_daemon
	run --separate-stderr ctl --json attach intstop
	[ "$status" -eq 0 ]
	log=$(field .log)
	run --separate-stderr ctl --json kill
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigterm_graceful ]
	grep -q 'fake: got SIGINT, stopping' "$log"
	run ctl -q attach quickgrace
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json kill
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigkill_escalation ]
	ms=$(field .elapsed_ms)
	[ "$ms" -ge 200 ]
	[ "$ms" -lt 1500 ]
}
