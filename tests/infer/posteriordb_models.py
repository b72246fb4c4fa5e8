"""posteriordb posteriors written as hierax models, with their data loaders.

Each model transcribes one Stan program of posteriordb (Magnusson, Bürkner &
Vehtari 2023, "posteriordb: Testing, Benchmarking and Developing Bayesian
Inference Algorithms", arXiv:2407.04967) statement by statement: the same
priors (flat priors of constrained Stan parameters become
``dist.ImproperUniform`` on the same support), the same likelihood, and Stan's
transformed parameters as ``deterministic`` sites with Stan's names. Stan's
``transformed data`` block is computed once by the loader, in NumPy.

Site values map to Stan's names with 1-based indices (``beta[1]``, ...), the
names used by posteriordb's reference draws; see :func:`stan_draws`.

The reference moments that the tests compare against are computed from the
full reference draws by :func:`reference_moments` (regenerate the file with
:func:`write_reference_moments`).
"""

from __future__ import annotations

import itertools
import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import hierax as numpyro
import hierax.distributions as dist
from hierax.distributions import constraints

LOCAL_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "posteriordb"
SHARED_DIR = Path(__file__).resolve().parents[3] / "shared" / "posteriordb"
MOMENTS_FILE = "reference_moments.json"


# ----------------------------------------------------------------------------
# Models (one per Stan program).


def eight_schools_noncentered(sigma, y=None):
    """``eight_schools_noncentered.stan``; ``sigma``, ``y``: shape ``(J,)``."""
    num_schools = sigma.shape[0]
    theta_trans = numpyro.sample("theta_trans", dist.Normal(0.0, 1.0).expand([num_schools]))
    mu = numpyro.sample("mu", dist.Normal(0.0, 5.0))
    tau = numpyro.sample("tau", dist.HalfCauchy(5.0))
    theta = numpyro.deterministic("theta", theta_trans * tau + mu)
    numpyro.sample("y", dist.Normal(theta, sigma), obs=y)


def blr(X, y=None):
    """``blr.stan``: Bayesian linear regression; ``X``: ``(N, D)``, ``y``: ``(N,)``."""
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([X.shape[1]]))
    sigma = numpyro.sample("sigma", dist.HalfNormal(10.0))
    numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def flat_linear_regression(X, y=None):
    """Linear regression with flat priors on ``beta`` (real) and ``sigma`` (positive).

    The form shared by ``logearn_interaction.stan``, ``logmesquite_logvas.stan`` and
    ``nes.stan``, whose ``transformed data`` blocks build the columns of ``X``
    (an intercept column of ones first, so ``beta[1]`` is the intercept).
    ``X``: ``(N, K)``, ``y``: ``(N,)``.
    """
    beta = numpyro.sample(
        "beta", dist.ImproperUniform(constraints.real_vector, (), (X.shape[1],))
    )
    sigma = numpyro.sample("sigma", dist.ImproperUniform(constraints.positive, (), ()))
    numpyro.sample("y", dist.Normal(X @ beta, sigma), obs=y)


def kidscore_momiq(mom_iq, kid_score=None):
    """``kidscore_momiq.stan``: flat ``beta``, half-Cauchy(2.5) ``sigma``; data ``(N,)``."""
    beta = numpyro.sample("beta", dist.ImproperUniform(constraints.real_vector, (), (2,)))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
    numpyro.sample("kid_score", dist.Normal(beta[0] + beta[1] * mom_iq, sigma), obs=kid_score)


def kilpisjarvi(x, prior, y=None):
    """``kilpisjarvi.stan``; ``x``, ``y``: ``(N,)``; ``prior``: ``(pmualpha, psalpha,
    pmubeta, psbeta)``, shape ``(4,)``."""
    alpha = numpyro.sample("alpha", dist.Normal(prior[0], prior[1]))
    beta = numpyro.sample("beta", dist.Normal(prior[2], prior[3]))
    sigma = numpyro.sample("sigma", dist.ImproperUniform(constraints.positive, (), ()))
    numpyro.sample("y", dist.Normal(alpha + beta * x, sigma), obs=y)


