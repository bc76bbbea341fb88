#!/usr/bin/env python3
"""Seed stories for fuzz_client_session (fuzz_client_session.c's steps of
three bytes: what, a, b). Usage: client-session-seeds.py CORPUS_DIR"""
import os
import sys

OPEN, CLOSE, LGET, WRITE, READ, COMMIT, SETSIZE, RETURN, PROCESS, RECONNECT, CONNECT, ALLOC = range(12)
CB = 12  # a: 0 return, 1 defer, 2 close its file, 3 return another layout
RECALL, FRECALL, BYE, CMEV, STALL, RELEASE, REPLACE, FLOOD, RECALL_NEXT, REFUSE = range(15, 25)
RENAME, REMOVE = 25, 26  # a: file slot; RENAME's b: the new name (a, b, c)

CREATE = 4

def s(*steps):
    return bytes(b for st in steps for b in st)

base = [(OPEN, 0, CREATE | 0), (ALLOC, 0, 7), (LGET, 0, 0x08)]  # file a, 8 pages, RW layout of 2 pages
stories = {
    "write-commit-read": s(*base, (WRITE, 0, 5), (COMMIT, 0, 5), (READ, 0, 5), (RETURN, 0, 0), (CLOSE, 0, 0)),
    "recall-answered": s(*base, (WRITE, 0, 1), (RECALL, 0, 0), (PROCESS, 0, 0), (WRITE, 0, 1)),
    "file-recall-deferred": s((CB, 1, 0), *base, (FRECALL, 0, 0), (PROCESS, 0, 0), (RETURN, 0, 0)),
    "callback-closes-the-file": s((CB, 2, 0), *base, (LGET, 0, 0x02), (FRECALL, 0, 0), (PROCESS, 0, 0)),
    "callback-returns-another": s((CB, 3, 0), *base, (LGET, 0, 0x02), (FRECALL, 0, 0), (PROCESS, 0, 0)),
    "stall-then-another-write": s(*base, (OPEN, 1, CREATE | 1), (ALLOC, 1, 7), (LGET, 1, 0x08),
                                  (STALL, 1, 0), (WRITE, 0, 0), (STALL, 0, 0), (WRITE, 1, 0), (RELEASE, 0, 0)),
    "relayout-recall-behind-the-grant": s(*base, (RECALL, 0, 0), (RECALL_NEXT, 1, 0), (WRITE, 0, 0), (PROCESS, 0, 0)),
    "device-removal-then-connect": s(*base, (CMEV, 0, 0), (PROCESS, 0, 0), (CONNECT, 0, 0), (OPEN, 1, CREATE | 1),
                                     (SETSIZE, 0, 0)),
    "failed-reconnect-then-connect": s(*base, (CMEV, 1, 0), (PROCESS, 0, 0), (REFUSE, 1, 0), (RECONNECT, 0, 0),
                                       (REFUSE, 0, 0), (CONNECT, 0, 0), (OPEN, 1, CREATE | 1), (SETSIZE, 0, 0)),
    "disconnect-then-reconnect": s(*base, (CMEV, 1, 0), (PROCESS, 0, 0), (REPLACE, 0, 0), (RECONNECT, 0, 0),
                                   (OPEN, 1, CREATE | 1)),
    # found by the fuzzer: the recall callback, run by the write itself
    # (usable()), closes the file the write is on
    "callback-closes-the-file-being-written": s((CB, 2, 0), *base, (FRECALL, 0, 0), (WRITE, 0, 1)),
    # more messages than the client has receives posted: the rest wait (RNR)
    "recalls-beyond-the-receives": s(*base, *[(RECALL, 0, 0)] * 25, (PROCESS, 0, 0)),
    # put's way: a new file beside, renamed over the old one; the handle of
    # the old one keeps it; a reconnect opens the new one by its new name
    "rename-over-then-reconnect": s(*base, (OPEN, 1, CREATE | 1), (ALLOC, 1, 7), (RENAME, 1, 0),
                                    (WRITE, 0, 1), (CMEV, 1, 0), (PROCESS, 0, 0), (REPLACE, 0, 0),
                                    (RECONNECT, 0, 0), (REMOVE, 1, 0), (SETSIZE, 0, 0)),
    "bye-and-flood": s(*base, (FLOOD, 60, 0), (PROCESS, 0, 0), (PROCESS, 0, 0), (BYE, 0, 0), (PROCESS, 0, 0)),
}
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, data in stories.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
