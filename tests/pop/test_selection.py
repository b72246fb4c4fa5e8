import json
import os

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _pop_toy import HYPER, MASS_NAMES, Z_NAMES, as_jax, log_rate_density, sample_masses
from scipy.special import roots_legendre

from hierax.pop.cosmology import PLANCK15
from hierax.pop.selection import (
    AnalyticDetector,
    analytic_pdet,
    angular_factor_survival,
    custom,
    from_config,
    injection,
    load_neural_vt,
    neural_vt,
    vt_grid,
    write_injection_npz,
)

DATA = os.path.join(os.path.dirname(__file__), "..", "data", "pop")
Z_MAX = 1.5
DETECTOR = AnalyticDetector(horizon_distance=1000.0)


def nodes(lo, hi, n):
    x, w = roots_legendre(n)
    return 0.5 * (hi - lo) * x + 0.5 * (hi + lo), 0.5 * (hi - lo) * w


def quadrature_mu(weight_fn, with_redshift, time=1.0, hyper=HYPER):
    """T * integral of weight * rho over m1 > m2 > mmin (and z), by Gauss-Legendre."""
    u, wu = nodes(0.0, 1.0, 80)
    m1, w1 = nodes(hyper["mmin"], hyper["mmax"], 80)
    m1g, ug = np.meshgrid(m1, u, indexing="ij")
    m2g = hyper["mmin"] + ug * (m1g - hyper["mmin"])
    wm = (w1[:, None] * wu[None, :]) * (m1g - hyper["mmin"])
    if not with_redshift:
        theta = np.stack([m1g, m2g], -1)
        rho = np.exp(log_rate_density(theta, hyper, xp=np))
        return time * np.sum(wm * rho * weight_fn(theta))
    z, wz = nodes(0.0, Z_MAX, 60)
    theta = np.stack(np.broadcast_arrays(m1g[..., None], m2g[..., None], z), -1)
    rho = np.exp(log_rate_density(theta, hyper, xp=np))
    return time * np.sum(wm[..., None] * wz * rho * weight_fn(theta))


def pdet_numpy(theta):
    with jax.enable_x64(True):
        return np.asarray(DETECTOR.detection_probability(theta, Z_NAMES))


def vt_numpy(theta, num_z=120):
    """VT/T = integral of p_det dV_C/dz / (1 + z) over z in [0, Z_MAX]."""
    z, wz = nodes(0.0, Z_MAX, num_z)
    full = np.concatenate([np.broadcast_to(theta[..., None, :], theta.shape[:-1] + (num_z, 2)),
                           np.broadcast_to(z[:, None], theta.shape[:-1] + (num_z, 1))], -1)
    dvc = np.asarray(PLANCK15.differential_comoving_volume(z), np.float64) / (1 + z)
    return np.sum(pdet_numpy(full) * dvc * wz, axis=-1)


def within_error(terms, expected, sigmas=4.0):
    sigma = np.sqrt(float(terms.variance))
    assert abs(float(terms.mu) - expected) < sigmas * sigma + 1e-3 * expected, (
        float(terms.mu), expected, sigma)


@pytest.mark.parametrize("names", [Z_NAMES, MASS_NAMES])
def test_analytic_pdet_matches_quadrature(x64, names):
    with_z = "redshift" in names
    estimator = analytic_pdet(names, detector=DETECTOR, time=2.0, num_samples=60_000,
                              mass_range=(5.0, 60.0), z_max=Z_MAX, seed=3)
    terms = estimator.terms(log_rate_density, as_jax(HYPER))
    expected = quadrature_mu(pdet_numpy if with_z else vt_numpy, with_z, time=2.0)
    within_error(terms, expected)
    assert float(terms.effective_draws) > 100
    grad = jax.grad(lambda h: estimator.log_mu(log_rate_density, h))(as_jax(HYPER))
    assert all(np.isfinite(v) for v in grad.values())


def test_angular_factor_distribution():
    grid, survival = angular_factor_survival()
    # E[w^2] = E[Theta^2] / 16 = 0.16 (Finn & Chernoff 1993)
    np.testing.assert_allclose(-np.trapezoid(grid**2, survival), 0.16, atol=1e-3)
    theta = jnp.array([[30.0, 20.0, 0.3]] * 4000)
    keys = jax.random.split(jax.random.key(0), 1)[0]
    hits = DETECTOR.detection_probability(theta, Z_NAMES, key=keys)
    p = float(DETECTOR.detection_probability(theta[:1], Z_NAMES)[0])
    assert set(np.unique(hits)) <= {0.0, 1.0}
    assert abs(float(hits.mean()) - p) < 5 * np.sqrt(p * (1 - p) / 4000)
    with pytest.raises(ValueError, match="lack"):
        DETECTOR.detection_probability(theta[:, :2], MASS_NAMES)


