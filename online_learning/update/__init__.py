"""The update path: one incremental EWC update of a batch model, its gate and its record.

``config`` (what an update is asked to do), ``window`` (the sliding data window),
``integrity`` (checks of the training rows), ``training`` and ``ewc`` (the loop and its
penalty hook), ``stability_checker`` (the gate), ``incremental_trainer`` (:class:`OnlineLearner`,
which runs the steps), ``outcomes`` (what an update returns), ``service`` (an update recorded
with its event), ``bootstrap`` (training from scratch) and ``performance`` (what trading a
model's predictions earned).
"""
