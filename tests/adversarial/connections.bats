#!/usr/bin/env bats
# Attacks on the control socket by any local user (issue 11, items 1-6): each runs
# against the real daemon, then the daemon must be alive, answer root within 100 ms,
# stay under its memory ceiling and still supervise its scheduler.

load helpers

teardown() { teardown_world; }

attack() {
	python3 "$TOP/tests/adversarial/attack.py" "$SOCK" "$@"
}

# The attack as nobody (uid and gid 65534), or as the uid in $AS_UID; exec'd, so that
# a background attack's pid is the attacker's own and teardown can stop it. Its files
# go to $T/adv.
attack_unprivileged() {
	local u=${AS_UID:-65534}
	chmod 0755 "$T" "$T/run"
	mkdir -p -m 0777 "$T/adv"
	exec setpriv --reuid="$u" --regid="$u" --clear-groups /usr/bin/python3 "$TOP/tests/adversarial/attack.py" "$SOCK" "$@"
}

# Run a holding attack in the background until it has touched its ready file; what it
# got is in $T/adv-NAME.out.
hold_unprivileged() { # name, attack args...
	local name=$1
	shift
	(attack_unprivileged hold "$@" "$T/adv/$name.ready") >"$T/adv-$name.out" 2>&1 &
	BG_PIDS+=($!)
	eventually 30 test -e "$T/adv/$name.ready"
}

# The count of one kind of answer in a hold's output.
held() { # name, kind
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$T/adv-$1.out" "$2"
}

# CPU milliseconds the daemon burns in $1 seconds.
cpu_over() {
	local a b
	a=$(daemon_cpu_ms)
	sleep "$1"
	b=$(daemon_cpu_ms)
	echo $((b - a))
}

inotify_instances() {
	find "/proc/$DPID/fd" -lname 'anon_inode:inotify' | wc -l
}

@test "item 1: subscribers that hang up in the batch of a scheduler exit cannot crash the daemon" {
	world
	start_daemon
	ctl attach fast
	pid=$(ctl --json status | jget .pid)
	attack hangup-in-batch "$DPID" "$pid" 40
	daemon_holds
	eventually 5 sh -c "[ \"\$('$SCHEDCTL' -s '$SOCK' --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"last_exit\"][\"pid\"])')\" = $pid ]"
	# and it supervises the next one
	ctl attach fast
	daemon_holds "$(ctl --json status | jget .pid)"
}

@test "item 1: waiters that hang up in the batch in which their timeout fires" {
	world
	start_daemon
	attack timeout-in-batch "$DPID" 40
	daemon_holds
}

@test "item 1: idle clients that hang up in the batch in which their deadline fires" {
	world
	start_daemon
	ctl attach fast
	pid=$(ctl --json status | jget .pid)
	attack idle-in-batch "$DPID" 40
	daemon_holds "$pid"
}

@test "item 2: a client that pipelines requests and never reads cannot grow the daemon" {
	world
	start_daemon
	ctl attach fast
	pid=$(ctl --json status | jget .pid)
	rss0=$(daemon_rss_kb)
	(attack_unprivileged pipeline 6) >"$T/pipeline.out" &
	BG_PIDS+=($!)
	sleep 7
	rss1=$(daemon_rss_kb)
	echo "rss $rss0 -> $rss1 KiB, sent $(cat "$T/pipeline.out") bytes"
	daemon_holds "$pid"
	# The ceiling: 64 KiB of input and at most limits.max_output_bytes (1 MiB) of output
	# per connection; 32 MiB leaves room for ASan's quarantine and allocator slack.
	[ "$((rss1 - rss0))" -lt 32768 ]
	# it was not answered more than its paused reading let in
	sent=$(head -1 "$T/pipeline.out")
	[ "$sent" -lt 4000000 ]
}

@test "item 3: 300 subscribe streams of one user lock out neither root nor other users" {
	world
	start_daemon
	ctl attach fast
	pid=$(ctl --json status | jget .pid)
	hold_unprivileged subs '{"id":1,"cmd":"subscribe"}' 300
	cat "$T/adv-subs.out"
	# one uid gets limits.max_connections_per_user (32), the rest get busy
	[ "$(held subs ok)" -eq 32 ]
	[ "$(held subs busy)" -eq 268 ]
	grep -q "too many connections from uid 65534" "$T/daemon.log"
	daemon_holds "$pid"
	# another unprivileged user still gets a connection
	run setpriv --reuid=65533 --regid=65533 --clear-groups /usr/bin/python3 "$TOP/tests/adversarial/probe.py" "$SOCK"
	[ "$status" -eq 0 ]
	# and root can act
	run ctl detach
	[ "$status" -eq 0 ]
}

