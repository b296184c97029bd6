#!/usr/bin/env python3
"""Hand check of a scenarios/targets/ template under an allocator: what README.md reports.

Fills the template's {port}/{dir}/{file} the way the harness does (a fresh scratch directory
under /tmp, a hot file of --size bytes), starts the server in its own session with
LD_PRELOAD=--preload (none: glibc), waits for GET /ready, then samples the summed VmRSS of
every process in the server's process group (master + children) every 100 ms:
  before  median over --before seconds of idle,
  peak    the largest sum from the load's start to 1 s after its end,
  after   median over the last second of --drain seconds after the load ended.
The load is GET /hot with Range: bytes=0-1048575 from --connections connections on
127.0.0.1, bounded by --during seconds (<= 30):
  wrk   wrk -t2 -c N -d S (clients read as fast as loopback allows),
  slow  asyncio clients that read each response at --client-rate bytes/s through a small
        receive buffer and give up after 3 s, then reconnect: the congested egress of the
        incident, so responses wait in the server's buffers.
Then SIGTERM to the server, SIGKILL to its group if it is still there after 5 s, and the
scratch directory is removed. Prints one JSON line.

  python3 scenarios/targets/measure.py nginx --preload none --load wrk
"""
import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))

SERVERS = {
    # name: (template, command). h2o and lighttpd were tried and not kept (README.md): their
    # templates are not here, give one with --template.
    "nginx": ("nginx.conf", ["/usr/sbin/nginx", "-p", "{dir}", "-c", "{dir}/nginx.conf"]),
    "lighttpd": ("lighttpd.conf", ["/usr/sbin/lighttpd", "-D", "-f", "{dir}/lighttpd.conf"]),
    "h2o": ("h2o.conf", ["/usr/bin/h2o", "-m", "worker", "-c", "{dir}/h2o.conf"]),
    "apache2": (
        "apache2.conf",
        ["/bin/sh", "-c",
         "chmod go+x {dir} && chmod go+r {file} && "
         "exec /usr/sbin/apache2 -DFOREGROUND -d {dir} -f {dir}/apache2.conf"],
    ),
}

PRELOADS = {
    "none": None,
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
}


