"""ResultSink: receives lossd's result records (SPEC §3)."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Optional

import zmq

from .wire import parse_endpoint


class ResultSink:
    """A PULL socket for lossd records: one single-frame JSON message per batch.

    ``endpoint`` binds by default (``@tcp://…`` or bare); ``>tcp://…`` connects. Bind to
    ``@tcp://127.0.0.1:*`` for a free port and read it back from :attr:`endpoints`.

    :meth:`receive` returns one record as a dict, or None when ``timeout`` (seconds) passes first.
    Iterating yields records until a wait longer than :attr:`timeout` (None: forever).
    """

    def __init__(self, endpoint: str = "@tcp://127.0.0.1:5556", timeout: Optional[float] = None,
                 rcvhwm: int = 1000, context: Optional[zmq.Context] = None) -> None:
        endpoints = parse_endpoint(endpoint, bind_by_default=True)
        self.timeout = timeout
        self.context = context if context is not None else zmq.Context.instance()
        self.socket = self.context.socket(zmq.PULL)
        self.endpoints: List[str] = []
        try:
            self.socket.setsockopt(zmq.RCVHWM, int(rcvhwm))
            self.socket.setsockopt(zmq.LINGER, 0)
            for bind, address in endpoints:
                if bind:
                    self.socket.bind(address)
                    self.endpoints.append(self.socket.getsockopt_string(zmq.LAST_ENDPOINT))
                else:
                    self.socket.connect(address)
                    self.endpoints.append(address)
        except BaseException:
            self.socket.close(linger=0)
            raise
        self.closed = False

    @property
    def endpoint(self) -> str:
        """The first endpoint as bound or connected (with the real port when bound to ``*``)."""
        return self.endpoints[0]

    def receive_bytes(self, timeout: Optional[float] = None) -> Optional[bytes]:
        """One raw record message, or None after ``timeout`` seconds (None: wait forever)."""
        if self.closed:
            raise ValueError("this ResultSink is closed")
        if timeout is not None:
            if not self.socket.poll(max(0, int(timeout * 1000)), zmq.POLLIN):
                return None
        frames = self.socket.recv_multipart()
        if len(frames) != 1:
            raise ValueError(f"a lossd record is one frame, this message had {len(frames)}")
        return frames[0]

    def receive(self, timeout: Optional[float] = None) -> Optional[Dict[str, Any]]:
        """One record as a dict, or None after ``timeout`` seconds (None: wait forever)."""
        data = self.receive_bytes(timeout)
        return None if data is None else json.loads(data)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        while True:
            record = self.receive(self.timeout)
            if record is None:
                return
            yield record

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.socket.close(linger=0)

    def __enter__(self) -> "ResultSink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
