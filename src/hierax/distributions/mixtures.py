"""Finite mixtures: :class:`MixtureSameFamily` and :class:`MixtureGeneral`.

A finite mixture with weights ``w_k`` (a categorical "mixing" distribution)
and components ``p_k`` has density ``p(x) = sum_k w_k p_k(x)``; ``log_prob``
is the log-sum-exp of ``log w_k + log p_k(x)`` over the ``K`` components
(McLachlan & Peel, *Finite Mixture Models*, 2000, ch. 1). Moments follow from
the laws of total expectation and total variance.

``Mixture`` is both the common base class (``isinstance(d, Mixture)``) and a
factory: ``Mixture(mixing, component)`` builds a :class:`MixtureSameFamily`
when ``component`` is a single batched distribution and a
:class:`MixtureGeneral` when it is a list.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from hierax.distributions import constraints
from hierax.distributions.distribution import Distribution, validate_sample
from hierax.distributions.mixture_base import (
    _check_mixing_distribution,
    _checkable,
    _feasible_value,
    _inside_support,
    _log_prob_on_support,
    _logsumexp_last,
    _logsumexp_terms,
    _masked_cdf,
    _masked_log_prob,
    _mixing_logits,
    _support_over_components,
    _union_support,
)
from hierax.distributions.util import broadcast_shape

__all__ = ["Mixture", "MixtureGeneral", "MixtureSameFamily"]


# ----------------------------------------------------------------------------
# The shared base class (also the factory).


class Mixture(Distribution):
    """Finite mixture of ``K`` components; base class of the two mixture types.

    Calling ``Mixture(mixing_distribution, component_distributions)`` builds a
    :class:`MixtureSameFamily` when ``component_distributions`` is a single
    distribution (whose rightmost batch dim indexes the components) and a
    :class:`MixtureGeneral` when it is a list of distributions.

    Subclasses provide ``component_log_probs``, ``component_sample``,
    ``component_mean``, ``component_variance`` and ``component_cdf``; this class
    derives ``log_prob``, ``sample``, ``mean``, ``variance`` and ``cdf``.
    """

    arg_constraints = {}
    pytree_aux_fields = ("_mixture_size",)

    def __new__(cls, *args, **kwargs):
        if cls is Mixture:  # the factory form: pick the concrete mixture type
            components = args[1] if len(args) > 1 else kwargs.get("component_distributions")
            single = isinstance(components, Distribution)
            cls = MixtureSameFamily if single else MixtureGeneral
        return super().__new__(cls)

    def _init_mixture(self, mixing_distribution, mixture_size, batch_shape, event_shape,
                      validate_args):
        self._mixing_distribution = mixing_distribution
        self._mixture_size = mixture_size
        Distribution.__init__(self, batch_shape, event_shape, validate_args=validate_args)

    @property
    def mixture_size(self) -> int:
        """The number of components ``K``."""
        return self._mixture_size

    @property
    def mixing_distribution(self):
        """The categorical distribution over the component index."""
        return self._mixing_distribution

    @property
    def mixture_dim(self) -> int:
        """Axis of the component index in ``component_*`` results (``-event_dim - 1``)."""
        return -self.event_dim - 1

    @property
    def has_rsample(self) -> bool:
        return False

    def mixing_log_weights(self):
        """Normalised log weights ``log w_k``, shape ``mixing.batch_shape + (K,)``."""
        return jax.nn.log_softmax(_mixing_logits(self._mixing_distribution), axis=-1)

    def _weights_for_events(self):
        weights = jnp.exp(self.mixing_log_weights())
        return jnp.reshape(weights, jnp.shape(weights) + (1,) * self.event_dim)

    @property
    def mean(self):
        """``sum_k w_k mean_k``, shape ``batch_shape + event_shape``."""
        weighted = self._weights_for_events() * self.component_mean
        return jnp.sum(weighted, axis=self.mixture_dim)

    @property
    def variance(self):
        """Law of total variance: ``sum_k w_k (var_k + (mean_k - mean)^2)``."""
        weights = self._weights_for_events()
        deviation = self.component_mean - jnp.expand_dims(self.mean, self.mixture_dim)
        total = weights * (self.component_variance + deviation**2)
        return jnp.sum(total, axis=self.mixture_dim)

    def cdf(self, value):
        """``sum_k w_k F_k(value)`` (scalar events only), shape ``sample_shape + batch_shape``."""
        if self.event_dim != 0:
            raise NotImplementedError(f"{type(self).__name__}.cdf needs scalar events.")
        weights = jnp.exp(self.mixing_log_weights())
        return jnp.sum(weights * self.component_cdf(value), axis=-1)

    def sample_with_intermediates(self, key, sample_shape=()):
        """``(draws, [component_index])``; the index has shape ``sample_shape + batch_shape``."""
        sample_shape = tuple(sample_shape)
        key_components, key_index = jax.random.split(key)
        draws = self.component_sample(key_components, sample_shape)
        index = jax.random.categorical(
            key_index, self.mixing_log_weights(), axis=-1, shape=sample_shape + self.batch_shape
        )
        gather_index = jnp.reshape(index, jnp.shape(index) + (1,) * (self.event_dim + 1))
        chosen = jnp.take_along_axis(draws, gather_index, axis=self.mixture_dim)
        return jnp.squeeze(chosen, axis=self.mixture_dim), [index]

    def sample(self, key, sample_shape=()):
        return self.sample_with_intermediates(key, sample_shape)[0]

    @validate_sample
    def log_prob(self, value, intermediates=None):
        """``log sum_k w_k p_k(value)``, shape ``sample_shape + batch_shape``."""
        del intermediates
        return _logsumexp_last(self.component_log_probs(value))

    def component_log_probs(self, value):
        """``log w_k + log p_k(value)``, shape ``sample_shape + batch_shape + (K,)``."""
        raise NotImplementedError

    def component_sample(self, key, sample_shape=()):
        """One draw from every component: ``sample_shape + batch_shape + (K,) + event_shape``."""
        raise NotImplementedError

    def component_cdf(self, value):
        raise NotImplementedError

    @property
    def component_mean(self):
        raise NotImplementedError

    @property
    def component_variance(self):
        raise NotImplementedError


class MixtureSameFamily(Mixture):
    """Mixture whose components are the rightmost batch dim of one distribution.

    Args:
        mixing_distribution: ``Categorical`` with ``K`` categories and a batch
            shape broadcastable with ``component_distribution.batch_shape[:-1]``.
        component_distribution: distribution with ``batch_shape[-1] == K``.

    The mixture has ``batch_shape = broadcast(mixing.batch_shape,
    component.batch_shape[:-1])`` and the component's event shape. Components
    with per-component bounded supports (e.g. ``Uniform(lows, highs)``) get
    ``-inf`` (not NaN) outside their own support, and the mixture's support is
    the hull of the component supports.
    """

    def __init__(self, mixing_distribution, component_distribution, *, validate_args=None):
        name = "MixtureSameFamily"
        size = _check_mixing_distribution(name, mixing_distribution)
        if not isinstance(component_distribution, Distribution):
            raise TypeError(
                f"{name}: component_distribution must be a Distribution, got "
                f"{type(component_distribution).__name__}."
            )
        component_batch = component_distribution.batch_shape
        if not component_batch or component_batch[-1] != size:
            raise ValueError(
                f"{name}: the rightmost batch dim of component_distribution (batch_shape "
                f"{component_batch}) must equal the number of mixing categories {size}."
            )
        try:
            batch_shape = broadcast_shape(mixing_distribution.batch_shape, component_batch[:-1])
        except ValueError:
            raise ValueError(
                f"{name}: mixing batch_shape {mixing_distribution.batch_shape} does not "
                f"broadcast with component batch_shape {component_batch[:-1]} (+ ({size},))."
            ) from None
        self._component_distribution = component_distribution
        self._init_mixture(mixing_distribution, size, batch_shape,
                           component_distribution.event_shape, validate_args)

    @property
    def component_distribution(self):
        """The batched distribution whose rightmost batch dim indexes the components."""
        return self._component_distribution

    @constraints.dependent_property
    def support(self):
        component = self._component_distribution
        return _support_over_components(component.support, component.batch_shape)

    @property
    def is_discrete(self):
        return self._component_distribution.is_discrete

    @property
    def component_mean(self):
        shape = self.batch_shape + (self.mixture_size,) + self.event_shape
        return jnp.broadcast_to(self._component_distribution.mean, shape)

    @property
    def component_variance(self):
        shape = self.batch_shape + (self.mixture_size,) + self.event_shape
        return jnp.broadcast_to(self._component_distribution.variance, shape)

    def component_sample(self, key, sample_shape=()):
        full_batch = tuple(sample_shape) + self.batch_shape + (self.mixture_size,)
        return self._component_distribution.expand(full_batch).sample(key)

    def component_log_probs(self, value):
        value = jnp.expand_dims(jnp.asarray(value), self.mixture_dim)
        log_probs = _masked_log_prob(self._component_distribution, value)
        return self.mixing_log_weights() + log_probs

    def component_cdf(self, value):
        value = jnp.expand_dims(jnp.asarray(value), -1)
        return _masked_cdf(self._component_distribution, value)


class MixtureGeneral(Mixture):
    """Mixture of a list of distributions, possibly of different families and supports.

    Args:
        mixing_distribution: ``Categorical`` with ``K = len(component_distributions)``
            categories; its batch shape broadcasts with the components'.
        component_distributions: list of ``K`` distributions with equal event
            shapes and mutually broadcastable batch shapes.
        support: the mixture's support; when given it is used as is, and when
            omitted it is inferred from the components (below).

    Unlike NumPyro, components may have different supports. Each component's
    log density is ``-inf`` (with finite gradients) outside its own support, and
    the inferred support is: the common support if all are equal; the hull of
    interval-type real supports (``positive`` for ``positive`` and
    ``greater_than(0)`` components, ``real`` for ``real`` and ``positive``);
    ``real`` for other scalar continuous supports. ``batch_shape`` is the
    broadcast of the mixing and component batch shapes, so scalar mixing
    weights combine with components of batch shape ``(N,)``.
    """

    def __init__(self, mixing_distribution, component_distributions, *, support=None,
                 validate_args=None):
        name = "MixtureGeneral"
        size = _check_mixing_distribution(name, mixing_distribution)
        if isinstance(component_distributions, Distribution) or not isinstance(
            component_distributions, (list, tuple)
        ):
            raise TypeError(
                f"{name}: component_distributions must be a list of Distributions, got "
                f"{type(component_distributions).__name__}."
            )
        components = list(component_distributions)
        self._check_components(name, components, size)
        if support is not None and not isinstance(support, constraints.Constraint):
            raise TypeError(f"{name}: support must be a Constraint, got {support!r}.")
        try:
            batch_shape = broadcast_shape(
                mixing_distribution.batch_shape, *(d.batch_shape for d in components)
            )
        except ValueError:
            shapes = [mixing_distribution.batch_shape] + [d.batch_shape for d in components]
            raise ValueError(
                f"{name}: mixing and component batch shapes {shapes} do not broadcast."
            ) from None
        self._component_distributions = components
        self._support = support if support is not None else _union_support(
            [d.support for d in components]
        )
        self._init_mixture(mixing_distribution, size, batch_shape,
                           components[0].event_shape, validate_args)

    @staticmethod
    def _check_components(name, components, size):
        for index, d in enumerate(components):
            if not isinstance(d, Distribution):
                raise TypeError(
                    f"{name}: component_distributions[{index}] must be a Distribution, got "
                    f"{type(d).__name__}."
                )
        if len(components) != size:
            raise ValueError(
                f"{name}: got {len(components)} component_distributions but the mixing "
                f"distribution has {size} categories."
            )
        event_shapes = [d.event_shape for d in components]
        if any(shape != event_shapes[0] for shape in event_shapes):
            raise ValueError(
                f"{name}: component_distributions must share one event_shape, got {event_shapes}."
            )

    @property
    def component_distributions(self):
        """The list of ``K`` component distributions."""
        return self._component_distributions

    @constraints.dependent_property
    def support(self):
        return self._support

    @property
    def is_discrete(self):
        return all(d.is_discrete for d in self._component_distributions)

    @staticmethod
    def _stack(values):
        """Broadcast per-component arrays together and stack them on a new last axis."""
        shape = broadcast_shape(*(jnp.shape(v) for v in values))
        return jnp.stack([jnp.broadcast_to(v, shape) for v in values], axis=-1)

    def _stack_event(self, values):
        shape = self.batch_shape + self.event_shape
        return jnp.stack([jnp.broadcast_to(v, shape) for v in values], axis=self.mixture_dim)

    @property
    def component_mean(self):
        return self._stack_event([d.mean for d in self._component_distributions])

    @property
    def component_variance(self):
        return self._stack_event([d.variance for d in self._component_distributions])

    def component_sample(self, key, sample_shape=()):
        full_batch = tuple(sample_shape) + self.batch_shape
        keys = jax.random.split(key, self.mixture_size)
        draws = [
            d.expand(full_batch).sample(k)
            for k, d in zip(keys, self._component_distributions, strict=True)
        ]
        return jnp.stack(draws, axis=self.mixture_dim)

    def _component_log_densities(self, value, mask_shared=True):
        """``([log p_k(value)], inside)``: each ``-inf`` outside component ``k``'s support.

        Components whose support is the mixture's share one support check and one
        feasible substitute (and skip their own support masks); the others are
        masked one by one. With ``mask_shared=False`` the shared components are
        left unmasked and the caller applies ``inside`` (the mixture-support mask,
        or None) once.
        """
        components = self._component_distributions
        shared = [_checkable(d) and d.support == self._support for d in components]
        if not any(shared):
            return [_masked_log_prob(d, value) for d in components], None
        full_value, feasible = _feasible_value(self, value)
        inside = _inside_support(self, full_value)
        safe_value = full_value
        if feasible is not None:
            inside_value = jnp.reshape(inside, jnp.shape(inside) + (1,) * self.event_dim)
            safe_value = jnp.where(inside_value, full_value, feasible)
        log_densities = []
        for component, same in zip(components, shared, strict=True):
            if not same:
                log_densities.append(_masked_log_prob(component, value))
                continue
            log_density = _log_prob_on_support(component, safe_value)
            log_densities.append(jnp.where(inside, log_density, -jnp.inf) if mask_shared
                                 else log_density)
        return log_densities, inside

    def _weighted_terms(self, value, mask_shared=True):
        """``([log w_k + log p_k(value)], inside)``; terms ``sample_shape + batch_shape``."""
        log_weights = self.mixing_log_weights()
        log_densities, inside = self._component_log_densities(jnp.asarray(value), mask_shared)
        terms = [log_weights[..., k] + log_density for k, log_density in enumerate(log_densities)]
        return jnp.broadcast_arrays(*terms), inside

    def component_log_probs(self, value):
        return jnp.stack(self._weighted_terms(value)[0], axis=-1)

    @validate_sample
    def log_prob(self, value, intermediates=None):
        """``log sum_k w_k p_k(value)``, shape ``sample_shape + batch_shape``.

        Evaluated elementwise over the list of components (no stacked ``(..., K)``
        array); values outside the mixture's support get ``-inf``.
        """
        del intermediates
        terms, inside = self._weighted_terms(value, mask_shared=False)
        log_prob = _logsumexp_terms(terms)
        return log_prob if inside is None else jnp.where(inside, log_prob, -jnp.inf)

    def component_cdf(self, value):
        value = jnp.asarray(value)
        return self._stack([_masked_cdf(d, value) for d in self._component_distributions])
