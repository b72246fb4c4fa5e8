"""Tests of hierax.distributions.transforms: bijections, log-dets and biject_to."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from hierax.distributions import constraints
from hierax.distributions import transforms as T
from hierax.distributions.transforms import biject_to

# ----------------------------------------------------------------------------
# Intrinsic coordinates of the spaces the transforms act on.


def _identity(a):
    return jnp.reshape(a, (-1,))


def _tril(a):
    rows, cols = np.tril_indices(a.shape[-1])
    return a[..., rows, cols]


def _strict_tril(a):
    rows, cols = np.tril_indices(a.shape[-1], -1)
    return a[..., rows, cols]


def _drop_last(a):
    return a[..., :-1]


def _pd_matrix(key, dtype, n=3):
    a = jax.random.normal(key, (n, n), dtype)
    return a @ a.T + n * jnp.eye(n, dtype=dtype)


def _normal(event_shape):
    return lambda key, batch, dtype: jax.random.normal(key, batch + event_shape, dtype)


def _positive(event_shape):
    return lambda key, batch, dtype: jnp.exp(jax.random.normal(key, batch + event_shape, dtype))


def _through(transform, event_shape):
    """Points of ``transform``'s codomain, as inputs for transforms defined there."""
    return lambda key, batch, dtype: transform(
        jax.random.normal(key, batch + event_shape, dtype)
    )


def _corr_cholesky_from_strict_tril(v):
    lower = T._vec_to_tril(v, 3, -1)
    diag = jnp.sqrt(1.0 - jnp.sum(lower**2, axis=-1))
    return lower + jnp.diag(diag)


def _lower_from_tril(v):
    return T._vec_to_tril(v, 3, 0)


# name -> (transform factory of the dtype, input sampler, output coordinates,
#          input coordinates and their embedding, or None for plain arrays)
CASES = {
    "identity": (lambda d: T.IdentityTransform(), _normal(()), _identity, None),
    "affine": (lambda d: T.AffineTransform(0.5, -2.0), _normal(()), _identity, None),
    "affine_vector": (
        lambda d: T.AffineTransform(jnp.array([0.0, 1.0, 2.0], d), jnp.array([0.5, 1.5, -3.0], d),
                                    domain=constraints.real_vector),
        _normal((3,)), _identity, None,
    ),
    "exp": (lambda d: T.ExpTransform(), _normal(()), _identity, None),
    "sigmoid": (lambda d: T.SigmoidTransform(), _normal(()), _identity, None),
    "softplus": (lambda d: T.SoftplusTransform(), _normal(()), _identity, None),
    "tanh": (lambda d: T.TanhTransform(), _normal(()), _identity, None),
    "power": (lambda d: T.PowerTransform(2.5), _positive(()), _identity, None),
    "compose": (
        lambda d: T.ComposeTransform(
            [T.ExpTransform(), T.AffineTransform(1.0, 2.0, domain=constraints.positive)]
        ),
        _normal(()), _identity, None,
    ),
    "independent": (lambda d: T.IndependentTransform(T.SigmoidTransform(), 1), _normal((3,)),
                    _identity, None),
    "stick_breaking": (lambda d: T.StickBreakingTransform(), _normal((3,)), _drop_last, None),
    "ordered": (lambda d: T.OrderedTransform(), _normal((4,)), _identity, None),
    "lower_cholesky": (lambda d: T.LowerCholeskyTransform(), _normal((6,)), _tril, None),
    "scaled_unit_lower_cholesky": (lambda d: T.ScaledUnitLowerCholeskyTransform(),
                                   _normal((6,)), _tril, None),
    "corr_cholesky": (lambda d: T.CorrCholeskyTransform(), _normal((6,)), _strict_tril, None),
    "cholesky_inv": (lambda d: T.CholeskyTransform().inv,
                     _through(T.LowerCholeskyTransform(), (6,)), _tril,
                     (_tril, _lower_from_tril)),
    "corr_matrix_cholesky_inv": (lambda d: T.CorrMatrixCholeskyTransform().inv,
                                 _through(T.CorrCholeskyTransform(), (3,)), _strict_tril,
                                 (_strict_tril, _corr_cholesky_from_strict_tril)),
}

