"""Primitives: sample, plate (broadcasting, nesting, subsampling), deterministic, factor,
param, prng_key, subsample, obs_mask, and the errors they raise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax
import hierax.distributions as dist
from hierax import handlers


def get_trace(model, *args, seed=0, **kwargs):
    return handlers.trace(handlers.seed(model, rng_seed=seed)).get_trace(*args, **kwargs)


def test_sample_outside_handlers():
    key = jax.random.PRNGKey(0)
    assert hierax.sample("x", dist.Normal(0, 1), rng_key=key, sample_shape=(3,)).shape == (3,)
    assert hierax.sample("x", dist.Normal(0, 1), obs=2.0) == 2.0
    with pytest.raises(ValueError, match="sample site 'x' needs a random key"):
        hierax.sample("x", dist.Normal(0, 1))


def test_sample_rejects_non_distribution():
    with pytest.raises(TypeError, match="sample site 'x': expected a distribution"):
        hierax.sample("x", 3.0)


def test_nested_plates_broadcast():
    def model():
        with hierax.plate("outer", 4, dim=-2):
            a = hierax.sample("a", dist.Normal(0, 1))
            with hierax.plate("inner", 3):
                b = hierax.sample("b", dist.Normal(0, 1))
                c = hierax.sample("c", dist.Normal(0, 1).expand([3]))
        return a, b, c

    tr = get_trace(model)
    assert tr["a"]["value"].shape == (4, 1)
    assert tr["b"]["value"].shape == (4, 3)
    assert tr["c"]["value"].shape == (4, 3)
    assert [f.name for f in tr["b"]["cond_indep_stack"]] == ["inner", "outer"]
    assert tr["b"]["fn"].batch_shape == (4, 3)


def test_plate_dims_allocated_right_to_left():
    def model():
        with hierax.plate("x", 2), hierax.plate("y", 5):
            return hierax.sample("z", dist.Normal(0, 1))

    tr = get_trace(model)
    assert tr["z"]["value"].shape == (5, 2)
    assert {f.name: f.dim for f in tr["z"]["cond_indep_stack"]} == {"x": -1, "y": -2}


def test_plate_stack():
    def model():
        with hierax.plate_stack("p", (2, 3)):
            return hierax.sample("z", dist.Normal(0, 1))

    assert get_trace(model)["z"]["value"].shape == (2, 3)


def test_sample_shape_inside_plate():
    def model():
        with hierax.plate("n", 3):
            return hierax.sample("z", dist.Normal(0, 1), sample_shape=(2, 3))

    assert get_trace(model)["z"]["value"].shape == (2, 3)


def test_plate_size_mismatch_names_site_and_plate():
    def model():
        with hierax.plate("J", 8):
            hierax.sample("theta", dist.Normal(jnp.zeros(5), 1.0))

    with pytest.raises(ValueError, match=r"site 'theta'.*batch shape \(5,\).*'J' \(size 8"):
        get_trace(model)


def test_plate_argument_errors():
    with pytest.raises(ValueError, match="subsample_size=5 exceeds size=3"):
        hierax.plate("p", 3, subsample_size=5)
    with pytest.raises(ValueError, match="dim must be a negative int"):
        hierax.plate("p", 3, dim=1)
    with pytest.raises(TypeError, match="size must be a concrete int"):
        hierax.plate("p", "three")

    def model():
        with hierax.plate("a", 2, dim=-1), hierax.plate("b", 2, dim=-1):
            pass

    with pytest.raises(ValueError, match="dim=-1 is already used"):
        get_trace(model)


def test_subsampling_scales_log_density():
    data = jnp.arange(100.0)

    def model():
        with hierax.plate("data", 100, subsample_size=10) as idx:
            batch = hierax.subsample(data, event_dim=0)
            hierax.sample("obs", dist.Normal(0.0, 100.0), obs=batch)
        return idx

    tr = get_trace(model)
    idx = tr["data"]["value"]
    assert idx.shape == (10,) and len(set(np.asarray(idx).tolist())) == 10
    np.testing.assert_array_equal(tr["obs"]["value"], data[idx])
    assert tr["obs"]["scale"] == pytest.approx(10.0)


def test_deterministic_factor_param_prng_key():
    def model():
        x = hierax.sample("x", dist.Normal(0, 1))
        hierax.deterministic("y", x + 1)
        hierax.factor("penalty", -3.0)
        w = hierax.param("w", jnp.ones(2), constraint=dist.constraints.positive)
        key = hierax.prng_key()
        return w, key

    tr = get_trace(model)
    assert tr["y"]["value"] == tr["x"]["value"] + 1
    penalty = tr["penalty"]
    assert penalty["is_observed"] and penalty["infer"]["is_auxiliary"]
    assert penalty["fn"].log_prob(penalty["value"]) == -3.0
    assert tr["w"]["type"] == "param"
    assert tr["w"]["kwargs"]["constraint"] is dist.constraints.positive
    w, key = handlers.seed(model, rng_seed=0)()
    np.testing.assert_array_equal(w, jnp.ones(2))
    assert key is not None
    assert hierax.prng_key() is None


def test_factor_inside_plate_and_mask():
    def model():
        with hierax.plate("n", 3), handlers.mask(mask=jnp.array([True, False, True])):
            hierax.factor("f", jnp.array([1.0, 2.0, 3.0]))

    site = get_trace(model)["f"]
    np.testing.assert_allclose(site["fn"].log_prob(site["value"]), [1.0, 0.0, 3.0])


def test_obs_mask_splits_site():
    y = jnp.array([1.0, jnp.nan, 3.0])
    observed = jnp.isfinite(y)

    def model():
        with hierax.plate("n", 3):
            return hierax.sample("y", dist.Normal(0.0, 1.0), obs=y, obs_mask=observed)

    tr = get_trace(model)
    assert {"y_observed", "y_unobserved", "y"} <= set(tr)
    value = tr["y"]["value"]
    np.testing.assert_array_equal(value[jnp.array([0, 2])], jnp.array([1.0, 3.0]))
    assert jnp.isfinite(value[1])


def test_observation_shape_mismatch():
    def model():
        hierax.sample("y", dist.Normal(jnp.zeros(3), 1.0), obs=jnp.zeros(4))

    with pytest.raises(ValueError, match=r"site 'y': the observed value has shape \(4,\)"):
        get_trace(model)


def test_site_names_must_be_strings():
    with pytest.raises(TypeError, match="site name must be a str"):
        hierax.deterministic(3, 1.0)
