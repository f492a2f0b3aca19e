"""A throwaway nginx on a free loopback port that answers 200 to anything, for benchmarks.

``/slow/...`` answers after ``slow`` seconds, through the echo module
(Debian: libnginx-mod-http-echo): a receiver that keeps the connections
waiting without costing this machine any CPU, as a remote one would.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

CONFIG = """
{load}
worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok"; }}
        {slow}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def nginx(slow: float | None = None) -> Iterator[str]:
    """Yields the base URL of a running nginx; stops it afterwards."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(binary):
        raise SystemExit("nginx is not installed: apt-get install nginx-light")
    if slow is not None and not os.path.exists(ECHO_MODULE):
        raise SystemExit("nginx's echo module is not installed: apt-get install libnginx-mod-http-echo")
    root = tempfile.mkdtemp(prefix="bench-nginx-")
    port = free_port()
    conf = os.path.join(root, "nginx.conf")
    with open(conf, "w") as f:
        f.write(
            CONFIG.format(
                root=root,
                port=port,
                load=f"load_module {ECHO_MODULE};" if slow is not None else "",
                slow=f"location /slow/ {{ echo_sleep {slow}; echo ok; }}" if slow is not None else "",
            )
        )
    proc = subprocess.Popen([binary, "-c", conf, "-p", root], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    said = proc.stderr.read().decode() if proc.stderr else ""
                    raise SystemExit(f"nginx did not start: {said}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(root, ignore_errors=True)
