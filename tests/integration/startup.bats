#!/usr/bin/env bats
# Every way an attach can fail (SPEC section 3) and the kinds of readiness.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	world
	start_daemon
}

teardown() {
	teardown_world
}

# The slot is empty and the kernel is back to disabled.
slot_empty() {
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
	[ "$(field .pid)" = null ]
}

@test "failload: exit 1 startup_died, log tail has the failure line, exit code 1" {
	run --separate-stderr ctl --json attach failload
	[ "$status" -eq 1 ]
	[ "$(field .code)" = startup_died ]
	[ "$(field .exit.code)" = 1 ]
	[[ "$(field .log_tail)" == *"fake: failed to load BPF program"* ]]
	[[ "$(field .message)" == *failload* ]]
	slot_empty
	no_leftovers
	[ "$(kstate)" = disabled ]
	# the human form names the scheduler on stderr and exits 1 too
	run ctl attach failload
	[ "$status" -eq 1 ]
	[[ "$output" == *failload* ]]
}

@test "dies (exits 3 during startup): startup_died with exit code 3 and its EXIT: reason" {
	run --separate-stderr ctl --json attach dies
	[ "$status" -eq 1 ]
	[ "$(field .code)" = startup_died ]
	[ "$(field .exit.code)" = 3 ]
	[[ "$(field .log_tail)" == *"EXIT: init failed (fake)"* ]]
	[ "$(field .reason)" = "init failed (fake)" ]
	slot_empty
	eventually 3 no_leftovers
	[ "$(kstate)" = disabled ]
}

@test "initfail (ops.init() fails, as on Linux 7.3): startup_died at once, exit 0, no uevent, disabled" {
	t0=$(now_ms)
	run --separate-stderr ctl --json attach initfail
	t1=$(now_ms)
	[ "$status" -eq 1 ]
	[ "$(field .code)" = startup_died ]
	[ "$(field .exit.code)" = 0 ]
	[ "$(field .reason)" = "runtime error (ops.init() failed (-22))" ]
	# the kernel backs out silently: not a wait for the 2 s disable_timeout
	[ $((t1 - t0)) -lt 1500 ]
	slot_empty
	[ "$(kstate)" = disabled ]
	[ ! -e "$SCX/root" ]
}

@test "never (never enables): exit 5 startup_timeout after 500 ms, no process left" {
	t0=$(now_ms)
	run --separate-stderr ctl --json attach never
	t1=$(now_ms)
	[ "$status" -eq 5 ]
	[ "$(field .code)" = startup_timeout ]
	# the entry's startup_timeout (500ms), not the default 3s
	[ $((t1 - t0)) -ge 450 ]
	[ $((t1 - t0)) -lt 2500 ]
	slot_empty
	eventually 3 no_leftovers
	eventually 3 kernel_disabled
	# and the slot is usable again
	run ctl -q attach fast
	[ "$status" -eq 0 ]
}

@test "wrongops: exit 1 ops_mismatch, no process left" {
	run --separate-stderr ctl --json attach wrongops
	[ "$status" -eq 1 ]
	[ "$(field .code)" = ops_mismatch ]
	[[ "$(field .message)" == *surprise* ]]
	slot_empty
	eventually 3 no_leftovers
	eventually 3 kernel_disabled
}

@test "missing program: exit 1 spawn_failed with the errno text" {
	run --separate-stderr ctl --json attach missing
	[ "$status" -eq 1 ]
	[ "$(field .code)" = spawn_failed ]
	[[ "$(field .message)" == *"No such file or directory"* ]]
	slot_empty
}

@test "a file that is not executable: spawn_failed with Permission denied" {
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nexit 0\n' >"$T/noexec"
	chmod 0644 "$T/noexec"
	add_scheduler "{\"name\": \"noexec\", \"path\": \"$T/noexec\", \"kind\": \"process\"}"
	stop_daemon
	start_daemon
	run --separate-stderr ctl --json attach noexec
	[ "$status" -eq 1 ]
	[ "$(field .code)" = spawn_failed ]
	[[ "$(field .message)" == *"Permission denied"* ]]
	slot_empty
}

@test "unknown name: exit 7 unknown_scheduler" {
	run --separate-stderr ctl --json attach nosuchsched
	[ "$status" -eq 7 ]
	[ "$(field .code)" = unknown_scheduler ]
	[[ "$(field .message)" == *nosuchsched* ]]
	slot_empty
}

@test "invalid name: exit 7 (from the CLI or the daemon)" {
	run --separate-stderr ctl --json attach 'bad name!'
	[ "$status" -eq 7 ]
	[ "$(field .code)" = invalid_name ]
	# the daemon refuses it too when asked directly
	run raw '{"id":1,"cmd":"attach","name":"bad name!"}'
	[ "$(field .ok)" = false ]
	[ "$(field .error.code)" = invalid_name ]
	run raw '{"id":2,"cmd":"attach","name":"../fast"}'
	[ "$(field .error.code)" = invalid_name ]
	slot_empty
}

@test "a name found on discover_path is attached as sched_ext" {
	mkdir -p "$T/bin"
	printf '#!/bin/sh\nexec %s --root %s --ops scx_disco "$@"\n' "$FAKE" "$SCX" >"$T/bin/scx_disco"
	chmod 0755 "$T/bin/scx_disco"
	run --separate-stderr ctl --json attach scx_disco
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json status
	[ "$(field .scheduler.name)" = scx_disco ]
	[ "$(field .scheduler.kind)" = sched_ext ]
	[ "$(field .sched_ext.ops)" = scx_disco ]
	[ "$(field .scheduler.path)" = "$T/bin/scx_disco" ]
}

