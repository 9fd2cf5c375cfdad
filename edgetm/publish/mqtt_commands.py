"""Commands that come in over MQTT, before any of them reaches the service: size-checked, matched to
a pipeline, and refused in words, with floods and retained messages kept from doing harm.

- A retained command would act again at every reconnect (a retained ``{"paused": true}`` pauses
  the pipeline each time the link comes back): it is ignored, and said once per topic.
- The broker may deliver a command as soon as edgetm subscribes, before its pipelines are
  registered: such commands wait (up to ``MAX_HELD_COMMANDS``) for ``ready``.
- Refusals go to the log and the error topic ``REJECT_BURST`` at once, then one every
  ``REJECT_INTERVAL_S`` carrying how many were held back; all are counted in ``rejected``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Container

from edgetm.errors import EdgetmError
from edgetm.publish.base import CommandHandler
from edgetm.ratelimit import RateLimit

log = logging.getLogger("edgetm.publish.mqtt")

# Commands are a few bytes of JSON; anything larger is refused before parsing.
MAX_COMMAND_BYTES = 4096
# More commands than anyone sends by hand before the pipelines exist is a flood.
MAX_HELD_COMMANDS = 32
REJECT_BURST = 20
REJECT_INTERVAL_S = 1.0


class CommandInbox:
    def __init__(self, base: str, pipelines: Container[str], handler: CommandHandler | None,
                 say: Callable[[str, dict], None]) -> None:
        """``pipelines`` is the live set of registered names; ``say`` publishes an error."""
        self.base = base
        self._pipelines = pipelines
        self._handler = handler
        self._say = say
        self._lock = threading.Lock()
        self._ready = handler is None  # without a handler there is nothing to wait for
        self._held: list[tuple[str, bytes]] = []
        self._retained_said: set[str] = set()
        self._rejections = RateLimit(REJECT_INTERVAL_S, REJECT_BURST)
        self.rejected = 0
        self._tail: threading.Timer | None = None

    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        """Called in paho's network thread: check, hold or hand over; never raises."""
        if retained:
            if topic not in self._retained_said:
                self._retained_said.add(topic)
                self._reject(topic, f"ignored a retained command; commands act once, when sent (clear it: "
                                    f"mosquitto_pub -r -n -t '{topic}')", limited=False)
            return
        with self._lock:
            if not self._ready and len(self._held) < MAX_HELD_COMMANDS:
                self._held.append((topic, payload))
                return
        self._dispatch(topic, payload)

    def ready(self) -> None:
        """Every pipeline is registered: hand over the commands that came before."""
        with self._lock:
            self._ready = True
            held, self._held = self._held, []
        for topic, payload in held:
            self._dispatch(topic, payload)

    def _dispatch(self, topic: str, payload: bytes) -> None:
        if len(payload) > MAX_COMMAND_BYTES:
            self._reject(topic, f"command of {len(payload)} bytes is larger than {MAX_COMMAND_BYTES}")
            return
        if topic == f"{self.base}/reload":
            pipeline = None
        else:
            pipeline = topic[len(self.base) + 1:].rsplit("/", 1)[0]
            if pipeline not in self._pipelines:
                self._reject(topic, f"no pipeline named '{pipeline}'")
                return
        if self._handler is None:
            self._reject(topic, "commands are not accepted here")
            return
        try:
            self._handler(pipeline, payload)
        except EdgetmError as error:
            self._reject(topic, str(error))
        except Exception as error:  # a bug in a handler must not kill the network thread
            log.exception("command on %s failed", topic)
            self._reject(topic, f"command failed: {type(error).__name__}")

    def _reject(self, topic: str, reason: str, limited: bool = True) -> None:
        self.rejected += 1
        held_back = self._rejections.allow() if limited else 0
        if held_back is None:
            with self._lock:  # the end of a flood is said too, once it has passed
                if self._tail is None:
                    self._tail = threading.Timer(2 * REJECT_INTERVAL_S, self._say_tail)
                    self._tail.daemon = True
                    self._tail.start()
            return
        more = f" ({held_back} more rejected commands not shown)" if held_back else ""
        log.warning("rejected command on %s: %s%s", topic, reason, more)
        self._say(reason, {"topic": topic, **({"suppressed": held_back} if held_back else {})})

    def _say_tail(self) -> None:
        with self._lock:
            self._tail = None
        held_back = self._rejections.drain()
        if held_back:
            log.warning("%d more rejected commands not shown", held_back)
            self._say(f"{held_back} more rejected commands not shown", {"suppressed": held_back})
