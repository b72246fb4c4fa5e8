import numpy as np
import pytest

from hierax.pop.data import EventSamples

NAMES = ("mass_1_source", "mass_2_source")


def test_from_list_concatenates():
    rng = np.random.default_rng(0)
    samples = [rng.uniform(10, 20, (c, 2)) for c in (3, 5, 1)]
    priors = [rng.normal(size=c) for c in (3, 5, 1)]
    events = EventSamples.from_list(samples, priors, NAMES, ["a", "b", "c"])
    assert events.num_events == 3 and events.num_samples == 9
    np.testing.assert_array_equal(events.event_index, [0, 0, 0, 1, 1, 1, 1, 1, 2])
    np.testing.assert_array_equal(events.counts, [3, 5, 1])
    theta, log_prior = events.event(1)
    np.testing.assert_array_equal(theta, samples[1])
    np.testing.assert_array_equal(log_prior, priors[1])
    flat = EventSamples.from_list(samples, None, NAMES)
    assert np.all(flat.log_prior == 0) and flat.event_names[2] == "event_2"


def test_errors_name_the_event():
    good = np.ones((4, 2))
    bad = good.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"event 'b' has a non-finite sample \(nan\) in column "
                                         r"'mass_2_source'"):
        EventSamples.from_list([good, bad], None, NAMES, ["a", "b"])
    with pytest.raises(ValueError, match=r"event 'a': log_prior has shape \(3,\)"):
        EventSamples.from_list([good], [np.zeros(3)], NAMES, ["a"])
    with pytest.raises(ValueError, match="non-finite log_prior"):
        EventSamples.from_list([good], [np.array([0, 0, np.inf, 0])], NAMES, ["a"])
    with pytest.raises(ValueError, match="theta has 2 columns"):
        EventSamples.from_list([good], None, ("m1",))
    with pytest.raises(ValueError, match="M >= 1"):
        EventSamples.from_list([np.ones((0, 2))], None, NAMES)
    with pytest.raises(ValueError, match="no events"):
        EventSamples.from_list([], None, NAMES)
    with pytest.raises(ValueError, match="2 events but 1 names"):
        EventSamples.from_list([good, good], None, NAMES, ["a"])
