"""Send every batch of a Keras ``model.fit`` to lossd (needs TensorFlow; Keras 3 or tf.keras).

Importing this module imports TensorFlow; the rest of lossd_client needs only numpy and pyzmq.

:func:`wrap_loss` takes the loss function the model is compiled with (ssd_keras's
``SSDLoss.compute_loss`` or any other ``loss(y_true, y_pred)``) and returns one that computes
exactly the same value and gradients and, as a side effect inside the training graph, sends that
batch's ``y_true`` and ``y_pred`` to lossd in the keras layout.

:class:`StopOnDivergence` is a callback that ends ``model.fit`` cleanly (``model.stop_training``)
once a :class:`~lossd_client.DivergenceWatcher` hears that the run diverges.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf

from .client import LossClient
from .watcher import DivergenceWatcher

__all__ = ["StopOnDivergence", "wrap_loss"]


def wrap_loss(loss_fn: Callable[[Any, Any], Any], client: LossClient, *, scores: Optional[str] = None,
              profile: Optional[str] = None) -> Callable[[Any, Any], Any]:
    """Returns ``loss_fn`` plus a send of ``(y_true, y_pred)`` to lossd for every call.

    The send runs in graph mode (``model.fit``'s ``tf.function``) through ``tf.numpy_function``,
    ordered before the returned loss by a control dependency, so it happens exactly once per
    training step; the returned tensor is ``loss_fn``'s own, passed through ``tf.identity``, so
    the loss value and the gradients are unchanged. ``scores`` (``"probabilities"`` or
    ``"logits"``) and ``profile`` go into every header. The arrays are copied before sending:
    TensorFlow may reuse its buffers once the step moves on. Compile the model with
    ``jit_compile=False``: XLA cannot compile the Python call that sends.
    """

    def send(y_true: np.ndarray, y_pred: np.ndarray) -> np.int64:
        return np.int64(client.send(np.array(y_true, copy=True), np.array(y_pred, copy=True),
                                    scores=scores, profile=profile))

    def wrapped(y_true, y_pred):
        sent = tf.numpy_function(send, [y_true, y_pred], Tout=tf.int64, stateful=True, name="lossd_send")
        value = loss_fn(y_true, y_pred)
        with tf.control_dependencies([sent]):
            return tf.identity(value)

    wrapped.__name__ = getattr(loss_fn, "__name__", "loss")
    return wrapped


class StopOnDivergence(tf.keras.callbacks.Callback):
    """Stops ``model.fit`` after the batch during which the aggregator reported the run diverging.

    ``watcher`` is a :class:`~lossd_client.DivergenceWatcher` of the run the model's batches go
    to. After each training batch the callback looks at ``watcher.diverged`` (no waiting); once it
    is true it sets ``model.stop_training``, so Keras ends the epoch and ``fit`` returns normally
    with its callbacks' ``on_train_end`` run (checkpoints, logs). :attr:`event` then holds the
    aggregator's event and :attr:`stopped_at_batch` the batch after which training stopped;
    ``verbose`` prints one line when it stops. The watcher stays open: close it after ``fit``.
    """

    def __init__(self, watcher: DivergenceWatcher, verbose: bool = True) -> None:
        super().__init__()
        self.watcher = watcher
        self.verbose = verbose
        self.event = None
        self.stopped_at_batch = None

    def on_train_batch_end(self, batch, logs=None):
        if self.event is None and self.watcher.diverged:
            self.event = self.watcher.event
            self.stopped_at_batch = batch
            self.model.stop_training = True
            if self.verbose:
                print(f"lossd: run {self.watcher.run!r} diverged ({(self.event or {}).get('reason')}); "
                      f"stopping after batch {batch}", flush=True)
