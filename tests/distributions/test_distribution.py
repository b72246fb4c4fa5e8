"""The distribution contract: shapes, the structural wrappers (Independent,
ExpandedDistribution, MaskedDistribution), Delta, Unit, ImproperUniform,
pytree behaviour and argument validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

import hierax.distributions as dist
from hierax.distributions import constraints

KEY = jax.random.PRNGKey(0)


def test_shape_convention():
    d = dist.Normal(jnp.zeros((4, 3)), 1.0)
    assert d.batch_shape == (4, 3) and d.event_shape == ()
    assert d.sample(KEY, (2,)).shape == (2, 4, 3)
    assert d.shape((5, 2)) == (5, 2, 4, 3)
    assert d.log_prob(jnp.zeros((7, 4, 3))).shape == (7, 4, 3)


def test_to_event_moves_batch_dims_into_the_event():
    base = dist.Normal(jnp.arange(6.0).reshape(2, 3), 1.0)
    d = base.to_event(1)
    assert isinstance(d, dist.Independent)
    assert d.batch_shape == (2,) and d.event_shape == (3,)
    x = jnp.ones((5, 2, 3))
    np.testing.assert_allclose(d.log_prob(x), base.log_prob(x).sum(-1), rtol=1e-6)
    assert base.to_event().event_shape == (2, 3)
    assert base.to_event(0) is base
    assert d.support.event_dim == 1
    with pytest.raises(ValueError, match="reinterpreted_batch_ndims=3 must be between 0 and"):
        dist.Independent(base, 3)


def test_expand_draws_independently_along_new_and_grown_dims():
    base = dist.Normal(jnp.array([[0.0], [10.0]]), 1.0)  # batch (2, 1)
    d = base.expand((3, 2, 4))
    assert d.batch_shape == (3, 2, 4)
    x = d.sample(KEY, (500,))
    assert x.shape == (500, 3, 2, 4)
    np.testing.assert_allclose(x.mean(axis=(0, 1, 3)), [0.0, 10.0], atol=5 / np.sqrt(6000))
    # independent along the grown dim and the new leading dim
    assert abs(np.corrcoef(x[:, 0, 0, 0], x[:, 0, 0, 1])[0, 1]) < 5 / np.sqrt(500)
    assert abs(np.corrcoef(x[:, 0, 0, 0], x[:, 1, 0, 0])[0, 1]) < 5 / np.sqrt(500)
    np.testing.assert_allclose(d.log_prob(x[0]), scipy.stats.norm(
        np.broadcast_to(np.array([[0.0], [10.0]]), (3, 2, 4)), 1).logpdf(x[0]), rtol=1e-4)
    with pytest.raises(ValueError, match=r"cannot expand batch shape \(2, 1\) to \(3, 4\)"):
        base.expand((3, 4))


def test_expand_of_a_vector_distribution_keeps_the_event():
    d = dist.Dirichlet(jnp.ones(3)).expand((4,))
    assert d.batch_shape == (4,) and d.event_shape == (3,)
    x = d.sample(KEY, (2,))
    assert x.shape == (2, 4, 3)
    np.testing.assert_allclose(x.sum(-1), 1.0, rtol=1e-5)


def test_mask_zeroes_log_prob_where_false():
    d = dist.Normal(jnp.zeros(3), 1.0)
    keep = jnp.array([True, False, True])
    masked = d.mask(keep)
    x = jnp.array([0.5, 100.0, -1.0])
    np.testing.assert_allclose(masked.log_prob(x), jnp.where(keep, d.log_prob(x), 0.0))
    assert d.mask(True) is d
    np.testing.assert_array_equal(d.mask(False).log_prob(x), jnp.zeros(3))
    with pytest.raises(TypeError, match="the mask must be boolean"):
        d.mask(jnp.array([1, 0, 1]))


def test_delta_unit_improper_uniform():
    delta = dist.Delta(jnp.array([1.0, 2.0]), log_density=0.5, event_dim=1)
    assert delta.event_shape == (2,) and delta.batch_shape == ()
    assert delta.log_prob(jnp.array([1.0, 2.0])) == 0.5
    assert delta.log_prob(jnp.array([1.0, 3.0])) == -jnp.inf
    assert delta.sample(KEY, (3,)).shape == (3, 2)

    unit = dist.Unit(jnp.array([1.0, -2.0]))
    assert unit.event_shape == (0,) and unit.sample(KEY).shape == (2, 0)
    np.testing.assert_array_equal(unit.log_prob(unit.sample(KEY)), [1.0, -2.0])

    flat = dist.ImproperUniform(constraints.positive, (3,), ())
    np.testing.assert_array_equal(flat.log_prob(jnp.ones(3)), jnp.zeros(3))
    with pytest.raises(NotImplementedError, match="cannot be sampled.*improper"):
        flat.sample(KEY)
    with pytest.raises(TypeError, match="support must be a constraint"):
        dist.ImproperUniform("positive", (), ())


def test_distributions_cross_jit_and_vmap_as_pytrees():
    d = dist.Normal(jnp.zeros(3), jnp.ones(3)).expand((2, 3)).to_event(1)
    log_prob = jax.jit(lambda d, x: d.log_prob(x))(d, jnp.zeros((2, 3)))
    np.testing.assert_allclose(log_prob, np.full(2, 3 * scipy.stats.norm.logpdf(0.0)), rtol=1e-6)
    locs = jnp.arange(4.0)
    means = jax.vmap(lambda loc: dist.Normal(loc, 1.0).mean)(locs)
    np.testing.assert_array_equal(means, locs)
    leaves, tree = jax.tree_util.tree_flatten(d)
    rebuilt = jax.tree_util.tree_unflatten(tree, leaves)
    assert rebuilt.batch_shape == d.batch_shape and rebuilt.event_shape == d.event_shape


def test_validation_names_distribution_and_parameter():
    with pytest.raises(ValueError, match=r"Normal: parameter `scale` must satisfy positive"):
        dist.Normal(0.0, -1.0)
    with dist.validation_enabled(False):
        dist.Normal(0.0, -1.0)  # no check
    with pytest.warns(UserWarning, match="HalfNormal.log_prob: value outside the support"):
        dist.HalfNormal(1.0).log_prob(-1.0)


def test_validation_is_skipped_for_traced_values():
    @jax.jit
    def f(scale):
        return dist.Normal(0.0, scale).log_prob(0.0)

    assert jnp.isnan(f(-1.0)) or jnp.isfinite(f(-1.0))  # no error inside jit