BATCH_SHAPE = (2, 3)


def _check_transform(transform, x, out_coords, in_coords):
    """Round trip, log-det and, on one event, the autodiff log-det of one case."""
    y = transform(x)
    x_back = transform.inv(y)
    log_det = transform.log_abs_det_jacobian(x, y)
    inside = transform.codomain(y)
    event = x[(0,) * len(BATCH_SHAPE)]
    flatten, embed = in_coords or (_identity, lambda v: jnp.reshape(v, event.shape))
    jac = jax.jacfwd(lambda v: out_coords(transform(embed(v))))(flatten(event))
    expected = jnp.linalg.slogdet(jac)[1]
    actual = jnp.sum(transform.log_abs_det_jacobian(event, transform(event)))
    return y, x_back, log_det, inside, actual, expected, jac


@functools.cache
def _transform_results(dtype_name):
    """All cases of one dtype in a single compiled function (transforms enter as pytrees)."""
    dtype = jnp.dtype(dtype_name)
    transforms = {name: case[0](dtype) for name, case in CASES.items()}
    inputs = {name: case[1](jax.random.PRNGKey(0), BATCH_SHAPE, dtype)
              for name, case in CASES.items()}

    @jax.jit
    def run(transforms, inputs):
        return {name: _check_transform(transforms[name], inputs[name], CASES[name][2],
                                       CASES[name][3]) for name in CASES}

    return transforms, inputs, run(transforms, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_roundtrip_shapes_dtypes_and_log_det(name, float_dtype):
    transforms, inputs, results = _transform_results(jnp.dtype(float_dtype).name)
    transform, x = transforms[name], inputs[name]
    y, x_back, log_det, inside, actual, expected, jac = results[name]
    assert y.dtype == float_dtype and log_det.dtype == float_dtype
    assert y.shape == transform.forward_shape(x.shape)
    assert transform.inverse_shape(y.shape) == x.shape
    assert log_det.shape == x.shape[: x.ndim - transform.domain.event_dim]
    assert bool(jnp.all(inside))
    tol = 1e-4 if float_dtype == jnp.float32 else 1e-10
    np.testing.assert_allclose(x_back, x, rtol=tol, atol=tol)
    assert jac.shape[0] == jac.shape[1], "intrinsic coordinates must match in dimension"
    tol = 2e-3 if float_dtype == jnp.float32 else 1e-9
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["sigmoid", "softplus", "tanh", "exp", "stick_breaking",
                                  "corr_cholesky", "lower_cholesky", "ordered"])
def test_log_det_gradient_finite_at_extremes(name):
    make, sampler, _, _ = CASES[name]
    transform = make(jnp.float32)
    x = 40.0 * sampler(jax.random.PRNGKey(2), (), jnp.float32)

    @jax.jit
    def value_and_grad(x):
        def total_log_det(x):
            return jnp.sum(transform.log_abs_det_jacobian(x, transform(x)))

        return jax.value_and_grad(total_log_det)(x)

    value, grad = value_and_grad(x)
    assert bool(jnp.isfinite(value))
    assert bool(jnp.all(jnp.isfinite(grad)))
    if transform.domain.event_dim == 0:  # open codomains are not reached at |x| ~ 100
        assert bool(jnp.all(transform.codomain(transform(x))))


def test_float32_inputs_stay_float32_with_x64_enabled():
    def outputs(transform, x):
        y = transform(x)
        return y, transform.log_abs_det_jacobian(x, y), transform.inv(y)

    with jax.enable_x64(True):
        for name, (make, sampler, _, _) in CASES.items():
            x = sampler(jax.random.PRNGKey(3), (), jnp.float32)
            shapes = jax.eval_shape(outputs, make(jnp.float32), x)
            assert [s.dtype for s in shapes] == [jnp.float32] * 3, name
        for name, (_, event_shape, _) in BIJECT_CASES.items():
            transform = biject_to(_constraint(name, jnp.float32))
            x = jnp.zeros(transform.inverse_shape(event_shape), jnp.float32)
            shapes = jax.eval_shape(outputs, transform, x)
            assert [s.dtype for s in shapes] == [jnp.float32] * 3, name


