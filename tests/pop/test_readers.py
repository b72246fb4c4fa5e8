"""Readers of per-event posterior samples: text, GWKokab 0.3 HDF5, PESummary HDF5.

Fixtures in ``tests/data/pop/readers``:

- ``text/event_{0,1,10}.dat``: header ``mass_1_source mass_2_source a_1 log_prior``;
  event ``i`` has rows ``r = 0 .. 2 + i % 5`` with ``(30 + i + r, 20 + i + r / 2,
  0.1 r, -r)``.
- ``gwkokab/event_{0,1}.hdf5``: GWKokab 0.3 layout, structured dataset
  ``/GWKokabSyntheticDiscretePE/posterior_samples`` with fields ``mass_1_source,
  mass_2_source, redshift`` = ``(40 + i + r, 30 + i + r, 0.1 (i + 1) + 0.01 r)``, r = 0..3.
- ``pesummary/GW000001_000001.h5``: analyses ``C01:IMRPhenomXPHM`` (offset 0) and
  ``C01:Mixed`` (offset 100), ``mass_1_source = offset + 35 + r``, r = 0..4, plus
  ``version`` and ``history`` groups; ``pesummary/GW000002_000002.h5``: the older
  layout (``EXP1/posterior_samples/{parameter_names,samples}``).
"""

from pathlib import Path

import h5py
import numpy as np
import pytest

