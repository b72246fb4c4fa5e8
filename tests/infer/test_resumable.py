"""Checkpointed runs (hierax.infer.resumable): the draws of an uninterrupted run from any
interruption point, damaged segments named and skipped, settings checked; pieces and
progress output (hierax.infer.progress)."""

import io
import json
import shutil
import signal
from types import SimpleNamespace

import jax
import numpy as np
import pytest

import hierax
import hierax.distributions as dist
from hierax.infer import MCMC, NUTS, Slice
from hierax.infer import progress as progress_module
from hierax.infer.resumable import CheckpointedRun, SegmentStore

KERNELS = {"nuts": lambda model: NUTS(model, max_tree_depth=5), "slice": Slice}


def model():
    hierax.sample("x", dist.Normal(1.0, 2.0))
    hierax.sample("s", dist.LogNormal(0.0, 0.5))


def make_mcmc(kind="nuts", chain_method="vectorized", num_samples=60):
    return MCMC(KERNELS[kind](model), num_warmup=80, num_samples=num_samples, num_chains=2,
                chain_method=chain_method, progress_bar=False)


def checkpointed(folder, resume=False, messages=None, **mcmc_options):
    """A finished checkpointed run into ``folder``, in segments of 1, 4 and then 15
    iterations (as many as time allows, capped at ``max_segment_draws``)."""
    mcmc = make_mcmc(**mcmc_options)
    log = (lambda message: None) if messages is None else messages.append
    run = CheckpointedRun(mcmc, folder, resume=resume, segment_seconds=1e9,
                          max_segment_draws=15, log=log)
    run.run(jax.random.PRNGKey(4))
    return mcmc, run


def assert_same_run(mcmc, reference):
    for name, value in reference.get_samples(group_by_chain=True).items():
        np.testing.assert_array_equal(mcmc.get_samples(group_by_chain=True)[name], value)
    for name, value in reference.get_extra_fields(group_by_chain=True).items():
        np.testing.assert_array_equal(mcmc.get_extra_fields(group_by_chain=True)[name], value)


@pytest.fixture(scope="module")
def reference():
    """``MCMC.run`` without checkpoints: the draws every checkpointed run must make."""
    mcmc = make_mcmc()
    mcmc.run(jax.random.PRNGKey(4))
    return mcmc


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """The segments of a whole checkpointed run (vectorized NUTS)."""
    folder = tmp_path_factory.mktemp("finished") / "state"
    checkpointed(folder)
    return folder


def copy_of(folder, tmp_path):
    target = tmp_path / "state"
    shutil.copytree(folder, target)
    return SegmentStore(target)


@pytest.mark.parametrize("chain_method", ["sequential", "vectorized", "parallel"])
@pytest.mark.parametrize("kind", ["nuts", "slice"])
def test_checkpointed_run_makes_the_draws_of_an_uninterrupted_run(tmp_path, kind,
                                                                  chain_method):
    plain = make_mcmc(kind, chain_method)
    plain.run(jax.random.PRNGKey(4))
    mcmc, run = checkpointed(tmp_path / "state", kind=kind, chain_method=chain_method)
    assert_same_run(mcmc, plain)
    store = SegmentStore(tmp_path / "state")
    lengths = [(store.read(i).meta["phase"], store.read(i).stop - store.read(i).meta["start"])
               for i in store.indices()]
    assert lengths == [("warmup", 1), ("warmup", 4)] + [("warmup", 15)] * 5 \
        + [("sample", 15)] * 4
    np.testing.assert_array_equal(np.asarray(mcmc.last_state.iteration), [140, 140])


def test_a_resumed_run_makes_the_same_draws_from_every_segment(finished, reference,
                                                               tmp_path):
    for keep in (0, 1, 4, 7, 9, 10):  # none, warmup, its end, sampling, all but the last
        store = copy_of(finished, tmp_path / str(keep))
        store.remove_from(keep)
        mcmc, run = checkpointed(store.folder, resume=True)
        assert_same_run(mcmc, reference)
        assert run.resumed_from == (store.read(keep - 1).stop if keep else 0)