def test_transforms_cross_jit_and_vmap_as_pytrees():
    apply = jax.jit(lambda t, x: (t(x), t.log_abs_det_jacobian(x, t(x))))
    x = jnp.linspace(-1.0, 1.0, 6)
    for transform in [T.AffineTransform(jnp.ones(6), 2.0 * jnp.ones(6)),
                      biject_to(constraints.interval(-1.0, jnp.arange(1.0, 7.0)))]:
        y, log_det = apply(transform, x)
        np.testing.assert_allclose(y, transform(x), rtol=1e-6)
        np.testing.assert_allclose(log_det, transform.log_abs_det_jacobian(x, transform(x)),
                                   rtol=1e-6)
    leaves, treedef = jax.tree_util.tree_flatten(T.AffineTransform(1.0, 2.0))
    assert len(leaves) == 2 and treedef.num_leaves == 2
    assert jax.tree_util.tree_leaves(T.IndependentTransform(T.ExpTransform(), 2)) == []
    scales = jnp.array([1.0, 2.0, 3.0])
    batched = jax.vmap(lambda s: T.AffineTransform(0.0, s))(scales)
    np.testing.assert_allclose(batched.scale, scales)
    np.testing.assert_allclose(jax.vmap(lambda t: t(1.0))(batched), scales)


# ----------------------------------------------------------------------------
# Known values and special structure.


def test_known_values():
    @jax.jit
    def values():
        corr_factor = T.CorrCholeskyTransform()(jnp.array([0.3, -1.2, 2.0, 0.5, -0.7, 1.1]))
        return (
            T.StickBreakingTransform()(jnp.zeros(4)),
            T.CorrCholeskyTransform()(jnp.zeros(6)),
            T.OrderedTransform()(jnp.array([1.0, 0.0, 0.0])),
            T.LowerCholeskyTransform()(jnp.array([2.0, 0.0, 0.0])),
            jnp.diagonal(corr_factor @ corr_factor.T),
        )

    simplex, corr_identity, ordered, lower, unit_diagonal = values()
    np.testing.assert_allclose(simplex, jnp.full(5, 0.2), rtol=1e-6)
    np.testing.assert_allclose(corr_identity, jnp.eye(4), atol=1e-7)
    np.testing.assert_allclose(ordered, [1.0, 2.0, 3.0], rtol=1e-6)
    np.testing.assert_allclose(lower, [[1.0, 0.0], [2.0, 1.0]])
    # Rows of a correlation Cholesky factor have unit norm: L L^T has a unit diagonal.
    np.testing.assert_allclose(unit_diagonal, jnp.ones(4), rtol=1e-6)


def test_zero_sum_transform_is_an_isometry_onto_the_hyperplane(x64):
    transform = T.ZeroSumTransform()
    x = jax.random.normal(jax.random.PRNGKey(4), (5,))
    y = transform(x)
    assert abs(float(jnp.sum(y))) < 1e-12
    jac = jax.jacfwd(transform)(x)
    np.testing.assert_allclose(jac.T @ jac, jnp.eye(5), atol=1e-12)
    np.testing.assert_allclose(transform.inv(y), x, atol=1e-12)
    assert transform.log_abs_det_jacobian(x, y).shape == ()


def test_inverse_and_sign():
    affine = T.AffineTransform(1.0, -2.0)
    assert affine.inv.inv is affine
    assert float(affine.inverse(3.0)) == -1.0
    assert float(affine.inv.sign) == -1.0
    assert T.ExpTransform().inv.domain is constraints.positive
    assert T.ExpTransform().inv.codomain is constraints.real
    assert T.ComposeTransform([T.ExpTransform(), T.PowerTransform(-1.0)]).sign == -1
    np.testing.assert_allclose(T.ExpTransform().inv.log_abs_det_jacobian(2.0, jnp.log(2.0)),
                               -jnp.log(2.0), rtol=1e-6)
    with pytest.raises(NotImplementedError, match="not a monotone scalar"):
        _ = T.StickBreakingTransform().sign


