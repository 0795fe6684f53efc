"""The integration's five success metrics, computed from what the platform records.

Model freshness (:mod:`.freshness`), adaptation speed and learning efficiency
(:mod:`.adaptation`), online against batch accuracy and business impact (:mod:`.scores`), all
read from the trade ledger (:mod:`.trades`), the drift and update histories and the champions
a replica serves, and put together by :mod:`.summary`. The definitions are written in each
module's docstring and in ``docs/success-metrics.md``.
"""
