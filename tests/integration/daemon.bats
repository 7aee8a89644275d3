#!/usr/bin/env bats
# schedlifed itself (SPEC sections 2, 3 "Daemon lifecycle", 7): config checking, the
# run-dir lock, stale sockets, boot, shutdown, reload, and the cost of being idle.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	world
}

teardown() {
	if [ -n "${D2PID:-}" ]; then
		kill -KILL "$D2PID" 2>/dev/null
		wait "$D2PID" 2>/dev/null
		D2PID=
	fi
	teardown_world
}

daemon_cmd() {
	"$SCHEDLIFED" -c "$CONFIG" -s "$SOCK" --run-dir "$T/run" --log-dir "$T/log" \
		--sched-ext-root "$SCX" "$@"
}

state_is() {
	[ "$(ctl --json status | jget .state)" = "$1" ]
}

daemon_log_has() {
	grep -q -- "$1" "$T/daemon.log"
}

ctxt_switches() {
	awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n }' "/proc/$1/status"
}

@test "--check-config: a good file exits 0, a bad duration exits 1 naming defaults.grace" {
	run "$SCHEDLIFED" --check-config -c "$CONFIG"
	[ "$status" -eq 0 ]
	echo '{"defaults":{"grace":"abc"}}' >"$T/bad.json"
	run "$SCHEDLIFED" --check-config -c "$T/bad.json"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *defaults.grace* ]]
	[[ "$output" == *abc* ]]
	# --check-config starts nothing
	[ ! -e "$T/run/schedlifed.sock" ]
}

@test "--check-config names the path of other errors too" {
	echo '{"schedulers":[{"name":"a","path":"/bin/true"},{"name":"b","path":"/bin/true","grace":"soon"}]}' >"$T/bad1.json"
	run "$SCHEDLIFED" --check-config -c "$T/bad1.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *"schedulers[1].grace"* ]]
	echo '{"colour":"red"}' >"$T/bad2.json"
	run "$SCHEDLIFED" --check-config -c "$T/bad2.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *colour* ]]
	echo '{"log_keep":"many"}' >"$T/bad3.json"
	run "$SCHEDLIFED" --check-config -c "$T/bad3.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *log_keep* ]]
	echo '{"defaults": {' >"$T/bad4.json"
	run "$SCHEDLIFED" --check-config -c "$T/bad4.json"
	[ "$status" -eq 1 ]
	# durations of every form are accepted
	echo '{"defaults":{"grace":"1.5s","ready_after":"250ms","startup_timeout":"1m","disable_timeout":"2"}}' >"$T/ok.json"
	run "$SCHEDLIFED" --check-config -c "$T/ok.json"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a second daemon on the same run dir exits 1 naming the holder's pid; the first goes on" {
	start_daemon
	run timeout -k 5 10 "$SCHEDLIFED" -c "$CONFIG" -s "$T/run/other.sock" --run-dir "$T/run" \
		--log-dir "$T/log" --sched-ext-root "$SCX"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$DPID"* ]]
	alive "$DPID"
	run ctl -q status
	[ "$status" -eq 0 ]
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	[ -S "$SOCK" ]
}

@test "a stale socket file (a plain file) is replaced" {
	echo junk >"$SOCK"
	start_daemon
	[ -S "$SOCK" ]
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
}

@test "a stale socket (nobody listening) is replaced" {
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.close()
' "$SOCK"
	[ -S "$SOCK" ]
	start_daemon
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
}

@test "a live socket of another daemon is not taken over" {
	start_daemon
	mkdir -p "$T/run2"
	run timeout -k 5 10 "$SCHEDLIFED" -c "$CONFIG" -s "$SOCK" --run-dir "$T/run2" \
		--log-dir "$T/log" --sched-ext-root "$SCX"
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$status" -ne 124 ]
	# the first daemon still owns it
	alive "$DPID"
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = attached ]
}

@test "SIGTERM with a scheduler attached detaches it and exits 0, nothing left" {
	start_daemon
	run ctl -q attach forker
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	kill -TERM "$DPID"
	rc=0
	wait "$DPID" || rc=$?
	DPID=
	[ "$rc" -eq 0 ]
	gone "$pid"
	eventually 3 no_leftovers
	eventually 3 kernel_disabled
	# and the state it leaves says so
	[ "$(jget .pid <"$T/run/state.json")" = null ]
}

@test "SIGINT with on_shutdown detach does the same" {
	start_daemon
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	kill -INT "$DPID"
	rc=0
	wait "$DPID" || rc=$?
	DPID=
	[ "$rc" -eq 0 ]
	gone "$pid"
	eventually 3 no_leftovers
}

@test "boot in the config attaches at start" {
	write_config '"boot": "fast",'
	start_daemon
	run --separate-stderr ctl --json wait attached --timeout 5s
	[ "$status" -eq 0 ]
	[ "$(field .scheduler.name)" = fast ]
	alive "$(field .pid)"
	[ "$(field .sched_ext.ops)" = fast ]
}

