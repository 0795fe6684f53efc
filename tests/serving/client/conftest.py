"""Fixtures of the SDK tests: predictions as the API serves them, market features."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from online_learning.feedback.simulator import SimulatedMarket
from online_learning_client import Prediction
from tests.utils.api_keys import KEYS
from tests.utils.live_server import LiveServer


@pytest.fixture(scope="session")
def market_day() -> list:
    """One trading day of the seeded simulated market (three symbols, real features)."""
    market = SimulatedMarket(3, seed=11, schedule=[("bull", 5)])
    return next(market.days())


@pytest.fixture
def make_prediction(market_day) -> Callable[..., Prediction]:
    """``make_prediction(p_up, weights={model: weight}, online=None)``: the JSON of
    ``POST /predictions`` for SIM0, read back by the SDK (with the features it sent)."""

    def make(
        p_up: float,
        *,
        weights: dict[str, float] | None = None,
        online: float | None = None,
        symbol: str = "SIM0",
    ) -> Prediction:
        weights = weights or {"bull_specialist": 0.7, "sideways_specialist": 0.3}
        components = [
            {"name": name, "kind": "batch", "version": "1", "weight": w, "p_up": p_up}
            for name, w in weights.items()
        ]
        if online is not None:
            components.append(
                {"name": "online", "kind": "online", "version": "s-1", "weight": online,
                 "p_up": p_up}
            )  # fmt: skip
        body = {
            "prediction_id": uuid.uuid4().hex,
            "symbol": symbol,
            "p_up": p_up,
            "direction": "up" if p_up > 0.5 else "down",
            "confidence": max(p_up, 1 - p_up),
            "position": 2 * p_up - 1,
            "strategy": "ensemble",
            "regime": "bull",
            "components": components,
            "session": None,
            "served_at": "2026-01-05T21:00:00.000000Z",
        }
        tick = next(t for t in market_day if t.symbol == symbol)
        return Prediction.model_validate({**body, "features": tick.features})

    return make


# -- a live platform: the real app under uvicorn on a loopback port --------------------------
@pytest.fixture
def feature_champions(registry) -> dict[str, str]:
    """The three specialists on the platform's ten features, promoted (predictions from bars
    work); ``{model_id: champion version}``."""
    from tests.utils.registries import register_specialists

    return register_specialists(registry)


@pytest.fixture
def platform_settings(home):
    from pydantic import SecretStr

    from serving.settings import ServingSettings

    return ServingSettings(api_keys=SecretStr(KEYS), registry_poll_s=0.5)


@pytest.fixture
def live(platform_settings, feature_champions) -> LiveServer:
    """The platform serving the three champions on a loopback port."""
    server = LiveServer(platform_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def market_prices():
    """Seeded daily closes of three symbols (bull market), ``date, symbol, close``."""
    return SimulatedMarket(["SIM0", "SIM1", "SIM2"], seed=5, schedule=[("bull", 40)]).prices()
