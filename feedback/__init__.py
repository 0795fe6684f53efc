"""The feedback worker: the Kafka adapter of :mod:`online_learning.feedback`.

:mod:`feedback.worker` consumes ``trade-outcomes`` in the consumer group and is the one writer
of the symbols of its partitions; :mod:`feedback.process` runs it with the outbox relay, the
Prefect notifier and the adaptive model manager (``online-learning feedback-worker``).
"""
