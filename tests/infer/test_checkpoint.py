"""Saving, loading and continuing MCMC runs (hierax.infer.checkpoint).

The acceptance test: a run of 60 draws, and a run of 30 draws saved to a file
and continued for 30 more in a fresh interpreter, give the same draws bit for
bit. The other tests use small stand-in runs, which need no compilation.
"""

import json
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray

import hierax
import hierax.distributions as dist
from hierax.infer import HMC, MCMC, NUTS, checkpoint
from hierax.infer.checkpoint import SavedRun, load, resume, save

Y = np.array([1.0, -0.5, 2.0], np.float32)
NUM_WARMUP = 50
KEY_SEED = 7


def model(y):
    mu = hierax.sample("mu", dist.Normal(0.0, 5.0))
    tau = hierax.sample("tau", dist.HalfNormal(5.0))
    with hierax.plate("groups", y.shape[0]):
        theta = hierax.sample("theta", dist.Normal(mu, tau))
        hierax.sample("y", dist.Normal(theta, 1.0), obs=y)
    hierax.deterministic("total", theta.sum())


def make_mcmc(num_samples, num_chains=2, kernel=None):
    return MCMC(kernel or NUTS(model), num_warmup=NUM_WARMUP, num_samples=num_samples,
                num_chains=num_chains, chain_method="vectorized", progress_bar=False)


def assert_identical(actual, expected):
    """Same dtype, shape and bytes (NaN payloads and signed zeros included)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype
    assert actual.shape == expected.shape
    assert actual.tobytes() == expected.tobytes()


def assert_same_tree(actual, expected):
    assert jax.tree_util.tree_structure(actual) == jax.tree_util.tree_structure(expected)
    for a, e in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected),
                    strict=True):
        assert_identical(a, e)


def as_numpy(values):
    return {k: np.asarray(v) for k, v in values.items()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run A (60 draws), run B (30 draws, saved), and the saved file."""
    key = jax.random.PRNGKey(KEY_SEED)
    whole = make_mcmc(60)
    whole.run(key, Y)
    first = make_mcmc(30)
    first.run(key, Y)
    path = tmp_path_factory.mktemp("runs") / "first.nc"
    save(first, path)
    return SimpleNamespace(
        key=key, path=path, first=first,
        whole_draws=as_numpy(whole.get_samples(group_by_chain=True)),
        whole_fields=as_numpy(whole.get_extra_fields(group_by_chain=True)),
        first_draws=as_numpy(first.get_samples(group_by_chain=True)),
        first_fields=as_numpy(first.get_extra_fields(group_by_chain=True)),
        first_state=jax.tree_util.tree_map(np.asarray, first.last_state))


def assert_continues(runs, draws, fields):
    """``first`` followed by (draws, fields) equals the uninterrupted run, bit for bit."""
    assert set(draws) == set(runs.whole_draws) == {"mu", "tau", "theta", "total"}
    for name, whole in runs.whole_draws.items():
        assert_identical(np.concatenate([runs.first_draws[name], draws[name]], axis=1), whole)
    for name, whole in runs.whole_fields.items():
        assert_identical(np.concatenate([runs.first_fields[name], fields[name]], axis=1), whole)


# -- round trip ---------------------------------------------------------------------


def test_round_trip_of_draws_fields_state_and_settings(runs):
    saved = load(runs.path)
    assert isinstance(saved, SavedRun)
    for name, value in runs.first_draws.items():
        assert_identical(saved.get_samples(group_by_chain=True)[name], value)
        assert_identical(saved.get_samples()[name], value.reshape((60,) + value.shape[2:]))
    assert saved.get_samples()["theta"].shape == (60, 3)
    for name, value in runs.first_fields.items():
        assert_identical(saved.get_extra_fields(group_by_chain=True)[name], value)
        assert_identical(saved.get_extra_fields()[name], value.reshape(-1))
    assert set(saved.get_extra_fields()) >= {"diverging", "accept_prob", "tree_depth"}
    assert_same_tree(saved.last_state, runs.first_state)
    assert type(saved.last_state).__name__ == "ChainState"
    assert type(saved.last_state.kernel_state).__name__ == "HMCKernelState"
    assert saved.post_warmup_state is None
    assert saved.settings == {"num_warmup": NUM_WARMUP, "num_samples": 30, "num_chains": 2,
                              "thinning": 1, "chain_method": "vectorized",
                              "sampler": "hierax.infer.hmc:NUTS"}
    assert saved.num_chains == 2
    assert saved.hierax_version == checkpoint._installed_version()
    assert list(saved.groups) == ["posterior", "observed_data", "log_likelihood"]
    assert saved.groups["log_likelihood"]["y"].dims == ("chain", "draw", "groups")
    assert_identical(saved.groups["observed_data"]["y"].values, Y)


