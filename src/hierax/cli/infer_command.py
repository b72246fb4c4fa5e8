"""``hierax-pop infer``, ``n_sage_n_pls_m_gs`` and ``f_sage_n_pls_m_gs``: one run, start to end.

Reads the events (``--posterior-regex``, ``--posterior-columns``), builds the
population model from the model flags, the prior from ``--prior-cfg`` (default:
the template prior of the model), the selection estimator from ``--pmean-cfg``
(default: the analytic detector) and the sampler from ``--sampler-cfg``
(default: :func:`default_sampler_config`), runs it and writes the outputs
described in :mod:`hierax.cli.outputs`.

Slice sampling (the default, :class:`hierax.infer.Slice`; see ``docs/pop_sampler.md``),
NUTS and flowMC write a checkpoint into ``state/`` every few seconds, warmup included
(:class:`hierax.infer.resumable.CheckpointedRun`,
:class:`hierax.infer.flowmc_checkpoint.CheckpointedFlowMC`): ``--resume`` continues after
the last intact checkpoint and ends with the draws an uninterrupted run makes; a Ctrl-C
loses at most the work since the last checkpoint.

The output folder holds one run. ``run.json`` records its inputs and its status
(``running`` or ``finished``); a finished run, or an interrupted one with checkpoints,
is never replaced without ``--overwrite``, and a run that fails or is interrupted
before its first checkpoint leaves nothing behind.
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import sys
from pathlib import Path

from hierax.cli.args import model_options
from hierax.cli.errors import UserInputError, read_json_file
from hierax.cli.outputs import open_log, write_json_atomically
from hierax.cli.sampler_config import FlowMCConfig, parse_sampler_config

__all__ = ["DEFAULT_SAMPLER", "default_sampler_config", "run_infer"]

DEFAULT_SAMPLER = "slice"
"""The sampler used when neither ``--sampler`` nor ``--sampler-cfg`` says: gradient-free
slice sampling, exact for the step-shaped likelihood of sharp mass edges
(``docs/pop_sampler.md``). ``n_sage_n_pls_m_gs`` runs NUTS, as in GWKokab."""


def default_sampler_config(kind: str | None = None):
    """The built-in sampler settings of ``kind`` (default :data:`DEFAULT_SAMPLER`).

    Slice: :data:`hierax.pop.defaults.SLICE_MCMC_SETTINGS` (4 chains x (600 warmup +
    1000 draws)). NUTS: :data:`hierax.pop.defaults.NUTS_SETTINGS` (4 chains x (1000
    warmup + 1000 draws), target acceptance 0.9). Chains run across devices when there
    are several, vectorized on one accelerator and in threads on a CPU
    (:func:`hierax.pop.inference.default_chain_method`).
    """
    from hierax.cli.templates import FLOWMC_TEMPLATE
    from hierax.pop.defaults import NUTS_SETTINGS, SLICE_MCMC_SETTINGS
    from hierax.pop.inference import default_chain_method

    kind = kind or DEFAULT_SAMPLER
    if kind == "flowmc":
        return parse_sampler_config(FLOWMC_TEMPLATE, "flowmc", source="default flowMC config")
    if kind == "slice":
        settings = SLICE_MCMC_SETTINGS
        config = {"slice": {}, "mcmc": {
            **settings, "chain_method": default_chain_method(settings["num_chains"])}}
        return parse_sampler_config(config, "slice", source="default slice config")
    settings = NUTS_SETTINGS
    config = {"kernel": {"target_accept_prob": settings["target_accept_prob"],
                         "max_tree_depth": settings["max_tree_depth"]},
              "mcmc": {"num_warmup": settings["num_warmup"],
                       "num_samples": settings["num_samples"],
                       "num_chains": settings["num_chains"],
                       "chain_method": default_chain_method(settings["num_chains"])}}
    return parse_sampler_config(config, "nuts", source="default NUTS config")


# -- inputs ---------------------------------------------------------------------------


def _sampler_config(args):
    if args.sampler_cfg is None:
        return default_sampler_config(args.sampler)
    return parse_sampler_config(args.sampler_cfg, args.sampler, default_kind=DEFAULT_SAMPLER)


def _loader_config(args):
    """The loader config of ``--loader-cfg`` with ``--pe-label`` and ``--max-samples``."""
    from hierax.pop.event_files import parse_loader_config

    config = {} if args.loader_cfg is None else read_json_file(args.loader_cfg,
                                                               what="loader config")
    if args.pe_label:
        config = {**config, "labels": list(args.pe_label), "label_fallback": False}
    if args.max_samples is not None:
        config = {**config, "max_samples": args.max_samples}
    source = "loader config" if args.loader_cfg is None else f"loader config '{args.loader_cfg}'"
    try:
        return parse_loader_config(config, source=source)
    except ValueError as exc:
        raise UserInputError(str(exc)) from None


def _events(args, population, loader):
    from hierax.pop.event_files import read_events

    names = tuple(population.parameter_names)
    columns = list(args.posterior_columns or names)
    log_prior = "log_prior" if "log_prior" in columns else "auto"
    columns = [c for c in columns if c != "log_prior"]
    if sorted(columns) != sorted(names):
        raise UserInputError(f"the model reads the columns {' '.join(names)}, but "
                             f"--posterior-columns gives {' '.join(columns)}; change the model "
                             "flags or the columns", source="--posterior-columns")
    return read_events(args.posterior_regex, names, loader, log_prior_column=log_prior)


def _prior(args, population):
    from hierax.cli.templates import prior_template
    from hierax.pop.inference import ordered_hyperparameter_pairs
    from hierax.pop.priors import parse_prior_config

    names = population.hyperparameter_names
    if args.prior_cfg is None:
        config = prior_template(names)[0]
    else:
        read_json_file(args.prior_cfg, what="prior config")  # one clear message if unreadable
        config = args.prior_cfg
    return parse_prior_config(config, names,
                              ordered_pairs=ordered_hyperparameter_pairs(population))


def _pmean_config(args) -> dict:
    """The selection config, read and checked against its schema (not yet built)."""
    from hierax.pop.defaults import DEFAULT_PMEAN
    from hierax.pop.selection.config import parse_selection_config

    if args.pmean_cfg is None:
        return dict(DEFAULT_PMEAN)
    config = read_json_file(args.pmean_cfg, what="pmean config")
    try:
        parse_selection_config(config)
    except (ValueError, TypeError) as exc:
        raise UserInputError(str(exc), source=f"pmean config '{args.pmean_cfg}'") from None
    return config


def _selection(args, population, config: dict):
    """``(estimator, config)``; relative file names resolve against the config's folder."""
    from hierax.pop.selection import from_config

    source = args.pmean_cfg if args.pmean_cfg is not None else config
    try:
        return from_config(source, population.parameter_names), config
    except (ValueError, TypeError) as exc:
        raise UserInputError(str(exc), source=f"pmean config '{args.pmean_cfg}'") from None


