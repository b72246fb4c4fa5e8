"""LVK sensitivity-injection files: layouts, thresholds, draw densities and combination.

Synthetic campaigns draw injections from a known density and "find" them by a
known rule (written as false-alarm rates or SNRs in the file's layout), so the
expected number of detections of a known population is analytic:

    population: m1 ~ m1^-2 on [10, 50], m2 | m1 ~ U[5, m1], z ~ (1 + z)^2 on [0, 1],
                a ~ 2 a / 0.9^2 on [0, 0.9], cos t ~ (1 + cos t) / 2
    found:      m1 < m_cut and z < z_cut and cos t_1 > 0
    mu = T R P(m1 < m_cut) P(z < z_cut) P(cos t_1 > 0)

with P(cos t_1 > 0) = 3/4 when the population models spins and the injected
value (1/2 for isotropic draws) when it does not. The ratios of population to draw
densities are bounded, so the Monte Carlo variance is finite and the estimator's own
variance estimate sets the tolerance.
"""

import h5py
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import roots_legendre
from scipy.stats import multivariate_normal

from hierax.pop.cosmology import PLANCK15
from hierax.pop.selection.lvk_injections import (
    combine_injection_sets,
    lvk_injection_layout,
    lvk_injections,
    read_lvk_injections,
    spin_polar_coordinates,
)

YEAR_S = 365.25 * 86400.0
A_MAX = 0.998
RATE = 100.0
M_LO, M_HI, M2_LO, Z_HI, A_HI = 10.0, 50.0, 5.0, 1.0, 0.9
MASS_NAMES = ("mass_1_source", "mass_2_source")
Z_NAMES = MASS_NAMES + ("redshift",)
SPIN_NAMES = MASS_NAMES + ("a_1", "a_2", "cos_tilt_1", "cos_tilt_2", "redshift")


# -- the known population and its analytic detection fractions -------------------------------


def log_rate_fn(names):
    """ln rho of the population in the columns ``names`` (a JAX function of theta)."""
    col = {name: i for i, name in enumerate(names)}

    def log_rate(theta, hyper):
        m1, m2 = theta[..., col["mass_1_source"]], theta[..., col["mass_2_source"]]
        inside = (m1 >= M_LO) & (m1 <= M_HI) & (m2 >= M2_LO) & (m2 <= m1)
        value = (
            np.log(RATE)
            - 2 * jnp.log(m1)
            - np.log(1 / M_LO - 1 / M_HI)
            - jnp.log(jnp.maximum(m1 - M2_LO, 1e-9))
        )
        if "redshift" in col:
            z = theta[..., col["redshift"]]
            inside &= (z >= 0) & (z <= Z_HI)
            value += 2 * jnp.log1p(z) - np.log(((1 + Z_HI) ** 3 - 1) / 3)
        for i in (1, 2):
            if f"a_{i}" in col:
                a = theta[..., col[f"a_{i}"]]
                inside &= a <= A_HI
                value += jnp.log(2 * jnp.maximum(a, 1e-30) / A_HI**2)
            if f"cos_tilt_{i}" in col:
                value += jnp.log((1 + theta[..., col[f"cos_tilt_{i}"]]) / 2)
        return jnp.where(inside, value, -jnp.inf)

    return log_rate


def p_mass(m_cut):
    return (1 / M_LO - 1 / m_cut) / (1 / M_LO - 1 / M_HI)


def p_redshift(z_cut):
    return ((1 + z_cut) ** 3 - 1) / ((1 + Z_HI) ** 3 - 1)


def within_error(terms, expected, sigmas=4.0):
    """|mu_hat - mu| below ``sigmas`` Monte Carlo standard deviations (and float32 rounding)."""
    sigma = np.sqrt(float(terms.variance))
    assert abs(float(terms.mu) - expected) < sigmas * sigma + 1e-5 * expected, (
        float(terms.mu),
        expected,
        sigma,
    )
    assert sigma < 0.1 * expected  # the check has power


# -- synthetic campaigns ----------------------------------------------------------------------


