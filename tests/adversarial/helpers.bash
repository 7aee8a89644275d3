# Shared set-up for the adversarial tier: each test attacks the real daemon (the ASan
# build under `make check`) the way a hostile local user would, then asks the questions
# of issue 11: is the daemon alive, does it answer root at once, is its memory bounded,
# and is the scheduler still supervised?
# shellcheck shell=bash

load ../integration/helpers

# The daemon's resident set in KiB.
daemon_rss_kb() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$DPID/status"
}

# Milliseconds of the daemon's CPU time (user + system) so far.
daemon_cpu_ms() {
	local t
	read -r -a t <"/proc/$DPID/stat"
	# fields 14 and 15 (utime, stime) in clock ticks; the comm field has no spaces here
	echo $(((t[13] + t[14]) * 1000 / $(getconf CLK_TCK)))
}

# Root asks for status on a fresh connection and gets its answer within $1 ms
# (default 100). Three tries: a single slow answer on a loaded 2-core CI machine is not
# a lockout, three in a row are.
root_answers() {
	local limit=${1:-100} ms
	for _ in 1 2 3; do
		ms=$(python3 "$TOP/tests/adversarial/probe.py" "$SOCK") || {
			echo "root_answers: $ms" >&2
			return 1
		}
		[ "$ms" -lt "$limit" ] && return 0
		echo "root_answers: status took $ms ms (limit $limit)" >&2
	done
	return 1
}

# The daemon is alive, answers root at once, and (if given) still supervises pid $1.
daemon_holds() {
	# (a crashed daemon is a zombie until the test reaps it: kill -0 alone says alive)
	{ alive "$DPID" && ! gone "$DPID"; } || {
		echo "daemon died:" >&2
		cat "$T/daemon.log" >&2
		return 1
	}
	root_answers 100 || return 1
	if [ -n "${1:-}" ]; then
		[ "$(ctl --json status | jget .pid)" = "$1" ] || {
			echo "daemon lost scheduler pid $1" >&2
			return 1
		}
	fi
}
