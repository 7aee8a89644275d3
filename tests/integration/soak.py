#!/usr/bin/env python3
"""Drive N lifecycle cycles over one connection and check every answer.

Each cycle: attach (alternating a sched_ext fake and a process), then detach or kill.
Usage: soak.py SOCKET N
"""
import json
import socket
import sys


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    f = sock.makefile("rb")
    n = int(sys.argv[2])
    ids = 0

    def call(req):
        nonlocal ids
        ids += 1
        req["id"] = ids
        sock.sendall(json.dumps(req).encode() + b"\n")
        r = json.loads(f.readline())
        assert r["id"] == ids, (req, r)
        return r

    for i in range(n):
        name = "quick" if i % 2 == 0 else "sleepy"
        r = call({"cmd": "attach", "name": name})
        assert r["ok"], (i, r)
        assert r["result"]["state"] == "attached" and r["result"]["scheduler"]["name"] == name, r
        pid = r["result"]["pid"]
        stop = "kill" if i % 3 == 0 else "detach"
        r = call({"cmd": stop, "grace_ms": 1000})
        assert r["ok"], (i, r)
        assert r["result"]["outcome"] == "sigterm_graceful", r
        assert r["result"]["pid"] == pid, r
        r = call({"cmd": "status"})
        assert r["ok"] and r["result"]["state"] == "detached", r
    print("cycles", n, "requests", ids)


if __name__ == "__main__":
    main()
