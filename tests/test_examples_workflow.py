"""The workflow, outlier and JAX-speed examples: quick runs recover what they should.

Each example's ``main(["--quick", "--out", DIR])`` runs once per module (MCMC
compilation dominates the cost); the tests then check its returned values
against the true parameters and the figures it wrote.
"""

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
pytest.importorskip("arviz")
pytest.importorskip("corner")

# ArviZ 0.23 calls a matplotlib helper that matplotlib 3.11 deprecates; not ours to fix.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Passing a dict or None as alias_mapping:DeprecationWarning")

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"


def _load_example(name):
    """Import ``examples/<name>.py`` (its folder on ``sys.path`` for ``_common``)."""
    if str(EXAMPLES_DIR) not in sys.path:
        sys.path.insert(0, str(EXAMPLES_DIR))
    return importlib.import_module(name)


def _run_quick(name, out_dir):
    return _load_example(name).main(["--quick", "--out", str(out_dir)])


def _assert_figures(out_dir, names):
    for name in names:
        path = out_dir / name
        assert path.is_file(), f"{name} was not written"
        assert path.stat().st_size > 1000, f"{name} is (nearly) empty"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("workflow")
    return _run_quick("bayesian_workflow", out_dir), out_dir


@pytest.fixture(scope="module")
def outliers(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("outliers")
    return _run_quick("outliers", out_dir), out_dir


@pytest.fixture(scope="module")
def jax_speed(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("jax_speed")
    return _run_quick("jax_speed", out_dir), out_dir


# -- Bayesian workflow -----------------------------------------------------------------


def test_workflow_truths_inside_90_percent_intervals(workflow):
    table, _ = workflow
    assert set(table) == {"a", "b", "sigma"}
    for name, row in table.items():
        low, high = row["interval"]
        assert low < row["mean"] < high, name
        assert low <= row["truth"] <= high, f"{name}: truth {row['truth']} not in {low, high}"
        assert row["covered"]


def test_workflow_posterior_is_concentrated(workflow):
    # 80 points with noise 0.3: posterior sd of a is about 0.3 / (sqrt(80) * sd(x)) = 0.03,
    # so a 90% interval wider than 0.2 would mean the data were ignored.
    table, _ = workflow
    for row in table.values():
        low, high = row["interval"]
        assert high - low < 0.2


def test_workflow_figures(workflow):
    _, out_dir = workflow
    _assert_figures(out_dir, ["workflow_prior_predictive.png",
                              "workflow_posterior_predictive.png",
                              "workflow_arviz_posterior.png",
                              "workflow_arviz_forest.png"])


def test_workflow_data_come_from_the_model_with_fixed_parameters():
    workflow_module = _load_example("bayesian_workflow")
    x, y = workflow_module.simulate_data()
    assert x.shape == y.shape == (80,)
    residual = y - (1.5 * x - 0.5)
    # sd 0.3 noise: the sample sd of 80 residuals is within 5 standard errors of 0.3
    assert abs(np.std(residual) - 0.3) < 5 * 0.3 / np.sqrt(2 * 80)
    assert abs(np.mean(residual)) < 5 * 0.3 / np.sqrt(80)


# -- Outliers --------------------------------------------------------------------------


def test_mixture_truths_inside_90_percent_intervals(outliers):
    result, _ = outliers
    table = result["mixture"]
    assert set(table) == {"theta", "b_perp", "Q", "bg_mean", "bg_sigma"}
    for name, row in table.items():
        low, high = row["interval"]
        assert low <= row["truth"] <= high, f"{name}: truth {row['truth']} not in {low, high}"
        assert row["covered"]


def test_straight_line_fit_is_biased_by_the_outliers(outliers):
    result, _ = outliers
    # The outliers pull the slope from 1 to about 0.76 (posterior sd 0.03).
    assert result["straight_line"]["m"] < 0.85
    low, high = result["mixture"]["theta"]["interval"]
    assert not low <= np.arctan(result["straight_line"]["m"]) <= high


def test_mixture_identifies_the_outliers(outliers):
    result, _ = outliers
    probability, is_outlier = result["outlier_probability"], result["is_outlier"]
    assert probability.shape == is_outlier.shape == (15,)
    assert np.all((probability >= 0.0) & (probability <= 1.0))
    assert np.mean(probability[is_outlier]) > 0.5
    assert np.mean(probability[~is_outlier]) < 0.5
    # every inlier individually looks like one
    assert np.all(probability[~is_outlier] < 0.5)


def test_outlier_figures(outliers):
    _, out_dir = outliers
    _assert_figures(out_dir, ["outliers_corner.png", "outliers_fit.png"])


# -- JAX speed -------------------------------------------------------------------------


def test_jit_and_vmap_equal_numpy(jax_speed):
    result, _ = jax_speed
    expected = result["colour_numpy"]
    assert expected.shape == result["betas"].shape == (2000,)
    # float32 JAX against float64 NumPy: agreement to float32 rounding
    np.testing.assert_allclose(result["colour_jit"], expected, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(result["colour_vmap"], expected, rtol=1e-5, atol=2e-6)
    np.testing.assert_allclose(result["colour_numpy_loop"], expected, rtol=1e-12)


def test_python_loops_equal_numpy(jax_speed):
    result, _ = jax_speed
    module = _load_example("jax_speed")
    wavelengths = module.wavelength_grid(200)
    expected = module.colour_numpy(result["python_betas"], wavelengths,
                                   *module.filter_curves(wavelengths))
    np.testing.assert_allclose(result["colour_python"], expected, rtol=1e-12, atol=1e-14)


def test_grad_matches_finite_difference(jax_speed):
    result, _ = jax_speed
    autodiff, finite_difference = result["grad_jax"], result["grad_finite_difference"]
    assert np.all(finite_difference > 0)  # bluer as the body gets hotter
    np.testing.assert_allclose(autodiff, finite_difference, rtol=1e-4)


def test_timings_and_figure(jax_speed):
    result, out_dir = jax_speed
    assert len(result["timings"]) == 7
    assert all(seconds > 0 for seconds in result["timings"].values())
    _assert_figures(out_dir, ["jax_speed_spectra.png"])
