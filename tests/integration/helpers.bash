# Shared set-up for the integration suites: a real schedlifed on a temporary socket,
# a fake sched_ext root, and the real schedctl.
# shellcheck shell=bash

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
B=$(cd "${BUILD_DIR:-$TOP/build}" && pwd) # absolute: tests change directory
SCHEDLIFED=$B/schedlifed
SCHEDCTL=$B/schedctl
FAKE=$B/fake_sched
# Set VALGRIND="valgrind --error-exitcode=99 ..." to run the daemon under it.
VALGRIND=${VALGRIND:-}

# A fresh world: temp dir, sched_ext root with state "disabled", a config.
# Usage: world [extra JSON for the config's top level, e.g. '"boot": "fast",']
world() {
	T=$(mktemp -d "${TMPDIR:-/tmp}/schedlife-test.XXXXXX")
	SCX=$T/scx
	mkdir -p "$SCX" "$T/run" "$T/log"
	echo disabled >"$SCX/state"
	echo 0 >"$SCX/enable_seq"
	SOCK=$T/run/schedlifed.sock
	CONFIG=$T/config.json
	write_config "${1:-}"
}

# Scheduler entries every suite can use; each is the fake under another name.
write_config() {
	local extra=$1
	cat >"$CONFIG" <<JSON
{
  $extra
  "defaults": {"ready_after": "100ms", "grace": "2s", "startup_timeout": "3s",
               "disable_timeout": "2s"},
  "discover_path": "$T/bin",
  "schedulers": [
    {"name": "fast", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "fast", "--enable-after", "50ms"], "ops": "fast"},
    {"name": "fast2", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "fast2_1.0.3", "--enable-after", "50ms"], "ops": "fast2"},
    {"name": "slow", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "slow", "--enable-after", "1s"], "ops": "slow"},
    {"name": "never", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "never", "--never-enable"], "ops": "never", "startup_timeout": "500ms"},
    {"name": "stubborn", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "stubborn", "--ignore-term"], "ops": "stubborn"},
    {"name": "slowterm", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "slowterm", "--term-delay", "300ms"], "ops": "slowterm"},
    {"name": "forker", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "forker", "--fork", "3"], "ops": "forker"},
    {"name": "failload", "path": "$FAKE", "args": ["--root", "$SCX", "--fail-load"]},
    {"name": "initfail", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "initfail", "--init-fail", "--enable-after", "100ms"], "ops": "initfail"},
    {"name": "dies", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "dies", "--never-enable", "--exit-after", "50ms", "--exit-code", "3", "--exit-reason", "init failed (fake)"]},
    {"name": "crashy", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "crashy", "--crash-after", "400ms", "--crash-signal", "SEGV"], "ops": "crashy"},
    {"name": "quitter", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "quitter", "--exit-after", "400ms", "--exit-code", "0", "--exit-reason", "runnable task stall (fake)"], "ops": "quitter"},
    {"name": "ejected", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "ejected", "--eject-after", "300ms", "--reenable-after", "300ms"], "ops": "ejected"},
    {"name": "wrongops", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "surprise"], "ops": "expected"},
    {"name": "sticky", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "sticky", "--disable-delay", "10s"], "ops": "sticky", "disable_timeout": "300ms"},
    {"name": "missing", "path": "$T/no/such/program"},
    {"name": "sleeper", "path": "/bin/sleep", "args": ["1000"], "kind": "process"},
    {"name": "moded", "path": "$FAKE", "args": ["--root", "$SCX", "--ops", "moded"], "ops": "moded",
     "modes": {"loud": ["--print-every", "100ms"]}, "client_args": true}
  ]
}
JSON
}

# Start the daemon and wait until it answers. Extra arguments go to schedlifed.
start_daemon() {
	# shellcheck disable=SC2086
	$VALGRIND "$SCHEDLIFED" -c "$CONFIG" -s "$SOCK" --run-dir "$T/run" --log-dir "$T/log" \
		--sched-ext-root "$SCX" "$@" 2>>"$T/daemon.log" &
	DPID=$!
	"$SCHEDCTL" -s "$SOCK" -q --connect-timeout 10s status || {
		cat "$T/daemon.log" >&2
		return 1
	}
}

# SIGKILL the daemon, as a crash would, and reap it.
crash_daemon() {
	kill -KILL "$DPID"
	wait "$DPID" 2>/dev/null || true
	DPID=
}

ctl() {
	"$SCHEDCTL" -s "$SOCK" "$@"
}

# schedctl as nobody (uid and gid 65534, no other groups). setpriv finds the program
# before it drops root, so the checkout may be anywhere; the socket's directories must
# be searchable ($T is made 0755 for it).
as_nobody() {
	chmod 0755 "$T" "$T/run"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$SCHEDCTL" -s "$SOCK" "$@"
}

# Field of a JSON document on stdin, e.g. jget .scheduler.name
jget() {
	python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].strip(".").split("."):
    if k == "": continue
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print("null" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else v))
' "$1"
}

# Send raw lines to the socket and print the responses (one per request line).
raw() {
	python3 "$TOP/tests/integration/raw.py" "$SOCK" "$@"
}

# Stop the daemon with SIGTERM: it must exit 0. A crash, or what valgrind (exit 99) or
# the sanitizers found, fails the test.
stop_daemon() {
	local st=0
	if [ -n "${DPID:-}" ] && kill -0 "$DPID" 2>/dev/null; then
		kill -TERM "$DPID"
		wait "$DPID" 2>/dev/null || st=$?
	fi
	DPID=
	if [ "$st" -ne 0 ]; then
		echo "schedlifed exited with status $st on SIGTERM:" >&2
		cat "$T/daemon.log" >&2
		return 1
	fi
}

