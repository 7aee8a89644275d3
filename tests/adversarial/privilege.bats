#!/usr/bin/env bats
# Attacks on what the root daemon runs and opens for a local user: discovery of any
# program, log files planted through symlinks, a scheduler's descendants that leave its
# process group. Each test asserts the attack fails and the daemon holds.

bats_require_minimum_version 1.5.0

load helpers

setup() {
	world '"control": {"users": [65534]},'
	mkdir -p "$T/bin"
	start_daemon
}

teardown() {
	teardown_world
}

# A script in $T/bin that leaves $T/pwned-<name> behind when root runs it.
plant() {
	printf '#!/bin/sh\ntouch %s/pwned-%s\nexec sleep 1000\n' "$T" "$1" >"$T/bin/$1"
	chmod "${2:-0755}" "$T/bin/$1"
}

@test "discovery: an authorised user cannot make root run a program not named scx_*" {
	plant id
	run --separate-stderr as_nobody --json attach id
	[ "$status" -eq 7 ]
	[ "$(field .code)" = unknown_scheduler ]
	[[ "$(field .message)" == *scx_* ]]
	sleep 0.2
	[ ! -e "$T/pwned-id" ]
	daemon_holds
	# nor does list offer it
	run --separate-stderr ctl --json list
	[[ "$output" != *'"id"'* ]]
}

@test "discovery: an scx_* file that others may write, or not owned by root, is refused" {
	plant scx_groupw 0775
	plant scx_otherw 0757
	plant scx_nobodys 0755
	chown 65534 "$T/bin/scx_nobodys"
	for n in scx_groupw scx_otherw scx_nobodys; do
		run --separate-stderr as_nobody --json attach "$n"
		[ "$status" -eq 7 ]
		[ "$(field .code)" = unknown_scheduler ]
		[[ "$(field .message)" == *"$n"* ]]
		[[ "$(field .message)" == *root* ]]
	done
	sleep 0.2
	[ -z "$(ls "$T" | grep pwned)" ]
	run --separate-stderr ctl --json list
	[[ "$output" != *scx_groupw* ]]
	[[ "$output" != *scx_nobodys* ]]
	daemon_holds
}

@test "discovery: a directory on discover_path that others may write is not searched" {
	mkdir -p "$T/open"
	chmod 1777 "$T/open"
	printf '#!/bin/sh\ntouch %s/pwned-open\nexec sleep 1000\n' "$T" >"$T/open/scx_open"
	chmod 0755 "$T/open/scx_open"
	stop_daemon
	sed -i "s|\"discover_path\": \"$T/bin\"|\"discover_path\": \"$T/open:$T/bin\"|" "$CONFIG"
	start_daemon
	run --separate-stderr as_nobody --json attach scx_open
	[ "$status" -eq 7 ]
	[ "$(field .code)" = unknown_scheduler ]
	[[ "$(field .message)" == *"$T/open"* ]]
	sleep 0.2
	[ ! -e "$T/pwned-open" ]
	run --separate-stderr ctl --json list
	[[ "$output" != *scx_open* ]]
	daemon_holds
}

@test "discovery: a safe scx_* file is still attached" {
	printf '#!/bin/sh\nexec %s --root %s --ops scx_ok "$@"\n' "$FAKE" "$SCX" >"$T/bin/scx_ok"
	chmod 0755 "$T/bin/scx_ok"
	run --separate-stderr as_nobody --json attach scx_ok
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	daemon_holds "$pid"
	run --separate-stderr ctl --json list
	[[ "$output" == *scx_ok* ]]
}

# schedctl as a local user outside control.users and control.group.
as_stranger() {
	chmod 0755 "$T" "$T/run"
	setpriv --reuid=65533 --regid=65533 --clear-groups "$SCHEDCTL" -s "$SOCK" "$@"
}

