"""The parameter-estimation prior of LVK posterior samples, in hierax.pop's coordinates.

Population inference divides every posterior sample by the density of the prior
it was drawn under (Mandel, Farr & Gair 2019, MNRAS 486, 1086; Thrane & Talbot
2019, PASA 36, e010), written in the coordinates of the
population model: source-frame masses ``m_i = m_{i,d} / (1 + z)``, redshift ``z``
and the spin columns. LVK analyses (bilby, LALInference) put their prior on the
detector-frame masses ``m_{i,d}``, the luminosity distance ``d_L`` and the spins.
The Jacobian of ``(m_{1,d}, m_{2,d}, d_L) -> (m_1, m_2, z)`` is
``(1 + z)^2 dD_L/dz``, so with ``d_L = D_L(z)`` in the cosmology of the conversion

    pi(m_1, m_2, z) = pi_m(m_{1,d}, m_{2,d}) (1 + z)^2 pi_d(d_L) dD_L/dz,       (1)
    dD_L/dz = D_C(z) + (1 + z) D_H / E(z)                                         (2)

(Hogg 1999, arXiv:astro-ph/9905116, eqs. 15 and 21).

Mass priors ``pi_m`` (``mass``):

- ``"flat_detector_components"``: uniform in ``m_{1,d}, m_{2,d}`` inside the
  prior's bounds and constraints, ``pi_m = const``. Bilby's
  ``UniformInComponentsChirpMass`` with ``UniformInComponentsMassRatio`` is this
  prior written in chirp mass and mass ratio (Ashton et al. 2019, ApJS 241, 27;
  Romero-Shaw et al. 2020, MNRAS 499, 3295); so is a ``Uniform`` prior on
  ``mass_1`` and ``mass_2``.
- ``"flat_detector_chirp_mass_mass_ratio"``: uniform in the detector-frame chirp
  mass ``M_c = (m_1 m_2)^{3/5} / (m_1 + m_2)^{1/5}`` and ``q = m_2 / m_1``. Since
  ``|d(M_c, q) / d(m_1, m_2)| = M_c / m_1^2``, ``pi_m = M_{c,d} / m_{1,d}^2``.

Distance priors ``pi_d`` (``distance``), with their density in redshift
``p(z) = pi_d(D_L(z)) dD_L/dz`` in the prior's own cosmology:

- ``"dl_squared"``: ``pi_d ∝ d_L^2``, ``p(z) ∝ D_L^2 dD_L/dz`` (bilby
  ``PowerLaw(alpha=2)``; LALInference; GWTC-1, Abbott et al. 2019, PRX 9, 031040);
- ``"uniform_comoving_source_time"``: uniform in comoving volume and source-frame
  time, ``p(z) ∝ dV_C/dz / (1 + z)`` (bilby ``UniformSourceFrame``);
- ``"uniform_comoving_volume"``: ``p(z) ∝ dV_C/dz`` (bilby ``UniformComovingVolume``);
- ``"uniform_luminosity_distance"``: ``pi_d = const`` (bilby ``Uniform``).

When the prior's cosmology ``P`` is not the conversion's, ``pi_d(d_L) =
p_P(z_P) / (dD_{L,P}/dz)(z_P)`` with ``z_P`` the redshift of ``d_L`` in ``P``, and (1)
holds as written; when they agree, (1) is ``pi_m (1 + z)^2 p(z)``.

Spins (``spin="uniform_isotropic"``): magnitudes uniform on ``[0, a_max,i]`` and
isotropic directions, so ``cos theta_i`` is uniform on ``[-1, 1]`` and
``pi(a_1, a_2, cos theta_1, cos theta_2) = 1 / (4 a_max,1 a_max,2)``; the factors
of the columns read enter. The effective spin ``chi_eff = (a_1 cos theta_1 + q a_2
cos theta_2) / (1 + q)`` has under this prior the density, given ``q``,

    p(chi_eff | q) = (1 + q) p_S((1 + q) chi_eff),
    p_S(s) = (1 / A_1) int_0^{A_1} [F_2(s + a) - F_2(s - a)] / (2 a) da,          (3)

where ``a_1 cos theta_1`` given ``a_1 = a`` is uniform on ``[-a, a]`` and
``F_2(y) = 1/2 + y (1 + ln(B / |y|)) / (2 B)`` on ``|y| < B = q A_2`` is the
distribution function of ``q a_2 cos theta_2`` (Callister 2021,
arXiv:2104.09508, derives a closed form; (3) is integrated here by Gauss-Legendre
quadrature split at the kinks of the integrand). The prior density of ``chi_p``,
alone or jointly with ``chi_eff``, is not implemented (the joint one has no closed
form; Callister 2021 evaluates it numerically): model ``a_1, a_2, cos_tilt_1,
cos_tilt_2`` instead.

Columns the population does not model are taken as distributed in the population
as in the PE prior, so their factors drop out. A population without a redshift
column is a rate density per comoving volume and source-frame time, as
:mod:`hierax.pop.selection.injection` assumes; the redshift of each sample is then
integrated out against ``dV_C/dz / (1 + z)``, i.e. ``ln pi`` becomes
``ln pi(m_1, m_2, z) - ln(dV_C/dz / (1 + z))``.

All densities are up to a constant per event (the normalisation over the prior's
bounds), which cancels in the hierarchical likelihood. They are evaluated on the
host in NumPy float64, like the readers that call them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

import numpy as np

from hierax.pop.cosmology import PLANCK15, Cosmology

__all__ = [
    "DISTANCE_PRIORS",
    "MASS_PRIORS",
    "SPIN_PRIORS",
    "PEPrior",
    "cosmology_from_description",
    "log_chi_eff_prior",
    "log_detector_mass_prior",
    "log_pe_prior",
    "log_redshift_prior",
    "luminosity_distance_gradient",
    "outside_support",
    "pe_prior",
    "pe_prior_from_analytic",
]

MASS_PRIORS = ("flat_detector_components", "flat_detector_chirp_mass_mass_ratio")
DISTANCE_PRIORS = (
    "dl_squared",
    "uniform_comoving_source_time",
    "uniform_comoving_volume",
    "uniform_luminosity_distance",
)
SPIN_PRIORS = ("uniform_isotropic",)

SPIN_MAGNITUDES = ("a_1", "a_2")
COS_TILTS = ("cos_tilt_1", "cos_tilt_2")
CHI_EFF = "chi_eff"
CHI_P = "chi_p"
_SPEC_KEYS = ("mass", "distance", "spin", "spin_max", "cosmology")

PLANCK15_LAL = Cosmology(hubble_constant=67.90, matter_density=0.3065)
"""The Planck 2015 cosmology as LALSuite and PESummary's ``Planck15_lal`` define it."""
PLANCK18 = Cosmology(hubble_constant=67.66, matter_density=0.30966)
"""Planck 2018 (Planck Collaboration 2020, A&A 641, A6, Table 2, last column)."""
_NAMED_COSMOLOGIES = {"planck15": PLANCK15, "planck15_lal": PLANCK15_LAL, "planck18": PLANCK18}


