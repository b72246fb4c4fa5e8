"""Bijective transforms between unconstrained space and constrained sets.

A :class:`Transform` ``t`` maps ``x`` in ``t.domain`` to ``y = t(x)`` in
``t.codomain``; ``t.inv`` (also ``t.inverse``) maps back, and
``t.log_abs_det_jacobian(x, y)`` is ``log |det dy/dx|``, with the
``t.domain.event_dim`` rightmost dimensions of ``x`` reduced. For transforms
onto a manifold of lower dimension (simplex, Cholesky factors) the determinant
is taken in the manifold's intrinsic coordinates, documented per transform.

Transforms are pytrees (array-valued attributes are leaves), so they cross
``jit`` and ``vmap`` boundaries. :func:`biject_to` returns, for a constraint,
the bijection from unconstrained real space onto it; inference uses it to run
samplers in unconstrained coordinates.

References:
    Stan Development Team, *Stan Reference Manual*, "Constraint Transforms".
    Lewandowski, Kurowicka & Joe (2009), "Generating random correlation
    matrices based on vines and extended onion method", J. Multivariate Anal.
"""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax.nn import softplus
from jax.scipy.special import expit, logit
from jax.tree_util import register_pytree_node

from hierax.distributions import constraints
from hierax.distributions.util import broadcast_shape, is_concrete, sum_rightmost

__all__ = [
    "AffineTransform",
    "CholeskyTransform",
    "ComposeTransform",
    "ConstraintRegistry",
    "CorrCholeskyTransform",
    "CorrMatrixCholeskyTransform",
    "ExpTransform",
    "IdentityTransform",
    "IndependentTransform",
    "LowerCholeskyTransform",
    "OrderedTransform",
    "ParameterFreeTransform",
    "PowerTransform",
    "ScaledUnitLowerCholeskyTransform",
    "SigmoidTransform",
    "SoftplusTransform",
    "StickBreakingTransform",
    "TanhTransform",
    "Transform",
    "ZeroSumTransform",
    "biject_to",
]


# ----------------------------------------------------------------------------
# Numerical helpers.


def _finfo(x):
    return jnp.finfo(jnp.result_type(x, float))


def _clip_positive(y):
    """Clip ``y`` below at the smallest normal float, so ``y > 0`` holds on every device."""
    return jnp.maximum(y, _finfo(y).tiny)


def _clipped_expit(x):
    info = _finfo(x)
    return jnp.clip(expit(x), info.tiny, 1.0 - info.eps)


def _softplus_inverse(y):
    """``log(exp(y) - 1)`` computed as ``y + log(-expm1(-y))``."""
    return y + jnp.log(-jnp.expm1(-y))


def _log1m_tanh_sq(x):
    """``log(1 - tanh(x)**2) = 2 * (log 2 - x - softplus(-2x))``, stable for large ``|x|``."""
    return 2.0 * (math.log(2.0) - x - softplus(-2.0 * x))


def _shape_of(value):
    return tuple(jnp.shape(value))


def _concrete_sign(value):
    """+1 / -1 if ``value`` is concrete and all positive / negative; 0 if mixed; None if traced."""
    if not is_concrete(value):
        return None
    value = np.asarray(value)
    if np.all(value > 0):
        return 1
    if np.all(value < 0):
        return -1
    return 0


def _vec_to_tril(vec, n, diagonal):
    """Fill the lower triangle (offset ``diagonal``, row-major order) of ``(..., n, n)``."""
    rows, cols = np.tril_indices(n, diagonal)
    out = jnp.zeros(jnp.shape(vec)[:-1] + (n, n), dtype=jnp.result_type(vec))
    return out.at[..., rows, cols].set(vec)


def _tril_to_vec(matrix, diagonal):
    """Inverse of :func:`_vec_to_tril`: the lower triangle as a vector, row-major."""
    rows, cols = np.tril_indices(jnp.shape(matrix)[-1], diagonal)
    return matrix[..., rows, cols]


