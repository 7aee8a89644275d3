#!/usr/bin/env bats
# The wire protocol of SPEC section 5 on a raw socket: framing, errors, ids, limits,
# ordering, and lifecycle requests queued one at a time.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	world
	start_daemon
}

teardown() {
	teardown_world
}

# Field of line N (1-based) of $output.
line_field() {
	local output=${lines[$(($1 - 1))]}
	field "$2"
}

# Start attaching "slower" from the background; back once the slot says starting.
attach_slower_in_background() {
	ctl -q attach slower &
	BGPID=$!
	BG_PIDS+=("$BGPID")
	eventually 5 state_is starting
}

# A sched_ext entry that takes 6 s to enable: long enough to fill a queue behind it,
# even on a loaded machine where the test's own clients are slow to start.
add_slower() {
	add_scheduler "{\"name\": \"slower\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"slower\", \"--enable-after\", \"6s\"], \"ops\": \"slower\", \"startup_timeout\": \"15s\"}"
}

state_is() {
	[ "$(ctl --json status | jget .state)" = "$1" ]
}

@test "malformed JSON: bad_request, and the connection still answers the next line" {
	run raw '{"id": 1, "cmd": "hel' '{"id":2,"cmd":"hello"}'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(line_field 1 .ok)" = false ]
	[ "$(line_field 1 .error.code)" = bad_request ]
	[ -n "$(line_field 1 .error.message)" ]
	[ "$(line_field 2 .ok)" = true ]
	[ "$(line_field 2 .id)" = 2 ]
	[ "$(line_field 2 .result.protocol)" = 2 ]
}

@test "not an object, no cmd, a cmd that is not a string: bad_request each" {
	run raw '[1,2]' '"hello"' '{"id":3}' '{"id":4,"cmd":7}' '{"id":5,"cmd":"hello"}'
	[ "${#lines[@]}" -eq 5 ]
	[ "$(line_field 1 .error.code)" = bad_request ]
	[ "$(line_field 2 .error.code)" = bad_request ]
	[ "$(line_field 3 .error.code)" = bad_request ]
	[ "$(line_field 3 .id)" = 3 ]
	[ "$(line_field 4 .error.code)" = bad_request ]
	[ "$(line_field 5 .ok)" = true ]
}

@test "unknown command: unknown_command" {
	run raw '{"id":1,"cmd":"frobnicate"}'
	[ "$(field .ok)" = false ]
	[ "$(field .error.code)" = unknown_command ]
	[[ "$(field .error.message)" == *frobnicate* ]]
}

@test "unknown parameter: bad_request naming it; a wrong type too" {
	run raw '{"id":1,"cmd":"status","bogus":1}' \
		'{"id":2,"cmd":"attach","name":"fast","colour":"red"}' \
		'{"id":3,"cmd":"attach","name":"fast","args":"not-a-list"}' \
		'{"id":4,"cmd":"kill","grace_ms":"soon"}'
	[ "${#lines[@]}" -eq 4 ]
	[ "$(line_field 1 .error.code)" = bad_request ]
	[[ "$(line_field 1 .error.message)" == *bogus* ]]
	[ "$(line_field 2 .error.code)" = bad_request ]
	[[ "$(line_field 2 .error.message)" == *colour* ]]
	[ "$(line_field 3 .error.code)" = bad_request ]
	[ "$(line_field 4 .error.code)" = bad_request ]
	# none of them attached anything
	state_is detached
	no_leftovers
}

@test "the id is echoed: numbers and strings, on success and on error" {
	run raw '{"id":42,"cmd":"hello"}' '{"id":"req-α","cmd":"hello"}' \
		'{"id":"x7","cmd":"kill"}' '{"id":0,"cmd":"nosuch"}'
	[ "${#lines[@]}" -eq 4 ]
	[ "$(line_field 1 .id)" = 42 ]
	[ "$(line_field 1 .ok)" = true ]
	[ "$(line_field 2 .id)" = "req-α" ]
	[ "$(line_field 3 .id)" = x7 ]
	[ "$(line_field 3 .error.code)" = not_attached ]
	[ "$(line_field 4 .id)" = 0 ]
	[ "$(line_field 4 .error.code)" = unknown_command ]
}