# Scheduler processes (and their children) of this test's root that are still alive;
# not the fake's kernel watcher ("fake-kwatch"), which leaves once the kernel is clean.
leftovers() {
	local p
	for p in $(pgrep -f -- "--root $SCX"); do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = fake-kwatch ] || echo "$p"
	done
}

# `schedctl events --json` in the background, one event a line in $T/events; stopped
# by teardown_world. The subscription is live once the daemon has answered it.
subscribe() {
	ctl --json events >"$T/events" 2>"$T/events.err" &
	BG_PIDS+=($!)
	sleep 0.2
}

# Background helpers a test started (add their pids to BG_PIDS): stopped at teardown.
BG_PIDS=()
stop_background() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
		# A sanitizer's leak check at exit has been seen to hang now and then: after 5 s
		# it is SIGKILLed, so one stuck client cannot stall the whole run.
		for _ in $(seq 50); do
			gone "$p" && break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	BG_PIDS=()
}

teardown_world() {
	local verdict=0
	stop_background
	stop_daemon || verdict=1
	local left
	left=$(leftovers)
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null
	fi
	# The fake's kernel watcher may still be writing into the root for a moment.
	for _ in $(seq 50); do
		[ "$(cat "$SCX/state" 2>/dev/null)" = disabled ] && break
		sleep 0.05
	done
	if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ -z "${KEEP_FAILED:-}" ]; then
		rm -rf "$T"
	else
		echo "kept $T" >&2
	fi
	return "$verdict"
}

# Wait up to $1 seconds for a command to succeed.
eventually() {
	local limit=$1
	shift
	for _ in $(seq "$((limit * 20))"); do
		"$@" && return 0
		sleep 0.05
	done
	"$@"
}

alive() { kill -0 "$1" 2>/dev/null; }

# ---- additions for the .bats suites (new helpers only) ----

# Append scheduler entries (JSON objects) to the config's "schedulers" list.
add_scheduler() {
	python3 - "$CONFIG" "$@" <<'PY'
import json, sys
path = sys.argv[1]
with open(path) as f:
    cfg = json.load(f)
for entry in sys.argv[2:]:
    cfg["schedulers"].append(json.loads(entry))
with open(path, "w") as f:
    json.dump(cfg, f, indent=1)
PY
}

# Field of the JSON in $output (after `run --separate-stderr ctl --json ...`), printed
# as jget prints it. Each $output is parsed once and its fields kept in a file (callers
# use "$(field ...)", a subshell), so a test reading ten fields starts one python, not ten.
# shellcheck disable=SC2154 # $output is bats's
field() {
	local dir=${T:-$BATS_TEST_TMPDIR} cached='' k t v key=$1 parent
	local -A val=() typ=()
	IFS= read -r -d '' cached <"$dir/.field.src" 2>/dev/null
	if [ ! -f "$dir/.field.src" ] || [ "$cached" != "$output" ]; then
		printf '%s\n' "$output" | python3 -c '
import json, sys
def out(path, v):
    t = "dict" if isinstance(v, dict) else "list" if isinstance(v, list) else "scalar"
    s = "null" if v is None else (json.dumps(v) if isinstance(v, (dict, list, bool)) else str(v))
    sys.stdout.write(path + "\0" + t + "\0" + s + "\0")
    if isinstance(v, dict):
        for k, x in v.items():
            out(path + "." + str(k), x)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out(path + "." + str(i), x)
try:
    out("@", json.load(sys.stdin))
except ValueError:
    pass
' >"$dir/.field.flat"
		printf '%s' "$output" >"$dir/.field.src"
	fi
	while IFS= read -r -d '' k && IFS= read -r -d '' t && IFS= read -r -d '' v; do
		val[$k]=$v
		typ[$k]=$t
	done <"$dir/.field.flat"
	key=${key%.}
	[ "$key" = . ] && key=
	[ -n "$key" ] && [ "${key:0:1}" != . ] && key=.$key
	key=@$key
	if [ -n "${typ[$key]+set}" ]; then
		printf '%s\n' "${val[$key]}"
		return 0
	fi
	# like jget: a missing key of an object is null; anything else is an error
	parent=${key%.*}
	if [ -n "${typ[$parent]+set}" ] && [ "${typ[$parent]}" = dict ]; then
		echo null
		return 0
	fi
	echo "field: no $1 in: $output" >&2
	return 1
}

# A process is gone once it no longer exists or is a zombie (PID 1 here may not
# reap the orphans of a killed group promptly; a zombie runs no code).
gone() {
	local st
	[ -e "/proc/$1" ] || return 0
	st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
	[ -z "$st" ] || [ "$st" = Z ]
}

no_leftovers() {
	[ -z "$(leftovers)" ]
}

# The fake kernel's sched_ext state.
kstate() {
	cat "$SCX/state" 2>/dev/null || echo missing
}

# Send the lines in one write on one connection, then print one response per line.
raw_pipeline() {
	python3 - "$SOCK" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(10)
lines = sys.argv[2:]
s.sendall("".join(l + "\n" for l in lines).encode())
f = s.makefile("rb")
for _ in lines:
    r = f.readline()
    print(r.decode().rstrip("\n") if r else "<closed>")
PY
}

# Send the lines on one connection and close it at once, reading nothing.
raw_close() {
	python3 - "$SOCK" "$@" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall("".join(l + "\n" for l in sys.argv[2:]).encode())
s.close()
PY
}

# Milliseconds since the epoch.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

kernel_disabled() {
	[ "$(kstate)" = disabled ]
}
