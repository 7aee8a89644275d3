#!/usr/bin/env python3
"""The man pages' EXAMPLES, taken from the page sources and run as printed.

A page is the contract a user reads (issue 14): each literal block and each .Dl line of
an EXAMPLES section is run against the real schedlifed and schedctl, from outside,
through the CLI and the socket only, and what the page shows is compared with what the
program does: JSON by shape (the same keys, the same types, the same values for the
fields a script branches on), commands by exit status and by what the text around the
example says they do. Every example must have a check here: a page that gains one
without a check, or whose example no longer matches the program, fails.

Usage: examples.py [BUILD_DIR]      (TAP on stdout)
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
B = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BUILD_DIR", "build"))
FAKE = os.path.join(B, "fake_sched")

# Fields whose values, not only their types, must be as the page shows them.
EXACT = {"state", "outcome", "code", "event", "kind", "ok", "signal", "signal_name",
         "protocol", "mode", "foreign", "adopted", "gave_up", "kernel_state"}


# ---- pages ----

def roff(line):
    """The text of a line of mdoc literal text, as the reader sees it."""
    line = line.replace("\\(dq", '"').replace("\\-", "-").replace("\\&", "")
    return line.replace("\\e", "\\")


def examples(page):
    """The EXAMPLES section's blocks: a list of lists of lines."""
    blocks, cur, inside = [], None, False
    with open(os.path.join(TOP, "man", page)) as f:
        for line in f.read().splitlines():
            if line.startswith(".Sh "):
                inside = line == ".Sh EXAMPLES"
                continue
            if not inside:
                continue
            if line.startswith(".Bd -literal"):
                cur = []
            elif line == ".Ed":
                blocks.append(cur)
                cur = None
            elif cur is not None:
                cur.append(roff(line))
            elif line.startswith(".Dl "):
                blocks.append([roff(line[4:])])
    return blocks


def commands(block):
    """The commands of a block of "$ " and "# " lines, continuations joined."""
    out, cur = [], None
    for line in block:
        if cur is not None:
            cur += " " + line.strip()
        elif line.startswith(("$ ", "# ")):
            cur = line[2:]
        else:
            continue
        if cur.endswith("\\"):
            cur = cur[:-1].rstrip()
        elif cur.endswith("|"):
            pass
        else:
            out.append(cur)
            cur = None
    return out


def json_lines(lines):
    """JSON documents shown wrapped over lines (a continuation starts with a blank)."""
    docs, cur = [], ""
    for line in lines:
        if line.startswith(" ") and cur:
            cur += line.strip()
        else:
            if cur:
                docs.append(cur)
            cur = line.strip()
    if cur:
        docs.append(cur)
    return [json.loads(d) for d in docs]


def shape_diff(want, got, path="$"):
    """Where got's shape differs from the page's want: a message, or None."""
    tw, tg = type(want).__name__, type(got).__name__
    if isinstance(want, (int, float)) and isinstance(got, (int, float)) and \
            not isinstance(want, bool) and not isinstance(got, bool):
        return None
    if want is None or got is None:
        return None if want is got else "%s: page shows %s, program gives %s" % (
            path, json.dumps(want), json.dumps(got)[:80])
    if tw != tg:
        return "%s: page shows a %s, program gives a %s" % (path, tw, tg)
    if isinstance(want, dict):
        if want.keys() != got.keys():
            return "%s: page shows keys %s, program gives %s" % (
                path, sorted(want), sorted(got))
        for k in want:
            if k in EXACT and not isinstance(want[k], (dict, list)) and want[k] != got[k]:
                return "%s.%s: page shows %s, program gives %s" % (
                    path, k, json.dumps(want[k]), json.dumps(got[k]))
            d = shape_diff(want[k], got[k], path + "." + k)
            if d:
                return d
    if isinstance(want, list) and want and got:
        return shape_diff(want[0], got[0], path + "[0]")
    return None


# ---- a world: a fake kernel, schedulers, a daemon ----

