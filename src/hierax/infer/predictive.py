"""Draws from a model's prior or posterior predictive distribution.

``Predictive(model, num_samples=1000)(key, *args)`` runs the model forward
``num_samples`` times (prior predictive). Given ``posterior_samples`` it runs
the model once per posterior draw with the latent sites fixed to that draw
(posterior predictive), recomputing deterministic sites; ``params`` fixes
sites to one value for every draw (e.g. to make fake data from known
parameters). Observed sites are returned when their ``obs`` argument is None.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp

from hierax.handlers import seed, substitute, trace

__all__ = ["Predictive"]


class Predictive:
    """Prior and posterior predictive draws (NumPyro's ``Predictive``).

    Args:
        model: the model.
        posterior_samples: dict site -> array with ``batch_ndims`` leading
            draw dims, e.g. from ``mcmc.get_samples()``.
        params: dict site -> value, fixed for every draw.
        num_samples: number of draws; required without ``posterior_samples``.
        return_sites: names of the sites to return (default: every sample
            site not in ``posterior_samples``, and every deterministic site).
        parallel: run the draws with ``vmap`` (faster, more memory) instead
            of a sequential ``lax.map``.
        batch_ndims: number of leading draw dims of ``posterior_samples``
            (1, or 2 for ``(chains, draws)``).
        exclude_deterministic: recompute deterministic sites instead of taking
            them from ``posterior_samples`` (default True).

    Calling ``predictive(rng_key, *args, **kwargs)`` returns a dict site ->
    array of shape ``draws + site shape``.
    """

    def __init__(self, model, posterior_samples=None, *, guide=None, params=None,
                 num_samples=None, return_sites=None, infer_discrete=False, parallel=False,
                 batch_ndims=None, exclude_deterministic=True):
        if guide is not None:
            raise NotImplementedError("Predictive with a guide is not supported by hierax yet.")
        if infer_discrete:
            raise NotImplementedError("Predictive(infer_discrete=True) is not supported yet.")
        if posterior_samples is None and num_samples is None:
            raise ValueError(
                "Predictive needs num_samples= when no posterior_samples are given."
            )
        batch_ndims = 1 if batch_ndims is None else batch_ndims
        if batch_ndims not in (1, 2):
            raise ValueError(f"Predictive: batch_ndims must be 1 or 2, got {batch_ndims}.")
        self.model = model
        self.posterior_samples = dict(posterior_samples or {})
        self.params = dict(params or {})
        self.return_sites = None if return_sites is None else list(return_sites)
        self.parallel = parallel
        self.batch_ndims = batch_ndims
        self.exclude_deterministic = exclude_deterministic
        self.batch_shape = self._batch_shape(num_samples)
        self.num_samples = math.prod(self.batch_shape)

    def _batch_shape(self, num_samples):
        if not self.posterior_samples:
            if self.batch_ndims != 1:
                raise ValueError("Predictive: batch_ndims=2 needs posterior_samples.")
            return (int(num_samples),)
        shapes = {
            jnp.shape(v)[: self.batch_ndims]
            for v in jax.tree_util.tree_leaves(self.posterior_samples)
        }
        if len(shapes) != 1:
            raise ValueError(
                f"Predictive: posterior_samples disagree on their leading draw dims: "
                f"{sorted(shapes)}."
            )
        shape = shapes.pop()
        if num_samples is not None and num_samples != math.prod(shape):
            warnings.warn(
                f"Predictive: num_samples={num_samples} differs from the {shape} draws in "
                "posterior_samples; using the posterior draws.",
                stacklevel=3,
            )
        return shape

    def _substitution(self, sample):
        """The values fixed in one run: posterior draw of latent sites, then ``params``."""
        data = {**sample, **self.params}
        exclude_deterministic = self.exclude_deterministic
        params = self.params

        def substitute_fn(site):
            if site["name"] not in data:
                return None
            if site["type"] == "deterministic" and exclude_deterministic and (
                site["name"] not in params
            ):
                return None
            return data[site["name"]]

        return substitute_fn

    def _single_draw(self, args, kwargs):
        def draw(key, sample):
            model = substitute(seed(self.model, rng_seed=key),
                               substitute_fn=self._substitution(sample))
            model_trace = trace(model).get_trace(*args, **kwargs)
            return {name: site["value"] for name, site in model_trace.items()
                    if name in self._sites_to_return(model_trace)}

        return draw

    def _sites_to_return(self, model_trace):
        if self.return_sites is not None:
            return set(self.return_sites)
        return {
            name for name, site in model_trace.items()
            if (site["type"] == "sample" and name not in self.posterior_samples
                and not site["infer"].get("is_auxiliary", False))
            or site["type"] == "deterministic"
        }

    def __call__(self, rng_key, *args, **kwargs):
        flat_samples = jax.tree_util.tree_map(
            lambda x: jnp.reshape(x, (self.num_samples,) + jnp.shape(x)[self.batch_ndims:]),
            self.posterior_samples,
        )
        keys = jax.random.split(rng_key, self.num_samples)
        draw = self._single_draw(args, kwargs)
        if self.parallel:
            out = jax.vmap(draw)(keys, flat_samples)
        else:
            out = jax.lax.map(lambda pair: draw(*pair), (keys, flat_samples))
        if self.return_sites is not None:
            missing = set(self.return_sites) - set(out)
            if missing:
                raise ValueError(
                    f"Predictive: return_sites {sorted(missing)} are not sites of the model."
                )
        return jax.tree_util.tree_map(
            lambda x: jnp.reshape(x, self.batch_shape + jnp.shape(x)[1:]), out
        )