@test "--attach NAME attaches at start" {
	start_daemon --attach fast2
	run --separate-stderr ctl --json wait attached --timeout 5s
	[ "$status" -eq 0 ]
	[ "$(field .scheduler.name)" = fast2 ]
	alive "$(field .pid)"
}

@test "a boot scheduler that fails to start leaves the daemon up and the slot detached" {
	write_config '"boot": "failload",'
	start_daemon
	eventually 5 daemon_log_has failload
	alive "$DPID"
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
}

@test "SIGHUP with a broken config keeps the old one, and the log says why" {
	start_daemon
	cp "$CONFIG" "$T/good.json"
	echo '{"defaults":{"grace":"abc"}}' >"$CONFIG"
	kill -HUP "$DPID"
	eventually 5 daemon_log_has 'defaults.grace'
	alive "$DPID"
	run --separate-stderr ctl --json list
	[ "$status" -eq 0 ]
	[[ "$output" == *'"fast"'* ]]
	[[ "$output" == *'"sleeper"'* ]]
	run ctl -q attach fast
	[ "$status" -eq 0 ]
}

@test "SIGHUP with a good config reloads it" {
	start_daemon
	add_scheduler '{"name": "newcomer", "path": "/bin/sleep", "args": ["1000"], "kind": "process"}'
	kill -HUP "$DPID"
	eventually 5 ctl -q attach newcomer
	run --separate-stderr ctl --json status
	[ "$(field .scheduler.name)" = newcomer ]
}

@test "seq keeps rising across daemon restarts" {
	start_daemon
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 0 ]
	s1=$(field .seq)
	stop_daemon
	start_daemon
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 0 ]
	s2=$(field .seq)
	[ "$s2" -gt "$s1" ]
	[ -f "$T/log/fast.$s1.log" ]
	[ -f "$T/log/fast.$s2.log" ]
}

@test "lifecycle requests are logged with the caller's uid and pid" {
	start_daemon
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	run ctl -q detach
	grep -E 'attach.*uid 0.*pid [0-9]+' "$T/daemon.log"
	grep -E 'detach.*uid 0.*pid [0-9]+' "$T/daemon.log"
}

@test "idle cost: with fast attached the daemon makes no wake-ups over 3 s" {
	start_daemon
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	# let the attach's own traffic settle
	sleep 0.5
	before=$(ctxt_switches "$DPID")
	sleep 3
	after=$(ctxt_switches "$DPID")
	echo "context switches: $before -> $after"
	[ $((after - before)) -le 2 ]
	alive "$(ctl --json status | jget .pid)"
}

@test "an unprivileged caller may read but not attach, detach or kill: exit 6" {
	chmod 0755 "$T"
	start_daemon
	run --separate-stderr as_nobody --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
	run --separate-stderr as_nobody --json list
	[ "$status" -eq 0 ]
	run --separate-stderr as_nobody --json attach fast
	[ "$status" -eq 6 ]
	[ "$(field .code)" = permission_denied ]
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run as_nobody -q kill
	[ "$status" -eq 6 ]
	run as_nobody -q detach
	[ "$status" -eq 6 ]
	run as_nobody -q restart
	[ "$status" -eq 6 ]
	alive "$pid"
	[ "$(ctl --json status | jget .pid)" = "$pid" ]
}

@test "a uid in control.users may attach; extra args only where client_args is true" {
	chmod 0755 "$T"
	write_config '"control": {"users": [65534]},'
	start_daemon
	run --separate-stderr as_nobody --json attach fast -- --print-every 1s
	[ "$status" -eq 6 ]
	[ "$(field .code)" = permission_denied ]
	[ "$(ctl --json status | jget .state)" = detached ]
	run --separate-stderr as_nobody --json attach moded -- --print-every 1s
	[ "$status" -eq 0 ]
	[[ "$(field .scheduler.args)" == *'"--print-every", "1s"'* ]]
	run --separate-stderr as_nobody --json detach
	[ "$status" -eq 0 ]
	run as_nobody -q attach fast
	[ "$status" -eq 0 ]
	# the daemon logs who asked
	grep -E 'attach.*uid 65534' "$T/daemon.log"
}

@test "schedctl cannot reach a daemon: exit 3; --connect-timeout waits for one" {
	run ctl -s "$T/run/nothing.sock" status
	[ "$status" -eq 3 ]
	[[ "$output" == *nothing.sock* ]]
	# a client started before the daemon gets its answer once it listens
	ctl -q --connect-timeout 10s status &
	cpid=$!
	sleep 0.3
	start_daemon
	rc=0
	wait "$cpid" || rc=$?
	[ "$rc" -eq 0 ]
}

@test "log_keep: only the newest logs are kept" {
	write_config '"log_keep": 2,'
	start_daemon
	for _ in 1 2 3 4; do
		run ctl -q attach fast
		[ "$status" -eq 0 ]
		run ctl -q detach
		[ "$status" -eq 0 ]
	done
	seq=$(ctl --json status | jget .seq)
	run ls "$T/log"
	echo "$output"
	[ "${#lines[@]}" -eq 2 ]
	[ -f "$T/log/fast.$seq.log" ]
	[ -f "$T/log/fast.$((seq - 1)).log" ]
}
