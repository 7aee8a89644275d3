#!/usr/bin/env bats
# The exit monitor (SPEC 3): unexpected exits, on_exit policies, hooks, kernel events,
# subscribe/events, wait and logs.

load helpers

teardown() { teardown_world; }

events_named() { # the names of the events seen so far, one per line
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(line)["event"])' "$T/events"
}

has_event() { events_named | grep -qx "$1"; }

@test "an exit with code 0 that no request caused is recorded and emitted" {
	world
	start_daemon
	subscribe
	run ctl attach quitter
	[ "$status" -eq 0 ]
	run ctl wait detached --timeout 5s
	[ "$status" -eq 0 ]
	eventually 3 has_event exited
	run ctl --json status
	[ "$(jget .last_exit.name <<<"$output")" = quitter ]
	[ "$(jget .last_exit.exit.code <<<"$output")" = 0 ]
	[ "$(jget .last_exit.reason <<<"$output")" = "runnable task stall (fake)" ]
	[ "$(jget .last_exit.runtime_ms <<<"$output")" -ge 300 ]
	[[ "$(jget .last_exit.log_tail <<<"$output")" == *"EXIT: runnable task stall (fake)"* ]]
	[[ "$(jget .last_exit.log <<<"$output")" == "$T/log/quitter."*".log" ]]
	# every event carries at (UTC, milliseconds) and seq
	python3 - "$T/events" <<'PY'
import json, re, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["at"]), e
    assert isinstance(e["seq"], int) and e["seq"] >= 1, e
PY
}

@test "a crash by signal is recorded with the signal" {
	world
	start_daemon
	ctl attach crashy
	run ctl wait detached --timeout 5s
	[ "$status" -eq 0 ]
	run ctl --json status
	[ "$(jget .last_exit.exit.signal <<<"$output")" = 11 ]
	[ "$(jget .last_exit.exit.signal_name <<<"$output")" = SIGSEGV ]
	run ctl status
	[[ "$output" == *SIGSEGV* ]]
}

@test "restart policy: backoff doubles up to max_delay, then gave_up" {
	world '"on_exit": {"action": "restart"},
	       "restart": {"delay": "100ms", "max_delay": "250ms", "burst": 3, "window": "60s"},'
	start_daemon
	subscribe
	ctl attach quitter
	eventually 15 has_event gave_up
	run python3 - "$T/events" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
print(" ".join(e["event"] for e in evs))
print(" ".join(str(e["delay_ms"]) for e in evs if e["event"] == "restarting"))
PY
	echo "$output"
	[ "${lines[0]}" = "attached exited restarting attached exited restarting attached exited restarting attached exited gave_up" ]
	[ "${lines[1]}" = "100 200 250" ]
	run ctl --json status
	[ "$(jget .gave_up <<<"$output")" = true ]
	[ "$(jget .restarts <<<"$output")" = 3 ]
	[ "$(jget .state <<<"$output")" = detached ]
	# a request from a person starts afresh
	run ctl attach fast
	[ "$status" -eq 0 ]
	run ctl --json status
	[ "$(jget .gave_up <<<"$output")" = false ]
}

@test "fallback policy attaches the fallback once" {
	world '"on_exit": {"action": "fallback"}, "fallback": "fast",'
	start_daemon
	ctl attach quitter
	eventually 10 sh -c "'$SCHEDCTL' -s '$SOCK' --json status | grep -q '\"name\":\"fast\"'"
	run ctl wait attached --timeout 5s
	[ "$status" -eq 0 ]
	run ctl --json status
	[ "$(jget .scheduler.name <<<"$output")" = fast ]
	[ "$(jget .last_exit.name <<<"$output")" = quitter ]
}

