"""The prior configuration: parsing, validation messages, and drawing inside a model."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax import handlers
from hierax.infer import Predictive
from hierax.pop.priors import (
    PriorSpec,
    log_prior,
    parse_prior_config,
    prior_families,
    sample_hyperparameters,
)

NAMES = ("log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0")
SEED_PRIOR = {
    "log_rate_0": {"dist": "Uniform", "low": -11.5, "high": 11.5},
    "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "mmin_pl_0": {"dist": "Uniform", "low": 1.0, "high": 20.0},
    "mmax_pl_0": {"dist": "Uniform", "low": 30.0, "high": 100.0},
}


def dependent_prior():
    """mmax listed first but bounded below by mmin; a constant and a tie."""
    return {
        "mmax_pl_0": {"dist": "Uniform", "low": "mmin_pl_0", "high": 100},
        "mmin_pl_0": {"dist": "Uniform", "low": 1.0, "high": 20.0},
        "log_rate_0": {"dist": "Normal", "loc": 0.0, "scale": 2.0},
        "alpha_pl_0": 2.35,
        "beta_pl_0": "alpha_pl_0",
    }


def trace_of(spec, seed=0):
    model = handlers.seed(lambda: sample_hyperparameters(spec), seed)
    return handlers.trace(model).get_trace()


def test_seed_prior_parses_from_file_and_dict(tmp_path):
    path = tmp_path / "prior.json"
    path.write_text(json.dumps(SEED_PRIOR))
    from_file = parse_prior_config(path, NAMES)
    from_dict = parse_prior_config(SEED_PRIOR, NAMES)
    assert from_file.entries == from_dict.entries
    assert from_file.free_names == NAMES
    assert str(path) in from_file.source
    assert from_file.config == SEED_PRIOR
    hash(from_file)  # usable as a static argument


def test_dependency_order_constants_and_ties():
    spec = parse_prior_config(dependent_prior(), NAMES)
    order = [e.name for e in spec.entries]
    assert order.index("mmin_pl_0") < order.index("mmax_pl_0")
    assert order.index("alpha_pl_0") < order.index("beta_pl_0")
    assert spec.constant_names == ("alpha_pl_0",)
    assert spec.tied_names == ("beta_pl_0",)
    tr = trace_of(spec)
    assert {n for n, s in tr.items() if s["type"] == "sample"} == {
        "mmin_pl_0", "mmax_pl_0", "log_rate_0"}
    assert {n for n, s in tr.items() if s["type"] == "deterministic"} == {
        "alpha_pl_0", "beta_pl_0"}
    assert float(tr["alpha_pl_0"]["value"]) == pytest.approx(2.35)
    assert float(tr["beta_pl_0"]["value"]) == pytest.approx(2.35)


def test_dependent_bound_draws_are_uniform_above_the_parent():
    spec = parse_prior_config(dependent_prior(), NAMES)
    n = 4000
    draws = Predictive(lambda: sample_hyperparameters(spec), num_samples=n)(
        jax.random.PRNGKey(1))
    mmin, mmax = np.asarray(draws["mmin_pl_0"]), np.asarray(draws["mmax_pl_0"])
    assert draws["beta_pl_0"].shape == (n,)  # every hyperparameter is in the output
    assert np.all(mmax > mmin) and np.all(mmin >= 1.0) and np.all(mmin <= 20.0)
    u = (mmax - mmin) / (100.0 - mmin)  # Uniform(0, 1) given mmin
    se = math.sqrt(1 / 12 / n)
    assert abs(u.mean() - 0.5) < 5 * se
    assert abs((u < 0.25).mean() - 0.25) < 5 * math.sqrt(0.25 * 0.75 / n)


def test_log_prior_matches_closed_form_and_jits(float_dtype):
    spec = parse_prior_config(dependent_prior(), NAMES)
    values = {"mmin_pl_0": jnp.asarray(10.0, float_dtype),
              "mmax_pl_0": jnp.asarray(60.0, float_dtype),
              "log_rate_0": jnp.asarray(1.0, float_dtype)}
    expected = (-math.log(19.0) - math.log(90.0)
                - 0.5 * (1.0 / 2.0) ** 2 - math.log(2.0) - 0.5 * math.log(2 * math.pi))
    value_and_grad = jax.jit(jax.value_and_grad(lambda v: log_prior(spec, v)))
    got, grads = value_and_grad(values)
    assert got.dtype == float_dtype
    np.testing.assert_allclose(float(got), expected, rtol=1e-6)
    assert all(np.isfinite(float(g)) for g in grads.values())
    outside = dict(values, mmax_pl_0=jnp.asarray(5.0, float_dtype))
    got_outside, grads_outside = value_and_grad(outside)
    assert float(got_outside) == -math.inf
    assert all(np.isfinite(float(g)) for g in grads_outside.values())
    assert spec.resolve(values)["alpha_pl_0"].dtype == float_dtype


def test_regex_keys_exact_key_wins():
    names = ("alpha_pl_0", "alpha_pl_1", "alpha_pl_2")
    spec = parse_prior_config(
        {"alpha_pl_[0-9]+": {"dist": "Uniform", "low": -5, "high": 5}, "alpha_pl_1": 1.5},
        names)
    assert spec.entry("alpha_pl_1").kind == "constant"
    assert spec.entry("alpha_pl_2").key == "alpha_pl_[0-9]+"
    assert spec.free_names == ("alpha_pl_0", "alpha_pl_2")


@pytest.mark.parametrize("config, names, match", [
    ({"a": {"dist": "Unifrom", "low": 0, "high": 1}}, ("a",),
     r"key 'a': unknown distribution 'Unifrom'; did you mean 'Uniform'"),
    ({"a": {"dist": "Poisson", "rate": 1.0}}, ("a",), r"key 'a'.*'Poisson'.*discrete"),
    ({"a": {"dist": "Dirichlet", "concentration": 1.0}}, ("a",), r"'Dirichlet' cannot be"),
    ({"a": {"dist": "Uniform", "lo": 0, "high": 1}}, ("a",),
     r"key 'a': unknown argument\(s\) lo; Uniform takes low, high"),
    ({"a": {"dist": "Normal", "loc": 0}}, ("a",),
     r"key 'a': missing argument\(s\) scale; Normal takes loc, scale"),
    ({"a": {"loc": 0}}, ("a",), r"key 'a': needs \"dist\""),
    ({"a": {"dist": "Uniform", "low": 5, "high": 1}}, ("a",), r"key 'a'.*high.*low"),
    ({"a": {"dist": "Normal", "loc": 0, "scale": -1}}, ("a",), r"key 'a'.*'scale'=-1"),
    ({"a": 1.0}, ("a", "b", "c"), r"no prior for hyperparameter\(s\) b, c"),
    ({"a": 1.0, "alpah": 2.0}, ("a", "alpha"), r"'alpah' \(did you mean 'alpha'\?\) match no"),
    ({"a": "zz", "b": 1.0}, ("a", "b"), r"key 'a'.*refers to 'zz', which is no hyper"),
    ({"a": "b", "b": "a"}, ("a", "b"), r"cycle: a -> b -> a"),
    ({"a": {"dist": "Uniform", "low": "b", "high": 100}, "b": {"dist": "Uniform", "low": 1,
      "high": 120}}, ("a", "b"), r"key 'a'.*`low` \(b, up to 120\) can reach `high`"),
    ({"a": {"dist": "Uniform", "low": "b", "high": 1}, "b": {"dist": "Normal", "loc": 0,
      "scale": 1}}, ("a", "b"), r"key 'a'.*up to inf"),
    ({"a.*": 1.0, "[ab]": 2.0}, ("a", "b"), r"'a' matches several keys"),
    ({"a(": 1.0}, ("a",), r"key 'a\(' is not a valid regular expression"),
    ({"a": float("nan")}, ("a",), r"key 'a': a constant must be finite"),
    ({}, ("a",), r"is empty"),
])
def test_bad_configs_name_the_key(config, names, match):
    with pytest.raises(ValueError, match=match):
        parse_prior_config(config, names)


@pytest.mark.parametrize("value", [None, True, [1, 2], {"dist": "Uniform", "low": [0],
                                                         "high": 1}])
def test_wrong_types_are_type_errors(value):
    with pytest.raises(TypeError, match="key 'a'"):
        parse_prior_config({"a": value}, ("a",))


def test_file_errors(tmp_path):
    with pytest.raises(ValueError, match=r"prior config '.*missing.json': file not found"):
        parse_prior_config(tmp_path / "missing.json", NAMES)
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": {"dist": "Uniform",}}')
    with pytest.raises(ValueError, match=r"bad.json': malformed JSON at line 1, column"):
        parse_prior_config(bad, ("a",))
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ValueError, match="top level must be a JSON object"):
        parse_prior_config(listed, ("a",))
    with pytest.raises(TypeError, match="dict or a path"):
        parse_prior_config(3, ("a",))


def test_ordered_pairs():
    config = dict(SEED_PRIOR, mmin_pl_0={"dist": "Uniform", "low": 50.0, "high": 60.0},
                  mmax_pl_0={"dist": "Uniform", "low": 30.0, "high": 40.0})
    with pytest.raises(ValueError, match=r"'mmin_pl_0' \(at least 50\) can never be below "
                                         r"'mmax_pl_0' \(at most 40\)"):
        parse_prior_config(config, NAMES, ordered_pairs=[("mmin_pl_0", "mmax_pl_0")])
    spec = parse_prior_config(SEED_PRIOR, NAMES, ordered_pairs=[("mmin_pl_0", "mmax_pl_0")])
    assert isinstance(spec, PriorSpec)


def test_families_are_continuous_scalar_distributions():
    accepted, rejected = prior_families()
    assert {"Uniform", "Normal", "TruncatedNormal", "LogNormal", "Beta"} <= set(accepted)
    assert "Poisson" in rejected and "MultivariateNormal" in rejected
    assert accepted["TruncatedNormal"].arguments == ("loc", "scale", "low", "high")
    spec = parse_prior_config(
        {"a": {"dist": "TruncatedNormal", "loc": 0.0, "scale": 1.0, "low": 0.0, "high": 2.0}},
        ("a",))
    support = spec.distribution("a", {}).support
    assert (float(support.lower_bound), float(support.upper_bound)) == (0.0, 2.0)
