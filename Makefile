# The README's two commands: `make demo` (main job) and `make test` (tests). Both set up first.
.PHONY: setup setup-dev system-deps demo test bench image up down

setup:
	bash scripts/setup.sh

setup-dev:
	bash scripts/setup.sh --dev

# root + apt: bubblewrap, docker engine + base image (sandbox), chromium + driver (dashboard test)
system-deps:
	bash scripts/install_sandbox_deps.sh
	bash scripts/install_browser.sh

demo: setup
	.venv/bin/ring demo

test: setup-dev system-deps
	.venv/bin/python -m pytest -q

bench: setup-dev
	for b in benchmarks/*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

# Containers (README "Containers"): build the images, then run the stack in the background.
# `docker compose` v2 when the CLI has it, else the standalone docker-compose v2 binary.
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)

image:
	bash scripts/build_images.sh cpu db

# .env holds the secrets compose reads; a first `make up` writes one with random values.
.env:
	umask 077; python3 -c 'import secrets; print(f"RING_API_KEY={secrets.token_urlsafe(24)}\nPOSTGRES_PASSWORD={secrets.token_urlsafe(24)}")' > $@
	@echo "wrote .env (RING_API_KEY, POSTGRES_PASSWORD): clients need its RING_API_KEY"

up: image .env
	$(COMPOSE) up -d --wait
	@echo "serve http://127.0.0.1:$${RING_SERVE_PORT:-8000}/v1  reward http://127.0.0.1:$${RING_REWARD_PORT:-8100}  dashboard http://127.0.0.1:$${RING_DASHBOARD_PORT:-8501}"

down:
	$(COMPOSE) down
