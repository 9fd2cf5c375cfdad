"""An MQTT connection: its TLS settings checked (``set_tls``), and why it is down, in words a user
can act on.

paho 2.x retries failed connections on its own but hands ``on_connect_fail`` no cause, so
``client_class`` keeps the exception of each attempt. ``Link`` turns causes (a name that does not
resolve, nothing listening, a certificate refused, a refused login) into one sentence each, logs a
cause when it first appears and at most once every ``REPEAT_LOG_S`` while it lasts, and holds the
current one for stats, systemd's status line and the exit summary.

It also notices a second client using our client id. The broker gives an id to its newest
connection, so two processes with one id take the session from each other at every reconnect
(paho's first delay is 1 s, so each session lasts about that). MQTT 5 may say "Session taken
over", but mosquitto 2.0 only closes the socket, as 3.1.1 does. So ``TAKEOVER_COUNT`` sessions in a
row that the broker ended within ``TAKEOVER_SESSION_S``, each followed by a reconnect that worked
at once, within ``TAKEOVER_WINDOW_S``, tell it from a broker that restarts (the attempt after a
restart fails first, unless the broker was back within 1 s, four times in a minute). Then
reconnects wait ``TAKEOVER_DELAYS_S`` instead, until a session lasts a whole window again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections import deque
from pathlib import Path

from edgetm.errors import ConfigError

log = logging.getLogger("edgetm.publish.mqtt")

REPEAT_LOG_S = 60.0
TAKEOVER_SESSION_S = 2.0
TAKEOVER_COUNT = 4
TAKEOVER_WINDOW_S = 60.0
TAKEOVER_DELAYS_S = (30, 300)
TAKEN_OVER = "Session taken over"
# CONNACK reason codes (MQTT 5 names; paho maps 3.1.1's return codes onto them) that mean the
# credentials, not the broker, are wrong.
REFUSED_LOGIN = ("Not authorized", "Bad user name or password")


MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")


@functools.cache
def installation_id() -> str:
    """8 hex digits that differ between machines and stay the same across restarts: from systemd's
    machine id (hashed, as it should not be published), else from the network card's address."""
    import hashlib  # here, as the other imports of this module's functions: a run without MQTT need not wait
    import uuid

    for name in MACHINE_ID_FILES:
        try:
            with open(name, "rb") as file:
                machine = file.read(64).strip()
        except OSError:
            continue
        if machine:
            return hashlib.sha256(b"edgetm:" + machine).hexdigest()[:8]
    return hashlib.sha256(b"edgetm:%d" % uuid.getnode()).hexdigest()[:8]


def default_client_id(device: str) -> str:
    """Unique per installation, so that two devices given the same device_id do not evict each other."""
    return f"edgetm-{device}-{installation_id()}"


@functools.cache
def client_class(mqtt):
    """paho's ``Client``, keeping why its last connection attempt failed in ``connect_error``."""

    class Client(mqtt.Client):
        connect_error: BaseException | None = None

        def _create_socket(self):  # paho 2.x: opens the TCP connection, then the TLS handshake
            try:
                sock = super()._create_socket()
            except BaseException as error:
                self.connect_error = error
                raise
            self.connect_error = None
            return sock

    return Client


def set_tls(client, tls) -> None:
    """Give paho's client the CA, certificate and key of ``tls`` (``TlsOptions``), verifying the
    broker; a file that is missing or holds no certificate is a one-line ``ConfigError``."""
    for key in ("ca_file", "cert_file", "key_file"):
        path = getattr(tls, key)
        if path is not None and not Path(path).is_file():
            raise ConfigError(f"mqtt tls.{key} {path} does not exist", "give the path of a PEM file")
    import ssl  # here and in cause(): a run without MQTT over TLS does not wait for it

    try:
        client.tls_set(ca_certs=tls.ca_file, certfile=tls.cert_file, keyfile=tls.key_file,
                       cert_reqs=ssl.CERT_REQUIRED)
    except ssl.SSLError as error:
        which = "tls.ca_file" if "X509" in str(error) or tls.cert_file is None else "tls.cert_file / tls.key_file"
        files = tls.ca_file if which == "tls.ca_file" else f"{tls.cert_file} / {tls.key_file}"
        raise ConfigError(f"mqtt {which} {files}: no certificate could be read ({error.reason or error})",
                          "give PEM files (-----BEGIN CERTIFICATE-----)") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"mqtt TLS settings cannot be used: {error}") from None
    if tls.insecure:
        log.warning("MQTT TLS certificate verification is off (tls.insecure)")
        client.tls_insecure_set(True)


