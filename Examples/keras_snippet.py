"""Where `send` goes in a Keras (TensorFlow 2) training loop. Not runnable on its own: it shows
the two lines to add to a custom training step of an SSD model.

y_true is what the SSD encoder produced for the batch ([B, N, C + 12]: C one-hot classes, 4
encoded offsets, 8 anchor/variance entries); y_pred is the model's output in the same layout.
"""

import tensorflow as tf

from lossd_client import LossClient

lossd = LossClient(">tcp://127.0.0.1:5555", run="ssd300-voc", split="train")  # the sidecar beside this trainer


@tf.function
def train_step(model, optimizer, loss_fn, images, y_true):
    with tf.GradientTape() as tape:
        y_pred = model(images, training=True)
        loss = loss_fn(y_true, y_pred)
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return y_pred, loss


def fit(model, optimizer, loss_fn, dataset, epochs):
    step = 0
    for epoch in range(epochs):
        for images, y_true in dataset:
            y_pred, _ = train_step(model, optimizer, loss_fn, images, y_true)
            # One message per batch; the arrays are sent without copies. The sidecar computes
            # the exact SSD loss with hard-negative mining and the aggregator averages it.
            lossd.send(y_true.numpy(), y_pred.numpy(), step=step, epoch=epoch)
            step += 1
    lossd.close()