@test "logs: a log dir that others may write is refused at start, with the reason" {
	stop_daemon
	chmod 0777 "$T/log"
	run timeout -k 5 5 "$SCHEDLIFED" -c "$CONFIG" -s "$SOCK" --run-dir "$T/run" --log-dir "$T/log" \
		--sched-ext-root "$SCX"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$T/log"* ]]
	[[ "$output" == *"writable by group or others"* ]]
	# a log dir owned by another user too
	chmod 0750 "$T/log"
	chown 65534 "$T/log"
	run timeout -k 5 5 "$SCHEDLIFED" -c "$CONFIG" -s "$SOCK" --run-dir "$T/run" --log-dir "$T/log" \
		--sched-ext-root "$SCX"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not owned by"* ]]
	# a missing one is made 0750
	rm -rf "$T/log"
	start_daemon
	[ "$(stat -c %a "$T/log")" = 750 ]
	daemon_holds
}

@test "logs: a planted symlink named as the next log is not followed when root writes it" {
	echo "victim" >"$T/victim"
	ln -s "$T/victim" "$T/log/fast.1.log"
	run --separate-stderr ctl --json attach fast
	[ "$status" -ne 0 ]
	[ "$(field .code)" = spawn_failed ]
	[ "$(cat "$T/victim")" = victim ]
	# a hard link to a file of root's is not written either
	rm "$T/log/fast.1.log"
	ln "$T/victim" "$T/log/fast.2.log"
	run --separate-stderr ctl --json attach fast
	[ "$status" -ne 0 ]
	[ "$(cat "$T/victim")" = victim ]
	daemon_holds
	# the next spawn with a clean name works
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 0 ]
	daemon_holds "$(ctl --json status | jget .pid)"
}

@test "logs: only files the daemon made are served, never a symlink or another's file" {
	echo "root secret" >"$T/secret"
	chmod 0600 "$T/secret"
	ln -s "$T/secret" "$T/log/fast.90.log"
	run --separate-stderr as_nobody --json logs --seq 90
	[[ "$output" != *"root secret"* ]]
	[ "$(field .code)" = bad_request ]
	run --separate-stderr ctl --json logs --seq 90
	[[ "$output" != *"root secret"* ]]
	# a file someone else owns is not served as a log either
	echo "not a log" >"$T/log/fast.91.log"
	chown 65534 "$T/log/fast.91.log"
	run --separate-stderr ctl --json logs --seq 91
	[[ "$output" != *"not a log"* ]]
	# nor followed
	run timeout -k 5 2 "$SCHEDCTL" -s "$SOCK" logs -f --seq 90
	[[ "$output" != *"root secret"* ]]
	daemon_holds
}

@test "logs: read over the socket only by those who may control" {
	ctl attach fast
	run --separate-stderr as_stranger --json logs
	[ "$status" -eq 6 ]
	[ "$(field .code)" = permission_denied ]
	run --separate-stderr as_nobody --json logs
	[ "$status" -eq 0 ]
	[ "$(field .seq)" = 1 ]
	run --separate-stderr ctl --json logs
	[ "$status" -eq 0 ]
	daemon_holds "$(ctl --json status | jget .pid)"
}

# ---- descendants that leave the process group (issue 11 item 13) ----

escaped_pids() {
	sed -n 's/^fake: escaped pid \([0-9][0-9]*\)$/\1/p' "$1"
}

two_escaped() {
	[ "$(escaped_pids "$1" | wc -l)" -eq 2 ]
}

all_gone() {
	local p
	for p in "$@"; do
		gone "$p" || return 1
	done
}

# The escaper: one child in its group, two descendants in sessions of their own.
with_escaper() {
	stop_daemon
	[ -z "${1:-}" ] || write_config "$1"
	add_scheduler "{\"name\": \"escaper\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"escaper\", \"--fork\", \"1\", \"--escape\", \"2\"], \"ops\": \"escaper\"}" \
		"{\"name\": \"escaper_fails\", \"path\": \"$FAKE\", \"args\": [\"--root\", \"$SCX\", \"--ops\", \"escaper_fails\", \"--never-enable\", \"--escape\", \"2\"], \"ops\": \"escaper_fails\", \"startup_timeout\": \"700ms\"}"
	start_daemon
}