from hierax.pop.readers import (
    NoLogPriorWarning,
    find_event_files,
    read_gwkokab_hdf5,
    read_pesummary,
    read_text_events,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "pop" / "readers"
MASSES = ("mass_1_source", "mass_2_source")


def _write(path, text):
    path.write_text(text)
    return path


def test_text_files_in_natural_order_with_log_prior():
    events = read_text_events(str(DATA / "text" / "event_*.dat"), MASSES)
    assert events.event_names == ("event_0", "event_1", "event_10")
    np.testing.assert_array_equal(events.counts, [3, 4, 3])
    assert events.parameter_names == MASSES
    theta, log_prior = events.event(1)
    r = np.arange(4.0)
    np.testing.assert_array_equal(theta, np.column_stack([31 + r, 21 + r / 2]))
    np.testing.assert_array_equal(log_prior, -r)


def test_text_columns_are_taken_in_the_requested_order():
    events = read_text_events(str(DATA / "text" / "event_10.dat"), ("a_1", "mass_1_source"))
    np.testing.assert_allclose(
        events.theta, np.column_stack([0.1 * np.arange(3), 40 + np.arange(3)])
    )


def test_pattern_as_regular_expression_and_as_list():
    by_regex = read_text_events(str(DATA / "text" / r"event_[01]\.dat"), MASSES)
    assert by_regex.event_names == ("event_0", "event_1")
    files = [DATA / "text" / "event_10.dat", DATA / "text" / "event_0.dat"]
    by_list = read_text_events(files, MASSES)
    assert by_list.event_names == ("event_10", "event_0")
    assert find_event_files(str(DATA / "text" / "event_1*.dat")) == [
        DATA / "text" / "event_1.dat",
        DATA / "text" / "event_10.dat",
    ]


def test_log_prior_column_options(tmp_path):
    flat = read_text_events(str(DATA / "text" / "event_*.dat"), MASSES, log_prior_column=None)
    np.testing.assert_array_equal(flat.log_prior, 0.0)
    _write(tmp_path / "event_0.dat", "mass_1_source mass_2_source\n30 20\n31 21\n")
    auto = read_text_events(str(tmp_path / "event_*.dat"), MASSES)
    np.testing.assert_array_equal(auto.log_prior, 0.0)
    with pytest.raises(ValueError, match=r"event_0\.dat.*no column 'log_prior'"):
        read_text_events(str(tmp_path / "event_*.dat"), MASSES, log_prior_column="log_prior")
    _write(tmp_path / "event_1.dat", "mass_1_source mass_2_source log_prior\n30 20 -1\n")
    with pytest.raises(ValueError, match=r"event_0\.dat.*no column 'log_prior' while other"):
        read_text_events(str(tmp_path / "event_*.dat"), MASSES)
    renamed = read_text_events(
        str(DATA / "text" / "event_0.dat"), ("mass_1_source",), log_prior_column="a_1"
    )
    np.testing.assert_allclose(renamed.log_prior, 0.1 * np.arange(3))


def test_no_matching_file():
    with pytest.raises(ValueError, match=r"no file matches .*nothing_\*\.dat"):
        read_text_events(str(DATA / "text" / "nothing_*.dat"), MASSES)
    with pytest.raises(ValueError, match="no such file"):
        read_text_events([DATA / "text" / "missing.dat"], MASSES)


def test_missing_column_names_file_and_column():
    with pytest.raises(ValueError, match=r"event_0\.dat' has no column 'redshift'"):
        read_text_events(str(DATA / "text" / "event_*.dat"), ("mass_1_source", "redshift"))


@pytest.mark.parametrize(
    "content, match",
    [
        ("", r"empty \(no header line\)"),
        ("mass_1_source mass_2_source\n", r"has no samples"),
        ("mass_1_source mass_2_source\n30 20\n31\n",
         "line 3: 1 value where the header line names 2 columns"),
        ("mass_1_source mass_2_source\n30 20 5\n",
         "line 2: 3 values where the header line names 2 columns"),
        ("mass_1_source mass_2_source\n30 abc\n", "not numeric"),
    ],
)
def test_malformed_text_files(tmp_path, content, match):
    path = _write(tmp_path / "event_0.dat", content)
    with pytest.raises(ValueError, match=r"event_0\.dat"):
        read_text_events(str(path), MASSES)
    with pytest.raises(ValueError, match=match):
        read_text_events(str(path), MASSES)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_sample_names_file_and_column(tmp_path, bad):
    path = _write(tmp_path / "event_3.dat", f"mass_1_source mass_2_source\n30 20\n31 {bad}\n")
    with pytest.raises(ValueError, match=r"event_3\.dat', column 'mass_2_source': non-finite"):
        read_text_events(str(path), MASSES)


def test_invalid_columns_argument():
    with pytest.raises(ValueError, match="at least one"):
        read_text_events(str(DATA / "text" / "event_0.dat"), ())
    with pytest.raises(ValueError, match="duplicates"):
        read_text_events(str(DATA / "text" / "event_0.dat"), ("a_1", "a_1"))


def test_gwkokab_hdf5_files():
    columns = ("mass_1_source", "redshift")
    events = read_gwkokab_hdf5(str(DATA / "gwkokab" / "event_*.hdf5"), columns)
    assert events.event_names == ("event_0", "event_1")
    r = np.arange(4.0)
    theta, log_prior = events.event(1)
    np.testing.assert_allclose(theta, np.column_stack([41 + r, 0.2 + 0.01 * r]), rtol=1e-15)
    np.testing.assert_array_equal(log_prior, 0.0)
    with pytest.raises(ValueError, match=r"event_0\.hdf5' has no column 'a_1'"):
        read_gwkokab_hdf5(str(DATA / "gwkokab" / "event_*.hdf5"), ("a_1",))
    with pytest.raises(ValueError, match=r"event_0\.hdf5' has no dataset 'other/posterior'"):
        read_gwkokab_hdf5(
            str(DATA / "gwkokab" / "event_0.hdf5"), columns, dataset="other/posterior"
        )


def test_gwkokab_hdf5_non_finite_and_empty(tmp_path):
    fields = [(n, "<f8") for n in MASSES]
    for name, values in (("event_nan", [(30.0, np.nan)]), ("event_empty", [])):
        with h5py.File(tmp_path / f"{name}.hdf5", "w") as handle:
            data = np.array(values, dtype=fields)
            handle.create_group("GWKokabSyntheticDiscretePE").create_dataset(
                "posterior_samples", data=data
            )
    with pytest.raises(ValueError, match=r"event_nan\.hdf5', column 'mass_2_source'"):
        read_gwkokab_hdf5(str(tmp_path / "event_nan.hdf5"), MASSES)
    with pytest.raises(ValueError, match=r"event_empty\.hdf5' has no samples"):
        read_gwkokab_hdf5(str(tmp_path / "event_empty.hdf5"), MASSES)


def test_pesummary_labels():
    path = str(DATA / "pesummary" / "GW000001_000001.h5")
    with pytest.warns(NoLogPriorWarning, match="read_pesummary_events removes the LVK prior"):
        first = read_pesummary(path, MASSES)
    np.testing.assert_array_equal(first.theta[:, 0], 35 + np.arange(5.0))
    with pytest.warns(NoLogPriorWarning):
        mixed = read_pesummary(path, MASSES, label="C01:Mixed")
    np.testing.assert_array_equal(mixed.theta[:, 0], 135 + np.arange(5.0))
    assert mixed.event_names == ("GW000001_000001",)
    with_prior = read_pesummary(path, MASSES, log_prior_column="log_likelihood")
    np.testing.assert_array_equal(with_prior.log_prior, -np.arange(5.0))
    with pytest.raises(ValueError, match=r"GW000001_000001\.h5' has no analysis 'C02'.*C01:Mixed"):
        read_pesummary(path, MASSES, label="C02")
    with pytest.raises(ValueError, match=r"GW000001_000001\.h5' has no column 'chi_eff'"):
        read_pesummary(path, ("chi_eff",))


def test_pesummary_older_layout_and_several_files():
    with pytest.warns(NoLogPriorWarning):
        events = read_pesummary(str(DATA / "pesummary" / "GW*.h5"), MASSES)
    assert events.event_names == ("GW000001_000001", "GW000002_000002")
    np.testing.assert_array_equal(events.event(1)[0], [[12, 8], [13, 9], [14, 10]])


def test_pesummary_without_posterior(tmp_path):
    with h5py.File(tmp_path / "GW1.h5", "w") as handle:
        handle.create_group("version")
    with pytest.raises(ValueError, match=r"GW1\.h5' has no group with a `posterior_samples`"):
        read_pesummary(str(tmp_path / "GW1.h5"), MASSES)
