"""``hierax-pop config-template``: example configs that run as written.

JSON has no comments, so the templates are plain JSON in exactly the layout of
GWKokab's tutorial (``prior.json``, ``numpyro_config.json``,
``flowMC_config.json``, ``pmean.json``), readable by both hierax and GWKokab,
and one Markdown file, ``config_templates.md``, next to them explains every key.
The parsers stay strict: a ``"_comment"`` key would be an unknown key.
"""

from __future__ import annotations

from pathlib import Path

from hierax._files import write_text_atomically
from hierax.cli.errors import UserInputError
from hierax.pop.defaults import NUTS_SETTINGS, SLICE_MCMC_SETTINGS, default_prior

__all__ = [
    "FILE_NAMES",
    "FLOWMC_TEMPLATE",
    "NUTS_TEMPLATE",
    "SLICE_TEMPLATE",
    "PMEAN_TEMPLATE",
    "README_NAME",
    "default_hyperparameter_names",
    "prior_template",
    "render_readme",
    "write_templates",
]

FILE_NAMES = {"prior": "prior.json", "slice": "slice_config.json", "nuts": "numpyro_config.json",
              "flowmc": "flowMC_config.json", "pmean": "pmean.json"}
README_NAME = "config_templates.md"


_PLACEHOLDER = {"dist": "Uniform", "low": 0.0, "high": 1.0}

SLICE_TEMPLATE = {
    "slice": {"width": 1.0, "max_steps_out": 16, "adapt_directions": True,
              "adapt_width": True, "init_strategy": "init_to_uniform"},
    "mcmc": {**SLICE_MCMC_SETTINGS, "thinning": 1, "chain_method": "parallel",
             "progress_bar": True},
}

NUTS_TEMPLATE = {
    "kernel": {"max_tree_depth": NUTS_SETTINGS["max_tree_depth"],
               "target_accept_prob": NUTS_SETTINGS["target_accept_prob"], "dense_mass": False},
    "mcmc": {**{k: NUTS_SETTINGS[k] for k in ("num_warmup", "num_samples", "num_chains")},
             "thinning": 1, "chain_method": "parallel", "progress_bar": True,
             "jit_model_args": False},
}

FLOWMC_TEMPLATE = {
    "data_dump": {"n_samples": 10000},
    "bundle_config": {
        "chain_batch_size": 0, "n_chains": 100, "batch_size": 10000, "n_epochs": 4,
        "n_max_examples": 200000, "history_window": 2000, "n_NFproposal_batch_size": 50,
        "n_global_steps": 100, "n_local_steps": 100, "n_production_loops": 10,
        "n_training_loops": 10, "global_thinning": 4, "local_thinning": 4,
        "local_sampler_name": "hmc", "step_size": 0.01, "condition_matrix": 1.0,
        "n_leapfrog": 5, "rq_spline_hidden_units": [64, 64], "rq_spline_n_bins": 10,
        "rq_spline_n_layers": 8, "rq_spline_range": [-10.0, 10.0], "learning_rate": 0.001,
        "verbose": False,
    },
}

PMEAN_TEMPLATE = {
    "estimator_type": "analytic_pdet", "time_scale": 1.0, "horizon_distance": 1500.0,
    "reference_chirp_mass": 10.0, "snr_threshold": 8.0, "z_max": 3.0,
    "num_samples": 100000, "seed": 0, "mass_range": [2.0, 200.0],
}


def default_hyperparameter_names(options: dict) -> tuple[str, ...]:
    """Hyperparameter names of the population model built from ``options``.

    ``options`` are ``PopulationModel`` keyword arguments (see
    :func:`hierax.cli.args.model_options`).
    """
    from hierax.pop.models import PopulationModel

    return tuple(PopulationModel(**options).hyperparameter_names)


def prior_template(hyperparameter_names) -> tuple[dict, list[str]]:
    """(prior config with one exact key per name, names that got a placeholder prior)."""
    config, placeholders = {}, []
    for name in hyperparameter_names:
        value = default_prior(name)
        if value is None:
            value = dict(_PLACEHOLDER)
            placeholders.append(name)
        config[name] = value
    return config, placeholders


def write_templates(directory, kinds, options: dict, *, force: bool = False) -> list[Path]:
    """Write the chosen templates and the explaining Markdown file; returns the paths.

    ``kinds`` is a subset of ``("prior", "slice", "nuts", "flowmc", "pmean")`` (None: all).
    Existing files are kept unless ``force`` (then nothing at all is written).
    """
    import json

    kinds = list(FILE_NAMES) if not kinds else list(dict.fromkeys(kinds))
    placeholders: list[str] = []
    contents = {}
    for kind in kinds:
        if kind == "prior":
            data, placeholders = prior_template(default_hyperparameter_names(options))
        elif kind in ("slice", "nuts"):
            data = _mcmc_template(SLICE_TEMPLATE if kind == "slice" else NUTS_TEMPLATE)
        else:
            data = {"flowmc": FLOWMC_TEMPLATE, "pmean": PMEAN_TEMPLATE}[kind]
        contents[FILE_NAMES[kind]] = json.dumps(data, indent=2) + "\n"
    contents[README_NAME] = render_readme(kinds, placeholders)
    directory = Path(directory)
    existing = [n for n in contents if (directory / n).exists()]
    if existing and not force:
        raise UserInputError(f"{', '.join(existing)} already exist in '{directory}'; use "
                             "--force to overwrite or choose another --output")
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        write_text_atomically(directory / name, text)
    return [directory / n for n in contents]