@test "sched_ext root missing: sched_ext_unavailable at once, a process kind still works" {
	stop_daemon
	real=$SCX
	SCX=$T/no-sched-ext
	start_daemon
	SCX=$real
	t0=$(now_ms)
	run --separate-stderr ctl --json attach fast
	t1=$(now_ms)
	[ "$status" -eq 1 ]
	[ "$(field .code)" = sched_ext_unavailable ]
	[ $((t1 - t0)) -lt 1000 ]
	no_leftovers
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	[ "$(field .sched_ext)" = null ]
	run --separate-stderr ctl --json attach sleeper
	[ "$status" -eq 0 ]
	[ "$(field .state)" = attached ]
	[ "$(field .scheduler.kind)" = process ]
	alive "$(field .pid)"
}

@test "a foreign scheduler in the kernel: attach exit 4 sched_ext_busy naming its ops" {
	mkdir -p "$SCX/root"
	echo other_sched >"$SCX/root/ops"
	echo enabled >"$SCX/state"
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 4 ]
	[ "$(field .code)" = sched_ext_busy ]
	[[ "$(field .message)" == *other_sched* ]]
	no_leftovers
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
	[ "$(field .foreign)" = true ]
	[ "$(field .sched_ext.ops)" = other_sched ]
	[ "$(field .sched_ext.state)" = enabled ]
	run --separate-stderr ctl status
	[[ "$output" == *other_sched* ]]
	# the kernel lets go: attach works again
	rm -rf "$SCX/root"
	echo disabled >"$SCX/state"
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	[ "$(ctl --json status | jget .foreign)" = false ]
}

@test "process kind (sleeper) is attached once alive for ready_after" {
	run --separate-stderr ctl --json attach sleeper
	[ "$status" -eq 0 ]
	[ "$(field .state)" = attached ]
	ms=$(field .elapsed_ms)
	# ready_after is 100ms
	[ "$ms" -ge 95 ]
	[ "$ms" -lt 2000 ]
	pid=$(field .pid)
	alive "$pid"
	[ "$(readlink "/proc/$pid/exe")" = "$(readlink -f /bin/sleep)" ]
	# sched_ext untouched
	[ "$(kstate)" = disabled ]
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	gone "$pid"
}

@test "process kind that dies before ready_after: startup_died with its exit code" {
	add_scheduler '{"name": "shortlived", "path": "/bin/sh", "args": ["-c", "echo going away; exit 4"], "kind": "process", "ready_after": "1s"}'
	stop_daemon
	start_daemon
	run --separate-stderr ctl --json attach shortlived
	[ "$status" -eq 1 ]
	[ "$(field .code)" = startup_died ]
	[ "$(field .exit.code)" = 4 ]
	[[ "$(field .log_tail)" == *"going away"* ]]
	slot_empty
}

@test "the scheduler's environment: daemon env plus the entry's, stdin /dev/null, log as stdout/stderr, no stray fds, own session" {
	add_scheduler '{"name": "envy", "path": "/bin/sh", "args": ["-c", "echo FOO=$SCHEDLIFE_TEST_FOO; ls -l /proc/self/fd/; exec sleep 1000"], "kind": "process", "env": {"SCHEDLIFE_TEST_FOO": "bar"}}'
	stop_daemon
	SCHEDLIFE_TEST_DAEMON_ENV=inherited start_daemon
	run --separate-stderr ctl --json attach envy
	[ "$status" -eq 0 ]
	pid=$(field .pid)
	log=$(field .log)
	eventually 3 grep -q 'FOO=bar' "$log"
	# the daemon's environment plus the entry's
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qx SCHEDLIFE_TEST_DAEMON_ENV=inherited
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qx SCHEDLIFE_TEST_FOO=bar
	[ "$(readlink "/proc/$pid/fd/0")" = /dev/null ]
	[ "$(readlink "/proc/$pid/fd/1")" = "$log" ]
	[ "$(readlink "/proc/$pid/fd/2")" = "$log" ]
	# sleep holds 0, 1, 2 and nothing else
	[ "$(ls "/proc/$pid/fd" | sort -n | tr '\n' ' ')" = "0 1 2 " ]
	# a new session: the scheduler leads it
	sid=$(awk '{print $6}' "/proc/$pid/stat")
	[ "$sid" = "$pid" ]
}

@test "a failed attach emits startup_failed with its error code" {
	ctl --json events >"$T/events" 2>/dev/null &
	evpid=$!
	run ctl -q attach fast
	eventually 5 grep -q '"event": *"attached"' "$T/events"
	run ctl -q detach
	run ctl -q attach failload
	[ "$status" -eq 1 ]
	run ctl -q attach never
	[ "$status" -eq 5 ]
	eventually 3 grep -q '"error": *"startup_timeout"' "$T/events"
	kill "$evpid"
	wait "$evpid" 2>/dev/null || true
	grep '"event": *"startup_failed"' "$T/events" | grep -q '"name": *"failload"'
	grep '"event": *"startup_failed"' "$T/events" | grep -q '"error": *"startup_died"'
	grep '"event": *"startup_failed"' "$T/events" | grep '"name": *"never"' | grep -q startup_timeout
	# a failed attach is not an attach
	[ "$(grep -c '"event": *"attached"' "$T/events")" -eq 1 ]
}
