"""The HTTPS server: TLS per connection, keep-alive, and each answer written in one send."""

from __future__ import annotations

import logging
import secrets
import socket
import ssl
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from qbpa_assets.sandbox.wire import Response

logger = logging.getLogger(__name__)


class Server(ThreadingHTTPServer):
    """Serves an emulator; ``emulator._handle(handler, method)`` answers each request."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
        emulator: Any,
    ) -> None:
        self.ssl_context = context
        self.emulator = emulator
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def close_connections(self) -> None:
        """Cut keep-alive connections, so a stopped emulator really stops answering."""
        with self.connections_lock:
            for sock in list(self.connections):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections.clear()

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Do the TLS handshake and serve the connection."""
        # The TLS handshake happens here, in the connection's own thread, so that a slow or
        # broken client never blocks the accept loop.
        request.settimeout(60)
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls_sock = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections.add(tls_sock)
        try:
            self.RequestHandlerClass(tls_sock, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(tls_sock)
            try:
                tls_sock.close()
            except OSError:
                pass


class Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive; hands each request to the emulator."""

    protocol_version = "HTTP/1.1"
    server_version = "qbo-emulator"
    sys_version = ""
    server: Server

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        """Serve a GET request."""
        self.server.emulator._handle(self, "GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        """Serve a POST request."""
        self.server.emulator._handle(self, "POST")

    def respond(self, response: Response) -> None:
        """Write a response with Content-Length (keeps the connection alive)."""
        self.send_response(response.status, HTTPStatus(response.status).phrase)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("intuit_tid", secrets.token_hex(8))
        for name, value in response.headers:
            self.send_header(name, value)
        # Headers and body in one write: two small writes trip Nagle + delayed ACK (~40 ms
        # per request), which would dominate paging benchmarks.
        self._headers_buffer.append(b"\r\n" + response.body)  # type: ignore[attr-defined]
        self.flush_headers()

    def drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Route access logs to logging at debug level (never to stderr)."""
        logger.debug("%s - %s", self.address_string(), format % args)
