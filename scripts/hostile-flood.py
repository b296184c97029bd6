#!/usr/bin/env python3
"""Hostile peers against a coordinator's join port (issue 28, docs/reliability.md "Hostile peers").

  hostile-flood.py endless PORT CONNS SECS   CONNS connections sending bytes, never a newline
  hostile-flood.py idle PORT CONNS SECS      CONNS connections that never say anything

Both wait up to 30 s for the port to open, keep at it for SECS, then print one JSON line: how many
connected, how many the peer closed (and how soon), how many bytes were sent. Loopback only.
"""
import json
import resource
import socket
import sys
import time

HOST = "127.0.0.1"


def connect(port, deadline):
    while True:
        try:
            return socket.create_connection((HOST, port), timeout=2)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def endless(port, conns, secs):
    socks = [connect(port, time.monotonic() + 30) for _ in range(conns)]
    start = time.monotonic()
    for s in socks:
        s.setblocking(False)
    chunk = b"x" * 65536
    sent, closed = 0, set()
    while time.monotonic() - start < secs and len(closed) < len(socks):
        for i, s in enumerate(socks):
            if i in closed:
                continue
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                closed.add(i)
    return {"connected": len(socks), "closed_by_peer": len(closed), "bytes_sent": sent,
            "secs": round(time.monotonic() - start, 2)}


def idle(port, conns, secs):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, conns + 64)), hard))
    deadline = time.monotonic() + 30
    socks, failed = [], 0
    start = time.monotonic()
    for _ in range(conns):
        try:
            socks.append(connect(port, deadline))
        except OSError:
            failed += 1
    for s in socks:
        s.setblocking(False)
    start = time.monotonic()  # closes are timed from the last connect
    closed_at = {}
    while time.monotonic() - start < secs:
        for i, s in enumerate(socks):
            if i in closed_at:
                continue
            try:
                if s.recv(1) == b"":
                    closed_at[i] = time.monotonic() - start
            except BlockingIOError:
                pass
            except OSError:
                closed_at[i] = time.monotonic() - start
        time.sleep(0.05)
    quick = sum(1 for t in closed_at.values() if t < 1.0)
    return {"connected": len(socks), "connect_failed": failed, "closed_by_peer": len(closed_at),
            "closed_within_1s_of_the_last_connect": quick, "secs": round(time.monotonic() - start, 2)}


def main():
    mode, port, conns, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    out = {"endless": endless, "idle": idle}[mode](port, conns, secs)
    print(json.dumps({"mode": mode, **out}), flush=True)


if __name__ == "__main__":
    main()
