"""Effect handlers: composable program transformations of a model.

Each handler wraps a model (``seed(model, rng_seed=0)``) or is used as a
context manager (``with seed(rng_seed=0): model()``) and changes what the
model's primitives do:

========================  =====================================================
``seed``                  give every random site its own key
``trace``                 record every site (name, type, fn, value, ...)
``condition``             observe sites at given values
``substitute``            set sites to given values (without observing them)
``replay``                reuse the values of a recorded trace
``block``                 hide sites from the handlers outside
``scale``                 multiply log densities by a factor
``mask``                  zero the log densities where a mask is false
``reparam``               rewrite sites with a reparameterizer
``scope``                 prefix site names
``do``                    intervene on sites (causal ``do``-operator)
``lift``                  turn ``param`` sites into ``sample`` sites with a prior
``infer_config``          attach inference hints to sites
``uncondition``           treat observed sites as latent again
========================  =====================================================

Example::

    >>> import jax.numpy as jnp
    >>> import hierax
    >>> import hierax.distributions as dist
    >>> from hierax import handlers
    >>> def model():
    ...     x = hierax.sample("x", dist.Normal(0.0, 1.0))
    ...     hierax.sample("y", dist.Normal(x, 1.0), obs=0.5)
    >>> tr = handlers.trace(handlers.seed(model, rng_seed=0)).get_trace()
    >>> [(name, site["is_observed"]) for name, site in tr.items()]
    [('x', False), ('y', True)]
"""

from __future__ import annotations

from collections import OrderedDict

import jax
import jax.numpy as jnp
import numpy as np

from hierax._messenger import Messenger, apply_stack

__all__ = [
    "Messenger",
    "block",
    "condition",
    "do",
    "infer_config",
    "lift",
    "mask",
    "reparam",
    "replay",
    "scale",
    "scope",
    "seed",
    "substitute",
    "trace",
    "uncondition",
]


class trace(Messenger):
    """Record every site of one run of the model.

    ``trace(model).get_trace(*args, **kwargs)`` runs the model and returns an
    ordered dict ``name -> site``; a site is a dict with ``type``, ``name``,
    ``fn``, ``args``, ``kwargs``, ``value``, ``scale``, ``is_observed``,
    ``intermediates``, ``cond_indep_stack`` and ``infer``.
    """

    def __enter__(self):
        super().__enter__()
        self.trace = OrderedDict()
        return self.trace

    def postprocess_message(self, msg):
        if msg["type"] in ("subsample", "mask", "prng_key") or msg.get("name") is None:
            return
        name = msg["name"]
        if name in self.trace:
            raise ValueError(
                f"site name '{name}' is used twice ({self.trace[name]['type']} and "
                f"{msg['type']}); every site needs a unique name. Rename one, or wrap repeated "
                "sub-models in hierax.handlers.scope(prefix=...)."
            )
        self.trace[name] = msg.copy()

    def get_trace(self, *args, **kwargs):
        """Run the model with ``args``/``kwargs`` and return its trace."""
        self(*args, **kwargs)
        return self.trace


class seed(Messenger):
    """Give each random site (and ``prng_key()``) its own key split from ``rng_seed``.

    Args:
        fn: the model.
        rng_seed: an int or a ``jax.random`` key.
        hide_types: site types that should not receive keys.

    Calling the seeded model again continues the key sequence (new draws). When
    the model is traced by ``jit``/``vmap``, the key is restored on exit so no
    tracer escapes: each traced call starts from the same key.
    """

    def __init__(self, fn=None, rng_seed=None, hide_types=None):
        if rng_seed is None:
            raise ValueError("seed: rng_seed is required (an int or a jax.random key).")
        if isinstance(rng_seed, (int, np.integer)):
            rng_seed = jax.random.PRNGKey(int(rng_seed))
        elif not (hasattr(rng_seed, "dtype") and (
            jnp.issubdtype(rng_seed.dtype, jax.dtypes.prng_key)
            or (rng_seed.dtype == jnp.uint32 and jnp.shape(rng_seed)[-1:] == (2,))
        )):
            raise TypeError(
                f"seed: rng_seed must be an int or a jax.random key, got {rng_seed!r}."
            )
        self.rng_key = rng_seed
        self.hide_types = tuple(hide_types or ())
        super().__init__(fn)

    def __enter__(self):
        self._key_on_entry = self.rng_key
        return super().__enter__()

    def __exit__(self, *exc):
        if isinstance(self.rng_key, jax.core.Tracer):
            self.rng_key = self._key_on_entry
        return super().__exit__(*exc)

    def process_message(self, msg):
        if msg["type"] in self.hide_types or msg["type"] not in _KEYED_SITE_TYPES:
            return
        if msg["value"] is not None or msg["kwargs"].get("rng_key") is not None:
            return
        self.rng_key, msg["kwargs"]["rng_key"] = jax.random.split(self.rng_key)


