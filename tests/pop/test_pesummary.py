"""LVK PESummary files (all layouts) and the removal of their parameter-estimation prior.

Every file is written here with h5py. The reweighting tests draw an event's
posterior exactly: prior draws in the detector frame (uniform masses or chirp
mass and mass ratio, and a distance prior drawn by inversion), kept with
probability ``L / max L`` for a Gaussian likelihood ``L`` in source-frame
``(m_1, m_2, z)``. Weighting the samples by ``1 / pi`` must then give back ``L``:
the ratio of each weighted bin fraction to the Gaussian bin probability is 1 within
its Monte Carlo standard error (``L`` lies > 4.4 sigma inside the prior's box, so
its truncation changes the bin probabilities by < 1e-5, far below that error).
"""

import math

import h5py
import numpy as np
import pytest
from scipy import special

from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.pe_prior import (
    PLANCK15_LAL,
    PEPrior,
    cosmology_from_description,
    log_chi_eff_prior,
    log_detector_mass_prior,
    log_pe_prior,
    log_redshift_prior,
    luminosity_distance_gradient,
    pe_prior,
    pe_prior_from_analytic,
)
from hierax.pop.pesummary import LabelFallbackWarning, read_pesummary_events

MASSES = ("mass_1_source", "mass_2_source")
SOURCE = (*MASSES, "redshift")
BILBY_FLAT = {
    "chirp_mass": "UniformInComponentsChirpMass(minimum=10, maximum=100, name='chirp_mass', "
                  "latex_label='$\\\\mathcal{M}$', unit=None, boundary=None)",
    "mass_ratio": "UniformInComponentsMassRatio(minimum=0.125, maximum=1, name='mass_ratio', "
                  "latex_label='$q$', unit=None, boundary=None)",
    "mass_1": "Constraint(minimum=1, maximum=1000, name='mass_1', latex_label='$m_1$', "
              "unit=None)",
    "luminosity_distance": "PowerLaw(alpha=2, minimum=10, maximum=10000, "
                           "name='luminosity_distance', latex_label='$d_L$', unit='Mpc', "
                           "boundary=None)",
    "a_1": "Uniform(minimum=0, maximum=0.99, name='a_1', latex_label='$a_1$', unit=None, "
           "boundary=None)",
    "a_2": "Uniform(minimum=0, maximum=0.99, name='a_2', latex_label='$a_2$', unit=None, "
           "boundary=None)",
    "tilt_1": "Sine(minimum=0, maximum=3.141592653589793, name='tilt_1', "
              "latex_label='$\\\\theta_1$', unit=None, boundary=None)",
    "tilt_2": "Sine(minimum=0, maximum=3.141592653589793, name='tilt_2', "
              "latex_label='$\\\\theta_2$', unit=None, boundary=None)",
}
GWTC1_PRIOR = {"mass": "flat_detector_components", "distance": "dl_squared",
               "spin": "uniform_isotropic"}


def _strings(values):
    return np.array([str(v).encode() for v in values])


def _write(path, analyses, *, layout="structured", cosmology=None, priors=BILBY_FLAT):
    """A PESummary file: ``analyses`` maps labels to ``{column: (M,) array}``."""
    with h5py.File(path, "w") as handle:
        handle.create_dataset("version/pesummary", data=_strings(["1.0"]))
        for label, columns in analyses.items():
            names = list(columns)
            table = np.column_stack([np.asarray(columns[n], np.float64) for n in names])
            if layout == "root":
                node = handle.require_group("posterior_samples").create_group(label)
                meta = f"meta_data/{label}/meta_data"
                prior_group = f"priors/analytic/{label}"
            else:
                node = None
                meta = f"{label}/meta_data/meta_data"
                prior_group = f"{label}/priors/analytic"
            if layout == "structured":
                data = np.zeros(len(table), dtype=[(n, "<f8") for n in names])
                for i, name in enumerate(names):
                    data[name] = table[:, i]
                handle.create_dataset(f"{label}/posterior_samples", data=data)
            elif layout == "datasets":
                for i, name in enumerate(names):
                    handle.create_dataset(f"{label}/posterior_samples/{name}", data=table[:, i])
            else:
                if node is None:
                    node = handle.create_group(f"{label}/posterior_samples")
                node.create_dataset("parameter_names", data=_strings(names))
                node.create_dataset("samples", data=table)
            if cosmology is not None:
                handle.create_dataset(f"{meta}/cosmology", data=_strings([cosmology]))
            handle.create_dataset(f"{meta}/f_ref", data=np.array([20.0]))
            for key, text in (priors or {}).items():
                handle.create_dataset(f"{prior_group}/{key}", data=_strings([text]))
    return path


