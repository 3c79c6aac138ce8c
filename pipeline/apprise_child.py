"""Apprise channels (Slack, e-mail, ``form://`` ...) sent from a child process that is killed at the deadline.

Why a process: apprise stops *waiting* at its timeout but cannot stop its worker thread, and neither
can we; a thread blocked on a trickling socket kept the process alive for minutes after the delivery.
A process can be killed, and everything it started dies with it.

``AppriseWorker`` (parent side) starts ``python -m pipeline.apprise_child`` once per delivery, on the
first apprise send, and talks to it over its stdin/stdout in frames (4-byte length + pickle; the two
ends are the same program, nothing else reads them). Each send waits for the reply until its deadline;
a send that is not answered in time gets the child killed (SIGKILL) and is recorded as a timeout, and
the next send starts a fresh child. The child also ends itself: at each message's deadline plus
``SELF_EXIT_GRACE_SECONDS`` (so it never outlives a parent that was killed mid-send) and when its stdin
closes. Starting it costs about a second (importing apprise, measured 0.7-1.0 s here); that counts
against the first message's deadline.

Inside the child the network policy of feeds applies to everything apprise does: ``socket.getaddrinfo``
returns only addresses ``extract.netguard.checked_addresses`` allows (an injected test resolver is
pickled over), so a name resolving to a private address fails to connect and the send is recorded
``blocked: private address``; and requests never follows a redirect (a 3xx is a failure).
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from newswatch import secrets
from pipeline.channels import ChannelPolicy, SendResult
from transform.alerts import Message

# The child exits on its own this long after a message's deadline (the parent normally kills it first).
SELF_EXIT_GRACE_SECONDS = 2.0
_CHILD_TIMEOUT_EXIT = 71
_HEADER = struct.Struct(">I")


class AppriseChannel:
    """One apprise URL, sent through the delivery's ``AppriseWorker``."""

    def __init__(self, url: str, worker: AppriseWorker) -> None:
        self._url = url
        self._worker = worker

    def send(self, message: Message, *, deadline: float, idempotency_key: str) -> SendResult:
        from pipeline.channels import url_with_idempotency_key

        return self._worker.send(url_with_idempotency_key(self._url, idempotency_key), message, deadline=deadline)


