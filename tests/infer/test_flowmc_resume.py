"""Checkpointed flowMC runs (hierax.infer.flowmc_checkpoint): the results of an
uninterrupted FlowMC.run, bit for bit, from any interruption point (NUTS warmup,
training loop, flow training, production loop, a piece being written); damaged
pieces named and skipped; pieces of other settings refused.

One FlowMC object serves every run, so flowMC's steps compile once: a resumed run
reuses the compiled steps as a second FlowMC.run does, while its state comes from
the folder alone (the flowMC sampler is rebuilt and its counters reset before the
saved state is put back). Results compared: draws, per-draw fields, the printed
summary, local tuning, acceptance, training loss and flowMC's whole final state.
"""

import contextlib
import io
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import hierax
import hierax.distributions as dist

pytest.importorskip("flowMC")
pytestmark = pytest.mark.slow  # about a minute: run by `pytest -m slow` and in CI

from flowMC.strategy.take_steps import TakeSteps  # noqa: E402
from flowMC.strategy.train_model import TrainModel  # noqa: E402

from hierax.infer import resumable  # noqa: E402
from hierax.infer.flowmc import FlowMC  # noqa: E402
from hierax.infer.flowmc_checkpoint import CheckpointedFlowMC  # noqa: E402
from hierax.infer.flowmc_state import encode_sampler  # noqa: E402
from hierax.infer.mcmc import MCMC  # noqa: E402
from tests.infer.test_resumable import flip_a_byte, truncate  # noqa: E402

SEED = 3
# 4 training loops: flowMC adapts the MALA step size from the 4th on.
SETTINGS = dict(n_chains=4, n_local_steps=5, n_global_steps=5, n_training_loops=4,
                n_production_loops=2, n_epochs=2, batch_size=32, n_max_examples=64,
                rq_spline_hidden_units=(4,), rq_spline_n_layers=2, rq_spline_n_bins=4,
                warmup_steps=20, warmup_chains=2, progress_bar=False)
STRATEGY_CALLS = 4 * 7 + 2 + 2 * 4  # training loops, reset and switch, production loops


def gaussian():
    hierax.sample("x", dist.MultivariateNormal(jnp.array([1.0, -1.0]),
                                               jnp.array([[1.0, 0.6], [0.6, 1.0]])))


def gaussian_3d():
    hierax.sample("x", dist.MultivariateNormal(jnp.zeros(3), jnp.eye(3)))


def flow_sampler(sampler):
    """The flowMC Sampler inside a FlowMC (its flow and local kernel)."""
    return sampler._cache[("sampler", False)]


def results(sampler):
    """Everything a finished run reports, as NumPy values and text."""
    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        sampler.print_summary()
    inner = flow_sampler(sampler)
    return {
        "samples": {k: np.asarray(v) for k, v in sampler.get_samples(True).items()},
        "fields": {k: np.asarray(v) for k, v in sampler.get_extra_fields(True).items()},
        "summary": summary.getvalue(),
        "tuning": [np.asarray(v) for v in sampler.local_tuning],
        "acceptance": sampler.acceptance,
        "loss": np.asarray(sampler.training_loss),
        # flowMC's whole final state: buffers, flow, local kernel, optimizer, counters
        # (with each array's kind, dtype and weak type)
        "state": encode_sampler(inner, dict(inner.resources)),
    }


def assert_same(actual, expected):
    assert actual["summary"] == expected["summary"]
    assert actual["acceptance"] == expected["acceptance"]
    for group in ("samples", "fields"):
        assert actual[group].keys() == expected[group].keys()
        for name, value in expected[group].items():
            np.testing.assert_array_equal(actual[group][name], value, err_msg=name)
    for group in ("tuning", "loss"):
        for got, want in zip(actual[group], expected[group], strict=True):
            np.testing.assert_array_equal(got, want, err_msg=group)
    (meta, arrays), (expected_meta, expected_arrays) = actual["state"], expected["state"]
    assert meta == expected_meta
    for name, values in expected_arrays.items():
        for got, want in zip(arrays[name], values, strict=True):
            np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.fixture(scope="module")