@test "a 70000-byte line: too_large, the connection closes, the daemon goes on" {
	# (raw.py's @wait reports a reset as "<timeout>", so tell them apart here: a close
	# with our unread excess still in the daemon's buffer arrives as ECONNRESET)
	run python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(5)
try:
    s.sendall(b"x" * 70000)
except OSError:
    pass
buf = b""
try:
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
except OSError:
    pass
print(buf.split(b"\n")[0].decode() or "<nothing>")
rest = buf.split(b"\n", 1)[1] if b"\n" in buf else b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            print("<closed>")
            break
        rest += d
except ConnectionResetError:
    print("<closed>")
except socket.timeout:
    print("<still open>")
PY
	echo "$output"
	[ "${#lines[@]}" -eq 2 ]
	[ "$(line_field 1 .ok)" = false ]
	[ "$(line_field 1 .error.code)" = too_large ]
	[ "${lines[1]}" = "<closed>" ]
	run raw '{"id":1,"cmd":"hello"}'
	[ "$(field .ok)" = true ]
	alive "$DPID"
	# a line just under the limit is parsed (and refused for what it says, not its size)
	pad=$(head -c 60000 /dev/zero | tr '\0' 'a')
	run raw "{\"id\":2,\"cmd\":\"hello\",\"pad\":\"$pad\"}"
	[ "$(field .id)" = 2 ]
	[ "$(field .error.code)" != too_large ]
}

@test "many requests on one connection, written at once, are answered in order" {
	reqs=()
	for i in $(seq 1 30); do
		case $((i % 3)) in
		0) reqs+=("{\"id\":$i,\"cmd\":\"status\"}") ;;
		1) reqs+=("{\"id\":$i,\"cmd\":\"hello\"}") ;;
		2) reqs+=("{\"id\":$i,\"cmd\":\"list\"}") ;;
		esac
	done
	run raw_pipeline "${reqs[@]}"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 30 ]
	run python3 -c '
import json, sys
rs = [json.loads(l) for l in sys.argv[1].splitlines()]
assert [r.get("id") for r in rs] == list(range(1, 31)), [r.get("id") for r in rs]
assert all(r["ok"] for r in rs), rs
for i, r in enumerate(rs, 1):
    k = {0: "state", 1: "protocol", 2: "schedulers"}[i % 3]
    assert k in r["result"], (i, r)
' "$output"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "lifecycle and read-only requests pipelined on one connection keep their order" {
	run raw_pipeline '{"id":1,"cmd":"attach","name":"fast"}' '{"id":2,"cmd":"status"}' \
		'{"id":3,"cmd":"detach"}' '{"id":4,"cmd":"status"}'
	[ "${#lines[@]}" -eq 4 ]
	[ "$(line_field 1 .id)" = 1 ]
	[ "$(line_field 1 .ok)" = true ]
	[ "$(line_field 2 .id)" = 2 ]
	[ "$(line_field 2 .result.state)" = attached ]
	[ "$(line_field 3 .id)" = 3 ]
	[ "$(line_field 3 .result.outcome)" = sigterm_graceful ]
	[ "$(line_field 4 .id)" = 4 ]
	[ "$(line_field 4 .result.state)" = detached ]
}

@test "status is answered while an attach of slow is in progress" {
	add_slower
	stop_daemon
	start_daemon
	attach_slower_in_background
	t0=$(now_ms)
	run --separate-stderr ctl --json status
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	[ "$(field .state)" = starting ]
	[ "$(field .scheduler.name)" = slower ]
	# the attach (6 s) is still running: status did not wait for it
	alive "$BGPID"
	[ $((t1 - t0)) -lt 1500 ]
	run raw '{"id":1,"cmd":"list"}' '{"id":2,"cmd":"hello"}'
	[ "$(line_field 1 .ok)" = true ]
	[ "$(line_field 2 .ok)" = true ]
	wait "$BGPID"
	rc=$?
	BGPID=
	[ "$rc" -eq 0 ]
	state_is attached
}

