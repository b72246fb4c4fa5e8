"""The :class:`Transform` base class, its pytree registration and structural transforms.

Structural transforms combine others: :class:`ComposeTransform` chains them,
:class:`IndependentTransform` reinterprets batch dims as event dims. The
identity and the parameter-free base class live here too.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax.tree_util import register_pytree_node

from hierax.distributions import constraints
from hierax.distributions.transforms._numerics import _shape_of
from hierax.distributions.util import sum_rightmost

__all__ = [
    "ComposeTransform",
    "IdentityTransform",
    "IndependentTransform",
    "ParameterFreeTransform",
    "Transform",
]


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


class IdentityTransform(ParameterFreeTransform):
    """``y = x`` on the real line."""

    sign = 1

    def __call__(self, x):
        return x

    def _inverse(self, y):
        return y

    def log_abs_det_jacobian(self, x, y, intermediates=None):
        return jnp.zeros_like(x)


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
