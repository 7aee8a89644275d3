#!/usr/bin/env bats
# Lifecycle paths of SPEC section 3 through the real schedctl: attach, detach, kill,
# restart, replace, modes, extra args, state.json, --no-wait and wait.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	world
	start_daemon
}

teardown() {
	teardown_world
}

@test "version prints schedctl's and the daemon's version and protocol 1" {
	run --separate-stderr ctl version
	[ "$status" -eq 0 ]
	[[ "$output" == *schedctl* ]]
	[[ "$output" == *schedlifed* ]]
	run --separate-stderr ctl --json version
	[ "$status" -eq 0 ]
	[ "$(field .protocol)" = 2 ]
	[ -n "$(field .version)" ]
	[ "$(field .version)" != null ]
	# the raw hello says the same
	run raw '{"id":1,"cmd":"hello"}'
	[ "$status" -eq 0 ]
	[ "$(field .ok)" = true ]
	[ "$(field .result.protocol)" = 2 ]
}

@test "status when nothing is attached: detached, scheduler null, exit 0" {
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = detached ]
	[ "$(field .scheduler)" = null ]
	[ "$(field .pid)" = null ]
	[ "$(field .sched_ext.state)" = disabled ]
	run --separate-stderr ctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *detached* ]]
}

@test "list shows the config's entries with their kind and ops" {
	run --separate-stderr ctl --json list
	[ "$status" -eq 0 ]
	run python3 -c '
import json, sys
s = {e["name"]: e for e in json.loads(sys.argv[1])["schedulers"]}
for n in ("fast", "fast2", "slow", "never", "stubborn", "forker", "sleeper", "moded"):
    assert n in s, n
assert s["fast"]["kind"] == "sched_ext" and s["fast"]["ops"] == "fast", s["fast"]
assert s["sleeper"]["kind"] == "process", s["sleeper"]
assert s["fast"]["source"] == "config", s["fast"]
assert s["fast"]["path"].endswith("fake_sched"), s["fast"]
' "$output"
	[ "$status" -eq 0 ]
	run --separate-stderr ctl list
	[ "$status" -eq 0 ]
	[[ "$output" == *fast* ]]
	[[ "$output" == *sleeper* ]]
}

@test "attach fast: attached, pid alive, kernel enabled with ops fast, log fast.SEQ.log" {
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 0 ]
	[ "$(field .state)" = attached ]
	run --separate-stderr ctl --json status
	[ "$status" -eq 0 ]
	[ "$(field .state)" = attached ]
	[ "$(field .scheduler.name)" = fast ]
	[ "$(field .scheduler.kind)" = sched_ext ]
	pid=$(field .pid)
	seq=$(field .seq)
	[[ "$pid" =~ ^[0-9]+$ ]]
	[[ "$seq" =~ ^[0-9]+$ ]]
	alive "$pid"
	grep -q fake_sched "/proc/$pid/cmdline"
	[ "$(field .sched_ext.state)" = enabled ]
	[ "$(field .sched_ext.ops)" = fast ]
	[ "$(field .log)" = "$T/log/fast.$seq.log" ]
	[ -f "$T/log/fast.$seq.log" ]
	# the scheduler's own output goes straight into it
	eventually 2 grep -q "fake: pid $pid ops fast" "$T/log/fast.$seq.log"
	[ "$(kstate)" = enabled ]
	# human status names it and its pid
	run --separate-stderr ctl status
	[ "$status" -eq 0 ]
	[[ "$output" == *fast* ]]
	[[ "$output" == *"$pid"* ]]
}

@test "seq increases across attaches, each spawn with its own log" {
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 0 ]
	s1=$(field .seq)
	run ctl -q detach
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 0 ]
	s2=$(field .seq)
	[ "$s2" -gt "$s1" ]
	[ -f "$T/log/fast.$s1.log" ]
	[ -f "$T/log/fast.$s2.log" ]
	run ctl -q detach
	run --separate-stderr ctl --json attach fast2
	[ "$status" -eq 0 ]
	s3=$(field .seq)
	[ "$s3" -gt "$s2" ]
	[ -f "$T/log/fast2.$s3.log" ]
}

@test "attach while attached: exit 4 already_attached, the first one untouched" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json attach fast2
	[ "$status" -eq 4 ]
	[ "$(field .code)" = already_attached ]
	run --separate-stderr ctl --json status
	[ "$(field .pid)" = "$pid" ]
	[ "$(field .scheduler.name)" = fast ]
	alive "$pid"
}

@test "detach: exit 0, sigterm_graceful, detached, pid gone, kernel disabled" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	[ "$(field .outcome)" = sigterm_graceful ]
	[ "$(field .already_detached)" = false ]
	[ "$(field .exit.code)" = 0 ]
	# detach returns only once the process is reaped and the kernel let go
	gone "$pid"
	[ "$(kstate)" = disabled ]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	[ "$(field .pid)" = null ]
	[ "$(field .sched_ext.state)" = disabled ]
	eventually 3 no_leftovers
}