def _source_columns(n, offset=0.0, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 0.5, n)
    return {"mass_1_source": offset + rng.uniform(30, 40, n),
            "mass_2_source": offset + rng.uniform(20, 29, n), "redshift": z}


# -- layouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["structured", "datasets", "parameter_names", "root"])
def test_every_layout_gives_the_same_samples_and_prior(tmp_path, layout):
    # A stray detector-frame column: the source-frame ones are read when present.
    columns = _source_columns(40) | {"luminosity_distance": np.full(40, 1.0)}
    path = _write(tmp_path / "GW150914_095045.h5", {"C01:Mixed": columns}, layout=layout)
    events = read_pesummary_events(str(path))
    assert events.event_names == ("GW150914_095045",)
    assert events.parameter_names == SOURCE
    expected = np.column_stack([columns[n] for n in SOURCE])
    np.testing.assert_array_equal(events.theta, expected)
    prior = PEPrior("flat_detector_components", "dl_squared")
    np.testing.assert_allclose(
        events.log_prior, log_pe_prior(prior, columns, cosmology=PLANCK15), rtol=1e-12
    )


def test_gwtc1_release_reads_overall_posterior_with_an_explicit_prior(tmp_path):
    rng = np.random.default_rng(3)
    z = rng.uniform(0.05, 0.2, 30)
    gwtc1 = {"m1_detector_frame_Msun": 36 * (1 + z), "m2_detector_frame_Msun": 30 * (1 + z),
             "luminosity_distance_Mpc": PLANCK15.luminosity_distance(z),
             "spin1": rng.uniform(0, 0.9, 30), "spin2": rng.uniform(0, 0.9, 30),
             "costilt1": rng.uniform(-1, 1, 30), "costilt2": rng.uniform(-1, 1, 30)}
    path = tmp_path / "GW150914_GWTC-1.hdf5"
    with h5py.File(path, "w") as handle:
        for name, shift in (("IMRPhenomPv2_posterior", 5.0), ("Overall_posterior", 0.0)):
            data = np.zeros(30, dtype=[(n, "<f8") for n in gwtc1])
            for key, values in gwtc1.items():
                data[key] = values + (shift if key.startswith("m1") else 0.0)
            handle.create_dataset(name, data=data)
        handle.create_dataset("prior", data=data[:3])
    with pytest.raises(ValueError, match=r"GWTC-1\.hdf5': analysis 'Overall_posterior' "
                                         r"stores no analytic PE prior"):
        read_pesummary_events([path])
    columns = (*SOURCE, "a_1", "cos_tilt_2")
    events = read_pesummary_events([path], columns=columns, prior=GWTC1_PRIOR)
    np.testing.assert_allclose(events.theta[:, 2], z, rtol=1e-4)  # inverted D_L table
    np.testing.assert_allclose(events.theta[:, 0], 36 * (1 + z) / (1 + events.theta[:, 2]),
                               rtol=1e-12)
    np.testing.assert_array_equal(events.theta[:, 3], gwtc1["spin1"])
    np.testing.assert_array_equal(events.theta[:, 4], gwtc1["costilt2"])


# -- labels ------------------------------------------------------------------------------------


def _three_analyses():
    return {label: _source_columns(12, offset=offset)
            for label, offset in (("C01:IMRPhenomXPHM", 0.0), ("C01:Mixed", 100.0),
                                  ("C01:SEOBNRv4PHM", 200.0))}