class World:
    def __init__(self, config=None):
        self.t = tempfile.mkdtemp(prefix="schedlife-examples.")
        os.chmod(self.t, 0o755)
        self.scx, self.bin = self.p("scx"), self.p("bin")
        self.sock, self.dpid, self.bg = self.p("run/schedlifed.sock"), None, []
        for d in ("scx", "bin", "run", "log", "cwd", "results"):
            os.makedirs(self.p(d))
        self.write("scx/state", "disabled\n")
        self.write("scx/enable_seq", "0\n")
        # Schedulers under the names the pages use: each records its argv, then is the
        # fake (which takes none of their options).
        for name, ops in (("scx_lavd", "lavd_1.0.6"), ("scx_simple", "simple"),
                          ("scx_rusty", "rusty"), ("scx_rustland", "rustland")):
            self.write("bin/" + name, '#!/bin/sh\nprintf "%%s\\n" "$0 $*" >>%s\n'
                       'extra=$(cat %s 2>/dev/null)\n'
                       'exec %s --root %s --ops %s --print-every 200ms $extra\n' % (
                           self.p("argv"), self.p("extra." + name), FAKE, self.scx, ops),
                       0o755)
        self.write("bin/sched-alert", "#!/bin/sh\nexit 0\n", 0o755)
        os.symlink(os.path.join(B, "schedctl"), self.p("bin/schedctl"))
        # schedlifed as the pages call it, but on this world's places.
        self.write("bin/schedlifed", '#!/bin/sh\nexec %s -c %s -s %s --run-dir %s '
                   '--log-dir %s --sched-ext-root %s "$@"\n' % (
                       os.path.join(B, "schedlifed"), self.p("config.json"), self.sock,
                       self.p("run"), self.p("log"), self.scx), 0o755)
        self.config(config or {})
        self.env = dict(os.environ, PATH=self.bin + ":" + os.environ.get("PATH", ""),
                        SCHEDLIFED_SOCKET=self.sock)

    def p(self, rel):
        return os.path.join(self.t, rel)

    def write(self, rel, text, mode=0o644):
        with open(self.p(rel), "w") as f:
            f.write(text)
        os.chmod(self.p(rel), mode)

    def config(self, extra):
        base = {"defaults": {"ready_after": "100ms", "startup_timeout": "5s",
                             "grace": "2s", "disable_timeout": "3s"},
                "schedulers": [
                    {"name": "scx_lavd", "path": self.p("bin/scx_lavd"), "ops": "lavd",
                     "modes": {"powersave": ["--powersave"]}},
                    {"name": "scx_simple", "path": self.p("bin/scx_simple"), "ops": "simple"},
                    {"name": "scx_rusty", "path": self.p("bin/scx_rusty"), "ops": "rusty"}]}
        base.update(extra)
        self.write("config.json", json.dumps(base))

    def page_config(self, text):
        """A configuration from a page, its programs replaced by this world's."""
        for prog in ("/usr/bin/scx_lavd", "/mnt/scx/target/release/scx_lavd"):
            text = text.replace(prog, self.p("bin/scx_lavd"))
        text = text.replace("/usr/bin/scx_simple", self.p("bin/scx_simple"))
        return text.replace("/usr/local/libexec/sched-alert", self.p("bin/sched-alert"))

    def subst(self, cmd):
        return (cmd.replace("/run/schedlifed/schedlifed.sock", self.sock)
                .replace("/tmp/sl", self.p("sl")).replace("/mnt/results", self.p("results")))

    def start(self, *args):
        self.daemon = subprocess.Popen([self.p("bin/schedlifed")] + list(args),
                                       stderr=open(self.p("daemon.log"), "a"), env=self.env)
        self.ctl("-q", "--connect-timeout", "10s", "status", check=True)

    def ctl(self, *args, check=False):
        r = subprocess.run([self.p("bin/schedctl"), "-s", self.sock] + list(args),
                           capture_output=True, text=True, env=self.env, timeout=30)
        if check and r.returncode != 0:
            raise Failed("schedctl %s: exit %d: %s" % (" ".join(args), r.returncode,
                                                       r.stderr.strip()))
        return r

    def status(self):
        return json.loads(self.ctl("--json", "status", check=True).stdout)

    def sh(self, cmd, timeout=30, cwd=None):
        """Run a page's command as a person would, in sh: (status, stdout, stderr)."""
        # Files, not pipes: a daemon the command leaves in the background keeps them.
        with open(self.p("sh.out"), "w+") as out, open(self.p("sh.err"), "w+") as err:
            r = subprocess.run(["sh", "-c", self.subst(cmd)], stdout=out, stderr=err,
                               env=self.env, timeout=timeout, cwd=cwd or self.p("cwd"))
            out.seek(0)
            err.seek(0)
            return r.returncode, out.read(), err.read()

    def stream(self, cmd, seconds, during=None):
        """A command that streams until stopped: its output after `seconds`."""
        p = subprocess.Popen(["sh", "-c", "exec " + self.subst(cmd)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=self.env)
        time.sleep(0.3)
        if during:
            during()
        time.sleep(seconds)
        p.terminate()
        out, err = p.communicate(timeout=10)
        return out, err

    def request(self, *lines):
        """Send request lines on one connection; the response lines (and the rest)."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        s.settimeout(10)
        s.sendall("".join(l + "\n" for l in lines).encode())
        self.conn = s
        f = s.makefile("rb")
        self.reader = f
        return [json.loads(f.readline()) for _ in lines]

    def read_event(self, timeout=10):
        self.conn.settimeout(timeout)
        return json.loads(self.reader.readline())

    def wait_for(self, pred, seconds=10):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if pred():
                return True
            time.sleep(0.05)
        return pred()

    def close(self):
        for p in self.bg:
            p.kill()
            p.wait()
        if getattr(self, "daemon", None) and self.daemon.poll() is None:
            self.daemon.terminate()
            self.daemon.wait(timeout=20)
        subprocess.run(["pkill", "-KILL", "-f", "--", "--root " + self.scx])
        time.sleep(0.1)
        shutil.rmtree(self.t, ignore_errors=True)


class Failed(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Failed(what)


def expect_shape(want, got, what):
    d = shape_diff(want, got)
    if d:
        raise Failed("%s: %s" % (what, d))


def run_ok(w, cmd, **kw):
    st, out, err = w.sh(cmd, **kw)
    expect(st == 0, "%r exited %d: %s" % (cmd, st, (err or out).strip()[:300]))
    return out


def last_argv(w):
    with open(w.p("argv")) as f:
        return f.read().splitlines()[-1]


# ---- schedctl(1) ----

def schedctl_show(w, block):
    w.start()
    expect(commands(block) == ["schedctl status", "schedctl list"], "the example changed")
    for c in commands(block):
        out = run_ok(w, c)
        expect(out.strip(), "%r printed nothing" % c)


def schedctl_attach_mode(w, block):
    w.start()
    [c] = commands(block)
    run_ok(w, c)
    # "in its powersave mode, with one extra argument"
    expect(last_argv(w) == w.p("bin/scx_lavd") + " --powersave --verbose",
           "ran %r" % last_argv(w))
    expect(w.status()["scheduler"]["mode"] == "powersave", "mode is not powersave")


def schedctl_replace(w, block):
    w.start()
    w.ctl("attach", "scx_simple", check=True)
    [c] = commands(block)
    run_ok(w, c)
    expect(w.status()["scheduler"]["name"] == "scx_rusty", "scx_rusty is not attached")
    # "going back to the current scheduler if scx_rusty does not come up"
    w.write("extra.scx_rusty", "--fail-load\n")
    st, _, err = w.sh(c.replace("scx_rusty", "scx_simple"))
    expect(st == 0, "replace to scx_simple failed: %s" % err)
    st, _, err = w.sh(c)
    expect(st != 0, "a replace to a scheduler that fails to load succeeded")
    expect("rolled back" in err, "no word of the rollback: %r" % err)
    expect(w.status()["scheduler"]["name"] == "scx_simple", "not rolled back to scx_simple")


def schedctl_detach_check(w, block):
    w.start()
    w.ctl("attach", "scx_simple", check=True)
    detach, check = commands(block)
    run_ok(w, detach)
    # "check from a script that the kernel is back to its default scheduler"
    out = run_ok(w, check)
    expect(out == "disabled\n", "the jq line printed %r" % out)


def schedctl_last_exit(w, block):
    w.start()
    jq, follow = commands(block)
    w.ctl("attach", "scx_simple", check=True)
    pid = w.status()["pid"]
    os.kill(pid, 9)
    expect(w.ctl("wait", "detached", "--timeout", "5s").returncode == 0, "not detached")
    # "Read why the last scheduler died"
    got = json.loads(run_ok(w, jq))
    expect(got.get("exit") is not None, "the jq line shows no exit: %r" % got)
    expect(got["exit"].get("signal") == 9, "the exit is not SIGKILL: %r" % got)
    # "and follow the current one's log"
    w.ctl("attach", "scx_simple", check=True)
    out, err = w.stream(follow, 1.0)
    expect(len(out.splitlines()) >= 3, "logs -f followed %d lines: %r" % (
        len(out.splitlines()), err))


def schedctl_events(w, block):
    w.start()
    [c] = commands(block)
    out, err = w.stream(c, 0.5, during=lambda: w.ctl("attach", "scx_simple", check=True))
    events = [json.loads(l) for l in out.splitlines()]
    expect([e["event"] for e in events] == ["attached"], "events: %r %r" % (out, err))


def schedctl_boot_script(w, block):
    # The daemon attaches the configuration's boot scheduler; this world's schedlifed
    # runs on its own places. The daemon is started by the script itself.
    w.config({"boot": "scx_simple"})
    script = "run_workload() { schedctl -q status; }\n" + "\n".join(block) + "\n"
    w.write("boot.sh", script)
    st, out, err = w.sh("dash " + w.p("boot.sh"), timeout=60)
    expect(st == 0, "the script exited %d: %s" % (st, err.strip()))
    expect(w.status()["state"] == "detached", "the script's detach did not happen")
    expect(w.ctl("--json", "status").returncode == 0, "the daemon did not stay up")
    w.sh("pkill -TERM -f -- '-c %s'" % w.p("config.json"))


# ---- schedlife-protocol(7) ----

def protocol_socat(w, block):
    w.start()
    w.ctl("attach", "scx_lavd", "-m", "powersave", check=True)
    cmd = " ".join(commands(block))
    out_lines = block[2:]
    st, out, err = w.sh(cmd)
    expect(st == 0, "socat failed: %s" % err)
    want = json_lines(out_lines)
    got = [json.loads(l) for l in out.splitlines()]
    expect(len(got) == len(want), "%d answers, the page shows %d" % (len(got), len(want)))
    for i, (a, b) in enumerate(zip(want, got)):
        expect_shape(a, b, "answer %d" % (i + 1))


def protocol_kill(w, block):
    w.start()
    w.ctl("attach", "scx_lavd", check=True)
    req, want = block[0], json_lines(block[1:])[0]
    got = w.request(req)[0]
    expect_shape(want, got, "kill")


def protocol_busy(w, block):
    w.start()
    p = subprocess.Popen([w.p("bin/scx_rustland")], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    w.bg.append(p)
    expect(w.wait_for(lambda: open(w.p("scx/state")).read().strip() == "enabled"),
           "the foreign scheduler did not enable")
    req, want = block[0], json_lines(block[1:])[0]
    got = w.request(req)[0]
    expect_shape(want, got, "attach")
    expect(got["error"]["message"] == want["error"]["message"],
           "message %r, the page shows %r" % (got["error"]["message"],
                                              want["error"]["message"]))


def protocol_subscribe(w, block):
    # "ejected by the kernel and restarted": a scheduler that stops on its own with an
    # EXIT: line, and a restart policy.
    w.config({"on_exit": {"action": "restart"}, "restart": {"delay": "500ms"}})
    w.start()
    w.write("extra.scx_lavd", "--exit-after 1s --exit-code 0 --exit-reason "
            "runnable_task_stall\n")
    w.ctl("attach", "scx_lavd", check=True)
    os.unlink(w.p("extra.scx_lavd"))
    shown = json_lines(block)
    req, events = block[0], shown[2:]
    got = w.request(req)[0]
    expect_shape(shown[1], got, "subscribe's answer")
    for want in events:
        e = w.read_event()
        expect_shape(want, e, "event %s" % want["event"])


# ---- schedlifed(8) ----

def schedlifed_check_config(w, block):
    [c] = commands(block)
    conf = examples("schedlifed.json.5")[0]
    w.write("cwd/schedlifed.json", w.page_config("\n".join(conf)))
    run_ok(w, c.replace("schedlifed", os.path.join(B, "schedlifed"), 1))
    w.write("cwd/schedlifed.json", '{"grace": "abc"}')
    st, _, err = w.sh(c.replace("schedlifed", os.path.join(B, "schedlifed"), 1))
    expect(st != 0 and "grace" in err, "a bad config passed --check-config: %r" % err)


def schedlifed_fake_root(w, block):
    # As a person types it: each line in turn, the daemon from the PATH as installed.
    env = dict(w.env, PATH=B + ":" + os.environ["PATH"])
    del env["SCHEDLIFED_SOCKET"]
    daemon = None
    try:
        for c in commands(block):
            c = w.subst(c)
            if c.endswith("&"):
                daemon = subprocess.Popen(["sh", "-c", "exec " + c[:-1]], env=env,
                                          stderr=subprocess.DEVNULL)
                time.sleep(0.5)
                continue
            r = subprocess.run(["sh", "-c", c], env=env, capture_output=True, text=True,
                               timeout=30)
            expect(r.returncode == 0, "%r exited %d: %s" % (c, r.returncode, r.stderr))
        expect("state:" in r.stdout and "detached" in r.stdout, "status said %r" % r.stdout)
    finally:
        if daemon:
            daemon.terminate()
            daemon.wait(timeout=20)


def schedlifed_unit(w, block):
    with open(os.path.join(TOP, "dist/schedlifed.service")) as f:
        unit = f.read().replace("@SBINDIR@", "/usr/local/sbin").splitlines()
    for line in block:
        expect(line in unit, "%r is not in dist/schedlifed.service" % line)


def schedlifed_guest(w, block):
    os.makedirs(w.p("results/sched"))
    script = "\n".join(block).replace("\\\n", "")
    w.write("guest.sh", w.subst(script) + "\n")
    st, out, err = w.sh("sh " + w.p("guest.sh"), timeout=60)
    expect(st == 0, "the guest lines exited %d: %s" % (st, err))
    s = w.status()
    expect(s["state"] == "attached" and s["scheduler"]["name"] == "scx_lavd", "not attached")
    expect(s["log"].startswith(w.p("results/sched/")), "the log is at %s" % s["log"])
    expect(os.path.getsize(w.p("results/schedlifed.log")) > 0, "the daemon logged nothing")
    w.sh("pkill -TERM -f -- '-c %s'" % w.p("config.json"))


# ---- schedlifed.json(5) ----

def json_desktop(w, block):
    w.write("config.json", w.page_config("\n".join(block)))
    r = subprocess.run([os.path.join(B, "schedlifed"), "--check-config", "-c",
                        w.p("config.json")], capture_output=True, text=True)
    expect(r.returncode == 0, "--check-config: %s" % r.stderr)
    w.start()
    # "scx_lavd from boot"
    expect(w.wait_for(lambda: w.status()["state"] == "attached"), "boot did not attach")
    w.ctl("detach", check=True)
    # "With it, schedctl attach scx_lavd -m powersave runs /usr/bin/scx_lavd --powersave."
    w.ctl("attach", "scx_lavd", "-m", "powersave", check=True)
    expect(last_argv(w) == w.p("bin/scx_lavd") + " --powersave", "ran %r" % last_argv(w))


def json_guest(w, block):
    w.write("cwd/guest.json", w.page_config("\n".join(block)))
    daemon = os.path.join(B, "schedlifed")
    r = subprocess.run([daemon, "--check-config", "-c", w.p("cwd/guest.json")],
                       capture_output=True, text=True)
    # "The daemon must be process 1 or be started with --allow-reboot"
    expect(r.returncode != 0 and "reboot" in r.stderr, "reboot accepted without the flag")


def json_check_either(w, block):
    conf = examples("schedlifed.json.5")[1]
    w.write("cwd/guest.json", w.page_config("\n".join(conf)))
    [c] = commands(block)
    run_ok(w, c.replace("schedlifed", os.path.join(B, "schedlifed"), 1))


CHECKS = {
    "schedctl.1": [schedctl_show, schedctl_attach_mode, schedctl_replace,
                   schedctl_detach_check, schedctl_last_exit, schedctl_events,
                   schedctl_boot_script],
    "schedlife-protocol.7": [protocol_socat, protocol_kill, protocol_busy, protocol_subscribe],
    "schedlifed.8": [schedlifed_check_config, schedlifed_fake_root, schedlifed_unit,
                     schedlifed_guest],
    "schedlifed.json.5": [json_desktop, json_guest, json_check_either],
}


def main():
    n = failed = 0
    for page in sorted(os.listdir(os.path.join(TOP, "man"))):
        blocks = examples(page)
        checks = CHECKS.get(page, [])
        for i, block in enumerate(blocks):
            n += 1
            what = "%s example %d: %s" % (page, i + 1, (block[0] if block else "")[:60])
            if i >= len(checks):
                print("not ok %d - %s has no check in %s" % (n, what, __file__))
                failed += 1
                continue
            w = World()
            try:
                checks[i](w, block)
                print("ok %d - %s" % (n, what))
            except (Failed, AssertionError, ValueError, KeyError, OSError,
                    subprocess.SubprocessError) as e:
                failed += 1
                print("not ok %d - %s" % (n, what))
                for line in ("%s: %s" % (type(e).__name__, e)).splitlines():
                    print("# " + line)
                try:
                    with open(w.p("daemon.log")) as f:
                        for line in f.read().splitlines()[-5:]:
                            print("# daemon: " + line)
                except OSError:
                    pass
            finally:
                w.close()
        if len(checks) > len(blocks):
            n += 1
            failed += 1
            print("not ok %d - %s lost %d examples that had checks" % (
                n, page, len(checks) - len(blocks)))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