def test_file_layout_is_readable_with_xarray(runs):
    with xarray.open_dataset(runs.path, group="posterior", engine="h5netcdf") as posterior:
        assert posterior["theta"].dims == ("chain", "draw", "groups")
        np.testing.assert_array_equal(posterior["groups"].values, np.arange(3))
        np.testing.assert_array_equal(posterior["mu"].values, runs.first_draws["mu"])
    with xarray.open_dataset(runs.path, engine="h5netcdf") as root:
        assert root.attrs["hierax_format"] == "hierax-mcmc-run"
        assert json.loads(root.attrs["groups"]) == ["posterior", "sample_stats",
                                                    "observed_data", "log_likelihood",
                                                    "sampler_state"]
    with xarray.open_dataset(runs.path, group="sampler_state", engine="h5netcdf") as state:
        assert state["kernel_state.hmc.position"].dims[0] == "chain"
        structure = json.loads(state.attrs["structure"])
        assert structure["class"] == "hierax.infer.mcmc:ChainState"
        assert structure["fields"] == ["iteration", "rng_key", "kernel_state",
                                       "num_divergences"]


class Pair(NamedTuple):
    left: Any
    right: Any


def fake_run(state, post_warmup_state=None, draws=None, fields=None):
    """A stand-in for a finished MCMC: the attributes and methods ``save`` reads."""
    def getter(values):
        def get(group_by_chain=False):
            if values is None:
                raise RuntimeError("MCMC has no draws yet: call run() first.")
            return values
        return get

    return SimpleNamespace(
        num_warmup=5, num_samples=4, num_chains=2, thinning=1, chain_method="sequential",
        sampler=Pair(None, None), last_state=state, post_warmup_state=post_warmup_state,
        get_samples=getter(draws), get_extra_fields=getter(fields))


def special_values(dtype):
    tiny = np.finfo(dtype).smallest_subnormal
    return np.array([[np.nan, -np.inf, np.inf, -0.0], [tiny, 1.5, -2.0, 0.0]], dtype)


def test_state_structures_typed_keys_and_special_values_round_trip(tmp_path, float_dtype):
    dtype = np.dtype(float_dtype)
    values = special_values(dtype)
    state = Pair(
        left={"keys": jax.random.split(jax.random.key(3), 2),
              "rbg": jax.random.split(jax.random.key(3, impl="rbg"), 2),
              "raw": jax.random.split(jax.random.PRNGKey(3), 2), "nothing": None},
        right=[Pair(jnp.asarray(values), np.array([True, False])),
               (np.arange(2, dtype=np.int32), np.zeros((2, 0), dtype))])
    draws = {"a/b%c": values[..., None], "flag": np.array([[True, False, False, True]] * 2)}
    fields = {"diverging": np.zeros((2, 4), bool), "energy": values}
    path = tmp_path / "state.nc"
    save(fake_run(state, post_warmup_state=state, draws=draws, fields=fields), path)
    saved = load(path)

    for loaded in (saved.last_state, saved.post_warmup_state):
        assert isinstance(loaded, Pair) and isinstance(loaded.right[0], Pair)
        assert loaded.left["nothing"] is None and isinstance(loaded.right, list)
        for name in ("keys", "rbg"):
            assert jnp.issubdtype(loaded.left[name].dtype, jax.dtypes.prng_key)
            assert jax.random.key_impl(loaded.left[name]) == jax.random.key_impl(
                state.left[name])
            assert_identical(jax.random.key_data(loaded.left[name]),
                             jax.random.key_data(state.left[name]))
        assert_identical(loaded.left["raw"], state.left["raw"])
        assert_identical(loaded.right[0].left, values)
        assert_identical(loaded.right[0].right, state.right[0].right)
        assert_identical(loaded.right[1][1], state.right[1][1])
    assert_identical(saved.get_samples(group_by_chain=True)["a/b%c"], draws["a/b%c"])
    assert_identical(saved.get_samples()["flag"], draws["flag"].reshape(-1))
    assert_identical(saved.get_extra_fields(group_by_chain=True)["energy"], values)


def test_state_without_draws_round_trips_and_refuses_draws(tmp_path):
    path = tmp_path / "warm.nc"
    save(fake_run(Pair(np.arange(2), np.ones((2, 3)))), path)
    saved = load(path)
    assert_identical(saved.last_state.right, np.ones((2, 3)))
    with pytest.raises(ValueError, match="holds no draws"):
        saved.get_samples()
    with pytest.raises(ValueError, match="holds no draws"):
        saved.get_extra_fields(group_by_chain=True)


