"""``train``, ``rollback`` and ``models``: the registry side of the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli._common import (
    DataOpt,
    ModelIds,
    SeedOpt,
    app,
    configuration,
    console,
    fail,
    fmt,
    parse_date,
    progress,
    registry,
    source,
)
from online_learning.errors import DataError, OnlineLearningError


def train_models(model_ids, data, seed, start, end, holdout_days, epochs, learning_rate, promote):
    """Train ``model_ids`` from scratch, each as configured and on its own data unless ``data``
    says otherwise; print a table, return the results."""
    from online_learning.configuration.plans import training_plan
    from online_learning.update.bootstrap import train_and_register

    models_registry, models, markets = registry(), configuration(), {}
    plans = [training_plan(models, model_id, data=data) for model_id in model_ids]
    for plan in plans:  # every source resolved (and its errors said) before training starts
        if plan.data not in markets:
            markets[plan.data] = source(plan.data, seed)
    results = []
    with progress() as bar:
        for plan in plans:
            market, model_id, last = markets[plan.data], plan.definition.model_id, end
            if holdout_days:
                dates = market.fetch(start, end)["date"].drop_duplicates().sort_values()
                if len(dates) <= holdout_days:
                    raise DataError(
                        f"{market.name}: only {len(dates)} days of data, cannot hold out "
                        f"{holdout_days}"
                    )
                last = dates.iloc[-holdout_days - 1].date()
            task = bar.add_task(f"training {model_id} from scratch", total=None)
            results.append(
                train_and_register(
                    registry=models_registry,
                    source=market,
                    model_id=model_id,
                    definition=plan.definition,
                    where=plan.origin,
                    start=start,
                    end=last,
                    epochs=epochs,
                    learning_rate=learning_rate,
                    seed=seed,
                    promote=promote,
                )
            )
            bar.remove_task(task)
    table = Table(title="Full retrain")
    for column in ("model", "version", "champion", "rows", "period", "train loss",
                   "train Sharpe", "time s"):  # fmt: skip
        table.add_column(column)
    for r in results:
        table.add_row(
            r.model_id, r.version, "yes" if r.promoted else "no", str(r.n_train),
            f"{r.start}..{r.end}", fmt(r.train_loss), fmt(r.train_sharpe), fmt(r.duration_s, ".1f"),
        )  # fmt: skip
    console.print(table)
    return results


@app.command()
def train(
    model_ids: ModelIds = None,
    data: DataOpt = None,
    seed: SeedOpt = 0,
    start: Annotated[str | None, typer.Option(help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day (YYYY-MM-DD).")] = None,
    holdout_days: Annotated[
        int, typer.Option(min=0, help="Leave the last N trading days out of training.")
    ] = 0,
    epochs: Annotated[int, typer.Option(min=1)] = 40,
    learning_rate: Annotated[
        float, typer.Option("--learning_rate", "--learning-rate", min=0.0)
    ] = 1e-3,
    promote: Annotated[bool, typer.Option(help="Make the new version champion.")] = True,
) -> None:
    """Train models from scratch on a period (bootstrap or full retrain) and register them.

    Without --model_id: every configured model (see --config). Each trains as its
    configuration defines it (network, features, target, horizon) on its own data.
    """
    try:
        train_models(
            model_ids or configuration().ids, data, seed, parse_date(start, "--start"),
            parse_date(end, "--end"), holdout_days, epochs, learning_rate, promote,
        )  # fmt: skip
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc


@app.command()
def rollback(
    model_id: Annotated[str, typer.Option("--model_id", "--model-id", "-m")],
) -> None:
    """Move ``champion`` back to the version it replaced."""
    try:
        promotion = registry().rollback(model_id=model_id)
    except OnlineLearningError as exc:
        raise fail(str(exc)) from exc
    console.print(f"{model_id}: champion v{promotion.previous_version} -> v{promotion.version}")


@app.command()
def models() -> None:
    """List registered models, their champion and challenger versions."""
    table = Table(title="Registered models")
    for column in ("model", "champion", "challenger", "regime"):
        table.add_column(column)
    for row in registry().list_models():
        table.add_row(
            row["model_id"], fmt(row["champion"]), fmt(row.get("challenger")), fmt(row["regime"])
        )
    console.print(table)