def _diagonal(matrix):
    return jnp.diagonal(matrix, axis1=-2, axis2=-1)


def _exclusive_cumsum(x, axis=-1):
    """``out[k] = sum_{j<k} x[j]`` along ``axis``."""
    total = jnp.cumsum(x, axis=axis)
    return total - x


# ----------------------------------------------------------------------------
# The base class and its pytree registration.


def _is_static_value(value) -> bool:
    if value is None or isinstance(value, (bool, str, int)):
        return True
    return isinstance(value, tuple) and all(isinstance(v, int) for v in value)


class Transform:
    """Base class of bijections ``y = t(x)`` from ``domain`` onto ``codomain``.

    Subclasses implement ``__call__(x)``, ``_inverse(y)`` and
    ``log_abs_det_jacobian(x, y, intermediates=None)``; shape-changing
    transforms also implement ``forward_shape`` and ``inverse_shape``.

    Subclasses are registered as pytrees automatically: every instance
    attribute is a leaf except ``None``/bool/str/int values, tuples of ints and
    names listed in ``pytree_aux_fields``. Subclasses may override
    ``tree_flatten``/``tree_unflatten`` instead.
    """

    domain: constraints.Constraint = constraints.real
    codomain: constraints.Constraint = constraints.real
    pytree_aux_fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register_pytree_node(cls, lambda t: t.tree_flatten(), cls.tree_unflatten)

    def tree_flatten(self):
        static_names = set()
        for klass in type(self).__mro__:
            static_names.update(getattr(klass, "pytree_aux_fields", ()))
        names, children, static = [], [], []
        for name, value in vars(self).items():
            if name in static_names or _is_static_value(value):
                static.append((name, value))
            else:
                names.append(name)
                children.append(value)
        return children, (tuple(names), tuple(static))

    @classmethod
    def tree_unflatten(cls, aux, children):
        names, static = aux
        obj = object.__new__(cls)
        for name, value in static.items() if isinstance(static, dict) else static:
            obj.__dict__[name] = value
        for name, value in zip(names, children, strict=True):
            obj.__dict__[name] = value
        return obj

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} does not implement __call__")

    def _inverse(self, y):
        raise NotImplementedError(f"{type(self).__name__} does not implement its inverse")

    def _inv(self, y):
        """The inverse map applied to ``y`` (same as ``self.inv(y)``)."""
        return self._inverse(y)

    @property
    def inv(self) -> Transform:
        """The inverse bijection, from ``codomain`` onto ``domain``."""
        return _InverseTransform(self)

    @property
    def inverse(self) -> Transform:
        """Alias of :attr:`inv`; ``t.inverse(y)`` evaluates the inverse map."""
        return self.inv

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        """``log |det dy/dx|``, shape of ``x`` minus ``domain.event_dim`` rightmost dims."""
        raise NotImplementedError(
            f"{type(self).__name__} does not implement log_abs_det_jacobian"
        )

    def call_with_intermediates(self, x):
        """``(t(x), intermediates)``; intermediates speed up ``log_abs_det_jacobian``."""
        return self(x), None

    def forward_shape(self, shape) -> tuple[int, ...]:
        """Shape of ``t(x)`` for ``x`` of ``shape`` (shape-preserving by default)."""
        return tuple(shape)

    def inverse_shape(self, shape) -> tuple[int, ...]:
        """Shape of ``t.inv(y)`` for ``y`` of ``shape`` (shape-preserving by default)."""
        return tuple(shape)

    @property
    def sign(self):
        """Sign of ``dy/dx`` for monotone scalar transforms (+1 increasing, -1 decreasing)."""
        raise NotImplementedError(f"{type(self).__name__} is not a monotone scalar transform")

    def __repr__(self):
        fields = ", ".join(
            f"{k}={_short(v)}" for k, v in vars(self).items() if not k.startswith("_")
        )
        return f"{type(self).__name__}({fields})"


