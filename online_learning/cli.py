"""The ``online-learning`` command line.

Exit codes of ``update``: 0 when every model was promoted, 3 when at least one update was
rolled back (and none failed), 1 on an error (bad input, missing model, unreadable data),
2 on a usage error.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from online_learning.errors import OnlineLearningError

EXIT_PROMOTED = 0
EXIT_ERROR = 1
EXIT_ROLLED_BACK = 3

app = typer.Typer(
    help="Online learning for trading models: EWC updates, a Sharpe gate, rollback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
# Piped output (CI logs, `make run | tee`) gets a fixed width instead of rich's 80 columns.
console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True)

DEFAULT_MODELS = ["bull_specialist", "bear_specialist", "sideways_specialist"]

ModelIds = Annotated[
    list[str] | None,
    typer.Option("--model_id", "--model-id", "-m", help="Model id; repeat for several."),
]
DataOpt = Annotated[
    str,
    typer.Option(
        "--data",
        envvar="ONLINE_LEARNING_DATA",
        help="Market data: 'synthetic', 'sp500', or a CSV/Parquet file path.",
    ),
]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the synthetic market and training.")]


@app.callback()
def _global(
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="ONLINE_LEARNING_HOME", help="Data directory."),
    ] = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option("--mlflow-tracking-uri", envvar="MLFLOW_TRACKING_URI", help="MLflow server."),
    ] = None,
) -> None:
    from online_learning.settings import get_settings

    # MLflow logs schema migrations and the like at INFO; the tables below say what happened.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    if home is not None:
        os.environ["ONLINE_LEARNING_HOME"] = str(home)
    if tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    get_settings.cache_clear()


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(EXIT_ERROR)


def _registry():
    from online_learning.registry import MlflowRegistry
    from online_learning.settings import get_settings

    return MlflowRegistry.from_settings(get_settings())


def _source(spec: str, seed: int):
    from online_learning.data import resolve_source

    return resolve_source(spec, seed=seed)


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def _fmt(value: object, spec: str = ".3f") -> str:
    if isinstance(value, float):
        return "-" if value != value else format(value, spec)
    return "-" if value is None else str(value)


def _train(model_ids, data, seed, start, end, holdout_days, epochs, learning_rate, promote):
    from online_learning.bootstrap import train_and_register

    registry, source = _registry(), _source(data, seed)
    if holdout_days:
        dates = source.fetch(start, end)["date"].drop_duplicates().sort_values()
        if len(dates) <= holdout_days:
            raise OnlineLearningError(
                f"only {len(dates)} days of data, cannot hold out {holdout_days}"
            )
        end = dates.iloc[-holdout_days - 1].date()
    results = []
    with _progress() as progress:
        for model_id in model_ids:
            task = progress.add_task(f"training {model_id} from scratch", total=None)
            results.append(
                train_and_register(
                    registry=registry,
                    source=source,
                    model_id=model_id,
                    start=start,
                    end=end,
                    epochs=epochs,
                    learning_rate=learning_rate,
                    seed=seed,
                    promote=promote,
                )
            )
            progress.remove_task(task)
    table = Table(title="Full retrain")
    for column in (
        "model",
        "version",
        "champion",
        "rows",
        "period",
        "train loss",
        "train Sharpe",
        "time s",
    ):
        table.add_column(column)
    for r in results:
        table.add_row(
            r.model_id,
            r.version,
            "yes" if r.promoted else "no",
            str(r.n_train),
            f"{r.start}..{r.end}",
            _fmt(r.train_loss),
            _fmt(r.train_sharpe),
            _fmt(r.duration_s, ".1f"),
        )
    console.print(table)
    return results


@app.command()
def train(
    model_ids: ModelIds = None,
    data: DataOpt = "synthetic",
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
    """Train models from scratch on a period (bootstrap or full retrain) and register them."""
    try:
        _train(
            model_ids or DEFAULT_MODELS,
            data,
            seed,
            _date(start, "--start"),
            _date(end, "--end"),
            holdout_days,
            epochs,
            learning_rate,
            promote,
        )
    except OnlineLearningError as exc:
        raise _fail(str(exc)) from exc


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"expected YYYY-MM-DD, got {value!r}", param_hint=option) from exc


def _update(model_ids, data, seed, as_of, options) -> list:
    from online_learning.config import IncrementalUpdateConfig
    from online_learning.incremental_trainer import OnlineLearner

    configs = [
        IncrementalUpdateConfig(model_id=m, as_of=as_of, seed=seed, **options) for m in model_ids
    ]
    registry, source = _registry(), _source(data, seed)
    outcomes = []
    with _progress() as progress:
        task = progress.add_task("update", total=None)
        learner = OnlineLearner(
            registry, source, progress=lambda msg: progress.update(task, description=msg)
        )
        for config in configs:
            outcomes.append(learner.incremental_update(config))
    return outcomes


def _print_outcomes(outcomes) -> None:
    table = Table(title="Incremental update")
    columns = (
        "model",
        "decision",
        "champion",
        "Sharpe pre",
        "Sharpe post",
        "degr. %",
        "train/val rows",
        "time s",
        "reason",
    )
    for column in columns:
        table.add_column(column)
    for o in outcomes:
        version = o.version if o.promoted else o.champion_version
        colour = "green" if o.promoted else "yellow"
        table.add_row(
            o.model_id,
            f"[{colour}]{o.decision}[/]",
            f"v{version}",
            _fmt(o.sharpe_pre),
            _fmt(o.sharpe_post),
            _fmt(o.degradation_pct, "+.1f"),
            f"{o.n_train}/{o.n_validation}",
            _fmt(o.duration_s, ".2f"),
            o.reason,
        )
    console.print(table)
    for o in outcomes:
        if not o.promoted:
            console.print(f"  {o.model_id}: {o.detail}; champion stays at v{o.champion_version}")


def _exit_code(outcomes) -> int:
    return EXIT_PROMOTED if all(o.promoted for o in outcomes) else EXIT_ROLLED_BACK


@app.command()
def update(
    model_ids: ModelIds = None,
    data_window_days: Annotated[
        int, typer.Option("--data_window_days", "--data-window-days", help="30 to 90.")
    ] = 60,
    learning_rate: Annotated[float, typer.Option("--learning_rate", "--learning-rate")] = 1e-5,
    ewc_lambda: Annotated[float, typer.Option("--ewc_lambda", "--ewc-lambda")] = 1000.0,
    stability_check: Annotated[
        bool,
        typer.Option(
            "--stability_check/--no_stability_check", "--stability-check/--no-stability-check"
        ),
    ] = True,
    min_sharpe_threshold: Annotated[
        float, typer.Option("--min_sharpe_threshold", "--min-sharpe-threshold")
    ] = 0.95,
    epochs: Annotated[int, typer.Option()] = 10,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Last day of data to use.")] = None,
    data: DataOpt = "synthetic",
    seed: SeedOpt = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print outcomes as JSON.")] = False,
) -> None:
    """Incrementally update models with EWC; promote or roll back each one.

    Exit code 0: all promoted; 3: at least one rolled back; 1: error.
    """
    options = {
        "data_window": data_window_days,
        "learning_rate": learning_rate,
        "ewc_lambda": ewc_lambda,
        "stability_check": stability_check,
        "min_sharpe_threshold": min_sharpe_threshold,
        "epochs": epochs,
    }
    try:
        outcomes = _update(
            model_ids or DEFAULT_MODELS, data, seed, _date(as_of, "--as-of"), options
        )
    except OnlineLearningError as exc:
        raise _fail(str(exc)) from exc
    if as_json:
        typer.echo(json.dumps([o.to_dict() for o in outcomes], indent=2))
    else:
        _print_outcomes(outcomes)
    raise typer.Exit(_exit_code(outcomes))


@app.command()
def rollback(
    model_id: Annotated[str, typer.Option("--model_id", "--model-id", "-m")],
) -> None:
    """Move ``champion`` back to the version it replaced."""
    try:
        promotion = _registry().rollback(model_id=model_id)
    except OnlineLearningError as exc:
        raise _fail(str(exc)) from exc
    console.print(f"{model_id}: champion v{promotion.previous_version} -> v{promotion.version}")


@app.command()
def models() -> None:
    """List registered models and their champion versions."""
    table = Table(title="Registered models")
    for column in ("model", "champion", "regime"):
        table.add_column(column)
    for row in _registry().list_models():
        table.add_row(row["model_id"], _fmt(row["champion"]), _fmt(row["regime"]))
    console.print(table)


@app.command()
def up(
    data: DataOpt = "synthetic",
    seed: SeedOpt = 0,
    holdout_days: Annotated[int, typer.Option(min=0, help="Days kept out of the bootstrap.")] = 60,
) -> None:
    """Bootstrap the specialists if the registry has none, then run one daily update round."""
    from online_learning.settings import get_settings

    settings = get_settings()
    console.print(f"data directory: {settings.home}\nMLflow: {settings.tracking_uri}")
    try:
        registry = _registry()
        missing = [m for m in DEFAULT_MODELS if registry.champion_version(m) is None]
        if missing:
            console.print(f"bootstrapping {', '.join(missing)} on {data} (seed {seed})")
            _train(missing, data, seed, None, None, holdout_days, 40, 1e-3, True)
        outcomes = _update(DEFAULT_MODELS, data, seed, None, {})
    except OnlineLearningError as exc:
        raise _fail(str(exc)) from exc
    _print_outcomes(outcomes)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
