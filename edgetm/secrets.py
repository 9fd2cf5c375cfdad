"""Secrets come from the environment or from files, never from configuration or command lines."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from edgetm.errors import ConfigError

_MAX_SECRET_BYTES = 4096


def read_secret(env: str | None, file: str | Path | None, what: str) -> str | None:
    """The secret named by an environment variable or held in a file (first line, stripped)."""
    if env:
        value = os.environ.get(env)
        if value is None:
            raise ConfigError(f"{what}: environment variable {env} is not set", f"export {env}=... before starting")
        return value
    if file:
        path = Path(file).expanduser()
        try:
            info = path.stat()
            if info.st_size > _MAX_SECRET_BYTES:
                raise ConfigError(f"{what}: {path} is too large to hold a password")
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigError(f"{what}: cannot read {path}: {error.strerror or error}") from None
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            import logging

            logging.getLogger(__name__).warning("%s is readable by other users; chmod 600 it", path)
        return text.splitlines()[0].strip() if text.strip() else ""
    return None


def reject_inline_password(url: str, what: str) -> None:
    """A password written into a URL ends up in configs, shell history and process lists."""
    if urlsplit(url).password is not None:
        raise ConfigError(
            f"{what}: the URL contains a password",
            "leave it out of the URL and give password_env (an environment variable) or password_file",
        )


def redact(url: str) -> str:
    """The URL without any password, for logs and status."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ""
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def with_password(url: str, password: str | None) -> str:
    """Put a password (from ``read_secret``) into a URL for the library that opens it."""
    if not password:
        return url
    parts = urlsplit(url)
    from urllib.parse import quote

    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = quote(parts.username or "", safe="")
    return urlunsplit((parts.scheme, f"{user}:{quote(password, safe='')}@{host}", parts.path, parts.query,
                       parts.fragment))
