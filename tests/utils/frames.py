"""Inputs and labels from a frame of the platform's features, and a specialist trained on one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from online_learning.features import FEATURE_COLUMNS
from online_learning.models import RegimeSpecialist
from online_learning.update.training import train_from_scratch


def xy(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The rows' ten features (float32) and their ``target`` (the network's input and label)."""
    return frame.loc[:, list(FEATURE_COLUMNS)].to_numpy(np.float32), frame["target"].to_numpy()


def trained_specialist(frame: pd.DataFrame, *, epochs: int = 40, seed: int = 0, **options):
    """A :class:`RegimeSpecialist` trained from scratch on ``frame`` as the bootstrap does."""
    torch.manual_seed(seed)
    model = RegimeSpecialist(FEATURE_COLUMNS, **options)
    train_from_scratch(model, *xy(frame), epochs=epochs, seed=seed)
    return model
