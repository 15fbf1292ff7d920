"""Serving a sandbox WSGI app over real HTTP, in the foreground or in a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import WSGIRequestHandler, make_server


class QuietRequestHandler(WSGIRequestHandler):
    """Keeps test and benchmark output clean: no access log line per request."""

    def log_request(self, code="-", size="-"):
        pass


@dataclass
class RunningServer:
    app: object
    host: str
    port: int
    _server: object
    _thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def serve_in_thread(app, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start ``app`` on ``host:port`` (0 picks a free port) in a daemon thread."""
    server = make_server(host, port, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"sandbox-{server.port}",
                              daemon=True)
    thread.start()
    return RunningServer(app=app, host=host, port=server.port, _server=server, _thread=thread)


def serve_forever(app, host: str, port: int, quiet: bool = True) -> None:
    """Serve ``app`` in the foreground until interrupted."""
    handler = QuietRequestHandler if quiet else WSGIRequestHandler
    server = make_server(host, port, app, threaded=True, request_handler=handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
