#!/usr/bin/env bats
# Where a script written from the man pages alone met the program (issue 14): each test
# holds one thing the pages promise.

load helpers
bats_require_minimum_version 1.5.0

teardown() {
	# a group a test made for itself
	[ -z "${G:-}" ] || groupdel "$G" 2>/dev/null || true
	teardown_world
}

# The file $1 has at least $2 lines.
has_lines() {
	[ "$(wc -l <"$1")" -ge "$2" ]
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

# Send each argument (a Python bytes literal) as one line on one connection; print the
# answers, each checked to be valid UTF-8 JSON ("INVALID: ..." otherwise).
raw_bytes() {
	python3 - "$SOCK" "$@" <<'PY'
import ast, json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
f = s.makefile("rb")
for lit in sys.argv[2:]:
    s.sendall(ast.literal_eval(lit) + b"\n")
    line = f.readline()
    try:
        json.loads(line.decode("utf-8"))
        print(line.decode().rstrip("\n"))
    except (UnicodeDecodeError, ValueError):
        print("INVALID: %r" % line)
PY
}

@test "the request id comes back byte for byte; an id that is no string, number or null is refused" {
	world
	start_daemon
	run raw_bytes "b'{\"id\":9007199254740993,\"cmd\":\"hello\"}'" \
		"b'{\"id\":1e400,\"cmd\":\"hello\"}'" \
		"b'{\"id\":\"a\\\\u0000b\",\"cmd\":\"hello\"}'" \
		"b'{\"id\": 7.50 ,\"cmd\":\"hello\"}'" \
		"b'{\"id\":{\"run\":[1]},\"cmd\":\"hello\"}'" \
		"b'{\"cmd\":\"hello\",\"id\":-0}'"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == '{"id":9007199254740993,"ok":true,'* ]]
	[[ "${lines[1]}" == '{"id":1e400,"ok":true,'* ]]
	[[ "${lines[2]}" == '{"id":"a\u0000b","ok":true,'* ]]
	[[ "${lines[3]}" == '{"id":7.50,"ok":true,'* ]]
	[[ "${lines[4]}" == '{"ok":false,'*'"code":"bad_request"'*'id must be a string, a number or null'* ]]
	[[ "${lines[5]}" == '{"id":-0,"ok":true,'* ]]
}

@test "a request that is not valid UTF-8, or hides a NUL, is refused; every answer is JSON" {
	world
	start_daemon
	run raw_bytes "b'{\"id\":1,\"cmd\":\"attach\",\"name\":\"fa\\xffst\"}'" \
		"b'{\"id\":2,\"cmd\":\"attach\",\"name\":\"\\xed\\xa0\\x80\"}'" \
		"b'{\"id\":3,\"cmd\":\"attach\",\"name\":\"fast\\\\u0000evil\"}'" \
		"b'{\"id\":4,\"cmd\":\"hello\",\"id\":5}'" \
		"b'{\"id\":6,\"cmd\":\"hello\"}'"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *'"ok":false'*'"code":"bad_request"'*'valid UTF-8'* ]]
	[[ "${lines[1]}" == *'"ok":false'*'"code":"bad_request"'*'valid UTF-8'* ]]
	[[ "${lines[2]}" == '{"id":3,"ok":false'*'"code":"bad_request"'*'u0000'* ]]
	[[ "${lines[3]}" == *'"code":"bad_request"'*'given twice'* ]]
	[[ "${lines[4]}" == '{"id":6,"ok":true'* ]]
	[ "$(ctl --json status | jget .state)" = detached ]
}

# Each line of the file $1 is UTF-8 JSON.
all_json() {
	python3 - "$1" <<'PY'
import json, sys
for raw in open(sys.argv[1], "rb"):
    json.loads(raw.decode("utf-8"))
PY
}

@test "a scheduler that prints binary garbage: logs, logs -f and last_exit are still UTF-8 JSON" {
	world
	add_scheduler '{"name": "garbage", "kind": "process", "path": "/bin/sh", "ready_after": "100ms",
		"args": ["-c", "printf '"'"'bad \\377\\376 cut \\303\\nEXIT: also \\355\\240\\200 bad\\n'"'"'; for i in 1 2 3 4 5 6 7 8; do sleep 0.1; printf '"'"'more \\377\\n'"'"'; done; exit 3"]}'
	start_daemon
	ctl -q attach garbage
	ctl --json logs -f >"$T/follow" &
	BG_PIDS+=($!)
	sleep 0.5
	ctl --json logs >"$T/logs"
	ctl wait detached --timeout 5s
	ctl --json status >"$T/status"
	stop_background || true
	grep -q '"line":"more ?"' "$T/follow"
	all_json "$T/follow"
	grep -q 'bad ?? cut ?' "$T/logs"
	all_json "$T/logs"
	all_json "$T/status"
	grep -q '"reason":"also ??? bad"' "$T/status"
	grep -q '"log_tail":\[[^]]*"more ?"' "$T/status"
}