@test "a client that disconnects mid-attach does not cancel it" {
	run raw_close '{"id":1,"cmd":"attach","name":"slow"}'
	[ "$status" -eq 0 ]
	eventually 5 state_is starting
	run --separate-stderr ctl --json wait attached --timeout 5s
	[ "$status" -eq 0 ]
	[ "$(field .scheduler.name)" = slow ]
	alive "$(field .pid)"
	alive "$DPID"
	[ "$(kstate)" = enabled ]
}

@test "20 lifecycle requests queued behind a running attach: 16 queued, the rest busy at once (exit 4)" {
	add_slower
	stop_daemon
	start_daemon
	# the running one, not queued
	attach_slower_in_background
	# 20 more on 20 connections at once; then, with the queue full, schedctl itself
	run python3 - "$SOCK" "$SCHEDCTL" <<'PY'
import json, socket, subprocess, sys, time
path, ctl = sys.argv[1], sys.argv[2]
conns = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(json.dumps({"id": i, "cmd": "detach"}).encode() + b"\n")
    conns.append(s)
time.sleep(0.3)  # let the daemon read them all (the attach takes 6 s)
t0 = time.monotonic()
p = subprocess.run([ctl, "-s", path, "--json", "detach"], capture_output=True, timeout=30)
print("CTLMS", int((time.monotonic() - t0) * 1000))
print("CTL", p.returncode, p.stdout.decode().strip())
codes = []
for s in conns:
    s.settimeout(30)
    f = s.makefile("rb")
    r = json.loads(f.readline())
    codes.append("ok" if r["ok"] else r["error"]["code"])
print("CODES", " ".join(codes))
PY
	echo "$output"
	[ "$status" -eq 0 ]
	ctlline=$(grep '^CTL ' <<<"$output")
	codes=$(grep '^CODES ' <<<"$output")
	[ "$(wc -w <<<"${codes#CODES }")" -eq 20 ]
	nbusy=$(tr ' ' '\n' <<<"${codes#CODES }" | grep -c '^busy$')
	nok=$(tr ' ' '\n' <<<"${codes#CODES }" | grep -c '^ok$')
	[ "$nbusy" -eq 4 ]
	[ "$nok" -eq 16 ]
	# schedctl's request came when the queue was full: busy, exit 4
	[[ "$ctlline" == "CTL 4 "* ]]
	[[ "$ctlline" == *'"busy"'* ]]
	# and it was told at once, not once the queue had drained (the attach alone is 6 s)
	ctlms=$(sed -n 's/^CTLMS //p' <<<"$output")
	[ "$ctlms" -lt 1500 ]
	# the running attach finished, then the first queued detach detached it
	wait "$BGPID"
	rc=$?
	BGPID=
	[ "$rc" -eq 0 ]
	state_is detached
	eventually 3 no_leftovers
}

@test "more than 256 connections: the new ones get busy, the daemon survives" {
	run python3 - "$SOCK" <<'PY'
import json, select, socket, sys
conns, codes = [], []
for i in range(270):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sys.argv[1])
    conns.append(s)
# the last ones to connect are over the limit: busy said at once, or on the first line
for s in conns[-10:]:
    try:
        r, _, _ = select.select([s], [], [], 1.0)
        if not r:
            s.sendall(b'{"id":1,"cmd":"hello"}\n')
            r, _, _ = select.select([s], [], [], 5.0)
        data = s.recv(65536) if r else b""
        if not data:
            codes.append("closed")
        else:
            m = json.loads(data.split(b"\n")[0])
            codes.append("ok" if m["ok"] else m["error"]["code"])
    except (OSError, ValueError):
        codes.append("closed")
print(" ".join(codes))
for s in conns:
    s.close()
PY
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *busy* ]]
	[[ "$output" != *ok* ]]
	eventually 3 ctl -q status
	alive "$DPID"
}
