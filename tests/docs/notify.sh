#!/usr/bin/env bash
# The systemd readiness protocol: a datagram socket of the test's own stands in for
# systemd's. READY=1 must come once the control socket already answers. TAP.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=$(cd "${BUILD_DIR:-build}" && pwd) || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

check() { # description, command...
	local desc=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $desc"
	else
		echo "not ok $n - $desc"
		failed=$((failed + 1))
	fi
}
fact() { grep -qx "$1" "$2"; } # line, facts file

# The stand-in for systemd: bind NOTIFY_SOCKET, start the daemon with it, and the moment a
# datagram with READY=1 comes, ask the daemon for its status; then SIGTERM it. It writes
# what it saw as key=value lines, and the datagrams and daemon log as comments.
# Arguments: notify address (a path, or @name for the abstract namespace), work dir.
cat >"$tmp/systemd.py" <<'EOF'
import os, signal, socket, subprocess, sys, time

addr, work = sys.argv[1], sys.argv[2]
build = os.environ["B"]
sock = os.path.join(work, "run", "schedlifed.sock")
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind("\0" + addr[1:] if addr.startswith("@") else addr)
listener.settimeout(10)

env = dict(os.environ, NOTIFY_SOCKET=addr)
log = open(os.path.join(work, "daemon.log"), "w")
daemon = subprocess.Popen(
    [os.path.join(build, "schedlifed"), "-c", os.path.join(work, "none.json"),
     "--run-dir", os.path.join(work, "run"), "--log-dir", os.path.join(work, "log"),
     "--sched-ext-root", os.path.join(work, "scx")],
    env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

facts = []
ready = False
try:
    while not ready:
        data = listener.recv(4096).decode(errors="replace")
        print("# datagram: " + " ".join(data.split()))
        ready = "READY=1" in data.split("\n")
except socket.timeout:
    pass
if ready:
    facts.append("ready=1")
    # At this moment, with no retry, the control socket must answer.
    status = subprocess.run([os.path.join(build, "schedctl"), "-s", sock, "status"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    facts.append("status_rc=%d" % status.returncode)
    for line in status.stdout.splitlines():
        print("# status: " + line)
facts.append("alive=%d" % (daemon.poll() is None))
daemon.send_signal(signal.SIGTERM)
try:
    facts.append("exit=%d" % daemon.wait(timeout=10))
except subprocess.TimeoutExpired:
    daemon.kill()
    daemon.wait()
    facts.append("exit=timeout")
listener.close()
print("\n".join(facts))
EOF

notify_run() { # work dir name, notify address
	local work=$tmp/$1 facts=$tmp/$1/facts
	mkdir -p "$work/scx"
	echo disabled >"$work/scx/state"
	if ! B=$B python3 "$tmp/systemd.py" "$2" "$work" >"$facts"; then
		echo "# the stand-in for systemd failed"
	fi
	grep '^#' "$facts"
	check "$1: READY=1 arrives on NOTIFY_SOCKET" fact ready=1 "$facts"
	check "$1: the control socket answers status when READY=1 arrives" fact status_rc=0 "$facts"
	check "$1: the daemon is still running after READY=1" fact alive=1 "$facts"
	check "$1: SIGTERM stops the daemon with status 0" fact exit=0 "$facts"
	if grep -qx 'exit=[^0].*' "$facts" && [ -s "$work/daemon.log" ]; then
		sed 's/^/# daemon: /' "$work/daemon.log"
	fi
}

notify_run path "$tmp/notify.sock"
notify_run abstract "@schedlife-test-$$-notify"

echo "1..$n"
[ "$failed" -eq 0 ]
