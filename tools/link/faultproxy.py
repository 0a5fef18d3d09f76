#!/usr/bin/env python3
"""Fault-injecting proxy for the management link.

    faultproxy.py --listen PATH --upstream PATH [--seed N]
                  [--flip P] [--drop P] [--insert P] [--direction down|up|both]
                  [--quiet-after S] [--stats FILE]

Listens on the UNIX socket --listen (where billingd connects) and relays each
connection to --upstream (the hypervisor's socket: QEMU's COM2 or hvsim
--serve-link). In the chosen direction(s) ("down" = hypervisor to billingd)
every byte is, independently, flipped (one random bit) with probability
--flip, dropped with --drop, or followed by a random inserted byte with
--insert. After --quiet-after seconds of a connection's life no more faults
are injected (0: never quiet). When the upstream closes, the client is
closed too, and vice versa; the proxy then accepts the next client.

On SIGTERM it writes --stats (JSON: connections, bytes, faults by kind) and
exits. Deterministic for a given --seed and byte stream chunking.
"""
import argparse
import json
import math
import os
import random
import selectors
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--flip", type=float, default=0.0)
    ap.add_argument("--drop", type=float, default=0.0)
    ap.add_argument("--insert", type=float, default=0.0)
    ap.add_argument("--direction", choices=("down", "up", "both"),
                    default="down")
    ap.add_argument("--quiet-after", type=float, default=0.0)
    ap.add_argument("--stats")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    stats = {"connections": 0, "bytes_down": 0, "bytes_up": 0,
             "flipped": 0, "dropped": 0, "inserted": 0,
             "faults_down": 0, "faults_up": 0}
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))

    try:
        os.unlink(a.listen)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(a.listen)
    ls.listen(1)
    ls.setblocking(False)
    p_total = a.flip + a.drop + a.insert

    def mangle(data, since):
        if p_total <= 0 or (a.quiet_after and
                            time.monotonic() - since > a.quiet_after):
            return data
        out = bytearray()
        i = 0
        n = len(data)
        while i < n:
            # geometric skip to the next faulty byte
            u = rng.random()
            skip = int(math.log(1 - u) / math.log(1 - p_total)) \
                if p_total < 1 else 0
            if i + skip >= n:
                out += data[i:]
                break
            out += data[i:i + skip]
            i += skip
            b = data[i]
            r = rng.random() * p_total
            if r < a.flip:
                out.append(b ^ (1 << rng.randrange(8)))
                stats["flipped"] += 1
            elif r < a.flip + a.drop:
                stats["dropped"] += 1
            else:
                out.append(b)
                out.append(rng.randrange(256))
                stats["inserted"] += 1
            i += 1
        return bytes(out)

    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ, "listen")
    pair = None  # (client, upstream, since)

    def close_pair():
        nonlocal pair
        if pair:
            for s in pair[:2]:
                try:
                    sel.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()
            pair = None

    while not stop:
        for key, _ in sel.select(timeout=0.2):
            if key.data == "listen":
                if pair:
                    continue  # one at a time, like the UART
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    u.connect(a.upstream)
                except OSError:
                    c.close()
                    u.close()
                    continue
                stats["connections"] += 1
                pair = (c, u, time.monotonic())
                sel.register(c, selectors.EVENT_READ, "up")
                sel.register(u, selectors.EVENT_READ, "down")
                continue
            if not pair:
                continue
            c, u, since = pair
            src, dst = (u, c) if key.data == "down" else (c, u)
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                close_pair()
                continue
            stats["bytes_" + key.data] += len(data)
            if a.direction in (key.data, "both"):
                before = stats["flipped"] + stats["dropped"] + stats["inserted"]
                data = mangle(data, since)
                stats["faults_" + key.data] += (stats["flipped"] +
                                                stats["dropped"] +
                                                stats["inserted"] - before)
            try:
                dst.sendall(data)
            except OSError:
                close_pair()
    close_pair()
    ls.close()
    try:
        os.unlink(a.listen)
    except FileNotFoundError:
        pass
    if a.stats:
        with open(a.stats, "w") as f:
            json.dump(stats, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
