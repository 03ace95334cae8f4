# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/tour
# Tests run in parallel over the machine's cores; CI machines have 2.
PYTEST_WORKERS ?= auto

.PHONY: demo test bench env clean

# The stamp is written only after every install step succeeded, so an interrupted set-up is redone.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install torch==2.14.1 torchvision==0.29.1 \
		|| $(BIN)/python -m pip install "torch>=2.1" "torchvision>=0.16"
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

env: $(VENV)/.installed

# The viewer extra (viser) for `inverse3d view`; the tour does not need it, so a failed install only warns.
$(VENV)/.viewer: $(VENV)/.installed
	$(BIN)/python -m pip install -e ".[viewer]" && touch $@ \
		|| echo "warning: could not install viser: inverse3d view and --viewer are unavailable"

demo: env $(VENV)/.viewer
	$(BIN)/inverse3d tour -o $(OUT)
	@echo "Open $(OUT)/index.html in a browser."

test: env
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) -q

bench: env
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache
