"""An HTTP proxy on 127.0.0.1 in front of a Stripe fake that can lose an answer.

It forwards every request; for the first request matching `lose` it waits for
the server's answer (so Stripe has acted) and then closes the connection
without replying, as a dropped network does right after a submit.
"""
from __future__ import annotations

import http.client
import socket
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@contextmanager
def answer_losing_proxy(upstream: str, lose: tuple[str, str]):
    """Yields (base URL, list of the answers lost); `lose` is (method, path prefix)."""
    target = urlparse(upstream)
    lost: list[str] = []
    guard = threading.Lock()

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            upstream_conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream_conn.request(self.command, self.path, body=body, headers=headers)
            answer = upstream_conn.getresponse()
            data = answer.read()
            upstream_conn.close()
            with guard:
                drop = (not lost and self.command == lose[0] and self.path.startswith(lose[1]))
                if drop:
                    lost.append(f"{self.command} {self.path}")
            if drop:  # the server acted; its answer never arrives
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = forward

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", lost
    finally:
        server.shutdown()
        server.server_close()
