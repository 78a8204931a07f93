"""LossClient: pushes batches to a lossd sidecar."""

from __future__ import annotations

from typing import Any, List, Mapping, Optional

import time

import zmq

from .handshake import HandshakeError, HandshakeWatch
from .keys import configure_curve_client
from .launcher import Placement, default_source, detect_placement, new_stream_id
from .wire import BatchEncoder, parse_endpoint

_HANDSHAKE_MODES = ("warn", "raise", "ignore")


class LossClient:
    """A PUSH socket that sends one lossd batch message per call (wire protocol v1).

    ``endpoint`` follows CZMQ's convention: ``>tcp://…`` connects (also the default for a bare
    endpoint), ``@tcp://…`` binds. ``seq`` counts 0, 1, 2, … per client; ``run``, ``split`` and
    ``source`` label every batch and ``loss`` holds default loss overrides (``neg_pos_ratio``,
    ``n_neg_min``, ``alpha``, ``mining``) that a call's own ``loss`` argument extends.

    Identity (docs/DISTRIBUTED.md): ``stream`` is drawn at random (64 bits, hex) for every client
    unless given, so a process that restarts and counts its seqs from 0 again is a new stream,
    never a duplicate. ``rank`` and ``world_size`` come from the launcher's environment (torchrun,
    Horovod, Open MPI, ``TF_CONFIG``: :mod:`lossd_client.launcher`) unless given; with them the
    aggregator puts the ranks' batches of one ``step`` together. ``source`` defaults to
    ``host:rank`` when the rank is known, else ``host:pid``: unique per process.
    ``profile`` names the framework whose loss lossd computes (``keras``, ``torchvision``,
    ``mmdet``, ``ssd.pytorch``; docs/LOSSES.md); None leaves it to lossd's configuration.

    Arrays are sent without copies when they are already C-contiguous and little-endian: do not
    modify them until the message has left (at the latest when :meth:`close` returns).

    ``sndhwm`` bounds the messages queued in the client; once it is reached, :meth:`send` blocks
    (back-pressure) or, with ``send_timeout_ms``, raises :class:`zmq.Again` after that long.
    ``linger_ms`` is how long :meth:`close` lets queued messages leave.

    CURVE: give ``curve_server_key`` (the sidecar's public key, z85 text or 32 bytes) to encrypt;
    ``curve_public_key``/``curve_secret_key`` are this client's pair (a fresh one is made if both
    are omitted).

    Handshakes: a client whose connections keep failing the handshake (it and the sidecar
    disagree about CURVE) delivers nothing, and libzmq does not tell ``send``. The client watches
    its socket's monitor events and, with ``on_handshake_failure="warn"`` (the default), issues
    one :class:`~lossd_client.HandshakeWarning` naming the likely cause; with ``"raise"``,
    :meth:`send` raises :class:`~lossd_client.HandshakeError` instead, also while it waits for
    room in the queue; ``"ignore"`` watches nothing. ``handshake_failures`` counts the failed
    handshakes and ``handshake_problem`` holds the sentence once there is one.
    """

    def __init__(
        self,
        endpoint: str = ">tcp://127.0.0.1:5555",
        run: str = "default",
        split: str = "train",
        source: Optional[str] = None,
        loss: Optional[Mapping[str, Any]] = None,
        sndhwm: int = 4,
        linger_ms: int = 5000,
        context: Optional[zmq.Context] = None,
        curve_server_key: Optional[Any] = None,
        curve_public_key: Optional[Any] = None,
        curve_secret_key: Optional[Any] = None,
        send_timeout_ms: Optional[int] = None,
        profile: Optional[str] = None,
        stream: Optional[str] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        on_handshake_failure: str = "warn",
    ) -> None:
        placement: Optional[Placement] = None
        if rank is None and world_size is None:
            placement = detect_placement()
            if placement is not None:
                rank, world_size = placement.rank, placement.world_size
        #: Where the launcher placed this process (None without a launcher or with explicit ranks).
        self.placement = placement
        self._encoder = BatchEncoder(
            run=run, split=split, source=default_source(rank) if source is None else source, loss=loss,
            profile=profile, stream=new_stream_id() if stream is None else stream, rank=rank,
            world_size=world_size)
        endpoints = parse_endpoint(endpoint, bind_by_default=False)
        if sndhwm < 0:
            raise ValueError(f"sndhwm must be >= 0, not {sndhwm}")
        if on_handshake_failure not in _HANDSHAKE_MODES:
            raise ValueError(f"on_handshake_failure must be one of {', '.join(_HANDSHAKE_MODES)}, "
                             f"not {on_handshake_failure!r}")
        self._handshake_mode = on_handshake_failure
        self._send_timeout_ms = send_timeout_ms
        self._watch: Optional[HandshakeWatch] = None
        # A context of its own by default, terminated by close(): that waits (up to the linger) for
        # the zero-copy frames to leave while the interpreter is alive. Frames still queued in a
        # context torn down at interpreter exit can crash the process.
        self._owns_context = context is None
        self.context = context if context is not None else zmq.Context()
        self.socket = self.context.socket(zmq.PUSH)
        try:
            self.socket.setsockopt(zmq.SNDHWM, int(sndhwm))
            self.socket.setsockopt(zmq.LINGER, int(linger_ms))
            if send_timeout_ms is not None:
                self.socket.setsockopt(zmq.SNDTIMEO, int(send_timeout_ms))
            public_key = configure_curve_client(self.socket, curve_server_key, curve_public_key, curve_secret_key,
                                                server="the sidecar")
            if on_handshake_failure != "ignore":
                self._watch = HandshakeWatch(self.socket, endpoint, uses_curve=curve_server_key is not None,
                                             public_key=public_key, warn=on_handshake_failure == "warn")
            self.endpoints: List[str] = []
            for bind, address in endpoints:
                if bind:
                    self.socket.bind(address)
                    self.endpoints.append(self.socket.getsockopt_string(zmq.LAST_ENDPOINT))
                else:
                    self.socket.connect(address)
                    self.endpoints.append(address)
        except BaseException:
            if self._watch is not None:
                self._watch.stop()
            self.socket.close(linger=0)
            if self._owns_context:
                self.context.term()
            raise
        self.endpoint = endpoint
        self.closed = False

    @property
    def handshake_failures(self) -> int:
        """How many of this client's handshakes failed so far (0 when not watched)."""
        return self._watch.failures if self._watch is not None else 0

    @property
    def handshake_problem(self) -> Optional[str]:
        """The likely cause, once the handshakes keep failing; None until then."""
        return self._watch.problem if self._watch is not None else None

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next batch will carry."""
        return self._encoder.next_seq

    @property
    def source(self) -> str:
        """The ``source`` of every batch."""
        return self._encoder.source

    @property
    def stream(self) -> str:
        """This client's ``stream`` id."""
        return self._encoder.stream

    @property
    def rank(self) -> Optional[int]:
        """The ``rank`` of every batch, or None."""
        return self._encoder.rank

    @property
    def world_size(self) -> Optional[int]:
        """The ``world_size`` of every batch, or None."""
        return self._encoder.world_size

    def _send(self, frames: List[Any]) -> None:
        if self.closed:
            raise ValueError("this LossClient is closed")
        if self._handshake_mode != "raise":
            self.socket.send_multipart(frames, copy=False)
            return
        # Wait for room in slices, so that a handshake that keeps failing ends the wait.
        deadline = None if self._send_timeout_ms is None else time.monotonic() + self._send_timeout_ms / 1000
        while True:
            if self._watch is not None and self._watch.problem is not None:
                raise HandshakeError(self._watch.problem)
            try:
                self.socket.send_multipart(frames, copy=False, flags=zmq.NOBLOCK)
                return
            except zmq.Again:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
            left_ms = 100 if deadline is None else int((deadline - time.monotonic()) * 1000) + 1
            self.socket.poll(max(1, min(100, left_ms)), zmq.POLLOUT)

    def send(self, y_true: Any, y_pred: Any, step: Optional[int] = None, epoch: Optional[int] = None,
             loss: Optional[Mapping[str, Any]] = None, scores: Optional[str] = None,
             split: Optional[str] = None, profile: Optional[str] = None) -> int:
        """Sends a keras-layout batch (``y_true``, ``y_pred``: ``[B, N, C + 12]``, same dtype and shape).

        ``scores`` is ``"probabilities"`` or ``"logits"`` (absent: lossd's default). Returns the seq.
        """
        if self.closed:
            raise ValueError("this LossClient is closed")
        seq, frames = self._encoder.keras(y_true, y_pred, step=step, epoch=epoch, loss=loss, scores=scores, split=split,
                                          profile=profile)
        self._send(frames)
        return seq

    def send_compact(self, labels: Any, gt_offsets: Any, scores: Any, pred_offsets: Any, step: Optional[int] = None,
                     epoch: Optional[int] = None, loss: Optional[Mapping[str, Any]] = None,
                     scores_kind: Optional[str] = None, split: Optional[str] = None,
                     profile: Optional[str] = None) -> int:
        """Sends a compact-layout batch: ``labels`` int32 ``[B, N]`` (-1 ignore, 0 background,
        1..C-1 class), ``gt_offsets [B, N, 4]``, ``scores [B, N, C]``, ``pred_offsets [B, N, 4]``.

        ``scores_kind`` is ``"probabilities"`` or ``"logits"``. Returns the seq.
        """
        if self.closed:
            raise ValueError("this LossClient is closed")
        seq, frames = self._encoder.compact(labels, gt_offsets, scores, pred_offsets, step=step, epoch=epoch,
                                            loss=loss, scores_kind=scores_kind, split=split, profile=profile)
        self._send(frames)
        return seq

    def send_frames(self, frames: List[Any]) -> None:
        """Sends an already built message as is (e.g. one read back from a recording)."""
        self._send(list(frames))

    def close(self, linger_ms: Optional[int] = None) -> None:
        """Closes the socket; queued messages get ``linger_ms`` (default: the client's) to leave."""
        if self.closed:
            return
        self.closed = True
        if self._watch is not None:
            self._watch.stop()
        self.socket.close(linger=linger_ms)
        if self._owns_context:
            self.context.term()

    def __enter__(self) -> "LossClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        rank = f", rank={self.rank}/{self.world_size}" if self.rank is not None else ""
        return (f"LossClient({self.endpoint!r}, run={self._encoder.run!r}, source={self.source!r}, "
                f"stream={self.stream!r}{rank}, next_seq={self.next_seq})")
