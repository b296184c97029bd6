# Launcher for aiohttp's own server (Debian 12 python3-aiohttp 3.8.4) as an allocstorm target.
# Run as: /usr/bin/python3 -I -B {dir}/aiohttp_server.py   (one process: asyncio loop + file-read threads)
# Serving, Range parsing and 206 answers are aiohttp's web.FileResponse; this file only configures:
# - AIOHTTP_NOSENDFILE=1 (read at import): FileResponse reads the body in 256 KiB chunks into
#   bytes objects (malloc) and writes them into the asyncio transport's buffer (malloc).
# - a listening socket on 127.0.0.1:{port} with SO_SNDBUF 64 KiB (inherited by accepted sockets),
#   as nginx's `sndbuf=64k`: slow clients' unsent bytes stay in the process, not in the kernel.
# - GET /hot -> {file}, GET /ready -> 200 "ok"; anything else 404. No access log.
# SIGTERM: run_app's handler stops the server (exit status 0).
import os
os.environ["AIOHTTP_NOSENDFILE"] = "1"
import socket
from aiohttp import web

sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
sock.bind(("127.0.0.1", {port}))


async def hot(request):
    return web.FileResponse("{file}")


async def ready(request):
    return web.Response(text="ok\n")


app = web.Application()
app.router.add_get("/hot", hot)
app.router.add_get("/ready", ready)
web.run_app(app, sock=sock, access_log=None, shutdown_timeout=2)
