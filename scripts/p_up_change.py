"""How much one update moves p_up on its validation rows: default vs conservative preset."""

import copy

import numpy as np

from online_learning.data import SyntheticMarket
from online_learning.registry.memory import InMemoryRegistry
from online_learning.update.bootstrap import train_and_register
from online_learning.update.config import IncrementalUpdateConfig
from online_learning.update.learner import OnlineLearner
from online_learning.update.window import update_window


def main(lr=None):
    out = {}
    for preset in ("default", "conservative"):
        changes = []
        for seed in (100, 101, 102):
            market = SyntheticMarket(seed=seed, n_days=500)
            days = sorted(market.fetch()["date"].unique())
            reg = InMemoryRegistry()
            train_and_register(
                registry=reg, source=market, model_id="m", end=days[300].date(), epochs=40
            )
            before = copy.deepcopy(reg.load_champion("m").model)
            cfg = IncrementalUpdateConfig.preset(
                preset,
                model_id="m",
                as_of=days[362].date(),
                stability_check=False,
                **({"learning_rate": lr} if lr and preset == "default" else {}),
            )
            OnlineLearner(reg, market).incremental_update(cfg)
            after = reg.load_champion("m").model
            w = update_window(market, data_window=60, validation_days=10, as_of=days[362].date())
            x = w.inputs(w.validation)
            changes.append(float(np.abs(after.predict_proba(x) - before.predict_proba(x)).max()))
        out[preset] = changes
    print(out)


if __name__ == "__main__":
    import sys

    main(float(sys.argv[1]) if len(sys.argv) > 1 else None)