def _truths_path(pattern: str) -> str | None:
    """``hyperparameters.json`` of a mock realization the event files come from, if any."""
    from hierax.pop.readers import find_event_files

    folder = find_event_files(pattern)[0].resolve().parent
    for candidate in (folder / "hyperparameters.json", folder.parent / "hyperparameters.json"):
        if candidate.is_file():
            return str(candidate)
    return None


class RunInputs:
    """Everything a run reads, validated; ``settings`` is what ``--resume`` must match."""

    def __init__(self, args: argparse.Namespace):
        from hierax.pop.likelihood import DiscreteLikelihood
        from hierax.pop.models import PopulationModel

        # every config is checked before the (slow) reading of events and selection draws
        self.options = model_options(args)
        self.population = PopulationModel(**self.options)
        self.sampler_config = _sampler_config(args)
        self.kind = self.sampler_config.kind
        self.prior = _prior(args, self.population)
        self.loader = _loader_config(args)
        pmean_config = _pmean_config(args)
        self.events = _events(args, self.population, self.loader)
        self.selection, self.pmean_config = _selection(args, self.population, pmean_config)
        self.likelihood = DiscreteLikelihood(self.events, self.population,
                                             self.selection, n_buckets=args.n_buckets)
        self.truths_path = _truths_path(args.posterior_regex)
        self.seed = args.seed
        self.gibbs_slice_sites = ()
        if self.kind == "nuts":
            from hierax.pop.inference import sharp_edge_hyperparameters

            self.gibbs_slice_sites = sharp_edge_hyperparameters(self.population,
                                                                self.prior.free_names)
        self.mc_error_rule = args.mc_error_rule
        self.selection_uncertainty = args.selection_uncertainty
        self.settings = {
            "model": self.options, "seed": args.seed, "n_buckets": args.n_buckets,
            "sampler": self.kind, "sampler_config": self.sampler_config.model_dump(),
            "prior_config": self.prior.config, "pmean_config": self.pmean_config,
            "loader_config": self.loader.model_dump(exclude_defaults=True),
            "mc_error_rule": self.mc_error_rule,
            "selection_uncertainty": self.selection_uncertainty,
            "posterior_regex": str(args.posterior_regex),
            "event_names": list(self.events.event_names),
            "num_events": self.events.num_events, "num_samples_total": self.events.num_samples,
            "parameter_names": list(self.population.parameter_names),
            "hyperparameter_names": list(self.population.hyperparameter_names),
            "free_hyperparameters": list(self.prior.free_names),
            "truths_path": self.truths_path,
        }

    def model_fn(self):
        """The hierax model with every argument bound."""
        from hierax.pop.inference import population_model

        return functools.partial(population_model, self.population, self.prior, self.likelihood,
                                 mc_error_rule=self.mc_error_rule,
                                 selection_uncertainty=self.selection_uncertainty)