def test_compose_event_dims_and_log_det_with_intermediates():
    chain = T.ComposeTransform([T.ExpTransform(), T.StickBreakingTransform()])
    assert chain.domain.event_dim == 1 and chain.codomain.event_dim == 1
    x = jnp.array([0.2, -0.3, 0.4])
    y, intermediates = chain.call_with_intermediates(x)
    expected = jnp.sum(x) + T.StickBreakingTransform().log_abs_det_jacobian(jnp.exp(x), y)
    np.testing.assert_allclose(chain.log_abs_det_jacobian(x, y), expected, rtol=1e-6)
    np.testing.assert_allclose(chain.log_abs_det_jacobian(x, y, intermediates), expected,
                               rtol=1e-6)
    with pytest.raises(ValueError, match="got 1 intermediates for 2 parts"):
        chain.log_abs_det_jacobian(x, y, intermediates[:1])


def test_affine_codomain_is_the_image_of_the_domain():
    positive = constraints.positive
    assert T.AffineTransform(0.0, 0.5, domain=positive).codomain is constraints.positive
    lower = T.AffineTransform(2.0, 3.0, domain=positive).codomain
    assert isinstance(lower, constraints._GreaterThan) and float(lower.lower_bound) == 2.0
    upper = T.AffineTransform(2.0, -3.0, domain=positive).codomain
    assert isinstance(upper, constraints._LessThan) and float(upper.upper_bound) == 2.0
    flipped = T.AffineTransform(1.0, -2.0, domain=constraints.interval(0.0, 1.0)).codomain
    assert (float(flipped.lower_bound), float(flipped.upper_bound)) == (-1.0, 1.0)
    assert T.AffineTransform(0.0, 2.0, domain=constraints.real_vector).codomain == (
        constraints.real_vector)
    image = T.AffineTransform(1.0, 2.0, domain=constraints.independent(positive, 1)).codomain
    assert image.event_dim == 1 and bool(image(jnp.array([1.5, 2.0])))
    assert T.AffineTransform(1.0, 2.0, domain=constraints.less_than(0.0)).codomain(0.5)
    assert T.AffineTransform(0.0, 1.0, domain=constraints.nonnegative).codomain is (
        constraints.nonnegative)
    with pytest.raises(ValueError, match="scale must have one sign"):
        _ = T.AffineTransform(0.0, jnp.array([1.0, -1.0]), domain=positive).codomain
    with pytest.raises(TypeError, match="domain must be a constraint"):
        T.AffineTransform(0.0, 1.0, domain="positive")
    # A traced scale is taken to be positive on half-lines.
    traced = jax.jit(lambda s: T.AffineTransform(0.0, s, domain=positive).codomain(1.0))(2.0)
    assert bool(traced)


def test_exp_codomain():
    assert T.ExpTransform().codomain is constraints.positive
    image = T.ExpTransform(domain=constraints.interval(0.0, 1.0)).codomain
    np.testing.assert_allclose([image.lower_bound, image.upper_bound], [1.0, np.e], rtol=1e-6)
    assert T.ExpTransform(domain=constraints.ordered_vector).codomain is (
        constraints.positive_ordered_vector)
    with pytest.raises(NotImplementedError, match="image of the domain simplex"):
        _ = T.ExpTransform(domain=constraints.simplex).codomain


def test_invalid_construction_and_shapes():
    with pytest.raises(ValueError, match="at least one transform"):
        T.ComposeTransform([])
    with pytest.raises(TypeError, match="expects Transform objects, got str"):
        T.ComposeTransform(["exp"])
    with pytest.raises(ValueError, match="non-negative int, got -1"):
        T.IndependentTransform(T.ExpTransform(), -1)
    with pytest.raises(ValueError, match="length 4 is not of length n\\(n\\+1\\)/2"):
        T.LowerCholeskyTransform().forward_shape((4,))
    with pytest.raises(ValueError, match="length 2 is not of length n\\(n-1\\)/2"):
        T.CorrCholeskyTransform()(jnp.zeros(2))
    with pytest.raises(ValueError, match="expected square matrices"):
        T.CorrCholeskyTransform().inverse_shape((3, 4))
    with pytest.raises(ValueError, match="at least 1 dims, got \\(\\)"):
        T.StickBreakingTransform().forward_shape(())


