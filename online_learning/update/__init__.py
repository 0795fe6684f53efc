"""The update path: one incremental EWC update of a batch model, its gate and its record.

``config`` (:class:`UpdateSettings`, the one declaration of what an update may be told, and
the :class:`IncrementalUpdateConfig` of one update), ``window`` (the sliding data window),
``integrity`` and ``price_checks`` (checks of the rows), ``training`` (the loop; the EWC
penalty hook is :mod:`online_learning.ewc`), ``gate`` (the stability gate), ``learner``
(:class:`OnlineLearner`, which runs the steps), ``run_record`` (what a run logs),
``outcomes`` (what an update returns), ``service`` (an update recorded with its event),
``bootstrap`` (training from scratch) and ``performance`` (what trading a model's
predictions earned).
"""