def fill(text, port, d, f):
    return text.replace("{port}", str(port)).replace("{dir}", d).replace("{file}", f)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def group_pids(pgid):
    pids = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as fh:
                st = fh.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] != "Z":
            pids.append(int(e))
    return pids


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def threads(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


class Sampler(threading.Thread):
    def __init__(self, pgid):
        super().__init__(daemon=True)
        self.pgid = pgid
        self.samples = []  # (t, kib, nproc)
        self.stop = False

    def run(self):
        while not self.stop:
            pids = group_pids(self.pgid)
            self.samples.append((time.monotonic(), sum(rss_kib(p) for p in pids), len(pids)))
            time.sleep(0.1)

    def between(self, a, b):
        return [s for s in self.samples if a <= s[0] <= b]


async def slow_load(port, conns, seconds, rate, stats):
    req = (b"GET /hot HTTP/1.1\r\nHost: 127.0.0.1\r\nRange: bytes=0-1048575\r\n"
           b"Connection: keep-alive\r\n\r\n")
    end = time.monotonic() + seconds
    chunk = 16384

    async def one():
        while time.monotonic() < end:
            try:
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32768)
                s.setblocking(False)
                await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
                r, w = await asyncio.open_connection(sock=s, limit=chunk)
            except OSError:
                stats["errors"] += 1
                await asyncio.sleep(0.2)
                continue
            try:
                while time.monotonic() < end:
                    w.write(req)
                    start = time.monotonic()
                    deadline = start + 3.0
                    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 3.0)
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    got = 0
                    while got < length:
                        left = deadline - time.monotonic()
                        if left <= 0 or time.monotonic() >= end:
                            raise asyncio.TimeoutError
                        data = await asyncio.wait_for(r.read(min(chunk, length - got)), left)
                        if not data:
                            raise ConnectionError
                        got += len(data)
                        # Pace to `rate`: sleep until got bytes are due.
                        await asyncio.sleep(max(0.0, start + got / rate - time.monotonic()))
                    stats["done"] += 1
            except (asyncio.TimeoutError, OSError, ConnectionError, asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError):
                stats["timeouts"] += 1
            finally:
                w.close()
                await asyncio.sleep(0.2)  # backoff before the retry

    await asyncio.gather(*(one() for _ in range(conns)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server", choices=SERVERS)
    ap.add_argument("--preload", choices=PRELOADS, default="none")
    ap.add_argument("--load", choices=["wrk", "slow"], default="wrk")
    ap.add_argument("--connections", type=int, default=256)
    ap.add_argument("--size", type=int, default=3 << 20)
    ap.add_argument("--before", type=float, default=3)
    ap.add_argument("--during", type=float, default=15)
    ap.add_argument("--drain", type=float, default=10)
    ap.add_argument("--client-rate", type=float, default=500_000)
    ap.add_argument("--template", help="another template file than scenarios/targets/<server's>")
    a = ap.parse_args()
    if a.during > 30:
        sys.exit("--during is at most 30 s")

    template, cmd = SERVERS[a.server]
    d = tempfile.mkdtemp(prefix=f"srvtest-measure-{a.server}.")
    f = os.path.join(d, "hot")
    port = free_port()
    with open(f, "wb") as fh:
        fh.write(os.urandom(a.size))
    with open(a.template or os.path.join(HERE, template)) as fh:
        conf = fill(fh.read(), port, d, f)
    with open(os.path.join(d, template), "w") as fh:
        fh.write(conf)
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if PRELOADS[a.preload]:
        env["LD_PRELOAD"] = PRELOADS[a.preload]
    argv = [fill(x, port, d, f) for x in cmd]
    out = open(os.path.join(d, "server.out"), "w")
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)
    pgid = proc.pid
    result = {"server": a.server, "preload": a.preload, "load": a.load,
              "connections": a.connections, "during_s": a.during}
    try:
        t0 = time.monotonic()
        while True:
            try:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1).read()
                except urllib.error.HTTPError:
                    pass  # any HTTP status: the server answers
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() - t0 > 10:
                    raise SystemExit(f"not ready: {open(os.path.join(d, 'server.out')).read()}")
                time.sleep(0.1)
        result["ready_s"] = round(time.monotonic() - t0, 2)
        pids = group_pids(pgid)
        lib = PRELOADS[a.preload] or "libc.so.6"
        base = os.path.basename(lib).split(".so")[0]
        loaded = []
        for p in pids:
            try:
                loaded.append(base in open(f"/proc/{p}/maps").read())
            except OSError:
                loaded.append(False)
        result["allocator_mapped_in_all"] = all(loaded)
        sampler = Sampler(pgid)
        sampler.start()
        time.sleep(a.before)
        t_load = time.monotonic()
        if a.load == "wrk":
            w = subprocess.run(["wrk", "-t2", f"-c{a.connections}", f"-d{int(a.during)}s",
                                "--timeout", "3s", "-H", "Range: bytes=0-1048575",
                                f"http://127.0.0.1:{port}/hot"],
                               capture_output=True, text=True, timeout=a.during + 15)
            lines = [l.strip() for l in w.stdout.splitlines()]
            result["wrk"] = [l for l in lines if "requests in" in l or "Non-2xx" in l
                             or "Socket errors" in l or l.startswith("Transfer/sec")]
        else:
            stats = {"done": 0, "timeouts": 0, "errors": 0}
            asyncio.run(slow_load(port, a.connections, a.during, a.client_rate, stats))
            result["slow"] = stats
        t_end = time.monotonic()
        time.sleep(a.drain)
        sampler.stop = True
        sampler.join()
        before = [s[1] for s in sampler.between(t_load - a.before, t_load)]
        during = sampler.between(t_load, t_end + 1)
        after = [s[1] for s in sampler.between(t_end + a.drain - 1, t_end + a.drain + 1)]
        result["procs"] = max(s[2] for s in sampler.samples)
        result["threads"] = sum(threads(p) for p in group_pids(pgid))
        result["before_mib"] = round(statistics.median(before) / 1024, 1)
        result["peak_mib"] = round(max(s[1] for s in during) / 1024, 1)
        result["after_mib"] = round(statistics.median(after) / 1024, 1)
        per = {p: round(rss_kib(p) / 1024, 1) for p in group_pids(pgid)}
        result["after_per_process_mib"] = sorted(per.values())
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
            result["sigterm_exit"] = proc.returncode
        except subprocess.TimeoutExpired:
            result["sigterm_exit"] = "timeout"
        time.sleep(0.5)
        left = group_pids(pgid)
        if left:
            result["left_after_sigterm"] = len(left)
            try:
                os.killpg(pgid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(d, ignore_errors=True)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
