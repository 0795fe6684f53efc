"""The integration's five success metrics, computed from what the platform records.

Model freshness (:mod:`.freshness`), adaptation speed and learning efficiency
(:mod:`.adaptation`), online against batch accuracy and business impact (:mod:`.scores`), all
read from the trade ledger
(:class:`~online_learning.metrics_store.ledger_records.LedgerTrade`), the drift and update
histories and the champions a replica serves, and put together by :mod:`.summary`. The
definitions are written in each module's docstring and in ``docs/success-metrics.md``.
"""

from online_learning.success.adaptation import AdaptationEpisode, adaptation_episodes
from online_learning.success.freshness import Freshness, ServedChampion, freshness
from online_learning.success.scores import (
    BusinessImpact,
    ComponentScore,
    PnlPoint,
    business_impact,
    component_scores,
    pnl_curve,
)
from online_learning.success.summary import Headline, SuccessSummary, read_summary, summarise

__all__ = [
    "AdaptationEpisode",
    "BusinessImpact",
    "ComponentScore",
    "Freshness",
    "Headline",
    "PnlPoint",
    "ServedChampion",
    "SuccessSummary",
    "adaptation_episodes",
    "business_impact",
    "component_scores",
    "freshness",
    "pnl_curve",
    "read_summary",
    "summarise",
]
