"""Effect-handler semantics: seed, trace, condition, substitute, replay, block, scale,
mask, do, scope, lift, infer_config, uncondition, reparam."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax
import hierax.distributions as dist
from hierax import handlers


def simple_model(y=None):
    mu = hierax.sample("mu", dist.Normal(0.0, 1.0))
    sigma = hierax.sample("sigma", dist.HalfNormal(1.0))
    with hierax.plate("N", 3):
        hierax.sample("y", dist.Normal(mu, sigma), obs=y)
    hierax.deterministic("twice_mu", 2 * mu)


def get_trace(model, *args, seed=0, **kwargs):
    return handlers.trace(handlers.seed(model, rng_seed=seed)).get_trace(*args, **kwargs)


def site_log_prob_sum(tr):
    return sum(
        jnp.sum(site["fn"].log_prob(site["value"]) * (site["scale"] or 1.0))
        for site in tr.values() if site["type"] == "sample"
    )


class TestSeed:
    def test_same_seed_same_values(self):
        a = get_trace(simple_model, seed=3)
        b = get_trace(simple_model, seed=3)
        assert a["mu"]["value"] == b["mu"]["value"]
        assert get_trace(simple_model, seed=4)["mu"]["value"] != a["mu"]["value"]

    def test_sites_get_distinct_keys(self):
        def model():
            return hierax.sample("a", dist.Normal(0, 1)), hierax.sample("b", dist.Normal(0, 1))

        a, b = handlers.seed(model, rng_seed=0)()
        assert a != b

    def test_calling_again_advances_the_key(self):
        seeded = handlers.seed(lambda: hierax.sample("x", dist.Normal(0, 1)), rng_seed=0)
        assert seeded() != seeded()

    def test_vmap_over_keys_gives_independent_draws(self):
        def draw(key):
            return handlers.seed(lambda: hierax.sample("x", dist.Normal(0, 1)), rng_seed=key)()

        draws = jax.vmap(draw)(jax.random.split(jax.random.PRNGKey(0), 4000))
        assert draws.shape == (4000,)
        assert abs(float(jnp.mean(draws))) < 5 / np.sqrt(4000)
        assert abs(float(jnp.var(draws)) - 1) < 5 * np.sqrt(2 / 4000)

    def test_jit_twice_leaks_no_tracer(self):
        seeded = handlers.seed(simple_model, rng_seed=1)
        traced = jax.jit(lambda: handlers.trace(seeded).get_trace()["mu"]["value"])
        first, second = traced(), traced()
        assert first == second
        assert not isinstance(seeded.rng_key, jax.core.Tracer)
        seeded()  # still usable eagerly

    def test_typed_and_raw_keys(self):
        for key in (jax.random.PRNGKey(0), jax.random.key(0)):
            value = handlers.seed(lambda: hierax.sample("x", dist.Normal(0, 1)), key)()
            assert jnp.shape(value) == ()

    def test_bad_seed(self):
        with pytest.raises(TypeError, match="rng_seed must be an int or a jax.random key"):
            handlers.seed(simple_model, rng_seed="zero")

    def test_sample_without_seed_names_the_site(self):
        with pytest.raises(ValueError, match="sample site 'mu' needs a random key.*seed"):
            handlers.trace(simple_model).get_trace()


class TestTrace:
    def test_records_fields(self):
        tr = get_trace(simple_model, y=jnp.zeros(3))
        assert list(tr) == ["mu", "sigma", "y", "twice_mu"]
        for name in ("mu", "sigma", "y"):
            site = tr[name]
            assert site["type"] == "sample"
            assert isinstance(site["fn"], dist.Distribution)
            assert {"value", "is_observed", "cond_indep_stack", "scale", "infer"} <= set(site)
        assert tr["y"]["is_observed"] and not tr["mu"]["is_observed"]
        assert tr["y"]["cond_indep_stack"] == [hierax.CondIndepStackFrame("N", -1, 3)]
        assert tr["twice_mu"]["type"] == "deterministic"
        np.testing.assert_allclose(tr["twice_mu"]["value"], 2 * tr["mu"]["value"])

    def test_duplicate_site_names(self):
        def model():
            hierax.sample("x", dist.Normal(0, 1))
            hierax.sample("x", dist.Normal(0, 1))

        with pytest.raises(ValueError, match="site name 'x' is used twice.*scope"):
            get_trace(model)


class TestConditionSubstituteReplay:
    def test_condition_observes(self):
        tr = get_trace(handlers.condition(simple_model, data={"mu": 0.3}))
        assert tr["mu"]["is_observed"]
        assert tr["mu"]["value"] == 0.3

    def test_condition_fn(self):
        conditioned = handlers.condition(
            simple_model, condition_fn=lambda site: 0.7 if site["name"] == "sigma" else None)
        tr = get_trace(conditioned)
        assert tr["sigma"]["is_observed"] and tr["sigma"]["value"] == 0.7

    def test_substitute_does_not_observe_and_reaches_deterministic(self):
        tr = get_trace(handlers.substitute(simple_model, data={"mu": 0.3}))
        assert not tr["mu"]["is_observed"]
        assert tr["mu"]["value"] == 0.3
        assert tr["twice_mu"]["value"] == pytest.approx(0.6)

    def test_substitute_needs_exactly_one_source(self):
        with pytest.raises(ValueError, match="exactly one of data= and substitute_fn="):
            handlers.substitute(simple_model)

    def test_replay_reuses_latent_values_only(self):
        recorded = get_trace(simple_model, seed=1)
        replayed = get_trace(handlers.replay(simple_model, trace=recorded), y=jnp.ones(3), seed=2)
        assert replayed["mu"]["value"] == recorded["mu"]["value"]
        assert replayed["sigma"]["value"] == recorded["sigma"]["value"]
        np.testing.assert_array_equal(replayed["y"]["value"], jnp.ones(3))


class TestBlockScaleMask:
    def test_block_hides_sites(self):
        seeded = handlers.seed(simple_model, rng_seed=0)

        def visible(**block_kwargs):
            return list(handlers.trace(handlers.block(seeded, **block_kwargs)).get_trace())

        assert visible(hide=["mu"]) == ["sigma", "y", "twice_mu"]
        assert visible() == []
        assert visible(expose=["sigma"]) == ["sigma"]
        assert visible(expose_types=["deterministic"]) == ["twice_mu"]
        assert visible(hide_fn=lambda site: site["type"] == "sample") == ["twice_mu"]

    def test_block_also_hides_from_an_outer_seed(self):
        with pytest.raises(ValueError, match="sample site 'mu' needs a random key"):
            get_trace(lambda: handlers.block(simple_model)())

    def test_scale_multiplies_log_density(self):
        plain = get_trace(simple_model, y=jnp.zeros(3))
        scaled = get_trace(handlers.scale(simple_model, scale=2.5), y=jnp.zeros(3))
        assert scaled["y"]["scale"] == 2.5
        np.testing.assert_allclose(site_log_prob_sum(scaled), 2.5 * site_log_prob_sum(plain),
                                   rtol=1e-5)

    def test_scale_must_be_positive(self):
        with pytest.raises(ValueError, match="scale: the factor must be positive"):
            handlers.scale(simple_model, scale=-1.0)

    def test_mask_zeroes_masked_terms(self):
        keep = jnp.array([True, False, True])
        y = jnp.array([0.1, 5.0, -0.2])

        def model():
            with hierax.plate("N", 3), handlers.mask(mask=keep):
                hierax.sample("y", dist.Normal(0.0, 1.0), obs=y)

        tr = get_trace(model)
        expected = jnp.where(keep, dist.Normal(0.0, 1.0).log_prob(y), 0.0)
        np.testing.assert_allclose(tr["y"]["fn"].log_prob(y), expected, rtol=1e-6)

    def test_mask_must_be_boolean(self):
        with pytest.raises(TypeError, match="mask must be boolean"):
            handlers.mask(simple_model, mask=jnp.array([1, 0]))


class TestDoScopeLift:
    def test_do_intervenes_downstream_but_records_the_original(self):
        def model():
            x = hierax.sample("x", dist.Normal(0.0, 1.0))
            return hierax.sample("y", dist.Normal(x, 0.01))

        intervened = handlers.do(model, data={"x": 10.0})
        tr = get_trace(intervened)
        assert abs(float(tr["y"]["value"]) - 10.0) < 0.1
        assert tr["x"]["value"] != 10.0 and not tr["x"]["is_observed"]
        assert "x__CF" not in tr

    def test_scope_prefixes_names_and_plates(self):
        tr = get_trace(handlers.scope(simple_model, prefix="a"))
        assert list(tr) == ["a/mu", "a/sigma", "a/y", "a/twice_mu"]
        assert tr["a/y"]["cond_indep_stack"][0].name == "a/N"

    def test_scope_makes_repeated_submodels_legal(self):
        def model():
            handlers.scope(simple_model, prefix="first")()
            handlers.scope(simple_model, prefix="second")()

        assert len(get_trace(model)) == 8

    def test_lift_turns_params_into_samples(self):
        def model():
            return hierax.param("w", 0.5)

        tr = get_trace(handlers.lift(model, prior={"w": dist.Normal(3.0, 0.1)}))
        assert tr["w"]["type"] == "sample"
        assert abs(float(tr["w"]["value"]) - 3.0) < 1.0
        assert get_trace(model)["w"]["value"] == 0.5

    def test_infer_config_and_uncondition(self):
        tr = get_trace(handlers.infer_config(simple_model, lambda site: {"hint": site["name"]}),
                       y=jnp.zeros(3))
        assert tr["mu"]["infer"]["hint"] == "mu"
        tr = get_trace(handlers.uncondition(simple_model), y=jnp.zeros(3))
        assert not tr["y"]["is_observed"]
        assert tr["y"]["infer"]["was_observed"]
        assert not np.allclose(tr["y"]["value"], 0.0)


class TestHandlerStack:
    def test_exception_unwinds_stack(self):
        def broken():
            hierax.sample("x", dist.Normal(0, 1))
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            get_trace(broken)
        # without a handler the primitive acts directly: the stack is empty again
        assert hierax.sample("z", dist.Normal(0, 1), rng_key=jax.random.PRNGKey(0)).shape == ()

    def test_handler_without_model(self):
        with pytest.raises(TypeError, match="created without a model"):
            handlers.trace()()


def test_each_thread_has_its_own_handler_stack():
    """Two threads tracing models at the same time see only their own handlers."""
    import threading

    barrier = threading.Barrier(2, timeout=30)

    def model(name):
        hierax.sample(f"{name}_a", dist.Normal(0.0, 1.0))
        barrier.wait()  # both threads are now inside their handlers
        hierax.sample(f"{name}_b", dist.Normal(0.0, 1.0))

    traces, errors = {}, []

    def run(name):
        try:
            traces[name] = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace(name)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(name,)) for name in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert list(traces["x"]) == ["x_a", "x_b"] and list(traces["y"]) == ["y_a", "y_b"]