@test "detach when detached: exit 0, already_detached true" {
	run ctl -q attach fast
	run ctl -q detach
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	[ "$(field .already_detached)" = true ]
	# and also when nothing was ever attached (fresh daemon)
	stop_daemon
	start_daemon
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	[ "$(field .already_detached)" = true ]
}

@test "kill when nothing was ever attached: exit 4 not_attached" {
	run --separate-stderr ctl --json kill
	[ "$status" -eq 4 ]
	[ "$(field .code)" = not_attached ]
}

@test "restart when never attached: exit 4 not_attached" {
	run --separate-stderr ctl --json restart
	[ "$status" -eq 4 ]
	[ "$(field .code)" = not_attached ]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
}

@test "restart while attached: a new pid, the same name and args" {
	run ctl -q attach fast -- --print-every 1s
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json status
	old=$(field .pid)
	oldargs=$(field .scheduler.args)
	oldseq=$(field .seq)
	run --separate-stderr ctl --json restart
	[ "$status" -eq 0 ]
	[ "$(field .detached.pid)" = "$old" ]
	[ "$(field .detached.outcome)" = sigterm_graceful ]
	[ "$(field .attached.scheduler.name)" = fast ]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = attached ]
	[ "$(field .scheduler.name)" = fast ]
	[ "$(field .scheduler.args)" = "$oldargs" ]
	new=$(field .pid)
	[ "$new" != "$old" ]
	[ "$(field .seq)" -gt "$oldseq" ]
	alive "$new"
	gone "$old"
}

@test "restart after detach attaches the last scheduler again" {
	run ctl -q attach fast2
	[ "$status" -eq 0 ]
	run ctl -q detach
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json restart
	[ "$status" -eq 0 ]
	[ "$(field .attached.scheduler.name)" = fast2 ]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = attached ]
	[ "$(field .scheduler.name)" = fast2 ]
	alive "$(field .pid)"
}

@test "replace fast with fast2: ops with a version suffix matches, result has both halves" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	old=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json replace fast2
	[ "$status" -eq 0 ]
	[ "$(field .detached.outcome)" = sigterm_graceful ]
	[ "$(field .detached.pid)" = "$old" ]
	[ "$(field .attached.scheduler.name)" = fast2 ]
	[ "$(field .attached.state)" = attached ]
	[ "$(field .rolled_back)" = false ]
	gone "$old"
	run --separate-stderr ctl --json status
	[ "$(field .scheduler.name)" = fast2 ]
	[ "$(field .sched_ext.ops)" = fast2_1.0.3 ]
	[ "$(field .sched_ext.state)" = enabled ]
	alive "$(field .pid)"
}

@test "replace with an unknown name: exit 7, the current scheduler is not killed" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json replace nosuchsched
	[ "$status" -eq 7 ]
	[ "$(field .code)" = unknown_scheduler ]
	alive "$pid"
	run --separate-stderr ctl --json status
	[ "$(field .state)" = attached ]
	[ "$(field .pid)" = "$pid" ]
	[ "$(field .scheduler.name)" = fast ]
	# same for an invalid name and an unknown mode
	run ctl -q replace 'bad name!'
	[ "$status" -eq 7 ]
	run ctl -q replace moded -m nosuchmode
	[ "$status" -ne 0 ]
	alive "$pid"
	[ "$(ctl --json status | jget .pid)" = "$pid" ]
}

@test "replace --rollback to failload: exit 1, rolled_back true, fast attached again" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	old=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json replace --rollback failload
	[ "$status" -eq 1 ]
	[ "$(field .code)" = startup_died ]
	[ "$(field .rolled_back)" = true ]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = attached ]
	[ "$(field .scheduler.name)" = fast ]
	new=$(field .pid)
	[ "$new" != "$old" ]
	alive "$new"
	[ "$(field .sched_ext.ops)" = fast ]
}

@test "replace without --rollback to failload: exit 1, slot left detached" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	old=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json replace failload
	[ "$status" -eq 1 ]
	[ "$(field .code)" = startup_died ]
	gone "$old"
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
}

@test "attach with a mode adds the mode's args" {
	run --separate-stderr ctl --json attach moded -m loud
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json status
	[ "$(field .scheduler.name)" = moded ]
	[[ "$(field .scheduler.args)" == *'"--print-every", "100ms"'* ]]
	pid=$(field .pid)
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '--print-every 100ms'
	seq=$(field .seq)
	eventually 3 grep -q '^tick ' "$T/log/moded.$seq.log"
}

@test "attach with an unknown mode fails and attaches nothing" {
	run --separate-stderr ctl --json attach moded -m nosuchmode
	[ "$status" -ne 0 ]
	[ "$status" -ne 4 ]
	[[ "$(field .message)" == *nosuchmode* ]]
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	no_leftovers
}

