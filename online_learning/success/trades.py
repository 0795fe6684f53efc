"""Moved to :mod:`online_learning.metrics_store.ledger_records` (kept while the backtest's
modules move their imports)."""

from online_learning.metrics_store.ledger_records import *  # noqa: F403
from online_learning.metrics_store.ledger_records import __all__  # noqa: F401
