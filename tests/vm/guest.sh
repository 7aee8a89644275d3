#!/bin/busybox sh
# The guest's /init for the real-kernel tier (tests/vm/run): the real schedlifed and
# schedctl against the kernel's own /sys/kernel/sched_ext and its example schedulers.
# Speaks TAP on the console, ends with "N passed, N failed", then the last case makes the
# daemon PID 1 with on_exit "reboot" and kills the scheduler: the guest must go down.
# shellcheck shell=dash
# shellcheck disable=SC3043 # busybox sh has local

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /var/log /sbin /usr/sbin /usr/bin
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
mount -t debugfs none /sys/kernel/debug 2>/dev/null
mount -t tracefs none /sys/kernel/tracing 2>/dev/null
echo 1 >/proc/sys/kernel/sysrq
cp /tests/boot-config "/boot/config-$(uname -r)" 2>/dev/null

SCX=/sys/kernel/sched_ext
CONF=/etc/schedlifed/schedlifed.json
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
check() { # description, then a command: ok when it succeeds
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
diag() { echo "$*" | sed 's/^/# /'; }
bench() { [ -n "$2" ] && echo "vmtest-bench $1 $2"; } # key, value in ms
ms() { vmtool ms; }

# The first "KEY":value of a one-line JSON document (top-level fields come first).
jfield() { grep -o "\"$1\":\(\"[^\"]*\"\|[^,}]*\)" | head -1 | sed "s/^\"$1\"://; s/^\"//; s/\"$//"; }
kstate() { cat $SCX/state; }
kops() { cat $SCX/root/ops 2>/dev/null; }
status_json() { schedctl --json status; }
slot() { status_json | jfield state; }
cur_pid() { status_json | jfield pid; }
# Wait up to $2 tenths of a second for a command to succeed.
eventually() {
	local i=0 lim=$1
	shift
	while ! "$@"; do
		i=$((i + 1))
		[ "$i" -ge "$lim" ] && return 1
		sleep 0.1
	done
}
kernel_is() { [ "$(kstate)" = "$1" ]; }
# An event $1 after line $2 of the events log (0: any).
has_event() { tail -n +"$((${2:-0} + 1))" /tmp/events.log | grep -q "\"event\":\"$1\""; }
# The stamp (monotonic ms) of the newest event $1 after line count $2 of the events log.
event_ms_after() { tail -n +"$(($2 + 1))" /tmp/events.log | grep "\"event\":\"$1\"" | head -1 | cut -d' ' -f1; }
ev_lines() { wc -l </tmp/events.log; }

write_config() { # on_exit action
	mkdir -p /etc/schedlifed
	cat >$CONF <<EOF
{
  "defaults": {"grace": "5s", "startup_timeout": "60s", "disable_timeout": "5s"},
  "on_exit": {"action": "$1"},
  "restart": {"delay": "200ms", "burst": 3, "window": "1m"},
  "schedulers": [
    {"name": "simple", "path": "/usr/bin/scx_simple", "ops": "simple"},
    {"name": "flatcg", "path": "/usr/bin/scx_flatcg", "ops": "flatcg"},
    {"name": "central", "path": "/usr/bin/scx_central", "ops": "central"},
    {"name": "badcpu", "path": "/usr/bin/scx_central", "args": ["-c", "99"], "ops": "central"},
    {"name": "stubborn", "path": "/usr/bin/vmtool", "args": ["blockterm", "/usr/bin/scx_simple"],
     "ops": "simple", "kill_mode": "group"}
  ]
}
EOF
}

start_daemon() {
	schedlifed 2>>/tmp/daemon.log &
	DPID=$!
	schedctl -q --connect-timeout 20s status
}
events_start() {
	schedctl --json events 2>/dev/null | vmtool stamp >>/tmp/events.log &
	sleep 0.3
}

echo "vmtest: guest up, kernel $(uname -r)"
vmtool uevents >/tmp/uevents.log 2>&1 &
: >/tmp/events.log

# ---- the kernel as found ----
check "the kernel has sched_ext, state disabled at boot" kernel_is disabled
diag "sysfs: $(cd $SCX && echo *)"

write_config none
check "schedlifed starts with its default paths" start_daemon
events_start

# ---- attach, status, detach ----
vmtool time /tmp/t.attach schedctl --json attach simple >/tmp/out 2>&1
rc=$?
check "attach simple: exit 0 ($(head -c 300 /tmp/out))" [ "$rc" = 0 ]
bench attach "$(cat /tmp/t.attach)"
bench attach_daemon_elapsed "$(jfield elapsed_ms </tmp/out)"
check "after attach the kernel says enabled" kernel_is enabled
echo "vmtest-fact root/ops=[$(kops)] state=[$(kstate)] enable_seq=$(cat $SCX/enable_seq)"
check "root/ops reads exactly \"simple\"" [ "$(kops)" = simple ]
status_json >/tmp/st
diag "$(cat /tmp/st)"
check "status --json: attached, scheduler simple, not foreign" \
	sh -c 'grep -q "\"state\":\"attached\"" /tmp/st && grep -q "\"foreign\":false" /tmp/st && grep -q "\"ops\":\"simple\"" /tmp/st'
sleep 1.5
check "logs: the scheduler's own output" sh -c 'schedctl logs | grep -q "local="'

vmtool time /tmp/t.detach schedctl --json detach >/tmp/out 2>&1
rc=$?
check "detach: exit 0 and the kernel already says disabled" sh -c "[ $rc = 0 ] && [ \"\$(cat $SCX/state)\" = disabled ]"
check "detach: root/ is gone" [ ! -e $SCX/root ]
bench detach "$(cat /tmp/t.detach)"
check "events: attached then detached" sh -c 'grep -q "\"event\":\"attached\"" /tmp/events.log && grep -q "\"event\":\"detached\"" /tmp/events.log'

# ---- replace, rollback, restart ----
schedctl -q attach simple
schedctl --json replace flatcg >/tmp/out 2>&1
rc=$?
check "replace simple -> flatcg: exit 0, root/ops flatcg" sh -c "[ $rc = 0 ] && [ \"\$(cat $SCX/root/ops)\" = flatcg ]"
schedctl --json replace badcpu --rollback >/tmp/out 2>&1
rc=$?
diag "$(head -c 400 /tmp/out)"
check "replace to a scheduler that fails to load, --rollback: fails, rolled_back true" \
	sh -c "[ $rc != 0 ] && grep -q '\"rolled_back\":true' /tmp/out"
check "after the rollback flatcg is attached and loaded" \
	sh -c "[ \"\$(cat $SCX/root/ops)\" = flatcg ] && schedctl --json status | grep -q '\"state\":\"attached\"'"
p1=$(cur_pid)
schedctl --json restart >/tmp/out 2>&1
rc=$?
p2=$(cur_pid)
check "restart: exit 0, a new pid ($p1 -> $p2), flatcg enabled again" \
	sh -c "[ $rc = 0 ] && [ '$p1' != '$p2' ] && [ \"\$(cat $SCX/state)\" = enabled ]"
schedctl -q detach

# ---- kill --grace ----
schedctl -q attach simple
schedctl --json kill --grace 2s >/tmp/out 2>&1
diag "$(head -c 300 /tmp/out)"
check "kill --grace 2s, exits on SIGTERM: sigterm_graceful" grep -q '"outcome":"sigterm_graceful"' /tmp/out
check "and the kernel goes back to disabled" eventually 50 kernel_is disabled
schedctl -q attach stubborn
schedctl --json kill --grace 2s >/tmp/out 2>&1
diag "$(head -c 300 /tmp/out)"
check "kill --grace 2s, TERM blocked (kill_mode group): sigkill_escalation" grep -q '"outcome":"sigkill_escalation"' /tmp/out
check "and the kernel goes back to disabled" eventually 50 kernel_is disabled

# ---- the scheduler dies from outside; on_exit restart ----
write_config restart
kill -HUP "$DPID"
sleep 0.5
schedctl -q attach simple
p1=$(cur_pid)
before=$(ev_lines)
removes=$(grep -c 'remove@/kernel/sched_ext' /tmp/uevents.log)
t0=$(ms)
kill -KILL "$p1"
eventually 100 has_event exited "$before"
t1=$(event_ms_after exited "$before")
[ -n "$t1" ] && bench death_to_exited "$((t1 - t0))"
check "SIGKILL from outside: exited event" [ -n "$t1" ]
check "last_exit says signal 9" sh -c 'schedctl --json status | grep -q "\"signal\":9"'
check "the kernel let go of it (a remove uevent)" \
	eventually 50 sh -c "[ \$(grep -c 'remove@/kernel/sched_ext' /tmp/uevents.log) -gt $removes ]"
check "on_exit restart brings it back with a new pid" \
	sh -c "i=0; while [ \$i -lt 150 ]; do p=\$(schedctl --json status | grep -o '\"pid\":[0-9]*' | head -1 | cut -d: -f2); [ -n \"\$p\" ] && [ \"\$p\" != $p1 ] && [ \"\$(cat $SCX/state)\" = enabled ] && exit 0; i=\$((i+1)); sleep 0.2; done; exit 1"
write_config none
kill -HUP "$DPID"
sleep 0.5

# ---- the kernel ejects it: SysRq-S ----
p1=$(cur_pid)
before=$(ev_lines)
t0=$(ms)
echo S >/proc/sysrq-trigger
eventually 100 has_event sched_ext_disabled "$before"
td=$(event_ms_after sched_ext_disabled "$before")
eventually 100 has_event exited "$before"
te=$(event_ms_after exited "$before")
[ -n "$td" ] && bench sysrq_to_sched_ext_disabled "$((td - t0))"
[ -n "$te" ] && bench sysrq_to_exited "$((te - t0))"
diag "$(tail -n +$((before + 1)) /tmp/events.log)"
check "SysRq-S: sched_ext_disabled event while the process lives" [ -n "$td" ]
check "SysRq-S: the scheduler then exits on its own (exited event)" [ -n "$te" ]
check "SysRq-S: last_exit.reason is the scheduler's EXIT line" \
	sh -c 'schedctl --json status | grep -q "\"reason\":\"disabled by sysrq-S\""'
diag "last_exit: $(schedctl --json status | grep -o '"last_exit":.*' | head -c 300)"
check "SysRq-S: the kernel says disabled" kernel_is disabled

# ---- a scheduler started by hand; a normal detach first (kernel_lagging) ----
schedctl -q attach simple
schedctl -q detach
t=$(vmtool spawn-wait /usr/bin/scx_simple 2>/tmp/handpid)
bench by_hand_enable "$t"
hand=$(cat /tmp/handpid)
status_json >/tmp/st
diag "$(cat /tmp/st)"
check "a scheduler started by hand after a detach: status foreign true" grep -q '"foreign":true' /tmp/st
vmtool time /tmp/t.busy schedctl --json attach flatcg >/tmp/out 2>&1
rc=$?
diag "$(head -c 300 /tmp/out) in $(cat /tmp/t.busy) ms"
check "attach while it runs: exit 4 sched_ext_busy naming simple, at once (< 2 s)" \
	sh -c "[ $rc = 4 ] && grep -q sched_ext_busy /tmp/out && grep -q simple /tmp/out && [ $(cat /tmp/t.busy) -lt 2000 ]"
kill -TERM "$hand"
eventually 50 kernel_is disabled
check "the foreign one gone: status foreign false" sh -c 'schedctl --json status | grep -q "\"foreign\":false"'

# ---- CPU hotplug: the same pid re-enables itself ----
if [ -w /sys/devices/system/cpu/cpu1/online ]; then
	schedctl -q attach simple
	p1=$(cur_pid)
	seq1=$(cat $SCX/enable_seq)
	before=$(ev_lines)
	echo 0 >/sys/devices/system/cpu/cpu1/online
	eventually 100 sh -c "tail -n +$((before + 1)) /tmp/events.log | grep -q sched_ext_enabled"
	diag "$(tail -n +$((before + 1)) /tmp/events.log)"
	echo 1 >/sys/devices/system/cpu/cpu1/online
	eventually 100 sh -c "[ \"\$(cat $SCX/state)\" = enabled ]"
	check "hotplug: sched_ext_disabled then sched_ext_enabled, same pid" \
		sh -c "tail -n +$((before + 1)) /tmp/events.log | grep -q sched_ext_disabled && tail -n +$((before + 1)) /tmp/events.log | grep -q sched_ext_enabled && [ \"$p1\" = \"\$(schedctl --json status | grep -o '\"pid\":[0-9]*' | head -1 | cut -d: -f2)\" ]"
	echo "vmtest-fact enable_seq $seq1 -> $(cat $SCX/enable_seq) across one offline+online"
	check "hotplug: no exited event" sh -c "! tail -n +$((before + 1)) /tmp/events.log | grep -q '\"event\":\"exited\"'"
	schedctl -q detach
fi

# ---- wait ----
schedctl wait attached --timeout 120s >/tmp/wait.out 2>&1 &
wp=$!
sleep 0.3
schedctl -q attach simple
wait "$wp"
check "wait attached returns 0 once attach is done" [ $? = 0 ]

# ---- the daemon SIGKILLed and restarted with a scheduler running ----
p1=$(cur_pid)
kill -KILL "$DPID"
wait "$DPID" 2>/dev/null
start_daemon
status_json >/tmp/st
check "restarted daemon re-adopts pid $p1" sh -c "grep -q '\"adopted\":true' /tmp/st && grep -q '\"pid\":$p1' /tmp/st"
schedctl --json detach >/tmp/out 2>&1
rc=$?
check "the re-adopted scheduler is still detachable, kernel disabled" \
	sh -c "[ $rc = 0 ] && [ \"\$(cat $SCX/state)\" = disabled ]"

# ---- SIGTERM to the daemon detaches ----
schedctl -q attach simple
kill -TERM "$DPID"
wait "$DPID"
check "SIGTERM to the daemon: exit 0 and the scheduler detached" kernel_is disabled

# ---- timings, alternating: attach -> ready and detach -> disabled through the daemon,
# against the same scheduler started by hand and polled every 1 ms ----
start_daemon
for i in 1 2 3 4 5; do
	vmtool time /tmp/t.a schedctl -q attach simple
	vmtool time /tmp/t.d schedctl -q detach
	t=$(vmtool spawn-wait /usr/bin/scx_simple 2>/tmp/handpid)
	d=$(vmtool term-wait "$(cat /tmp/handpid)")
	bench attach "$(cat /tmp/t.a)"
	bench by_hand_enable "$t"
	bench detach "$(cat /tmp/t.d)"
	bench by_hand_term_to_disabled "$d"
done
events_start
for i in 1 2 3; do
	schedctl -q attach simple
	before=$(ev_lines)
	t0=$(ms)
	kill -KILL "$(cur_pid)"
	eventually 100 has_event exited "$before"
	t1=$(event_ms_after exited "$before")
	[ -n "$t1" ] && bench death_to_exited "$((t1 - t0))"
	eventually 50 kernel_is disabled
	schedctl -q attach simple
	before=$(ev_lines)
	t0=$(ms)
	echo S >/proc/sysrq-trigger
	eventually 100 has_event exited "$before"
	td=$(event_ms_after sched_ext_disabled "$before")
	te=$(event_ms_after exited "$before")
	[ -n "$td" ] && bench sysrq_to_sched_ext_disabled "$((td - t0))"
	[ -n "$te" ] && bench sysrq_to_exited "$((te - t0))"
done
kill -TERM "$DPID"
wait "$DPID"

echo "vmtest-log daemon:"
sed 's/^/vmtest-log   /' /tmp/daemon.log | tail -80
echo "vmtest-log uevents:"
sed 's/^/vmtest-log   /' /tmp/uevents.log | grep -v 'SUBSYSTEM=\(mem\|vc\|tty\|block\|bdi\|misc\)' | head -60
echo "vmtest-log kmsg:"
dmesg | grep -i 'sched_ext\|sysrq' | sed 's/^/vmtest-log   /'

echo "$n passed-before-reboot"
echo "$((n - failed)) passed, $failed failed (guest, before the reboot case)"

# ---- on_exit reboot, the daemon as PID 1 ----
write_config reboot
(
	schedctl -q --connect-timeout 20s wait attached --timeout 300s
	sleep 1
	echo "vmtest: killing the scheduler, expecting the guest to reboot"
	kill -KILL "$(schedctl --json status | grep -o '"pid":[0-9]*' | head -1 | cut -d: -f2)"
	sleep 60
	echo "vmtest: no reboot 60 s after the scheduler died"
	poweroff -f
) &
exec schedlifed --attach simple