def ar_k(y, order):
    """``arK.stan``: AR(K) with an intercept; ``y``: ``(T,)``, ``order`` = K (static int)."""
    alpha = numpyro.sample("alpha", dist.Normal(0.0, 10.0))
    beta = numpyro.sample("beta", dist.Normal(0.0, 10.0).expand([order]))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
    num_steps = y.shape[0]
    # lags[t, k] = y[t - k - 1] for t = K, ..., T - 1 (0-based)
    lags = jnp.stack([y[order - k - 1:num_steps - k - 1] for k in range(order)], axis=-1)
    numpyro.sample("y", dist.Normal(alpha + lags @ beta, sigma), obs=y[order:])


def arma11(y):
    """``arma11.stan``: ARMA(1, 1) with ``err[0] = 0``; ``y``: ``(T,)``."""
    mu = numpyro.sample("mu", dist.Normal(0.0, 10.0))
    phi = numpyro.sample("phi", dist.Normal(0.0, 2.0))
    theta = numpyro.sample("theta", dist.Normal(0.0, 2.0))
    sigma = numpyro.sample("sigma", dist.HalfCauchy(2.5))
    first_err = y[0] - (mu + phi * mu)

    def step(prev_err, y_pair):
        y_prev, y_now = y_pair
        err = y_now - (mu + phi * y_prev + theta * prev_err)
        return err, err

    _, errs = jax.lax.scan(step, first_err, (y[:-1], y[1:]))
    err = jnp.concatenate([first_err[None], errs])
    numpyro.factor("err", dist.Normal(0.0, sigma).log_prob(err).sum())


def garch11(y, sigma1):
    """``garch11.stan``: GARCH(1, 1) with flat priors; ``y``: ``(T,)``, ``sigma1`` scalar."""
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.real, (), ()))
    alpha0 = numpyro.sample("alpha0", dist.ImproperUniform(constraints.positive, (), ()))
    alpha1 = numpyro.sample("alpha1", dist.ImproperUniform(constraints.unit_interval, (), ()))
    beta1 = numpyro.sample(
        "beta1", dist.ImproperUniform(constraints.interval(0.0, 1.0 - alpha1), (), ())
    )

    def step(prev_sigma, y_prev):
        sigma = jnp.sqrt(alpha0 + alpha1 * jnp.square(y_prev - mu) + beta1 * prev_sigma**2)
        return sigma, sigma

    first = jnp.asarray(sigma1, dtype=y.dtype)
    _, rest = jax.lax.scan(step, first, y[:-1])
    sigma = jnp.concatenate([first[None], rest])
    numpyro.sample("y", dist.Normal(mu, sigma), obs=y)


def low_dim_gauss_mix(y):
    """``low_dim_gauss_mix.stan``: two-component normal mixture, ordered means; ``y``: ``(N,)``."""
    mu = numpyro.sample("mu", dist.ImproperUniform(constraints.ordered_vector, (), (2,)))
    numpyro.factor("mu_prior", dist.Normal(0.0, 2.0).log_prob(mu).sum())
    sigma = numpyro.sample("sigma", dist.HalfNormal(2.0).expand([2]).to_event(1))
    theta = numpyro.sample("theta", dist.Beta(5.0, 5.0))
    weights = jnp.stack([theta, 1.0 - theta])
    mixture = dist.MixtureSameFamily(dist.Categorical(probs=weights), dist.Normal(mu, sigma))
    numpyro.sample("y", mixture.expand(y.shape), obs=y)


