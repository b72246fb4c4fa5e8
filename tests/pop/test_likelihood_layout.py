"""Layouts of the population likelihood: buckets, segments, padding, prepared rows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _pop_toy import HYPER, MASS_NAMES, as_jax, log_rate_density, sample_masses
from test_likelihood import brute_force, make_selection

from hierax.pop.data import EventSamples
from hierax.pop.likelihood import DiscreteLikelihood, automatic_buckets, even_buckets
from hierax.pop.models import PopulationModel
from hierax.pop.models._numerics import log_power_law_cdf
from hierax.pop.selection import SelectionEstimator

POP_HYPER = {
    "log_rate_0": 3.0, "alpha_pl_0": 2.3, "beta_pl_0": 0.7, "mmin_pl_0": 6.0,
    "mmax_pl_0": 60.0, "log_rate_1": 1.0, "m1_loc_g_0": 30.0, "m1_scale_g_0": 5.0,
    "m1_low_g_0": 10.0, "m1_high_g_0": 60.0, "m2_loc_g_0": 25.0, "m2_scale_g_0": 6.0,
    "m2_low_g_0": 5.0, "m2_high_g_0": 50.0,
}


def odd_catalog(counts=(101, 97, 13, 57, 99, 3, 100)):
    rng = np.random.default_rng(7)
    samples = [np.column_stack(sample_masses(rng, c)) for c in counts]
    priors = [rng.normal(-3.0, 0.5, c) for c in counts]
    return EventSamples.from_list(samples, priors, MASS_NAMES)


def test_automatic_buckets_bound_the_padding():
    rng = np.random.default_rng(0)
    counts = rng.integers(50, 5000, 200)
    for max_padding in (0.0, 0.05, 0.1, 0.5):
        groups = automatic_buckets(counts, max_padding)
        assert sorted(np.concatenate(groups).tolist()) == list(range(counts.size))
        for group in groups:
            padded = counts[group].max() * group.size
            assert padded <= (1 + max_padding) * counts[group].sum() + 1e-9
    assert len(automatic_buckets(np.full(40, 4000))) == 1
    assert [g.size for g in even_buckets(counts, 3)] == [67, 67, 66]


def test_layouts_agree_and_pad_to_a_multiple_of_128(x64):
    """Automatic buckets, n_buckets, a dense block and segments: the same ln L and gradient."""
    events, selection = odd_catalog(), make_selection(num=301)
    hyper = as_jax(HYPER)
    expected = brute_force(events, selection, HYPER)
    likelihoods = [
        DiscreteLikelihood(events, log_rate_density, selection),
        DiscreteLikelihood(events, log_rate_density, selection, n_buckets=3),
        DiscreteLikelihood(events, log_rate_density, selection, max_padding=0.0),
        DiscreteLikelihood(events, log_rate_density, selection, layout="segments"),
    ]
    assert likelihoods[0]._rows.shape[0] % 128 == 0
    grads = []
    for likelihood in likelihoods:
        def value(h, likelihood=likelihood):
            terms = likelihood(h)
            return terms.log_likelihood, terms
        (_, terms), grad = jax.value_and_grad(value, has_aux=True)(hyper)
        np.testing.assert_allclose(terms.log_likelihood, expected["log_l"], rtol=1e-12)
        np.testing.assert_allclose(terms.event_log_likelihoods, expected["event_ll"],
                                   rtol=1e-12)
        np.testing.assert_allclose(terms.event_effective_samples, expected["neff"], rtol=1e-10)
        grads.append(grad)
    for grad in grads[1:]:
        for name in hyper:
            np.testing.assert_allclose(grad[name], grads[0][name], rtol=1e-10, atol=1e-12)
            assert np.isfinite(grad[name])


def test_equal_counts_use_one_dense_bucket(float_dtype):
    events = odd_catalog(counts=(64, 64, 64))
    selection = make_selection(num=129)
    likelihood = DiscreteLikelihood(events, log_rate_density, selection)
    (start, size, width, mask, _), = likelihood._layout.buckets
    assert (start, size, width, mask) == (0, 3, 64, None)
    expected = brute_force(events, selection, HYPER)
    value = likelihood(as_jax(HYPER, float_dtype)).log_likelihood
    rtol = 1e-12 if float_dtype == jnp.float64 else 2e-6
    np.testing.assert_allclose(value, expected["log_l"], rtol=rtol)


def _mass_catalog(model, *, seed, counts, num_draws):
    """Events with ordered masses spread over [3, 70] and selection draws of a power law."""
    rng = np.random.default_rng(seed)
    pairs = [rng.uniform(3.0, 70.0, (c, 2)) for c in counts]
    samples = [np.column_stack([p.max(1), p.min(1)]) for p in pairs]
    events = EventSamples.from_list(samples, [np.zeros(c) for c in counts],
                                    model.parameter_names)
    draws = np.column_stack(sample_masses(rng, num_draws,
                                          {**HYPER, "mmin": 7.0, "mmax": 50.0}))
    selection = SelectionEstimator(theta=draws, log_weight=np.zeros(num_draws),
                                   log_draw_density=np.full(num_draws, -5.0),
                                   total_draws=int(num_draws * 1.3), time=1.0,
                                   parameter_names=model.parameter_names)
    return events, selection


def test_population_model_rows_prepared_once(x64):
    """PopulationModel rows are prepared (log masses) at construction; same value,
    finite gradients, including padding rows and samples outside every component."""
    model = PopulationModel(n_pl=1, n_g=1)
    events, selection = _mass_catalog(model, seed=3, counts=(33, 70, 71), num_draws=77)
    hyper = as_jax(POP_HYPER)
    likelihood = DiscreteLikelihood(events, model, selection)
    assert likelihood._rows.log_masses.shape == (likelihood._rows.theta.shape[0], 2)
    generic = DiscreteLikelihood(events, lambda t, h: model.log_rate_density(t, h), selection)
    assert isinstance(generic._rows, np.ndarray)
    value, grad = jax.value_and_grad(likelihood.log_likelihood)(hyper)
    expected, reference = jax.value_and_grad(generic.log_likelihood)(hyper)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
    for name in hyper:
        assert np.isfinite(grad[name])
        np.testing.assert_allclose(grad[name], reference[name], rtol=1e-9, atol=1e-12)


def test_power_law_cdf_closed_form(float_dtype):
    """log int_low^x t^b dt against the closed form, through b = -1 and for b < -1."""
    log_low = jnp.asarray(np.log(5.0), float_dtype)
    x = np.array([5.05, 5.5, 12.0, 80.0, 400.0])
    for b in (-4.0, -1.5, -1.0 - 1e-4, -1.0, -1.0 + 1e-4, 0.0, 2.5):
        c = b + 1
        expected = np.log(np.log(x / 5.0)) if c == 0 else np.log((x**c - 5.0**c) / c)
        ours = log_power_law_cdf(jnp.asarray(b, float_dtype), log_low,
                                 jnp.log(jnp.asarray(x, float_dtype)))
        tolerance = 1e-10 if float_dtype == jnp.float64 else 2e-5
        np.testing.assert_allclose(ours, expected, rtol=tolerance, atol=tolerance)
    grad = jax.grad(lambda b: jnp.sum(log_power_law_cdf(b, log_low, jnp.log(
        jnp.asarray(x, float_dtype)))))(jnp.asarray(-1.0, float_dtype))
    assert np.isfinite(grad)


def test_bad_layout_arguments():
    events, selection = odd_catalog(), make_selection()
    with pytest.raises(ValueError, match="layout must be 'buckets' or 'segments'"):
        DiscreteLikelihood(events, log_rate_density, selection, layout="dense")
    with pytest.raises(ValueError, match=r"max_padding must lie in \[0, 1\)"):
        DiscreteLikelihood(events, log_rate_density, selection, max_padding=1.5)


@pytest.mark.parametrize("layout", ["buckets", "segments"])
def test_gradient_in_float32_and_no_gradient_through_diagnostics(layout):
    """Exponentials in float32 with float64 sums: the float32 gradient matches a float64
    one; the Monte Carlo diagnostics are constants for differentiation."""
    events, selection = odd_catalog(), make_selection(num=301)
    likelihood = DiscreteLikelihood(events, log_rate_density, selection, layout=layout)

    def gradient(name, dtype):
        hyper = {k: jnp.asarray(v, dtype) for k, v in HYPER.items()}
        return jax.grad(lambda h: getattr(likelihood(h), name))(hyper)

    with jax.enable_x64(True):
        expected = jax.tree.map(np.asarray, gradient("log_likelihood", jnp.float64))
    ours = gradient("log_likelihood", jnp.float32)
    for name in HYPER:
        assert ours[name].dtype == jnp.float32
        scale = max(abs(expected[name]), 1.0)
        np.testing.assert_allclose(ours[name], expected[name], atol=2e-4 * scale)
    for diagnostic in ("log_likelihood_variance", "selection_effective_draws"):
        assert all(float(g) == 0.0 for g in gradient(diagnostic, jnp.float32).values())


class _LoggedPopulation:
    """A population passed through a wrapper of its own: the protocol, not the type,
    decides which paths apply."""

    def __init__(self, model):
        self.model, self.prepared = model, 0

    def log_rate_density(self, theta, hyper):
        return self.model.log_rate_density(theta, hyper)

    def prepare_rows(self, theta):
        self.prepared += 1
        return self.model.prepare_rows(theta)

    def unsupported_samples(self, theta):
        return self.model.unsupported_samples(theta)


def test_population_protocol_keeps_the_fast_paths_of_a_wrapped_population(x64):
    model = PopulationModel(n_pl=1, n_g=1)
    events, selection = _mass_catalog(model, seed=5, counts=(20, 30), num_draws=40)
    wrapped = _LoggedPopulation(model)
    likelihood = DiscreteLikelihood(events, wrapped, selection)
    assert wrapped.prepared == 1 and likelihood.population is wrapped
    direct = DiscreteLikelihood(events, model, selection)
    hyper = as_jax(POP_HYPER)
    np.testing.assert_allclose(likelihood(hyper).log_likelihood,
                               direct(hyper).log_likelihood, rtol=1e-12)
    swapped = EventSamples.from_list([events.event(0)[0][:, ::-1]], None,
                                     model.parameter_names)
    with pytest.raises(ValueError, match="mass_2_source > mass_1_source"):
        DiscreteLikelihood(swapped, wrapped, selection)
    with pytest.raises(TypeError, match="log_rate_density"):
        DiscreteLikelihood(events, object(), selection)
