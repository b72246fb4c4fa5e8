"""The one-pass likelihood of a single sharp power law against the generic path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.pop.data import EventSamples
from hierax.pop.likelihood import DiscreteLikelihood
from hierax.pop.models import PopulationModel
from hierax.pop.selection import SelectionEstimator

MODEL = PopulationModel(n_pl=1)
NAMES = ("log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0")
# (log R, alpha, beta, mmin, mmax): typical; beta = -1 exactly (c = 0) and alpha = 1 (the
# normaliser's special point); beta < -1; edges that cut through the samples.
POINTS = [
    (3.0, 2.3, 0.7, 6.0, 60.0),
    (2.0, 1.0, -1.0, 7.5, 45.0),
    (1.5, 3.5, -2.7, 5.0, 80.0),
    (2.5, -0.8, 4.0, 12.0, 30.0),
]


def catalog(seed=11, counts=(101, 97, 13, 57, 99, 6, 100, 40)):
    """Events of unequal sizes (several padded buckets), a few samples with m2 > m1
    (outside every support) and a non-trivial reference prior; selection draws."""
    rng = np.random.default_rng(seed)
    samples, priors = [], []
    for count in counts:
        pair = rng.uniform(3.0, 90.0, (count, 2))
        theta = np.column_stack([pair.max(1), pair.min(1)])
        theta[:1] = theta[:1, ::-1]  # m2 > m1: zero density
        samples.append(theta)
        priors.append(rng.normal(-3.0, 0.5, count))
    events = EventSamples.from_list(samples, priors, MODEL.parameter_names)
    num = 333
    pair = rng.uniform(2.0, 100.0, (num, 2))
    selection = SelectionEstimator(
        theta=np.column_stack([pair.max(1), pair.min(1)]), log_weight=rng.uniform(-3, 0, num),
        log_draw_density=rng.normal(-5.0, 0.3, num), total_draws=3 * num, time=2.0,
        parameter_names=MODEL.parameter_names)
    return events, selection


def likelihoods(**kwargs):
    events, selection = catalog()
    fused = DiscreteLikelihood(events, MODEL, selection, **kwargs)
    generic = DiscreteLikelihood(events, MODEL, selection, fused=False,
                                 **kwargs)
    assert fused.fused and not generic.fused
    return fused, generic


def hyper_at(point, dtype):
    return {name: jnp.asarray(value, dtype) for name, value in zip(NAMES, point, strict=True)}


@pytest.mark.parametrize("n_buckets", [None, 3])
def test_every_term_and_gradient_match_the_generic_path_in_float64(x64, n_buckets):
    fused, generic = likelihoods(n_buckets=n_buckets)
    for point in POINTS:
        hyper = hyper_at(point, jnp.float64)
        ours, expected = fused(hyper), generic(hyper)
        for name, value in ours._asdict().items():
            np.testing.assert_allclose(value, getattr(expected, name), rtol=1e-9,
                                       err_msg=f"{name} at {point}")
        grad = jax.grad(fused.log_likelihood)(hyper)
        reference = jax.grad(generic.log_likelihood)(hyper)
        for name in NAMES:
            np.testing.assert_allclose(grad[name], reference[name], rtol=1e-8, atol=1e-9,
                                       err_msg=f"d/d{name} at {point}")


def test_float32_matches_float64_to_rounding():
    fused, _ = likelihoods()
    for point in POINTS:
        with jax.enable_x64(True):
            hyper = hyper_at(point, jnp.float64)
            expected = jax.tree.map(np.asarray, jax.value_and_grad(fused.log_likelihood)(hyper))
        value, grad = jax.value_and_grad(fused.log_likelihood)(hyper_at(point, jnp.float32))
        assert value.dtype == jnp.float32
        # ln L is a sum of ~10 terms of size ~10: float32 rounding, not Monte Carlo error.
        np.testing.assert_allclose(value, expected[0], rtol=2e-6)
        for name in NAMES:
            scale = max(abs(expected[1][name]), 1.0)
            np.testing.assert_allclose(grad[name], expected[1][name], atol=1e-4 * scale,
                                       err_msg=f"d/d{name} at {point}")


def test_forward_mode_vmap_and_events_with_no_support(x64):
    fused, generic = likelihoods()
    hyper = hyper_at(POINTS[0], jnp.float64)
    reverse = jax.grad(fused.log_likelihood)(hyper)
    forward = jax.jacfwd(lambda h: fused(h).event_log_likelihoods)(hyper)
    backward = jax.jacrev(lambda h: generic(h).event_log_likelihoods)(hyper)
    for name in NAMES:
        np.testing.assert_allclose(forward[name], backward[name], rtol=1e-8, atol=1e-10)
    batch = {name: jnp.stack([hyper_at(p, jnp.float64)[name] for p in POINTS]) for name in NAMES}
    values = jax.vmap(fused.log_likelihood)(batch)
    np.testing.assert_allclose(values, [fused.log_likelihood(hyper_at(p, jnp.float64))
                                        for p in POINTS], rtol=1e-12)
    assert np.isfinite(reverse["alpha_pl_0"])
    # mmin above every sample of the smallest events: ln L = -inf, finite gradient.
    empty = {**hyper, "mmin_pl_0": jnp.float64(85.0), "mmax_pl_0": jnp.float64(89.0)}
    value, grad = jax.value_and_grad(fused.log_likelihood)(empty)
    assert value == -np.inf and generic.log_likelihood(empty) == -np.inf
    assert all(np.isfinite(g) for g in grad.values())


def test_used_only_where_it_applies():
    events, selection = catalog()
    assert not DiscreteLikelihood(events, lambda t, h: MODEL.log_rate_density(t, h),
                                  selection).fused
    assert not DiscreteLikelihood(events, MODEL, selection,
                                  layout="segments").fused
    smooth = PopulationModel(n_pl=1, smoothing=True)
    assert not DiscreteLikelihood(events, smooth, selection).fused
    with pytest.raises(ValueError, match="fused=True needs a PopulationModel"):
        DiscreteLikelihood(events, PopulationModel(n_pl=1, n_g=1), selection,
                           fused=True)
