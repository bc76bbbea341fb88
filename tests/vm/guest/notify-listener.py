#!/usr/bin/python3
# notify-listener.py SOCKET LOG: stand in for systemd's NOTIFY_SOCKET and log
# each sd_notify datagram as one line.
import os
import socket
import sys

path, log = sys.argv[1], sys.argv[2]
if os.path.exists(path):
    os.unlink(path)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
with open(log, "a", buffering=1) as f:
    while True:
        msg = s.recv(4096).decode(errors="replace")
        for line in msg.splitlines():
            f.write(line + "\n")