# ----------------------------------------------------------------------------
# biject_to.

LOW = [-1.0, 0.0, 2.0]
HIGH = [0.0, 5.0, 2.5]

# constraint (or its factory of the dtype), shape of the constrained value,
# intrinsic coordinates of one value
# (None: the codomain is a lower-dimensional subspace checked elsewhere)
BIJECT_CASES = {
    "real": (constraints.real, (3,), _identity),
    "real_vector": (constraints.real_vector, (3,), _identity),
    "real_matrix": (constraints.real_matrix, (2, 3), _identity),
    "positive": (constraints.positive, (3,), _identity),
    "nonnegative": (constraints.nonnegative, (3,), _identity),
    "greater_than": (lambda d: constraints.greater_than(jnp.array(LOW, d)), (3,), _identity),
    "greater_than_eq": (constraints.greater_than_eq(2.0), (3,), _identity),
    "less_than": (lambda d: constraints.less_than(jnp.array(HIGH, d)), (3,), _identity),
    "interval": (lambda d: constraints.interval(jnp.array(LOW, d), jnp.array(HIGH, d)), (3,),
                 _identity),
    "open_interval": (lambda d: constraints.open_interval(-2.0, jnp.array(HIGH, d)), (3,),
                      _identity),
    "unit_interval": (constraints.unit_interval, (3,), _identity),
    "independent": (constraints.independent(constraints.interval(0.0, 2.0), 1), (3,), _identity),
    "simplex": (constraints.simplex, (4,), _drop_last),
    "zero_sum": (constraints.zero_sum, (4,), None),
    "ordered_vector": (constraints.ordered_vector, (4,), _identity),
    "positive_ordered_vector": (constraints.positive_ordered_vector, (4,), _identity),
    "lower_cholesky": (constraints.lower_cholesky, (3, 3), _tril),
    "scaled_unit_lower_cholesky": (constraints.scaled_unit_lower_cholesky, (3, 3), _tril),
    "corr_cholesky": (constraints.corr_cholesky, (3, 3), _strict_tril),
    "positive_definite": (constraints.positive_definite, (3, 3), _tril),
    "corr_matrix": (constraints.corr_matrix, (3, 3), _strict_tril),
}


def _constraint(name, dtype):
    constraint = BIJECT_CASES[name][0]
    return constraint if isinstance(constraint, constraints.Constraint) else constraint(dtype)


def _check_bijection(constraint, x, out_coords):
    """One biject_to case; array bounds of the constraint are traced here."""
    transform = biject_to(constraint)
    y = transform(x)
    log_det = transform.log_abs_det_jacobian(x, y)
    event = x[0]
    if out_coords is None:
        actual = expected = jnp.zeros(())
    else:
        jac = jax.jacfwd(lambda v: out_coords(transform(jnp.reshape(v, event.shape))))(
            jnp.reshape(event, (-1,))
        )
        expected = jnp.linalg.slogdet(jac)[1]
        actual = jnp.sum(transform.log_abs_det_jacobian(event, transform(event)))
    return y, transform.inv(y), log_det, constraint(y), transform.codomain(y), actual, expected


@functools.cache
def _bijection_results(dtype_name):
    """All biject_to cases of one dtype in a single compiled function."""
    dtype = jnp.dtype(dtype_name)
    cases = {name: _constraint(name, dtype) for name in BIJECT_CASES}
    inputs = {}
    for name, constraint in cases.items():
        shape = biject_to(constraint).inverse_shape((5,) + BIJECT_CASES[name][1])
        inputs[name] = jax.random.normal(jax.random.PRNGKey(5), shape, dtype)

    @jax.jit
    def run(cases, inputs):
        return {name: _check_bijection(cases[name], inputs[name], BIJECT_CASES[name][2])
                for name in cases}

    return cases, inputs, run(cases, inputs)


