"""Distributions of transformed random variables.

If ``x ~ base`` and ``y = t(x)`` for a bijection ``t``, the change of
variables formula gives ``log p(y) = log p_base(t^{-1}(y)) - log |det dt/dx|``.
:class:`TransformedDistribution` applies it to a chain of transforms, e.g.
``TransformedDistribution(Normal(m, s), ExpTransform())`` is a log-normal.
"""

from __future__ import annotations

import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.transforms import ComposeTransform, Transform
from hierax.distributions.util import broadcast_shape, sum_rightmost

__all__ = ["TransformedDistribution"]


def _as_transform_list(transforms):
    if isinstance(transforms, Transform):
        return [transforms]
    if isinstance(transforms, (list, tuple)):
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(
                    "TransformedDistribution: transforms must be Transform objects, got "
                    f"{type(t).__name__}."
                )
        if not transforms:
            raise ValueError("TransformedDistribution: the list of transforms is empty.")
        return list(transforms)
    raise TypeError(
        "TransformedDistribution: transforms must be a Transform or a list of them, got "
        f"{type(transforms).__name__}."
    )


def _align_base(base_dist, transforms):
    """Expand/reinterpret ``base_dist`` to fit the chain; return it with batch and event shapes.

    The base is expanded when a transform's parameters broadcast its shape
    (``AffineTransform(loc of shape (8,), ...)`` on a scalar base), and its
    batch dims are reinterpreted as event dims when the chain's domain has
    more event dims than the base (a vector transform on a scalar family).
    """
    chain = ComposeTransform(transforms)
    domain_event_dim = chain.domain.event_dim
    base_shape = base_dist.shape()
    base_event_dim = len(base_dist.event_shape)
    if len(base_shape) < domain_event_dim:
        raise ValueError(
            f"TransformedDistribution: the transforms need at least {domain_event_dim} dims, "
            f"but {type(base_dist).__name__} has shape {base_shape}."
        )
    try:
        shape = chain.forward_shape(base_shape)
        expanded_shape = chain.inverse_shape(shape)
    except ValueError as err:
        raise ValueError(
            f"TransformedDistribution: the transforms do not fit the base "
            f"{type(base_dist).__name__} of shape {base_shape}: {err}"
        ) from err
    if expanded_shape != base_shape:
        cut = len(expanded_shape) - base_event_dim
        base_dist = base_dist.expand(expanded_shape[:cut])
    if domain_event_dim > base_event_dim:
        base_dist = base_dist.to_event(domain_event_dim - base_event_dim)
    event_dim = chain.codomain.event_dim + max(base_event_dim - domain_event_dim, 0)
    cut = len(shape) - event_dim
    return base_dist, shape[:cut], shape[cut:]


