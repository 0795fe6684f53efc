"""Feedback workers as separate processes, a producer, and reads of what they recorded."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from online_learning.events.producers import KafkaSender

CLI = [sys.executable, "-c", "from cli import main; main()"]


def produce(bootstrap: str, topic: str, items: list[dict] | list[tuple[str, bytes]]) -> None:
    """Outcomes to ``topic`` keyed by symbol, as a separate producer would send them."""
    sender = KafkaSender(bootstrap, topic)
    messages = [
        (item[0], item[1], None) if isinstance(item, tuple)
        else (item["symbol"], json.dumps(item).encode(), None)
        for item in items
    ]  # fmt: skip
    sender.send_messages(messages)
    sender.close()


@dataclass
class Deployment:
    """What several workers share: a broker, a database, topics and a group of their own."""

    bootstrap: str
    database_url: str
    home: Path
    topic: str = field(default_factory=lambda: f"trade-outcomes-{uuid.uuid4().hex[:8]}")
    group: str = field(default_factory=lambda: f"feedback-{uuid.uuid4().hex[:8]}")

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}-dlq"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "PREFECT_API_URL"):
            env.pop(name, None)
        env.update(
            ONLINE_LEARNING_HOME=str(self.home),
            ONLINE_LEARNING_DATABASE_URL=self.database_url,
            KAFKA_BOOTSTRAP_SERVERS=self.bootstrap,
            ONLINE_LEARNING_TRADE_OUTCOMES_TOPIC=self.topic,
            ONLINE_LEARNING_TRADE_OUTCOMES_DLQ_TOPIC=self.dlq_topic,
            ONLINE_LEARNING_MODEL_DRIFT_TOPIC=f"{self.topic}-drift",
            ONLINE_LEARNING_FEEDBACK_GROUP=self.group,
        )
        return env


class WorkerProcess:
    """``online-learning feedback-worker --verbose`` in a child; its JSON lines collected."""

    def __init__(
        self,
        deployment: Deployment,
        name: str,
        *args: str,
        any_model: bool = True,
        prefect_api_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.log = deployment.home / f"{name}.log"
        command = [*CLI, "feedback-worker", "--verbose", "--worker-id", name, *args]
        if any_model:
            command.append("--any-model")
        if prefect_api_url is None:
            command.append("--no-notify-prefect")
        child_env = deployment.env() | dict(env or {})
        if prefect_api_url is not None:
            child_env["PREFECT_API_URL"] = prefect_api_url
        self.process = subprocess.Popen(
            command, env=child_env, stdout=subprocess.PIPE,
            stderr=open(self.log, "ab"), text=True, start_new_session=True,  # noqa: SIM115
        )  # fmt: skip
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            line = line.strip()
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def last(self, kind: str = "batch") -> dict | None:
        found = [e for e in self.events if e.get("event") == kind]
        return found[-1] if found else None

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM (the worker records and leaves the group); the exit code."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        code = self.process.wait(timeout_s)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        """SIGKILL: no final recording, no goodbye to the group."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(timeout=5)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def count(engine: sa.Engine, table: str, where: str = "") -> int:
    with engine.connect() as connection:
        query = f"SELECT count(*) FROM {table} {where}"
        return int(connection.execute(sa.text(query)).scalar_one())