def test_label_preference(tmp_path):
    path = _write(tmp_path / "GW1.h5", _three_analyses())
    assert read_pesummary_events([path]).theta[0, 0] > 100  # C01:Mixed by default
    assert read_pesummary_events([path], labels=["C01:SEOB*"]).theta[0, 0] > 200
    with pytest.warns(LabelFallbackWarning, match=r"no analysis matches labels \['C02:\*'\], "
                                                  r"so analysis 'C01:IMRPhenomXPHM' is read"):
        first = read_pesummary_events([path], labels=["C02:*"])
    assert first.theta[0, 0] < 100


def test_label_without_the_columns_is_passed_over_and_none_fitting_is_named(tmp_path):
    analyses = _three_analyses()
    del analyses["C01:Mixed"]["redshift"]
    path = _write(tmp_path / "GW2.h5", analyses)
    with pytest.warns(LabelFallbackWarning, match=r"preferred analyses \['C01:Mixed'\] lack"):
        events = read_pesummary_events([path])
    assert events.theta[0, 0] < 100
    with pytest.raises(ValueError, match=r"GW2\.h5': no analysis has every column needed "
                                         r"\('C01:IMRPhenomXPHM/posterior_samples' lacks a_1.*"
                                         r"Analyses present: \['C01:IMRPhenomXPHM', "
                                         r"'C01:Mixed', 'C01:SEOBNRv4PHM'\]"):
        read_pesummary_events([path], columns=(*SOURCE, "a_1"))


# -- frames and cosmology ------------------------------------------------------------------------


def test_detector_frame_conversion_follows_the_cosmology(tmp_path):
    z = np.linspace(0.02, 3.0, 25)
    detector = {"mass_1": 30 * (1 + z), "mass_2": 20 * (1 + z),
                "luminosity_distance": PLANCK15_LAL.luminosity_distance(z)}
    plain = _write(tmp_path / "plain.h5", {"C01:Mixed": detector})
    lal = _write(tmp_path / "lal.h5", {"C01:Mixed": detector}, cosmology="Planck15_lal")
    from_file = read_pesummary_events([lal])  # the file's cosmology
    np.testing.assert_allclose(from_file.theta[:, 2], z, rtol=1e-4)
    np.testing.assert_allclose(from_file.theta[:, :2], np.column_stack([30 + 0 * z, 20 + 0 * z]),
                               rtol=1e-4)
    default = read_pesummary_events([plain])  # no metadata: Planck 2015
    z_planck = PLANCK15.redshift_at_luminosity_distance(detector["luminosity_distance"])
    np.testing.assert_allclose(default.theta[:, 2], z_planck, rtol=1e-12)
    assert np.max(np.abs(z_planck / z - 1)) > 1e-3  # the two cosmologies differ visibly
    np.testing.assert_allclose(default.theta[:, 0], detector["mass_1"] / (1 + z_planck))


def test_source_columns_in_another_cosmology_are_converted(tmp_path):
    z = np.linspace(0.05, 2.0, 20)
    source = {"mass_1_source": 30 + 0 * z, "mass_2_source": 20 + 0 * z, "redshift": z}
    path = _write(tmp_path / "GW3.h5", {"C01:Mixed": source}, cosmology="Planck15_lal")
    as_stored = read_pesummary_events([path])
    np.testing.assert_array_equal(as_stored.theta, np.column_stack([source[n] for n in SOURCE]))
    moved = read_pesummary_events([path], cosmology=PLANCK15)
    z_new = PLANCK15.redshift_at_luminosity_distance(PLANCK15_LAL.luminosity_distance(z))
    np.testing.assert_allclose(moved.theta[:, 2], z_new, rtol=1e-12)
    np.testing.assert_allclose(moved.theta[:, 0], 30 * (1 + z) / (1 + z_new), rtol=1e-12)