class TransformedDistribution(Distribution):
    """The distribution of ``transforms[-1](... transforms[0](x))`` for ``x ~ base_distribution``.

    Args:
        base_distribution: the distribution of ``x``. A
            ``TransformedDistribution`` base is flattened (its transforms come first).
        transforms: a :class:`~hierax.distributions.transforms.Transform` or a
            list of them, applied first to last.

    Shapes: ``event_shape`` follows the transforms' ``forward_shape`` and
    event dims; the base is expanded if transform parameters broadcast it,
    e.g. ``TransformedDistribution(Normal(0., 1.), AffineTransform(mu, tau))``
    with ``mu``, ``tau`` of shape ``(8,)`` has ``batch_shape == (8,)``.
    ``support`` is the codomain of the last transform.
    """

    arg_constraints = {}

    def __init__(self, base_distribution, transforms, *, validate_args=None):
        if not isinstance(base_distribution, Distribution):
            raise TypeError(
                "TransformedDistribution: base_distribution must be a Distribution, got "
                f"{type(base_distribution).__name__}."
            )
        transforms = _as_transform_list(transforms)
        if isinstance(base_distribution, TransformedDistribution):
            transforms = base_distribution.transforms + transforms
            base_distribution = base_distribution.base_dist
        base_dist, batch_shape, event_shape = _align_base(base_distribution, transforms)
        self.base_dist = base_dist
        self.transforms = transforms
        super().__init__(batch_shape, event_shape, validate_args=validate_args)

    @property
    def support(self):
        codomain = self.transforms[-1].codomain
        extra = len(self.event_shape) - codomain.event_dim
        return constraints.independent(codomain, extra) if extra > 0 else codomain

    @property
    def has_rsample(self):
        return self.base_dist.has_rsample

    @property
    def reparametrized_params(self):
        return self.base_dist.reparametrized_params

    # -- sampling -------------------------------------------------------------

    def sample(self, key, sample_shape=()):
        x = self.base_dist.sample(key, sample_shape)
        for transform in self.transforms:
            x = transform(x)
        return x

    def rsample(self, key, sample_shape=()):
        """A reparametrised draw (differentiable in the parameters if the base's is)."""
        if not self.has_rsample:
            raise NotImplementedError(
                f"TransformedDistribution: the base {type(self.base_dist).__name__} has no "
                "reparametrised sampler."
            )
        return self.sample(key, sample_shape)

    def sample_with_intermediates(self, key, sample_shape=()):
        """``(y, [[x_i, intermediates_i], ...])``, ``x_i`` the input of transform ``i``."""
        x = self.base_dist.sample(key, sample_shape)
        intermediates = []
        for transform in self.transforms:
            y, inter = transform.call_with_intermediates(x)
            intermediates.append([x, inter])
            x = y
        return x, intermediates

    # -- densities --------------------------------------------------------------

    @validate_sample
    def log_prob(self, value, intermediates=None):
        """``base.log_prob(x) - sum log|det J|`` with ``x`` the preimage of ``value``.

        Scalar supports other than the real line give ``-inf`` outside the
        support, with finite gradients. Returns shape ``sample_shape + batch_shape``.
        """
        if intermediates is not None or not self._masks_outside_support():
            return self._log_prob_inside(value, intermediates)
        support = self.support
        value = jnp.broadcast_to(value, broadcast_shape(jnp.shape(value), self.shape()))
        inside = support(value)
        mask = jnp.reshape(inside, jnp.shape(inside) + (1,) * len(self.event_shape))
        safe_value = jnp.where(mask, value, support.feasible_like(value))
        return jnp.where(inside, self._log_prob_inside(safe_value), -jnp.inf)

    def _masks_outside_support(self):
        codomain = self.transforms[-1].codomain
        return codomain.event_dim == 0 and not isinstance(
            codomain, constraints._Real | constraints._Dependent
        )

    def _log_prob_inside(self, value, intermediates=None):
        event_dim = len(self.event_shape)
        log_prob = 0.0
        y = value
        for i in reversed(range(len(self.transforms))):
            transform = self.transforms[i]
            if intermediates is None:
                x, inter = transform._inverse(y), None
            else:
                x, inter = intermediates[i]
            extra = event_dim - transform.codomain.event_dim
            log_det = transform.log_abs_det_jacobian(x, y, intermediates=inter)
            log_prob = log_prob - sum_rightmost(log_det, extra)
            event_dim = transform.domain.event_dim + extra
            y = x
        base_log_prob = self.base_dist.log_prob(y)
        return log_prob + sum_rightmost(base_log_prob, event_dim - len(self.base_dist.event_shape))

    # -- moments and distribution functions -----------------------------------

    @property
    def mean(self):
        raise NotImplementedError("TransformedDistribution has no closed-form mean.")

    @property
    def variance(self):
        raise NotImplementedError("TransformedDistribution has no closed-form variance.")

    def _monotone_sign(self, method):
        """The product of the transforms' signs; only scalar monotone chains qualify."""
        if self.event_shape or any(t.codomain.event_dim for t in self.transforms):
            raise NotImplementedError(
                f"TransformedDistribution.{method} needs scalar events and elementwise "
                f"transforms; event_shape is {self.event_shape}."
            )
        sign = 1
        for transform in self.transforms:
            sign = sign * transform.sign
        return sign

    def cdf(self, value):
        """``P(Y <= value)``: the base cdf at the preimage, flipped for decreasing chains."""
        sign = self._monotone_sign("cdf")
        for transform in reversed(self.transforms):
            value = transform._inverse(value)
        q = self.base_dist.cdf(value)
        return jnp.where(sign < 0, 1.0 - q, q)

    def icdf(self, q):
        """The ``q``-quantile: the base quantile pushed through the chain."""
        sign = self._monotone_sign("icdf")
        x = self.base_dist.icdf(jnp.where(sign < 0, 1.0 - q, q))
        for transform in self.transforms:
            x = transform(x)
        return x
