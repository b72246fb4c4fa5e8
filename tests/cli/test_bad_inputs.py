"""Bad event files and configs: exit code 2 and one line naming the file, row, key or event;
runs that are valid but rest on a guess: a warning that says which guess.

The event files of the fixture have a ``log_prior`` column and 20 samples each, so the runs
that fail here warn about nothing first (their stderr holds only the error line).
"""

import json
import re

import h5py
import numpy as np
import pytest

from hierax.cli.main import pop_main
from hierax.pop.data import MIN_SAMPLES_PER_EVENT, FewSamplesWarning
from hierax.pop.priors import UnusedPriorKeyWarning, parse_prior_config
from hierax.pop.readers import NoLogPriorWarning, read_text_events

COLUMNS = ("mass_1_source", "mass_2_source", "log_prior")
HEADER = " ".join(COLUMNS)
MASSES = COLUMNS[:2]
HYPERPARAMETERS = ("log_rate_0", "alpha_pl_0", "beta_pl_0", "mmin_pl_0", "mmax_pl_0")
PRIOR = {"log_rate_0": {"dist": "Uniform", "low": -11.5, "high": 11.5},
         "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
         "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
         "mmin_pl_0": {"dist": "Uniform", "low": 1.0, "high": 20.0},
         "mmax_pl_0": {"dist": "Uniform", "low": 30.0, "high": 100.0}}
SLICE = {"slice": {}, "mcmc": {"num_warmup": 5, "num_samples": 5, "progress_bar": False}}
PMEAN = {"estimator_type": "analytic_pdet", "num_samples": 1000}
ROWS = 2 * MIN_SAMPLES_PER_EVENT


def _samples(rows=ROWS, seed=0):
    """``(rows, 3)``: m1 near 30, m2 near 20 and a log prior."""
    rng = np.random.default_rng(seed)
    return np.column_stack([30 + rng.uniform(size=rows), 20 + rng.uniform(size=rows),
                            -rng.uniform(size=rows)])


def _write(path, data, header=HEADER):
    lines = ([header] if header else []) + [" ".join(repr(float(v)) for v in row)
                                            for row in np.atleast_2d(data)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "events").mkdir()
    for i in range(3):
        _write(tmp_path / "events" / f"event_{i}.dat", _samples(seed=i))
    for name, config in (("prior.json", PRIOR), ("slice.json", SLICE), ("pmean.json", PMEAN)):
        (tmp_path / name).write_text(json.dumps(config))
    return tmp_path


def _infer(regex="events/event_*.dat"):
    return ["infer", "--seed", "1", "--n-pl", "1", "--n-g", "0", "--posterior-regex", regex,
            "--posterior-columns", *MASSES, "--pmean-cfg", "pmean.json", "--prior-cfg",
            "prior.json", "--sampler-cfg", "slice.json", "--output", "out"]


def _fails(capsys, argv, match):
    """Run ``hierax-pop ARGV``; it must exit with 2 and one line on stderr matching ``match``,
    in hierax's words (no third-party text)."""
    with pytest.raises(SystemExit) as info:
        pop_main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert info.value.code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("hierax-pop: error: "), lines[0]
    assert re.search(match, lines[0]), lines[0]
    for foreign in ("pydantic", "http", "usecols", "log_prior_column=", "codec",
                    "synchronously", "PowerLawPrimaryMassRatio", "Input should"):
        assert foreign not in lines[0], lines[0]
    return lines[0]


# -- 1. files of the wrong kind -------------------------------------------------------------


def test_binary_text_event_file(workdir, capsys):
    (workdir / "events" / "event_1.dat").write_bytes(bytes(range(256)) * 4)
    _fails(capsys, _infer(), r"event file 'events/event_1\.dat' is not a text table")


def test_text_file_named_as_hdf5(workdir, capsys):
    for i in range(2):
        _write(workdir / "events" / f"event_{i}.h5", _samples(seed=i))
    _fails(capsys, _infer("events/*.h5"), r"event file 'events/event_0\.h5' is not an HDF5 file")


# -- 2. events no population supports -----------------------------------------------------


def test_event_with_every_mass_pair_swapped(workdir, capsys):
    data = _samples(seed=1)
    _write(workdir / "events" / "event_1.dat", data[:, [1, 0, 2]])
    _fails(capsys, _infer(), r"event 'event_1' \(file 'events/event_1\.dat'\): every sample has "
                             r"mass_2_source > mass_1_source")