def test_cosmology_descriptions():
    assert cosmology_from_description("Planck15", where="x") == PLANCK15
    assert cosmology_from_description("planck15_LAL", where="x") == PLANCK15_LAL
    astropy = ('FlatLambdaCDM(name="Planck15", H0=67.7 km / (Mpc s), Om0=0.307, Tcmb0=2.725 K, '
               'Neff=3.05, m_nu=[0. 0. 0.06] eV, Ob0=0.0486)')
    assert cosmology_from_description(astropy, where="x") == PLANCK15
    assert cosmology_from_description("FlatLambdaCDM(H0=70 km / (Mpc s), Om0=0.3)",
                                      where="x") == Cosmology(70.0, 0.3)
    with pytest.raises(ValueError, match="somewhere: cannot read the cosmology 'WMAP9'"):
        cosmology_from_description("WMAP9", where="somewhere")


# -- prior removal -------------------------------------------------------------------------------

LIKELIHOOD = {"mass_1_source": (40.0, 1.2), "mass_2_source": (25.0, 1.0), "redshift": (0.35, 0.03)}
DISTANCE_RANGE = (1000.0, 3000.0)
CASES = {
    ("flat_detector_components", "dl_squared"): {
        "mass_1": "Uniform(minimum=45, maximum=65, name='mass_1')",
        "mass_2": "Uniform(minimum=27, maximum=42, name='mass_2')",
        "luminosity_distance": "PowerLaw(alpha=2, minimum=1000, maximum=3000, "
                               "name='luminosity_distance', unit='Mpc')"},
    ("flat_detector_chirp_mass_mass_ratio", "uniform_comoving_source_time"): {
        "chirp_mass": "Uniform(minimum=30, maximum=44, name='chirp_mass')",
        "mass_ratio": "Uniform(minimum=0.4, maximum=0.9, name='mass_ratio')",
        "luminosity_distance": "UniformSourceFrame(minimum=1000, maximum=3000, "
                               "cosmology='Planck15', name='luminosity_distance')"},
    ("flat_detector_components", "uniform_comoving_volume"): {
        "chirp_mass": BILBY_FLAT["chirp_mass"], "mass_ratio": BILBY_FLAT["mass_ratio"],
        "luminosity_distance": "bilby.gw.prior.UniformComovingVolume(minimum=1000, "
                               "maximum=3000, name='luminosity_distance')"},
}


def _draw_distance(rng, distance, n):
    low, high = DISTANCE_RANGE
    if distance == "dl_squared":
        return np.cbrt(low**3 + rng.uniform(size=n) * (high**3 - low**3))
    grid = np.linspace(*PLANCK15.redshift_at_luminosity_distance(np.array(DISTANCE_RANGE)),
                       20001)
    density = PLANCK15.differential_comoving_volume(grid)
    if distance == "uniform_comoving_source_time":
        density = density / (1 + grid)
    cdf = np.concatenate([[0], np.cumsum((density[1:] + density[:-1]) / 2 * np.diff(grid))])
    return PLANCK15.luminosity_distance(np.interp(rng.uniform(size=n), cdf / cdf[-1], grid))


def _draw_detector_masses(rng, mass, n):
    if mass == "flat_detector_components":
        return rng.uniform(45, 65, n), rng.uniform(27, 42, n)
    chirp_mass, ratio = rng.uniform(30, 44, n), rng.uniform(0.4, 0.9, n)
    m1 = chirp_mass * (1 + ratio) ** 0.2 / ratio**0.6
    return m1, ratio * m1


def _posterior_event(mass, distance, count, seed):
    """``count`` exact posterior draws (detector-frame columns) for the Gaussian ``L``."""
    rng = np.random.default_rng(seed)
    kept = []
    while sum(len(k["mass_1"]) for k in kept) < count:
        m1, m2 = _draw_detector_masses(rng, mass, 400_000)
        dl = _draw_distance(rng, distance, 400_000)
        z = PLANCK15.redshift_at_luminosity_distance(dl)
        source = {"mass_1_source": m1 / (1 + z), "mass_2_source": m2 / (1 + z), "redshift": z}
        log_l = sum(-0.5 * ((source[n] - mu) / sd) ** 2 for n, (mu, sd) in LIKELIHOOD.items())
        keep = rng.uniform(size=m1.size) < np.exp(log_l)
        kept.append({"mass_1": m1[keep], "mass_2": m2[keep], "luminosity_distance": dl[keep]})
    return {key: np.concatenate([k[key] for k in kept])[:count] for key in kept[0]}