def draw(rng, num, tilt_slope=0.0):
    """Injections and the ln densities they were drawn from.

    m1 log-uniform on [5, 100], m2 | m1 ~ U[5, m1], z ~ U[0, 1.2], spin magnitudes
    U[0, A_MAX], cos tilt ~ (1 + s cos t) / 2, azimuth uniform.
    """
    m1 = 5 * 20 ** rng.uniform(size=num)
    m2 = 5 + rng.uniform(size=num) * (m1 - 5)
    z = rng.uniform(0, 1.2, num)
    a = rng.uniform(0, A_MAX, (2, num))
    u = rng.uniform(size=(2, num))
    s = tilt_slope
    ct = 2 * u - 1 if s == 0 else (-0.5 + np.sqrt(0.25 - s * (0.5 - s / 4 - u))) / (s / 2)
    phi = rng.uniform(0, 2 * np.pi, (2, num))
    st = np.sqrt(1 - ct**2)
    fields = {"mass1_source": m1, "mass2_source": m2, "redshift": z}
    for i in range(2):
        fields[f"spin{i + 1}x"] = a[i] * st[i] * np.cos(phi[i])
        fields[f"spin{i + 1}y"] = a[i] * st[i] * np.sin(phi[i])
        fields[f"spin{i + 1}z"] = a[i] * ct[i]
        fields[f"spin{i + 1}_magnitude"] = a[i]
        fields[f"spin{i + 1}_polar_angle"] = np.arccos(ct[i])
        fields[f"spin{i + 1}_azimuthal_angle"] = phi[i]
    log = {
        "m1": -np.log(m1 * np.log(20)),
        "m2|m1": -np.log(m1 - 5),
        "z": np.full(num, -np.log(1.2)),
        "a": np.full((2, num), -np.log(A_MAX)),
        "ct": np.log((1 + s * ct) / 2),
        "phi": np.full((2, num), -np.log(2 * np.pi)),
    }
    # Cartesian density of each spin: p(a) p(cos t) p(phi) / a^2
    log["cartesian"] = log["a"] + log["ct"] + log["phi"] - 2 * np.log(a)
    log["joint"] = log["m1"] + log["m2|m1"] + log["z"] + log["cartesian"].sum(0)
    return fields, log, ct


def found_rule(fields, ct, m_cut, z_cut):
    return (fields["mass1_source"] < m_cut) & (fields["redshift"] < z_cut) & (ct[0] > 0)


def write_o3(path, fields, log, found, *, seconds, total, factored=False, root_attrs=False):
    """An ``endo3``-like file: group ``injections``, linear densities, IFAR per search."""
    with h5py.File(path, "w") as handle:
        group = handle.create_group("injections")
        for key in ("mass1_source", "mass2_source", "redshift") + tuple(
            f"spin{i}{axis}" for i in (1, 2) for axis in "xyz"
        ):
            group[key] = fields[key]
        group["sampling_pdf"] = np.exp(log["joint"])
        if factored:
            group["mass1_source_mass2_source_sampling_pdf"] = np.exp(log["m1"] + log["m2|m1"])
            group["redshift_sampling_pdf"] = np.exp(log["z"])
            for i in (1, 2):
                group[f"spin{i}x_spin{i}y_spin{i}z_sampling_pdf"] = np.exp(log["cartesian"][i - 1])
        group["ifar_gstlal"] = np.where(found, 100.0, 1e-3)
        group["far_pycbc_bbh"] = np.full(found.shape, 50.0)
        group["optimal_snr_net"] = np.full(found.shape, 30.0)  # ignored: the searches decide
        attrs = handle.attrs if root_attrs else group.attrs
        attrs["total_generated"] = total
        attrs["analysis_time_s"] = seconds


def write_o4(path, fields, log, far, *, seconds, total, weights=None, joint=True, extra=None):
    """An O4-like file: compound dataset ``events``, ln densities, FAR per search."""
    columns = dict(fields)
    if joint:
        columns[
            "lnpdraw_mass1_source_mass2_source_redshift_spin1x_spin1y_spin1z_spin2x_spin2y_spin2z"
        ] = log["joint"]
    else:
        columns["lnpdraw_mass1_source"] = log["m1"]
        columns["lnpdraw_mass2_source_GIVEN_mass1_source"] = log["m2|m1"]
        columns["lnpdraw_z"] = log["z"]
        for i in (1, 2):
            sin_t = np.sin(fields[f"spin{i}_polar_angle"])
            columns[f"lnpdraw_spin{i}_magnitude"] = log["a"][i - 1]
            columns[f"lnpdraw_spin{i}_polar_angle"] = log["ct"][i - 1] + np.log(sin_t)
            columns[f"lnpdraw_spin{i}_azimuthal_angle"] = log["phi"][i - 1]
        columns["lnpdraw_declination"] = np.zeros_like(log["z"])  # not a population variable
    if weights is not None:
        columns["weights"] = weights
        for key in [k for k in columns if k.startswith("lnpdraw_mass1")]:
            columns[key] = columns[key] + np.log(weights)
    columns.update(far)
    columns.update(extra or {})
    table = np.zeros(log["z"].shape, dtype=[(key, "f8") for key in columns])
    for key, value in columns.items():
        table[key] = value
    with h5py.File(path, "w") as handle:
        handle.create_dataset("events", data=table)
        handle.attrs["total_generated"] = total
        handle.attrs["total_analysis_time"] = seconds