_KEYED_SITE_TYPES = ("sample", "prng_key", "plate", "control_flow")


def _lookup(data, fn, msg, handler_name):
    if data is not None:
        return data.get(msg["name"])
    if fn is not None:
        return fn(msg)
    raise ValueError(f"{handler_name}: give either data= or a function.")


class substitute(Messenger):
    """Set sites to values from ``data`` (a dict) or ``substitute_fn(site)``, unobserved.

    Applies to ``sample``, ``param``, ``deterministic`` and ``plate`` sites.
    """

    def __init__(self, fn=None, data=None, substitute_fn=None):
        if (data is None) == (substitute_fn is None):
            raise ValueError("substitute: give exactly one of data= and substitute_fn=.")
        self.data = data
        self.substitute_fn = substitute_fn
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] not in ("sample", "param", "deterministic", "plate"):
            return
        value = _lookup(self.data, self.substitute_fn, msg, "substitute")
        if value is not None:
            msg["value"] = value


class condition(Messenger):
    """Observe ``sample`` sites at values from ``data`` or ``condition_fn(site)``."""

    def __init__(self, fn=None, data=None, condition_fn=None):
        if (data is None) == (condition_fn is None):
            raise ValueError("condition: give exactly one of data= and condition_fn=.")
        self.data = data
        self.condition_fn = condition_fn
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "sample":
            return
        value = _lookup(self.data, self.condition_fn, msg, "condition")
        if value is not None:
            msg["value"] = value
            msg["is_observed"] = True


class replay(Messenger):
    """Give latent ``sample`` (and ``plate``) sites the values recorded in ``trace``."""

    def __init__(self, fn=None, trace=None):
        if trace is None:
            raise ValueError("replay: a trace (dict name -> site) is required.")
        self.trace = trace
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] not in ("sample", "plate") or msg["name"] not in self.trace:
            return
        if msg["type"] == "sample" and msg["is_observed"]:
            return
        recorded = self.trace[msg["name"]]
        if recorded["type"] != msg["type"]:
            raise ValueError(
                f"replay: site '{msg['name']}' is a {msg['type']} site but the trace has a "
                f"{recorded['type']} site of that name."
            )
        msg["value"] = recorded["value"]


class block(Messenger):
    """Hide sites from the handlers outside this one.

    Args:
        hide_fn: ``site -> bool``, true to hide.
        hide: names to hide.
        expose_types: site types to keep visible (everything else hidden).
        expose: names to keep visible (everything else hidden).

    With no argument every site is hidden.
    """

    def __init__(self, fn=None, hide_fn=None, hide=None, expose_types=None, expose=None):
        if hide_fn is not None:
            self.hide_fn = hide_fn
        elif hide is not None:
            hidden = set(hide)
            self.hide_fn = lambda msg: msg.get("name") in hidden
        elif expose_types is not None:
            exposed_types = set(expose_types)
            self.hide_fn = lambda msg: msg["type"] not in exposed_types
        elif expose is not None:
            exposed = set(expose)
            self.hide_fn = lambda msg: msg.get("name") not in exposed
        else:
            self.hide_fn = lambda msg: True
        super().__init__(fn)

    def process_message(self, msg):
        if self.hide_fn(msg):
            msg["stop"] = True


class scale(Messenger):
    """Multiply the log density of every ``sample`` site by ``scale`` (> 0)."""

    def __init__(self, fn=None, scale=1.0):
        if not isinstance(scale, jax.core.Tracer) and not bool(jnp.all(jnp.asarray(scale) > 0)):
            raise ValueError(f"scale: the factor must be positive, got {scale!r}.")
        self.scale = scale
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] not in ("sample", "param", "plate"):
            return
        msg["scale"] = self.scale if msg.get("scale") is None else self.scale * msg["scale"]


class mask(Messenger):
    """Keep log densities only where the boolean ``mask`` is true.

    ``mask`` broadcasts against each site's batch shape; a Python ``False``
    removes the sites' contribution altogether.
    """

    def __init__(self, fn=None, mask=True):
        if not isinstance(mask, bool):
            mask = jnp.asarray(mask)
            if mask.dtype != jnp.bool_:
                raise TypeError(f"mask: the mask must be boolean, got dtype {mask.dtype}.")
        self.mask = mask
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] == "mask":
            msg["value"] = self.mask if msg["value"] is None else msg["value"] & self.mask
            return
        if msg["type"] != "sample":
            return
        msg["fn"] = msg["fn"].mask(self.mask)