def _weighted_bin_scores(events):
    """For every bin: (ratio of the weighted fraction to the Gaussian probability - 1) over
    the ratio's Monte Carlo standard error, i.e. ``(estimate - p) / se(estimate)``."""
    weights = np.exp(-(events.log_prior - events.log_prior.min()))
    weights = weights / weights.sum()
    scores = {}
    for column, (mu, sd) in LIKELIHOOD.items():
        x = (events.theta[:, events.parameter_names.index(column)] - mu) / sd
        edges = np.linspace(-2.5, 2.5, 9)
        gaussian = np.diff(special.ndtr(edges))
        index = np.digitize(x, edges) - 1
        for b, p in enumerate(gaussian):
            inside = index == b
            estimate = weights[inside].sum()
            error = np.sqrt(np.sum(weights**2 * (inside - estimate) ** 2))
            scores[column, b] = (estimate - p) / error
    return scores


@pytest.mark.parametrize("mass, distance", list(CASES))
def test_reweighted_samples_recover_the_likelihood(tmp_path, mass, distance):
    columns = _posterior_event(mass, distance, 20_000, seed=11)
    path = _write(tmp_path / "GW4.h5", {"C01:Mixed": columns}, priors=CASES[mass, distance])
    events = read_pesummary_events([path])
    scores = _weighted_bin_scores(events)
    worst = max(scores, key=lambda key: abs(scores[key]))
    assert abs(scores[worst]) < 4.5, (worst, scores[worst])
    if distance == "dl_squared":  # the check tells a wrong prior (flat in d_L) apart
        wrong = read_pesummary_events(
            [path], prior={"mass": mass, "distance": "uniform_luminosity_distance"})
        assert max(abs(s) for s in _weighted_bin_scores(wrong).values()) > 8


def test_prior_formulas_against_jacobians():
    z = np.array([0.1, 0.7, 2.0])
    # dD_L/dz, eq. (2), against central differences of the tabulated D_L over many grid
    # cells (step 1e-2: truncation error ~ step^2 D_L''' / 6 < 1e-4 relative).
    step = 1e-2
    for cosmology in (PLANCK15, PLANCK15_LAL):
        numeric = (cosmology.luminosity_distance(z + step)
                   - cosmology.luminosity_distance(z - step)) / (2 * step)
        np.testing.assert_allclose(luminosity_distance_gradient(cosmology, z), numeric, rtol=1e-4)
    step = 1e-6
    m1, m2 = np.array([30.0, 12.0]), np.array([20.0, 3.0])
    chirp = lambda a, b: (a * b) ** 0.6 / (a + b) ** 0.2  # noqa: E731
    jacobian = np.abs(
        (chirp(m1 + step, m2) - chirp(m1 - step, m2)) / (2 * step) / m1
        - (chirp(m1, m2 + step) - chirp(m1, m2 - step)) / (2 * step) * (-m2 / m1**2)
    )
    np.testing.assert_allclose(
        log_detector_mass_prior("flat_detector_chirp_mass_mass_ratio", m1, m2),
        np.log(jacobian), rtol=1e-6)
    # A prior defined in another cosmology: ln p(z) = ln pi_d(d_L) + ln dD_L/dz.
    dl = PLANCK15.luminosity_distance(z)
    z_lal = PLANCK15_LAL.redshift_at_luminosity_distance(dl)
    expected = (np.log(PLANCK15_LAL.differential_comoving_volume(z_lal) / (1 + z_lal)
                       / luminosity_distance_gradient(PLANCK15_LAL, z_lal))
                + np.log(luminosity_distance_gradient(PLANCK15, z)))
    np.testing.assert_allclose(
        log_redshift_prior("uniform_comoving_source_time", z, PLANCK15, PLANCK15_LAL),
        expected, rtol=1e-12)


