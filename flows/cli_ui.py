"""``newswatch ui``: serve the read-only workbench (``webui``) with uvicorn.

Why the checks here, before anything listens: binding an address other than loopback exposes the
warehouse to the network, so it needs a credential in ``config.yaml`` (``ui.password`` or
``ui.tokens``); without one the command exits 2 with a message, like any configuration error. The
socket is bound here too, so a port already in use is a one-line error rather than a server traceback.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from newswatch.errors import FatalError


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be between 0 and 65535 (0: any free port)")
    return value


def bound_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``.

    Raises:
        FatalError: the address cannot be bound (in use, not an address of this machine).
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise FatalError("ui_bind", f"cannot resolve --host {host!r}: {e.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    # The protocol number matters: asyncio sets TCP_NODELAY only on sockets created with IPPROTO_TCP, and
    # without it every keep-alive response waited ~40 ms for the client's delayed ACK (measured: 48 ms for a
    # static file, 2 ms with it).
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise FatalError("ui_bind", f"cannot listen on {host}:{port}: {e.strerror} (hint: choose another --port)") from None
    sock.set_inheritable(True)
    return sock


def cmd_ui(args: argparse.Namespace) -> int:
    """Check the bind address against the configured credentials, then serve until interrupted."""
    from pipeline.settings import reader_settings
    from webui.auth import Credentials, is_loopback_host

    settings = reader_settings(args.config, args.db)
    ui = settings.ui if settings is not None else None
    creds = Credentials(ui.password, tuple(t for t in ui.tokens if t)) if ui is not None else Credentials()
    if not is_loopback_host(args.host) and not creds.required:
        print(f"error: refusing to serve on {args.host} without authentication: anyone who can reach it could read "
              "the warehouse.\n  hint: set ui.password: ${NEWSWATCH_UI_PASSWORD} (or ui.tokens) in config.yaml, "
              "or bind --host 127.0.0.1", file=sys.stderr)
        return 2
    return _serve(args, settings, creds)


def _serve(args: argparse.Namespace, settings: Any, creds: Any) -> int:
    import uvicorn

    from warehouse.analyst import analyst_db_path
    from webui.app import create_app
    from webui.search import search_function
    from webui.snapshots import SnapshotReader

    path = analyst_db_path(None if settings is None else settings.warehouse.paths, args.db)
    live = None if args.db else Path(settings.warehouse.path)
    reader = SnapshotReader(path, live=live)
    sock = bound_socket(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"newswatch ui: http://{shown}:{port}/  (reading {path}; Ctrl+C stops)", flush=True)
    search = search_function(str(args.db) if args.db else str(settings.warehouse.path), reader.cursor)
    config = uvicorn.Config(create_app(reader, creds=creds, search=search), log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False)
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        reader.close()
        sock.close()
    return 0


def register_ui(sub: Any, with_config: Callable[[argparse.ArgumentParser], argparse.ArgumentParser]) -> None:
    """Add ``ui`` to the ``newswatch`` sub-commands."""
    sp = with_config(sub.add_parser("ui", help="read-only web workbench and JSON API on the analysts' snapshot"))
    sp.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; others need ui.password)")
    sp.add_argument("--port", type=_port, default=8765, help="port (default 8765; 0 picks a free one)")
    sp.add_argument("--db", default=None, help="read this DuckDB file instead of the configured warehouse's snapshot")
    sp.set_defaults(fn=cmd_ui)
