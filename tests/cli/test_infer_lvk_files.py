"""`hierax-pop infer` on LVK data products: PESummary event files, O3/O4 injection files,
the LVK model set from a model config, and the errors that name file, group and field."""

import json

import numpy as np
import pytest

from hierax.cli.main import pop_main
from hierax.pop.lvk_files import write_o3_injections, write_o4_injections, write_pesummary_event

FLAT_DETECTOR = {"mass": "flat_detector_components", "distance": "dl_squared"}
TINY_SLICE = {"slice": {}, "mcmc": {"num_warmup": 20, "num_samples": 20, "num_chains": 1,
                                    "chain_method": "sequential", "progress_bar": False}}


def _events(folder, rng, num=6, count=200):
    for i in range(num):
        m1 = rng.uniform(25.0, 35.0)
        samples = {"mass_1_source": m1 + rng.normal(0, 1.0, count),
                   "mass_2_source": 0.8 * m1 + rng.normal(0, 1.0, count),
                   "redshift": np.abs(0.2 + rng.normal(0, 0.03, count))}
        samples["mass_2_source"] = np.minimum(samples["mass_2_source"],
                                              samples["mass_1_source"])
        write_pesummary_event(folder / "events" / f"GW{i:06d}.h5", samples)


def _injections(rng, n=4000):
    m1 = rng.uniform(5.0, 80.0, n)
    m2 = rng.uniform(5.0, m1)
    z = rng.uniform(0.01, 1.0, n)
    density = 1.0 / 75.0 / (m1 - 5.0) / 0.99
    return {"mass1_source": m1, "mass2_source": m2, "redshift": z}, density


@pytest.fixture(scope="module")
def lvk_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lvk")
    rng = np.random.default_rng(7)
    _events(folder, rng)
    columns, density = _injections(rng)
    found = columns["redshift"] < 0.4
    write_o3_injections(folder / "o3.hdf5", columns, ifar={"gstlal": np.where(found, 10.0, 0.1)},
                        total_generated=5000, analysis_time_s=3.15e7, sampling_pdf=density)
    write_o4_injections(folder / "o4.hdf5", columns,
                        lnpdraw={"mass1_source_mass2_source_redshift": np.log(density)},
                        far={"gstlal": np.where(found, 0.1, 10.0)}, total_generated=5000,
                        total_analysis_time=3.15e7)
    (folder / "loader.json").write_text(json.dumps({"prior": FLAT_DETECTOR}))
    (folder / "sampler.json").write_text(json.dumps(TINY_SLICE))
    (folder / "model.json").write_text(json.dumps({"n_pl": 1, "redshift": "power_law"}))
    for name in ("o3", "o4"):
        (folder / f"pmean_{name}.json").write_text(json.dumps(
            {"estimator_type": "injection", "filename": f"{name}.hdf5", "far_cut": 1.0}))
    (folder / "pmean_none.json").write_text(json.dumps(
        {"estimator_type": "injection", "filename": "o3.hdf5", "far_cut": 1e-9}))
    (folder / "not_injections.hdf5").write_bytes((folder / "events" / "GW000000.h5")
                                                 .read_bytes())
    (folder / "pmean_unknown.json").write_text(json.dumps(
        {"estimator_type": "injection", "filename": "not_injections.hdf5"}))
    return folder


def _infer(folder, *extra, pmean="pmean_o3.json", output="fit"):
    argv = ["infer", "--posterior-regex", str(folder / "events" / "GW*.h5"),
            "--model-cfg", str(folder / "model.json"),
            "--loader-cfg", str(folder / "loader.json"),
            "--pmean-cfg", str(folder / pmean), "--sampler-cfg", str(folder / "sampler.json"),
            "--output", str(folder / output), "--overwrite", *extra]
    try:
        return pop_main(argv)
    except SystemExit as exit_:
        return exit_.code


@pytest.mark.parametrize("pmean", ["pmean_o3.json", "pmean_o4.json"])
def test_pesummary_events_with_lvk_injections_run_end_to_end(lvk_folder, pmean, capsys):
    assert _infer(lvk_folder, "--max-samples", "150", pmean=pmean,
                  output=f"fit_{pmean}") == 0
    run = json.loads((lvk_folder / f"fit_{pmean}" / "run.json").read_text())
    assert run["status"] == "finished" and run["num_samples_total"] == 6 * 150
    assert run["loader_config"] == {"prior": FLAT_DETECTOR, "max_samples": 150}
    assert "1 power law, redshift (power_law)" in capsys.readouterr().out