def self_injections(tmp_path, num=40_000):
    """Injections drawn from the population itself with z ~ dV_C/dz / (1 + z)."""
    rng = np.random.default_rng(11)
    m1, m2 = sample_masses(rng, num)
    grid = np.linspace(0, Z_MAX, 3001)
    dens = np.asarray(PLANCK15.differential_comoving_volume(grid), np.float64) / (1 + grid)
    cdf = np.concatenate([[0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    z = np.interp(rng.uniform(size=num) * cdf[-1], cdf, grid)
    cell = np.clip(np.searchsorted(grid, z, side="right") - 1, 0, grid.size - 2)
    log_qz = np.log(np.diff(cdf)[cell] / np.diff(grid)[cell] / cdf[-1])
    theta = np.column_stack([m1, m2, z])
    log_q = log_rate_density(theta[:, :2], {**HYPER, "log_rate_0": 0.0}, xp=np) + log_qz
    detected = rng.uniform(size=num) < pdet_numpy(theta)
    path = tmp_path / "injections.npz"
    write_injection_npz(path, dict(zip(Z_NAMES, theta.T, strict=True)), log_q, num, 2.0, detected)
    return path


def test_injections_from_population_match_quadrature(x64, tmp_path):
    path = self_injections(tmp_path)
    for names, weight in ((Z_NAMES, pdet_numpy), (MASS_NAMES, vt_numpy)):
        estimator = injection(path, names)
        assert estimator.time == 2.0
        for hyper in (HYPER, {**HYPER, "alpha": 2.0}):
            terms = estimator.terms(log_rate_density, as_jax(hyper))
            within_error(terms, quadrature_mu(weight, "redshift" in names, 2.0, hyper))


def write_lvk(path, rng, num=2000, with_ifar=True):
    m1, m2 = sample_masses(rng, num)
    z = rng.uniform(0, 1, num)
    a = rng.uniform(0, 0.998, (2, num))
    ct = rng.uniform(-1, 1, (2, num))
    phi = rng.uniform(0, 2 * np.pi, (2, num))
    st = np.sqrt(1 - ct**2)
    spins = np.stack([a * st * np.cos(phi), a * st * np.sin(phi), a * ct])
    log_mass_z = log_rate_density(np.column_stack([m1, m2]), {**HYPER, "log_rate_0": 0.0},
                                  xp=np)
    log_spin = np.sum(-np.log(0.998) - np.log(2) - np.log(2 * np.pi) - 2 * np.log(a), 0)
    with h5py.File(path, "w") as f:
        g = f.create_group("injections")
        g.attrs["total_generated"] = 3 * num
        g.attrs["analysis_time_s"] = 0.5 * 365.25 * 86400
        for key, value in (("mass1_source", m1), ("mass2_source", m2), ("redshift", z),
                           ("sampling_pdf", np.exp(log_mass_z + log_spin))):
            g[key] = value
        for i in range(2):
            for j, axis in enumerate("xyz"):
                g[f"spin{i + 1}{axis}"] = spins[j, i]
        if with_ifar:
            g["ifar_gstlal"] = np.where(np.arange(num) % 2 == 0, 10.0, 0.1)
            g["ifar_pycbc"] = np.where(np.arange(num) % 3 == 0, 10.0, 0.1)
        g["optimal_snr_net"] = np.where(np.arange(num) % 4 == 0, 20.0, 1.0)
    return log_mass_z, a, ct


def test_lvk_injection_layout(tmp_path):
    rng = np.random.default_rng(5)
    path = tmp_path / "endo3_mock.hdf5"
    log_mass_z, a, ct = write_lvk(path, rng)
    estimator = injection(path, Z_NAMES)
    found = (np.arange(2000) % 2 == 0) | (np.arange(2000) % 3 == 0)
    assert estimator.num_draws == found.sum() and estimator.total_draws == 6000
    np.testing.assert_allclose(estimator.time, 0.5)
    # spins divided out exactly: the draw density in (m1, m2, z) is the mass density
    np.testing.assert_allclose(estimator.log_draw_density, log_mass_z[found], rtol=1e-10)
    spin_names = Z_NAMES + ("a_1", "a_2", "cos_tilt_1", "cos_tilt_2")
    with_spins = injection(path, spin_names)
    expected = log_mass_z[found] + 2 * (-np.log(0.998) - np.log(2))
    np.testing.assert_allclose(with_spins.log_draw_density, expected, rtol=1e-10)
    np.testing.assert_allclose(with_spins.theta[:, 3], a[0][found], rtol=1e-10)
    only = injection(path, Z_NAMES, ifar_pipelines=["gstlal"])
    assert only.num_draws == 1000
    with pytest.raises(ValueError, match="lacks ifar columns"):
        injection(path, Z_NAMES, ifar_pipelines=["mbta"])
    write_lvk(tmp_path / "snr.hdf5", rng, with_ifar=False)
    assert injection(tmp_path / "snr.hdf5", Z_NAMES).num_draws == 500
    with pytest.raises(ValueError, match="provides no column"):
        injection(path, Z_NAMES + ("eccentricity",))
    with h5py.File(tmp_path / "bad.hdf5", "w") as f:
        f.create_group("events")
    with pytest.raises(ValueError, match="no 'injections' group"):
        injection(tmp_path / "bad.hdf5", Z_NAMES)
    with pytest.raises(ValueError, match="does not exist"):
        injection(tmp_path / "missing.hdf5", Z_NAMES)


LINEAR = (0.5, -0.02, 0.03)  # ln VT of the fixture network: 0.5 - 0.02 m1 + 0.03 m2


def linear_vt(theta):
    return np.exp(LINEAR[0] + LINEAR[1] * theta[..., 0] + LINEAR[2] * theta[..., 1])


def test_neural_vt_fixture_and_estimate(x64):
    path = os.path.join(DATA, "neural_vt_linear.hdf5")
    network = load_neural_vt(path)
    theta = np.array([[30.0, 20.0], [12.0, 9.0]])
    np.testing.assert_allclose(network.log_vt(theta, MASS_NAMES), np.log(linear_vt(theta)))
    estimator = neural_vt(path, MASS_NAMES, time_scale=3.0, num_samples=20_000,
                          mass_range=(5.0, 60.0))
    terms = estimator.terms(log_rate_density, as_jax(HYPER))
    within_error(terms, quadrature_mu(linear_vt, False, time=3.0))
    with pytest.raises(ValueError, match="lack"):
        neural_vt(path, ("mass_1_source", "a_1"))
    with pytest.raises(ValueError, match="must not have a 'redshift'"):
        neural_vt(path, Z_NAMES)


def test_vt_grid_and_custom(x64, tmp_path):
    m1 = np.linspace(5, 60, 23)
    m2 = np.linspace(5, 60, 19)
    np.savez(tmp_path / "grid.npz", mass_1_source=m1, mass_2_source=m2,
             vt=np.outer(m1, m2) * 1e-3)  # bilinear interpolation is exact for m1 * m2
    estimator = vt_grid(tmp_path / "grid.npz", MASS_NAMES, num_samples=20_000)
    terms = estimator.terms(log_rate_density, as_jax(HYPER))
    within_error(terms, quadrature_mu(lambda t: t[..., 0] * t[..., 1] * 1e-3, False))
    module = tmp_path / "my_selection.py"
    module.write_text("import numpy as np\n"
                      "def log_vt(theta, names):\n"
                      "    return 0.5 - 0.02 * theta[:, 0] + 0.03 * theta[:, 1]\n")
    user = custom(f"{module}:log_vt", MASS_NAMES, num_samples=20_000, mass_range=(5.0, 60.0))
    reference = neural_vt(os.path.join(DATA, "neural_vt_linear.hdf5"), MASS_NAMES,
                          num_samples=20_000, mass_range=(5.0, 60.0))
    np.testing.assert_allclose(user.log_weight, reference.log_weight, atol=1e-12)
    with pytest.raises(ValueError, match="has no function"):
        custom(f"{module}:nope", MASS_NAMES)
    with pytest.raises(ValueError, match="cannot import module"):
        custom("no_such_module_xyz:fn", MASS_NAMES)


def test_from_config(tmp_path):
    seed_000 = {"estimator_type": "neural_vt", "filename": "neural_vt_linear.hdf5",
                "time_scale": 248.0, "num_samples": 2000, "batch_size": 1000}
    path = tmp_path / "pmean.json"
    path.write_text(json.dumps(seed_000))
    os.symlink(os.path.abspath(os.path.join(DATA, "neural_vt_linear.hdf5")),
               tmp_path / "neural_vt_linear.hdf5")
    estimator = from_config(path, MASS_NAMES)
    assert estimator.time == 248.0 and estimator.total_draws == 2000
    assert estimator.batch_size == 1000
    analytic = from_config({"estimator_type": "analytic_pdet", "num_samples": 1000,
                            "z_max": 1.0}, Z_NAMES)
    assert analytic.total_draws == 1000
    with pytest.raises(ValueError, match=r"unknown keys bogus; allowed keys: .*filename"):
        from_config({**seed_000, "bogus": 1}, MASS_NAMES)
    with pytest.raises(ValueError, match="estimator_type must be one of"):
        from_config({"estimator_type": "neural_pdet"}, MASS_NAMES)
    with pytest.raises(ValueError, match="proposal_dists"):
        from_config({**seed_000, "proposal_dists": ["self"]}, MASS_NAMES)
    with pytest.raises(ValueError, match="num_samples"):
        from_config({**seed_000, "num_samples": -3}, MASS_NAMES)
    with pytest.raises(ValueError, match="does not exist"):
        from_config(tmp_path / "none.json", MASS_NAMES)
    with pytest.raises(ValueError, match="exactly one of"):
        from_config({"estimator_type": "custom"}, MASS_NAMES)
    with pytest.raises(TypeError, match="JSON object"):
        from_config([1, 2], MASS_NAMES)