def gp_regr(x, y):
    """``gp_regr.stan``: GP regression, exp-quad kernel plus ``sigma`` (not squared) on
    the diagonal; ``x``, ``y``: ``(N,)``."""
    rho = numpyro.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = numpyro.sample("alpha", dist.HalfNormal(2.0))
    sigma = numpyro.sample("sigma", dist.HalfNormal(1.0))
    cov = exp_quad_cov(x, alpha, rho) + sigma * jnp.eye(x.shape[0], dtype=x.dtype)
    scale_tril = jnp.linalg.cholesky(cov)
    numpyro.sample("y", dist.MultivariateNormal(jnp.zeros_like(x), scale_tril=scale_tril), obs=y)


def gp_pois_regr(x, k):
    """``gp_pois_regr.stan``: latent GP (non-centred), Poisson counts; ``x``, ``k``: ``(N,)``."""
    rho = numpyro.sample("rho", dist.Gamma(25.0, 4.0))
    alpha = numpyro.sample("alpha", dist.HalfNormal(2.0))
    f_tilde = numpyro.sample("f_tilde", dist.Normal(0.0, 1.0).expand([x.shape[0]]))
    cov = exp_quad_cov(x, alpha, rho) + 1e-10 * jnp.eye(x.shape[0], dtype=x.dtype)
    f = numpyro.deterministic("f", jnp.linalg.cholesky(cov) @ f_tilde)
    numpyro.sample("k", dist.Poisson(jnp.exp(f)), obs=k)


def hmm_example(y, num_states):
    """``hmm_example.stan``: two-state HMM, unit-variance normal emissions, forward
    algorithm; ``y``: ``(N,)``. ``theta1`` / ``theta2`` are the transition rows."""
    flat_simplex = dist.ImproperUniform(constraints.simplex, (), (num_states,))
    theta1 = numpyro.sample("theta1", flat_simplex)
    theta2 = numpyro.sample("theta2", flat_simplex)
    mu = numpyro.sample(
        "mu", dist.ImproperUniform(constraints.positive_ordered_vector, (), (num_states,))
    )
    numpyro.factor("mu_prior", dist.Normal(3.0, 1.0).log_prob(mu[0])
                   + dist.Normal(10.0, 1.0).log_prob(mu[1]))
    log_transition = jnp.log(jnp.stack([theta1, theta2]))  # [from, to]
    emission = dist.Normal(mu, 1.0).log_prob(y[:, None])  # (N, K)

    def forward(gamma, emission_t):
        gamma = jax.nn.logsumexp(gamma[:, None] + log_transition, axis=0) + emission_t
        return gamma, None

    gamma, _ = jax.lax.scan(forward, emission[0], emission[1:])
    numpyro.factor("y", jax.nn.logsumexp(gamma))


def diamonds(Xc, y=None):
    """``diamonds.stan`` (brms): regression on centred predictors ``Xc`` ``(N, K - 1)``,
    Student-t priors on the intercept and (half-t) on ``sigma``."""
    b = numpyro.sample("b", dist.Normal(0.0, 1.0).expand([Xc.shape[1]]))
    intercept = numpyro.sample("Intercept", dist.StudentT(3.0, 8.0, 10.0))
    sigma = numpyro.sample("sigma", dist.ImproperUniform(constraints.positive, (), ()))
    numpyro.factor("sigma_prior", dist.StudentT(3.0, 0.0, 10.0).log_prob(sigma))
    numpyro.sample("y", dist.Normal(intercept + Xc @ b, sigma), obs=y)


def exp_quad_cov(x, alpha, rho):
    """Stan's ``gp_exp_quad_cov``: ``alpha^2 exp(-(x_i - x_j)^2 / (2 rho^2))``, ``(N, N)``."""
    sq_dist = jnp.square(x[:, None] - x[None, :])
    return alpha**2 * jnp.exp(-0.5 * sq_dist / rho**2)


# ----------------------------------------------------------------------------
# Data: Stan's data (and transformed data) as model arguments.


def _columns(*cols):
    return np.stack([np.ones_like(cols[0])] + list(cols), axis=-1)


