"""A seeded simulated market whose predictability changes with bull, bear and sideways regimes.

Each symbol follows a regime path. Within a regime, the next daily log return depends on two
signals computed from past returns only, through coefficients that drift slowly::

    f1(t) = r(t-1) / sigma
    f2(t) = (r(t-1) + ... + r(t-5)) / (sigma * sqrt(5))      (missing history counts as 0)
    r(t)  = mu + sigma * (b1 f1 + b2 f2 + sqrt(max(1 - b1^2 - b2^2, 0.05)) e(t))
    e(t)  = sqrt(rho) m(t) + sqrt(1 - rho) z(t)                m, z ~ N(0, 1)
    b(t)  = clip(base_regime * signal_strength, +-0.45) + d(t),  clipped to +-0.45

where ``mu``, ``sigma`` and ``base`` are those of the current regime (:data:`REGIME_PARAMS`),
``m`` is a **market factor common to every symbol** (``rho = market_correlation``: the
pairwise correlation of two symbols' surprises) and ``d`` a per-symbol random walk with step
``N(0, drift_speed)`` pulled back to 0 by 1 % a day. Bull markets reward momentum, sideways
markets mean reversion, bear markets a mix, so a model that learnt one regime has to adapt when
the regime changes.

How predictable it is
---------------------
At the default ``signal_strength`` of 0.15 the coefficients are 15 % of the regime's base
ones, so the **information coefficient** of the best linear forecast from the features (its
correlation with the return it trades) is, measured on 4000 days of 10 symbols without drift,
0.034 (bull), 0.044 (bear) and 0.064 (sideways) close to close, and 0.027, 0.032 and 0.050 at
the next open: what daily signals on real equities reach (0.02-0.05). ``signal_strength=1``
is the old, far too predictable market (0.25-0.4).

Opens carry the overnight move
------------------------------
A day's return is split into an overnight gap and the session: the gap carries
``overnight_share`` of the expected return and of the variance of the surprise (its own
draws of the factor and of the symbol's noise), the session the rest, so
``open(t) = close(t-1) * exp(gap(t))``. A position taken after the close of ``t`` and filled at
the open of ``t+1`` misses the gap of ``t+1``: at the default share of 0.3 it keeps about 70 %
of the forecastable part. The Sharpe ratios this produces are stated in ``docs/backtest.md``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
import pandas as pd

from online_learning.data.base import (
    CLOSE,
    DATE,
    HIGH,
    LOW,
    OPEN,
    REGIME,
    REGIMES,
    SYMBOL,
    VOLUME,
    conform_prices,
    slice_dates,
)
from online_learning.errors import ConfigError

__all__ = ["REGIMES", "REGIME_PARAMS", "RegimeParams", "SyntheticMarket"]


@dataclass(frozen=True)
class RegimeParams:
    """Daily return parameters of one regime.

    Attributes
    ----------
    mu : float
        Mean daily log return.
    sigma : float
        Daily volatility.
    b1 : float
        Base coefficient on the last return ``f1`` (positive: momentum, negative: reversal).
    b2 : float
        Base coefficient on the 5-day return ``f2``.
    """

    mu: float
    sigma: float
    b1: float
    b2: float


REGIME_PARAMS: Mapping[str, RegimeParams] = MappingProxyType(
    {
        "bull": RegimeParams(mu=0.0006, sigma=0.010, b1=0.20, b2=0.15),
        "bear": RegimeParams(mu=-0.0008, sigma=0.018, b1=-0.25, b2=0.10),
        "sideways": RegimeParams(mu=0.0, sigma=0.008, b1=-0.30, b2=-0.10),
    }
)

#: Default multiplier on the base coefficients: a realistic information coefficient.
DEFAULT_SIGNAL_STRENGTH = 0.15
#: Default correlation of two symbols' daily surprises (a common market factor).
DEFAULT_MARKET_CORRELATION = 0.3
#: Default share of a day's expected return and surprise variance that arrives overnight.
DEFAULT_OVERNIGHT_SHARE = 0.3
MAX_COEFFICIENT = 0.45
MIN_NOISE_SHARE = 0.05
#: Upper bound of |b1| + sqrt(5)|b2|, the sum of the absolute AR coefficients of the return
#: process; keeping it below 1 keeps returns stationary whatever the drift does.
MAX_AR_MASS = 0.95
DRIFT_PULL = 0.01
SIGNAL_WINDOW = 5


class SyntheticMarket:
    """Simulated daily prices of ``n_symbols`` instruments with known regimes.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same arguments always give the same prices.
    n_symbols : int
        Number of instruments, named ``SYN00``, ``SYN01``, ...
    start : str
        First business day (``pandas.bdate_range`` starts on the next business day if needed).
    n_days : int
        Number of business days simulated.
    drift_speed : float
        Standard deviation of the daily step of the coefficient drift; 0 keeps the relation
        between signals and returns fixed within each regime.
    mean_regime_days : float
        Mean length of a regime of the Markov chain (geometric durations).
    signal_strength : float
        Multiplier on the base coefficients (0 makes returns unpredictable noise, 1 the old
        market whose forecasts had an information coefficient of 0.25-0.3).
    market_correlation : float
        Correlation in ``[0, 1)`` of two symbols' daily surprises through a common factor.
    overnight_share : float
        Share in ``[0, 1)`` of each day's expected return and surprise variance that arrives
        between the previous close and the open.
    regime_schedule : sequence of (str, int), optional
        Fixed regime path shared by all symbols, as ``(regime, days)`` segments. A schedule
        shorter than ``n_days`` is repeated cyclically; a longer one is an error. ``None`` lets
        each symbol follow its own Markov chain.
    noise_seed : int, optional
        Seed of the return surprises and the bars alone. ``None`` (the default) derives them
        from ``seed``. Another value gives a **twin** of the market: the same regimes, price
        levels and coefficient drift, other noise; averaging a frozen model's returns over
        twins measures its expected performance under that drift (the drift-speed
        calibration, :mod:`online_learning.backtest.calibration`).

    Notes
    -----
    Prices are generated on the first ``fetch`` and cached; every ``fetch`` slices the same path.
    ``high`` and ``low`` bracket the open and the close with random wicks.
    Besides the contract columns the frame carries ``regime``, the true regime, which a model
    must not see. To keep the return process stationary, ``(b1, b2)`` is scaled down whenever
    ``|b1| + sqrt(5)|b2|`` would exceed :data:`MAX_AR_MASS`; the default parameters never hit
    this bound, only strong drift or a large ``signal_strength`` do.

    Examples
    --------
    >>> market = SyntheticMarket(seed=1, n_symbols=2, n_days=250)
    >>> prices = market.fetch("2015-03-02", "2015-03-04")
    >>> prices[["date", "symbol"]].astype(str).values.tolist()
    [['2015-03-02', 'SYN00'], ['2015-03-03', 'SYN00'], ['2015-03-04', 'SYN00'],
     ['2015-03-02', 'SYN01'], ['2015-03-03', 'SYN01'], ['2015-03-04', 'SYN01']]
    >>> set(prices["regime"]) <= set(REGIMES)
    True
    """

    name = "synthetic"

    def __init__(
        self,
        seed: int = 0,
        n_symbols: int = 6,
        start: str = "2015-01-02",
        n_days: int = 2000,
        drift_speed: float = 0.01,
        mean_regime_days: float = 120.0,
        signal_strength: float = DEFAULT_SIGNAL_STRENGTH,
        regime_schedule: Sequence[tuple[str, int]] | None = None,
        market_correlation: float = DEFAULT_MARKET_CORRELATION,
        overnight_share: float = DEFAULT_OVERNIGHT_SHARE,
        noise_seed: int | None = None,
    ) -> None:
        self.seed = _check_int("seed", seed, minimum=0)
        self.noise_seed = (
            None if noise_seed is None else _check_int("noise_seed", noise_seed, minimum=0)
        )
        self.n_symbols = _check_int("n_symbols", n_symbols, minimum=1)
        self.start = start
        self.n_days = _check_int("n_days", n_days, minimum=2)
        self.drift_speed = _check_float("drift_speed", drift_speed, minimum=0.0)
        self.mean_regime_days = _check_float("mean_regime_days", mean_regime_days, minimum=1.0)
        self.signal_strength = _check_float("signal_strength", signal_strength, minimum=0.0)
        self.regime_schedule = _check_schedule(regime_schedule, self.n_days)
        self.market_correlation = _check_share("market_correlation", market_correlation)
        self.overnight_share = _check_share("overnight_share", overnight_share)
        try:
            self._dates = pd.bdate_range(pd.Timestamp(start), periods=self.n_days).as_unit("ns")
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"start={start!r} is not a valid date") from exc
        self._prices: pd.DataFrame | None = None

    @property
    def symbols(self) -> list[str]:
        """Names of the simulated instruments."""
        return [f"SYN{i:02d}" for i in range(self.n_symbols)]

    def twin(self, noise_seed: int) -> SyntheticMarket:
        """The same market (regimes, levels, coefficient drift) with other noise.

        Examples
        --------
        >>> market = SyntheticMarket(seed=2, n_symbols=1, n_days=50, drift_speed=0.01)
        >>> a, b = market.fetch(), market.twin(7).fetch()
        >>> bool((a["regime"] == b["regime"]).all()), bool((a["close"] == b["close"]).all())
        (True, False)
        """
        twin = copy.copy(self)
        twin.noise_seed = _check_int("noise_seed", noise_seed, minimum=0)
        twin._prices = None
        return twin

    def fetch(self, start: date | str | None = None, end: date | str | None = None) -> pd.DataFrame:
        """Simulated prices between ``start`` and ``end`` inclusive.

        Raises
        ------
        DataError
            If no simulated business day falls in the range.

        Examples
        --------
        >>> market = SyntheticMarket(seed=3, n_symbols=1, n_days=100)
        >>> len(market.fetch()), len(market.fetch(end="2015-01-09"))
        (100, 6)
        """
        if self._prices is None:
            self._prices = self._simulate()
        return slice_dates(self._prices, start, end, origin=f"{self.name} market")

    def __repr__(self) -> str:
        return (
            f"SyntheticMarket(seed={self.seed}, n_symbols={self.n_symbols}, start={self.start!r}, "
            f"n_days={self.n_days}, drift_speed={self.drift_speed}, "
            f"mean_regime_days={self.mean_regime_days}, signal_strength={self.signal_strength}, "
            f"regime_schedule={self.regime_schedule!r}, "
            f"market_correlation={self.market_correlation}, "
            f"overnight_share={self.overnight_share}, noise_seed={self.noise_seed})"
        )

    def _simulate(self) -> pd.DataFrame:
        # Independent child streams: the regime path consumes a variable number of draws, and
        # this keeps the return noise identical across regime and drift settings for a seed.
        regime_rng, level_rng, noise_rng, drift_rng, bar_rng = np.random.default_rng(
            self.seed
        ).spawn(5)
        if self.noise_seed is not None:
            noise_rng, bar_rng = np.random.default_rng([self.noise_seed, self.seed]).spawn(2)
        regimes = self._regime_paths(regime_rng)  # (n_days, n_symbols) of regime indices
        levels = level_rng.uniform(50.0, 150.0, size=self.n_symbols)
        returns, gaps = self._returns(regimes, noise_rng, drift_rng)
        close = levels * np.exp(np.cumsum(returns, axis=0))
        sigma = np.array([REGIME_PARAMS[r].sigma for r in REGIMES])[regimes]
        bars = _bars(close, levels, gaps, returns, sigma, bar_rng)
        n, k = close.shape
        frame = pd.DataFrame(
            {
                DATE: np.tile(self._dates.to_numpy(), k),
                SYMBOL: np.repeat(self.symbols, n),
                CLOSE: close.T.ravel(),
                **{column: values.T.ravel() for column, values in bars.items()},
                REGIME: np.asarray(REGIMES)[regimes.T.ravel()],
            }
        )
        return conform_prices(frame, origin=f"{self.name} market")

    def _regime_paths(self, rng: np.random.Generator) -> np.ndarray:
        n, k = self.n_days, self.n_symbols
        if self.regime_schedule is not None:
            path = np.concatenate(
                [np.full(days, REGIMES.index(regime)) for regime, days in self.regime_schedule]
            )
            path = np.resize(path, n)  # np.resize repeats the schedule cyclically
            return np.repeat(path[:, None], k, axis=1)
        paths = np.empty((n, k), dtype=np.int64)
        p_switch = 1.0 / self.mean_regime_days
        for j in range(k):
            t, current = 0, int(rng.integers(len(REGIMES)))
            while t < n:
                length = int(rng.geometric(p_switch))
                paths[t : t + length, j] = current
                t += length
                current = (current + int(rng.integers(1, len(REGIMES)))) % len(REGIMES)
        return paths

    def _returns(
        self, regimes: np.ndarray, noise_rng: np.random.Generator, drift_rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Daily log returns and the overnight gaps they contain, both ``(n_days, n_symbols)``."""
        n, k = regimes.shape
        table = [REGIME_PARAMS[r] for r in REGIMES]
        mu = np.array([p.mu for p in table])[regimes]
        sigma = np.array([p.sigma for p in table])[regimes]
        base = np.clip(
            np.array([[p.b1, p.b2] for p in table]) * self.signal_strength,
            -MAX_COEFFICIENT,
            MAX_COEFFICIENT,
        )[regimes]  # (n, k, 2)
        # Overnight and session surprises, each a common factor plus the symbol's own noise.
        rho, share = self.market_correlation, self.overnight_share
        factor = noise_rng.standard_normal((n, 2, 1))
        own = noise_rng.standard_normal((n, 2, k))
        surprise = math.sqrt(rho) * factor + math.sqrt(1.0 - rho) * own
        eps = math.sqrt(share) * surprise[:, 0] + math.sqrt(1.0 - share) * surprise[:, 1]
        steps = drift_rng.standard_normal((n, k, 2)) * self.drift_speed
        returns = np.zeros((n, k))
        gaps = np.zeros((n, k))
        drift = np.zeros((k, 2))
        for t in range(n):
            # d may roam further than b so that b can reach any value within the clip.
            drift = np.clip(
                (1.0 - DRIFT_PULL) * drift + steps[t], -2 * MAX_COEFFICIENT, 2 * MAX_COEFFICIENT
            )
            b = np.clip(base[t] + drift, -MAX_COEFFICIENT, MAX_COEFFICIENT)
            mass = np.abs(b[:, 0]) + math.sqrt(SIGNAL_WINDOW) * np.abs(b[:, 1])
            b *= np.minimum(1.0, MAX_AR_MASS / np.maximum(mass, 1e-12))[:, None]
            last = returns[t - 1] if t >= 1 else np.zeros(k)
            window = returns[max(t - SIGNAL_WINDOW, 0) : t].sum(axis=0)
            f1 = last / sigma[t]
            f2 = window / (sigma[t] * math.sqrt(SIGNAL_WINDOW))
            noise = np.sqrt(np.maximum(1.0 - b[:, 0] ** 2 - b[:, 1] ** 2, MIN_NOISE_SHARE))
            expected = mu[t] + sigma[t] * (b[:, 0] * f1 + b[:, 1] * f2)
            returns[t] = expected + sigma[t] * noise * eps[t]
            gaps[t] = share * expected + sigma[t] * noise * math.sqrt(share) * surprise[t, 0]
        return returns, gaps