def test_event_outside_every_population_of_the_prior_is_named_when_no_start_is_found(
        workdir, capsys):
    data = _samples(seed=2)
    data[:, :2] += 400.0  # above every mmax the prior allows
    _write(workdir / "events" / "event_2.dat", data)
    _fails(capsys, _infer(), r"no valid starting point: event 'event_2' \(file "
                             r"'events/event_2\.dat'\): the likelihood of this event is zero")


# -- 3. no header line -------------------------------------------------------------------


def test_file_without_a_header_line(workdir, capsys):
    _write(workdir / "events" / "event_1.dat", _samples(seed=1), header=None)
    _fails(capsys, _infer(), r"event file 'events/event_1\.dat' has no header line naming its "
                             r"columns.*mass_1_source mass_2_source, and log_prior")


# -- 4. config values, in our words ---------------------------------------------------------


def test_pmean_config_value(workdir, capsys):
    (workdir / "pmean.json").write_text(json.dumps({**PMEAN, "num_samples": -5,
                                                    "mass_range": [2.0, "a"]}))
    line = _fails(capsys, _infer(), r"pmean config 'pmean\.json'.*key 'num_samples': must be "
                                    r"greater than 0 \(got -5\)")
    assert re.search(r"key 'mass_range', item 2: must be a number \(got \"a\"\)", line), line


def test_sampler_config_value(workdir, capsys):
    (workdir / "slice.json").write_text(json.dumps({"slice": {"width": -1.0},
                                                    "mcmc": {"num_warmup": "5",
                                                             "num_samples": 5}}))
    line = _fails(capsys, _infer(), r"sampler config 'slice\.json': key 'slice\.width': must be "
                                    r"greater than 0")
    assert "key 'mcmc.num_warmup': must be a whole number (got \"5\")" in line


def test_prior_config_arguments(workdir, capsys):
    prior = dict(PRIOR, alpha_pl_0={"dist": "TruncatedNormal", "loc": 0.0, "scale": 1.0,
                                    "low": 3.0, "high": 1.0})
    (workdir / "prior.json").write_text(json.dumps(prior))
    line = _fails(capsys, _infer(), r"prior config 'prior\.json': key 'alpha_pl_0': invalid "
                                    r"arguments of TruncatedNormal")
    assert "TwoSided" not in line


# -- 5. and 6. rows, counted from 1 ------------------------------------------------------------


def test_row_with_too_few_values(workdir, capsys):
    path = workdir / "events" / "event_0.dat"
    lines = path.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    _fails(capsys, _infer(), r"event file 'events/event_0\.dat', line 5: 2 values where the "
                             r"header line names 3 columns")


def test_non_finite_value_names_the_line_of_a_text_file(workdir, capsys):
    data = _samples(seed=2)
    data[5, 0] = np.nan
    path = workdir / "events" / "event_2.dat"
    _write(path, data)
    path.write_text(path.read_text().replace("\n", "\n# a comment line\n", 1))
    _fails(capsys, _infer(), r"event file 'events/event_2\.dat', column 'mass_1_source': "
                             r"non-finite value nan at line 8\.$")


def test_non_finite_value_names_the_sample_of_an_hdf5_file(workdir, capsys):
    for i in range(2):
        data = _samples(seed=i)
        if i == 1:
            data[5, 1] = np.inf
        table = np.array([tuple(row) for row in data], dtype=[(c, "<f8") for c in COLUMNS])
        with h5py.File(workdir / "events" / f"event_{i}.hdf5", "w") as handle:
            handle.create_group("GWKokabSyntheticDiscretePE").create_dataset(
                "posterior_samples", data=table)
    _fails(capsys, _infer("events/*.hdf5"), r"event file 'events/event_1\.hdf5', column "
                                            r"'mass_2_source': non-finite value inf at sample 6 "
                                            r"\(1-based\)")


# -- 7. mock truths -----------------------------------------------------------------------


@pytest.mark.parametrize("truths, match", [
    ({"mmin_pl_0": 60.0, "mmax_pl_0": 30.0},
     r"model-params 'truths\.json': mmin_pl_0 = 60 must be below mmax_pl_0 = 30"),
    ({"mmin_pl_0": 60.0},
     r"model-params 'truths\.json': mmin_pl_0 = 60 must be below mmax_pl_0 = 50 \(built-in "
     r"value\)"),
])
def test_mock_truths_with_mmin_above_mmax(workdir, capsys, truths, match):
    (workdir / "truths.json").write_text(json.dumps(truths))
    _fails(capsys, ["mock", "--model-params", "truths.json", "--output", "data"], match)
    assert not (workdir / "data").exists()


# -- 8. an interrupted mock -----------------------------------------------------------------


