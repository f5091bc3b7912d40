"""Running `tledger serve` as a real process for a test."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

#: `tledger serve` run by this interpreter.
SERVE = [sys.executable, "-c", "from tledger.cli import main; main()", "serve"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db_url: str, *args: str, port: int | None = None) -> Iterator[str]:
    """A running `tledger serve` on ``port`` (default: a free one); its base URL."""
    port = port or free_port()
    proc = subprocess.Popen([*SERVE, "--db", db_url, "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out = proc.stdout.read().decode() if proc.stdout else ""
                    raise AssertionError(f"tledger serve did not start:\n{out}") from None
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)
