"""DivergenceWatcher: hears from the aggregator when a run diverges, so that training can stop.

``lossd aggregate --publish EP`` publishes a snapshot of its statistics every
``--snapshot-interval`` (topic ``stats``) and an event whenever a (run, split) starts or stops
diverging (topic ``event``; docs/DIAGNOSTICS.md describes both). A watcher subscribes to both on
a thread of its own: the event arrives within milliseconds; the snapshots let a watcher that
connected after the event (ZeroMQ's PUB drops what is sent before a subscriber joins) still see
the ``divergence`` flag.
"""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, Optional

import zmq

from .keys import configure_curve_client
from .wire import parse_endpoint

__all__ = ["DivergenceError", "DivergenceWatcher"]


class DivergenceError(RuntimeError):
    """Raised by :meth:`DivergenceWatcher.raise_if_diverged`; ``event`` is what the aggregator said."""

    def __init__(self, event: Dict[str, Any]) -> None:
        self.event = event
        place = f"step {event['step']}" if event.get("step") is not None else f"batch {event.get('batches')}"
        values = event.get("values") or {}
        if event.get("reason") == "nonfinite":
            why = "a batch held NaN or infinite values"
            if values.get("nonfinite"):
                why += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(values["nonfinite"].items())) + ")"
        else:
            why = (f"the loss stayed above {values.get('factor')} x its running minimum {values.get('minimum')} "
                   f"for {values.get('steps')} figures in a row (latest {values.get('loss')})")
        super().__init__(f"run {event.get('run')!r}, split {event.get('split')!r} diverged at {place}: {why}")


class DivergenceWatcher:
    """Watches one run on the aggregator's publish socket and remembers the first divergence.

    ``endpoint`` is the aggregator's ``--publish`` endpoint (connects by default:
    ``tcp://host:5557`` or ``>tcp://host:5557``). ``split`` limits the watch to one split (default:
    every split of the run). The thread waits at most ``poll_interval`` seconds at a time, so
    :meth:`close` (or leaving a ``with`` block) returns within about that long.

    CURVE: an aggregator started with ``--publish-key-file`` (or ``--key-file``) publishes only to
    subscribers that know its key: give ``curve_server_key`` (its public key, Z85 text or 32 bytes,
    e.g. ``read_public_key("aggregator.pub")``), and ``curve_public_key``/``curve_secret_key`` when
    it lists the subscribers it lets in (``--publish-allowed-clients``; a fresh pair otherwise). A
    watcher that does not match hears nothing: :meth:`wait_until_listening` tells, and the
    aggregator logs and counts the failed handshake (``socket="aggregate.publish"``).

    Once a diverging event (or a snapshot with the run's ``divergence.diverging`` true) arrives,
    :attr:`diverged` stays true and :attr:`event` holds it, even if the aggregator later reports
    that the run recovered: a trainer that is told to stop should not be told to go on.
    """

    def __init__(self, endpoint: str, run: str, split: Optional[str] = None, poll_interval: float = 0.1,
                 context: Optional[zmq.Context] = None, curve_server_key: Optional[Any] = None,
                 curve_public_key: Optional[Any] = None, curve_secret_key: Optional[Any] = None) -> None:
        if not isinstance(run, str) or not run:
            raise ValueError(f"run must be a non-empty string, not {run!r}")
        if poll_interval <= 0:
            raise ValueError(f"poll_interval must be positive, not {poll_interval!r}")
        self.run = run
        self.split = split
        self.poll_interval = float(poll_interval)
        self.event: Optional[Dict[str, Any]] = None
        self.events_seen = 0
        self._diverged = threading.Event()
        self._heard = threading.Event()
        self._stop = threading.Event()
        self._owns_context = context is None
        self.context = zmq.Context() if context is None else context
        self.socket = self.context.socket(zmq.SUB)
        try:
            self.socket.setsockopt(zmq.LINGER, 0)
            configure_curve_client(self.socket, curve_server_key, curve_public_key, curve_secret_key,
                                   server="the aggregator's publish socket")
            self.socket.setsockopt(zmq.SUBSCRIBE, b"event")
            self.socket.setsockopt(zmq.SUBSCRIBE, b"stats")
            for bind, address in parse_endpoint(endpoint, bind_by_default=False):
                if bind:
                    self.socket.bind(address)
                else:
                    self.socket.connect(address)
        except BaseException:
            self.socket.close(linger=0)
            if self._owns_context:
                self.context.term()
            raise
        self._thread = threading.Thread(target=self._listen, name=f"lossd-watch-{run}", daemon=True)
        self._thread.start()

    @property
    def diverged(self) -> bool:
        """Whether the run was reported diverging."""
        return self._diverged.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Blocks until the run is reported diverging or ``timeout`` seconds pass; returns :attr:`diverged`."""
        return self._diverged.wait(timeout)

    def wait_until_listening(self, timeout: float) -> bool:
        """Blocks until the first message from the aggregator arrives (a snapshot, every
        ``--snapshot-interval``) or ``timeout`` seconds pass: after it, no event can be missed."""
        return self._heard.wait(timeout)

    def raise_if_diverged(self) -> None:
        """Raises :class:`DivergenceError` once the run was reported diverging; call it once per step."""
        if self._diverged.is_set() and self.event is not None:
            raise DivergenceError(self.event)

    def close(self, timeout: float = 5.0) -> None:
        """Stops the thread (waiting at most ``timeout`` s) and closes the socket. Idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the watcher's thread did not stop within {timeout} s")
        self.socket.close(linger=0)
        if self._owns_context:
            self.context.term()

    def __enter__(self) -> "DivergenceWatcher":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _listen(self) -> None:
        timeout_ms = max(1, int(self.poll_interval * 1000))
        while not self._stop.is_set():
            if not self.socket.poll(timeout_ms, zmq.POLLIN):
                continue
            frames = self.socket.recv_multipart()
            self._heard.set()
            if len(frames) != 2:
                continue
            try:
                body = json.loads(frames[1])
            except ValueError:
                continue
            if frames[0] == b"event":
                self._on_event(body)
            elif frames[0] == b"stats":
                self._on_stats(body)

    def _matches(self, run: Any, split: Any) -> bool:
        return run == self.run and (self.split is None or split == self.split)

    def _on_event(self, event: Dict[str, Any]) -> None:
        if not self._matches(event.get("run"), event.get("split")):
            return
        self.events_seen += 1
        if event.get("event") == "diverging" and not self._diverged.is_set():
            self.event = event
            self._diverged.set()

    def _on_stats(self, snapshot: Dict[str, Any]) -> None:
        if self._diverged.is_set():
            return
        for split in snapshot.get("splits") or []:
            divergence = split.get("divergence") or {}
            if self._matches(split.get("run"), split.get("split")) and divergence.get("diverging"):
                # Only the snapshot knew (the event was sent before this watcher joined): an event
                # of the same shape, from what the snapshot says.
                self.event = {"v": 1, "kind": "event", "event": "diverging", "run": split.get("run"),
                              "split": split.get("split"), "reason": divergence.get("reason"),
                              "step": divergence.get("since"), "batches": split.get("batches"),
                              "figure": "snapshot", "time": snapshot.get("time"),
                              "values": {"loss": divergence.get("last"), "minimum": divergence.get("minimum")}}
                self._diverged.set()
                return