@pytest.mark.parametrize("extra, pmean, match", [
    (["--pe-label", "C01:IMRPhenomXPHM"], "pmean_o3.json",
     r"GW000000\.h5': no analysis \['C01:IMRPhenomXPHM'\]"),
    (["--posterior-columns", "mass_1_source", "mass_2_source", "redshift", "log_prior"],
     "pmean_o3.json", r"is a PESummary file: its 'log_prior' field"),
    ([], "pmean_unknown.json", r"not_injections\.hdf5"),
    ([], "pmean_none.json", r"o3\.hdf5.*(no injection|none)"),
])
def test_bad_lvk_inputs_exit_2_naming_the_file(lvk_folder, extra, pmean, match, capsys):
    assert _infer(lvk_folder, *extra, pmean=pmean, output="bad") == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert __import__("re").search(match, err), err
    assert not (lvk_folder / "bad").exists()


def test_a_missing_column_is_named(lvk_folder, capsys, tmp_path):
    (tmp_path / "model.json").write_text(json.dumps({"n_pl": 1, "spin": True,
                                                     "redshift": True}))
    argv = ["infer", "--posterior-regex", str(lvk_folder / "events" / "GW*.h5"),
            "--model-cfg", str(tmp_path / "model.json"),
            "--loader-cfg", str(lvk_folder / "loader.json"),
            "--sampler-cfg", str(lvk_folder / "sampler.json"), "--output", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as exit_:
        pop_main(argv)
    assert exit_.value.code == 2
    assert "lacks a_1" in capsys.readouterr().err


def test_nuts_config_moves_sharp_edges_by_slice_within_gibbs(lvk_folder, capsys):
    config = {"kernel": {"max_tree_depth": 4, "step_size": 0.1},
              "mcmc": {"num_warmup": 20, "num_samples": 10, "num_chains": 1,
                       "progress_bar": False}}
    (lvk_folder / "nuts.json").write_text(json.dumps(config))
    argv = ["infer", "--posterior-regex", str(lvk_folder / "events" / "GW*.h5"),
            "--model-cfg", str(lvk_folder / "model.json"),
            "--loader-cfg", str(lvk_folder / "loader.json"),
            "--pmean-cfg", str(lvk_folder / "pmean_o3.json"),
            "--sampler-cfg", str(lvk_folder / "nuts.json"),
            "--output", str(lvk_folder / "nuts_fit")]
    assert pop_main(argv) == 0
    err = capsys.readouterr().err
    assert "NUTS cannot move sharp edges (mmin_pl_0, mmax_pl_0" in err
    assert "kernel settings not used: step_size" in err
    stats = __import__("arviz").from_netcdf(lvk_folder / "nuts_fit" / "inference.nc")
    assert "tree_depth" in stats.sample_stats and "n_evaluations" in stats.sample_stats


def test_lvk_mock_from_the_command_line_feeds_infer(tmp_path, capsys):
    (tmp_path / "truths.json").write_text(json.dumps({"log_rate_0": 1.5}))
    (tmp_path / "sampler.json").write_text(json.dumps(TINY_SLICE))
    mock = ["mock", "--format", "lvk", "--add-redshift", "--samples-per-event", "100",
            "--model-params", str(tmp_path / "truths.json"), "--output", str(tmp_path / "d")]
    assert pop_main(mock) == 0
    root = tmp_path / "d" / "realization_0"
    assert {p.name for p in root.iterdir()} >= {"pesummary", "posteriors", "pmean_o3.json",
                                                "pmean_o4.json", "o3_injections.hdf5",
                                                "o4_injections.hdf5", "hyperparameters.json"}
    infer = ["infer", "--posterior-regex", str(root / "pesummary" / "*.h5"), "--add-redshift",
             "--pmean-cfg", str(root / "pmean_o4.json"),
             "--sampler-cfg", str(tmp_path / "sampler.json"), "--output", str(tmp_path / "fit")]
    assert pop_main(infer) == 0
    assert json.loads((tmp_path / "fit" / "run.json").read_text())["status"] == "finished"
    assert (tmp_path / "fit" / "predictive" / "ppc_redshift.csv").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        pop_main(["mock", "--format", "lvk", "--output", str(tmp_path / "e")])
    assert exit_.value.code == 2
    assert "needs a redshift: add --add-redshift" in capsys.readouterr().err
