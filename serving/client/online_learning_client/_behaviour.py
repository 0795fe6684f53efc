"""What the answer types do beyond holding the server's fields (mixed into ``models``).

The fields come from the API's document (:mod:`online_learning_client.models`, generated);
the few conveniences an agent needs are written here, once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from online_learning_client.models import Component

#: Job statuses after which nothing changes any more (``GET /jobs/{id}``).
FINAL_JOB_STATUSES = frozenset({"promoted", "rolled_back", "deferred", "failed"})


class PredictionBehaviour:
    """A served prediction: ``direction`` is ``up`` when ``p_up > 0.5``, ``confidence`` is
    ``max(p_up, 1 - p_up)`` and ``position`` is ``2 * p_up - 1``, as the platform computes
    them. ``features`` are those the prediction was made from (the server echoes them): a
    trade outcome must carry them."""

    components: list[Component]

    @property
    def batch_model_id(self) -> str | None:
        """The batch component with the largest weight: the model an outcome credits."""
        batch = [c for c in self.components if c.kind == "batch"]
        if not batch:
            return None
        return max(batch, key=lambda c: c.weight).name

    def versions(self) -> dict[str, str | None]:
        """``{component name: version}`` of every contributing model."""
        return {c.name: c.version for c in self.components}


class OutcomeResultBehaviour:
    status: str

    @property
    def ok(self) -> bool:
        """True when the outcome is (now or already) recorded: accepted or duplicate."""
        return self.status in ("accepted", "duplicate")


class JobBehaviour:
    status: str

    @property
    def finished(self) -> bool:
        """The job is final: promoted, rolled_back, deferred or failed."""
        return self.status in FINAL_JOB_STATUSES