@test "on_exit.exec runs with the SCHEDLIFE_* environment" {
	world
	cat >"$T/hook" <<HOOK
#!/bin/sh
env | grep '^SCHEDLIFE_' | sort >"$T/hook.env.tmp"
echo "\$1" >>"$T/hook.env.tmp"
mv "$T/hook.env.tmp" "$T/hook.env"
HOOK
	chmod +x "$T/hook"
	write_config "\"on_exit\": {\"exec\": [\"$T/hook\", \"first-arg\"]},"
	start_daemon
	ctl attach quitter
	pid=$(ctl --json status | jget .pid)
	seq=$(ctl --json status | jget .seq)
	eventually 5 test -e "$T/hook.env"
	cat "$T/hook.env"
	grep -qx "SCHEDLIFE_EVENT=exited" "$T/hook.env"
	grep -qx "SCHEDLIFE_NAME=quitter" "$T/hook.env"
	grep -qx "SCHEDLIFE_PID=$pid" "$T/hook.env"
	grep -qx "SCHEDLIFE_SEQ=$seq" "$T/hook.env"
	grep -qx "SCHEDLIFE_EXIT_CODE=0" "$T/hook.env"
	grep -qx "SCHEDLIFE_LOG=$T/log/quitter.$seq.log" "$T/hook.env"
	grep -qx "first-arg" "$T/hook.env"
	! grep -q SCHEDLIFE_EXIT_SIGNAL "$T/hook.env"
}

@test "on_exit.exec gets SCHEDLIFE_EXIT_SIGNAL for a crash" {
	world
	printf '#!/bin/sh\nenv | grep ^SCHEDLIFE_ >"%s/env.tmp"; mv "%s/env.tmp" "%s/env"\n' "$T" "$T" "$T" >"$T/hook"
	chmod +x "$T/hook"
	write_config "\"on_exit\": {\"exec\": [\"$T/hook\"]},"
	start_daemon
	ctl attach crashy
	eventually 5 test -e "$T/env"
	grep -qx "SCHEDLIFE_EXIT_SIGNAL=11" "$T/env"
	! grep -q SCHEDLIFE_EXIT_CODE "$T/env"
}

@test "on_exit reboot is refused unless PID 1 or --allow-reboot" {
	world '"on_exit": {"action": "reboot"},'
	run "$SCHEDLIFED" --check-config -c "$CONFIG"
	[ "$status" -eq 1 ]
	[[ "$output" == *"on_exit.action"* ]]
	run "$SCHEDLIFED" --check-config --allow-reboot -c "$CONFIG"
	[ "$status" -eq 0 ]
}

@test "on_exit reboot ends the run: the daemon as PID 1 of a new PID namespace" {
	world
	# The hook takes a while; the reboot must wait for it (it saves the guest's logs).
	printf '#!/bin/sh\nsleep 0.5\necho "$SCHEDLIFE_NAME $SCHEDLIFE_REASON" >"%s/saved"\n' "$T" >"$T/hook"
	chmod +x "$T/hook"
	write_config "\"on_exit\": {\"action\": \"reboot\", \"exec\": [\"$T/hook\"]},"
	# Guard: reboot(2) must only ever run as PID 1 of a namespace made here.
	run unshare --pid --fork --mount-proc sh -c 'echo $$'
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	# No --allow-reboot: the daemon accepts the policy only because it is PID 1.
	unshare --pid --fork --mount-proc "$SCHEDLIFED" -c "$CONFIG" -s "$SOCK" \
		--run-dir "$T/run" --log-dir "$T/log" --sched-ext-root "$SCX" 2>"$T/daemon.log" &
	NSPID=$!
	ctl -q --connect-timeout 10s status
	ctl attach quitter
	# The scheduler exits after 0.4 s; reboot(2) in the namespace ends its PID 1.
	st=0
	wait "$NSPID" || st=$?
	cat "$T/daemon.log"
	[ "$st" -eq 129 ] # the namespace's init was ended by SIGHUP: a "reboot"
	grep -q "on_exit: rebooting" "$T/daemon.log"
	grep -q '"event":"exited"' "$T/daemon.log"
	[ "$(cat "$T/saved")" = "quitter runnable task stall (fake)" ]
}

