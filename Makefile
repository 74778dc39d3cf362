# The two commands a newcomer needs: `make run` and `make test`. Each does its own setup.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
BUF := node_modules/.bin/buf
PROTOS := $(sort $(wildcard proto/realtime/v1/*.proto))
PYTEST_ARGS ?=
WEB_BUNDLE := src/server/gateway/static/app.js

.PHONY: setup setup-python setup-node setup-system gen check-gen check-wheel go-client lint test test-unit soak-collab run bench breaking clean

setup: setup-python setup-node

setup-python: $(STAMP)
$(STAMP): pyproject.toml setup.py
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip setuptools wheel
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

setup-node: $(NODE_STAMP)
# `npm install`, not `npm ci`: with this machine's npm settings the lock file records only the
# current platform's optional buf binary, and `npm ci` refuses such a lock.
$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages the tests need (speech recordings, OCR, a browser, redis-server).
setup-system:
	@bash scripts/install-system-packages.sh scripts/system-packages.txt

# Regenerate gen/python, gen/ts (buf.gen.yaml: the pinned local protoc-gen-es) and gen/go
# (buf.gen.go.yaml: Debian's protoc-gen-go and protoc-gen-go-grpc) from proto/, then the
# dashboard bundle the gateway serves (built from src/clients/web with esbuild).
gen: $(STAMP) $(NODE_STAMP)
	rm -rf gen/python/realtime
	mkdir -p gen/python/realtime/v1
	touch gen/python/realtime/v1/__init__.py
	$(PY) -m grpc_tools.protoc -Iproto --python_out=gen/python --pyi_out=gen/python \
		--grpc_python_out=gen/python $(PROTOS)
	$(BUF) generate
	$(BUF) generate --template buf.gen.go.yaml
	node src/clients/web/build.mjs

# Fails when the committed generated code differs from what `make gen` writes.
GENERATED := gen $(WEB_BUNDLE)
check-gen: gen
	@git diff --exit-code --stat -- $(GENERATED) || (echo "gen/ is stale: run 'make gen' and commit" >&2; exit 1)
	@test -z "$$(git status --porcelain -- $(GENERATED))" || (git status --porcelain -- $(GENERATED); echo "untracked generated files: run 'make gen' and commit" >&2; exit 1)

# The Go client's command, built offline with Debian's Go packages (make setup-system).
go-client:
	bash scripts/build-go-client.sh $(CURDIR)/build/realtime-go

lint: setup
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy src
	$(BUF) lint
	node_modules/.bin/tsc -p tsconfig.json

# Contracts may not break what landed: compare against the previous commit.
breaking: setup-node
	@if git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:proto 2>/dev/null; then \
		$(BUF) breaking --against '.git#ref=HEAD~1'; \
	else echo "buf breaking: no earlier contract to compare with"; fi

test: setup setup-system
	$(PY) -m pytest -q -p no:cacheprovider -m "not wheel" $(PYTEST_ARGS)

# Build the wheel, install it in a throwaway virtualenv (dependencies from pip's index, cache or
# --find-links), start `realtime-server` from it and check every service is SERVING.
check-wheel: setup-python setup-node
	$(PY) -m pytest -q -p no:cacheprovider tests/e2e/test_wheel_install.py $(PYTEST_ARGS)

# The randomized collaboration suite over 50 seeds (CI runs its two default seeds).
soak-collab: setup setup-system
	REALTIME_COLLAB_CHAOS_COUNT=50 $(PY) -m pytest -q -p no:cacheprovider -s tests/e2e/test_collaboration_chaos.py $(PYTEST_ARGS)

test-unit: setup-python
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

# The hub on its embedded defaults: a durable SQLite broker and a dev JWT secret in the per-user state
# directory ($XDG_STATE_HOME/realtime or ~/.local/state/realtime; REALTIME_DEV_DIR or ARGS=--dev-dir=DIR
# moves it), which the `realtime` CLI finds from any folder. A hub meant for calls starts its speech
# recognisers with it (test hubs leave them to the first call).
run: setup-python
	REALTIME_CONVERSATION_STT_PRESTART=$${REALTIME_CONVERSATION_STT_PRESTART:-true} $(VENV)/bin/realtime-server $(ARGS)

bench: setup
	$(PY) -m bench $(ARGS)

clean:
	rm -rf $(VENV) node_modules .realtime .pytest_cache .mypy_cache .ruff_cache
