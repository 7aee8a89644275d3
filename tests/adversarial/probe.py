#!/usr/bin/env python3
"""Connect to a schedlifed socket, ask for status, print the milliseconds it took
(connect included). Exit 1 with a message when there is no valid answer in 5 s.

Usage: probe.py SOCKET
"""
import json
import socket
import sys
import time


def main():
    t0 = time.monotonic()
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(sys.argv[1])
        s.sendall(b'{"id":1,"cmd":"status"}\n')
        line = s.makefile("rb").readline()
    except OSError as e:
        print(f"no answer: {e}")
        return 1
    ms = int((time.monotonic() - t0) * 1000)
    try:
        resp = json.loads(line)
    except ValueError:
        print(f"not JSON: {line[:200]!r}")
        return 1
    if not resp.get("ok"):
        print(f"refused: {resp.get('error')}")
        return 1
    print(ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
