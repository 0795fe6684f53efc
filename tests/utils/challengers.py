"""Challengers whose quality is known: a version and its mirror image.

A network whose two output rows are swapped predicts ``1 - p_up`` and so takes the opposite
position every day: on a market with a strong signal the original is clearly better than its
mirror, without depending on what an update happens to learn.
"""

from __future__ import annotations

import copy
from datetime import date

import torch
from torch import nn

from online_learning.update.challenger import SINCE_TAG


def mirrored(model: nn.Module) -> nn.Module:
    """A copy of ``model`` whose last two-logit layer has its rows swapped."""
    twin = copy.deepcopy(model)
    last = [m for m in twin.modules() if isinstance(m, nn.Linear) and m.out_features == 2][-1]
    with torch.no_grad():
        last.weight.copy_(last.weight.flip(0))
        last.bias.copy_(last.bias.flip(0))
    return twin


def register(registry, model_id: str, model: nn.Module, *, since: date | None = None) -> str:
    """Register ``model`` as a new version of ``model_id`` with the champion's definition and
    EWC state; with ``since``, as the challenger named after the gate judged through it."""
    champion = registry.load_champion(model_id)
    tags = {"kind": "test"} | ({SINCE_TAG: since.isoformat()} if since else {})
    record = registry.log_candidate(
        model_id=model_id,
        model=model,
        ewc_state=champion.ewc_state,
        definition=champion.definition,
        params={},
        metrics={},
        tags=tags,
        register=True,
    )
    if since is not None:
        registry.name_challenger(model_id=model_id, version=record.version)
    return record.version