@dataclasses.dataclass(frozen=True)
class PEPrior:
    """The prior an event's samples were drawn under (see the module docstring).

    Args:
        mass: one of :data:`MASS_PRIORS`.
        distance: one of :data:`DISTANCE_PRIORS`.
        spin: ``"uniform_isotropic"`` or ``None`` (no spin columns may then be read).
        spin_max: ``(a_max,1, a_max,2)``, upper ends of the uniform spin magnitudes (a
            number sets both); samples above them are outside the prior's support.
        cosmology: the cosmology the distance prior was defined in; ``None`` takes the
            file's (or, without one, the conversion's).
    """

    mass: str
    distance: str
    spin: str | None = None
    spin_max: tuple[float, float] = (1.0, 1.0)
    cosmology: Cosmology | None = None

    def __post_init__(self):
        _check_choice(self.mass, MASS_PRIORS, "mass", "PEPrior")
        _check_choice(self.distance, DISTANCE_PRIORS, "distance", "PEPrior")
        if self.spin is not None:
            _check_choice(self.spin, SPIN_PRIORS, "spin", "PEPrior")
        spin_max = self.spin_max
        if isinstance(spin_max, int | float):
            spin_max = (spin_max, spin_max)
        spin_max = tuple(float(a) for a in spin_max)
        if len(spin_max) != 2 or not all(0 < a <= 1 for a in spin_max):
            raise ValueError(
                f"PEPrior: spin_max must be one number or two numbers in (0, 1], got "
                f"{self.spin_max!r}."
            )
        object.__setattr__(self, "spin_max", spin_max)
        if self.cosmology is not None and not isinstance(self.cosmology, Cosmology):
            raise TypeError(
                "PEPrior: cosmology must be a hierax.pop.cosmology.Cosmology or None, got "
                f"{type(self.cosmology).__name__}."
            )


