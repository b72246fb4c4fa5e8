"""``hierax-pop infer`` runs that are interrupted, killed or damaged.

- SIGINT and SIGKILL during warmup and during sampling, for slice and NUTS: after
  ``--resume`` the draws are those of an uninterrupted run, bit for bit; the same for a
  flowMC run interrupted in its warmup or its strategy loop.
- Each checkpoint piece damaged in turn: ``--resume`` names it and continues from the
  last good one, or exits with code 2 before any sampling; never a traceback.
- One run per output folder: a finished or interrupted run is never replaced without
  ``--overwrite``; a run stopped before its first checkpoint leaves nothing behind.
"""

import json
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from hierax.cli.main import pop_main
from hierax.infer.resumable import SegmentStore

arviz = pytest.importorskip("arviz")

SMALL_TRUTHS = {"log_rate_0": 1.9}
SMALL_PMEAN = {"estimator_type": "analytic_pdet", "num_samples": 20000}
MCMC_SETTINGS = {"num_warmup": 600, "num_samples": 300, "num_chains": 2,
                 "progress_bar": False}
SAMPLERS = {"slice": {"slice": {}, "mcmc": MCMC_SETTINGS},
            "nuts": {"kernel": {"max_tree_depth": 5}, "mcmc": MCMC_SETTINGS}}
FLOWMC = {"bundle_config": {
    "n_chains": 4, "n_local_steps": 5, "n_global_steps": 5, "n_training_loops": 3,
    "n_production_loops": 2, "n_epochs": 2, "batch_size": 200, "n_max_examples": 2000,
    "rq_spline_hidden_units": [8, 8], "rq_spline_n_bins": 4, "rq_spline_n_layers": 2,
    "local_sampler_name": "mala", "verbose": False}}
# Fixed mass edges: a smooth likelihood, on which NUTS (and flowMC's NUTS warmup) is quick.
FIXED_EDGES_PRIOR = {"log_rate_0": {"dist": "Uniform", "low": -5.0, "high": 10.0},
                     "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 8.0},
                     "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 8.0},
                     "mmin_pl_0": 5.0, "mmax_pl_0": 100.0}
CHECKPOINT_SECONDS = "0.05"  # many segments, so a signal can land in every phase
# ``python -m hierax.cli``, with Python's Ctrl-C handler even where the test runner's
# process ignores SIGINT (a child inherits that).
CLI_WITH_CTRL_C = ("import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler)"
                   "; runpy.run_module('hierax.cli', run_name='__main__')")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory):
    """A mock catalog of about 20 events (200 samples each) and the configs."""
    folder = tmp_path_factory.mktemp("interrupts")
    (folder / "truths.json").write_text(json.dumps(SMALL_TRUTHS))
    (folder / "pmean.json").write_text(json.dumps(SMALL_PMEAN))
    for kind, config in {**SAMPLERS, "flowmc": FLOWMC}.items():
        (folder / f"{kind}.json").write_text(json.dumps(config))
    (folder / "fixed_edges.json").write_text(json.dumps(FIXED_EDGES_PRIOR))
    assert pop_main(["mock", "--model-params", str(folder / "truths.json"), "--pmean-cfg",
                     str(folder / "pmean.json"), "--samples-per-event", "200", "--seed", "5",
                     "--output", str(folder / "data")]) == 0
    return folder


def infer_argv(catalog, kind, output):
    """Slice on the default prior; NUTS and flowMC with fixed mass edges (their gradients
    need a smooth likelihood)."""
    events = catalog / "data" / "realization_0" / "posteriors" / "event_*.dat"
    prior = [] if kind == "slice" else ["--prior-cfg", str(catalog / "fixed_edges.json")]
    return ["infer", "--posterior-regex", str(events), "--pmean-cfg",
            str(catalog / "pmean.json"), "--sampler-cfg", str(catalog / f"{kind}.json"),
            "--output", str(output), "--checkpoint-every", CHECKPOINT_SECONDS, *prior]


