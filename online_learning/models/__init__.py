"""The model contract: what a network is given and returns, and what travels with a version.

``specialist`` (the platform's own network, :class:`RegimeSpecialist`), ``definition`` (the
:class:`ModelDefinition` a registered version carries), ``features`` (feature functions and
the look-ahead check), ``labels`` (targets over a horizon and the market's columns),
``inputs`` (rows or sequences for a network), ``network`` (:class:`ContractNetwork`, a team's
network wrapped with its normalisation and output rule).
"""

from __future__ import annotations

from online_learning.models.specialist import (
    RegimeSpecialist,
    parameters_finite,
    relative_change,
)

__all__ = ["RegimeSpecialist", "parameters_finite", "relative_change"]
