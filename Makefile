# The two commands of the README: `make run` and `make test`. Both create .venv when missing.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# pip on this machine warns about every package missing from its local indexes; hide only that.
PIP_QUIET := 2>&1 | { grep -v 'is ignored: it is neither a file nor a directory' || true; }

export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
# MkDocs' plugins print a banner about a future MkDocs 2 on every build.
export NO_MKDOCS_2_WARNING ?= 1
export DISABLE_MKDOCS_2_WARNING ?= true
export ONLINE_LEARNING_HOME ?= $(CURDIR)/.online-learning

.PHONY: install run test lint format clean promtool test-tools check-rules bench bench-quick vendor reliability docs

install: $(STAMP)

$(STAMP): pyproject.toml serving/client/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(PIP_QUIET)
	# The CPU build of torch first: a looser pin would pull gigabytes of CUDA wheels.
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(PIP_QUIET)
	# The light client distribution (serving/client) first: the platform depends on it.
	$(BIN)/python -m pip install --quiet -e serving/client $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet -e '.[dev]' $(PIP_QUIET)
	touch $@

run: $(STAMP)
	$(BIN)/online-learning up --serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# promtool (Debian's prometheus package) validates and unit-tests the alert rules; the script
# installs it when missing and fails loudly when it cannot.
promtool:
	bash scripts/ensure-promtool.sh >/dev/null

# Debian's chromium (the dashboard's browser tests drive it through Playwright, which cannot
# download a browser here), wrk (load tests of the serving API) and haproxy (the load balancer
# of the replicas, in the benchmark and the test of several hosts). Fails loudly, never skips.
test-tools:
	bash scripts/ensure-packages.sh chromium=chromium chromedriver=chromium-driver wrk=wrk haproxy=haproxy

check-rules: promtool
	promtool check rules monitoring/prometheus/alerts.yml monitoring/prometheus/success.yml
	promtool test rules monitoring/prometheus/alerts_test.yml monitoring/prometheus/success_test.yml

test: $(STAMP) lint promtool test-tools
	$(BIN)/python -m pytest

# The documentation site from docs/ on http://127.0.0.1:8001, offline (make test builds it with
# --strict: tests/test_docs.py).
docs: $(STAMP)
	$(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

# The campaign's experiments alone (make test runs them too): poison pills, real store outages,
# kill -9 loops, supervised children.
reliability: $(STAMP)
	$(BIN)/python -m pytest tests/reliability tests/online_learning/feedback/test_outcome_storage.py

# Timings as medians and ratios against a baseline measured in the same run.
bench: $(STAMP) test-tools
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.serving --only replicas

bench-quick: $(STAMP) test-tools
	$(BIN)/python -m benchmarks.run --quick
	$(BIN)/python -m benchmarks.serving --only replicas --quick

# Fetch the dashboard's vendored chart library again from the npm registry (checked by hash).
# The front-end libraries the pages load, vendored from the npm registry (see the script).
vendor:
	bash scripts/vendor-npm.sh uplot 1.6.32 \
	  'sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==' \
	  MIT serving/dashboard/static/vendor/uplot dist/uPlot.esm.js dist/uPlot.min.css
	bash scripts/vendor-npm.sh swagger-ui-dist 5.36.0 \
	  'sha512-Lt6/Kb0gXmLdiabLhvso4VdJP9V7qJWB0zh0gzeXUV3+CMOTzMmvpJRSXN7EAjfwixwmoi9ezDbLHiexC7lA9A==' \
	  Apache-2.0 serving/api_docs/static/swagger-ui swagger-ui-bundle.js swagger-ui.css

clean:
	rm -rf $(VENV) .online-learning .pytest_cache .ruff_cache .import_linter_cache
