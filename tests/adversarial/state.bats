#!/usr/bin/env bats
# state.json under attack (issue 11, items 9-12): the daemon SIGKILLed in the middle of
# an operation, a state file that cannot be written, a corrupted or hostile one, and a
# pending on_exit restart. Each time the daemon lives, answers root at once, and no
# scheduler is lost: it is supervised again, or killed as asked, or shown as foreign.

load helpers

teardown() {
	if [ -n "${TMPFS:-}" ]; then
		stop_daemon || true
		umount "$TMPFS" 2>/dev/null || umount -l "$TMPFS"
		TMPFS=
	fi
	teardown_world
}

status_field() { ctl --json status | jget "$1"; }

# The slot's state in state.json.
file_state() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("state"))' "$T/run/state.json"
}

file_state_is() { [ "$(file_state 2>/dev/null)" = "$1" ]; }
slot_is() { [ "$(status_field .state)" = "$1" ]; }

# ---- item 9: SIGKILLed mid-operation ----

@test "a scheduler still starting when the daemon dies comes back starting, attached once ready" {
	world
	add_scheduler "{\"name\": \"slower\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"slower\", \"--enable-after\", \"8s\"], \"ops\": \"slower\", \"startup_timeout\": \"30s\"}"
	start_daemon
	ctl attach slower --no-wait
	pid=$(status_field .pid)
	[ "$(status_field .state)" = starting ]
	crash_daemon
	start_daemon
	# not yet enabled (it enables after 8 s): it must not be called attached
	output=$(ctl --json status)
	[ "$(field .sched_ext.state)" != enabled ]
	[ "$(field .state)" = starting ]
	[ "$(field .pid)" = "$pid" ]
	run ctl wait attached --timeout 20s
	[ "$status" -eq 0 ]
	[ "$(status_field .pid)" = "$pid" ]
	[ "$(status_field .adopted)" = true ]
	daemon_holds "$pid"
}

@test "a starting scheduler that never gets ready after the crash is killed at its startup timeout" {
	world
	add_scheduler "{\"name\": \"never4s\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"never4s\", \"--never-enable\"], \"ops\": \"never4s\", \"startup_timeout\": \"4s\"}"
	start_daemon
	ctl attach never4s --no-wait
	pid=$(status_field .pid)
	crash_daemon
	start_daemon
	[ "$(status_field .state)" = starting ]
	run ctl wait attached --timeout 10s
	[ "$status" -ne 0 ]
	eventually 5 gone "$pid"
	eventually 5 slot_is detached
	grep -q "did not become ready" "$T/daemon.log"
	daemon_holds
}

@test "a kill cut short by the crash is finished by the next daemon" {
	world
	start_daemon
	ctl attach stubborn
	pid=$(status_field .pid)
	ctl detach --grace 60s &
	BG_PIDS+=($!)
	eventually 5 file_state_is stopping
	crash_daemon
	alive "$pid" # stubborn ignores SIGTERM
	start_daemon
	eventually 5 gone "$pid"
	[ "$(status_field .state)" = detached ]
	eventually 5 kernel_disabled
	daemon_holds
}

@test "a replace cut short by the crash is finished: the old one killed, the new one attached" {
	world
	start_daemon
	ctl attach stubborn
	old=$(status_field .pid)
	ctl replace fast --grace 60s &
	BG_PIDS+=($!)
	eventually 5 file_state_is stopping
	crash_daemon
	start_daemon
	eventually 5 gone "$old"
	run ctl wait attached --timeout 10s
	[ "$status" -eq 0 ]
	[ "$(status_field .scheduler.name)" = fast ]
	new=$(status_field .pid)
	[ "$new" != "$old" ]
	daemon_holds "$new"
}

# ---- item 10: state.json cannot be written ----

@test "state.json cannot be written: attach is refused and nothing runs unrecorded" {
	world
	TMPFS=$T/run
	mount -t tmpfs -o size=16k tmpfs "$TMPFS" # a full /run
	start_daemon
	dd if=/dev/zero of="$TMPFS/fill" bs=1k count=64 2>/dev/null || true
	run ctl --json attach fast
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *internal* ]]
	[[ "$output" == *state.json* ]]
	no_leftovers
	[ "$(status_field .state)" = detached ]
	kernel_disabled
	daemon_holds
}

@test "a later write that fails is retried and shown in status until it succeeds" {
	world
	TMPFS=$T/run
	mount -t tmpfs -o size=16k tmpfs "$TMPFS"
	start_daemon
	ctl attach fast
	pid=$(status_field .pid)
	[ "$(file_state)" = attached ]
	# fill the run dir, then make the daemon write: the scheduler dies on its own
	dd if=/dev/zero of="$TMPFS/fill" bs=1k count=64 2>/dev/null || true
	kill -KILL "$pid"
	eventually 5 sh -c "'$SCHEDCTL' -s '$SOCK' --json status | grep -q '\"persist_error\":\"'"
	[ "$(file_state)" = attached ] # the old record stands
	ctl status | grep -q "state file not written (retrying)"
	daemon_holds
	rm -f "$TMPFS/fill"
	eventually 5 file_state_is detached
	[ "$(status_field .persist_error)" = null ]
}

@test "state.json is written whole: temp file, fsync, rename" {
	world
	start_daemon
	ctl attach fast
	pid=$(status_field .pid)
	strace -f -e trace=openat,fsync,fdatasync,rename,renameat,renameat2 -p "$DPID" \
		-o "$T/trace" 2>/dev/null &
	st=$!
	sleep 0.5
	ctl detach
	sleep 0.3
	kill "$st"
	wait "$st" || true
	grep -q 'state.json.tmp' "$T/trace"
	grep -qE 'f(data)?sync' "$T/trace"
	grep -qE 'rename.*state.json.tmp.*state.json' "$T/trace"
}

