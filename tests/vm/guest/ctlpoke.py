#!/usr/bin/env python3
"""Misbehaving control-socket clients for the guest tests.

ctlpoke.py hangup N       send N status requests, each closed before its reply
ctlpoke.py trickle N      open N connections and send a request one byte a
                          second on each; print OPEN N, then CLOSED K after S
                          when the daemon has closed K of them (12 s at most)
ctlpoke.py watch STOPFILE a status request every 20 ms, each timed from the
                          connect to the reply's last byte, until STOPFILE
                          exists (60 s at most): WORST ms=N of K
"""
import os
import socket
import struct
import sys
import time

PATH = "/run/daxrdmad/ctl.sock"
MAGIC = 0x4C435844


def request(args):
    payload = b"".join(a.encode() + b"\0" for a in args)
    return struct.pack("<IHHII", MAGIC, 1, 0, len(payload), 0) + payload


def hangup(n):
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(PATH)
        s.sendall(request(["layouts"]))
        s.close()
    print("SENT", n, flush=True)


def closed_by_peer(s):
    try:
        return s.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def trickle(n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(PATH)
        socks.append(s)
    print("OPEN", n, flush=True)
    req = request(["status"])
    t0 = time.time()
    closed = set()
    i = 0
    while time.time() - t0 < 12 and len(closed) < n:
        for k, s in enumerate(socks):
            if k in closed:
                continue
            if closed_by_peer(s):
                closed.add(k)
                continue
            try:
                if i < len(req):
                    s.send(req[i:i + 1])
            except OSError:
                closed.add(k)
        i += 1
        time.sleep(1 if len(closed) < n else 0)
    print("CLOSED", len(closed), "after", round(time.time() - t0, 1), flush=True)


def answer_ms(req):
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(PATH)
    s.sendall(req)
    hdr = b""
    while len(hdr) < 16:
        hdr += s.recv(16 - len(hdr))
    left = struct.unpack("<IiII", hdr)[2]
    while left:
        left -= len(s.recv(left))
    s.close()
    return (time.monotonic() - t0) * 1000


def watch(stopfile):
    req = request(["status"])
    worst, k, t0 = 0.0, 0, time.monotonic()
    while not os.path.exists(stopfile) and time.monotonic() - t0 < 60:
        worst = max(worst, answer_ms(req))
        k += 1
        time.sleep(0.02)
    print("WORST ms=%d of %d" % (round(worst), k), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "watch":
        watch(sys.argv[2])
    else:
        {"hangup": hangup, "trickle": trickle}[sys.argv[1]](int(sys.argv[2]))
