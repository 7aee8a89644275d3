#!/usr/bin/env bash
# dist/schedctl.bash-completion, sourced in bash and driven as readline would drive it. TAP.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "${BUILD_DIR:-build}" && pwd) || exit 1
tmp=$(mktemp -d)
daemon=''
cleanup() {
	if [ -n "$daemon" ]; then
		kill "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
n=0 failed=0

# shellcheck source=SCRIPTDIR/../../dist/schedctl.bash-completion
. dist/schedctl.bash-completion

# Complete the last word of the command line given as words; the candidates, sorted, on one line.
complete_words() {
	local func
	func=$(complete -p schedctl | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
	COMP_WORDS=("$@")
	COMP_CWORD=$(($# - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	"$func" schedctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//'
}

expect() { # expected candidates (sorted, space-separated), words...
	local want=$1 got line
	shift
	got=$(complete_words "$@" 2>"$tmp/err")
	line="$*"
	line=${line//"$schedctl"/schedctl}
	line=${line//"$tmp"/TMP}
	n=$((n + 1))
	if [ "$got" = "$want" ] && [ ! -s "$tmp/err" ]; then
		echo "ok $n - '$line<TAB>' completes to '$want'"
	else
		echo "not ok $n - '$line<TAB>' completes to '$want'"
		echo "# got '$got'"
		sed 's/^/# stderr: /' "$tmp/err"
		failed=$((failed + 1))
	fi
}

schedctl=$B/schedctl
n=$((n + 1))
if complete -p schedctl >/dev/null 2>&1; then echo "ok $n - registers a completion for schedctl"; else
	echo "not ok $n - registers a completion for schedctl"
	failed=$((failed + 1))
fi
expect "attach" schedctl at
expect "--grace" schedctl kill --g
expect "attached detached" schedctl wait ""
expect "attached" schedctl -s /nonexistent wait at
expect "detach" schedctl -j --connect-timeout 2s det
expect "--json" schedctl --js
expect "--version" schedctl --vers
expect "--no-wait" schedctl attach --no
expect "--rollback" schedctl replace x --ro
expect "--seq" schedctl logs --se
expect "--timeout" schedctl wait attached --ti
expect "KILL" schedctl kill --signal K
expect "replace restart" schedctl help re
expect "" schedctl detach --grace ""
expect "" schedctl attach x -- ""
# The daemon is not there: no names, and not a word on the terminal.
expect "" "$schedctl" -s "$tmp/nothing.sock" attach ""

# Scheduler names and modes from a daemon's list.
mkdir -p "$tmp/scx" "$tmp/bin"
echo disabled >"$tmp/scx/state"
cp "$B/fake_sched" "$tmp/bin/scx_rusty"
cat >"$tmp/config.json" <<EOF
{"discover_path": "$tmp/bin",
 "schedulers": [
   {"name": "scx_simple", "path": "$B/fake_sched"},
   {"name": "scx_lavd", "path": "$B/fake_sched",
    "modes": {"powersave": ["--powersave"], "performance": ["--performance"]}}]}
EOF
socket_path=$tmp/run/schedlifed.sock
"$B/schedlifed" -c "$tmp/config.json" --run-dir "$tmp/run" --log-dir "$tmp/log" \
	--sched-ext-root "$tmp/scx" 2>"$tmp/daemon.log" &
daemon=$!
n=$((n + 1))
if "$B/schedctl" -q -s "$socket_path" --connect-timeout 10s status; then
	echo "ok $n - schedlifed answers"
	expect "scx_lavd scx_rusty scx_simple" "$schedctl" -s "$socket_path" attach ""
	expect "scx_lavd" "$schedctl" --socket "$socket_path" replace scx_l
	expect "scx_lavd scx_rusty scx_simple" "$schedctl" --socket = "$socket_path" -j attach ""
	SCHEDLIFED_SOCKET=$socket_path expect "scx_rusty" "$schedctl" attach scx_r
	expect "performance powersave" "$schedctl" -s "$socket_path" attach scx_lavd -m ""
	expect "powersave" "$schedctl" -s "$socket_path" replace scx_lavd --mode pow
	expect "" "$schedctl" -s "$socket_path" attach scx_simple -m ""
else
	echo "not ok $n - schedlifed answers"
	sed 's/^/# /' "$tmp/daemon.log"
	failed=$((failed + 1))
fi

echo "1..$n"
[ "$failed" -eq 0 ]
