"""hierax.pop.event_files: one reader for text, GWKokab and PESummary event files."""

import h5py
import numpy as np
import pytest

from hierax.pop.event_files import (
    downsample,
    event_file_format,
    parse_loader_config,
    read_events,
)
from hierax.pop.lvk_files import write_pesummary_event
from hierax.pop.readers import read_text_events

MASSES = ("mass_1_source", "mass_2_source")
FLAT_DETECTOR = {"mass": "flat_detector_components", "distance": "dl_squared"}


def _source_samples(rng, n):
    m1 = rng.uniform(20.0, 40.0, n)
    return {"mass_1_source": m1, "mass_2_source": m1 * rng.uniform(0.5, 1.0, n),
            "redshift": rng.uniform(0.1, 0.5, n)}


def _pesummary_catalog(folder, counts=(300, 250, 400), labels=("C01:Mixed",)):
    rng = np.random.default_rng(1)
    for i, count in enumerate(counts):
        samples = _source_samples(rng, count)
        for label in labels:
            write_pesummary_event(folder / f"GW{i:06d}.h5", samples, label=label)
    return str(folder / "GW*.h5")


def _text_catalog(folder, counts=(300, 250)):
    rng = np.random.default_rng(2)
    for i, count in enumerate(counts):
        s = _source_samples(rng, count)
        table = np.column_stack([s["mass_1_source"], s["mass_2_source"], np.zeros(count)])
        np.savetxt(folder / f"event_{i}.dat", table, header="mass_1_source mass_2_source "
                   "log_prior", comments="")
    return str(folder / "event_*.dat")


def test_formats_are_recognised_by_content(tmp_path):
    _pesummary_catalog(tmp_path)
    _text_catalog(tmp_path)
    with h5py.File(tmp_path / "gwkokab.hdf5", "w") as handle:
        handle.create_group("GWKokabSyntheticDiscretePE")
    assert event_file_format(tmp_path / "GW000000.h5") == "pesummary"
    assert event_file_format(tmp_path / "event_0.dat") == "text"
    assert event_file_format(tmp_path / "gwkokab.hdf5") == "gwkokab"


def test_pesummary_files_read_with_the_prior_of_the_loader_config(tmp_path):
    pattern = _pesummary_catalog(tmp_path)
    events = read_events(pattern, (*MASSES, "redshift"), {"prior": FLAT_DETECTOR})
    assert events.num_events == 3 and list(events.counts) == [300, 250, 400]
    assert np.all(np.isfinite(events.log_prior))
    fewer = read_events(pattern, MASSES, {"prior": FLAT_DETECTOR, "max_samples": 200,
                                           "seed": 4})
    assert list(fewer.counts) == [200, 200, 200]
    again = read_events(pattern, MASSES, {"prior": FLAT_DETECTOR, "max_samples": 200,
                                           "seed": 4})
    np.testing.assert_array_equal(fewer.theta, again.theta)


def test_per_event_priors_override_and_must_name_events(tmp_path):
    pattern = _pesummary_catalog(tmp_path)
    other = {"mass": "flat_detector_components", "distance": "uniform_comoving_source_time"}
    base = read_events(pattern, (*MASSES, "redshift"), {"prior": FLAT_DETECTOR})
    mixed = read_events(pattern, (*MASSES, "redshift"),
                        {"prior": FLAT_DETECTOR, "events": {"GW000001": other}})
    first, second = base.event(1)[1], mixed.event(1)[1]
    assert not np.allclose(np.diff(first), np.diff(second))  # another redshift prior
    np.testing.assert_allclose(base.event(0)[1], mixed.event(0)[1])
    with pytest.raises(ValueError, match=r"'events' names \['GW999999'\]"):
        read_events(pattern, MASSES, {"prior": FLAT_DETECTOR, "events": {"GW999999": other}})


def test_missing_prior_label_and_log_prior_column_are_errors(tmp_path):
    pattern = _pesummary_catalog(tmp_path, labels=("C01:IMRPhenomXPHM",))
    with pytest.raises(ValueError, match=r"priors|prior"):
        read_events(pattern, MASSES)  # no priors group and none given
    with pytest.raises(ValueError, match=r"GW000000\.h5': no analysis \['C01:Mixed'\]"):
        read_events(pattern, MASSES, {"prior": FLAT_DETECTOR, "labels": ["C01:Mixed"],
                                      "label_fallback": False})
    with pytest.raises(ValueError, match=r"is a PESummary file: its 'log_prior' field"):
        read_events(pattern, MASSES, {"prior": FLAT_DETECTOR}, log_prior_column="log_prior")
    with pytest.raises(ValueError, match=r"lacks a_1"):
        read_events(pattern, (*MASSES, "a_1"), {"prior": FLAT_DETECTOR})


def test_text_files_and_loader_keys_that_do_not_apply(tmp_path):
    pattern = _text_catalog(tmp_path)
    events = read_events(pattern, MASSES)
    expected = read_text_events(pattern, MASSES)
    np.testing.assert_array_equal(events.theta, expected.theta)
    with pytest.raises(ValueError, match=r"labels apply to PESummary files, but the event "
                                         r"files are text files"):
        read_events(pattern, MASSES, {"labels": ["C01:Mixed"]})
    assert list(read_events(pattern, MASSES, {"max_samples": 100}).counts) == [100, 100]


def test_downsample_keeps_each_events_draw_and_order():
    rng = np.random.default_rng(0)
    from hierax.pop.data import EventSamples

    events = EventSamples.from_list([rng.normal(size=(50, 2)), rng.normal(size=(8, 2))],
                                    None, MASSES, event_names=("a", "b"))
    kept = downsample(events, 10, seed=3)
    assert list(kept.counts) == [10, 8]
    rows = kept.event(0)[0]
    positions = [int(np.flatnonzero((events.event(0)[0] == r).all(1))[0]) for r in rows]
    assert positions == sorted(positions)
    alone = downsample(EventSamples.from_list([events.event(0)[0]], None, MASSES,
                                              event_names=("a",)), 10, seed=3)
    np.testing.assert_array_equal(alone.theta, rows)


@pytest.mark.parametrize("config, match", [
    ({"max_samples": 1}, r"key 'max_samples'"),
    ({"frame": "sideways"}, r"key 'frame'"),
    ({"colour": 1}, r"key 'colour'"),
    ([1, 2], r"expected a JSON object"),
])
def test_bad_loader_configs(config, match):
    with pytest.raises(ValueError, match=match):
        parse_loader_config(config)