def pe_prior(spec, *, where: str = "prior") -> PEPrior:
    """A :class:`PEPrior` from itself or a mapping such as
    ``{"mass": "flat_detector_components", "distance": "dl_squared",
    "spin": "uniform_isotropic", "spin_max": 0.99, "cosmology": "Planck15_lal"}``.

    ``where`` names the specification in error messages (e.g. the event).
    """
    if isinstance(spec, PEPrior):
        return spec
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"{where}: a PE prior is a PEPrior or a mapping with keys {list(_SPEC_KEYS)}, "
            f"got {type(spec).__name__}."
        )
    unknown = [key for key in spec if key not in _SPEC_KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {list(_SPEC_KEYS)}.")
    missing = [key for key in ("mass", "distance") if key not in spec]
    if missing:
        raise ValueError(
            f"{where}: the PE prior needs {' and '.join(repr(k) for k in missing)} "
            f"(mass: one of {list(MASS_PRIORS)}; distance: one of {list(DISTANCE_PRIORS)})."
        )
    _check_choice(spec["mass"], MASS_PRIORS, "mass", where)
    _check_choice(spec["distance"], DISTANCE_PRIORS, "distance", where)
    if spec.get("spin") is not None:
        _check_choice(spec["spin"], SPIN_PRIORS, "spin", where)
    cosmology = spec.get("cosmology")
    if isinstance(cosmology, str):
        cosmology = cosmology_from_description(cosmology, where=f"{where}, key 'cosmology'")
    try:
        return PEPrior(
            mass=spec["mass"],
            distance=spec["distance"],
            spin=spec.get("spin"),
            spin_max=spec.get("spin_max", (1.0, 1.0)),
            cosmology=cosmology,
        )
    except (TypeError, ValueError) as error:
        raise type(error)(f"{where}: {error}") from None


def _check_choice(value, choices, key: str, where: str) -> None:
    if value not in choices:
        raise ValueError(f"{where}: {key} must be one of {list(choices)}, got {value!r}.")


# -- densities --------------------------------------------------------------------------------


def luminosity_distance_gradient(cosmology: Cosmology, redshift: np.ndarray) -> np.ndarray:
    """``dD_L/dz = D_C(z) + (1 + z) D_H / E(z)`` in Mpc, eq. (2); same shape as ``redshift``."""
    redshift = np.asarray(redshift, dtype=np.float64)
    return cosmology.comoving_distance(redshift) + (
        (1 + redshift) * cosmology.hubble_distance / cosmology.efunc(redshift)
    )


def log_detector_mass_prior(mass: str, mass_1_detector, mass_2_detector) -> np.ndarray:
    """``ln pi_m(m_{1,d}, m_{2,d})`` up to a constant; arrays of one shape in, that shape out."""
    m1 = np.asarray(mass_1_detector, dtype=np.float64)
    m2 = np.asarray(mass_2_detector, dtype=np.float64)
    _check_choice(mass, MASS_PRIORS, "mass", "log_detector_mass_prior")
    if mass == "flat_detector_components":
        return np.zeros(np.broadcast_shapes(m1.shape, m2.shape))
    log_chirp_mass = 0.6 * np.log(m1 * m2) - 0.2 * np.log(m1 + m2)
    return log_chirp_mass - 2 * np.log(m1)


def log_redshift_prior(
    distance: str,
    redshift,
    cosmology: Cosmology = PLANCK15,
    prior_cosmology: Cosmology | None = None,
) -> np.ndarray:
    """``ln pi_d(D_L(z)) + ln dD_L/dz``: the distance prior as a density in ``z``.

    Args:
        distance: one of :data:`DISTANCE_PRIORS`.
        redshift: ``(...)`` redshifts, in ``cosmology`` (the conversion's).
        cosmology: maps ``z`` to ``d_L = D_L(z)``.
        prior_cosmology: the cosmology the prior was defined in; ``None`` is
            ``cosmology``.

    Returns:
        ``(...)`` float64, up to an additive constant.
    """
    _check_choice(distance, DISTANCE_PRIORS, "distance", "log_redshift_prior")
    z = np.asarray(redshift, dtype=np.float64)
    log_gradient = np.log(luminosity_distance_gradient(cosmology, z))
    if distance == "dl_squared":
        return 2 * np.log(cosmology.luminosity_distance(z)) + log_gradient
    if distance == "uniform_luminosity_distance":
        return log_gradient
    prior_cosmology = cosmology if prior_cosmology is None else prior_cosmology
    if prior_cosmology == cosmology:
        return _log_comoving_prior(distance, cosmology, z)
    z_prior = prior_cosmology.redshift_at_luminosity_distance(cosmology.luminosity_distance(z))
    log_prior_gradient = np.log(luminosity_distance_gradient(prior_cosmology, z_prior))
    return (
        _log_comoving_prior(distance, prior_cosmology, z_prior)
        - log_prior_gradient
        + log_gradient
    )


def _log_comoving_prior(distance: str, cosmology: Cosmology, z: np.ndarray) -> np.ndarray:
    log_volume = np.log(cosmology.differential_comoving_volume(z))
    if distance == "uniform_comoving_source_time":
        return log_volume - np.log1p(z)
    return log_volume


def log_chi_eff_prior(chi_eff, mass_ratio, spin_max=(1.0, 1.0), *, nodes: int = 32,
                      chunk: int = 65536) -> np.ndarray:
    """``ln p(chi_eff | q)`` under uniform spin magnitudes and isotropic directions, eq. (3).

    Args:
        chi_eff: ``(n,)`` effective spins.
        mass_ratio: ``(n,)`` ``q = m_2 / m_1`` in ``(0, 1]``.
        spin_max: ``(A_1, A_2)``, the upper ends of the uniform magnitudes.
        nodes: Gauss-Legendre nodes per smooth piece of the integrand.
        chunk: samples integrated at once (bounds the memory to ``~64 chunk nodes`` floats).

    Returns:
        ``(n,)`` float64, normalised; ``-inf`` outside the support.
    """
    chi_eff, mass_ratio = np.broadcast_arrays(np.asarray(chi_eff, np.float64),
                                              np.asarray(mass_ratio, np.float64))
    out = np.empty(chi_eff.shape)
    flat_chi, flat_q, flat_out = chi_eff.ravel(), mass_ratio.ravel(), out.reshape(-1)
    nodes_01, weights_01 = _gauss_legendre_01(nodes)
    for start in range(0, flat_chi.size, chunk):
        stop = start + chunk
        flat_out[start:stop] = _log_chi_eff_chunk(flat_chi[start:stop], flat_q[start:stop],
                                                  spin_max, nodes_01, weights_01)
    return out


def _gauss_legendre_01(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    return (x + 1) / 2, w / 2


def _log_chi_eff_chunk(chi_eff, q, spin_max, nodes_01, weights_01) -> np.ndarray:
    a_max_1, a_max_2 = float(spin_max[0]), float(spin_max[1])
    s = (1 + q) * chi_eff                                   # s = x_1 + y, eq. (3)
    b = q * a_max_2
    # Kinks of a -> F_2(s + a) - F_2(s - a): where s + a or s - a crosses -b, 0 or b.
    kinks = np.stack([np.abs(s), np.abs(b - s), np.abs(b + s)], axis=-1)
    edges = np.sort(np.concatenate([np.zeros((s.size, 1)), np.clip(kinks, 0, a_max_1),
                                    np.full((s.size, 1), a_max_1)], axis=-1), axis=-1)
    low, width = edges[:, :-1, None], np.diff(edges, axis=-1)[:, :, None]
    a = low + width * nodes_01                              # (n, 4, nodes)
    s_, b_ = s[:, None, None], b[:, None, None]
    difference = _uniform_product_cdf(s_ + a, b_) - _uniform_product_cdf(s_ - a, b_)
    with np.errstate(divide="ignore", invalid="ignore"):
        integrand = np.where(a > 0, difference / (2 * a), 0.0)  # a = 0 only on empty pieces
    p_s = np.sum(integrand * width * weights_01, axis=(1, 2)) / a_max_1
    with np.errstate(divide="ignore"):
        log_p = np.log(p_s) + np.log1p(q)
    inside = np.abs(s) < a_max_1 + b
    return np.where(inside & (p_s > 0), log_p, -np.inf)


def _uniform_product_cdf(y, b):
    """Distribution function of ``b u c`` with ``u ~ U(0, 1)``, ``c ~ U(-1, 1)``."""
    t = np.clip(y / b, -1.0, 1.0)
    abs_t = np.abs(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        body = t * (1 - np.log(np.where(abs_t > 0, abs_t, 1.0)))
    return 0.5 + 0.5 * body


def outside_support(prior: PEPrior, columns: Mapping[str, np.ndarray]):
    """The first ``(column, row)`` outside the support of the spin prior, or ``None``.

    ``columns`` maps names (``a_1``, ``cos_tilt_2``, ...) to ``(M,)`` arrays; only the
    spin columns are checked (masses and distance are checked by the readers).
    """
    bounds = {SPIN_MAGNITUDES[0]: (0.0, prior.spin_max[0]),
              SPIN_MAGNITUDES[1]: (0.0, prior.spin_max[1]),
              COS_TILTS[0]: (-1.0, 1.0), COS_TILTS[1]: (-1.0, 1.0),
              CHI_EFF: (-1.0, 1.0)}
    for name, (low, high) in bounds.items():
        if name in columns:
            values = np.asarray(columns[name])
            bad = (values < low) | (values > high)
            if np.any(bad):
                return name, int(np.argmax(bad))
    return None


def log_pe_prior(
    prior: PEPrior,
    columns: Mapping[str, np.ndarray],
    *,
    cosmology: Cosmology = PLANCK15,
    include_redshift: bool = True,
) -> np.ndarray:
    """``ln pi`` of the PE prior at each sample, in hierax.pop's coordinates.

    Args:
        prior: the prior the samples were drawn under.
        columns: ``(M,)`` arrays: ``mass_1_source``, ``mass_2_source`` and ``redshift``
            always (the masses' Jacobian needs ``z``), and any of ``a_1, a_2,
            cos_tilt_1, cos_tilt_2`` or ``chi_eff`` that the population models.
        cosmology: the cosmology ``redshift`` and the source-frame masses are in.
        include_redshift: ``False`` for a population without a redshift column (the
            module docstring says how ``z`` is then integrated out).

    Returns:
        ``(M,)`` float64, up to a constant; ``-inf`` outside the spin prior's support.
    """
    for name in ("mass_1_source", "mass_2_source", "redshift"):
        if name not in columns:
            raise ValueError(f"log_pe_prior: needs the column {name!r}.")
    if CHI_P in columns:
        raise ValueError(
            "log_pe_prior: the PE prior density of chi_p (alone or with chi_eff) is not "
            "implemented (jointly with chi_eff it has no closed form); model a_1, a_2, "
            "cos_tilt_1, cos_tilt_2 instead."
        )
    z = np.asarray(columns["redshift"], dtype=np.float64)
    m1 = np.asarray(columns["mass_1_source"], dtype=np.float64)
    m2 = np.asarray(columns["mass_2_source"], dtype=np.float64)
    total = log_detector_mass_prior(prior.mass, m1 * (1 + z), m2 * (1 + z)) + 2 * np.log1p(z)
    total = total + log_redshift_prior(prior.distance, z, cosmology, prior.cosmology)
    if not include_redshift:
        total = total - _log_comoving_prior("uniform_comoving_source_time", cosmology, z)
    return total + _log_spin_prior(prior, columns, m2 / m1)


def _log_spin_prior(prior: PEPrior, columns, mass_ratio) -> np.ndarray:
    spins = [name for name in (*SPIN_MAGNITUDES, *COS_TILTS, CHI_EFF) if name in columns]
    if not spins:
        return np.zeros(np.shape(mass_ratio))
    if prior.spin is None:
        raise ValueError(
            f"log_pe_prior: the spin columns {spins} are modelled but the PE prior names no "
            "spin prior; give spin='uniform_isotropic' if the analysis drew uniform spin "
            "magnitudes and isotropic directions."
        )
    if CHI_EFF in columns and len(spins) > 1:
        raise ValueError(
            f"log_pe_prior: chi_eff together with {[s for s in spins if s != CHI_EFF]} is "
            "not supported (chi_eff is a function of them); model one or the other."
        )
    if CHI_EFF in columns:
        return log_chi_eff_prior(columns[CHI_EFF], mass_ratio, prior.spin_max)
    log_density = np.zeros(np.shape(mass_ratio))
    for index, name in enumerate(SPIN_MAGNITUDES):
        if name in columns:
            log_density = log_density + _log_uniform(columns[name], 0.0, prior.spin_max[index])
    for name in COS_TILTS:
        if name in columns:
            log_density = log_density + _log_uniform(columns[name], -1.0, 1.0)
    return log_density


def _log_uniform(values, low: float, high: float) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    inside = (values >= low) & (values <= high)
    return np.where(inside, -math.log(high - low), -np.inf)


# -- the PESummary `priors/analytic` strings ----------------------------------------------------

_CALL = re.compile(r"^\s*(?:\w+\.)*(\w+)\s*\((.*)\)\s*$", re.DOTALL)
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


def _parse_call(text: str):
    """``(class name, argument text)`` of ``"bilby.gw.prior.Name(a=1, ...)"``, or ``None``."""
    match = _CALL.match(text)
    return (match.group(1), match.group(2)) if match else None


def _number_argument(arguments: str, key: str) -> float | None:
    match = re.search(rf"(?:^|[\s,(]){key}\s*=\s*{_NUMBER}", arguments)
    return float(match.group(1)) if match else None


def _cosmology_argument(arguments: str) -> str | None:
    """The text after ``cosmology=``: a quoted or bare name, or a balanced ``Name(...)``."""
    match = re.search(r"(?:^|[\s,(])cosmology\s*=\s*", arguments)
    if not match:
        return None
    rest = arguments[match.end():]
    quoted = re.match(r"""(['"])(.*?)\1""", rest)
    if quoted:
        return quoted.group(2)
    call = re.match(r"\w+\(", rest)
    if call:
        depth = 0
        for position, character in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(character, 0)
            if depth == 0 and character == ")":
                return rest[: position + 1]
        return rest
    bare = re.match(r"[\w.]+", rest)
    return bare.group(0) if bare else None


def cosmology_from_description(text: str, *, where: str) -> Cosmology:
    """A :class:`Cosmology` from a name (``"Planck15"``, ``"Planck15_lal"``, ``"Planck18"``,
    any case) or an astropy ``FlatLambdaCDM(name=..., H0=67.74 km / (Mpc s), Om0=0.3075, ...)``
    description (a known ``name`` wins over the rounded numbers of the description).

    Raises:
        ValueError: naming ``where`` when the text is neither.
    """
    text = str(text).strip()
    if text.lower() in _NAMED_COSMOLOGIES:
        return _NAMED_COSMOLOGIES[text.lower()]
    call = _parse_call(text)
    if call is not None:
        kind, arguments = call
        name = re.search(r"""name\s*=\s*(['"])(.*?)\1""", arguments)
        if name and name.group(2).lower() in _NAMED_COSMOLOGIES:
            return _NAMED_COSMOLOGIES[name.group(2).lower()]
        hubble = _number_argument(arguments, "H0")
        matter = _number_argument(arguments, "Om0")
        dark_energy = _number_argument(arguments, "Ode0")
        flat = kind == "FlatLambdaCDM" or (
            kind == "LambdaCDM" and matter is not None and dark_energy is not None
            and abs(matter + dark_energy - 1) < 1e-6
        )
        if flat and hubble is not None and matter is not None:
            return Cosmology(hubble_constant=hubble, matter_density=matter)
    raise ValueError(
        f"{where}: cannot read the cosmology {text!r}; expected one of "
        f"{sorted(_NAMED_COSMOLOGIES)} or a flat Lambda-CDM description with H0 and Om0."
    )


def pe_prior_from_analytic(
    entries: Mapping[str, str], *, where: str, spin: bool = False
) -> PEPrior:
    """The :class:`PEPrior` described by bilby prior strings, as PESummary stores them in
    ``<label>/priors/analytic/<parameter>`` (e.g. ``"UniformSourceFrame(minimum=100,
    maximum=5000, cosmology='Planck15', name='luminosity_distance', ...)"``).

    Args:
        entries: parameter name -> prior string.
        where: the file and group, for messages.
        spin: whether the spin prior is needed (then ``a_1, a_2`` must be ``Uniform``
            from 0 and ``tilt_1, tilt_2`` ``Sine`` on ``[0, pi]``, or ``cos_tilt_i``
            ``Uniform`` on ``[-1, 1]``).

    Raises:
        ValueError: naming ``where`` and the field, for a prior hierax cannot divide out.
    """
    parsed = {}
    for key, text in entries.items():
        call = _parse_call(str(text))
        parsed[key] = call if call is not None else (None, str(text))
    mass = _mass_prior(parsed, where)
    distance, cosmology = _distance_prior(parsed, where)
    spin_max = _spin_prior(parsed, where) if spin else (1.0, 1.0)
    return PEPrior(mass=mass, distance=distance, spin="uniform_isotropic" if spin else None,
                   spin_max=spin_max, cosmology=cosmology)


def _kind(parsed, key):
    return parsed[key][0] if key in parsed else None


def _mass_prior(parsed, where: str) -> str:
    chirp, ratio = _kind(parsed, "chirp_mass"), _kind(parsed, "mass_ratio")
    first, second = _kind(parsed, "mass_1"), _kind(parsed, "mass_2")
    if chirp == "UniformInComponentsChirpMass" and ratio == "UniformInComponentsMassRatio":
        return "flat_detector_components"
    if first == "Uniform" and second == "Uniform":
        return "flat_detector_components"
    if chirp == "Uniform" and ratio == "Uniform":
        return "flat_detector_chirp_mass_mass_ratio"
    found = {key: parsed[key][0] or parsed[key][1]
             for key in ("chirp_mass", "mass_ratio", "mass_1", "mass_2") if key in parsed}
    raise ValueError(
        f"{where}, fields chirp_mass/mass_ratio/mass_1/mass_2: the mass prior "
        f"{found or '(none given)'} is not one hierax can divide out; supported are "
        "UniformInComponentsChirpMass with UniformInComponentsMassRatio, Uniform mass_1 "
        "and mass_2, or Uniform chirp_mass and mass_ratio. Pass the prior explicitly "
        f"(mass: one of {list(MASS_PRIORS)})."
    )


_DISTANCE_KINDS = {
    "UniformSourceFrame": "uniform_comoving_source_time",
    "UniformComovingVolume": "uniform_comoving_volume",
    "Uniform": "uniform_luminosity_distance",
}


def _distance_prior(parsed, where: str) -> tuple[str, Cosmology | None]:
    key = "luminosity_distance" if "luminosity_distance" in parsed else "redshift"
    if key not in parsed:
        raise ValueError(
            f"{where}: no prior for luminosity_distance or redshift; pass the prior "
            f"explicitly (distance: one of {list(DISTANCE_PRIORS)})."
        )
    kind, arguments = parsed[key]
    field = f"{where}, field {key!r}"
    distance = None
    if kind == "PowerLaw" and key == "luminosity_distance":
        if _number_argument(arguments, "alpha") == 2:
            distance = "dl_squared"
    elif kind in _DISTANCE_KINDS and (key == "luminosity_distance" or kind != "Uniform"):
        distance = _DISTANCE_KINDS[kind]
    if distance is None:
        raise ValueError(
            f"{field}: the prior {kind or arguments!r} is not one hierax can divide out; "
            "supported are PowerLaw(alpha=2), UniformSourceFrame, UniformComovingVolume and "
            "Uniform (in luminosity distance). Pass the prior explicitly "
            f"(distance: one of {list(DISTANCE_PRIORS)})."
        )
    described = _cosmology_argument(arguments)
    cosmology = None
    if described is not None and described != "None":
        cosmology = cosmology_from_description(described, where=field)
    return distance, cosmology


def _spin_prior(parsed, where: str) -> tuple[float, float]:
    spin_max = []
    for index in (1, 2):
        key = f"a_{index}"
        kind, arguments = parsed.get(key, (None, "(none given)"))
        low = _number_argument(arguments, "minimum") if kind == "Uniform" else None
        high = _number_argument(arguments, "maximum") if kind == "Uniform" else None
        if low != 0 or high is None or not 0 < high <= 1:
            raise ValueError(
                f"{where}, field {key!r}: the spin-magnitude prior {kind or arguments!r} is "
                "not uniform from 0 to at most 1; pass the prior explicitly."
            )
        spin_max.append(high)
        _check_isotropic(parsed, index, where)
    return tuple(spin_max)


def _check_isotropic(parsed, index: int, where: str) -> None:
    tilt, cosine = f"tilt_{index}", f"cos_tilt_{index}"
    if tilt in parsed:
        kind, arguments = parsed[tilt]
        low, high = _number_argument(arguments, "minimum"), _number_argument(arguments, "maximum")
        if kind == "Sine" and low in (None, 0) and (high is None or abs(high - math.pi) < 1e-9):
            return
        field = tilt
    elif cosine in parsed:
        kind, arguments = parsed[cosine]
        low, high = _number_argument(arguments, "minimum"), _number_argument(arguments, "maximum")
        if kind == "Uniform" and low == -1 and high == 1:
            return
        field = cosine
    else:
        raise ValueError(
            f"{where}: no prior for {tilt} or {cosine}; pass the prior explicitly."
        )
    raise ValueError(
        f"{where}, field {field!r}: the prior {kind or arguments!r} is not isotropic "
        "(Sine on [0, pi] in the tilt, or Uniform on [-1, 1] in its cosine); pass the prior "
        "explicitly."
    )
