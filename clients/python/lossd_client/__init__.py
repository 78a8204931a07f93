"""Python client for lossd: send SSD loss batches, receive records, write .lossrec recordings."""

from .client import LossClient
from .handshake import HandshakeError, HandshakeWarning
from .keys import read_key_pair, read_public_key
from .launcher import Placement, default_source, detect_placement, new_stream_id
from .recording import MAGIC, MAGIC_V2, RecordingError, Recorder, crc32c, read_recording
from .sink import ResultSink
from .watcher import DivergenceError, DivergenceWatcher
from .wire import PROTOCOL_VERSION, BatchEncoder, build_header, parse_endpoint

__all__ = [
    "LossClient",
    "Placement",
    "detect_placement",
    "default_source",
    "new_stream_id",
    "HandshakeError",
    "HandshakeWarning",
    "Recorder",
    "RecordingError",
    "ResultSink",
    "DivergenceWatcher",
    "DivergenceError",
    "read_recording",
    "read_key_pair",
    "read_public_key",
    "BatchEncoder",
    "build_header",
    "parse_endpoint",
    "PROTOCOL_VERSION",
    "MAGIC",
    "MAGIC_V2",
    "crc32c",
]
__version__ = "0.1.0"