def test_a_finished_folder_resumes_without_work(finished, reference, tmp_path):
    store = copy_of(finished, tmp_path)
    before = {i: store.path(i).stat().st_mtime_ns for i in store.indices()}
    mcmc, run = checkpointed(store.folder, resume=True)
    assert_same_run(mcmc, reference)
    assert run.resumed_from == 140
    assert {i: store.path(i).stat().st_mtime_ns for i in store.indices()} == before


def test_an_interrupt_keeps_every_finished_segment(tmp_path, reference, monkeypatch):
    """Ctrl-C in the middle of a sampling segment: the segments before it stay intact."""
    folder = tmp_path / "state"
    calls = {"count": 0}
    original = MCMC._run_phase

    def interrupted(self, phase, *args, **kwargs):
        calls["count"] += phase == "sample"
        if calls["count"] == 3:  # the third sampling segment
            raise KeyboardInterrupt
        return original(self, phase, *args, **kwargs)

    monkeypatch.setattr(MCMC, "_run_phase", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpointed(folder)
    monkeypatch.setattr(MCMC, "_run_phase", original)
    store = SegmentStore(folder)
    assert [store.read(i).meta["phase"] for i in store.indices()][-3:] == ["warmup", "sample",
                                                                          "sample"]
    mcmc, _ = checkpointed(folder, resume=True)
    assert_same_run(mcmc, reference)


# -- damaged pieces -----------------------------------------------------------------


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def change_an_array_keeping_the_digest(path):
    """A well-formed file whose content no longer matches its recorded digest."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(str(arrays["meta"][()]))
    key = next(e["key"] for e in meta["arrays"] if e["group"] == "state")
    arrays[key] = arrays[key] + 1
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


def empty_file(path):
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [flip_a_byte, truncate, change_an_array_keeping_the_digest,
                                    empty_file])
@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_damaged_segment_is_named_and_the_run_continues_from_the_last_good_one(
        finished, reference, tmp_path, damage, which):
    store = copy_of(finished, tmp_path)
    indices = store.indices()
    index = {"first": 0, "middle": len(indices) // 2, "last": indices[-1]}[which]
    damage(store.path(index))
    messages = []
    mcmc, run = checkpointed(store.folder, resume=True, messages=messages)
    assert_same_run(mcmc, reference)
    assert len(messages) == 1 and store.path(index).name in messages[0], messages
    assert "damaged" in messages[0]
    assert run.resumed_from == (store.read(index - 1).stop if index else 0)


def test_a_missing_segment_ends_the_intact_sequence(finished, reference, tmp_path):
    store = copy_of(finished, tmp_path)
    store.path(3).unlink()
    (store.folder / ".segment_00009.npz.abc.tmp").write_bytes(b"partial")  # a killed write
    messages = []
    mcmc, run = checkpointed(store.folder, resume=True, messages=messages)
    assert_same_run(mcmc, reference)
    assert run.resumed_from == store.read(2).stop
    assert "segment_00003.npz is missing" in messages[0]
    assert not list(store.folder.glob(".segment_*"))


def test_resuming_with_other_settings_is_refused_before_any_work(finished, tmp_path):
    store = copy_of(finished, tmp_path)
    with pytest.raises(ValueError, match=r"num_samples 60 -> 90"):
        checkpointed(store.folder, resume=True, num_samples=90)


def test_segments_of_an_earlier_run_need_resume(finished, tmp_path):
    store = copy_of(finished, tmp_path)
    with pytest.raises(ValueError, match="holds the segments of an earlier run"):
        checkpointed(store.folder)


def test_a_segment_from_another_run_is_refused(finished, tmp_path):
    store = copy_of(finished, tmp_path)
    shutil.copy(store.path(5), store.path(2))
    with pytest.raises(ValueError, match=r"segment_00002.npz starts at iteration"):
        checkpointed(store.folder, resume=True)


def test_a_segment_is_read_back_and_checked_when_written(tmp_path, monkeypatch):
    from hierax.infer import resumable

    def corrupting_replace(path, write):
        write(str(path))
        flip_a_byte(path)

    monkeypatch.setattr(resumable, "replace_atomically", corrupting_replace)
    with pytest.raises(OSError, match=r"segment_00000.npz did not read back as written"):
        checkpointed(tmp_path / "state")


# -- pieces and progress output -------------------------------------------------------


class FakeClock:
    def __init__(self, seconds_per_iteration):
        self.now = 0.0
        self.rate = seconds_per_iteration

    def perf_counter(self):
        return self.now


def test_pieces_grow_to_the_target_time_and_cover_the_range(monkeypatch):
    clock = FakeClock(seconds_per_iteration=0.01)  # 50 iterations in PIECE_SECONDS = 0.5
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    position, lengths = 10, []
    for stop in progress_module.Pieces(10, 1000):
        lengths.append(stop - position)
        clock.now += lengths[-1] * clock.rate
        position = stop
    assert position == 1000
    assert lengths[:4] == [1, 4, 16, 50]  # growth at most 4x, then the target time
    assert max(lengths) == 50


def test_pieces_respect_their_cap():
    stops = list(progress_module.Pieces(0, 10, max_piece=3))
    assert stops[-1] == 10 and all(b - a <= 3 for a, b in zip([0] + stops[:-1], stops, strict=True))


def test_progress_to_a_file_is_plain_lines(monkeypatch):
    monkeypatch.setattr(progress_module, "LOG_SECONDS", 0.0)
    stream = io.StringIO()
    bar = progress_module.ProgressBar("sample", 100, 200, label="chain 1", phase_start=50)
    bar._bar = progress_module.progress_display(150, "chain 1 sample", initial=50,
                                                stream=stream)
    bar.update(150, {"step_size": 0.25, "divergences": 2})
    bar.close()
    text = stream.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0].startswith("chain 1 sample: 100/150 it (67%)")
    assert "step size 0.25" in lines[0] and "divergences 2" in lines[0]


def test_pieces_follow_the_slowest_iterations_seen(monkeypatch):
    """After one slow piece (deep NUTS trees), pieces stay short though speed recovers."""
    clock = FakeClock(seconds_per_iteration=0.01)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(perf_counter=clock.perf_counter))
    costs = {3: 0.1}  # the fourth piece runs ten times slower per iteration
    position, lengths = 0, []
    for index, stop in enumerate(progress_module.Pieces(0, 400)):
        lengths.append(stop - position)
        clock.now += lengths[-1] * costs.get(index, clock.rate)
        position = stop
    assert lengths[:6] == [1, 4, 16, 50, 5, 5]


@pytest.fixture
def python_ctrl_c():
    """Python's own SIGINT handler (a test runner's worker may ignore SIGINT)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def swallowed_ctrl_c():
    """Ctrl-C pressed while Python runs a callback that drops exceptions (gc, finalizers)."""
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        pass


def test_a_ctrl_c_swallowed_by_a_callback_still_stops_the_run(python_ctrl_c, monkeypatch):
    original = progress_module.Pieces.__next__
    calls = []

    def next_stop(self):
        calls.append(1)
        if len(calls) == 3:
            swallowed_ctrl_c()
        return original(self)

    monkeypatch.setattr(progress_module.Pieces, "__next__", next_stop)
    mcmc = MCMC(NUTS(model), num_warmup=50, num_samples=50, chain_method="sequential",
                progress_bar=True)
    with pytest.raises(KeyboardInterrupt):
        mcmc.run(jax.random.PRNGKey(0))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(progress_module.Pieces, "__next__", original)
    mcmc.run(jax.random.PRNGKey(0))  # a later run is not stopped by the old Ctrl-C
