"""The ``online-learning`` command line.

Exit codes of ``update``: 0 when every model was promoted, 3 when at least one update was
rolled back (and none failed), 4 when none was rolled back but at least one was deferred (it
waited for new validation days), 1 on an error (bad input, missing model, unreadable data),
2 on a usage error.
"""

from __future__ import annotations

from cli import (  # noqa: F401 - the modules register their commands
    backtest_cmd,
    config_cmd,
    feedback_cmd,
    models_cmd,
    platform_cmd,
    serve_cmd,
    update_cmd,
)
from cli._common import (
    EXIT_DEFERRED,
    EXIT_ERROR,
    EXIT_PROMOTED,
    EXIT_ROLLED_BACK,
    app,
)

__all__ = [
    "EXIT_DEFERRED",
    "EXIT_ERROR",
    "EXIT_PROMOTED",
    "EXIT_ROLLED_BACK",
    "app",
    "main",
]


def main() -> None:
    import os

    import torch

    # What the platform writes (the data folder: databases, pickled checkpoints that run code
    # when loaded, model artifacts, logs, the development key) is its user's alone: folders
    # 0700, files 0600, in this process and the children it starts.
    os.umask(0o077)

    # The models are small: one intra-op thread is as fast on an idle machine, and measured
    # here it kept training ~30x faster than two threads when the other core was busy.
    torch.set_num_threads(int(os.environ.get("ONLINE_LEARNING_TORCH_THREADS", "1")))
    app()