# -- output folder -----------------------------------------------------------------------

_RUN_FILES = ("inference.nc", "samples.dat", "prior.json", "sampler.json", "pmean.json",
              "summary.txt", "log.txt", "run.json")
_RUN_FOLDERS = ("state", "report", "predictive")
FINISHED, INTERRUPTED = "finished", "interrupted"


def _segments_in(output: Path) -> bool:
    """Whether ``output/state`` holds checkpoints of a run (MCMC or flowMC)."""
    from hierax.infer.resumable import SegmentStore

    state = output / "state"
    if SegmentStore(state).indices():
        return True
    try:
        from hierax.infer.flowmc_checkpoint import holds_run
    except ImportError:  # flowMC is not installed, so no flowMC run was either
        return False
    return holds_run(state)


def existing_run(output: Path) -> str | None:
    """What ``output`` holds: a :data:`FINISHED` run, an :data:`INTERRUPTED` one (at least
    one checkpoint segment), or None (nothing to keep)."""
    saved = output / "run.json"
    if saved.is_file():
        try:
            status = json.loads(saved.read_text()).get("status")
        except (OSError, ValueError, AttributeError):
            status = None
        if status == FINISHED:
            return FINISHED
    elif (output / "inference.nc").is_file():  # written by an older hierax
        return FINISHED
    return INTERRUPTED if _segments_in(output) else None


def _remove_run(output: Path) -> None:
    """Delete the files and folders of a run in ``output``; other files stay."""
    for name in _RUN_FILES:
        (output / name).unlink(missing_ok=True)
    for name in _RUN_FOLDERS:
        if (output / name).is_dir():
            shutil.rmtree(output / name)


def _check_settings(output: Path, settings: dict) -> None:
    """A resumed run must have the inputs of the run it continues."""
    try:
        saved = json.loads((output / "run.json").read_text())
    except (OSError, ValueError):
        raise UserInputError(f"cannot resume: '{output / 'run.json'}' is missing or damaged, "
                             "so the run's inputs cannot be checked; start over with "
                             "--overwrite", source="--resume") from None
    changed = sorted(k for k in settings
                     if saved.get(k) != json.loads(json.dumps(settings[k])))
    if changed:
        raise UserInputError(f"cannot resume: {', '.join(changed)} differ from the run in "
                             f"'{output}'; give the same inputs or drop --resume",
                             source="--resume")


def _check_output(output: Path, args) -> str | None:
    """Refuse to overwrite a run unless asked; returns what ``output`` holds."""
    found = existing_run(output)
    if found == FINISHED and not (args.overwrite or args.resume):
        raise UserInputError(f"'{output}' holds a finished run; pass --overwrite to replace it, "
                             "or choose another --output", source="--output")
    if found == INTERRUPTED and not (args.resume or args.overwrite):
        raise UserInputError(f"'{output}' holds an interrupted run; continue it with --resume "
                             "or replace it with --overwrite", source="--output")
    return found


def write_run_status(output: Path, settings: dict, status: str) -> None:
    """``run.json``: the run's settings (what ``--resume`` must match) and its status."""
    write_json_atomically(output / "run.json", {**settings, "status": status})


