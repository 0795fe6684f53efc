"""Online learning for trading models: EWC updates, a Sharpe stability gate, rollback.

Subpackages: :mod:`online_learning.update` (the update path), :mod:`online_learning.feedback`
(realised outcomes, drift), ``data``, ``registry``, ``events``, ``metrics_store``,
``monitoring``, ``backtest``, ``cli``. Modules that used to sit at this level are still
importable under their old names (see :mod:`online_learning._moved`).
"""

from online_learning import _moved

_moved.install()
