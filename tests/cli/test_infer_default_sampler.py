"""``hierax-pop infer`` without a sampler config runs slice sampling, end to end (small size)."""

import json

import numpy as np
import pytest

from hierax.cli.main import pop_main

arviz = pytest.importorskip("arviz")

SMALL_TRUTHS = {"log_rate_0": 1.9}
SMALL_PMEAN = {"estimator_type": "analytic_pdet", "num_samples": 20000}
SMALL_SLICE = {"slice": {}, "mcmc": {"num_warmup": 60, "num_samples": 40, "num_chains": 2,
                                     "chain_method": "vectorized", "progress_bar": False}}


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("slice_infer")
    (folder / "truths.json").write_text(json.dumps(SMALL_TRUTHS))
    (folder / "pmean.json").write_text(json.dumps(SMALL_PMEAN))
    # {"slice", "mcmc"} with no --sampler: the kind comes from the keys.
    (folder / "slice.json").write_text(json.dumps(SMALL_SLICE))
    assert pop_main(["mock", "--model-params", str(folder / "truths.json"), "--pmean-cfg",
                     str(folder / "pmean.json"), "--samples-per-event", "200", "--seed", "5",
                     "--output", str(folder / "data")]) == 0
    assert pop_main(["infer", "--posterior-regex",
                     str(folder / "data" / "realization_0" / "posteriors" / "event_*.dat"),
                     "--pmean-cfg", str(folder / "pmean.json"), "--sampler-cfg",
                     str(folder / "slice.json"), "--output", str(folder / "out")]) == 0
    return folder


def test_slice_run_writes_the_outputs(run_folder):
    out = run_folder / "out"
    data = arviz.from_netcdf(out / "inference.nc")
    assert data.posterior["alpha_pl_0"].shape == (2, 40)
    assert json.loads(data.attrs["sampler_config"])["slice"]["max_steps_out"] == 16
    assert "n_evaluations" in data.sample_stats
    evaluations = np.asarray(data.sample_stats["n_evaluations"])
    assert np.all(evaluations >= 5)  # at least one evaluation per direction and sweep
    assert json.loads((out / "run.json").read_text())["sampler"] == "slice"
    assert (out / "samples.dat").read_text().splitlines()[0].split()[0] == "log_rate_0"


def test_resume_of_a_finished_slice_run_keeps_its_draws(run_folder):
    out = run_folder / "out"
    before = np.asarray(arviz.from_netcdf(out / "inference.nc").posterior["mmax_pl_0"])
    assert pop_main(["infer", "--posterior-regex",
                     str(run_folder / "data" / "realization_0" / "posteriors" / "event_*.dat"),
                     "--pmean-cfg", str(run_folder / "pmean.json"), "--sampler-cfg",
                     str(run_folder / "slice.json"), "--output", str(out), "--resume"]) == 0
    after = np.asarray(arviz.from_netcdf(out / "inference.nc").posterior["mmax_pl_0"])
    np.testing.assert_array_equal(after, before)