# -- tests ------------------------------------------------------------------------------------


def test_o3_selection_fraction(x64, tmp_path):
    fields, log, ct = draw(np.random.default_rng(1), 40_000)
    found = found_rule(fields, ct, 30.0, 0.5)
    write_o3(tmp_path / "o3.hdf5", fields, log, found, seconds=0.5 * YEAR_S, total=40_000)
    for names, p_tilt in ((Z_NAMES, 0.5), (SPIN_NAMES, 0.75)):
        estimator = lvk_injections(tmp_path / "o3.hdf5", names)
        assert estimator.num_draws == found.sum() and estimator.total_draws == 40_000
        np.testing.assert_allclose(estimator.time, 0.5)
        terms = estimator.terms(log_rate_fn(names), {})
        within_error(terms, 0.5 * RATE * p_mass(30.0) * p_redshift(0.5) * p_tilt)
    # population per comoving volume: weight dV_C/dz / (1 + z) up to the found z < 0.5
    x, w = roots_legendre(64)
    z = 0.25 * (x + 1)
    volume = 0.25 * np.sum(w * np.asarray(PLANCK15.differential_comoving_volume(z)) / (1 + z))
    estimator = lvk_injections(tmp_path / "o3.hdf5", MASS_NAMES)
    terms = estimator.terms(log_rate_fn(MASS_NAMES), {})
    within_error(terms, 0.5 * RATE * p_mass(30.0) * 0.5 * volume)
    # the factorised densities give the same draw density exactly, without assumptions
    write_o3(tmp_path / "factored.hdf5", fields, log, found, seconds=0.5 * YEAR_S,
             total=40_000, factored=True, root_attrs=True)
    for names in (Z_NAMES, SPIN_NAMES):
        joint = read_lvk_injections(tmp_path / "o3.hdf5", names)
        factored = read_lvk_injections(tmp_path / "factored.hdf5", names)
        np.testing.assert_allclose(factored.log_draw_density, joint.log_draw_density, rtol=1e-12)
    expected = (log["m1"] + log["m2|m1"] + log["z"])[found]
    np.testing.assert_allclose(
        read_lvk_injections(tmp_path / "factored.hdf5", Z_NAMES).log_draw_density,
        expected,
        rtol=1e-12,
    )


def test_o4_spins_weights_and_hopeless_draws(x64, tmp_path):
    """Non-isotropic tilts (exact when spins are modelled), weights, a hopeless cut, and
    detection by any of two searches."""
    num = 40_000
    rng = np.random.default_rng(2)
    fields, log, ct = draw(rng, num, tilt_slope=0.6)
    found = found_rule(fields, ct, 30.0, 0.5)
    half = np.arange(num) % 2 == 0
    far = {
        "gstlal_far": np.where(found & half, 1e-3, 10.0),
        "far_pycbc": np.where(found & ~half, 0.5, 2.0),
    }
    weights = rng.choice([0.5, 1.0, 1.5], num)
    keep = fields["redshift"] < 0.9  # never detectable draws are not stored
    stored = {k: v[keep] for k, v in fields.items()}
    log_stored = {k: v[..., keep] for k, v in log.items()}
    far = {k: v[keep] for k, v in far.items()}
    write_o4(tmp_path / "o4.hdf", stored, log_stored, far, seconds=YEAR_S, total=num,
             weights=weights[keep])
    assert lvk_injection_layout(tmp_path / "o4.hdf") == "o4"
    estimator = lvk_injections(tmp_path / "o4.hdf", SPIN_NAMES)
    assert estimator.num_draws == found.sum() and estimator.total_draws == num
    terms = estimator.terms(log_rate_fn(SPIN_NAMES), {})
    within_error(terms, 1.0 * RATE * p_mass(30.0) * p_redshift(0.5) * 0.75)
    # the weights are divided out: the effective density is the one drawn from
    cos_tilt = np.cos(stored["spin1_polar_angle"])
    expected = log_stored["m1"] + log_stored["m2|m1"] + log_stored["z"]
    expected = expected + log_stored["a"].sum(0) + log_stored["ct"].sum(0)
    np.testing.assert_allclose(estimator.log_draw_density, expected[found[keep]], rtol=1e-10)
    np.testing.assert_allclose(estimator.theta[:, 4], cos_tilt[found[keep]], rtol=1e-10)
    only = lvk_injections(tmp_path / "o4.hdf", SPIN_NAMES, pipelines=["gstlal"])
    assert only.num_draws == (found & half).sum()


