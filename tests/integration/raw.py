#!/usr/bin/env python3
"""Send raw request lines to a schedlifed socket; print each response line.

Usage: raw.py SOCKET LINE...   (a LINE of "@big:N" sends N bytes of 'x' with no newline
and reads the answer; "@wait:S" reads one line arriving within S seconds, or says
<timeout> or <closed>)
"""
import socket
import sys


def main():
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sys.argv[1])
    f = sock.makefile("rb")
    for line in sys.argv[2:]:
        if line.startswith("@big:"):
            n = int(line[5:])
            try:
                sock.sendall(b"x" * n)
            except (BrokenPipeError, ConnectionResetError):
                pass
            resp = f.readline()
            print(resp.decode().rstrip("\n") if resp else "<closed>")
            continue
        if line.startswith("@wait:"):
            sock.settimeout(float(line[6:]))
            try:
                resp = f.readline()
                print(resp.decode().rstrip("\n") if resp else "<closed>")
            except (socket.timeout, OSError):
                print("<timeout>")
            continue
        sock.sendall(line.encode() + b"\n")
        resp = f.readline()
        print(resp.decode().rstrip("\n") if resp else "<closed>")
    sock.close()


if __name__ == "__main__":
    main()
