"""``PopulationModel``: a rate-weighted mixture of mass components with shared marginals.

    rho(theta | Lambda) = sum_k R_k p_k(theta | Lambda_k),     R_k = exp(log_rate_k)

with ``n_pl`` power-law components (:class:`PowerLawPrimaryMassRatio`) first, then
``n_g`` Gaussian components (:class:`OrderedTruncatedNormalMasses`), ``n_plp``
PowerLaw+Peak components (:class:`PowerLawPeak`; Talbot & Thrane 2018, ApJ 856, 173;
LVK, GWTC-3 populations, PRX 13, 011048, 2023) and ``n_bp2p`` BrokenPowerLaw+2 peaks
components (:class:`BrokenPowerLawTwoPeaks`, GWTC-4.0), each optionally times
spin-magnitude, tilt, effective-spin, eccentricity and redshift factors (GWKokab's
``n_pls_m_gs`` family extended with the LVK model set; hyperparameter names follow
GWKokab so its prior files work unchanged, see
:mod:`hierax.pop.models.hyperparameters`). ``R_k`` is a local rate density in
Gpc^-3 yr^-1. Every factor but the redshift one is a normalised density; with
redshift the factor is ``psi_k(z) dV_C/dz / (1 + z)`` (unnormalised, see
:mod:`hierax.pop.models.redshift`), so ``rho`` is then a rate per unit redshift
(events per year).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from hierax.pop.cosmology import PLANCK15, Cosmology
from hierax.pop.models._numerics import logsumexp_arrays, safe_logsumexp
from hierax.pop.models.hyperparameters import (
    ECCENTRICITY_OPTIONS,
    EFFECTIVE_SPIN_OPTIONS,
    MASS_FAMILIES,
    REDSHIFT_OPTIONS,
    TILT_OPTIONS,
    component_hyperparameter_names,
    eccentricity_distribution,
    effective_spin_distribution,
    mass_distribution,
    redshift_distribution,
    spin_distributions,
    tilt_distribution,
)
from hierax.pop.models.product import ProductDistribution
from hierax.pop.parameters import PRIMARY_MASS, SECONDARY_MASS
from hierax.pop.parameters import parameter_names as _column_names

__all__ = ["PopulationModel", "PreparedRows"]


class PreparedRows(NamedTuple):
    """Rows of ``theta`` with ``Lambda``-independent columns precomputed
    (:meth:`PopulationModel.prepare_rows`).

    Attributes:
        theta: ``(..., d)`` the rows.
        log_masses: ``(..., 2)`` ``log m1, log m2`` (masses floored at the smallest
            positive float).
    """

    theta: Any
    log_masses: Any


def _option(name, value, options):
    """Normalise a ``False | True | str`` option to ``None`` or one of ``options``."""
    if value is False or value is None:
        return None
    if value is True:
        return options[0]
    if isinstance(value, str) and value in options:
        return value
    raise ValueError(f"PopulationModel: {name} must be a bool or one of {options}, got {value!r}.")


@dataclasses.dataclass(frozen=True)
class PopulationModel:
    """Rate density of a mixture of mass components (module docstring).

    Args:
        n_pl, n_g: numbers of power-law and Gaussian components.
        n_plp, n_bp2p: numbers of PowerLaw+Peak and BrokenPowerLaw+2 peaks components
            (at least one component in all).
        spin: model the spin magnitudes ``a_1, a_2`` (Beta from mean and variance).
        tilt: model ``cos_tilt_1, cos_tilt_2`` (isotropic plus a Gaussian):
            ``False``, ``True``/``"aligned"`` (the Gaussian peaks at 1) or
            ``"free_mean"`` (its mean ``cos_tilt_loc`` is a hyperparameter,
            :class:`GaussianTilts`).
        effective_spin: ``False``, ``True``/``"gaussian"`` (``chi_eff``,
            :class:`ChiEffGaussian`), ``"skew_normal"`` (:class:`ChiEffSkewNormal`) or
            ``"gaussian_chi_p"`` (``chi_eff, chi_p``, :class:`EffectiveSpinGaussian`);
            not together with ``spin`` or ``tilt`` (the same spins twice).
        eccentricity: ``False``, ``True``/``"truncated_normal"`` or ``"power_law"``.
        redshift: ``False``, ``True``/``"power_law"`` or ``"madau_dickinson"``.
        smoothing: Planck-taper smoothing of the power laws' low-mass edge
            (adds ``delta_pl_<i>``).
        cosmology: cosmology of the redshift factor.

    The model is immutable and hashable; its methods are pure functions of
    ``theta`` (shape ``(..., d)``, columns :attr:`parameter_names`) and a dict
    ``hyper`` of scalar arrays keyed by :attr:`hyperparameter_names`, usable
    under ``jit``, ``vmap`` and ``grad``.
    """

    n_pl: int = 1
    n_g: int = 0
    n_plp: int = dataclasses.field(default=0, kw_only=True)
    n_bp2p: int = dataclasses.field(default=0, kw_only=True)
    spin: bool = dataclasses.field(default=False, kw_only=True)
    tilt: bool | str | None = dataclasses.field(default=False, kw_only=True)
    effective_spin: bool | str | None = dataclasses.field(default=False, kw_only=True)
    eccentricity: bool | str | None = dataclasses.field(default=False, kw_only=True)
    redshift: bool | str | None = dataclasses.field(default=False, kw_only=True)
    smoothing: bool = dataclasses.field(default=False, kw_only=True)
    cosmology: Cosmology = dataclasses.field(default=PLANCK15, kw_only=True)

    def __post_init__(self):
        for name in self._COUNTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"PopulationModel: {name} must be an int >= 0, got {value!r}.")
        if self.n_components < 1:
            raise ValueError("PopulationModel: need at least one component "
                             "(n_pl + n_g + n_plp + n_bp2p >= 1).")
        for name in ("spin", "smoothing"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"PopulationModel: {name} must be a bool, got {getattr(self, name)!r}."
                )
        if not isinstance(self.cosmology, Cosmology):
            raise TypeError("PopulationModel: cosmology must be a hierax.pop.cosmology.Cosmology.")
        for name, options in (("tilt", TILT_OPTIONS), ("effective_spin", EFFECTIVE_SPIN_OPTIONS),
                              ("eccentricity", ECCENTRICITY_OPTIONS),
                              ("redshift", REDSHIFT_OPTIONS)):
            object.__setattr__(self, name, _option(name, getattr(self, name), options))
        if self.effective_spin is not None and (self.spin or self.tilt is not None):
            raise ValueError("PopulationModel: effective_spin models chi_eff (and chi_p) from "
                             "the same spins as spin/tilt; choose one or the other.")

    _COUNTS = ("n_pl", "n_g", "n_plp", "n_bp2p")  # in the order of MASS_FAMILIES

    # -- names ------------------------------------------------------------------

    @property
    def n_components(self) -> int:
        return sum(getattr(self, name) for name in self._COUNTS)

    @property
    def description(self) -> str:
        """A short human-readable summary, e.g. ``"1 PowerLaw+Peak, spin, tilt (free_mean),
        redshift (power_law)"``."""
        labels = {"n_pl": "power law", "n_g": "Gaussian", "n_plp": "PowerLaw+Peak",
                  "n_bp2p": "BrokenPowerLaw+2 peaks"}
        parts = [f"{getattr(self, n)} {labels[n]}" for n in self._COUNTS if getattr(self, n)]
        if self.spin:
            parts.append("spin magnitudes")
        for name in ("tilt", "effective_spin", "eccentricity", "redshift"):
            if getattr(self, name) is not None:
                parts.append(f"{name.replace('_', ' ')} ({getattr(self, name)})")
        if self.smoothing:
            parts.append("smoothed power-law edges")
        return ", ".join(parts)

    @property
    def is_single_sharp_power_law(self) -> bool:
        """One power law in ``(m1, q)`` over the two masses only (the case
        :mod:`hierax.pop.fused_likelihood` evaluates in one pass)."""
        return (self.n_pl == 1 and self.n_components == 1 and not self.spin
                and self.tilt is None and self.effective_spin is None
                and self.eccentricity is None and self.redshift is None and not self.smoothing)

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """Columns of ``theta`` (see :func:`hierax.pop.parameters.parameter_names`)."""
        return _column_names(
            spin=self.spin,
            tilt=self.tilt is not None,
            eccentricity=self.eccentricity is not None,
            redshift=self.redshift is not None,
            chi_eff=self.effective_spin is not None,
            chi_p=self.effective_spin == "gaussian_chi_p",
        )

    def _components(self):
        """``(family, index within family, global index)`` per component."""
        out = []
        for family, count in zip(MASS_FAMILIES, self._COUNTS, strict=True):
            start = len(out)
            out.extend((family, i, start + i) for i in range(getattr(self, count)))
        return out

    def component_hyperparameters(self, k: int) -> tuple[str, ...]:
        """Names read by component ``k`` (its ``log_rate_k`` first)."""
        family, index, k = self._components()[k]
        return component_hyperparameter_names(
            family,
            index,
            k,
            spin=self.spin,
            tilt=self.tilt,
            eccentricity=self.eccentricity,
            redshift=self.redshift,
            smoothing=self.smoothing,
            effective_spin=self.effective_spin,
        )

    @property
    def hyperparameter_names(self) -> tuple[str, ...]:
        """Every hyperparameter the model reads, component by component."""
        names = []
        for k in range(self.n_components):
            names.extend(self.component_hyperparameters(k))
        return tuple(names)

    def check_hyperparameters(self, hyper) -> None:
        """Raise ``ValueError`` naming missing and unknown hyperparameters."""
        if not isinstance(hyper, dict):
            raise TypeError(
                f"PopulationModel: hyper must be a dict of arrays, got {type(hyper).__name__}."
            )
        expected = self.hyperparameter_names
        missing = [n for n in expected if n not in hyper]
        unknown = sorted(n for n in hyper if n not in set(expected))
        if missing or unknown:
            raise ValueError(
                f"PopulationModel({self.description}): hyperparameters do not "
                f"match; missing: {missing or 'none'}; unknown: {unknown or 'none'}."
            )

    def _require(self, hyper) -> None:
        if not isinstance(hyper, dict):
            raise TypeError(
                f"PopulationModel: hyper must be a dict of arrays, got {type(hyper).__name__}."
            )
        missing = [n for n in self.hyperparameter_names if n not in hyper]
        if missing:
            raise ValueError(
                f"PopulationModel({self.description}): missing hyperparameters "
                f"{missing}."
            )

    def _check_theta(self, theta):
        theta = jnp.asarray(theta)
        d = len(self.parameter_names)
        if theta.ndim < 1 or theta.shape[-1] != d:
            raise ValueError(
                f"PopulationModel: theta must have shape (..., {d}) with columns "
                f"{self.parameter_names}, got shape {theta.shape}."
            )
        return theta

    # -- per-component distributions ------------------------------------------

    def _blocks(self, k, hyper, validate_args=None):
        """``(blocks without redshift, redshift model or None)`` of component ``k``.

        Concrete hyperparameters are checked (``ValueError``) unless ``validate_args``
        is false; traced ones never are.
        """
        family, index, _ = self._components()[k]
        flag = validate_args
        blocks = [mass_distribution(family, index, hyper, smoothing=self.smoothing,
                                    validate_args=flag)]
        if self.spin:
            blocks.extend(spin_distributions(family, index, hyper, flag))
        if self.tilt is not None:
            blocks.append(tilt_distribution(family, index, hyper, self.tilt, flag))
        if self.effective_spin is not None:
            blocks.append(effective_spin_distribution(family, index, hyper,
                                                      self.effective_spin, flag))
        if self.eccentricity is not None:
            blocks.append(eccentricity_distribution(family, index, hyper, self.eccentricity, flag))
        z_model = None
        if self.redshift is not None:
            z_model = redshift_distribution(family, index, hyper, self.redshift, self.cosmology,
                                            flag)
        return blocks, z_model

    def _evaluation_blocks(self, k, hyper):
        """Blocks for density evaluation: arguments checked once, no per-value warnings
        (values outside one component's support are expected in a mixture)."""
        self._blocks(k, hyper)
        return self._blocks(k, hyper, validate_args=False)

    def components(self, hyper) -> list:
        """``p_k`` as distributions with ``event_shape (d,)``.

        With redshift, the last block is the normalised ``p(z)`` on ``[0, z_max]``.
        """
        self._require(hyper)
        out = []
        for k in range(self.n_components):
            blocks, z_model = self._blocks(k, hyper)
            out.append(ProductDistribution(blocks + ([z_model] if z_model is not None else [])))
        return out

    def _log_volumes(self, hyper):
        """``log V_k`` per component (0 without redshift), stacked to shape ``(K,)``."""
        values = []
        for k in range(self.n_components):
            _, z_model = self._blocks(k, hyper)
            values.append(0.0 if z_model is None else z_model.log_volume())
        return jnp.stack(jnp.broadcast_arrays(*values))

    def _log_rates(self, hyper):
        return jnp.stack(
            jnp.broadcast_arrays(
                *[jnp.asarray(hyper[f"log_rate_{k}"]) for k in range(self.n_components)]
            )
        )

    # -- densities and rates ----------------------------------------------------

    def _component_log_density_list(self, theta, hyper, log_masses=None):
        """``[ln R_k + ln p_k(theta)]`` over ``k``, each of shape ``(...)``."""
        self._require(hyper)
        theta = self._check_theta(theta)
        columns = theta.shape[-1] - (self.redshift is not None)
        masses = theta[..., :2]
        out = []
        for k in range(self.n_components):
            (mass, *others), z_model = self._evaluation_blocks(k, hyper)
            if log_masses is None:
                log_p = mass.log_prob(masses)
            else:
                log_p = mass.log_prob_from_logs(masses, log_masses)
            if others:
                product = ProductDistribution(others, validate_args=False)
                log_p = log_p + product.log_prob(theta[..., 2:columns])
            value = jnp.asarray(hyper[f"log_rate_{k}"]) + log_p
            if z_model is not None:
                value = value + z_model.log_rate_factor(theta[..., -1])
            out.append(value)
        return jnp.broadcast_arrays(*out)

    def component_log_densities(self, theta, hyper):
        """``ln R_k + ln p_k(theta)``, shape ``(..., K)``.

        With redshift, ``p_k`` includes the unnormalised factor ``psi_k dV_C/dz / (1 + z)``.
        """
        return jnp.stack(self._component_log_density_list(theta, hyper), axis=-1)

    def prepare_rows(self, theta) -> PreparedRows:
        """``theta`` with the per-row quantities that do not depend on ``Lambda`` (the
        logarithms of the masses) computed once, for repeated :meth:`log_rate_density`
        calls on the same rows. NumPy input gives NumPy float64 output."""
        xp = np if isinstance(theta, np.ndarray) else jnp
        theta = xp.asarray(theta)
        tiny = float(np.finfo(np.float64).tiny) if xp is np else jnp.finfo(theta.dtype).tiny
        return PreparedRows(theta, xp.log(xp.maximum(theta[..., :2], tiny)))

    def unsupported_samples(self, theta) -> list[tuple[str, np.ndarray]]:
        """Rows of ``theta (M, d)`` where ``ln rho`` is ``-inf`` for every hyperparameter value.

        Returns ``(reason, (M,) bool mask)`` pairs. Every mass component (power law or
        ordered Gaussians) needs ``mass_2_source <= mass_1_source``, so a sample with the
        masses the other way round is outside every population of the model.
        """
        theta = np.asarray(theta)
        swapped = theta[:, 1] > theta[:, 0]
        return [(f"{SECONDARY_MASS} > {PRIMARY_MASS} (the population needs "
                 f"{SECONDARY_MASS} <= {PRIMARY_MASS})", swapped)]

    def log_rate_density(self, theta, hyper):
        """``ln rho(theta | Lambda)``, shape ``(...)``; ``-inf`` outside the support.

        ``theta`` is an array ``(..., d)`` or the :class:`PreparedRows` of one. The
        ``K`` component terms are combined elementwise (never stacked into an
        ``(..., K)`` array, which XLA:CPU evaluates several times slower).
        """
        if isinstance(theta, PreparedRows):
            values = self._component_log_density_list(theta.theta, hyper, theta.log_masses)
        else:
            values = self._component_log_density_list(theta, hyper)
        return logsumexp_arrays(values)

    def log_component_fractions(self, hyper):
        """``ln(R_k V_k / sum_j R_j V_j)``, shape ``(K,)``: each component's share of all
        mergers (of the merger rate density, without redshift)."""
        self._require(hyper)
        log_rv = self._log_rates(hyper) + self._log_volumes(hyper)
        return log_rv - safe_logsumexp(log_rv, axis=0)

    def log_merger_rate(self, z, hyper):
        """``ln R(z)``, ``R(z) = sum_k R_k psi_k(z)`` [Gpc^-3 yr^-1] at redshifts ``z``
        (shape ``(...)``); ``sum_k R_k`` everywhere for a population without redshift."""
        self._require(hyper)
        z = jnp.asarray(z)
        terms = []
        for k in range(self.n_components):
            log_rate = jnp.asarray(hyper[f"log_rate_{k}"])
            _, z_model = self._blocks(k, hyper, validate_args=False)
            terms.append(log_rate + (0.0 * z if z_model is None else z_model.log_psi(z)))
        return logsumexp_arrays(jnp.broadcast_arrays(*terms))

    def log_total_rate(self, hyper):
        """``ln sum_k R_k V_k`` (``V_k`` = redshift volume in Gpc^3, 1 without redshift)."""
        self._require(hyper)
        return safe_logsumexp(self._log_rates(hyper) + self._log_volumes(hyper), axis=0)

    def expected_number(self, hyper, time=1.0):
        """``time * sum_k R_k V_k``: expected number of mergers (all, not only detected).

        With redshift, ``time`` is in (detector-frame) years; without, ``sum_k R_k`` is a
        rate density and the result is per Gpc^3.
        """
        return time * jnp.exp(self.log_total_rate(hyper))

    def sample(self, key, hyper, num: int):
        """``(theta, labels)``: ``num`` draws from the normalised mixture.

        Components are picked with probabilities ``R_k V_k / sum_j R_j V_j``;
        ``theta`` has shape ``(num, d)``, ``labels`` (int32) shape ``(num,)``.
        """
        self._require(hyper)
        num = int(num)
        key_labels, key_draws = jax.random.split(key)
        log_weights = self._log_rates(hyper) + self._log_volumes(hyper)
        labels = jax.random.categorical(key_labels, log_weights, shape=(num,)).astype(jnp.int32)
        keys = jax.random.split(key_draws, self.n_components)
        draws = [
            dist.sample(k, (num,)) for dist, k in zip(self.components(hyper), keys, strict=True)
        ]
        dtype = jnp.result_type(*draws)
        stacked = jnp.stack([d.astype(dtype) for d in draws])
        theta = jnp.take_along_axis(stacked, labels[None, :, None], axis=0)[0]
        return theta, labels