def sampler():
    return FlowMC(gaussian, **SETTINGS)


@pytest.fixture(scope="module")
def expected(sampler):
    """The results of an uninterrupted FlowMC.run: what every checkpointed run must give."""
    sampler.run(jax.random.PRNGKey(SEED))
    return results(sampler)


def checkpointed(sampler, folder, resume=False, messages=None, seed=SEED):
    """A checkpointed run with a piece after every strategy call and warmup iteration."""
    log = (lambda message: None) if messages is None else messages.append
    run = CheckpointedFlowMC(sampler, folder, resume=resume, log=log, segment_seconds=0.0)
    run.run(jax.random.PRNGKey(seed))
    return run


@pytest.fixture(scope="module")
def finished_run(sampler, expected, tmp_path_factory):
    """A whole checkpointed run: its folder and results."""
    folder = tmp_path_factory.mktemp("finished") / "state"
    checkpointed(sampler, folder)
    return folder, results(sampler)


@pytest.fixture
def finished(finished_run):
    return finished_run[0]


def copy_of(folder, tmp_path):
    target = tmp_path / "state"
    shutil.copytree(folder, target)
    return target


def pieces(folder, part):
    return sorted((folder / part).glob("segment_*.npz"))


def test_a_checkpointed_run_gives_the_results_of_an_uninterrupted_run(finished_run,
                                                                        expected):
    finished, outcome = finished_run
    assert_same(outcome, expected)
    warmup, flow = pieces(finished, "warmup"), pieces(finished, "flowmc")
    assert len(warmup) == SETTINGS["warmup_steps"]  # one iteration per segment here
    # one checkpoint per strategy call, the newest two kept
    assert [p.name for p in flow] == [f"segment_{STRATEGY_CALLS - 2:05d}.npz",
                                      f"segment_{STRATEGY_CALLS - 1:05d}.npz"]


def test_rarer_checkpoints_fall_on_the_end_of_training_and_of_the_run(
        sampler, tmp_path, expected):
    run = CheckpointedFlowMC(sampler, tmp_path / "state", segment_seconds=1e9)
    run.run(jax.random.PRNGKey(SEED))
    assert_same(results(sampler), expected)
    done = [run.store.read(i).meta["done"] for i in run.store.indices()]
    assert done == [4 * 7, STRATEGY_CALLS]


def interrupt_on_call(monkeypatch, owner, name, call):
    """Make ``owner.name`` raise KeyboardInterrupt on its ``call``-th call."""
    original = getattr(owner, name)
    count = {"calls": 0}

    def interrupted(*args, **kwargs):
        count["calls"] += 1
        if count["calls"] == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, interrupted)


INTERRUPTIONS = {
    "nuts warmup": (MCMC, "_run_phase", 6),
    "local steps of training loop 2": (TakeSteps, "__call__", 3),
    "flow training of loop 4": (TrainModel, "__call__", 4),
    "global steps of production loop 1": (TakeSteps, "__call__", 10),
    "writing a warmup segment": (resumable.SegmentStore, "write", 12),
    "writing a flowMC checkpoint": (resumable.SegmentStore, "write", 20 + 17),
}


@pytest.mark.parametrize("where", list(INTERRUPTIONS))
def test_an_interrupted_run_resumes_to_the_same_results(sampler, tmp_path,
                                                        monkeypatch, expected, where):
    folder = tmp_path / "state"
    with monkeypatch.context() as patch:
        interrupt_on_call(patch, *INTERRUPTIONS[where])
        with pytest.raises(KeyboardInterrupt):
            checkpointed(sampler, folder)
    messages = []
    run = checkpointed(sampler, folder, resume=True, messages=messages)
    assert_same(results(sampler), expected)
    if where.startswith("nuts") or "warmup" in where:
        assert run.resumed_after == 0 and "continuing the NUTS warmup" in messages[0]
    else:
        assert 0 < run.resumed_after < STRATEGY_CALLS
        assert f"({run.resumed_after} of {STRATEGY_CALLS} strategy calls done)" in messages[0]