@pytest.fixture(scope="module")
def reference(catalog):
    """Uninterrupted runs: kind -> output folder."""
    folders = {}
    for kind in SAMPLERS:
        folders[kind] = catalog / f"reference_{kind}"
        assert pop_main(infer_argv(catalog, kind, folders[kind])) == 0
    return folders


def posterior(folder) -> dict:
    data = arviz.from_netcdf(folder / "inference.nc").posterior
    return {name: np.asarray(data[name]) for name in data.data_vars}


def assert_same_draws(folder, reference_folder):
    expected = posterior(reference_folder)
    found = posterior(folder)
    assert found.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(found[name], value, err_msg=name)


def last_segment_phase(state):
    store = SegmentStore(state)
    indices = store.indices()
    if not indices:
        return 0, None
    try:
        return len(indices), store.read(indices[-1]).meta["phase"]
    except ValueError:  # being replaced right now
        return len(indices) - 1, None


def interrupt(argv, output, phase, signal_number):
    """Run ``hierax-pop *argv`` in a new process; once it has written two segments of ``phase``,
    send ``signal_number``. Returns ``(exit code, stderr)``."""
    before, _ = last_segment_phase(output / "state")
    process = subprocess.Popen([sys.executable, "-c", CLI_WITH_CTRL_C, *argv],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while True:
            count, last = last_segment_phase(output / "state")
            if last == phase and count >= before + 2:
                break
            assert process.poll() is None, f"the run ended before any {phase} segment"
            time.sleep(0.02)
        process.send_signal(signal_number)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    return process.returncode, stderr


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["slice", "nuts"])
def test_sigint_and_sigkill_in_warmup_and_sampling_resume_to_the_same_draws(catalog, reference,
                                                                             kind):
    output = catalog / f"signals_{kind}"
    argv = infer_argv(catalog, kind, output)
    plan = [(signal.SIGINT, "warmup"), (signal.SIGKILL, "warmup"), (signal.SIGINT, "sample"),
            (signal.SIGKILL, "sample")]
    for number, (signal_number, phase) in enumerate(plan):
        code, stderr = interrupt(argv + (["--resume"] if number else []), output, phase,
                                 signal_number)
        if signal_number == signal.SIGINT:
            assert code == 130, stderr
            assert stderr.rstrip().endswith("hierax-pop: interrupted"), stderr
            assert "continue with --resume" in stderr and "Traceback" not in stderr
        else:
            assert code == -signal.SIGKILL
        assert not (output / "inference.nc").exists()
    assert pop_main(argv + ["--resume"]) == 0
    assert_same_draws(output, reference[kind])


@pytest.mark.slow
def test_an_interrupted_flowmc_run_resumes_to_the_same_draws(catalog, tmp_path, monkeypatch):
    """Ctrl-C in flowMC's strategy loop, then ``--resume`` (the library's own tests,
    tests/infer/test_flowmc_resume.py, interrupt it everywhere else)."""
    pytest.importorskip("flowMC")
    whole, cut = tmp_path / "whole", tmp_path / "cut"

    def argv(output):
        return infer_argv(catalog, "flowmc", output)

    assert pop_main(argv(whole)) == 0
    original, writes = SegmentStore.write, []

    def write_then_interrupt(self, *args, **kwargs):
        writes.append(self.folder.name)
        if writes.count("flowmc") == 3:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(SegmentStore, "write", write_then_interrupt)
    with pytest.raises(SystemExit) as stopped:
        pop_main(argv(cut))
    assert stopped.value.code == 130
    monkeypatch.setattr(SegmentStore, "write", original)
    assert pop_main(argv(cut) + ["--resume"]) == 0
    assert_same_draws(cut, whole)


# -- damaged checkpoint pieces ----------------------------------------------------------


def interrupted_copy(reference_folder, target):
    """A folder as a run killed just before it wrote its outputs leaves it."""
    target.mkdir()
    shutil.copytree(reference_folder / "state", target / "state")
    settings = json.loads((reference_folder / "run.json").read_text())
    (target / "run.json").write_text(json.dumps({**settings, "status": "running"}))
    return target