@test "a daemon whose listen queue is full: schedctl says so and exits 3, never hangs" {
	world
	# A socket that listens and never accepts, its queue filled.
	python3 - "$T/stuck.sock" <<'PY' &
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(0)
held = []
while True:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.setblocking(False)
    try:
        c.connect(sys.argv[1])
    except BlockingIOError:
        break
    held.append(c)
open(sys.argv[1] + ".full", "w").close()
time.sleep(60)
PY
	BG_PIDS+=($!)
	eventually 5 test -e "$T/stuck.sock.full"
	run --separate-stderr timeout -k 5 10 "$SCHEDCTL" -s "$T/stuck.sock" status
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"queue of new connections is full"* ]]
	# --connect-timeout keeps trying for its time, then gives up the same way
	t0=$(now_ms)
	run --separate-stderr timeout -k 5 10 "$SCHEDCTL" -s "$T/stuck.sock" --connect-timeout 1s status
	[ "$status" -eq 3 ]
	[ $(($(now_ms) - t0)) -ge 900 ]
}

@test "connections: an error answer keeps the connection; an empty line is answered bad_request" {
	world
	start_daemon
	run raw '' '{"id":1,"cmd":"nosuch"}' '{"id":2,"cmd":"attach"}' '{"id":3,"cmd":"hello"}'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == '{"ok":false,"error":{"code":"bad_request"'* ]]
	[[ "${lines[1]}" == '{"id":1,"ok":false,"error":{"code":"unknown_command"'* ]]
	[[ "${lines[2]}" == '{"id":2,"ok":false,"error":{"code":"bad_request"'* ]]
	[[ "${lines[3]}" == '{"id":3,"ok":true,'* ]]
}

@test "connections: lines written on a stream are ignored, and the stream goes on" {
	world
	start_daemon
	python3 - "$SOCK" >"$T/stream" <<'PY' &
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
f = s.makefile("rb")
s.sendall(b'{"id":1,"cmd":"subscribe"}\n')
print(f.readline().decode().strip(), flush=True)
s.sendall(b'{"id":2,"cmd":"hello"}\n{"id":3,"cmd":"status"}\n')
# the next line must be the attach's event, not an answer to 2 or 3
print(f.readline().decode().strip(), flush=True)
PY
	BG_PIDS+=($!)
	eventually 10 has_lines "$T/stream" 1 # subscribed (the lines follow at once)
	sleep 0.2
	ctl -q attach fast
	eventually 5 has_lines "$T/stream" 2
	[ "$(sed -n 1p "$T/stream")" = '{"id":1,"ok":true,"result":{}}' ]
	[[ "$(sed -n 2p "$T/stream")" == '{"event":"attached",'* ]]
}

@test "control.users: a string is a user name, digits too; a number is a uid" {
	world
	# no user is called 4242 here, uid 4242 need not exist
	! getent passwd 4242 >/dev/null
	write_config '"control": {"users": ["4242"]},'
	run --separate-stderr "$SCHEDLIFED" --check-config -c "$CONFIG"
	[ "$status" -ne 0 ]
	[[ "$stderr" == *'control.users[0]'*'unknown user "4242"'* ]]
	write_config '"control": {"users": [4242, "nobody"]},'
	run "$SCHEDLIFED" --check-config -c "$CONFIG"
	[ "$status" -eq 0 ]
}

@test "control.group: members by the group database, supplementary too; a process's own extra groups do not count" {
	world
	G=schedlife-t$$
	groupadd -U nobody "$G"
	gid=$(getent group "$G" | cut -d: -f3)
	write_config "\"control\": {\"group\": \"$G\"},"
	start_daemon
	chmod 0755 "$T" "$T/run"
	# nobody is a supplementary member in /etc/group: allowed, without the group in hand
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$SCHEDCTL" -s "$SOCK" attach fast
	st1=$status
	ctl -q detach
	groupdel "$G"
	G=
	[ "$st1" -eq 0 ]
	# once out of the database, holding the gid as a supplementary group is not enough...
	run setpriv --reuid=65534 --regid=65534 --groups="$gid" "$SCHEDCTL" -s "$SOCK" attach fast
	[ "$status" -eq 6 ]
	# ...but as the process's own gid it is
	run setpriv --reuid=65534 --regid="$gid" --clear-groups "$SCHEDCTL" -s "$SOCK" attach fast
	[ "$status" -eq 0 ]
}