def _short(value):
    if isinstance(value, (int, float, Transform, constraints.Constraint)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return repr(list(value))
    return f"<array {jnp.shape(value)}>"


class ParameterFreeTransform(Transform):
    """A transform without parameters: all instances of a class are equal."""

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class _InverseTransform(Transform):
    """The inverse of ``base``: domain and codomain swapped, log-det negated."""

    def __init__(self, base):
        self.base = base

    @property
    def domain(self):
        return self.base.codomain

    @property
    def codomain(self):
        return self.base.domain

    @property
    def inv(self):
        return self.base

    @property
    def sign(self):
        return self.base.sign

    def __call__(self, x):
        return self.base._inverse(x)

    def _inverse(self, y):
        return self.base(y)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return -self.base.log_abs_det_jacobian(y, x)

    def forward_shape(self, shape):
        return self.base.inverse_shape(shape)

    def inverse_shape(self, shape):
        return self.base.forward_shape(shape)

    def __repr__(self):
        return f"{self.base!r}.inv"


# ----------------------------------------------------------------------------
# Elementwise transforms.


class IdentityTransform(ParameterFreeTransform):
    """``y = x`` on the real line."""

    sign = 1

    def __call__(self, x):
        return x

    def _inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.zeros_like(x)


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


# ----------------------------------------------------------------------------
# Structural transforms.


def _check_transform(value, owner):
    if not isinstance(value, Transform):
        raise TypeError(f"{owner} expects Transform objects, got {type(value).__name__}.")
    return value


class ComposeTransform(Transform):
    """``parts[-1](... parts[1](parts[0](x)))``.

    Event dims are tracked as in a chain of maps: a part whose domain has
    fewer event dims than the running event dim has its log-det summed over
    the extra dims.

    Args:
        parts: a non-empty sequence of transforms, applied first to last.
    """

    def __init__(self, parts):
        parts = list(parts)
        if not parts:
            raise ValueError("ComposeTransform needs at least one transform, got an empty list.")
        self.parts = [_check_transform(p, "ComposeTransform") for p in parts]

    def _input_event_dim(self):
        event_dim = self.parts[-1].domain.event_dim
        for part in reversed(self.parts):
            event_dim = part.domain.event_dim + max(event_dim - part.codomain.event_dim, 0)
        return event_dim

    def _output_event_dim(self):
        event_dim = self.parts[0].codomain.event_dim
        for part in self.parts[1:]:
            event_dim = part.codomain.event_dim + max(event_dim - part.domain.event_dim, 0)
        return event_dim

    @property
    def domain(self):
        first = self.parts[0].domain
        extra = self._input_event_dim() - first.event_dim
        return constraints.independent(first, extra) if extra > 0 else first

    @property
    def codomain(self):
        last = self.parts[-1].codomain
        extra = self._output_event_dim() - last.event_dim
        return constraints.independent(last, extra) if extra > 0 else last

    @property
    def sign(self):
        sign = 1
        for part in self.parts:
            sign = sign * part.sign
        return sign

    def __call__(self, x):
        for part in self.parts:
            x = part(x)
        return x

    def _inverse(self, y):
        for part in reversed(self.parts):
            y = part._inverse(y)
        return y

    def call_with_intermediates(self, x):
        """Returns ``(y, [(y_i, intermediates_i) for each part])``."""
        intermediates = []
        for part in self.parts:
            x, inter = part.call_with_intermediates(x)
            intermediates.append((x, inter))
        return x, intermediates

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        if intermediates is not None and len(intermediates) != len(self.parts):
            raise ValueError(
                f"ComposeTransform: got {len(intermediates)} intermediates for "
                f"{len(self.parts)} parts."
            )
        total = 0.0
        event_dim = self.domain.event_dim
        for i, part in enumerate(self.parts):
            last = i == len(self.parts) - 1
            if intermediates is None:
                y_part, inter = (y if last else part(x)), None
            else:
                y_part, inter = intermediates[i]
            extra = event_dim - part.domain.event_dim
            log_det = part.log_abs_det_jacobian(x, y_part, intermediates=inter)
            total = total + sum_rightmost(log_det, extra)
            event_dim = part.codomain.event_dim + extra
            x = y_part
        return total

    def forward_shape(self, shape):
        for part in self.parts:
            shape = part.forward_shape(shape)
        return tuple(shape)

    def inverse_shape(self, shape):
        for part in reversed(self.parts):
            shape = part.inverse_shape(shape)
        return tuple(shape)


class IndependentTransform(Transform):
    """``base_transform`` with ``reinterpreted_batch_ndims`` batch dims treated as event dims.

    The map is unchanged; the log-det is summed over the reinterpreted dims and
    the domain/codomain become :func:`~hierax.distributions.constraints.independent`.
    """

    def __init__(self, base_transform, reinterpreted_batch_ndims):
        _check_transform(base_transform, "IndependentTransform")
        if isinstance(reinterpreted_batch_ndims, bool) or not isinstance(
            reinterpreted_batch_ndims, int
        ) or reinterpreted_batch_ndims < 0:
            raise ValueError(
                "IndependentTransform: reinterpreted_batch_ndims must be a non-negative int, "
                f"got {reinterpreted_batch_ndims!r}."
            )
        self.base_transform = base_transform
        self.reinterpreted_batch_ndims = reinterpreted_batch_ndims

    @property
    def domain(self):
        return constraints.independent(self.base_transform.domain, self.reinterpreted_batch_ndims)

    @property
    def codomain(self):
        return constraints.independent(
            self.base_transform.codomain, self.reinterpreted_batch_ndims
        )

    @property
    def sign(self):
        return self.base_transform.sign

    def __call__(self, x):
        return self.base_transform(x)

    def _inverse(self, y):
        return self.base_transform._inverse(y)

    def call_with_intermediates(self, x):
        return self.base_transform.call_with_intermediates(x)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        log_det = self.base_transform.log_abs_det_jacobian(x, y, intermediates=intermediates)
        if jnp.ndim(log_det) < self.reinterpreted_batch_ndims:
            raise ValueError(
                f"IndependentTransform: input of shape {_shape_of(x)} has fewer than "
                f"{self.domain.event_dim} dims."
            )
        return sum_rightmost(log_det, self.reinterpreted_batch_ndims)

    def forward_shape(self, shape):
        return self.base_transform.forward_shape(shape)

    def inverse_shape(self, shape):
        return self.base_transform.inverse_shape(shape)


# ----------------------------------------------------------------------------
# Vector transforms.


def _require_rank(shape, rank, owner):
    shape = tuple(shape)
    if len(shape) < rank:
        raise ValueError(f"{owner}: expected an array with at least {rank} dims, got {shape}.")
    return shape


class StickBreakingTransform(ParameterFreeTransform):
    """Unconstrained ``(..., K-1)`` vectors onto the simplex in ``R^K`` (Stan's construction).

    ``z_k = sigmoid(x_k - log(K-1-k))`` is the fraction broken off the
    remaining stick, so ``x = 0`` maps to the uniform vector. The log-det is
    taken in the intrinsic coordinates ``y[..., :K-1]``:
    ``sum_k log z_k + log(1 - z_k) + log(stick left before k)``.
    """

    domain = constraints.real_vector
    codomain = constraints.simplex

    @staticmethod
    def _offsets(k, dtype):
        return jnp.log(jnp.arange(k, 0, -1).astype(dtype))

    def _pieces(self, x):
        """``log z``, ``log(1-z)`` and log of the stick left before each break."""
        t = x - self._offsets(jnp.shape(x)[-1], jnp.result_type(x, float))
        log_z, log_1mz = -softplus(-t), -softplus(t)
        zero = jnp.zeros_like(log_1mz[..., :1])
        log_left = jnp.cumsum(jnp.concatenate([zero, log_1mz], axis=-1), axis=-1)
        return log_z, log_1mz, log_left

    def __call__(self, x):
        log_z, _, log_left = self._pieces(x)
        head = jnp.exp(log_z + log_left[..., :-1])
        return jnp.concatenate([head, jnp.exp(log_left[..., -1:])], axis=-1)

    def _inverse(self, y):
        tiny = _finfo(y).tiny
        # Stick left after break k, summed from the tail for accuracy.
        tail = jnp.flip(jnp.cumsum(jnp.flip(y, -1), axis=-1), -1)[..., 1:]
        head = y[..., :-1]
        offsets = self._offsets(jnp.shape(head)[-1], jnp.result_type(y, float))
        return jnp.log(jnp.maximum(head, tiny)) - jnp.log(jnp.maximum(tail, tiny)) + offsets

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        log_z, log_1mz, log_left = self._pieces(x)
        return jnp.sum(log_z + log_1mz + log_left[..., :-1], axis=-1)

    def forward_shape(self, shape):
        shape = _require_rank(shape, 1, "StickBreakingTransform")
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        shape = _require_rank(shape, 1, "StickBreakingTransform.inv")
        return shape[:-1] + (shape[-1] - 1,)


class OrderedTransform(ParameterFreeTransform):
    """Unconstrained vectors onto strictly increasing vectors (Stan's construction).

    ``y_0 = x_0`` and ``y_k = y_{k-1} + exp(x_k)``; log-det ``sum_{k>0} x_k``.
    """

    domain = constraints.real_vector
    codomain = constraints.ordered_vector

    def __call__(self, x):
        steps = jnp.concatenate([x[..., :1], _clip_positive(jnp.exp(x[..., 1:]))], axis=-1)
        return jnp.cumsum(steps, axis=-1)

    def _inverse(self, y):
        gaps = jnp.log(y[..., 1:] - y[..., :-1])
        return jnp.concatenate([y[..., :1], gaps], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.sum(x[..., 1:], axis=-1)


class ZeroSumTransform(ParameterFreeTransform):
    """Unconstrained ``(..., n-1)`` vectors onto zero-sum vectors in ``R^n``, isometrically.

    The map is the Householder reflection that swaps ``e_n`` with
    ``-1/sqrt(n)``, applied to ``(x, 0)``: ``y_i = x_i - s / (n + sqrt(n))``
    for ``i < n`` and ``y_n = -s / sqrt(n)`` with ``s = sum(x)``. Being an
    isometry onto the zero-sum hyperplane, its log-det (in the hyperplane's
    own coordinates) is zero.
    """

    domain = constraints.real_vector
    codomain = constraints.zero_sum

    def __call__(self, x):
        n = jnp.shape(x)[-1] + 1
        total = jnp.sum(x, axis=-1, keepdims=True)
        head = x - total / (n + math.sqrt(n))
        return jnp.concatenate([head, -total / math.sqrt(n)], axis=-1)

    def _inverse(self, y):
        n = jnp.shape(y)[-1]
        return y[..., :-1] - y[..., -1:] / (math.sqrt(n) + 1.0)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.zeros(jnp.shape(x)[:-1], dtype=jnp.result_type(x, float))

    def forward_shape(self, shape):
        shape = _require_rank(shape, 1, "ZeroSumTransform")
        return shape[:-1] + (shape[-1] + 1,)

    def inverse_shape(self, shape):
        shape = _require_rank(shape, 1, "ZeroSumTransform.inv")
        return shape[:-1] + (shape[-1] - 1,)


# ----------------------------------------------------------------------------
# Matrix transforms. Vectors hold lower triangles in row-major order.


def _matrix_size(length, strict, owner):
    """``n`` such that ``length`` is ``n(n+1)/2`` (``n(n-1)/2`` if ``strict``)."""
    n = int(round((math.sqrt(8 * length + 1) + (1 if strict else -1)) / 2))
    if n * (n + (-1 if strict else 1)) // 2 != length:
        kind = "n(n-1)/2" if strict else "n(n+1)/2"
        raise ValueError(f"{owner}: a vector of length {length} is not of length {kind}.")
    return n


def _matrix_forward_shape(shape, strict, owner):
    shape = _require_rank(shape, 1, owner)
    n = _matrix_size(shape[-1], strict, owner)
    return shape[:-1] + (n, n)


def _matrix_inverse_shape(shape, strict, owner):
    shape = _require_rank(shape, 2, owner)
    if shape[-1] != shape[-2]:
        raise ValueError(f"{owner}: expected square matrices, got shape {shape}.")
    n = shape[-1]
    return shape[:-2] + ((n * (n - 1) if strict else n * (n + 1)) // 2,)


class LowerCholeskyTransform(ParameterFreeTransform):
    """``(..., n(n+1)/2)`` vectors onto lower-triangular matrices with positive diagonal.

    The first ``n(n-1)/2`` entries fill the strictly lower triangle; the last
    ``n`` are the logs of the diagonal. Log-det (in the coordinates of the
    vectorised lower triangle) is the sum of those last ``n`` entries.
    """

    domain = constraints.real_vector
    codomain = constraints.lower_cholesky

    def __call__(self, x):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        strict = _vec_to_tril(x[..., : x.shape[-1] - n], n, -1)
        diag = _clip_positive(jnp.exp(x[..., x.shape[-1] - n:]))
        return strict + diag[..., None] * jnp.eye(n, dtype=strict.dtype)

    def _inverse(self, y):
        return jnp.concatenate([_tril_to_vec(y, -1), jnp.log(_diagonal(y))], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        return jnp.sum(x[..., x.shape[-1] - n:], axis=-1)

    def forward_shape(self, shape):
        return _matrix_forward_shape(shape, False, type(self).__name__)

    def inverse_shape(self, shape):
        return _matrix_inverse_shape(shape, False, type(self).__name__)


class ScaledUnitLowerCholeskyTransform(LowerCholeskyTransform):
    """``(..., n(n+1)/2)`` vectors onto ``diag(s) @ U`` with ``U`` unit lower triangular.

    The first ``n(n-1)/2`` entries fill ``U``'s strictly lower triangle; the
    last ``n`` give ``s = softplus(raw)``. Row ``i`` of the result is ``s_i``
    times row ``i`` of ``U``, so the log-det (vectorised lower triangle) is
    ``sum_i log sigmoid(raw_i) + i * log s_i``.
    """

    codomain = constraints.scaled_unit_lower_cholesky

    def __call__(self, x):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        unit = _vec_to_tril(x[..., : x.shape[-1] - n], n, -1)
        unit = unit + jnp.eye(n, dtype=unit.dtype)
        scale = _clip_positive(softplus(x[..., x.shape[-1] - n:]))
        return unit * scale[..., :, None]

    def _inverse(self, y):
        scale = _diagonal(y)
        unit = y / scale[..., :, None]
        return jnp.concatenate([_tril_to_vec(unit, -1), _softplus_inverse(scale)], axis=-1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = _matrix_size(jnp.shape(x)[-1], False, type(self).__name__)
        raw = x[..., x.shape[-1] - n:]
        rows = jnp.arange(n).astype(jnp.result_type(x, float))
        log_scale = jnp.log(_diagonal(y))
        return jnp.sum(rows * log_scale - softplus(-raw), axis=-1)


class CorrCholeskyTransform(ParameterFreeTransform):
    """``(..., n(n-1)/2)`` vectors onto Cholesky factors of correlation matrices.

    Stan's construction (Lewandowski, Kurowicka & Joe 2009): the entries are
    mapped through ``tanh`` to partial correlations ``z_ij`` in ``(-1, 1)``
    filling the strictly lower triangle (row-major); row ``i`` of the factor is
    ``w_ij = z_ij * sqrt(1 - sum_{k<j} w_ik^2)`` with ``w_ii`` closing the row
    to unit norm. The log-det (strictly lower triangle coordinates) is
    ``sum_{i>j} log(1 - z_ij^2) + 0.5 * log(1 - sum_{k<j} w_ik^2)``.
    """

    domain = constraints.real_vector
    codomain = constraints.corr_cholesky

    def _log_terms(self, x):
        """Log of ``1 - z^2`` and of the squared row norm left before each entry."""
        n = _matrix_size(jnp.shape(x)[-1], True, type(self).__name__)
        log_1mz2 = _vec_to_tril(_log1m_tanh_sq(x), n, -1)
        return log_1mz2, _exclusive_cumsum(log_1mz2, axis=-1), n

    def __call__(self, x):
        log_1mz2, log_left, n = self._log_terms(x)
        z = _vec_to_tril(jnp.tanh(x), n, -1) + jnp.eye(n, dtype=log_left.dtype)
        return jnp.tril(z * jnp.exp(0.5 * log_left))

    def _inverse(self, y):
        left = 1.0 - _exclusive_cumsum(y * y, axis=-1)
        z = _tril_to_vec(y, -1) / jnp.sqrt(jnp.maximum(_tril_to_vec(left, -1), _finfo(y).tiny))
        bound = 1.0 - _finfo(y).eps
        return jnp.arctanh(jnp.clip(z, -bound, bound))

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        log_1mz2, log_left, _ = self._log_terms(x)
        return jnp.sum(_tril_to_vec(log_1mz2 + 0.5 * log_left, -1), axis=-1)

    def forward_shape(self, shape):
        return _matrix_forward_shape(shape, True, type(self).__name__)

    def inverse_shape(self, shape):
        return _matrix_inverse_shape(shape, True, type(self).__name__)


class CholeskyTransform(ParameterFreeTransform):
    """Positive-definite matrices onto their lower Cholesky factors, ``y = cholesky(x)``.

    With ``x = L L^T``, ``|det dx/dL| = 2^n prod_i L_ii^(n-i)`` (0-based ``i``)
    in the coordinates of the lower triangles (Edelman, *Random matrix
    theory*, MIT 18.325 notes); the log-det here is its negative log.
    """

    domain = constraints.positive_definite
    codomain = constraints.lower_cholesky

    def __call__(self, x):
        return jnp.linalg.cholesky(x)

    def _inverse(self, y):
        return y @ jnp.swapaxes(y, -2, -1)

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(y)[-1]
        powers = jnp.arange(n, 0, -1).astype(jnp.result_type(y, float))
        return -n * math.log(2.0) - jnp.sum(powers * jnp.log(_diagonal(y)), axis=-1)


class CorrMatrixCholeskyTransform(CholeskyTransform):
    """Correlation matrices onto their Cholesky factors.

    In strictly-lower-triangle coordinates, ``dC_ij / dL_ij = L_jj`` in a
    triangular Jacobian, so ``|det dC/dL| = prod_j L_jj^(n-1-j)``; the log-det
    here is its negative log.
    """

    domain = constraints.corr_matrix
    codomain = constraints.corr_cholesky

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        n = jnp.shape(y)[-1]
        powers = jnp.arange(n - 1, -1, -1).astype(jnp.result_type(y, float))
        return -jnp.sum(powers * jnp.log(_diagonal(y)), axis=-1)


# ----------------------------------------------------------------------------
# biject_to: constraint -> bijection from unconstrained space.


class ConstraintRegistry:
    """Maps constraint classes to factories ``factory(constraint) -> Transform``.

    Lookup walks the constraint's class hierarchy, so the most specific
    registered class wins (``open_interval`` falls back to ``interval``).
    """

    def __init__(self):
        self._registry = {}

    def register(self, constraint, factory=None):
        """Register ``factory`` for ``constraint`` (a class or an instance of it).

        Usable as a decorator: ``@biject_to.register(MyConstraint)``.
        """
        if factory is None:
            return lambda fn: self.register(constraint, fn)
        key = type(constraint) if isinstance(constraint, constraints.Constraint) else constraint
        if not (isinstance(key, type) and issubclass(key, constraints.Constraint)):
            raise TypeError(
                f"biject_to.register expects a Constraint class or instance, got {constraint!r}."
            )
        self._registry[key] = factory
        return factory

    def __call__(self, constraint):
        if constraints.is_dependent(constraint):
            raise ValueError(
                "biject_to: cannot build a bijection onto a dependent constraint; its set is "
                "only known once other variables are fixed (give the site a concrete support)."
            )
        if not isinstance(constraint, constraints.Constraint):
            raise TypeError(f"biject_to expects a Constraint, got {type(constraint).__name__}.")
        for klass in type(constraint).__mro__:
            if klass in self._registry:
                return self._registry[klass](constraint)
        supported = ", ".join(sorted(k.__name__.lstrip("_") for k in self._registry))
        raise NotImplementedError(
            f"biject_to: no bijection registered for the constraint {constraint!r}. "
            f"Supported constraint types: {supported}."
        )


biject_to = ConstraintRegistry()


def _is_exactly(value, target):
    return _concrete_sign(value) is not None and np.all(np.asarray(value) == target)


@biject_to.register(constraints._Real)
def _to_real(constraint):
    return IdentityTransform()


@biject_to.register(constraints._Independent)
def _to_independent(constraint):
    base = biject_to(constraint.base_constraint)
    return IndependentTransform(base, constraint.reinterpreted_batch_ndims)


@biject_to.register(constraints._Positive)
@biject_to.register(constraints._Nonnegative)
def _to_positive(constraint):
    return ExpTransform()


@biject_to.register(constraints._GreaterThan)
def _to_greater_than(constraint):
    shift = AffineTransform(constraint.lower_bound, 1.0, domain=constraints.positive)
    return ComposeTransform([ExpTransform(), shift])


@biject_to.register(constraints._LessThan)
def _to_less_than(constraint):
    flip = AffineTransform(constraint.upper_bound, -1.0, domain=constraints.positive)
    return ComposeTransform([ExpTransform(), flip])


@biject_to.register(constraints._Interval)
def _to_interval(constraint):
    lower, upper = constraint.lower_bound, constraint.upper_bound
    if _is_exactly(lower, 0) and _is_exactly(upper, 1):
        return SigmoidTransform()
    scale = AffineTransform(lower, upper - lower, domain=constraints.unit_interval)
    return ComposeTransform([SigmoidTransform(), scale])


@biject_to.register(constraints._Simplex)
def _to_simplex(constraint):
    return StickBreakingTransform()


@biject_to.register(constraints._ZeroSum)
def _to_zero_sum(constraint):
    return ZeroSumTransform()


@biject_to.register(constraints._OrderedVector)
def _to_ordered(constraint):
    return OrderedTransform()


@biject_to.register(constraints._PositiveOrderedVector)
def _to_positive_ordered(constraint):
    return ComposeTransform([OrderedTransform(), ExpTransform(domain=constraints.ordered_vector)])


@biject_to.register(constraints._LowerCholesky)
def _to_lower_cholesky(constraint):
    return LowerCholeskyTransform()


@biject_to.register(constraints._ScaledUnitLowerCholesky)
def _to_scaled_unit_lower_cholesky(constraint):
    return ScaledUnitLowerCholeskyTransform()


@biject_to.register(constraints._CorrCholesky)
def _to_corr_cholesky(constraint):
    return CorrCholeskyTransform()


@biject_to.register(constraints._PositiveDefinite)
def _to_positive_definite(constraint):
    return ComposeTransform([LowerCholeskyTransform(), CholeskyTransform().inv])


@biject_to.register(constraints._CorrMatrix)
def _to_corr_matrix(constraint):
    return ComposeTransform([CorrCholeskyTransform(), CorrMatrixCholeskyTransform().inv])
