"""Bad input to mock / infer / report: exit code 2 and one clear line on stderr, no traceback."""

import json
import re

import numpy as np
import pytest

from hierax.cli.main import n_sage_main, pop_main

PRIOR = {"log_rate_0": {"dist": "Uniform", "low": -11.5, "high": 11.5},
         "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
         "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
         "mmin_pl_0": {"dist": "Uniform", "low": 1.0, "high": 20.0},
         "mmax_pl_0": {"dist": "Uniform", "low": 30.0, "high": 100.0}}
NUTS = {"kernel": {"max_tree_depth": 6}, "mcmc": {"num_warmup": 10, "num_samples": 10}}


def _event(path, columns=("mass_1_source", "mass_2_source", "log_prior"), rows=20,
           value=None):
    """An event file with enough samples and a log prior, so a run warns about nothing."""
    rng = np.random.default_rng(0)
    data = np.column_stack([30 + rng.uniform(size=rows), 20 + rng.uniform(size=rows),
                            -rng.uniform(size=rows)])
    data = data[:, : len(columns)]
    if value is not None:
        data[2, 0] = value
    np.savetxt(path, data, header=" ".join(columns), comments="")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events").mkdir()
    for i in range(3):
        _event(tmp_path / "events" / f"event_{i}.dat")
    (tmp_path / "prior.json").write_text(json.dumps(PRIOR))
    (tmp_path / "nuts.json").write_text(json.dumps(NUTS))
    (tmp_path / "pmean.json").write_text(json.dumps({"estimator_type": "analytic_pdet",
                                                     "num_samples": 1000}))
    return tmp_path


def _seed_argv(regex="events/event_*.dat", prior="prior.json", sampler="nuts.json",
               pmean="pmean.json"):
    return ["--seed", "1", "--n-pl", "1", "--n-g", "0", "--posterior-regex", regex,
            "--posterior-columns", "mass_1_source", "mass_2_source", "--pmean-cfg", pmean,
            "--prior-cfg", prior, "--sampler-cfg", sampler, "--n-buckets", "10"]


def _fails(capsys, main, argv, match):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    assert info.value.code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert re.search(match, lines[0]), lines[0]
    return lines[0]


def test_malformed_json(workdir, capsys):
    (workdir / "prior.json").write_text('{"log_rate_0": {"dist": "Uniform",}')
    _fails(capsys, n_sage_main, _seed_argv(), r"prior config 'prior.json'.*malformed JSON")


def test_unknown_distribution(workdir, capsys):
    prior = dict(PRIOR, alpha_pl_0={"dist": "Unifrom", "low": 0.0, "high": 1.0})
    (workdir / "prior.json").write_text(json.dumps(prior))
    _fails(capsys, n_sage_main, _seed_argv(), r"unknown distribution 'Unifrom'.*Uniform")


def test_regex_matching_no_file(workdir, capsys):
    _fails(capsys, n_sage_main, _seed_argv(regex="nowhere/event_*.dat"),
           r"no file matches 'nowhere/event_\*\.dat'")


def test_missing_column(workdir, capsys):
    _event(workdir / "events" / "event_1.dat", columns=("mass_1_source", "log_prior"))
    _fails(capsys, n_sage_main, _seed_argv(), r"event_1.*mass_2_source")


def test_nan_samples(workdir, capsys):
    _event(workdir / "events" / "event_2.dat", value=np.nan)
    _fails(capsys, n_sage_main, _seed_argv(), r"event_2.*(finite|NaN|nan)")


def test_empty_file(workdir, capsys):
    (workdir / "events" / "event_0.dat").write_text("")
    _fails(capsys, n_sage_main, _seed_argv(), r"event_0.*empty")


def test_prior_with_mmin_above_mmax(workdir, capsys):
    prior = dict(PRIOR, mmin_pl_0={"dist": "Uniform", "low": 60.0, "high": 70.0},
                 mmax_pl_0={"dist": "Uniform", "low": 30.0, "high": 50.0})
    (workdir / "prior.json").write_text(json.dumps(prior))
    _fails(capsys, n_sage_main, _seed_argv(), r"mmin_pl_0.*mmax_pl_0")


def test_mock_truths_with_mmin_above_mmax(workdir, capsys):
    (workdir / "truths.json").write_text(json.dumps({"mmin_pl_0": 60.0, "mmax_pl_0": 30.0}))
    _fails(capsys, pop_main, ["mock", "--model-params", "truths.json", "--output", "data"],
           r"model-params 'truths.json': mmin_pl_0 = 60 must be below mmax_pl_0 = 30")


def test_unknown_config_key(workdir, capsys):
    (workdir / "nuts.json").write_text(json.dumps({**NUTS, "kernel": {"max_tree_dept": 6}}))
    _fails(capsys, n_sage_main, _seed_argv(), r"max_tree_dept.*unknown key.*max_tree_depth")


def test_unknown_pmean_key(workdir, capsys):
    (workdir / "pmean.json").write_text(json.dumps({"estimator_type": "analytic_pdet",
                                                    "horizon": 1.0}))
    _fails(capsys, n_sage_main, _seed_argv(), r"pmean config.*unknown keys.*horizon")


def test_unknown_model_parameter_for_mock(workdir, capsys):
    (workdir / "truths.json").write_text(json.dumps({"alpha": 2.0}))
    _fails(capsys, pop_main, ["mock", "--model-params", "truths.json"],
           r"unknown hyperparameter\(s\) alpha.*alpha_pl_0")


def test_report_without_a_run(workdir, capsys):
    _fails(capsys, pop_main, ["report", str(workdir)], r"no inference.nc")


def test_resume_with_changed_inputs(workdir, capsys):
    (workdir / "out").mkdir()
    (workdir / "out" / "run.json").write_text(json.dumps({"seed": 99}))
    _fails(capsys, n_sage_main, _seed_argv() + ["--output", "out", "--resume"],
           r"cannot resume: .*seed")
