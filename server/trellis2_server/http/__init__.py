# SPDX-License-Identifier: MIT
"""The HTTP/1.1 listener: Connect API, artifact downloads and the web dashboard on one port."""

from trellis2_server.http.app import create_http_app
from trellis2_server.http.server import HttpServer, start_http_server

__all__ = ["HttpServer", "create_http_app", "start_http_server"]