def write_old_style_file(run, path):
    """``run`` saved as files were before the ArviZ groups: draws, fields and state only."""
    groups = {"posterior": checkpoint._draws_dataset(xarray, run.get_samples()),
              "sample_stats": checkpoint._draws_dataset(xarray, run.get_extra_fields()),
              "sampler_state": checkpoint._state_dataset(xarray, run.last_state, 2)}
    root = xarray.Dataset(attrs=checkpoint._root_attrs(run, groups))
    checkpoint._write_atomically(path, groups, root)


def test_file_without_the_arviz_groups_still_loads(runs, tmp_path):
    path = tmp_path / "old.nc"
    write_old_style_file(fake_run(runs.first_state, draws=runs.first_draws,
                                  fields=runs.first_fields), path)
    saved = load(path)
    assert list(saved.groups) == ["posterior"]
    assert saved.groups["posterior"]["theta"].dims == ("chain", "draw", "theta_dim_0")
    for name, value in runs.first_draws.items():
        assert_identical(saved.get_samples(group_by_chain=True)[name], value)
    assert_same_tree(saved.last_state, runs.first_state)
    idata = hierax.to_inference_data(saved)
    assert set(idata.groups()) == {"posterior", "sample_stats"}
    assert_identical(idata.sample_stats["lp"].values, -runs.first_fields["potential_energy"])


def test_potential_fn_run_saves_without_observation_groups(tmp_path):
    def potential(params):
        return 0.5 * jnp.sum(params["x"] ** 2)

    mcmc = MCMC(NUTS(potential_fn=potential), num_warmup=5, num_samples=4, num_chains=1,
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(0), init_params={"x": jnp.zeros((1, 2))})
    path = tmp_path / "potential.nc"
    save(mcmc, path)
    saved = load(path)
    assert list(saved.groups) == ["posterior"]
    expected, restored = hierax.to_inference_data(mcmc), hierax.to_inference_data(saved)
    assert set(restored.groups()) == set(expected.groups()) == {"posterior", "sample_stats"}
    for group in ("posterior", "sample_stats"):
        xarray.testing.assert_equal(restored[group], expected[group])


# -- continuing -----------------------------------------------------------------------