@test "attach with extra args after -- (root caller): they follow the configured ones" {
	run --separate-stderr ctl --json attach fast -- --print-every 50ms
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json status
	run python3 -c '
import json, sys
a = json.loads(sys.argv[1])["scheduler"]["args"]
assert a[-2:] == ["--print-every", "50ms"], a
assert a[:2] == ["--root", sys.argv[2]], a
' "$output" "$SCX"
	[ "$status" -eq 0 ]
}

@test "state.json exists, is valid JSON and carries the current pid while attached" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	[ -f "$T/run/state.json" ]
	run python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$T/run/state.json"
	[ "$status" -eq 0 ]
	[ "$(jget .pid <"$T/run/state.json")" = "$pid" ]
	# after a restart it carries the new pid
	run ctl -q restart
	[ "$status" -eq 0 ]
	pid2=$(ctl --json status | jget .pid)
	[ "$pid2" != "$pid" ]
	[ "$(jget .pid <"$T/run/state.json")" = "$pid2" ]
	# and no pid once detached
	run ctl -q detach
	[ "$(jget .pid <"$T/run/state.json")" != "$pid2" ]
}

@test "attach --no-wait slow answers while starting, then wait attached succeeds" {
	t0=$(now_ms)
	run --separate-stderr ctl --json attach --no-wait slow
	t1=$(now_ms)
	[ "$status" -eq 0 ]
	[ "$(field .state)" = starting ]
	# slow enables after 1 s: --no-wait must not wait for it
	[ $((t1 - t0)) -lt 800 ]
	run --separate-stderr ctl --json wait attached --timeout 5s
	[ "$status" -eq 0 ]
	[ "$(field .state)" = attached ]
	[ "$(field .scheduler.name)" = slow ]
	[ "$(field .sched_ext.state)" = enabled ]
}

@test "wait detached --timeout 200ms while attached: exit 5 timeout" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	t0=$(now_ms)
	run --separate-stderr ctl --json wait detached --timeout 200ms
	t1=$(now_ms)
	[ "$status" -eq 5 ]
	[ "$(field .code)" = timeout ]
	[ $((t1 - t0)) -ge 150 ]
	[ $((t1 - t0)) -lt 3000 ]
	# wait for what already holds returns at once
	run ctl -q wait attached --timeout 200ms
	[ "$status" -eq 0 ]
}

@test "human detach output: NAME (pid P) exited after SIGTERM" {
	run ctl -q attach fast
	[ "$status" -eq 0 ]
	pid=$(ctl --json status | jget .pid)
	run --separate-stderr ctl detach
	[ "$status" -eq 0 ]
	[[ "$output" == *"fast (pid $pid) exited after SIGTERM"* ]]
	run --separate-stderr ctl -q detach
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "after attach --no-wait: another attach is already_attached, detach stops it" {
	run --separate-stderr ctl --json attach --no-wait slow
	[ "$status" -eq 0 ]
	[ "$(field .state)" = starting ]
	pid=$(field .pid)
	run --separate-stderr ctl --json attach fast
	[ "$status" -eq 4 ]
	[ "$(field .code)" = already_attached ]
	run --separate-stderr ctl --json detach
	[ "$status" -eq 0 ]
	[ "$(field .already_detached)" = false ]
	gone "$pid"
	run --separate-stderr ctl --json status
	[ "$(field .state)" = detached ]
	eventually 3 no_leftovers
	eventually 3 kernel_disabled
}

@test "replace when detached just attaches; replace passes its extra args" {
	run --separate-stderr ctl --json replace fast -- --print-every 1s
	[ "$status" -eq 0 ]
	[ "$(field .detached.already_detached)" = true ]
	[ "$(field .attached.scheduler.name)" = fast ]
	[[ "$(field .attached.scheduler.args)" == *'"--print-every", "1s"]' ]]
	run --separate-stderr ctl --json replace moded -m loud
	[ "$status" -eq 0 ]
	[ "$(field .attached.scheduler.mode)" = loud ]
	run --separate-stderr ctl --json status
	[ "$(field .scheduler.name)" = moded ]
	[[ "$(field .scheduler.args)" == *'"--print-every", "100ms"'* ]]
}

@test "restart keeps the mode" {
	run ctl -q attach moded -m loud
	[ "$status" -eq 0 ]
	old=$(ctl --json status | jget .pid)
	run --separate-stderr ctl --json restart
	[ "$status" -eq 0 ]
	run --separate-stderr ctl --json status
	[ "$(field .scheduler.name)" = moded ]
	[ "$(field .scheduler.mode)" = loud ]
	[ "$(field .pid)" != "$old" ]
	pid=$(field .pid)
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- '--print-every 100ms'
}