def test_population_without_redshift_integrates_it_against_comoving_volume():
    columns = _source_columns(10)
    prior = PEPrior("flat_detector_components", "uniform_comoving_source_time")
    no_z = log_pe_prior(prior, columns, include_redshift=False)
    np.testing.assert_allclose(no_z - no_z[0], 2 * np.log1p(columns["redshift"])
                               - 2 * np.log1p(columns["redshift"][0]), atol=1e-9)


def test_spin_priors_and_their_support(tmp_path):
    rng = np.random.default_rng(5)
    columns = _source_columns(30) | {
        "a_1": rng.uniform(0, 0.99, 30), "a_2": rng.uniform(0, 0.99, 30),
        "cos_tilt_1": rng.uniform(-1, 1, 30), "cos_tilt_2": rng.uniform(-1, 1, 30)}
    ratio = columns["mass_2_source"] / columns["mass_1_source"]
    columns["chi_eff"] = (columns["a_1"] * columns["cos_tilt_1"]
                          + ratio * columns["a_2"] * columns["cos_tilt_2"]) / (1 + ratio)
    columns["chi_p"] = columns["a_1"]
    path = _write(tmp_path / "GW5.h5", {"C01:Mixed": columns})
    spins = ("a_1", "a_2", "cos_tilt_1", "cos_tilt_2")
    with_spins = read_pesummary_events([path], columns=(*SOURCE, *spins))
    without = read_pesummary_events([path])
    np.testing.assert_allclose(with_spins.log_prior - without.log_prior,
                               -2 * math.log(0.99) - 2 * math.log(2), rtol=1e-12)
    effective = read_pesummary_events([path], columns=(*SOURCE, "chi_eff"))
    np.testing.assert_allclose(
        effective.log_prior - without.log_prior,
        log_chi_eff_prior(columns["chi_eff"], ratio, (0.99, 0.99)), rtol=1e-12)
    with pytest.raises(ValueError, match=r"chi_p cannot be read .* is not implemented"):
        read_pesummary_events([path], columns=(*SOURCE, "chi_p"))
    with pytest.raises(ValueError, match=r"chi_p \(alone or with chi_eff\) is not implemented"):
        log_pe_prior(PEPrior("flat_detector_components", "dl_squared", "uniform_isotropic"),
                     columns)
    with pytest.raises(ValueError, match=r"chi_eff together with \['a_1'\] is not supported"):
        read_pesummary_events([path], columns=(*SOURCE, "a_1", "chi_eff"))
    columns["a_2"][7] = 0.995
    _write(path, {"C01:Mixed": columns})
    with pytest.raises(ValueError, match=r"GW5\.h5', analysis 'C01:Mixed', column 'a_2': "
                                         r"sample 8 \(1-based\) has a_2 = 0.995, outside"):
        read_pesummary_events([path], columns=(*SOURCE, *spins))


def test_chi_eff_prior_matches_monte_carlo():
    rng = np.random.default_rng(2)
    count, bins, spin_max = 200_000, 16, (0.99, 0.8)
    for q in (0.3, 1.0):
        a_1, a_2 = rng.uniform(0, spin_max[0], count), rng.uniform(0, spin_max[1], count)
        cosines = rng.uniform(-1, 1, (2, count))
        chi_eff = (a_1 * cosines[0] + q * a_2 * cosines[1]) / (1 + q)
        counts, edges = np.histogram(chi_eff, bins=bins, range=(-0.6, 0.6))
        fine = np.linspace(-0.6, 0.6, bins * 64 + 1)
        middle = (fine[1:] + fine[:-1]) / 2
        density = np.exp(log_chi_eff_prior(middle, q, spin_max)) * np.diff(fine)
        probability = density.reshape(bins, 64).sum(axis=1)  # midpoint rule, error < 1e-4
        scores = (counts / count - probability) / np.sqrt(probability / count)
        assert np.max(np.abs(scores)) < 4.5, (q, scores)
        whole = np.linspace(-1, 1, 10001)
        total = np.sum(np.exp(log_chi_eff_prior((whole[1:] + whole[:-1]) / 2, q, spin_max))
                       * np.diff(whole))
        assert abs(total - 1) < 1e-4