def cause(error: BaseException | None, host: str, port: int, tls: bool) -> str:
    """One sentence: why a connection to ``host:port`` could not be opened, and what to do."""
    import socket
    import ssl

    where = f"{host}:{port}"
    if error is None:
        return f"cannot connect to {where}"
    if isinstance(error, socket.gaierror):
        return f"cannot resolve the broker's name '{host}' ({error.strerror}); check the host in the url"
    if isinstance(error, ssl.SSLCertVerificationError):
        detail = getattr(error, "verify_message", None) or str(error)
        if "mismatch" in detail.lower() or "match" in str(error).lower():
            return (f"the broker's certificate is not for the name '{host}' ({detail}); put the name the "
                    "certificate was issued for in the url")
        return (f"the broker's certificate at {where} is not trusted ({detail}); give the CA that signed it "
                "with tls.ca_file (--ca-file)")
    if tls and isinstance(error, ssl.SSLError | ConnectionResetError | BrokenPipeError):
        reason = getattr(error, "reason", None) or error.strerror or type(error).__name__
        return (f"TLS handshake with {where} failed ({reason}); is it a plain MQTT port? mqtts:// needs the "
                "broker's TLS listener (usually 8883)")
    if isinstance(error, ConnectionRefusedError):
        return f"nothing listens on {where} (connection refused); is the broker running, and is the port right?"
    if isinstance(error, TimeoutError):
        return f"{where} does not answer (timed out); check the host, the port and any firewall"
    if isinstance(error, OSError):
        return f"cannot reach {where} ({error.strerror or error})"
    return f"cannot connect to {where} ({type(error).__name__}: {error})"


def refused(reason: str) -> str:
    """One sentence for a broker that answered CONNECT with a refusal."""
    if reason in REFUSED_LOGIN:
        return (f"the broker refused the connection: {reason.lower()}; check the user in the url and the "
                "password (password_env or password_file)")
    return f"the broker refused the connection: {reason}"


class Link:
    """The health of one MQTT connection: the current problem, said once, and the takeover check."""

    def __init__(self, where: str, client_id: str) -> None:
        self.where = where
        self.client_id = client_id
        self.problem: str | None = None
        self._problem_said = False  # whether the current episode's problem reached the log
        self.failed_attempts = 0  # since the last successful connection
        self.taken_over = False
        self._connected_at: float | None = None
        self._said: tuple[str, float] | None = None
        self._short_sessions: deque[float] = deque(maxlen=TAKEOVER_COUNT)

    def failed(self, problem: str, attempt: bool = True) -> None:
        """A connection attempt failed (``attempt``), or a session ended, for ``problem``."""
        if attempt:
            self._short_sessions.clear()  # the broker was away, not taken by someone else
        self.failed_attempts += 1
        self.problem = problem
        now = time.monotonic()
        if self._said is None or self._said[0] != problem or now - self._said[1] >= REPEAT_LOG_S:
            repeat = self._said is not None and self._said[0] == problem
            log.warning("MQTT: %s%s", problem, f" (still, {self.failed_attempts} attempts)" if repeat else "")
            self._said = (problem, now)
            self._problem_said = True

    def up(self) -> None:
        # Said when the trouble before it was said: a link that flaps is one line a minute, not two a second.
        if self._problem_said:
            log.info("MQTT: connected to %s again", self.where)
        elif self._connected_at is None and self.problem is None and self.failed_attempts == 0:
            log.info("MQTT: connected to %s", self.where)
        self.problem = None
        self._problem_said = False
        self.failed_attempts = 0
        self._connected_at = time.monotonic()

    def down(self, reason: str) -> bool:
        """The broker ended our session; True when another client with our id is the likely cause."""
        now = time.monotonic()
        lasted = now - self._connected_at if self._connected_at is not None else 0.0
        self._connected_at = None
        if lasted >= TAKEOVER_WINDOW_S:
            self._short_sessions.clear()
            self.taken_over = False
        elif lasted < TAKEOVER_SESSION_S:
            self._short_sessions.append(now)
        repeated = (len(self._short_sessions) == TAKEOVER_COUNT
                    and now - self._short_sessions[0] <= TAKEOVER_WINDOW_S)
        if reason == TAKEN_OVER or repeated:
            self.taken_over = True
            self.failed(f"another client uses the id '{self.client_id}': the broker ends our session each time "
                        f"it connects; give each edgetm its own client_id (reconnecting every "
                        f"{TAKEOVER_DELAYS_S[0]} s or more until then)", attempt=False)
            return True
        why = "" if reason in ("Unspecified error", "Success") else f" ({reason})"  # paho's words for "it closed"
        self.failed(f"connection to {self.where} lost{why}; reconnecting", attempt=False)
        return False