def flip_a_byte(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_damaged_segment_is_named_and_the_run_continues_from_the_last_good_one(
        catalog, reference, tmp_path, capsys, which):
    output = interrupted_copy(reference["slice"], tmp_path / "out")
    store = SegmentStore(output / "state")
    index = {"first": 0, "middle": len(store.indices()) // 2,
             "last": store.indices()[-1]}[which]
    flip_a_byte(store.path(index))
    capsys.readouterr()
    assert pop_main(infer_argv(catalog, "slice", output) + ["--resume"]) == 0
    err = capsys.readouterr().err
    assert f"{store.path(index).name} is damaged" in err and "Traceback" not in err
    assert_same_draws(output, reference["slice"])


def test_a_damaged_run_json_stops_before_any_sampling(catalog, reference, tmp_path, capsys):
    output = interrupted_copy(reference["slice"], tmp_path / "out")
    (output / "run.json").write_text('{"seed": 5, "model"')
    segments = SegmentStore(output / "state").indices()
    with pytest.raises(SystemExit) as stopped:
        pop_main(infer_argv(catalog, "slice", output) + ["--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(err) == 1
    assert "run.json' is missing or damaged" in err[0]
    assert SegmentStore(output / "state").indices() == segments


def test_segments_of_another_run_stop_before_any_sampling(catalog, reference, tmp_path,
                                                          capsys):
    output = interrupted_copy(reference["slice"], tmp_path / "out")
    store = SegmentStore(output / "state")
    shutil.copy(store.path(6), store.path(3))
    with pytest.raises(SystemExit) as stopped:
        pop_main(infer_argv(catalog, "slice", output) + ["--resume"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(err) == 1
    assert "segment_00003.npz starts at iteration" in err[0]


# -- one run per folder -----------------------------------------------------------------


def test_a_finished_run_is_kept_unless_overwrite_is_given(catalog, reference, tmp_path,
                                                          capsys):
    output = tmp_path / "out"
    shutil.copytree(reference["slice"], output)
    argv = infer_argv(catalog, "slice", output)
    with pytest.raises(SystemExit) as stopped:
        pop_main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(err) == 1
    assert "holds a finished run; pass --overwrite to replace it" in err[0]
    written = (output / "inference.nc").stat().st_mtime_ns
    assert pop_main(argv + ["--resume"]) == 0  # nothing to do
    assert "has finished; nothing to do" in capsys.readouterr().err
    assert (output / "inference.nc").stat().st_mtime_ns == written
    (output / "report").mkdir()
    (output / "report" / "index.html").write_text("stale")
    (output / "notes.txt").write_text("the user's own file")
    assert pop_main(argv + ["--overwrite"]) == 0
    assert not (output / "report").exists() and (output / "notes.txt").is_file()
    assert_same_draws(output, reference["slice"])


def test_an_interrupted_run_needs_resume_or_overwrite(catalog, reference, tmp_path, capsys):
    output = interrupted_copy(reference["slice"], tmp_path / "out")
    with pytest.raises(SystemExit) as stopped:
        pop_main(infer_argv(catalog, "slice", output))
    err = capsys.readouterr().err.strip().splitlines()
    assert stopped.value.code == 2 and len(err) == 1
    assert "holds an interrupted run; continue it with --resume or replace it with " \
           "--overwrite" in err[0]


def test_a_run_stopped_before_its_first_checkpoint_leaves_nothing(catalog, tmp_path,
                                                                 monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(SegmentStore, "write", interrupted)
    output = tmp_path / "new" / "out"
    with pytest.raises(SystemExit) as stopped:
        pop_main(infer_argv(catalog, "slice", output))
    assert stopped.value.code == 130
    assert not output.exists()
    existing = tmp_path / "mine"
    existing.mkdir()
    (existing / "notes.txt").write_text("kept")
    with pytest.raises(SystemExit):
        pop_main(infer_argv(catalog, "slice", existing))
    assert [p.name for p in existing.iterdir()] == ["notes.txt"]