@test "the kernel dropping a live scheduler and taking it back are events, not exits" {
	world
	start_daemon
	subscribe
	ctl attach ejected
	eventually 5 has_event sched_ext_enabled
	[ "$(events_named | tr '\n' ' ')" = "attached sched_ext_disabled sched_ext_enabled " ]
	run ctl --json status
	[ "$(jget .state <<<"$output")" = attached ]
	[ "$(jget .sched_ext.enable_seq <<<"$output")" = 2 ]
	[ "$(jget .last_exit <<<"$output")" = null ]
}

@test "events: human lines, and --json objects" {
	world
	start_daemon
	ctl events >"$T/human" &
	subscribe
	ctl attach fast
	ctl detach
	eventually 3 has_event detached
	sleep 0.2
	grep -q "attached fast pid" "$T/human"
	grep -q "detached fast pid" "$T/human"
	[ "$(events_named | tr '\n' ' ')" = "attached detached " ]
}

@test "wait: success at once, success later, timeout is exit 5" {
	world
	start_daemon
	run ctl wait detached --timeout 1s
	[ "$status" -eq 0 ]
	run ctl wait attached --timeout 300ms
	[ "$status" -eq 5 ]
	ctl attach --no-wait slow
	run ctl wait attached --timeout 5s
	[ "$status" -eq 0 ]
	run ctl --json wait attached
	[ "$(jget .scheduler.name <<<"$output")" = slow ]
}

@test "logs: tail, by seq, and -f follows new lines" {
	world
	start_daemon
	ctl attach fast
	first=$(ctl --json status | jget .seq)
	ctl detach
	ctl attach moded -m loud
	sleep 0.5
	run ctl logs -n 2
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	run ctl logs --seq "$first"
	[[ "$output" == *"fake: pid"*"ops fast"* ]]
	timeout -k 5 1.5 "$SCHEDCTL" -s "$SOCK" logs -f -n 0 >"$T/follow" || true
	cat "$T/follow"
	[ "$(grep -c '^tick ' "$T/follow")" -ge 5 ]
	run ctl --json logs -n 1
	[ "$(jget .seq <<<"$output")" -gt "$first" ]
	run ctl logs --seq 999
	[ "$status" -ne 0 ]
}

@test "exit detection: the exited event follows the exit within milliseconds" {
	world
	# A process-kind scheduler whose last act is to write the time, then exit.
	cat >"$T/quick-exit" <<SH
#!/bin/sh
sleep 0.3
exec date +%s%N >"$T/exit_ns"
SH
	chmod +x "$T/quick-exit"
	cat >"$CONFIG" <<JSON
{"defaults": {"ready_after": "100ms"},
 "schedulers": [{"name": "brief", "path": "$T/quick-exit", "kind": "process"}]}
JSON
	start_daemon
	# The subscriber stamps each event as it arrives.
	python3 - "$SOCK" >"$T/arrivals" <<'PY' &
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rb")
s.sendall(b'{"id":1,"cmd":"subscribe"}\n'); f.readline()
print("subscribed", flush=True)
for line in f:
    e = json.loads(line)
    print(e["event"], time.time_ns(), flush=True)
    if e["event"] == "exited":
        break
PY
	BG_PIDS+=($!)
	# a loaded machine may take a while to start python: attach once it listens
	eventually 10 grep -q '^subscribed' "$T/arrivals"
	ctl attach brief
	eventually 5 grep -q '^exited' "$T/arrivals"
	exit_ns=$(cat "$T/exit_ns")
	seen_ns=$(awk '$1 == "exited" { print $2 }' "$T/arrivals")
	latency_us=$(((seen_ns - exit_ns) / 1000))
	echo "exit to exited event: ${latency_us} us" >&3
	[ "$latency_us" -ge 0 ]
	[ "$latency_us" -lt 50000 ] # loose: a polling monitor would take its whole period
}