@test "SCHEDLIFE_REASON is unset when the scheduler printed no EXIT: line" {
	world
	printf '#!/bin/sh\nenv | grep ^SCHEDLIFE_ >"%s/env.tmp"; mv "%s/env.tmp" "%s/env"\n' "$T" "$T" "$T" >"$T/hook"
	chmod +x "$T/hook"
	write_config "\"on_exit\": {\"exec\": [\"$T/hook\"]},"
	start_daemon
	ctl -q attach crashy
	eventually 5 test -e "$T/env"
	grep -q '^SCHEDLIFE_EXIT_SIGNAL=11$' "$T/env"
	! grep -q '^SCHEDLIFE_REASON=' "$T/env"
	! grep -q 'EXIT: ' "$T"/log/crashy.*.log
}

@test "schedctl version with no daemon: its own version, exit 3" {
	world
	run --separate-stderr "$SCHEDCTL" -s "$T/nothing.sock" version
	[ "$status" -eq 3 ]
	[[ "$output" == "schedctl "[0-9]* ]]
	[[ "$stderr" == *"cannot reach schedlifed"* ]]
	run --separate-stderr "$SCHEDCTL" -s "$T/nothing.sock" --json version
	[ "$status" -eq 3 ]
	[[ "$output" == '{"client_version":"'[0-9]*'","client_protocol":2}' ]]
	# with a daemon: its hello, and the client's own beside it
	start_daemon
	run --separate-stderr ctl --json version
	[ "$status" -eq 0 ]
	[ "$(field .protocol)" = 2 ]
	[ "$(field .client_protocol)" = 2 ]
	run --separate-stderr ctl version
	[[ "$output" == *"(protocol 2)"* ]]
}

@test "config errors read as schedlifed.json(5) shows them, each naming its key's own path" {
	world
	# The page's example lines, from its source
	mapfile -t shown < <(awk '/^\.Bd -literal/ {n++; next} /^\.Ed/ && n == 1 {exit} n == 1' \
		"$TOP/man/schedlifed.json.5")
	[ "${#shown[@]}" -eq 4 ]
	cat >"$T/configs" <<'JSON'
{"schedulers": [{"name": "a", "path": "/bin/true"}, {"name": "b", "path": "/bin/true", "grace": "abc"}]}
{"restart": {"burst": "x"}}
{"schedulers": [{"name": "a", "path": "/bin/true", "modes": {"fast": [], "fast": []}}]}
{"defaults": {"kil_mode": "group"}}
JSON
	local k # not i: bats's run sets that one
	for k in 0 1 2 3; do
		sed -n "$((k + 1))p" "$T/configs" >"$T/bad.json"
		run --separate-stderr "$SCHEDLIFED" --check-config -c "$T/bad.json"
		[ "$status" -eq 1 ]
		[ "$stderr" = "schedlifed: $T/bad.json: ${shown[$k]}" ]
	done
	# the deepest: a key inside a scheduler's object
	printf '%s\n' '{"schedulers": [{"name": "a", "path": "/bin/true"}, {"name": "b", "path": "/bin/true", "kind": "process", "bogus": 1}]}' >"$T/bad.json"
	run --separate-stderr "$SCHEDLIFED" --check-config -c "$T/bad.json"
	[ "$stderr" = "schedlifed: $T/bad.json: schedulers[1].bogus: unknown key" ]
}

@test "attach of an unknown name while attached is unknown_scheduler (7), not already_attached" {
	world
	start_daemon
	ctl -q attach fast
	run --separate-stderr ctl --json attach NOSUCH
	[ "$status" -eq 7 ]
	[ "$(field .code)" = unknown_scheduler ]
	run ctl attach fast2
	[ "$status" -eq 4 ]
}

@test "kill --grace 0 says kill_escalated, with grace_ms 0, as it sends SIGKILL" {
	world
	start_daemon
	subscribe
	ctl -q attach fast
	run --separate-stderr ctl --json kill --grace 0
	[ "$status" -eq 0 ]
	[ "$(field .exit.signal)" = 9 ]
	eventually 5 grep -q '"event":"kill_escalated"' "$T/events"
	grep '"event":"kill_escalated"' "$T/events" | grep -q '"grace_ms":0'
}

