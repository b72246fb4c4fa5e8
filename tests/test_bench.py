"""The benchmark suite's quick mode runs end to end and writes its JSON and markdown.

Speed is not checked here (CI machines are noisy); only that every figure is
produced, finite where it must be, and that the report says what it measured.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the suite lives in bench/ at the repository root
PEERS = [name for name in ("numpyro", "blackjax") if importlib.util.find_spec(name)]
FIGURES = ("first_run_s", "second_run_s", "compile_s", "min_ess", "ess_per_s_first",
           "ess_per_s_second", "ess_per_gradient", "gradient_evaluations", "divergences",
           "peak_rss_mb", "floor_ratio")


@pytest.fixture(scope="module")
def quick_suite(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "bench.suite", "--quick", "--out", str(out),
               "--models", "eight_schools",
               "--samplers", "hierax", *PEERS]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return out, done


@pytest.mark.slow
def test_quick_suite_writes_json_and_markdown(quick_suite):
    out, done = quick_suite
    results = json.loads((out / "suite_quick.json").read_text())
    assert results["quick"] is True
    assert set(results["models"]) == {"eight_schools"}
    for entry in results["models"].values():
        assert set(entry["samplers"]) == {"hierax", *PEERS}
        for summary in entry["samplers"].values():
            for figure in FIGURES:
                assert math.isfinite(summary[figure]), figure
            assert summary["min_ess"] > 0 and summary["gradient_evaluations"] > 0
            assert 0 < summary["floor_ratio"]
        if "numpyro" in PEERS:
            assert entry["agreement"]["num_compared"] > 0
            assert any(t["target"] == "compile time vs NumPyro" for t in entry["targets"])
        # At least one leapfrog step per warmup iteration and chain.
        settings = entry["settings"]
        assert entry["samplers"]["hierax"]["warmup_gradient_evaluations"] >= (
            settings["num_warmup"] * settings["num_chains"])
    text = (out / "suite_quick.md").read_text()
    assert "### eight schools (non-centered)" in text and "| hierax |" in text
    assert "warmup grads" in text
    assert text.strip() in done.stdout


@pytest.mark.slow
def test_missing_peers_are_skipped(quick_suite, monkeypatch, tmp_path, capsys):
    from bench import suite

    out, _ = quick_suite
    recorded = json.loads((out / "suite_quick.json").read_text())
    record = recorded["models"]["eight_schools"]["records"]["hierax"][0]
    monkeypatch.setattr(suite, "available", lambda sampler: sampler == "hierax")
    monkeypatch.setattr(suite, "run_one", lambda model, sampler, quick, sizes, seed=0: record)
    results = suite.main(["--quick", "--models", "eight_schools", "--out", str(tmp_path)])
    assert results["skipped"] == ["numpyro", "blackjax"]
    assert set(results["models"]["eight_schools"]["samplers"]) == {"hierax"}
    assert results["models"]["eight_schools"]["agreement"] is None
    assert "skipping numpyro: not importable" in capsys.readouterr().err


def test_unknown_model_is_rejected():
    from bench.models.registry import load

    with pytest.raises(ValueError, match="unknown benchmark model 'nope'"):
        load("nope")


def _turning_flags(nuts, sequences, inverse_mass, num_slots=6):
    """Per-leaf U-turn flags of subtrees built leaf by leaf with ``nuts``' checkpoints."""
    import jax
    import jax.numpy as jnp

    # A new function object: jit caches traces per function, and the dimension
    # threshold is read at trace time.
    check = jax.jit(lambda *args: nuts._checkpoint_and_check(*args))
    flags = []
    for momenta in sequences:
        checkpoints = nuts._empty_checkpoints(num_slots, jnp.zeros(momenta.shape[1]))
        total = jnp.zeros(momenta.shape[1])
        for n in range(momenta.shape[0]):
            previous = max(n - 1, 0)
            checkpoints, turning = check(
                checkpoints, jnp.int32(n), momenta[n], momenta[n] * inverse_mass, total,
                momenta[previous], momenta[previous] * inverse_mass)
            flags.append(bool(turning))
            total = total + momenta[n]
    return flags


def test_nuts_completed_block_loop_matches_matrix_checks(monkeypatch):
    """The large-``d`` U-turn checks (a loop over completed slots) decide as the matrix ones."""
    import jax.numpy as jnp
    import numpy as np

    from hierax.infer.kernels import nuts

    rng = np.random.default_rng(3)
    sequences = []
    for _ in range(3):
        angles = np.cumsum(rng.uniform(-0.3, 0.6, 64))
        sequences.append(jnp.asarray(np.stack([np.cos(angles), np.sin(angles)], -1)
                                     + 0.6 * rng.normal(size=(64, 2)), jnp.float32))
    inverse_mass = jnp.array([1.0, 3.0])
    monkeypatch.setattr(nuts, "_ROW_LOOP_MIN_DIMENSION", 10**6)
    matrix = _turning_flags(nuts, sequences, inverse_mass)
    monkeypatch.setattr(nuts, "_ROW_LOOP_MIN_DIMENSION", 1)
    loop = _turning_flags(nuts, sequences, inverse_mass)
    assert loop == matrix
    assert any(matrix) and not all(matrix)