def _earnings(d):
    height, male = np.asarray(d["height"], float), np.asarray(d["male"], float)
    X = _columns(height, male, height * male)
    return (X,), {"y": np.log(np.asarray(d["earn"], float))}


def _mesquite(d):
    d = {k: np.asarray(v, float) for k, v in d.items()}
    X = _columns(np.log(d["diam1"] * d["diam2"] * d["canopy_height"]),
                 np.log(d["diam1"] * d["diam2"]), np.log(d["diam1"] / d["diam2"]),
                 np.log(d["total_height"]), np.log(d["density"]), d["group"])
    return (X,), {"y": np.log(d["weight"])}


def _nes(d):
    f = {k: np.asarray(v, float) for k, v in d.items()}
    age = np.asarray(d["age_discrete"])
    X = _columns(f["real_ideo"], f["race_adj"], (age == 2).astype(float),
                 (age == 3).astype(float), (age == 4).astype(float), f["educ1"],
                 f["gender"], f["income"])
    return (X,), {"y": f["partyid7"]}


def _diamonds(d):
    X = np.asarray(d["X"], float)
    return (X[:, 1:] - X[:, 1:].mean(axis=0),), {"y": np.asarray(d["Y"], float)}


def _f(v):
    return np.asarray(v, float)


@dataclass(frozen=True)
class Posterior:
    """One posteriordb posterior: the hierax model, its data, and how to sample it.

    ``args_fn(data) -> (args, kwargs)`` turns posteriordb's data dict into model
    arguments (NumPy arrays, converted to the active float dtype by
    :func:`model_inputs`; Python ints stay static). ``stan_sites``: the sites
    compared with the reference, named as in Stan. ``nuts``: keyword arguments for
    ``NUTS``. ``x64``: whether the model needs float64 for an accurate posterior.
    """

    name: str
    data_name: str
    model: Callable
    args_fn: Callable
    stan_sites: tuple[str, ...]
    nuts: dict = field(default_factory=dict)
    x64: bool = False


POSTERIORS = {
    p.name: p
    for p in [
        Posterior("eight_schools-eight_schools_noncentered", "eight_schools",
                  eight_schools_noncentered,
                  lambda d: ((_f(d["sigma"]),), {"y": _f(d["y"])}),
                  ("theta", "mu", "tau"), {"target_accept_prob": 0.9}),
        Posterior("sblrc-blr", "sblrc", blr,
                  lambda d: ((_f(d["X"]),), {"y": _f(d["y"])}), ("beta", "sigma"),
                  # posterior sds of beta are ~1e-3: Stan's shrinkage of the adapted
                  # mass matrix towards 1e-3 I would swamp them (ESS of sigma ~600
                  # per 4000 draws with it, ~4600 without).
                  {"dense_mass": True, "regularize_mass_matrix": False}),
        Posterior("earnings-logearn_interaction", "earnings", flat_linear_regression,
                  _earnings, ("beta", "sigma"), {"dense_mass": True}),
        Posterior("mesquite-logmesquite_logvas", "mesquite", flat_linear_regression,
                  _mesquite, ("beta", "sigma"), {"dense_mass": True}),
        Posterior("nes2000-nes", "nes2000", flat_linear_regression, _nes,
                  ("beta", "sigma"), {"dense_mass": True}),
        Posterior("kidiq-kidscore_momiq", "kidiq", kidscore_momiq,
                  lambda d: ((_f(d["mom_iq"]),), {"kid_score": _f(d["kid_score"])}),
                  ("beta", "sigma"), {"dense_mass": True}),
        Posterior("kilpisjarvi_mod-kilpisjarvi", "kilpisjarvi_mod", kilpisjarvi,
                  lambda d: ((_f(d["x"]), _f([d["pmualpha"], d["psalpha"], d["pmubeta"],
                                               d["psbeta"]])), {"y": _f(d["y"])}),
                  ("alpha", "beta", "sigma"), {"dense_mass": True}),
        Posterior("arK-arK", "arK", ar_k,
                  lambda d: ((_f(d["y"]), int(d["K"])), {}), ("alpha", "beta", "sigma")),
        Posterior("arma-arma11", "arma", arma11, lambda d: ((_f(d["y"]),), {}),
                  ("mu", "phi", "theta", "sigma")),
        Posterior("garch-garch11", "garch", garch11,
                  lambda d: ((_f(d["y"]), float(d["sigma1"])), {}),
                  ("mu", "alpha0", "alpha1", "beta1")),
        Posterior("low_dim_gauss_mix-low_dim_gauss_mix", "low_dim_gauss_mix",
                  low_dim_gauss_mix, lambda d: ((_f(d["y"]),), {}),
                  ("mu", "sigma", "theta")),
        Posterior("gp_pois_regr-gp_regr", "gp_pois_regr", gp_regr,
                  lambda d: ((_f(d["x"]), _f(d["y"])), {}), ("rho", "alpha", "sigma")),
        Posterior("gp_pois_regr-gp_pois_regr", "gp_pois_regr", gp_pois_regr,
                  lambda d: ((_f(d["x"]), _f(d["k"])), {}), ("rho", "alpha", "f"),
                  {"target_accept_prob": 0.95}, x64=True),
        Posterior("hmm_example-hmm_example", "hmm_example", hmm_example,
                  lambda d: ((_f(d["y"]), int(d["K"])), {}), ("theta1", "theta2", "mu")),
        Posterior("diamonds-diamonds", "diamonds", diamonds, _diamonds,
                  ("b", "Intercept", "sigma"), {"dense_mass": True}),
    ]
}