@test "item 3: many users together leave the reserved connections to root and control users" {
	world '"limits": {"max_connections": 40, "reserved_connections": 8, "max_connections_per_user": 16},'
	start_daemon
	ctl attach fast
	pid=$(ctl --json status | jget .pid)
	for u in 65531 65532 65533; do
		AS_UID=$u hold_unprivileged "subs$u" '{"id":1,"cmd":"subscribe"}' 16
	done
	cat "$T"/adv-subs*.out
	# 40 - 8 reserved: the third user gets what is left of 32, no more
	ok=0
	for u in 65531 65532 65533; do
		ok=$((ok + $(held "subs$u" ok)))
	done
	[ "$ok" -eq 32 ]
	daemon_holds "$pid"
	run as_nobody status
	[ "$status" -eq 4 ] # busy: nobody is not a control user
	# a control user may take a reserved slot
	write_config '"limits": {"max_connections": 40, "reserved_connections": 8, "max_connections_per_user": 16}, "control": {"users": ["nobody"]},'
	kill -HUP "$DPID"
	eventually 5 grep -q reloaded "$T/daemon.log"
	run as_nobody status
	[ "$status" -eq 0 ]
	run as_nobody detach
	[ "$status" -eq 0 ]
}

@test "item 4: 200 log follows cost the daemon one inotify instance, and a user only a few" {
	world
	# logs are for those who may control (issue 11 item 8): the attacker is one of them
	write_config '"control": {"users": ["nobody"]},'
	start_daemon
	ctl attach moded -m loud
	pid=$(ctl --json status | jget .pid)
	before=$(inotify_instances)
	hold_unprivileged follows '{"id":1,"cmd":"logs","lines":0,"follow":true}' 200
	cat "$T/adv-follows.out"
	after=$(inotify_instances)
	echo "inotify instances: $before -> $after"
	[ "$after" -le "$((before + 1))" ]
	[ "$(held follows ok)" -eq 8 ]
	grep -q "too many log follows" "$T/daemon.log"
	daemon_holds "$pid"
	# followers of the same file share its watch and each gets every new line
	timeout -k 5 2 "$SCHEDCTL" -s "$SOCK" logs -f -n 0 >"$T/f1" &
	f1=$!
	timeout -k 5 2 "$SCHEDCTL" -s "$SOCK" logs -f -n 0 >"$T/f2" || true
	wait "$f1" || true
	grep -q tick "$T/f1"
	grep -q tick "$T/f2"
}

@test "item 5: a client that half-closes with its request pending does not spin the daemon" {
	world
	start_daemon
	attack halfclose '{"id":1,"cmd":"wait","state":"attached","timeout_ms":3000}' >"$T/half.out" &
	BG_PIDS+=($!)
	sleep 0.5
	cpu=$(cpu_over 2)
	echo "daemon CPU over 2 s: $cpu ms"
	[ "$cpu" -lt 500 ]
	wait "${BG_PIDS[0]}"
	BG_PIDS=()
	# it still gets its answer
	grep -q '"code":"timeout"' "$T/half.out"
	daemon_holds
}

@test "item 5: echo REQUEST | socat - UNIX-CONNECT:SOCK still gets its answer" {
	world
	start_daemon
	run attack halfclose '{"id":1,"cmd":"status"}'
	[[ "$output" == *'"ok":true'* ]]
	# also a lifecycle request, answered after it ran
	run attack halfclose '{"id":2,"cmd":"attach","name":"fast"}'
	[[ "$output" == *'"ok":true'* ]]
	[ "$(ctl --json status | jget .state)" = attached ]
}

@test "item 6: out of file descriptors, the daemon does not spin and accepts again later" {
	world
	VALGRIND="prlimit --nofile=64:64" start_daemon
	ctl attach fast
	pid=$(ctl --json status | jget .pid)
	attack flood 120 4 >"$T/flood.out" &
	BG_PIDS+=($!)
	sleep 1
	cpu=$(cpu_over 1.5)
	echo "daemon CPU over 1.5 s while out of fds: $cpu ms"
	[ "$cpu" -lt 400 ]
	wait "${BG_PIDS[0]}"
	BG_PIDS=()
	daemon_holds "$pid"
}
