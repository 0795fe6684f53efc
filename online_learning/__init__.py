"""Online learning for trading models: EWC updates, a Sharpe stability gate, rollback.

The framework-free library. Subpackages: :mod:`online_learning.update` (the update path),
:mod:`online_learning.feedback` (realised outcomes, drift), ``data``, ``registry`` (the MLflow
adapter), ``events`` (the Kafka adapter), ``metrics_store``, ``monitoring``, ``prediction``,
``backtest``. The command line and the embedded services live in the top-level :mod:`cli`
package, which composes this library with ``flows``, ``serving`` and ``feedback``.
"""