def _read_zipped_json(path: Path):
    with zipfile.ZipFile(path) as archive:
        (member,) = archive.namelist()
        return json.loads(archive.read(member))


def load_data(data_name: str, root: Path | None = None) -> dict:
    """posteriordb's data dict ``data/DATA.json.zip`` from ``root`` (default: local copy)."""
    root = LOCAL_DATA_DIR if root is None else Path(root)
    return _read_zipped_json(root / "data" / f"{data_name}.json.zip")


def model_inputs(posterior: Posterior, root: Path | None = None):
    """``(args, kwargs)`` for ``posterior.model`` as JAX arrays of the active float dtype."""
    args, kwargs = posterior.args_fn(load_data(posterior.data_name, root))
    dtype = jnp.zeros(()).dtype  # float32, or float64 under ``jax.enable_x64``

    def convert(value):
        return jnp.asarray(value, dtype) if isinstance(value, np.ndarray) else value

    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}


# ----------------------------------------------------------------------------
# Stan names and reference moments.


def stan_draws(samples: dict, sites) -> dict[str, np.ndarray]:
    """Flatten ``{site: (chains, draws, *shape)}`` to Stan names with 1-based indices.

    ``beta`` of shape ``(C, D, 2)`` becomes ``beta[1]``, ``beta[2]``; a matrix site
    ``x`` becomes ``x[1,1]``, ``x[1,2]``, ... (row-major, as Stan writes them).
    Returns ``{name: (chains, draws)}`` float64 arrays.
    """
    out = {}
    for site in sites:
        value = np.asarray(samples[site], dtype=np.float64)
        event_shape = value.shape[2:]
        if not event_shape:
            out[site] = value
            continue
        for index in itertools.product(*(range(n) for n in event_shape)):
            label = ",".join(str(i + 1) for i in index)
            out[f"{site}[{label}]"] = value[(slice(None), slice(None)) + index]
    return out


def load_reference_draws(name: str, root: Path = SHARED_DIR) -> dict[str, np.ndarray]:
    """Full reference draws ``{stan_name: (10, 1000)}`` from a posteriordb folder."""
    chains = _read_zipped_json(Path(root) / "reference_draws" / f"{name}.json.zip")
    return {key: np.array([chain[key] for chain in chains]) for key in chains[0]}