@pytest.mark.parametrize("name", sorted(BIJECT_CASES))
def test_biject_to_lands_in_the_constraint(name, float_dtype):
    cases, inputs, results = _bijection_results(jnp.dtype(float_dtype).name)
    constraint, x, event_shape = cases[name], inputs[name], BIJECT_CASES[name][1]
    transform = biject_to(constraint)
    assert transform.codomain.event_dim == constraint.event_dim
    y, x_back, log_det, inside, in_codomain, actual, expected = results[name]
    assert y.shape == (5,) + event_shape and y.dtype == float_dtype
    assert bool(jnp.all(inside)) and bool(jnp.all(in_codomain))
    tol = 2e-3 if float_dtype == jnp.float32 else 1e-8
    np.testing.assert_allclose(x_back, x, rtol=tol, atol=tol)
    assert log_det.shape == x.shape[: x.ndim - transform.domain.event_dim]
    assert bool(jnp.all(jnp.isfinite(log_det)))
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol)


def _sym_from_tril(v):
    lower = T._vec_to_tril(v, 3, 0)
    return lower + jnp.tril(lower, -1).T


def test_cholesky_transform_log_det_on_symmetric_coordinates(x64):
    transform = T.CholeskyTransform()

    @jax.jit
    def actual_and_expected(matrix):
        jac = jax.jacfwd(lambda v: _tril(transform(_sym_from_tril(v))))(_tril(matrix))
        actual = transform.log_abs_det_jacobian(matrix, transform(matrix))
        return actual, jnp.linalg.slogdet(jac)[1]

    actual, expected = actual_and_expected(_pd_matrix(jax.random.PRNGKey(7), jnp.float64))
    np.testing.assert_allclose(actual, expected, rtol=1e-8)


def test_biject_to_with_traced_bounds():
    @jax.jit
    def to_interval(low, high, x):
        transform = biject_to(constraints.interval(low, high))
        y = transform(x)
        return y, transform.log_abs_det_jacobian(x, y), transform.codomain(y)

    low, high = jnp.array([0.0, -3.0]), jnp.array([1.0, 4.0])
    x = jnp.array([0.3, -2.0])
    y, log_det, inside = to_interval(low, high, x)
    np.testing.assert_allclose(y, low + (high - low) * jax.nn.sigmoid(x), rtol=1e-6)
    np.testing.assert_allclose(log_det, jnp.log((high - low) * jax.nn.sigmoid(x)
                                                * jax.nn.sigmoid(-x)), rtol=1e-5)
    assert bool(jnp.all(inside))


def test_biject_to_errors_and_registration():
    with pytest.raises(NotImplementedError, match="no bijection registered for the constraint "
                       "boolean.*Supported constraint types:.*Simplex"):
        biject_to(constraints.boolean)
    with pytest.raises(ValueError, match="dependent constraint"):
        biject_to(constraints.dependent)
    with pytest.raises(TypeError, match="expects a Constraint, got str"):
        biject_to("positive")

    class _Halfway(constraints.Constraint):
        def __call__(self, x):
            return x > 0.5

    with pytest.raises(NotImplementedError, match="no bijection registered"):
        biject_to(_Halfway())

    @biject_to.register(_Halfway)
    def _to_halfway(constraint):
        return T.ComposeTransform(
            [T.ExpTransform(), T.AffineTransform(0.5, 1.0, domain=constraints.positive)]
        )

    assert bool(_Halfway()(biject_to(_Halfway())(-3.0)))
    with pytest.raises(TypeError, match="Constraint class or instance"):
        biject_to.register(int, _to_halfway)


def test_user_defined_transform_is_a_pytree_with_static_ints():
    class RepeatedShift(T.Transform):
        def __init__(self, shift, times):
            self.shift = shift
            self.times = times

        def __call__(self, x):
            return x + self.times * self.shift

        def _inverse(self, y):
            return y - self.times * self.shift

        def log_abs_det_jacobian(self, x, y, intermediates=None):
            return jnp.zeros_like(x)

    transform = RepeatedShift(jnp.array(0.5), 3)
    assert jax.tree_util.tree_leaves(transform) == [transform.shift]
    y = jax.jit(lambda t, x: t(x))(transform, 1.0)
    assert float(y) == 2.5
    assert float(transform.inverse(y)) == 1.0
    assert "RepeatedShift(shift=<array ()>, times=3)" == repr(transform)
