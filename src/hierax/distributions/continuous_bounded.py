"""Continuous families on bounded supports: :class:`Beta` and :class:`VonMises`.

``log_prob`` is ``-inf`` outside the support, with finite gradients there.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax import lax
from jax.scipy.special import betainc, betaln, digamma, i0e, i1e, xlog1py, xlogy

from hierax.distributions import constraints
from hierax.distributions.continuous_base import UnivariateContinuous, log_density_where
from hierax.distributions.distribution import validate_sample

__all__ = ["Beta", "VonMises"]


class Beta(UnivariateContinuous):
    """Beta distribution on ``[0, 1]``: density ``x**(a - 1) (1 - x)**(b - 1) / B(a, b)``.

    Draws use ``jax.random.beta`` (a ratio of gamma variables, reparametrized by
    implicit differentiation); the cdf is the regularized incomplete beta function.

    Args:
        concentration1: ``a``, the exponent of ``x``; positive.
        concentration0: ``b``, the exponent of ``1 - x``; positive.
    """

    arg_constraints = {
        "concentration1": constraints.positive,
        "concentration0": constraints.positive,
    }
    support = constraints.unit_interval
    reparametrized_params = ["concentration1", "concentration0"]

    def __init__(self, concentration1, concentration0, *, validate_args=None):
        self._init_params(
            validate_args, concentration1=concentration1, concentration0=concentration0
        )

    def sample(self, key, sample_shape=()):
        shape = self._draw_shape(sample_shape)
        a = jnp.broadcast_to(self.concentration1, shape).astype(self._dtype)
        b = jnp.broadcast_to(self.concentration0, shape).astype(self._dtype)
        return jax.random.beta(key, a, b, shape, self._dtype)

    @validate_sample
    def log_prob(self, value):
        a, b = self.concentration1, self.concentration0

        def log_density(x):
            return xlogy(a - 1, x) + xlog1py(b - 1, -x) - betaln(a, b)

        inside = (value >= 0) & (value <= 1)
        return log_density_where(inside, log_density, value, 0.5)

    def cdf(self, value):
        return betainc(self.concentration1, self.concentration0, jnp.clip(value, 0, 1))

    @property
    def mean(self):
        a, b = self.concentration1, self.concentration0
        return self._broadcast(a / (a + b))

    @property
    def variance(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        return self._broadcast(a * b / (total**2 * (total + 1)))

    def entropy(self):
        a, b = self.concentration1, self.concentration0
        total = a + b
        entropy = (
            betaln(a, b)
            - (a - 1) * digamma(a)
            - (b - 1) * digamma(b)
            + (total - 2) * digamma(total)
        )
        return self._broadcast(entropy)


def _best_fisher_envelope(kappa):
    """``(r - 1, kappa)`` of the wrapped-Cauchy envelope of Best & Fisher (1979).

    With ``tau = 1 + sqrt(1 + 4 kappa**2)``, ``rho = (tau - sqrt(2 tau)) / (2 kappa)``
    and ``r = (1 + rho**2) / (2 rho)``. Both ``rho = 2 kappa / (tau + sqrt(2 tau))``
    and ``1 - rho`` are rewritten without cancellation, so ``r - 1 = (1 - rho)**2 /
    (2 rho)`` is accurate for tiny and for huge concentrations alike.
    """
    root = jnp.sqrt(1 + 4 * kappa * kappa)
    tau = 1 + root
    sqrt_two_tau = jnp.sqrt(2 * tau)
    denominator = tau + sqrt_two_tau
    rho = 2 * kappa / denominator
    # tau + sqrt(2 tau) - 2 kappa = 1 + (root - 2 kappa) + sqrt(2 tau), all terms positive.
    one_minus_rho = (1 + 1 / (root + 2 * kappa) + sqrt_two_tau) / denominator
    return one_minus_rho**2 / (2 * rho)


def _von_mises_centered(key, concentration, shape, dtype):
    """Draws from VonMises(0, concentration) by rejection (Best & Fisher 1979).

    D. J. Best and N. I. Fisher, "Efficient simulation of the von Mises
    distribution", Applied Statistics 28(2), 152-157 (1979). The proposal is a
    wrapped Cauchy; candidates are drawn for every entry until each one is
    accepted, inside a ``lax.while_loop`` (so this works under ``jit`` and
    ``vmap``). ``cos(theta) = f`` is carried as ``1 - f``, which keeps the
    angle accurate in float32 when the concentration is large.

    Returns:
        array of ``shape`` and ``dtype`` in ``[-pi, pi]``.
    """
    # The draw is not reparametrized in the concentration (and reverse-mode
    # differentiation cannot pass through the loop), so no gradient flows there.
    kappa = jnp.broadcast_to(lax.stop_gradient(concentration), shape).astype(dtype)
    kappa = jnp.maximum(kappa, jnp.finfo(dtype).eps)
    r_minus_one = _best_fisher_envelope(kappa)

    def propose(key):
        u1, u2, u3 = jax.random.uniform(key, (3,) + tuple(shape), dtype)
        half_angle = 0.5 * math.pi * u1
        one_minus_z = 2 * jnp.sin(half_angle) ** 2  # 1 - cos(pi u1)
        r_plus_z = r_minus_one + 2 * jnp.cos(half_angle) ** 2  # r + cos(pi u1)
        one_minus_f = jnp.clip(r_minus_one * one_minus_z / r_plus_z, 0, 2)
        c = kappa * (r_minus_one + one_minus_f)
        accept = (c * (2 - c) - u2 > 0) | (jnp.log(c / u2) + 1 - c >= 0)
        angle = 2 * jnp.arcsin(jnp.sqrt(0.5 * one_minus_f))
        return jnp.where(u3 < 0.5, -angle, angle), accept

    def not_finished(state):
        return ~jnp.all(state[2])

    def step(state):
        key, theta, done = state
        key, subkey = jax.random.split(key)
        candidate, accept = propose(subkey)
        theta = jnp.where(done, theta, candidate)
        return key, theta, done | accept

    initial = (key, jnp.zeros(shape, dtype), jnp.zeros(shape, bool))
    return lax.while_loop(not_finished, step, initial)[1]


class VonMises(UnivariateContinuous):
    """Von Mises (circular normal) distribution on ``[-pi, pi]``.

    Density ``exp(kappa cos(x - loc)) / (2 pi I0(kappa))``; the normaliser is
    computed as ``log I0e(kappa) + kappa`` to avoid overflow. ``variance`` is the
    circular variance ``1 - I1(kappa) / I0(kappa)``. Draws use the rejection
    sampler of Best & Fisher (1979), shifted by ``loc`` and wrapped to
    ``[-pi, pi)``, so only ``loc`` is reparametrized.

    Args:
        loc: mean direction, real (any value; draws are wrapped).
        concentration: ``kappa``, positive.
    """

    arg_constraints = {"loc": constraints.real, "concentration": constraints.positive}
    support = constraints.interval(-math.pi, math.pi)
    reparametrized_params = ["loc"]

    def __init__(self, loc, concentration, *, validate_args=None):
        self._init_params(validate_args, loc=loc, concentration=concentration)

    def sample(self, key, sample_shape=()):
        shape = self._draw_shape(sample_shape)
        centered = _von_mises_centered(key, self.concentration, shape, self._dtype)
        return jnp.remainder(centered + self.loc + math.pi, 2 * math.pi) - math.pi

    @validate_sample
    def log_prob(self, value):
        kappa = self.concentration

        def log_density(x):
            log_normalizer = math.log(2 * math.pi) + jnp.log(i0e(kappa)) + kappa
            return kappa * jnp.cos(x - self.loc) - log_normalizer

        inside = (value >= -math.pi) & (value <= math.pi)
        return log_density_where(inside, log_density, value, 0.0)

    @property
    def mean(self):
        return self._broadcast(self.loc)

    @property
    def variance(self):
        kappa = self.concentration
        return self._broadcast(1 - i1e(kappa) / i0e(kappa))

    def entropy(self):
        kappa = self.concentration
        ratio = i1e(kappa) / i0e(kappa)
        return self._broadcast(math.log(2 * math.pi) + jnp.log(i0e(kappa)) + kappa * (1 - ratio))
