"""Send every batch of a Keras ``model.fit`` to lossd (needs TensorFlow; Keras 3 or tf.keras).

Importing this module imports TensorFlow; the rest of lossd_client needs only numpy and pyzmq.

:func:`wrap_loss` takes the loss function the model is compiled with (ssd_keras's
``SSDLoss.compute_loss`` or any other ``loss(y_true, y_pred)``) and returns one that computes
exactly the same value and gradients and, as a side effect inside the training graph, sends that
batch's ``y_true`` and ``y_pred`` to lossd in the keras layout.
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
import tensorflow as tf

from .client import LossClient

__all__ = ["wrap_loss"]


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