# -- prior descriptions ----------------------------------------------------------------------------


def test_bilby_prior_strings():
    flat = pe_prior_from_analytic(BILBY_FLAT, where="f", spin=True)
    assert flat == PEPrior("flat_detector_components", "dl_squared", "uniform_isotropic",
                           (0.99, 0.99))
    source_frame = BILBY_FLAT | {"luminosity_distance": (
        "bilby.gw.prior.UniformSourceFrame(minimum=100.0, maximum=10000.0, cosmology="
        "FlatLambdaCDM(H0=67.7 km / (Mpc s), Om0=0.307, Tcmb0=2.725 K, Neff=3.05, m_nu=[0. 0. "
        "0.06] eV, Ob0=0.0486), name='luminosity_distance', latex_label='$d_L$', "
        "unit=Unit(\"Mpc\"), boundary=None)")}
    parsed = pe_prior_from_analytic(source_frame, where="f")
    assert parsed.distance == "uniform_comoving_source_time"
    assert parsed.cosmology == Cosmology(67.7, 0.307)
    chirp = CASES["flat_detector_chirp_mass_mass_ratio", "uniform_comoving_source_time"]
    parsed = pe_prior_from_analytic(chirp, where="f")
    assert (parsed.mass, parsed.cosmology) == ("flat_detector_chirp_mass_mass_ratio", PLANCK15)


@pytest.mark.parametrize(
    "change, match",
    [
        ({"luminosity_distance": "Cosine(name='luminosity_distance')"},
         r"field 'luminosity_distance': the prior 'Cosine' is not one"),
        ({"luminosity_distance": "PowerLaw(alpha=1, minimum=10, maximum=100)"},
         r"field 'luminosity_distance': the prior 'PowerLaw' is not one"),
        ({"mass_ratio": "Uniform(minimum=0.1, maximum=1, name='mass_ratio')"},
         r"fields chirp_mass/mass_ratio/mass_1/mass_2: the mass prior"),
        ({"a_1": "Uniform(minimum=0.1, maximum=0.99, name='a_1')"},
         r"field 'a_1': the spin-magnitude prior 'Uniform' is not uniform from 0"),
        ({"tilt_2": "Uniform(minimum=0, maximum=3.14, name='tilt_2')"},
         r"field 'tilt_2': the prior 'Uniform' is not isotropic"),
        ({"luminosity_distance": "UniformSourceFrame(minimum=1, maximum=10, cosmology='WMAP9')"},
         r"field 'luminosity_distance': cannot read the cosmology 'WMAP9'"),
        ({"luminosity_distance": "not a prior"},
         r"field 'luminosity_distance': the prior 'not a prior'"),
    ],
)
def test_unsupported_priors_name_file_group_and_field(tmp_path, change, match):
    columns = _source_columns(5) | {"a_1": np.full(5, 0.5), "a_2": np.full(5, 0.5)}
    path = _write(tmp_path / "GW6.h5", {"C01:Mixed": columns}, priors=BILBY_FLAT | change)
    group = r"event file '.*GW6\.h5', group 'C01:Mixed/priors/analytic', "
    with pytest.raises(ValueError, match=group + match):
        read_pesummary_events([path], columns=(*SOURCE, "a_1", "a_2"))