def reference_moments(root: Path = SHARED_DIR, names=None) -> dict:
    """``{posterior: {stan_name: {"mean", "sd", "n"}}}`` over all reference draws.

    ``sd`` uses ``ddof=1``; ``n`` is the number of draws pooled over chains.
    Posteriors without reference draws under ``root`` are skipped.
    """
    names = sorted(POSTERIORS) if names is None else names
    moments = {}
    for name in names:
        if not (Path(root) / "reference_draws" / f"{name}.json.zip").exists():
            continue
        moments[name] = {
            key: {"mean": float(draws.mean()), "sd": float(draws.std(ddof=1)),
                  "n": int(draws.size)}
            for key, draws in load_reference_draws(name, root).items()
        }
    return moments


def write_reference_moments(root: Path = SHARED_DIR, out_dir: Path = LOCAL_DATA_DIR) -> Path:
    """Recompute ``reference_moments.json`` from the posteriordb folder ``root``."""
    path = Path(out_dir) / MOMENTS_FILE
    path.write_text(json.dumps(reference_moments(root), indent=1, sort_keys=True) + "\n")
    return path


def load_reference_moments(path: Path | None = None) -> dict:
    """The stored moments ``{posterior: {stan_name: {"mean", "sd", "n"}}}``."""
    path = LOCAL_DATA_DIR / MOMENTS_FILE if path is None else Path(path)
    return json.loads(Path(path).read_text())


# ----------------------------------------------------------------------------
# Running NUTS and comparing with the reference.

MEAN_TOLERANCE = 0.1  # |mean - ref mean| / ref sd, Stan's benchmark pass rule
SD_TOLERANCE = 0.1  # |sd / ref sd - 1|


def run_nuts(posterior: Posterior, *, seed=0, num_chains=4, num_warmup=1000, num_samples=1000,
             root: Path | None = None):
    """Sample ``posterior`` with NUTS (vectorised chains) in the active float dtype.

    Returns ``(draws, num_divergent)``: ``draws`` maps Stan names to
    ``(num_chains, num_samples)`` float64 arrays.
    """
    from hierax.infer import MCMC, NUTS

    args, kwargs = model_inputs(posterior, root)
    mcmc = MCMC(NUTS(posterior.model, **posterior.nuts), num_warmup=num_warmup,
                num_samples=num_samples, num_chains=num_chains, chain_method="vectorized",
                progress_bar=False)
    mcmc.run(jax.random.PRNGKey(seed), *args, extra_fields=("diverging",), **kwargs)
    samples = mcmc.get_samples(group_by_chain=True)
    num_divergent = int(np.asarray(mcmc.get_extra_fields()["diverging"]).sum())
    return stan_draws(samples, posterior.stan_sites), num_divergent


@dataclass(frozen=True)
class Comparison:
    """One parameter against its reference: ``z = |mean - ref_mean| / ref_sd``."""

    name: str
    ref_mean: float
    mean: float
    z: float
    sd_ratio: float
    ess: float
    r_hat: float

    @property
    def passed(self) -> bool:
        return self.z < MEAN_TOLERANCE and abs(self.sd_ratio - 1.0) < SD_TOLERANCE


def compare(draws: dict, reference: dict) -> list[Comparison]:
    """Compare ``{stan_name: (chains, draws)}`` with ``{stan_name: {"mean", "sd"}}``.

    Every reference parameter must be present in ``draws`` (``KeyError`` otherwise).
    """
    from hierax.diagnostics import ess_bulk, rhat

    rows = []
    for name, ref in reference.items():
        chains = draws[name]
        mean, sd = float(chains.mean()), float(chains.std(ddof=1))
        rows.append(Comparison(
            name, ref["mean"], mean, abs(mean - ref["mean"]) / ref["sd"], sd / ref["sd"],
            float(ess_bulk(chains[..., None])[0]), float(rhat(chains[..., None])[0]),
        ))
    return rows
