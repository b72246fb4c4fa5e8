# Benchmarks (install the peers first: pip install -e '.[bench]').
PYTHON ?= python

.PHONY: bench bench-quick

bench:
	$(PYTHON) -m bench.suite --out bench/results

bench-quick:
	$(PYTHON) -m bench.suite --quick --out bench/results
