# The README's two commands: `make demo` (main job) and `make test` (tests). Both set up first.
.PHONY: setup setup-dev system-deps demo test bench

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
