"""systemd's notify protocol, written straight to $NOTIFY_SOCKET (no dependency needed).

READY=1 once the pipelines run, WATCHDOG=1 while they make progress, STATUS= for
``systemctl status``, STOPPING=1 on the way out. Outside systemd every call does nothing.
"""

from __future__ import annotations

import os

SEND_TIMEOUT_S = 1.0


def notify(*lines: str) -> bool:
    """Send ``KEY=value`` lines; False when not under systemd or the socket is gone."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    import socket  # only under systemd

    if address.startswith("@"):  # abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.settimeout(SEND_TIMEOUT_S)
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
        return True
    except OSError:
        return False


def watchdog_interval_s() -> float | None:
    """How often systemd expects WATCHDOG=1 (WatchdogSec), or None when it does not."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        return int(usec) / 1e6
    except ValueError:
        return None