def _mock(seed):
    argv = ["mock", "--model-params", "small.json", "--samples-per-event", "20", "--seed",
            str(seed), "--output", "data"]
    try:
        return pop_main(argv)
    except SystemExit as exc:
        return exc.code


def _interrupt_after_first_event(monkeypatch):
    import hierax.pop.mock as mock

    write, calls = mock._write_table, []

    def interrupted(path, columns):
        if calls:
            raise KeyboardInterrupt
        calls.append(path)
        write(path, columns)

    monkeypatch.setattr(mock, "_write_table", interrupted)
    return calls


def test_interrupted_mock_leaves_no_partial_realization(workdir, monkeypatch, capsys):
    (workdir / "small.json").write_text(json.dumps({"log_rate_0": 1.0}))
    with monkeypatch.context() as patch:
        calls = _interrupt_after_first_event(patch)
        assert _mock(1) == 130
    assert calls and calls[0].name == "event_0.dat"
    assert sorted(p.name for p in (workdir / "data").iterdir()) == ["model_params.json",
                                                                   "pmean.json"]
    assert _mock(1) == 0
    realization = workdir / "data" / "realization_0"
    before = {p.relative_to(realization): p.read_bytes() for p in realization.rglob("*.*")}
    assert {"hyperparameters.json", "catalog.json"} <= {p.name for p in before}
    with monkeypatch.context() as patch:
        _interrupt_after_first_event(patch)
        assert _mock(2) == 130  # another catalog: the complete one stays until it is whole
    after = {p.relative_to(realization): p.read_bytes() for p in realization.rglob("*.*")}
    assert after == before
    assert sorted(p.name for p in (workdir / "data").iterdir()) == [
        "model_params.json", "pmean.json", "realization_0"]
    assert "interrupted" in capsys.readouterr().err


# -- 9. to 11. valid runs that rest on a guess: warnings ------------------------------------


def test_no_log_prior_column_warns_once(workdir):
    for i in range(3):
        _write(workdir / "events" / f"event_{i}.dat", _samples(seed=i)[:, :2],
               header=" ".join(MASSES))
    with pytest.warns(NoLogPriorWarning) as record:
        events = read_text_events("events/event_*.dat", MASSES)
    flat = [w for w in record if issubclass(w.category, NoLogPriorWarning)]
    assert len(flat) == 1
    message = str(flat[0].message)
    assert "mass_1_source, mass_2_source" in message and "'log_prior' column" in message
    assert np.all(events.log_prior == 0.0)


def test_prior_key_left_without_a_hyperparameter_warns(workdir):
    prior = dict(PRIOR, **{"alpha_pl_[0-9]+": {"dist": "Uniform", "low": 0.0, "high": 1.0}})
    with pytest.warns(UnusedPriorKeyWarning, match=r"key 'alpha_pl_\[0-9\]\+' is not used: "
                                                   r"every hyperparameter it matches "
                                                   r"\(alpha_pl_0\) has a key of its own"):
        spec = parse_prior_config(prior, HYPERPARAMETERS)
    assert spec.entry("alpha_pl_0").key == "alpha_pl_0"


def test_prior_key_matching_nothing_is_an_error(workdir, capsys):
    prior = dict(PRIOR, **{"gamma_pl_[0-9]+": {"dist": "Uniform", "low": 0.0, "high": 1.0}})
    (workdir / "prior.json").write_text(json.dumps(prior))
    _fails(capsys, _infer(), r"prior config 'prior\.json': key\(s\) 'gamma_pl_\[0-9\]\+'.* match "
                             r"no hyperparameter")


def test_event_with_one_sample_is_an_error(workdir, capsys):
    _write(workdir / "events" / "event_1.dat", _samples(rows=1, seed=1))
    _fails(capsys, _infer(), r"event file 'events/event_1\.dat' has 1 sample; .*at least 2")


def test_events_with_few_samples_warn(workdir):
    _write(workdir / "events" / "event_1.dat", _samples(rows=5, seed=1))
    _write(workdir / "events" / "event_2.dat", _samples(rows=MIN_SAMPLES_PER_EVENT - 1, seed=2))
    with pytest.warns(FewSamplesWarning, match=rf"2 event\(s\) have fewer than "
                                               rf"{MIN_SAMPLES_PER_EVENT} posterior samples: "
                                               rf"event_1 \(5\), event_2 \(9\)"):
        events = read_text_events("events/event_*.dat", MASSES)
    assert list(events.counts) == [ROWS, 5, MIN_SAMPLES_PER_EVENT - 1]