cgroup_of() {
	sed -n 's/^0::\(.*\)$/\1/p' "/proc/$1/cgroup"
}

@test "tree: descendants that left the process group die on detach (own cgroup, cgroup.kill)" {
	with_escaper
	run --separate-stderr as_nobody --json attach escaper
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	log=$(ctl --json status | jget .log)
	eventually 3 two_escaped "$log"
	esc=$(escaped_pids "$log")
	run --separate-stderr ctl --json status
	[ "$(field .kill_scope)" = cgroup ]
	cg=$(field .cgroup)
	[ "$cg" != null ]
	for e in $esc; do
		alive "$e"
		[ "$(cgroup_of "$e")" = "$(cgroup_of "$pid")" ]
		[ "$(ps -o sid= -p "$e" | tr -d " ")" != "$pid" ]
	done
	daemon_holds "$pid"
	run --separate-stderr as_nobody --json detach
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2086
	eventually 2 all_gone $esc
	eventually 3 no_leftovers
	# the scheduler's cgroup is removed once empty
	[ ! -d "$cg" ]
	daemon_holds
}

@test "tree: descendants that left the process group die when the attach fails" {
	with_escaper
	run --separate-stderr as_nobody --json attach escaper_fails
	[ "$status" -ne 0 ]
	log=$(ls "$T"/log/escaper_fails.*.log)
	two_escaped "$log"
	# shellcheck disable=SC2086
	eventually 2 all_gone $(escaped_pids "$log")
	eventually 3 no_leftovers
	daemon_holds
}

@test "tree: with \"cgroup\": false the process group is the scope, and status says so" {
	with_escaper '"cgroup": false,'
	run --separate-stderr ctl --json attach escaper
	[ "$status" -eq 0 ]
	log=$(ctl --json status | jget .log)
	eventually 3 two_escaped "$log"
	run --separate-stderr ctl --json status
	[ "$(field .kill_scope)" = process_group ]
	[ "$(field .cgroup)" = null ]
	run --separate-stderr ctl status
	[[ "$output" == *"process group"* ]]
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	# the documented limit of the fallback: who left the group survives
	for e in $(escaped_pids "$log"); do alive "$e"; done
	daemon_holds
}

@test "tree: a re-adopted scheduler is still killed by its cgroup, escaped descendants too" {
	with_escaper
	ctl attach escaper
	pid=$(ctl --json status | jget .pid)
	log=$(ctl --json status | jget .log)
	cg=$(ctl --json status | jget .cgroup)
	eventually 3 two_escaped "$log"
	esc=$(escaped_pids "$log")
	crash_daemon
	grep -q "\"cgroup\":.*schedlife-" "$T/run/state.json"
	start_daemon
	run --separate-stderr ctl --json status
	[ "$(field .adopted)" = true ]
	[ "$(field .kill_scope)" = cgroup ]
	[ "$(field .cgroup)" = "$cg" ]
	daemon_holds "$pid"
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	# shellcheck disable=SC2086
	eventually 2 all_gone $esc
	[ ! -d "$cg" ]
	daemon_holds
}

@test "tree: a state.json naming a cgroup the scheduler is not in is not trusted" {
	with_escaper
	ctl attach escaper
	pid=$(ctl --json status | jget .pid)
	crash_daemon
	mkdir -p "$T/decoy"
	python3 - "$T/run/state.json" "$T/decoy" <<'PY'
import json, sys
with open(sys.argv[1]) as f:
    s = json.load(f)
s["cgroup"] = sys.argv[2] + "/schedlife-1-1"
with open(sys.argv[1], "w") as f:
    json.dump(s, f)
PY
	start_daemon
	run --separate-stderr ctl --json status
	[ "$(field .adopted)" = true ]
	[ "$(field .kill_scope)" = process_group ]
	grep -q "is not in cgroup $T/decoy/schedlife-1-1" "$T/daemon.log"
	daemon_holds "$pid"
}