class AppriseWorker:
    """The parent's handle on the child process (see the module docstring)."""

    def __init__(self, policy: ChannelPolicy) -> None:
        self._policy = policy
        self._proc: subprocess.Popen[bytes] | None = None

    def _started(self) -> subprocess.Popen[bytes]:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        from extract import netguard

        # Whole-cycle tests replace netguard's defaults in this process; the child must see the same.
        resolver = self._policy.resolver or (None if netguard.DEFAULT_RESOLVER is netguard.system_resolver
                                             else netguard.DEFAULT_RESOLVER)
        check = self._policy.address_check or (None if netguard.DEFAULT_ADDRESS_CHECK is netguard.is_public_address
                                               else netguard.DEFAULT_ADDRESS_CHECK)
        self._proc = subprocess.Popen([sys.executable, "-m", "pipeline.apprise_child"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, close_fds=True)
        self._config = {"sys_path": list(sys.path), "allow_private": self._policy.allow_private,
                        "hooks": pickle.dumps((resolver, check))}
        return self._proc

    def send(self, url: str, message: Message, *, deadline: float) -> SendResult:
        """Send through the child; a reply that does not come by ``deadline`` kills it (a timeout)."""
        started = time.monotonic()
        if deadline <= started:
            return SendResult.timed_out(0)
        fresh = self._proc is None or self._proc.poll() is not None
        proc = self._started()
        request: dict[str, Any] = {"url": url, "title": message.title, "body": message.body,
                                   "seconds": deadline - time.monotonic()}
        frames = ([self._config] if fresh else []) + [request]
        try:
            for frame in frames:
                _write_frame(proc, frame, deadline)
            reply = _read_frame(proc, deadline)
        except TimeoutError:
            self._kill()
            return SendResult.timed_out(deadline - started)
        except (OSError, EOFError, pickle.UnpicklingError) as e:
            code = self._kill()
            return SendResult.refused(f"the apprise process ended unexpectedly (exit {code}; {type(e).__name__})")
        error, detail = reply.get("error"), reply.get("detail")
        return SendResult(secrets.redacted(error) if error else None, reply.get("reason", "sent"),
                          secrets.redacted(detail) if detail else None)

    def _kill(self) -> int | None:
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.kill()
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        return proc.wait()

    def close(self) -> None:
        """End the child: EOF on its stdin, then SIGKILL if it has not exited within a second."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=1.0)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self._kill()


def _write_frame(proc: subprocess.Popen[bytes], obj: Any, deadline: float) -> None:
    assert proc.stdin is not None
    data = memoryview(_HEADER.pack(len(raw := pickle.dumps(obj))) + raw)
    fd = proc.stdin.fileno()
    while data:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            raise TimeoutError
        data = data[os.write(fd, data[:65536]):]


def _read_exactly(fd: int, n: int, deadline: float) -> bytes:
    out = bytearray()
    while len(out) < n:
        left = None if deadline == float("inf") else deadline - time.monotonic()
        if (left is not None and left <= 0) or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise EOFError
        out += chunk
    return bytes(out)


def _read_frame(proc: subprocess.Popen[bytes], deadline: float) -> Any:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    (n,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, deadline))
    return pickle.loads(_read_exactly(fd, n, deadline))


# --- the child -----------------------------------------------------------------------------------------

class _Guard:
    """The network policy inside the child: filtered name resolution, no redirects."""

    def __init__(self, allow_private: bool, resolver: Any, check: Any) -> None:
        import socket

        self.allow_private, self.resolver, self.check = allow_private, resolver, check
        self.blocked: list[str] = []
        self._getaddrinfo = socket.getaddrinfo

    def _system(self, host: str, port: int) -> list[str]:
        import socket

        seen: dict[str, None] = {}
        for info in self._getaddrinfo(host, port, type=socket.SOCK_STREAM):
            seen.setdefault(str(info[4][0]), None)
        return list(seen)

    def getaddrinfo(self, host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0,  # noqa: A002
                    flags: int = 0) -> list[Any]:
        import socket

        from extract.netguard import checked_addresses
        from newswatch.channel_urls import numeric_host
        from newswatch.errors import ItemError, RetriableError

        if host is None or (self.allow_private and self.resolver is None):
            return self._getaddrinfo(host, port, family, type, proto, flags)
        name = numeric_host(host.decode() if isinstance(host, bytes) else str(host))
        try:
            port_n = int(port or 0)
        except ValueError:
            port_n = socket.getservbyname(str(port))
        try:
            ips = checked_addresses(name, port_n, allow_private=self.allow_private,
                                    resolver=self.resolver or self._system, address_check=self.check)
        except ItemError as e:
            if e.reason == "private_address":
                self.blocked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, str(e)) from None
        except RetriableError as e:
            raise socket.gaierror(socket.EAI_AGAIN, str(e)) from None
        out = []
        for ip in ips:
            v6 = ":" in ip
            if family not in (0, socket.AF_UNSPEC, socket.AF_INET6 if v6 else socket.AF_INET):
                continue
            out.append((socket.AF_INET6 if v6 else socket.AF_INET, type or socket.SOCK_STREAM,
                        proto or socket.IPPROTO_TCP, "", (ip, port_n, 0, 0) if v6 else (ip, port_n)))
        if not out:
            raise socket.gaierror(socket.EAI_ADDRFAMILY, f"no allowed address for {name}")
        return out

    def install(self) -> None:
        import socket

        import requests

        socket.getaddrinfo = self.getaddrinfo
        send = requests.Session.send

        def no_redirects(session: Any, request: Any, **kwargs: Any) -> Any:
            kwargs["allow_redirects"] = False
            return send(session, request, **kwargs)

        # Patching the class is the point (apprise builds its own sessions); mypy forbids assigning to a method.
        requests.Session.send = no_redirects  # type: ignore[method-assign,assignment]


def _sent(guard: _Guard, request: dict[str, Any]) -> dict[str, Any]:
    """Send one message with apprise in this (child) process; the reply's ``SendResult`` fields."""
    import logging

    import apprise

    guard.blocked.clear()
    logger = logging.getLogger("apprise")
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    ap = apprise.Apprise()
    if not ap.add(request["url"]):
        return {"error": "the channel URL is not a valid apprise URL", "reason": "refused"}
    result = ap.notify(body=request["body"], title=request["title"])
    if result:
        return {}
    if guard.blocked:
        return {"error": f"blocked: private address ({guard.blocked[0]})", "reason": "blocked"}
    details = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR", "CRITICAL")]
    status = getattr(getattr(result, "status", None), "name", "FAILURE")
    return {"error": ("; ".join(details) or f"delivery failed ({status})")[:1000], "reason": "refused"}


def main() -> None:
    """The child's loop: one config frame, then one reply per message frame, until stdin closes."""
    import traceback

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
    inp = 0
    out = os.dup(1)
    os.dup2(2, 1)  # a plugin's print() must not corrupt the frames

    def read() -> Any:
        try:
            (n,) = _HEADER.unpack(_read_exactly(inp, _HEADER.size, float("inf")))
            return pickle.loads(_read_exactly(inp, n, float("inf")))
        except EOFError:
            sys.exit(0)

    def write(obj: Any) -> None:
        data = memoryview(_HEADER.pack(len(raw := pickle.dumps(obj))) + raw)
        while data:
            data = data[os.write(out, data):]

    config = read()
    sys.path[:0] = [p for p in config["sys_path"] if p not in sys.path]
    resolver, check = pickle.loads(config["hooks"])
    guard = _Guard(config["allow_private"], resolver, check)
    guard.install()
    while True:
        request = read()
        timer = threading.Timer(max(request["seconds"], 0) + SELF_EXIT_GRACE_SECONDS, os._exit, [_CHILD_TIMEOUT_EXIT])
        timer.daemon = True
        timer.start()
        try:
            reply = _sent(guard, request)
        except Exception as e:  # noqa: BLE001 - a plugin bug is this message's outcome, reported to the parent
            reply = {"error": f"internal_error: {type(e).__name__}: {e}"[:1000], "reason": "internal_error",
                     "detail": traceback.format_exc()}
        timer.cancel()
        write(reply)


if __name__ == "__main__":
    main()