CONTINUE_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    import jax, numpy as np
    from test_checkpoint import KEY_SEED, Y, make_mcmc
    from hierax.infer.checkpoint import load

    mcmc = make_mcmc(30)
    mcmc.post_warmup_state = load({path!r}).last_state
    mcmc.run(jax.random.PRNGKey(KEY_SEED), Y)
    draws = {{"draw_" + k: np.asarray(v)
              for k, v in mcmc.get_samples(group_by_chain=True).items()}}
    fields = {{"field_" + k: np.asarray(v)
              for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}}
    np.savez({out!r}, **draws, **fields)
    print("ok")
    """
)


def test_save_kill_load_continue_in_a_fresh_interpreter(runs, tmp_path):
    out = tmp_path / "continued.npz"
    script = CONTINUE_SCRIPT.format(tests=os.path.dirname(__file__), path=str(runs.path),
                                    out=str(out))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(out) as continued:
        draws = {k[5:]: continued[k] for k in continued.files if k.startswith("draw_")}
        fields = {k[6:]: continued[k] for k in continued.files if k.startswith("field_")}
    assert_continues(runs, draws, fields)


def test_load_and_resume_continue_in_process(runs, tmp_path):
    mcmc = runs.first
    mcmc.post_warmup_state = load(runs.path).last_state
    mcmc.run(runs.key, Y)
    assert_continues(runs, as_numpy(mcmc.get_samples(group_by_chain=True)),
                     as_numpy(mcmc.get_extra_fields(group_by_chain=True)))

    # The continued run saves its post_warmup_state too: the state it started from.
    second = tmp_path / "second.nc"
    save(mcmc, second)
    assert_same_tree(load(second).post_warmup_state, runs.first_state)

    mcmc.post_warmup_state = None
    saved = resume(mcmc, runs.path)
    assert_same_tree(mcmc.post_warmup_state, runs.first_state)
    assert saved.settings["num_samples"] == 30
    mcmc.run(runs.key, Y)
    assert_continues(runs, as_numpy(mcmc.get_samples(group_by_chain=True)),
                     as_numpy(mcmc.get_extra_fields(group_by_chain=True)))


def other_model():
    hierax.sample("x", dist.Normal(0.0, 1.0).expand([2]))


@pytest.mark.parametrize("mcmc, args, message", [
    (lambda: make_mcmc(30, num_chains=3), (Y,), "holds 2 chains but the MCMC has num_chains=3"),
    (lambda: make_mcmc(30, kernel=HMC(model)), (Y,), "kernel hierax.infer.hmc:NUTS"),
    (lambda: MCMC(NUTS(model), num_warmup=500, num_samples=30, num_chains=2), (Y,),
     "taken 80 iterations, fewer than num_warmup=500"),
    (lambda: make_mcmc(30, kernel=NUTS(other_model)), (),
     "positions of dimension 5 .float32.; the model has 2 unconstrained dimensions"),
], ids=["chains", "kernel", "warmup", "dimension"])
def test_resume_refuses_an_incompatible_mcmc(runs, mcmc, args, message):
    target = mcmc()
    with pytest.raises(ValueError, match=message):
        resume(target, runs.path, args)
    assert target.post_warmup_state is None


# -- atomic writes --------------------------------------------------------------------


def test_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "run.nc"
    save(fake_run(Pair(np.zeros(2), np.ones(2))), path)
    before = path.read_bytes()
    real_write_group = checkpoint._write_group
    written = []

    def write_then_fail(target, name, dataset):
        if written:
            raise OSError("disk full")
        real_write_group(target, name, dataset)
        written.append(target)
        assert os.path.getsize(target) > 0 and os.path.dirname(target) == str(tmp_path)

    monkeypatch.setattr(checkpoint, "_write_group", write_then_fail)
    with pytest.raises(OSError, match="disk full"):
        save(fake_run(Pair(np.full(2, 5.0), np.ones(2))), path)
    assert written, "the writer never ran"
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.nc"]
    assert_identical(load(path).last_state.left, np.zeros(2))

    monkeypatch.setattr(checkpoint, "_write_group", real_write_group)
    save(fake_run(Pair(np.full(2, 5.0), np.ones(2))), path)
    assert os.listdir(tmp_path) == ["run.nc"]
    assert_identical(load(path).last_state.left, np.full(2, 5.0))


# -- errors ---------------------------------------------------------------------------


def test_save_errors(tmp_path):
    with pytest.raises(ValueError, match="no state to save yet; call run"):
        save(make_mcmc(10), tmp_path / "x.nc")
    with pytest.raises(FileNotFoundError, match="missing.*does not exist"):
        save(fake_run(Pair(1, 2)), tmp_path / "missing" / "x.nc")
    with pytest.raises(TypeError, match="cannot store a str at 'left'"):
        save(fake_run(Pair("text", 2)), tmp_path / "x.nc")
    with pytest.raises(ValueError, match="no draws .only warmup ran., so prior"):
        save(fake_run(Pair(1, 2)), tmp_path / "x.nc", prior={"x": np.zeros(3)})
    assert os.listdir(tmp_path) == []


def test_load_errors_name_the_file_and_the_problem(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="no such file .*absent.nc"):
        load(tmp_path / "absent.nc")
    text = tmp_path / "notes.nc"
    text.write_text("not a netcdf file")
    with pytest.raises(ValueError, match="notes.nc is not a hierax run file: it cannot be read"):
        load(text)
    foreign = tmp_path / "foreign.nc"
    xarray.Dataset({"a": ("x", np.arange(3))}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(ValueError, match="foreign.nc is not a hierax run file: its attribute"):
        load(foreign)

    old = tmp_path / "old.nc"
    monkeypatch.setattr(checkpoint, "_installed_version", lambda: "0.0.1")
    save(fake_run(Pair(np.zeros(2), np.ones(2))), old)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="old.nc was written by hierax 0.0.1, this is hierax"):
        load(old)
    assert_identical(load(old, strict_version=False).last_state.left, np.zeros(2))

    future = tmp_path / "future.nc"
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 99)
    save(fake_run(Pair(np.zeros(2), np.ones(2))), future)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="future.nc has format version 99; this hierax reads "
                                         "version 1"):
        load(future)


class Changed(NamedTuple):
    first: Any
    second: Any


def test_load_refuses_state_classes_that_changed(tmp_path, monkeypatch):
    path = tmp_path / "state.nc"
    save(fake_run(Pair(np.zeros(2), np.ones(2))), path)
    monkeypatch.setattr(sys.modules[__name__], "Pair", Changed)
    with pytest.raises(ValueError, match=r"fields \['left', 'right'\].*has fields "
                                         r"\('first', 'second'\)"):
        load(path)

    class Local(NamedTuple):
        value: Any

    local = tmp_path / "local.nc"
    save(fake_run(Local(np.zeros(2))), local)
    with pytest.raises(ValueError, match="Local, which cannot be imported here"):
        load(local)
