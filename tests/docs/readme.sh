#!/usr/bin/env bash
# The README's guest boot script, exactly as printed, under dash with set -e, against a
# real schedlifed: a run that lasts, a scheduler that dies mid-run, one that never loads.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "${BUILD_DIR:-build}" && pwd) || exit 1
n=0 failed=0
check() { # description, then a command that must succeed
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		printf 'ok %d - %s\n' "$n" "$what"
	else
		failed=$((failed + 1))
		printf 'not ok %d - %s\n' "$n" "$what"
	fi
}

tmp=$(mktemp -d)
dpid=
cleanup() {
	if [ -n "$dpid" ]; then
		kill "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

# The script block between the markers, fences excluded.
sed -n '/<!-- boot-script:begin -->/,/<!-- boot-script:end -->/p' README.md |
	sed '1,2d;$d' | sed '$d' >"$tmp/guest-run.sh"
check "the README has the boot script" grep -q '^set -e$' "$tmp/guest-run.sh"
check "it is POSIX sh (dash -n)" dash -n "$tmp/guest-run.sh"

mkdir -p "$tmp/scx" "$tmp/bin"
echo disabled >"$tmp/scx/state"
ln -s "$B/schedctl" "$tmp/bin/schedctl"
cat >"$tmp/config.json" <<JSON
{"defaults": {"ready_after": "100ms"},
 "schedulers": [
  {"name": "scx_lavd", "path": "$B/fake_sched", "ops": "lavd",
   "args": ["--root", "$tmp/scx", "--ops", "lavd_1.0.4"]},
  {"name": "scx_broken", "path": "$B/fake_sched", "args": ["--root", "$tmp/scx", "--fail-load"]}]}
JSON
"$B/schedlifed" -c "$tmp/config.json" -s "$tmp/sock" --run-dir "$tmp/run" \
	--log-dir "$tmp/log" --sched-ext-root "$tmp/scx" 2>"$tmp/daemon.log" &
dpid=$!
export PATH="$tmp/bin:$PATH" SCHEDLIFED_SOCKET="$tmp/sock"

run_guest() { # expected status, SCHED, workload...
	local want=$1 st=0
	shift
	SCHED=$1 dash "$tmp/guest-run.sh" "${@:2}" >"$tmp/out" 2>&1 || st=$?
	[ "$st" -eq "$want" ] || { sed 's/^/# /' "$tmp/out"; return 1; }
}
detached() { schedctl --json status | grep -q '"state":"detached"'; }
# A workload that kills the scheduler, as a crash would.
cat >"$tmp/crash" <<'SH'
#!/bin/sh
kill -KILL "$(schedctl status | awk '$1 == "pid:" { print $2 }')"
sleep 0.3
SH
chmod +x "$tmp/crash"

schedctl -q --connect-timeout 10s status
check "a run the scheduler lasts through exits 0" run_guest 0 scx_lavd sleep 0.3
check "and leaves the slot detached" detached
check "a scheduler that dies mid-run fails the run (exit 1)" \
	run_guest 1 scx_lavd "$tmp/crash"
check "and says so" grep -q "did not last the whole run" "$tmp/out"
check "a scheduler that does not load stops the script at attach (exit 1)" \
	run_guest 1 scx_broken true
check "with the daemon's reason" grep -q "during startup" "$tmp/out"
check "nothing is left attached" detached
check "an unknown scheduler stops it with exit 7" run_guest 7 scx_nonexistent true
echo "1..$n"
[ "$failed" -eq 0 ]