# ---- item 11: a corrupted or hostile state.json ----

# Write $1 as state.json, start the daemon, and check it survived the file.
hostile() {
	printf '%s' "$1" >"$T/run/state.json"
	start_daemon
	[ -f "$T/run/state.json.bad" ] || {
		echo "state.json not kept aside for: $1" >&2
		return 1
	}
	grep -q "state.json" "$T/daemon.log"
	daemon_holds
	local s
	s=$(status_field .seq)
	[ "$s" -ge 0 ] && [ "$s" -lt 9007199254740992 ]
	ctl attach fast
	[ "$(status_field .seq)" -ge 1 ]
	ls "$T/log" | grep -qvE '^fast\.[0-9]+\.log$' && return 1
	ctl detach
	stop_daemon
	rm -f "$T/run/state.json" "$T/run/state.json.bad"
}

@test "hostile state.json values are refused and kept aside" {
	world
	hostile '{"seq":-5}'
	hostile '{"seq":1e300}'
	hostile '{"version":1,"seq":3,"state":"attached","scheduler":{"name":"fa'
	hostile '{"version":1,"seq":"7"}'
	hostile '{"version":1,"seq":3,"state":"attached","pid":-1}'
	hostile '[1,2,3]'
	hostile '{"version":1,"seq":3,"state":"exploded"}'
	! ls "$T/log" | grep -q -- '-'
}

@test "state.json as a FIFO, a symlink or a huge file: refused at once, kept aside" {
	world
	mkfifo "$T/run/state.json"
	start_daemon # an open that waited for a writer would never get here
	[ -p "$T/run/state.json.bad" ]
	daemon_holds
	stop_daemon
	rm -f "$T/run/state.json" "$T/run/state.json.bad"
	ln -s /etc/passwd "$T/run/state.json"
	start_daemon
	[ -L "$T/run/state.json.bad" ]
	[ -f /etc/passwd ] && grep -q root /etc/passwd
	daemon_holds
	stop_daemon
	rm -f "$T/run/state.json" "$T/run/state.json.bad"
	head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/run/state.json"
	start_daemon
	[ -f "$T/run/state.json.bad" ]
	daemon_holds
	ctl attach fast
	daemon_holds "$(status_field .pid)"
}

@test "a state.json pointing its log elsewhere is refused" {
	world
	start_daemon
	ctl attach sleeper
	pid=$(status_field .pid)
	crash_daemon
	python3 - "$T/run/state.json" <<'PY'
import json, sys
p = sys.argv[1]
s = json.load(open(p)); s["log"] = "/etc/shadow"
json.dump(s, open(p, "w"))
PY
	start_daemon
	[ -f "$T/run/state.json.bad" ]
	! ctl logs 2>/dev/null | grep -q root:
	kill -KILL "$pid"
}

@test "a corrupt state.json with a live scheduler: shown as foreign, never forgotten" {
	world
	start_daemon
	ctl attach fast
	pid=$(status_field .pid)
	seq=$(status_field .seq)
	crash_daemon
	head -c 40 "$T/run/state.json" >"$T/st" && mv "$T/st" "$T/run/state.json"
	start_daemon
	[ -f "$T/run/state.json.bad" ]
	alive "$pid"
	[ "$(status_field .foreign)" = true ]
	grep -q "pid $pid writes to $T/log/fast.$seq.log" "$T/daemon.log"
	run ctl attach fast
	[ "$status" -ne 0 ]
	[[ "$output" == *busy* ]]
	daemon_holds
	# the seq still does not go back: it continues past the logs already there
	kill -TERM "$pid"
	eventually 5 kernel_disabled
	ctl attach fast
	[ "$(status_field .seq)" -gt "$seq" ]
}

@test "state.json lost: seq continues past the logs in the log dir" {
	world
	start_daemon
	ctl attach fast
	ctl detach
	ctl attach fast
	ctl detach
	seq=$(status_field .seq)
	stop_daemon
	rm -f "$T/run/state.json"
	start_daemon
	ctl attach fast
	[ "$(status_field .seq)" -gt "$seq" ]
	[ "$(wc -l <"$T/log/fast.$seq.log")" -ge 0 ]
	[ "$(ls "$T/log" | wc -l)" -eq 3 ]
}

# ---- item 12: on_exit restart across a daemon crash ----

@test "a pending on_exit restart survives the daemon being SIGKILLed" {
	world '"on_exit": {"action": "restart"}, "restart": {"delay": "4s"},'
	start_daemon
	ctl attach fast
	pid=$(status_field .pid)
	kill -KILL "$pid"
	eventually 5 grep -q '"event":"restarting"' "$T/daemon.log"
	crash_daemon
	! grep -q "spawned fast (pid [0-9]*, seq 2)" "$T/daemon.log" # not restarted before the crash
	start_daemon
	run ctl wait attached --timeout 15s
	[ "$status" -eq 0 ]
	new=$(status_field .pid)
	[ "$new" != "$pid" ]
	[ "$(status_field .restarts)" -ge 1 ]
	daemon_holds "$new"
}

@test "a scheduler that died while the daemon was down runs its on_exit policy" {
	world '"on_exit": {"action": "restart"}, "restart": {"delay": "100ms"},'
	start_daemon
	ctl attach fast
	pid=$(status_field .pid)
	crash_daemon
	kill -KILL "$pid"
	eventually 5 kernel_disabled
	start_daemon
	run ctl wait attached --timeout 10s
	[ "$status" -eq 0 ]
	new=$(status_field .pid)
	[ "$new" != "$pid" ]
	[ "$(status_field .last_exit.while_daemon_down)" = true ]
	daemon_holds "$new"
}
