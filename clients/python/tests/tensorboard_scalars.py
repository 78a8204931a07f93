#!/usr/bin/env python3
"""Prints, as JSON, every scalar series TensorBoard's own reader (``EventAccumulator``) finds in
one run folder: ``{"tag": [[step, value], …], …}`` after TensorBoard's purging (a restart marker
drops the steps from its step on).

Run in a process of its own: reading event files imports TensorFlow when it is installed, and
TensorFlow beside torch in one process is known to abort.
"""

from __future__ import annotations

import json
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> int:
    accumulator = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0})  # 0: keep every value
    accumulator.Reload()
    scalars = {tag: [[event.step, event.value] for event in accumulator.Scalars(tag)]
               for tag in accumulator.Tags()["scalars"]}
    json.dump(scalars, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