_README_SECTIONS = {
    "prior": """## `prior.json`: priors of the hyperparameters

Each key names a hyperparameter (or is a regular expression matched against the
whole name, such as `"alpha_pl_[0-9]+"`; an exact key wins over a regular
expression, and two regular expressions must not match the same name). Each
value is one of:

- `{"dist": "Uniform", "low": 1.0, "high": 20.0}`: a distribution of
  `hierax.distributions` with scalar arguments (Uniform, Normal, TruncatedNormal,
  LogNormal, Beta, HalfNormal, ...). A string argument names another
  hyperparameter: `{"dist": "Uniform", "low": "mmin_pl_0", "high": 100.0}` keeps
  `mmax_pl_0` above `mmin_pl_0`.
- a number, such as `"m1_low_g_0": 2.0`: the hyperparameter is fixed.
- a string, such as `"beta_pl_1": "beta_pl_0"`: the hyperparameter equals another.

Every hyperparameter of the model needs a prior, and every key must match one.
`log_rate_k` is the natural log of the merger rate density of component k in
Gpc^-3 yr^-1. Masses are source-frame solar masses.
""",
    "slice": """## `slice_config.json`: slice sampling (the default of `hierax-pop infer`)

`slice` holds keyword arguments of `hierax.infer.Slice`: `width` (initial bracket
width), `max_steps_out` (stepping-out expansions per update; 0 shrinks only),
`adapt_directions` (update along the Cholesky factor of the warmup covariance),
`adapt_width`, `init_strategy`. `mcmc` holds those of `hierax.infer.MCMC`, as for
NUTS. Slice sampling needs no gradient and is exact for the step-shaped
likelihood that sharp mass edges give; see `docs/pop_sampler.md`. Run with
`hierax-pop infer --sampler-cfg slice_config.json`.
""",
    "nuts": """## `numpyro_config.json`: NUTS

`kernel` holds keyword arguments of `hierax.infer.NUTS` (`max_tree_depth`,
`target_accept_prob`, `dense_mass`, `step_size`, `init_strategy` as a name such
as `"init_to_median"`, ...). `mcmc` holds those of `hierax.infer.MCMC`:
`num_warmup`, `num_samples`, `num_chains`, `thinning`, `chain_method`
(`"sequential"`, `"parallel"` or `"vectorized"`; the template holds the fastest
on the machine that wrote it: `"parallel"` on a CPU, one chain per thread,
`"vectorized"` on one GPU), `progress_bar`,
`jit_model_args`. Unknown keys are
errors. GWKokab's `"sampler_name": "numpyro"` may stand at the top. Run with
`n_sage_n_pls_m_gs` or `hierax-pop infer`.
""",
    "flowmc": """## `flowMC_config.json`: flowMC

`data_dump.n_samples` is the number of flow draws written at the end.
`bundle_config` configures flowMC's local-global sampler: `n_chains`;
`n_local_steps` and `n_global_steps` per loop; `n_training_loops` and
`n_production_loops`; `local_sampler_name` (`"mala"` or `"hmc"`), `step_size`,
`condition_matrix` (a positive scalar, a diagonal or a matrix), `n_leapfrog`;
the normalizing flow (`rq_spline_hidden_units`, `rq_spline_n_bins`,
`rq_spline_n_layers`, `rq_spline_range`) and its training (`n_epochs`,
`learning_rate`, `batch_size`, `n_max_examples`, `history_window`);
`local_thinning`, `global_thinning`, `chain_batch_size`,
`n_NFproposal_batch_size`, `verbose`. The same keys may also stand flat at the
top level, without `data_dump`/`bundle_config`. Run with `f_sage_n_pls_m_gs`.
""",
    "pmean": """## `pmean.json`: selection effects

`estimator_type` picks the estimator of the expected number of detections:
`"analytic_pdet"` (the built-in detector: `horizon_distance` in Mpc for a
binary of `reference_chirp_mass`, `snr_threshold`, observing time `time_scale`
in years, reference draws `num_samples` from `seed` over `mass_range` and
redshifts up to `z_max`), `"injection"` (found injections in `filename`, with
`far_cut`, `snr_cut`), `"neural_vt"`, `"vt_grid"` or `"custom"`.
""",
}


def _mcmc_template(template: dict) -> dict:
    """``template`` with the chain method ``hierax-pop infer`` uses on this machine
    (:func:`hierax.pop.inference.default_chain_method`): threads on a CPU, vectorized on
    one accelerator, spread over several devices."""
    from hierax.pop.inference import default_chain_method

    mcmc = template["mcmc"]
    return {**template, "mcmc": {**mcmc,
                                 "chain_method": default_chain_method(mcmc["num_chains"])}}


def render_readme(kinds, placeholders=()) -> str:
    """The Markdown file explaining the written templates."""
    parts = ["# Configuration templates\n",
             "Plain JSON in GWKokab's layout (JSON has no comments; this file explains "
             "the keys).\n"]
    parts += [_README_SECTIONS[kind] for kind in kinds]
    if placeholders:
        parts.append("**Edit before use**: no default range is known for "
                     + ", ".join(f"`{n}`" for n in placeholders)
                     + "; they got a placeholder Uniform(0, 1) prior.\n")
    return "\n".join(parts)