@test "attach after a startup timeout prints the log's last lines, as the other startup failures do" {
	world
	start_daemon
	run --separate-stderr ctl attach never
	[ "$status" -eq 5 ]
	[[ "$stderr" == *"did not become ready"* ]]
	[[ "$stderr" == *"last lines of $T/log/never."*".log:"* ]]
	[[ "$stderr" == *"fake: pid"* ]]
	run --separate-stderr ctl --json attach never
	[ "$(field .code)" = startup_timeout ]
	[ "$(field .exit.signal)" = 9 ]
	[[ "$(field .log_tail)" == *"fake: pid"* ]]
}

@test "last_exit has one shape: status, the exited event, kill's already_gone and state.json" {
	world
	start_daemon
	subscribe
	ctl -q attach quitter
	ctl -q wait detached --timeout 5s
	run --separate-stderr ctl --json status
	rec=$(field .last_exit)
	[ "$(field .last_exit.exit.code)" = 0 ]
	[ "$(field .last_exit.reason)" = "runnable task stall (fake)" ]
	[ "$(field .last_exit.code)" = null ] # not flat
	python3 - "$rec" "$T/events" "$T/run/state.json" <<'PY'
import json, sys
rec = json.loads(sys.argv[1])
ev = [json.loads(l) for l in open(sys.argv[2]) if '"exited"' in l][0]
ev.pop("event")
assert ev == rec, (ev, rec)
state = json.load(open(sys.argv[3]))
assert state["last_exit"] == rec, state["last_exit"]
PY
	run --separate-stderr ctl --json kill
	[ "$(field .outcome)" = already_gone ]
	[ "$(field .exit.code)" = 0 ]
	[ "$(field .last_exit)" = "$rec" ]
	[ "$(field .already_detached)" = null ]
}

@test "last_exit keeps its shape across a daemon restart, and a flat one from 0.1.0 is nested" {
	world
	start_daemon
	ctl -q attach quitter
	ctl -q wait detached --timeout 5s
	before=$(ctl --json status | jget .last_exit)
	stop_daemon
	start_daemon
	[ "$(ctl --json status | jget .last_exit)" = "$before" ]
	stop_daemon
	# the record as 0.1.0 wrote it
	python3 - "$T/run/state.json" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
rec = st["last_exit"]
rec.update(rec.pop("exit"))
json.dump(st, open(sys.argv[1], "w"))
PY
	grep -q '"code": 0' "$T/run/state.json"
	start_daemon
	python3 -c 'import json, sys; assert json.loads(sys.argv[1]) == json.loads(sys.argv[2])' \
		"$(ctl --json status | jget .last_exit)" "$before"
	[ ! -e "$T/run/state.json.bad" ]
}

@test "a failed boot attach leaves the slot detached with startup_failed; under on_exit restart it is retried, then gave_up" {
	world '"boot": "dies",'
	start_daemon
	eventually 5 grep -q '"event":"startup_failed"' "$T/daemon.log"
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	[ "$(field .last_exit)" = null ]
	stop_daemon
	write_config '"boot": "dies", "on_exit": {"action": "restart"}, "restart": {"delay": "100ms", "burst": 2},'
	: >"$T/daemon.log"
	start_daemon
	eventually 10 grep -q '"event":"gave_up"' "$T/daemon.log"
	[ "$(grep -c '"event":"startup_failed"' "$T/daemon.log")" -eq 3 ]
	grep '"event":"restarting"' "$T/daemon.log" | grep -q '"name":"dies"'
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	[ "$(field .gave_up)" = true ]
}

@test "logs -f stays on the log it started on: a restart's new log is not followed" {
	world
	start_daemon
	ctl -q attach moded -m loud
	first=$(ctl --json status | jget .seq)
	ctl logs -f -n 0 >"$T/follow" &
	BG_PIDS+=($!)
	eventually 5 grep -q tick "$T/follow"
	ctl -q restart
	second=$(ctl --json status | jget .seq)
	[ "$second" -gt "$first" ]
	# the new spawn ticks in its own log...
	eventually 5 grep -q tick "$T/log/moded.$second.log"
	# ...and the follow saw only the first log's lines
	sleep 0.5
	[ "$(grep -c tick "$T/follow")" -le "$(grep -c tick "$T/log/moded.$first.log")" ]
	! grep -qx "fake: pid $(ctl --json status | jget .pid) ops moded" "$T/follow"
}