def test_a_finished_folder_resumes_without_work(sampler, finished, tmp_path, expected):
    folder = copy_of(finished, tmp_path)
    before = {p: p.stat().st_mtime_ns for p in pieces(folder, "flowmc")}
    run = checkpointed(sampler, folder, resume=True)
    assert run.resumed_after == STRATEGY_CALLS
    assert_same(results(sampler), expected)
    assert {p: p.stat().st_mtime_ns for p in pieces(folder, "flowmc")} == before


# -- damaged pieces -----------------------------------------------------------------


@pytest.mark.parametrize("damage", [flip_a_byte, truncate])
def test_a_damaged_checkpoint_is_named_and_the_run_resumes_from_the_one_before(
        sampler, finished, tmp_path, expected, damage):
    folder = copy_of(finished, tmp_path)
    older, newest = pieces(folder, "flowmc")
    damage(newest)
    messages = []
    run = checkpointed(sampler, folder, resume=True, messages=messages)
    assert_same(results(sampler), expected)
    assert run.resumed_after == STRATEGY_CALLS - 1 and run.removed == [newest]
    assert newest.name in messages[0] and "damaged" in messages[0]
    assert older.name in messages[0]


def test_with_every_checkpoint_damaged_flowmc_reruns_from_the_warmup(
        sampler, finished, tmp_path, expected):
    folder = copy_of(finished, tmp_path)
    for path in pieces(folder, "flowmc"):
        flip_a_byte(path)
    messages = []
    run = checkpointed(sampler, folder, resume=True, messages=messages)
    assert_same(results(sampler), expected)
    assert run.resumed_after == 0 and len(messages) == 3
    assert all("end of the NUTS warmup" in m for m in messages[:2])
    assert "NUTS warmup in" in messages[2] and "is complete" in messages[2]


def test_a_damaged_warmup_segment_is_named_and_the_warmup_resumes_before_it(
        sampler, finished, tmp_path, expected):
    folder = copy_of(finished, tmp_path)
    shutil.rmtree(folder / "flowmc")
    damaged = pieces(folder, "warmup")[7]
    truncate(damaged)
    messages = []
    checkpointed(sampler, folder, resume=True, messages=messages)
    assert_same(results(sampler), expected)
    assert damaged.name in messages[0] and "damaged" in messages[0]
    assert "continuing the NUTS warmup from iteration 7" in messages[1]


# -- other settings -------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    (dict(n_epochs=3), r"n_epochs 2 -> 3"),
    (dict(n_chains=6), r"n_chains 4 -> 6"),
    (dict(model=gaussian_3d), r"dimension 2 -> 3"),
    (dict(seed=SEED + 1), r"rng_key \[0, 3\] -> \[0, 4\]"),
])
@pytest.mark.parametrize("part", ["flowmc", "warmup"])
def test_pieces_of_other_settings_are_refused(finished, tmp_path, change, message, part):
    folder = copy_of(finished, tmp_path)
    if part == "warmup":  # only the warmup's segments left: they are checked too
        shutil.rmtree(folder / "flowmc")
    change = dict(change)
    seed = change.pop("seed", SEED)
    other = FlowMC(change.pop("model", gaussian), **{**SETTINGS, **change})
    with pytest.raises(ValueError, match=message):
        checkpointed(other, folder, resume=True, seed=seed)


def test_an_earlier_run_needs_resume(sampler, finished, tmp_path):
    folder = copy_of(finished, tmp_path)
    with pytest.raises(ValueError, match="holds an earlier flowMC run; pass resume=True"):
        checkpointed(sampler, folder)
