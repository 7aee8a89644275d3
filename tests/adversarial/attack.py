#!/usr/bin/env python3
"""Hostile clients of a schedlifed socket, one attack per subcommand (issue 11).

Usage: attack.py SOCKET ATTACK [ARGS...]

  hangup-in-batch DPID SCHEDPID N   N subscribers; the daemon is stopped, the scheduler
                                    killed and the subscribers closed, then it goes on:
                                    one epoll batch holds the exit and the hang-ups
  timeout-in-batch DPID N           N waiters with a 300 ms timeout hang up in the batch
                                    in which their timeout fires
  idle-in-batch DPID N              N idle clients hang up in the batch in which their
                                    10 s idle deadline fires
  pipeline SECONDS                  send `list` requests for SECONDS, never read; print
                                    the bytes sent
  hold CMD N READY                  open N connections that send CMD (a JSON line, or
                                    "-" for nothing) and read its answer; touch READY
                                    and hold them until killed; print what they got
  halfclose REQUEST                 send REQUEST, shut down writing, print the answer
  flood N SECONDS                   open N connections, hold them SECONDS, close them,
                                    print how many connected
"""
import collections
import json
import os
import signal
import socket
import sys
import time


def connect(path, timeout=10):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_line(s):
    """The first line (what follows it on a stream is left unparsed)."""
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n")[0].decode(errors="replace").strip()


def in_one_batch(dpid, socks, before_close=None, delay=0.2):
    """Stop the daemon, run before_close, close socks, let the daemon go on."""
    os.kill(dpid, signal.SIGSTOP)
    try:
        if before_close is not None:
            before_close()
        time.sleep(delay)
        for s in socks:
            s.close()
    finally:
        os.kill(dpid, signal.SIGCONT)


def hangup_in_batch(path, dpid, schedpid, n):
    socks = []
    for _ in range(int(n)):
        s = connect(path)
        s.sendall(b'{"id":1,"cmd":"subscribe"}\n')
        assert '"ok":true' in read_line(s)
        socks.append(s)
    in_one_batch(int(dpid), socks, lambda: os.kill(int(schedpid), signal.SIGKILL))


def timeout_in_batch(path, dpid, n):
    socks = []
    for _ in range(int(n)):
        s = connect(path)
        s.sendall(b'{"id":1,"cmd":"wait","state":"attached","timeout_ms":300}\n')
        socks.append(s)
    time.sleep(0.05)
    in_one_batch(int(dpid), socks, delay=0.6)


def idle_in_batch(path, dpid, n):
    socks = [connect(path) for _ in range(int(n))]
    time.sleep(9.5)
    in_one_batch(int(dpid), socks, delay=1.0)


def pipeline(path, seconds):
    s = connect(path)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(0.5)
    chunk = b'{"cmd":"list"}\n' * 4096
    sent = 0
    end = time.monotonic() + float(seconds)
    while time.monotonic() < end:
        try:
            sent += s.send(chunk)
        except socket.timeout:
            continue  # the daemon stopped reading: keep pushing until the end
        except OSError:
            break  # dropped
    print(sent)
    sys.stdout.flush()
    # keep it open, unread, until killed
    time.sleep(3600)


def hold(path, cmd, n, ready):
    socks, got = [], collections.Counter()
    for _ in range(int(n)):
        try:
            s = connect(path, timeout=5)
        except OSError as e:
            got["connect: " + e.strerror] += 1
            continue
        socks.append(s)
        if cmd != "-":
            try:
                s.sendall(cmd.encode() + b"\n")
            except OSError:
                pass  # refused at once: its answer is still there to read
            try:
                line = read_line(s)
            except OSError:
                line = ""
            try:
                r = json.loads(line)
                got["ok" if r.get("ok") else r["error"]["code"]] += 1
            except (ValueError, KeyError, TypeError):
                got["closed" if not line else "garbage"] += 1
    print(json.dumps(got, sort_keys=True))
    sys.stdout.flush()
    open(ready, "w").close()
    time.sleep(3600)


def halfclose(path, request):
    s = connect(path)
    s.sendall(request.encode() + b"\n")
    s.shutdown(socket.SHUT_WR)
    print(read_line(s) or "<closed>")


def flood(path, n, seconds):
    socks = []
    for _ in range(int(n)):
        try:
            socks.append(connect(path, timeout=5))
        except OSError:
            break
    time.sleep(float(seconds))
    for s in socks:
        s.close()
    print(len(socks))


def main():
    path, attack, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    {
        "hangup-in-batch": hangup_in_batch,
        "timeout-in-batch": timeout_in_batch,
        "idle-in-batch": idle_in_batch,
        "pipeline": pipeline,
        "hold": hold,
        "halfclose": halfclose,
        "flood": flood,
    }[attack](path, *args)


if __name__ == "__main__":
    main()
