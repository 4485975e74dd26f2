# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
DEMO   := data/demo
DB     := $(DEMO)/gridmap.sqlite

.PHONY: demo test lint format venv bench-deps clean

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

# The sample city, partitioned, its library put on grids, published with a few hundred incidents and
# served. The store is rebuilt each time (it holds only demo data).
demo: $(STAMP)
	$(BIN)/gridmap sample --out $(DEMO)
	$(BIN)/gridmap partition --boundaries $(DEMO)/boundaries.gpkg --addresses $(DEMO)/addresses.csv \
		--barriers $(DEMO)/barriers.gpkg --sites $(DEMO)/sites.gpkg --out $(DEMO)/grids.gpkg
	$(BIN)/gridmap assign --grids $(DEMO)/grids.gpkg --addresses $(DEMO)/addresses.csv \
		--out $(DEMO)/addresses_with_grids.csv
	rm -f $(DB) $(DB)-wal $(DB)-shm
	$(BIN)/gridmap publish --grids $(DEMO)/grids.gpkg --boundaries $(DEMO)/boundaries.gpkg \
		--addresses $(DEMO)/addresses.csv --barriers $(DEMO)/barriers.gpkg --db $(DB) --note "sample city"
	$(BIN)/gridmap incidents simulate --db $(DB) --count 300
	@echo
	@echo "Log in at http://127.0.0.1:5000/login with this admin token (also in $(DEMO)/admin-token.txt):"
	@$(BIN)/gridmap token create --role admin --name demo --db $(DB) 2>/dev/null | tee $(DEMO)/admin-token.txt
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
