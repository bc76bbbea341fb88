#!/usr/bin/env python3
"""Write fuzz_session's seed corpus: a few ordinary stories, each a step
list in the target's input format (fuzz_session.c, step()), and its
dictionary, one entry per kind of step. The fuzzer mutates and splices
them; none of them breaks an invariant.

    tests/fuzz/session-seeds.py tests/fuzz/corpus/fuzz_session tests/fuzz/fuzz_session.dict
"""
import os
import sys

# the first byte: bit 0 recall_timeout 600 ms (else 200), bits 1-2
# lease-break-time 2 + n % 3 s, bit 3 keepalive, bit 4 pinned (else bounce)
BOUNCE_3S = 0b00010
PINNED_4S = 0b10101

def op(kind, client=0):
    return [(client << 4) | kind]

def end(disconnect=0):
    return [disconnect]  # after every step

def connect(k=0):
    return op(0, k) + [0] + end()

def client_op(k, sub, *args):
    return op(1 + sub // 2, k) + [sub % 2] + list(args) + end()

def hello(k=0, credits=4, features=1):
    return client_op(k, 0, credits, features)

def open_(k=0, name=0, flags=1):  # flags: 1 RW, 2 CREATE, 4 TRUNC, 8 EXCL
    return client_op(k, 1, flags | (name << 4))

def allocate(k=0, fh=0, off=0, length=0, setsize=0):
    return client_op(k, 2, fh, off & 255, off >> 8, length & 255, length >> 8, setsize)

def layout_get(k=0, fh=0, page=0, pages=1, rw=1):
    return client_op(k, 3, fh, page, pages - 1, rw)

def layout_return(k=0, which=0, clean=0):
    return client_op(k, 4, which, clean)

def commit(k=0, which=0, off512=0, len512=8):
    return client_op(k, 5, which, off512 & 255, off512 >> 8, len512 & 255, len512 >> 8)

def close(k=0, fh=0):
    return client_op(k, 6, fh)

def answer_recalls(k=0, all_=1, clean=0):
    return op(6, k) + [all_ | clean << 1] + end()

def local(name=0, what=3):
    return op(10) + [name, what] + end()

def admin_recall(name=0):
    return op(12) + [name, 0] + end()

def clock(steps):  # CLOCK_STEP_MS each
    return op(13) + [steps - 1] + end()

def behave(k=0, mute=0, policy=0):  # policy: 0 by step, 1 at once, 2 just in time
    return op(8, k) + [mute | policy << 1] + end()

def nic_refuses(which=0):  # 0 dereg, 1 modify_qp, 2 destroy_qp, 3 the first two, 4 the first and last
    return op(15) + [which] + end()

def disconnect(k=0):
    return op(9, k) + end()

STORIES = {
    # one client writes, commits, returns; a local process breaks the lease
    # of another layout and the client answers the recall
    "cooperative": [BOUNCE_3S] + connect() + hello() + open_(0, 0) + layout_get(0, 0, 0, 4) +
                   commit() + layout_return() + layout_get(0, 0, 4, 2) + local(0) + clock(3) +
                   answer_recalls() + clock(5) + local(0, 0) + close() + disconnect(),
    # a client that never answers is fenced at the deadline
    "ignores-recalls": [PINNED_4S] + connect() + hello(0, 1, 0) + open_(0, 1) + layout_get(0, 0, 0, 1, 0) +
                       local(1) + clock(40) + local(1, 1),
    # two clients: an RW request recalls the other's READ layout
    "conflict": [BOUNCE_3S] + connect(0) + connect(1) + hello(0) + hello(1, 2, 0) + open_(0, 2) +
                open_(1, 2) + layout_get(1, 0, 0, 2, 0) + layout_get(0, 0, 0, 1, 1) + answer_recalls(1) +
                layout_get(0, 0, 0, 1, 1) + clock(2),
    # a shrinking ALLOCATE recalls the client's own layouts past the new size
    "set-size": [PINNED_4S] + connect() + hello(0, 1, 0) + open_(0, 0) + layout_get(0, 0, 0, 1) +
                layout_get(0, 0, 8, 1) + allocate(0, 0, 0, 16, 1) + clock(5) + answer_recalls(0, 0) +
                clock(5) + answer_recalls(0, 0),
    # a client that answers every recall just before its deadline
    "just-in-time": [PINNED_4S] + connect() + hello(0, 2, 1) + behave(0, 0, 2) + open_(0, 2) +
                    layout_get(0, 0, 0, 1, 0) + layout_get(0, 0, 1, 1, 0) + admin_recall(2) + clock(30) +
                    local(2) + clock(30),
    # the admin recalls; a RECALL_RETURN answers a FILE_RECALL
    "admin": [BOUNCE_3S] + connect() + hello() + open_(0, 1) + layout_get(0, 0, 0, 1) + layout_get(0, 0, 2, 1) +
             admin_recall(1) + answer_recalls() + clock(1),
}

STEPS = {
    "connect": connect(), "connect_1": connect(1),
    "hello": hello(), "hello_1_credit": hello(0, 1, 0), "hello_file_recall": hello(0, 2, 1),
    "open_a": open_(0, 0), "open_b": open_(0, 1), "open_c": open_(0, 2), "open_trunc": open_(0, 0, 5),
    "layout_get_rw": layout_get(0, 0, 0, 1, 1), "layout_get_read": layout_get(0, 1, 2, 1, 0),
    "layout_return": layout_return(), "commit": commit(), "allocate_set_size": allocate(0, 0, 0, 8, 1),
    "close": close(), "answer_recalls": answer_recalls(), "answer_one": answer_recalls(0, 0),
    "just_in_time": behave(0, 0, 2), "at_once": behave(0, 0, 1), "mute": behave(0, 1, 0),
    "local_break_a": local(0), "local_break_b": local(1), "local_truncate": local(0, 0), "local_punch": local(1, 1),
    "admin_recall": admin_recall(0), "clock_10ms": clock(1), "clock_300ms": clock(30), "clock_2s": clock(200),
    "disconnect": disconnect(),
    "nic_refuses_dereg": nic_refuses(0), "nic_refuses_dereg_and_modify": nic_refuses(3),
}

out, dict_file = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
for name, data in STORIES.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(bytes(data))
with open(dict_file, "w") as f:
    f.write("# fuzz_session: one entry per kind of step (written by session-seeds.py)\n")
    for name, data in STEPS.items():
        f.write('%s="%s"\n' % (name, "".join("\\x%02x" % b for b in data)))
