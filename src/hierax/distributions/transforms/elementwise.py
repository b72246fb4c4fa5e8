"""Elementwise (scalar) transforms: affine, exp, sigmoid, softplus, tanh, power."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax.nn import softplus
from jax.scipy.special import logit

from hierax.distributions import constraints
from hierax.distributions.transforms._numerics import (
    _clip_positive,
    _clipped_expit,
    _concrete_sign,
    _finfo,
    _log1m_tanh_sq,
    _shape_of,
    _softplus_inverse,
)
from hierax.distributions.transforms.base import ParameterFreeTransform, Transform
from hierax.distributions.util import broadcast_shape, sum_rightmost

__all__ = [
    "AffineTransform",
    "ExpTransform",
    "PowerTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "TanhTransform",
]


def _one_sign(domain, scale):
    """The sign of ``scale`` (a traced scale counts as positive); mixed signs are an error."""
    sign = _concrete_sign(scale)
    if sign == 0:
        raise ValueError(
            f"AffineTransform: the scale must have one sign on the domain {domain!r} "
            "(mixed signs map it onto no single half-line)."
        )
    return -1 if sign == -1 else 1


def _lower_half_line_image(domain, lower, strict, loc, scale):
    """Image of ``{x > lower}`` (``>=`` unless ``strict``) under ``loc + scale * x``."""
    bound = loc + scale * lower
    if _one_sign(domain, scale) == -1:
        return constraints.less_than(bound)
    if _concrete_sign(bound) is None or np.any(np.asarray(bound) != 0):
        return constraints.greater_than(bound) if strict else constraints.greater_than_eq(bound)
    return constraints.positive if strict else constraints.nonnegative


def _affine_image(domain, loc, scale):
    """The codomain of ``AffineTransform(loc, scale, domain)``.

    A traced scale is taken to be positive for half-line domains (a traced
    interval is ordered with ``minimum``/``maximum`` instead).
    """
    if isinstance(domain, constraints._Independent):
        base = _affine_image(domain.base_constraint, loc, scale)
        if base is domain.base_constraint:
            return domain
        return constraints.independent(base, domain.reinterpreted_batch_ndims)
    if isinstance(domain, constraints._Real):
        return domain
    if isinstance(domain, constraints._Interval):
        a, b = loc + scale * domain.lower_bound, loc + scale * domain.upper_bound
        sign = _concrete_sign(scale)
        if sign != 1:
            a, b = (b, a) if sign == -1 else (jnp.minimum(a, b), jnp.maximum(a, b))
        return type(domain)(a, b)
    if isinstance(domain, (constraints._Positive, constraints._Nonnegative)):
        strict = isinstance(domain, constraints._Positive)
        return _lower_half_line_image(domain, 0.0, strict, loc, scale)
    if isinstance(domain, constraints._GreaterThan):
        strict = not isinstance(domain, constraints._GreaterThanEq)
        return _lower_half_line_image(domain, domain.lower_bound, strict, loc, scale)
    if isinstance(domain, constraints._LessThan):
        bound = loc + scale * domain.upper_bound
        if _one_sign(domain, scale) == -1:
            return constraints.greater_than(bound)
        return constraints.less_than(bound)
    raise NotImplementedError(f"AffineTransform: the image of the domain {domain!r} is unknown.")


class AffineTransform(Transform):
    """``y = loc + scale * x``.

    Args:
        loc, scale: arrays broadcastable against ``x`` (``scale != 0``).
        domain: the set ``x`` lives in; the codomain is its image (e.g.
            ``domain=constraints.positive`` with ``loc=0``, ``scale>0`` gives
            ``positive``). Event dims of the domain are summed in the log-det.
    """

    def __init__(self, loc, scale, domain=constraints.real):
        if not isinstance(domain, constraints.Constraint):
            raise TypeError(
                f"AffineTransform: domain must be a constraint, got {type(domain).__name__}."
            )
        self.loc = loc
        self.scale = scale
        self.domain = domain

    @property
    def codomain(self):
        return _affine_image(self.domain, self.loc, self.scale)

    @property
    def sign(self):
        return jnp.sign(self.scale)

    def __call__(self, x):
        return self.loc + self.scale * x

    def _inverse(self, y):
        return (y - self.loc) / self.scale

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        shape = broadcast_shape(_shape_of(x), _shape_of(self.scale))
        log_scale = jnp.log(jnp.abs(self.scale))
        log_scale = jnp.broadcast_to(log_scale, shape).astype(jnp.result_type(x, log_scale))
        return sum_rightmost(log_scale, self.domain.event_dim)

    def forward_shape(self, shape):
        return broadcast_shape(shape, _shape_of(self.loc), _shape_of(self.scale))

    def inverse_shape(self, shape):
        return self.forward_shape(shape)


def _exp_image(domain):
    if isinstance(domain, constraints._Independent):
        base = _exp_image(domain.base_constraint)
        return constraints.independent(base, domain.reinterpreted_batch_ndims)
    if isinstance(domain, constraints._Real):
        return constraints.positive
    if type(domain) is constraints._OrderedVector:
        return constraints.positive_ordered_vector
    if isinstance(domain, constraints._Interval):
        return type(domain)(jnp.exp(domain.lower_bound), jnp.exp(domain.upper_bound))
    if isinstance(domain, constraints._Positive):
        return constraints.greater_than(1.0)
    if isinstance(domain, constraints._Nonnegative):
        return constraints.greater_than_eq(1.0)
    if isinstance(domain, constraints._GreaterThan):
        return type(domain)(jnp.exp(domain.lower_bound))
    if isinstance(domain, constraints._LessThan):
        return constraints.open_interval(0.0, jnp.exp(domain.upper_bound))
    raise NotImplementedError(f"ExpTransform: the image of the domain {domain!r} is unknown.")


class ExpTransform(Transform):
    """``y = exp(x)``, clipped below at the smallest normal float so ``y > 0``.

    Args:
        domain: the set ``x`` lives in (``real`` gives codomain ``positive``).
    """

    sign = 1

    def __init__(self, domain=constraints.real):
        self.domain = domain

    @property
    def codomain(self):
        return _exp_image(self.domain)

    def __call__(self, x):
        return _clip_positive(jnp.exp(x))

    def _inverse(self, y):
        return jnp.log(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return sum_rightmost(x, self.domain.event_dim)


class SigmoidTransform(ParameterFreeTransform):
    """``y = 1 / (1 + exp(-x))``, clipped into the open unit interval."""

    codomain = constraints.unit_interval
    sign = 1

    def __call__(self, x):
        return _clipped_expit(x)

    def _inverse(self, y):
        info = _finfo(y)
        return logit(jnp.clip(y, info.tiny, 1.0 - info.eps))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return -softplus(x) - softplus(-x)


class SoftplusTransform(ParameterFreeTransform):
    """``y = log(1 + exp(x))`` onto the positive half-line."""

    codomain = constraints.positive
    sign = 1

    def __call__(self, x):
        return _clip_positive(softplus(x))

    def _inverse(self, y):
        return _softplus_inverse(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return -softplus(-x)


class TanhTransform(ParameterFreeTransform):
    """``y = tanh(x)``, clipped into the open interval ``(-1, 1)``."""

    codomain = constraints.open_interval(-1.0, 1.0)
    sign = 1

    def __call__(self, x):
        bound = 1.0 - _finfo(x).eps
        return jnp.clip(jnp.tanh(x), -bound, bound)

    def _inverse(self, y):
        bound = 1.0 - _finfo(y).eps
        return jnp.arctanh(jnp.clip(y, -bound, bound))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return _log1m_tanh_sq(x)


class PowerTransform(Transform):
    """``y = x ** exponent`` on the positive half-line (``exponent != 0``)."""

    domain = constraints.positive
    codomain = constraints.positive

    def __init__(self, exponent):
        self.exponent = exponent

    @property
    def sign(self):
        return jnp.sign(self.exponent)

    def __call__(self, x):
        return jnp.power(x, self.exponent)

    def _inverse(self, y):
        return jnp.power(y, 1.0 / self.exponent)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        # d/dx x^p = p x^(p-1) = p y / x
        return jnp.log(jnp.abs(self.exponent)) + jnp.log(y) - jnp.log(x)

    def forward_shape(self, shape):
        return broadcast_shape(shape, _shape_of(self.exponent))

    def inverse_shape(self, shape):
        return self.forward_shape(shape)