def _bars(
    close: np.ndarray,
    levels: np.ndarray,
    gaps: np.ndarray,
    returns: np.ndarray,
    sigma: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Open (the previous close moved by the overnight gap), high, low and volume."""
    previous = np.vstack([levels[None, :], close[:-1]])
    open_ = previous * np.exp(gaps)
    wick_up = np.abs(0.5 * sigma * rng.standard_normal(close.shape))
    wick_down = np.abs(0.5 * sigma * rng.standard_normal(close.shape))
    high = np.maximum(open_, close) * np.exp(wick_up)
    low = np.minimum(open_, close) * np.exp(-wick_down)
    base_volume = rng.uniform(5e5, 5e6, size=close.shape[1])
    # Volume rises with the size of the move, as on real exchanges.
    volume = (
        base_volume
        * np.exp(0.3 * rng.standard_normal(close.shape))
        * (1.0 + 20.0 * np.abs(returns))
    )
    return {OPEN: open_, HIGH: high, LOW: low, VOLUME: np.round(volume)}


def _check_int(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_float(name: str, value: object, *, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be a finite number >= {minimum}, got {value}")
    return float(value)


def _check_share(name: str, value: object) -> float:
    share = _check_float(name, value, minimum=0.0)
    if share >= 1.0:
        raise ConfigError(f"{name} must be in [0, 1), got {share}")
    return share


def _check_schedule(
    schedule: Sequence[tuple[str, int]] | None, n_days: int
) -> tuple[tuple[str, int], ...] | None:
    if schedule is None:
        return None
    if isinstance(schedule, str | bytes) or len(schedule) == 0:
        raise ConfigError("regime_schedule must be a non-empty sequence of (regime, days) pairs")
    segments = []
    for i, segment in enumerate(schedule):
        try:
            regime, days = segment
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"regime_schedule[{i}] must be a (regime, days) pair") from exc
        if regime not in REGIMES:
            raise ConfigError(
                f"regime_schedule[{i}]: unknown regime {regime!r}; use one of {REGIMES}"
            )
        segments.append((regime, _check_int(f"regime_schedule[{i}] days", days, minimum=1)))
    total = sum(days for _, days in segments)
    if total > n_days:
        raise ConfigError(f"regime_schedule covers {total} days, more than n_days={n_days}")
    return tuple(segments)
