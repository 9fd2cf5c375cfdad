"""Network streams (RTSP, HTTP MJPEG, HLS) through OpenCV's FFmpeg backend."""

from __future__ import annotations

from typing import Literal

from edgetm.capture.base import LiveOptions
from edgetm.capture.camera import OpenCVSource
from edgetm.options import Field, field_validator
from edgetm.secrets import read_secret, redact, reject_inline_password, with_password

# FFmpeg would otherwise wait forever on a camera that accepts the connection and sends nothing.
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 5.0


class UrlOptions(LiveOptions):
    """A stream's address, and where its password is kept (never in the URL itself)."""

    url: str = Field(description="rtsp://user@camera/stream, http://host/video.mjpg; no password in it")
    password_env: str | None = Field(None, description="environment variable holding the stream password")
    password_file: str | None = Field(None, description="file holding the stream password")

    @field_validator("url")
    @classmethod
    def _no_inline_password(cls, url: str) -> str:
        reject_inline_password(url, "stream url")
        return url


class NetworkOptions(UrlOptions):
    type: Literal["network"] = "network"

    def open(self) -> NetworkSource:
        return NetworkSource(self)


class NetworkSource(OpenCVSource):
    def __init__(self, config: NetworkOptions) -> None:
        super().__init__(redact(config.url), config.backoff(), config.stale_after_s)
        self.config = config
        self._password = read_secret(config.password_env, config.password_file, f"stream {config.url}")

    def _open(self):
        import cv2

        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(OPEN_TIMEOUT_S * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(READ_TIMEOUT_S * 1000)]
        capture = cv2.VideoCapture(with_password(self.config.url, self._password), cv2.CAP_FFMPEG, params)
        if not capture.isOpened():
            capture.release()
            raise OSError("refused, unreachable or no stream OpenCV can read there (OPENCV_FFMPEG_LOGLEVEL=16 "
                          "shows FFmpeg's own reason)")
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture
