# The two commands of the README are `make dev` and `make test`; both install what they need first.
# Tools come from the pinned files only: uv.lock (Python, via uv) and package-lock.json (restate-server + CLI).

UV_VERSION := 0.13.9
UV := .tools/bin/uv
PY := .venv/bin/python
PATTERNS ?=
NODES ?= 1
PYTEST_ARGS ?=
# pytest-xdist workers (tests/conftest.py keeps each test module on one worker, the README walkthroughs on one).
# `python -P`: the repository root is not put first on a worker's sys.path, so the `queue` folder never shadows
# the standard library's `queue` in the test process (tests/queue checks it).
WORKERS ?= 3
XDIST = --tx "$(WORKERS)*popen//python=$(PY) -P" --dist loadscope

export UV_PYTHON_DOWNLOADS := never
export RESTATE_DISABLE_TELEMETRY := true
# Every test and pattern is a new Python process: without cached bytecode each one compiles its imports again
# (~1.5 s of CPU instead of ~0.7). uv compiles the dependencies at install; Python caches our own modules.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install dev test lint typecheck pytest bench clean

install: .venv/.synced node_modules/.installed

$(UV):
	python3 -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# Re-synced when the lock changes or a pattern folder appears (the editable install maps packages).
.venv/.synced: pyproject.toml uv.lock $(wildcard */__init__.py) | $(UV)
	$(UV) sync --locked --quiet --compile-bytecode
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

## make dev [PATTERNS="durablerpc sagas"] [NODES=3]: restate-server (or a cluster) + every pattern, registered.
dev: install
	$(PY) -m patterns dev --nodes $(NODES) $(PATTERNS)

## make test: lint, type check, then the whole test suite (and the pattern tests again, always replaying).
test: install lint typecheck pytest

lint: install
	.venv/bin/ruff format --check .
	.venv/bin/ruff check .

typecheck: install
	.venv/bin/mypy .

pytest: install
	.venv/bin/pytest $(XDIST) $(PYTEST_ARGS)
	.venv/bin/pytest $(XDIST) --always-replay -m "not slow and not cluster" --ignore=tests/toolkit --ignore=tests/hostile/test_bad_input.py -q $(PYTEST_ARGS)

## make bench: Python services (hypercorn and granian serving) against the same handlers on the JS SDK.
bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(PY) -m bench

clean:
	rm -rf .venv .tools node_modules .restate .pytest_cache .mypy_cache .ruff_cache
