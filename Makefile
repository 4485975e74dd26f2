# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO   := data/demo
DB     := $(DEMO)/gridmap.sqlite

.PHONY: demo demo-data test lint format venv bench-deps clean

# Two stamps: the demo needs only the package itself; the tests add the `test` extra.
$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

venv: $(STAMP)

# The sample city, partitioned, its library put on grids, published, then run as a city would:
# the default incident taxonomy, the departments it dispatches to, a staff roster for every grid
# (made up by `gridmap demo-roster`, loaded by the same `gridmap staff import` a city uses) and
# simulated reports from every channel walked through the loop. The store is rebuilt each time
# (it holds only demo data). `demo-data` stops there (tests/test_demo.py runs it on a small city);
# `demo` also serves the map. About a minute on a quiet 2-core machine.
SAMPLE_ARGS ?=
INCIDENTS ?= 400

demo-data: $(STAMP)
	$(BIN)/gridmap sample --out $(DEMO) $(SAMPLE_ARGS)
	$(BIN)/gridmap partition --boundaries $(DEMO)/boundaries.gpkg --addresses $(DEMO)/addresses.csv \
		--barriers $(DEMO)/barriers.gpkg --sites $(DEMO)/sites.gpkg --out $(DEMO)/grids.gpkg
	$(BIN)/gridmap assign --grids $(DEMO)/grids.gpkg --addresses $(DEMO)/addresses.csv \
		--out $(DEMO)/addresses_with_grids.csv
	rm -f $(DB) $(DB)-wal $(DB)-shm
	$(BIN)/gridmap publish --grids $(DEMO)/grids.gpkg --boundaries $(DEMO)/boundaries.gpkg \
		--addresses $(DEMO)/addresses.csv --barriers $(DEMO)/barriers.gpkg --db $(DB) --note "sample city"
	$(BIN)/gridmap taxonomy load gridmap/taxonomy/default.csv --db $(DB)
	$(BIN)/gridmap demo-roster --db $(DB) --out $(DEMO)
	$(BIN)/gridmap department import $(DEMO)/departments.csv --db $(DB)
	$(BIN)/gridmap staff import $(DEMO)/staff.csv --db $(DB)
	$(BIN)/gridmap incidents simulate --db $(DB) --count $(INCIDENTS)
	@$(BIN)/gridmap token create --role admin --name demo --db $(DB) 2>/dev/null > $(DEMO)/admin-token.txt

demo: demo-data
	@echo
	@echo "Log in at http://127.0.0.1:5000/login with this admin token (also in $(DEMO)/admin-token.txt):"
	@cat $(DEMO)/admin-token.txt
	@echo
	$(BIN)/gridmap serve --db $(DB)

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(TEST_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -n 2 -q

# The benchmarks compare with spopt/libpysal: `make bench-deps` once before running them.
bench-deps: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'

clean:
	rm -rf $(VENV) data/demo .pytest_cache
