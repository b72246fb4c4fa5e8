"""examples/eight_schools.py --quick: the funnel shows up centered, not non-centered."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eight_schools.py"


def load_example():
    spec = importlib.util.spec_from_file_location("eight_schools_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eight_schools_example(tmp_path):
    pytest.importorskip("matplotlib")
    runs = load_example().main(["--quick", "--out", str(tmp_path), "--no-progress"])
    (_, centered, _), (_, noncentered, _) = runs
    assert centered.num_divergences > noncentered.num_divergences
    assert noncentered.num_divergences <= 0.01 * 600
    mu = float(noncentered.get_samples()["mu"].mean())
    assert 2.0 < mu < 7.0
    plot = tmp_path / "eight_schools_funnel.png"
    assert plot.exists() and plot.stat().st_size > 1000
