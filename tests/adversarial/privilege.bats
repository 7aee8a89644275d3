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