def _prepare_output(output: Path, settings: dict, args, found, log_print) -> Path:
    """Set up ``output`` for this run (an earlier one already removed if ``--overwrite``);
    returns its state folder."""
    if args.overwrite and found:
        log_print(f"--overwrite: removed the earlier run in '{output}'.")
    elif args.resume and (found == INTERRUPTED or (output / "run.json").is_file()):
        _check_settings(output, settings)
    elif args.resume:
        log_print(f"--resume: no run to continue in '{output}'; starting a new one.")
    if found is None and (output / "state").is_dir():
        shutil.rmtree(output / "state")  # a run stopped before its first checkpoint
    write_run_status(output, settings, "running")
    return output / "state"


def _discard_if_empty(output: Path, created: bool) -> None:
    """After a failed or interrupted run: remove what it wrote unless a checkpoint exists."""
    if _segments_in(output):
        return
    _remove_run(output)
    if created and output.is_dir() and not any(output.iterdir()):
        output.rmdir()


def run_infer(args: argparse.Namespace) -> int:
    """Hierarchical inference of the hyperparameters; writes ``args.output``."""
    inputs = RunInputs(args)
    output = Path(args.output)
    found = _check_output(output, args)
    if found == FINISHED and args.resume:
        _check_settings(output, inputs.settings)
        print(f"--resume: the run in '{output}' has finished; nothing to do.", file=sys.stderr)
        return 0
    created = not output.exists()
    output.mkdir(parents=True, exist_ok=True)
    if args.overwrite and found:
        _remove_run(output)  # before this run's log is opened
    try:
        _infer_into(output, inputs, args, found)
    except BaseException as error:
        _discard_if_empty(output, created)
        if isinstance(error, KeyboardInterrupt) and _segments_in(output):
            print(f"checkpoints kept in '{output / 'state'}': continue with --resume",
                  file=sys.stderr)
        raise
    return 0


def _explained(error: ValueError, inputs: RunInputs) -> ValueError:
    """A sampler's "no valid starting point" naming the events no hyperparameter value of
    the prior supports (:func:`hierax.pop.inference.explain_invalid_start`); other errors
    as they are."""
    import jax

    from hierax.pop.inference import NO_VALID_START, explain_invalid_start

    if NO_VALID_START not in str(error):
        return error
    message = explain_invalid_start(inputs.likelihood, inputs.prior,
                                    jax.random.PRNGKey(inputs.seed))
    if message is None and inputs.mc_error_rule == "cut":
        message = ("no valid starting point: every starting point tried has a Monte Carlo "
                   "error over a threshold, which --mc-error-rule cut rejects; use more "
                   "posterior samples per event or selection draws, or --mc-error-rule warn")
    return error if message is None else UserInputError(message)


def _infer_into(output: Path, inputs: RunInputs, args, found) -> None:
    """The run itself: sampling, then the output files; ``run.json`` says when it finished."""
    from hierax.cli.infer_outputs import finish_run
    from hierax.cli.samplers import run_flowmc, run_mcmc_checkpointed

    log = open_log(output / "log.txt")

    def log_print(message, stream=sys.stderr):
        log.info(message)
        print(message, file=stream)

    state = _prepare_output(output, inputs.settings, args, found, log_print)
    log_print(f"{inputs.events.num_events} events, {inputs.events.num_samples} samples; "
              f"model: {inputs.population.description}; sampler {inputs.kind}; Monte Carlo "
              f"error rule {inputs.mc_error_rule}; output '{output}'", stream=sys.stdout)
    model = inputs.model_fn()
    try:
        if isinstance(inputs.sampler_config, FlowMCConfig):
            draws, stats = run_flowmc(model, inputs.sampler_config, inputs.seed, state,
                                      resume=args.resume, log_print=log_print,
                                      checkpoint_seconds=args.checkpoint_every)
        else:
            draws, stats = run_mcmc_checkpointed(
                model, inputs.sampler_config, inputs.seed, state, resume=args.resume,
                log_print=log_print, checkpoint_seconds=args.checkpoint_every,
                slice_sites=inputs.gibbs_slice_sites)
    except ValueError as error:
        raise _explained(error, inputs) from None
    finish_run(output, inputs, draws, stats, log_print)
    write_run_status(output, inputs.settings, FINISHED)
