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