def test_o4_factorised_and_polar_fields_match_joint(x64, tmp_path):
    fields, log, ct = draw(np.random.default_rng(3), 5_000, tilt_slope=-0.4)
    far = {"gstlal_far": np.where(found_rule(fields, ct, 30.0, 0.5), 0.1, 10.0)}
    write_o4(tmp_path / "joint.hdf", fields, log, far, seconds=YEAR_S, total=5_000)
    polar_only = {k: v for k, v in fields.items() if "spin" not in k or "_" in k[5:]}
    write_o4(tmp_path / "factored.hdf", polar_only, log, far, seconds=YEAR_S, total=5_000,
             joint=False)
    joint = read_lvk_injections(tmp_path / "joint.hdf", SPIN_NAMES)
    factored = read_lvk_injections(tmp_path / "factored.hdf", SPIN_NAMES)
    np.testing.assert_allclose(factored.log_draw_density, joint.log_draw_density, rtol=1e-10)
    for name in SPIN_NAMES:
        np.testing.assert_allclose(factored.columns[name], joint.columns[name], rtol=1e-10,
                                   atol=1e-12)
    # without spin columns the factorised file needs no assumption about the tilts
    found = found_rule(fields, ct, 30.0, 0.5)
    masses = read_lvk_injections(tmp_path / "factored.hdf", Z_NAMES)
    expected = (log["m1"] + log["m2|m1"] + log["z"])[found]
    np.testing.assert_allclose(masses.log_draw_density, expected, rtol=1e-12)


def test_layout_detection(tmp_path):
    fields, log, ct = draw(np.random.default_rng(4), 200)
    found = found_rule(fields, ct, 60.0, 1.0)
    write_o3(tmp_path / "o3.hdf5", fields, log, found, seconds=YEAR_S, total=200)
    write_o4(tmp_path / "o4.hdf", fields, log, {"far_gstlal": np.where(found, 0.1, 9.0)},
             seconds=YEAR_S, total=200)
    with h5py.File(tmp_path / "mixture.hdf5", "w") as handle:
        handle.create_group("injections")["name"] = np.array([b"o1", b"o3"])
    with h5py.File(tmp_path / "o4_group.hdf", "w") as handle:
        handle.create_group("events")["mass1_source"] = np.ones(3)
    with h5py.File(tmp_path / "other.hdf5", "w") as handle:
        handle.create_group("posterior_samples")
        handle["psd"] = np.ones(3)
    assert lvk_injection_layout(tmp_path / "o3.hdf5") == "o3"
    assert lvk_injection_layout(tmp_path / "mixture.hdf5") == "o1o2o3_mixture"
    assert lvk_injection_layout(tmp_path / "o4.hdf") == "o4"
    assert lvk_injection_layout(tmp_path / "o4_group.hdf") == "o4"
    with pytest.raises(ValueError, match=r"other\.hdf5.*no known LVK layout.*"
                       r"posterior_samples \(group\).*psd \(dataset\)"):
        lvk_injection_layout(tmp_path / "other.hdf5")
    (tmp_path / "text.hdf5").write_text("m1 m2\n")
    with pytest.raises(ValueError, match=r"text\.hdf5' is not an HDF5 file"):
        lvk_injection_layout(tmp_path / "text.hdf5")
    truncated = (tmp_path / "o3.hdf5").read_bytes()[:600]
    (tmp_path / "truncated.hdf5").write_bytes(truncated)
    with pytest.raises(ValueError, match=r"injection file '.*truncated\.hdf5' cannot be "
                                         r"opened as an HDF5 file; it may be truncated"):
        lvk_injection_layout(tmp_path / "truncated.hdf5")
    with pytest.raises(ValueError, match="does not exist"):
        lvk_injection_layout(tmp_path / "missing.hdf5")


