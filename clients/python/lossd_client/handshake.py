"""Noticing a ZeroMQ handshake that keeps failing: the client and the server disagree about CURVE.

libzmq never tells ``send`` that no connection completes its handshake: messages just wait in the
socket's queue. :class:`HandshakeWatch` reads the socket's monitor events (``zmq_socket_monitor``)
on a thread of its own and, once the handshakes keep failing, names the likely cause: it warns
once (:class:`HandshakeWarning`), and :meth:`LossClient.send` raises :class:`HandshakeError` when
the client was made with ``on_handshake_failure="raise"``.

What libzmq 4.3 reports to a client (measured against Debian's 4.3.4 as the server):

- server requires CURVE, client plain: ``HANDSHAKE_FAILED_PROTOCOL`` (mechanism mismatch) or
  ``HANDSHAKE_FAILED_NO_DETAIL`` (the server hung up first), at every reconnect;
- server plain, client CURVE: the same;
- client given another public key than the server's: ``HANDSHAKE_FAILED_NO_DETAIL``, at every
  reconnect;
- client key not allowed by the server: ``HANDSHAKE_FAILED_AUTH`` with status 400, once (libzmq
  does not reconnect after it).
"""

from __future__ import annotations

import itertools
import threading
import warnings
from typing import Optional

import zmq
from zmq.utils.monitor import parse_monitor_message

# How many failures in a row, without a handshake that succeeded, make "keeps failing" when the
# event itself does not settle the cause (the peer hung up).
REPEATED_FAILURES = 3

_EVENTS = (zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
           | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_MONITOR_STOPPED)
_serial = itertools.count()


class HandshakeError(ConnectionError):
    """The client's connections keep failing the handshake: no batch reaches the server."""


class HandshakeWarning(UserWarning):
    """Issued once per client whose connections keep failing the handshake."""


class HandshakeWatch:
    """Watches one socket's handshakes on a thread that owns the monitor's PAIR socket.

    Create it on the thread that owns ``socket``, before the socket connects; :meth:`stop` it
    there before closing the socket. ``problem`` is the sentence naming the likely cause once the
    handshakes keep failing (None until then); ``failures`` counts every failed handshake.
    """

    def __init__(self, socket: zmq.Socket, endpoint: str, uses_curve: bool, public_key: Optional[str],
                 warn: bool = True) -> None:
        # ``endpoint`` names the server in messages when an event does not (it always does in 4.3).
        self.endpoint = endpoint
        self.uses_curve = uses_curve
        self.public_key = public_key
        self.warn = warn
        self.failures = 0
        self.problem: Optional[str] = None
        self._consecutive = 0
        self._stop = threading.Event()
        self._socket = socket
        address = f"inproc://lossd-client-monitor-{id(self)}-{next(_serial)}"
        socket.monitor(address, _EVENTS)
        self._thread = threading.Thread(target=self._run, args=(socket.context, address),
                                        name="lossd-handshake-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the monitor and its thread (call on the socket's thread, before closing it)."""
        self._stop.set()
        try:
            self._socket.disable_monitor()
        except zmq.ZMQError:
            pass
        self._thread.join(timeout=2)

    def _run(self, context: zmq.Context, address: str) -> None:
        pair = context.socket(zmq.PAIR)
        pair.linger = 0
        try:
            pair.connect(address)
            while not self._stop.is_set():
                if not pair.poll(100):
                    continue
                event = parse_monitor_message(pair.recv_multipart())
                if event["event"] == zmq.EVENT_MONITOR_STOPPED:
                    break
                endpoint = event["endpoint"]
                self._handle(event["event"], event["value"],
                             endpoint.decode(errors="replace") if isinstance(endpoint, bytes) else str(endpoint))
        except zmq.ZMQError:
            pass  # the context is closing
        finally:
            pair.close(linger=0)

    def _handle(self, event: int, value: int, endpoint: str) -> None:
        if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._consecutive = 0
            return
        self.failures += 1
        self._consecutive += 1
        definite = event == zmq.EVENT_HANDSHAKE_FAILED_AUTH or (
            event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        if self.problem is None and (definite or self._consecutive >= REPEATED_FAILURES):
            self.problem = self._cause(event, value, endpoint or self.endpoint)
            if self.warn:
                warnings.warn(self.problem, HandshakeWarning, stacklevel=2)

    def _cause(self, event: int, value: int, endpoint: str) -> str:
        where = f"lossd: handshakes with {endpoint} fail ({self._consecutive} so far) and no batch is delivered"
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return (f"{where}: the server refused this client's CURVE key (status {value}). Add its public key "
                    f"({self.public_key}) to the server's allowed clients (--input-allowed-clients), or give the "
                    f"client a key pair the server allows (curve_public_key, curve_secret_key).")
        if not self.uses_curve:
            return (f"{where}: the server requires CURVE and this client is plain. Give LossClient "
                    f"curve_server_key= the server's public key (read_public_key('sidecar.pub')).")
        if event == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            return (f"{where}: the server is plain and this client uses CURVE. Drop curve_server_key, or start "
                    f"the server with --input-key-file.")
        return (f"{where}: the server closes the connection during the CURVE handshake. curve_server_key is not "
                f"its public key (read it from its .pub file), or the server is plain.")