def test_absent_prior_and_caller_priors(tmp_path):
    first = _write(tmp_path / "GW7.h5", {"C01:Mixed": _source_columns(12)}, priors=None)
    second = _write(tmp_path / "GW8.h5", {"C01:Mixed": _source_columns(13, seed=1)})
    with pytest.raises(ValueError, match=r"GW7\.h5': analysis 'C01:Mixed' stores no analytic "
                                         r"PE prior \(no group 'C01:Mixed/priors/analytic'\)"):
        read_pesummary_events([first, second])
    override = {"GW7": {"mass": "flat_detector_components", "distance": "dl_squared"}}
    events = read_pesummary_events([first, second], prior=override)
    np.testing.assert_array_equal(events.counts, [12, 13])
    reference = read_pesummary_events([second])
    np.testing.assert_array_equal(events.event(1)[1], reference.log_prior)
    with pytest.raises(ValueError, match=r"names events \['GW9'\] that are not among"):
        read_pesummary_events([first, second], prior={"GW9": override["GW7"]})
    with pytest.raises(ValueError, match=r"prior of event 'GW7': distance must be one of"):
        read_pesummary_events([first], prior={"GW7": {"mass": "flat_detector_components",
                                                      "distance": "euclidean"}})
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['spins'\]"):
        pe_prior({"mass": "flat_detector_components", "distance": "dl_squared", "spins": 1})
    with pytest.raises(ValueError, match=r"prior: unknown key\(s\) \['distanse'\]"):
        read_pesummary_events([first], prior={"mass": "flat_detector_components",
                                              "distanse": "dl_squared"})
    with pytest.raises(ValueError, match=r"needs 'distance'"):
        pe_prior({"mass": "flat_detector_components"})


def test_file_without_samples_and_non_finite_values(tmp_path):
    empty = tmp_path / "GW10.h5"
    with h5py.File(empty, "w") as handle:
        handle.create_group("version")
    with pytest.raises(ValueError, match=r"GW10\.h5' holds no posterior samples.*\['version'\]"):
        read_pesummary_events([empty])
    columns = _source_columns(5)
    columns["redshift"][2] = np.nan
    path = _write(tmp_path / "GW11.h5", {"C01:Mixed": columns})
    with pytest.raises(ValueError, match=r"GW11\.h5', 'C01:Mixed/posterior_samples', field "
                                         r"'redshift': non-finite value nan at sample 3"):
        read_pesummary_events([path])
    columns["redshift"][2] = 0.3
    columns["mass_2_source"][1] = -3.0
    _write(path, {"C01:Mixed": columns})
    with pytest.raises(ValueError, match=r"GW11\.h5', analysis 'C01:Mixed', column "
                                         r"'mass_2_source': sample 2 \(1-based\) is -3\.0, not"):
        read_pesummary_events([path])
    with pytest.raises(ValueError, match=r"columns must include mass_1_source"):
        read_pesummary_events([path], columns=("redshift",))
    with pytest.raises(ValueError, match=r"frame must be one of"):
        read_pesummary_events([path], frame="both")


def test_downsampling_is_reproducible_and_keeps_unequal_counts(tmp_path):
    paths = [_write(tmp_path / f"GW{i}.h5", {"C01:Mixed": _source_columns(n, seed=i)})
             for i, n in ((20, 50), (21, 30))]
    full = read_pesummary_events(paths)
    np.testing.assert_array_equal(full.counts, [50, 30])
    kept = read_pesummary_events(paths, max_samples=40, seed=4)
    np.testing.assert_array_equal(kept.counts, [40, 30])
    theta, log_prior = kept.event(0)
    rows = [int(np.flatnonzero(np.all(full.event(0)[0] == row, axis=1))[0]) for row in theta]
    assert rows == sorted(set(rows))  # distinct original samples, in file order
    np.testing.assert_array_equal(log_prior, full.event(0)[1][rows])
    np.testing.assert_array_equal(kept.theta, read_pesummary_events(paths, max_samples=40,
                                                                    seed=4).theta)
    other = read_pesummary_events(paths, max_samples=40, seed=5)
    assert not np.array_equal(other.event(0)[0], theta)
    np.testing.assert_array_equal(other.event(1)[0], full.event(1)[0])
    with pytest.raises(ValueError, match="max_samples must be None or an integer >= 2"):
        read_pesummary_events(paths, max_samples=1)
