"""Shared machinery of the finite mixtures in :mod:`hierax.distributions.mixtures`.

The union of the components' supports, component densities and cdfs that
stay finite (with finite gradients) outside a component's support, and the
log weights of the categorical mixing distribution.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, ExpandedDistribution
from hierax.distributions.util import broadcast_shape, is_concrete

# ----------------------------------------------------------------------------
# Supports: interval-type constraints as (lower, lower_strict, upper, upper_strict).


def _real_bounds(support):
    """``(lower, lower_strict, upper, upper_strict)`` of an interval-type real support.

    Unbounded sides are ``None``. Returns ``None`` for constraints that are not
    an interval of the real line (vectors, integer sets, unknown types).
    """
    if isinstance(support, type(constraints.real)):
        return None, False, None, False
    if isinstance(support, type(constraints.positive)):
        return 0.0, True, None, False
    if isinstance(support, type(constraints.nonnegative)):
        return 0.0, False, None, False
    if isinstance(support, constraints.greater_than_eq):
        return support.lower_bound, False, None, False
    if isinstance(support, constraints.greater_than):
        return support.lower_bound, True, None, False
    if isinstance(support, constraints.less_than):
        return None, False, support.upper_bound, True
    if isinstance(support, constraints.open_interval):
        return support.lower_bound, True, support.upper_bound, True
    if isinstance(support, constraints.interval):
        return support.lower_bound, False, support.upper_bound, False
    return None


def _is_concretely(bound, number) -> bool:
    return is_concrete(bound) and bool(jnp.all(jnp.asarray(bound) == number))


def _constraint_from_bounds(lower, lower_strict, upper, upper_strict):
    """The interval-type constraint with the given ends (closed unless both are strict)."""
    if lower is None and upper is None:
        return constraints.real
    if upper is None:
        if _is_concretely(lower, 0):
            return constraints.positive if lower_strict else constraints.nonnegative
        if lower_strict:
            return constraints.greater_than(lower)
        return constraints.greater_than_eq(lower)
    if lower is None:
        return constraints.less_than(upper)
    if lower_strict and upper_strict:
        return constraints.open_interval(lower, upper)
    if _is_concretely(lower, 0) and _is_concretely(upper, 1):
        return constraints.unit_interval
    return constraints.interval(lower, upper)


def _hull(bounds_list):
    """Smallest interval-type constraint containing every ``_real_bounds`` tuple."""
    lowers = [b[0] for b in bounds_list]
    uppers = [b[2] for b in bounds_list]
    lower = None if any(v is None for v in lowers) else functools.reduce(jnp.minimum, lowers)
    upper = None if any(v is None for v in uppers) else functools.reduce(jnp.maximum, uppers)
    if lower is not None and all(isinstance(v, (int, float)) for v in lowers):
        lower = min(lowers)
    if upper is not None and all(isinstance(v, (int, float)) for v in uppers):
        upper = max(uppers)
    lower_strict = all(b[1] for b in bounds_list)
    upper_strict = all(b[3] for b in bounds_list)
    return _constraint_from_bounds(lower, lower_strict, upper, upper_strict)


def _union_support(supports):
    """The support of a mixture of components with the given ``supports``.

    Equal supports give that support; interval-type real supports (``real``,
    ``positive``, ``greater_than``, ``interval``, ...) give their hull (so
    ``positive`` and ``greater_than(0)`` give ``positive``); other scalar
    continuous supports give ``real``; ``independent(base, n)`` supports with a
    common ``n`` combine their bases. Raises ``ValueError`` otherwise.
    """
    first = supports[0]
    if all(s == first for s in supports[1:]):
        return first
    if any(s is None or constraints.is_dependent(s) for s in supports):
        return constraints.dependent
    bounds = [_real_bounds(s) for s in supports]
    if all(b is not None for b in bounds):
        return _hull(bounds)
    if all(s.event_dim == 0 and not s.is_discrete for s in supports):
        return constraints.real
    if all(isinstance(s, constraints.independent) for s in supports):
        ndims = {s.reinterpreted_batch_ndims for s in supports}
        if len(ndims) == 1:
            base = _union_support([s.base_constraint for s in supports])
            return constraints.independent(base, ndims.pop())
    raise ValueError(
        "MixtureGeneral: cannot infer a common support for component supports "
        f"{supports!r}; pass `support=` explicitly."
    )


def _reduce_bound(bound, batch_shape, reduce_fn):
    if bound is None or jnp.ndim(bound) == 0:
        return bound
    return reduce_fn(jnp.broadcast_to(bound, batch_shape), axis=-1)


def _support_over_components(support, component_batch_shape):
    """Support of a same-family mixture: per-component interval bounds reduced to their hull."""
    bounds = _real_bounds(support)
    if bounds is None or all(b is None or jnp.ndim(b) == 0 for b in bounds[::2]):
        return support
    lower = _reduce_bound(bounds[0], component_batch_shape, jnp.min)
    upper = _reduce_bound(bounds[2], component_batch_shape, jnp.max)
    return _constraint_from_bounds(lower, bounds[1], upper, bounds[3])


# ----------------------------------------------------------------------------
# Component evaluations that stay finite outside a component's support.


def _inside_support(dist, value):
    """Boolean mask (shape ``value.shape[:-event_dim]``) of values in ``dist.support``."""
    support = dist.support
    inside = support(value)
    extra = dist.event_dim - support.event_dim
    if extra > 0:
        inside = jnp.all(inside, axis=tuple(range(-extra, 0)))
    return inside


def _feasible_value(dist, value):
    """``value`` broadcast against ``dist``'s shape, and a feasible point of that shape.

    Returns ``(value, None)`` when the support offers no feasible point.
    """
    full_shape = broadcast_shape(jnp.shape(value), dist.batch_shape + dist.event_shape)
    value = jnp.broadcast_to(value, full_shape)
    try:
        feasible = dist.support.feasible_like(value)
    except (NotImplementedError, AttributeError, TypeError, ValueError):
        return value, None
    return value, feasible


def _checkable(dist) -> bool:
    support = dist.support
    return support is not None and not constraints.is_dependent(support)


def _masked_log_prob(dist, value):
    """``dist.log_prob(value)``, exactly ``-inf`` outside ``dist.support``.

    Outside the support the component is evaluated at a feasible point and the
    result replaced by ``-inf`` (the double-where idiom), so neither the value
    nor its gradient with respect to the parameters is NaN there.
    """
    if not _checkable(dist):
        log_prob = dist.log_prob(value)
        return jnp.where(jnp.isnan(log_prob), -jnp.inf, log_prob)
    value, feasible = _feasible_value(dist, value)
    inside = _inside_support(dist, value)
    if feasible is None:
        return jnp.where(inside, dist.log_prob(value), -jnp.inf)
    inside_value = jnp.reshape(inside, jnp.shape(inside) + (1,) * dist.event_dim)
    safe_value = jnp.where(inside_value, value, feasible)
    return jnp.where(inside, dist.log_prob(safe_value), -jnp.inf)


def _log_prob_on_support(dist, value):
    """``dist.log_prob(value)`` for values known to lie in ``dist.support``.

    A :class:`~hierax.distributions.TransformedDistribution` skips its own
    support mask (its ``_log_prob_inside``); the caller has already substituted
    a feasible point outside the support and masks the result itself.
    """
    log_prob_inside = getattr(dist, "_log_prob_inside", None)
    return dist.log_prob(value) if log_prob_inside is None else log_prob_inside(value)


def _masked_cdf(dist, value):
    """``dist.cdf(value)``: 0 below and 1 above an interval-type support, never NaN."""
    bounds = _real_bounds(dist.support) if _checkable(dist) else None
    if bounds is None:
        return dist.cdf(value)
    value, feasible = _feasible_value(dist, value)
    inside = _inside_support(dist, value)
    safe_value = value if feasible is None else jnp.where(inside, value, feasible)
    cdf = dist.cdf(safe_value)
    if bounds[0] is not None:
        cdf = jnp.where(value <= bounds[0], 0.0, cdf)
    if bounds[2] is not None:
        cdf = jnp.where(value >= bounds[2], 1.0, cdf)
    return cdf


_UNROLLED_COMPONENTS = 8
"""Up to this many components, log-sum-exp runs elementwise over the components."""


def _logsumexp_terms(terms):
    """Elementwise ``log sum_k exp(terms[k])`` of a list of equally shaped arrays.

    ``-inf`` with zero gradient where every term is ``-inf``. Working on the
    separate terms instead of a stacked ``(..., K)`` array keeps the whole
    computation (and its gradient) elementwise: no reduction over a short
    trailing axis, no stacking and no slicing, which on CPU costs more than
    the component densities themselves for large batches and ``K = 2``.
    """
    peak = functools.reduce(jnp.maximum, terms)
    all_neg_inf = jnp.isneginf(peak)
    shift = jax.lax.stop_gradient(jnp.where(jnp.isfinite(peak), peak, 0.0))
    total = functools.reduce(
        jnp.add, [jnp.exp(jnp.where(all_neg_inf, 0.0, term) - shift) for term in terms])
    return jnp.where(all_neg_inf, -jnp.inf, jnp.log(total) + shift)


def _logsumexp_last(x):
    """``logsumexp`` over the last axis: ``-inf`` with zero gradient when all terms are ``-inf``."""
    size = jnp.shape(x)[-1]
    if 0 < size <= _UNROLLED_COMPONENTS:
        return _logsumexp_terms([x[..., k] for k in range(size)])
    all_neg_inf = jnp.all(jnp.isneginf(x), axis=-1)
    safe_x = jnp.where(all_neg_inf[..., None], 0.0, x)
    return jnp.where(all_neg_inf, -jnp.inf, jax.nn.logsumexp(safe_x, axis=-1))


# ----------------------------------------------------------------------------
# The mixing distribution.


def _safe_log(probs):
    """``log(probs)``: exactly ``-inf`` with a zero gradient where ``probs == 0``."""
    positive = probs > 0
    return jnp.where(positive, jnp.log(jnp.where(positive, probs, 1.0)), -jnp.inf)


def _mixing_logits(mixing):
    """Unnormalised log weights of a categorical ``mixing`` distribution, shape ``batch + (K,)``."""
    base = mixing
    while isinstance(base, ExpandedDistribution):
        base = base.base_dist
    stored = vars(base)
    if stored.get("logits") is not None:
        logits = stored["logits"]
    elif stored.get("probs") is not None:
        logits = _safe_log(jnp.asarray(stored["probs"]))
    else:
        logits = getattr(base, "logits", None)
        if logits is None:
            logits = _safe_log(jnp.asarray(base.probs))
    return jnp.broadcast_to(logits, mixing.batch_shape + jnp.shape(logits)[-1:])


def _check_mixing_distribution(name, mixing):
    if not isinstance(mixing, Distribution):
        raise TypeError(
            f"{name}: mixing_distribution must be a Categorical distribution, got "
            f"{type(mixing).__name__}."
        )
    try:
        logits = _mixing_logits(mixing)
    except AttributeError:
        raise TypeError(
            f"{name}: mixing_distribution must be a Categorical (with `probs` or `logits`), "
            f"got {type(mixing).__name__}."
        ) from None
    if mixing.event_shape != () or jnp.ndim(logits) < 1:
        raise ValueError(
            f"{name}: mixing_distribution must have scalar events and weights of shape "
            f"batch_shape + (K,), got event_shape {mixing.event_shape}."
        )
    return int(jnp.shape(logits)[-1])