class reparam(Messenger):
    """Rewrite ``sample`` sites with reparameterizers (see :mod:`hierax.infer.reparam`).

    Args:
        config: a dict ``site name -> reparameterizer`` or a function
            ``site -> reparameterizer or None``.

    A reparameterizer is called as ``reparameterizer(name, fn, obs)`` and
    returns ``(new_fn, value)``: the site's new distribution (or None to turn
    the site into a deterministic one) and its value (or None).
    """

    def __init__(self, fn=None, config=None):
        if not (isinstance(config, dict) or callable(config)):
            raise TypeError("reparam: config must be a dict name -> reparameterizer or a function.")
        self.config = config
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "sample":
            return
        if isinstance(self.config, dict):
            reparameterizer = self.config.get(msg["name"])
        else:
            reparameterizer = self.config(msg)
        if reparameterizer is None:
            return
        new_fn, value = reparameterizer(msg["name"], msg["fn"], msg["value"])
        if value is not None:
            if new_fn is None:
                for key in list(msg):
                    if key not in ("type", "name", "value", "cond_indep_stack"):
                        del msg[key]
                msg.update(type="deterministic", value=value, infer={}, kwargs={}, args=(),
                           fn=None, scale=None, is_observed=False, intermediates=[])
                return
            if msg["value"] is None:
                msg["is_observed"] = True
            msg["value"] = value
        msg["fn"] = new_fn


class scope(Messenger):
    """Prefix site names: ``name`` becomes ``f"{prefix}{divider}{name}"``."""

    def __init__(self, fn=None, prefix="", divider="/", hide_types=None):
        self.prefix = prefix
        self.divider = divider
        self.hide_types = tuple(hide_types or ())
        super().__init__(fn)

    def process_message(self, msg):
        if msg.get("name") is not None and msg["type"] not in self.hide_types:
            msg["name"] = f"{self.prefix}{self.divider}{msg['name']}"
        if msg.get("cond_indep_stack"):
            msg["cond_indep_stack"] = [
                frame._replace(name=f"{self.prefix}{self.divider}{frame.name}")
                for frame in msg["cond_indep_stack"]
            ]


class do(Messenger):
    """Intervene: ``do(model, data={"x": v})`` sets ``x`` to ``v`` downstream.

    The original site is still sampled (and recorded) under its name; the
    model continues with the intervened value, recorded as ``{name}__CF``
    (a counterfactual, observed) by handlers inside ``do`` only. This is the
    causal do-operator of Pearl (2009) as in Pyro.
    """

    def __init__(self, fn=None, data=None):
        if data is None:
            raise ValueError("do: data (a dict name -> value) is required.")
        self.data = data
        self._intervener_id = object()
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "sample" or self.data.get(msg["name"]) is None:
            return
        if msg.get("_intervener_id") is self._intervener_id:
            return
        msg["_intervener_id"] = self._intervener_id
        original = msg.copy()
        original["kwargs"] = dict(msg["kwargs"])
        apply_stack(original)
        msg["name"] = f"{msg['name']}__CF"
        msg["value"] = self.data[original["name"]]
        msg["is_observed"] = True
        msg["stop"] = True


class lift(Messenger):
    """Turn ``param`` sites into ``sample`` sites with priors.

    Args:
        prior: a distribution (used for every param) or a dict name -> distribution.
    """

    def __init__(self, fn=None, prior=None):
        if prior is None:
            raise ValueError("lift: prior (a distribution or a dict of them) is required.")
        self.prior = prior
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] != "param":
            return
        prior = self.prior.get(msg["name"]) if isinstance(self.prior, dict) else self.prior
        if not (hasattr(prior, "sample") and hasattr(prior, "log_prob")):
            return
        msg.update(
            type="sample",
            fn=prior,
            args=(),
            kwargs={"rng_key": None, "sample_shape": ()},
            intermediates=[],
            is_observed=False,
            value=None,
        )


class infer_config(Messenger):
    """Update each ``sample``/``param`` site's ``infer`` dict with ``config_fn(site)``."""

    def __init__(self, fn=None, config_fn=None):
        if config_fn is None:
            raise ValueError("infer_config: config_fn (site -> dict) is required.")
        self.config_fn = config_fn
        super().__init__(fn)

    def process_message(self, msg):
        if msg["type"] in ("sample", "param"):
            msg["infer"] = {**msg.get("infer", {}), **self.config_fn(msg)}


class uncondition(Messenger):
    """Treat observed ``sample`` sites as latent: they are sampled again.

    The former observation is kept in ``site["infer"]["obs"]``.
    """

    def process_message(self, msg):
        if msg["type"] == "sample" and msg["is_observed"]:
            msg["is_observed"] = False
            msg["infer"] = {**msg.get("infer", {}), "was_observed": True, "obs": msg["value"]}
            msg["value"] = None