def write_mixture(path):
    """Eight injections: O1/O2 rows found by SNR only, O3 rows by IFAR only."""
    with h5py.File(path, "w") as handle:
        group = handle.create_group("injections")
        group["name"] = np.array([b"o1", b"o1", b"o2", b"o2", b"o3", b"o3", b"o3", b"o3"])
        group["optimal_snr_net"] = np.array([12.0, 8.0, 11.0, 9.5, 50.0, 50.0, 1.0, 1.0])
        group["ifar_gstlal"] = np.array([100.0, 100.0, 0.0, 0.0, 2.0, 0.5, 0.1, 5.0])
        group["ifar_pycbc_bbh"] = np.array([0.0, 0.0, 0.0, 0.0, 0.1, 0.1, 3.0, 0.1])
        group["mass1_source"] = np.linspace(20.0, 40.0, 8)
        group["mass2_source"] = np.linspace(10.0, 20.0, 8)
        group["redshift"] = np.linspace(0.1, 0.8, 8)
        group["sampling_pdf"] = np.linspace(1.0, 8.0, 8)
        group["mixture_weight"] = np.array([2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
        handle.attrs["total_generated"] = 100
        handle.attrs["analysis_time_s"] = 2 * YEAR_S


@pytest.mark.parametrize(
    ("options", "rows"),
    [
        ({}, [0, 2, 4, 6, 7]),
        ({"snr_cut": 9.0}, [0, 2, 3, 4, 6, 7]),
        ({"far_cut": 0.4}, [0, 2, 6, 7]),  # IFAR > 2.5 yr
        ({"pipelines": ["gstlal"]}, [0, 2, 4, 7]),
        ({"pipelines": ["ifar_pycbc_bbh"]}, [0, 2, 6]),
    ],
)
def test_mixture_thresholds(tmp_path, options, rows):
    write_mixture(tmp_path / "mixture.hdf5")
    found = read_lvk_injections(tmp_path / "mixture.hdf5", Z_NAMES, **options)
    np.testing.assert_allclose(found.columns["redshift"], np.linspace(0.1, 0.8, 8)[rows])
    weights = np.array([2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    expected = np.log(np.linspace(1.0, 8.0, 8) / weights)[rows]
    np.testing.assert_allclose(found.log_draw_density, expected, rtol=1e-12)
    assert found.total_generated == 100 and found.analysis_time == 2.0


def test_threshold_errors_and_snr_fields(tmp_path):
    write_mixture(tmp_path / "mixture.hdf5")
    with pytest.raises(ValueError, match=r"mixture\.hdf5.*no injection passes the detection "
                       r"threshold \(FAR < 1e-06 per year.*SNR > 100"):
        read_lvk_injections(tmp_path / "mixture.hdf5", Z_NAMES, far_cut=1e-6, snr_cut=100.0)
    with pytest.raises(ValueError, match=r"lacks ifar columns .*\['mbta'\].*'gstlal'"):
        read_lvk_injections(tmp_path / "mixture.hdf5", Z_NAMES, pipelines=["mbta"])
    with pytest.raises(ValueError, match="far_cut must be > 0"):
        read_lvk_injections(tmp_path / "mixture.hdf5", Z_NAMES, far_cut=0.0)
    # O4 semianalytic rows are found by their SNR, real rows by the searches
    fields, log, ct = draw(np.random.default_rng(5), 6)
    far = {"cwb_far": np.array([0.1, 5.0, 5.0, 5.0, 5.0, 0.9])}
    snr = {"semianalytic_observed_phase_maximized_snr_net": np.array([0, 0, 12, 9, 0, 0.0])}
    write_o4(tmp_path / "o4.hdf", fields, log, far, seconds=YEAR_S, total=10, extra=snr)
    found = read_lvk_injections(tmp_path / "o4.hdf", Z_NAMES)
    np.testing.assert_allclose(found.columns["redshift"], fields["redshift"][[0, 2, 5]])
    found = read_lvk_injections(tmp_path / "o4.hdf", Z_NAMES, snr_cut=8.0, far_cut=0.5)
    np.testing.assert_allclose(found.columns["redshift"], fields["redshift"][[0, 2, 3]])


def test_combination_of_campaigns(tmp_path):
    """An O3 campaign (0.5 yr) and a more sensitive O4 campaign (1.5 yr) with fewer draws,
    in float32: mu is the sum of the campaigns' expectations."""
    fields_a, log_a, ct_a = draw(np.random.default_rng(6), 30_000)
    found_a = found_rule(fields_a, ct_a, 30.0, 0.5)
    write_o3(tmp_path / "o3.hdf5", fields_a, log_a, found_a, seconds=0.5 * YEAR_S, total=30_000)
    fields_b, log_b, ct_b = draw(np.random.default_rng(7), 15_000)
    far_b = {"gstlal_far": np.where(found_rule(fields_b, ct_b, 40.0, 0.8), 0.1, 30.0)}
    write_o4(tmp_path / "o4.hdf", fields_b, log_b, far_b, seconds=1.5 * YEAR_S, total=15_000)
    files = [tmp_path / "o3.hdf5", tmp_path / "o4.hdf"]
    estimator = lvk_injections(files, Z_NAMES)
    assert estimator.total_draws == 45_000 and estimator.time == pytest.approx(2.0)
    count_a = found_a.sum()
    np.testing.assert_allclose(estimator.log_weight[:count_a], np.log(0.25 / (2 / 3)))
    np.testing.assert_allclose(estimator.log_weight[count_a:], np.log(0.75 / (1 / 3)))
    expected = RATE * 0.5 * (
        0.5 * p_mass(30.0) * p_redshift(0.5) + 1.5 * p_mass(40.0) * p_redshift(0.8)
    )
    terms = estimator.terms(log_rate_fn(Z_NAMES), {})
    assert terms.mu.dtype == jnp.float32
    within_error(terms, expected)
    sets = [read_lvk_injections(f, Z_NAMES) for f in files]
    nested = combine_injection_sets([combine_injection_sets(sets[:1]), sets[1]])
    np.testing.assert_allclose(nested.log_weight, estimator.log_weight, rtol=1e-12)
    assert nested.layout == "o3+o4"
    assert lvk_injections(files, Z_NAMES, time=4.0).time == 4.0
    with pytest.raises(ValueError, match="has columns"):
        combine_injection_sets([sets[0], read_lvk_injections(files[1], SPIN_NAMES)])


def test_spin_jacobian_against_finite_differences():
    rng = np.random.default_rng(8)
    a, ct, phi = rng.uniform(0.05, 1, 20), rng.uniform(-0.95, 0.95, 20), rng.uniform(0, 6, 20)

    def cartesian(p):
        a, ct, phi = p
        st = np.sqrt(1 - ct**2)
        return np.array([a * st * np.cos(phi), a * st * np.sin(phi), a * ct])

    step = 1e-6
    for point in zip(a, ct, phi, strict=True):
        point = np.array(point)
        columns = [
            (cartesian(point + step * e) - cartesian(point - step * e)) / (2 * step)
            for e in np.eye(3)
        ]
        np.testing.assert_allclose(abs(np.linalg.det(np.array(columns).T)), point[0] ** 2,
                                   rtol=1e-7)
    magnitude, cos_tilt, log_jacobian = spin_polar_coordinates(*cartesian((a, ct, phi)))
    np.testing.assert_allclose(magnitude, a, rtol=1e-12)
    np.testing.assert_allclose(cos_tilt, ct, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(log_jacobian, np.log(2 * np.pi * a**2), rtol=1e-12)


def test_spin_jacobian_against_monte_carlo():
    """Draws from an azimuthally symmetric, non-isotropic Gaussian in Cartesian components:
    the cell probabilities in (a, cos t) match the integral of 2 pi a^2 p(chi)."""
    cov = np.diag([0.3, 0.3, 0.2]) ** 2
    gaussian = multivariate_normal(mean=[0.0, 0.0, 0.3], cov=cov)
    num = 200_000
    samples = gaussian.rvs(size=num, random_state=np.random.default_rng(9))
    magnitude, cos_tilt, _ = spin_polar_coordinates(*samples.T)
    a_edges, c_edges = np.linspace(0, 0.8, 5), np.linspace(-1, 1, 5)
    counts, _, _ = np.histogram2d(magnitude, cos_tilt, bins=(a_edges, c_edges))
    x, w = roots_legendre(24)
    for i in range(4):
        for j in range(4):
            da, dc = np.diff(a_edges[i : i + 2])[0] / 2, np.diff(c_edges[j : j + 2])[0] / 2
            aa = (a_edges[i] + da * (x + 1))[:, None]
            cc = (c_edges[j] + dc * (x + 1))[None, :]
            chi = np.stack(np.broadcast_arrays(aa * np.sqrt(1 - cc**2), 0 * aa * cc, aa * cc), -1)
            _, _, log_jacobian = spin_polar_coordinates(*np.moveaxis(chi, -1, 0))
            density = np.exp(log_jacobian) * gaussian.pdf(chi)
            p = da * dc * np.sum(w[:, None] * w[None, :] * density)
            assert abs(counts[i, j] - num * p) < 5 * np.sqrt(num * p * (1 - p)) + 1, (i, j)


def test_errors_name_file_group_and_field(tmp_path):
    fields, log, ct = draw(np.random.default_rng(10), 50)
    far = {"far_gstlal": np.full(50, 0.1)}
    no_z = {k: v for k, v in fields.items() if k != "redshift"}
    write_o4(tmp_path / "no_z.hdf", no_z, log, far, seconds=YEAR_S, total=50)
    with pytest.raises(ValueError, match=r"no_z\.hdf', dataset 'events' provides no column for "
                       r"'redshift' \(no field 'redshift' or 'z'\)"):
        read_lvk_injections(tmp_path / "no_z.hdf", Z_NAMES)
    no_density = {k: v for k, v in fields.items() if "spin" not in k}
    with h5py.File(tmp_path / "no_density.hdf", "w") as handle:
        group = handle.create_group("injections")
        for key, value in {**no_density, "ifar_gstlal": np.full(50, 9.0)}.items():
            group[key] = value
        group["redshift_sampling_pdf"] = np.ones(50)
        group.attrs["total_generated"] = 50
        group.attrs["analysis_time_s"] = YEAR_S
    with pytest.raises(ValueError, match=r"no_density\.hdf', group 'injections': its "
                       r"draw-density fields \(\['redshift_sampling_pdf'\]\) do not give the "
                       r"density of \['mass1_source', 'mass2_source', 'redshift'\]"):
        read_lvk_injections(tmp_path / "no_density.hdf", Z_NAMES)
    with pytest.raises(ValueError, match=r"group 'injections' lacks the spin 1 fields"):
        read_lvk_injections(tmp_path / "no_density.hdf", SPIN_NAMES)
    with h5py.File(tmp_path / "no_density.hdf", "a") as handle:
        del handle["injections"].attrs["total_generated"]
    with pytest.raises(ValueError, match=r"no_density\.hdf', group 'injections': cannot find the "
                       r"number of generated injections: no attribute 'total_generated'"):
        read_lvk_injections(tmp_path / "no_density.hdf", Z_NAMES)
    write_o4(tmp_path / "bad_weights.hdf", fields, log, far, seconds=YEAR_S, total=50,
             extra={"weights": np.linspace(-1, 1, 50)})
    with pytest.raises(ValueError, match=r"bad_weights\.hdf', dataset 'events': the field "
                       r"'weights'"):
        read_lvk_injections(tmp_path / "bad_weights.hdf", Z_NAMES)
    write_o4(tmp_path / "no_time.hdf", fields, log, far, seconds=0.0, total=50)
    with pytest.raises(ValueError, match=r"no_time\.hdf', dataset 'events': the analysis time"):
        read_lvk_injections(tmp_path / "no_time.hdf", Z_NAMES)
    with pytest.raises(ValueError, match=r"provides no column for \['chi_eff'\]"):
        read_lvk_injections(tmp_path / "no_time.hdf", Z_NAMES + ("chi_eff",))
    write_o4(tmp_path / "no_far.hdf", fields, log, {}, seconds=YEAR_S, total=50)
    with pytest.raises(ValueError, match=r"no_far\.hdf', dataset 'events' has neither "
                       r"false-alarm-rate fields"):
        read_lvk_injections(tmp_path / "no_far.hdf", Z_NAMES)
