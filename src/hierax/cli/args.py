"""Argument parsers: ``hierax-pop`` and GWKokab's ``n_sage_n_pls_m_gs``, ``f_sage_n_pls_m_gs``.

The two GWKokab-named commands accept the flags of GWKokab's tutorial
unchanged (``--seed --n-pl --n-g --posterior-regex --posterior-columns
--pmean-cfg --prior-cfg --sampler-cfg --n-buckets``), the model options of
GWKokab's ``n_pls_m_gs`` scripts (``--add-spin`` / ``--add-beta-spin``,
``--add-truncated-normal-spin`` / ``--spin-truncated-normal``, ``--add-tilt``,
``--add-eccentricity`` / ``--add-truncated-normal-eccentricity``,
``--add-redshift`` and the extrinsic ``--add-cos-iota`` ... flags), the older
spellings ``--pmean-json --prior-json --sampler-config``, and hierax's
``--output``, ``--resume`` and ``--overwrite``.

Parse errors print one line (``PROG: error: ...``) and exit with code 2.
"""

from __future__ import annotations

import argparse

from hierax.cli.errors import EXIT_USAGE, UserInputError

__all__ = [
    "EXTRINSIC_FLAGS",
    "build_pop_parser",
    "build_sage_parser",
    "check_args",
    "model_options",
]

# Extrinsic marginals GWKokab's scripts accept; hierax.pop models do not include them.
EXTRINSIC_FLAGS = ("cos_iota", "phi_12", "polarization_angle", "right_ascension",
                   "sin_declination", "detection_time")
TEMPLATE_KINDS = ("prior", "slice", "nuts", "flowmc", "pmean")


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr, exit code 2."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _count(minimum: int):
    """An argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """Mixture components and marginals of the population model (GWKokab's names)."""
    group = parser.add_argument_group(
        "model options", "mass components (each with its own rate) and shared marginals; "
        "or give them all in a --model-cfg file")
    group.add_argument("--model-cfg", metavar="JSON", default=None,
                       help="model config (hierax.pop.models.config), instead of these flags")
    group.add_argument("--n-pl", type=_count(0), default=None,
                       help="number of power-law mass components (default: 1 when no other "
                            "component is given, else 0)")
    group.add_argument("--n-g", type=_count(0), default=None,
                       help="number of Gaussian mass components (default: 0)")
    group.add_argument("--n-plp", type=_count(0), default=None,
                       help="number of PowerLaw+Peak mass components (default: 0)")
    group.add_argument("--n-bp2p", type=_count(0), default=None,
                       help="number of BrokenPowerLaw+2 peaks mass components (default: 0)")
    spins = group.add_mutually_exclusive_group()
    spins.add_argument("--add-spin", "--add-beta-spin", dest="add_spin", action="store_true",
                       help="add spin magnitudes a_1, a_2 (beta distributions)")
    spins.add_argument("--add-truncated-normal-spin", "--spin-truncated-normal",
                       dest="spin_truncated_normal", action="store_true",
                       help="add spin magnitudes with truncated-normal distributions")
    group.add_argument("--add-tilt", action="store_true",
                       help="add spin tilts cos_tilt_1, cos_tilt_2")
    group.add_argument("--tilt-model", choices=("aligned", "free_mean"), default=None,
                       help="isotropic plus a Gaussian peaked at cos_tilt = 1 (aligned) or "
                            "at a free cos_tilt_loc (implies --add-tilt; default: aligned)")
    group.add_argument("--add-chi-eff", action="store_true",
                       help="add the effective spin chi_eff (not with --add-spin/--add-tilt)")
    group.add_argument("--effective-spin-model",
                       choices=("gaussian", "skew_normal", "gaussian_chi_p"), default=None,
                       help="chi_eff Gaussian, skew normal, or (chi_eff, chi_p) correlated "
                            "Gaussian (implies --add-chi-eff; default: gaussian)")
    group.add_argument("--add-eccentricity", "--add-truncated-normal-eccentricity",
                       dest="add_eccentricity", action="store_true",
                       help="add eccentricity (truncated normal)")
    group.add_argument("--add-redshift", action="store_true", help="add redshift")
    group.add_argument("--eccentricity-model", choices=("truncated_normal", "power_law"),
                       default=None, help="eccentricity distribution (implies "
                       "--add-eccentricity; default: truncated_normal)")
    group.add_argument("--redshift-model", choices=("power_law", "madau_dickinson"),
                       default=None, help="redshift evolution psi(z) (implies --add-redshift; "
                       "default: power_law)")
    group.add_argument("--smoothing", action="store_true",
                       help="smooth the low-mass edge of the power laws (adds delta_pl_*)")
    for name in EXTRINSIC_FLAGS:
        group.add_argument(f"--add-{name.replace('_', '-')}", action="store_true",
                           help=argparse.SUPPRESS)


def add_inference_options(parser: argparse.ArgumentParser, *, gwkokab_defaults: bool,
                          default_output: str) -> None:
    """Data, configs, seed and output of an inference run (seed 000's flags)."""
    data = parser.add_argument_group("data")
    data.add_argument("--posterior-regex", required=True, metavar="GLOB",
                      help="glob pattern of the per-event posterior sample files")
    data.add_argument("--posterior-columns", nargs="+", required=gwkokab_defaults,
                      metavar="COLUMN",
                      help="columns to read, in the model's order (mass_1_source "
                           "mass_2_source ...); a log_prior column is the reference prior")
    data.add_argument("--loader-cfg", metavar="JSON", default=None,
                      help="how event files are read (hierax.pop.event_files.LoaderConfig): "
                           "PESummary labels, PE prior, per-event priors, frame, cosmology, "
                           "max_samples")
    data.add_argument("--pe-label", nargs="+", default=None, metavar="LABEL",
                      help="PESummary analyses to read, in order of preference (exact or "
                           "fnmatch patterns); a file without them is an error (default: "
                           "C01:Mixed, then the first analysis with the columns)")
    data.add_argument("--max-samples", type=_count(2), default=None, metavar="N",
                      help="keep at most N samples per event, drawn with a fixed seed")
    configs = parser.add_argument_group("configuration files")
    configs.add_argument("--pmean-cfg", "--pmean-json", dest="pmean_cfg", metavar="JSON",
                         default="pmean.json" if gwkokab_defaults else None,
                         help="selection-effect (Poisson mean) config")
    configs.add_argument("--prior-cfg", "--prior-json", dest="prior_cfg", metavar="JSON",
                         default="prior.json" if gwkokab_defaults else None,
                         help="prior config of the hyperparameters")
    configs.add_argument("--sampler-cfg", "--sampler-config", dest="sampler_cfg",
                         metavar="JSON", required=gwkokab_defaults, default=None,
                         help="sampler config (slice, NUTS or flowMC)")
    error = parser.add_argument_group(
        "Monte Carlo error", "per-event effective samples >= 10, Var(ln L) <= 1 (Talbot & "
        "Golomb 2023), selection effective draws >= 4 N (Farr 2019)")
    error.add_argument("--mc-error-rule", choices=("warn", "cut", "penalty"), default="warn",
                       help="a draw over a threshold: recorded and warned about (warn, the "
                            "default), rejected (cut), or penalised by 10 x its relative "
                            "excess (penalty)")
    error.add_argument("--selection-uncertainty", action="store_true",
                       help="marginalise the Monte Carlo error of the selection term "
                            "(adds Var(mu)/2 to ln L; Farr 2019)")
    run = parser.add_argument_group("run")
    run.add_argument("--seed", type=_count(0), default=37,
                     help="random seed (default: 37)")
    run.add_argument("--n-buckets", type=_count(1), default=None,
                     help="group events of similar sample counts into this many buckets")
    run.add_argument("--output", default=default_output, metavar="DIR",
                     help=f"output folder (default: {default_output})")
    run.add_argument("--checkpoint-every", type=_seconds, default=10.0, metavar="SECONDS",
                     help="write a checkpoint about this often, warmup included (default: 10); "
                          "a killed run loses at most this much work")
    existing = run.add_mutually_exclusive_group()
    existing.add_argument("--resume", action="store_true",
                          help="continue the interrupted run in --output")
    existing.add_argument("--overwrite", action="store_true",
                          help="replace the run in --output (finished or interrupted)")


def _seconds(text: str) -> float:
    """An argparse type: a positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def build_sage_parser(prog: str, sampler: str) -> OneLineParser:
    """Parser of ``n_sage_n_pls_m_gs`` (``sampler="nuts"``) or ``f_sage_n_pls_m_gs`` (flowMC)."""
    if sampler not in ("nuts", "flowmc"):
        raise ValueError(f"build_sage_parser: sampler must be 'nuts' or 'flowmc', got "
                         f"{sampler!r}.")
    name = "NUTS" if sampler == "nuts" else "flowMC"
    parser = OneLineParser(
        prog=prog, description=f"Hierarchical inference of a mixture of power-law and "
        f"Gaussian mass components with {name} (GWKokab-compatible flags).")
    add_model_options(parser)
    add_inference_options(parser, gwkokab_defaults=True,
                          default_output="numpyro_inference" if sampler == "nuts"
                          else "flowMC_inference")
    parser.set_defaults(command="infer", sampler=sampler)
    return parser


def build_pop_parser() -> OneLineParser:
    """Parser of ``hierax-pop`` with subcommands mock, infer, report, config-template."""
    parser = OneLineParser(prog="hierax-pop", description="Gravitational-wave population "
                           "inference with hierax.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_mock(commands)
    _add_infer(commands)
    _add_report(commands)
    _add_config_template(commands)
    return parser


def _add_mock(commands) -> None:
    mock = commands.add_parser("mock", help="make mock catalogs with mock posteriors")
    add_model_options(mock)
    mock.add_argument("--model-params", metavar="JSON", default=None,
                      help="true hyperparameter values (default: built-in values)")
    mock.add_argument("--pmean-cfg", metavar="JSON", default=None,
                      help="detector config (default: the built-in analytic detector)")
    mock.add_argument("--num-realizations", type=_count(1), default=1)
    mock.add_argument("--samples-per-event", type=_count(1), default=2000)
    mock.add_argument("--seed", type=_count(0), default=37)
    mock.add_argument("--format", choices=("text", "lvk"), default="text",
                      help="text: seed 000's layout, mock errors in chirp mass and mass ratio; "
                           "lvk: an LVK-like reference prior (flat detector-frame masses, "
                           "d_L^2), PESummary files and text files of the same samples, O3 "
                           "and O4 injection files (needs --add-redshift)")
    mock.add_argument("--output", default="data", metavar="DIR",
                      help="output folder; realization k goes to DIR/realization_k")


def _add_infer(commands) -> None:
    infer = commands.add_parser("infer", help="hierarchical inference of the hyperparameters")
    add_model_options(infer)
    add_inference_options(infer, gwkokab_defaults=False, default_output="inference")
    infer.add_argument("--sampler", choices=("slice", "nuts", "flowmc"), default=None,
                       help="sampler (default: from --sampler-cfg, else slice sampling)")


def _add_report(commands) -> None:
    report = commands.add_parser("report", help="plots and an HTML page from an output folder")
    report.add_argument("directory", help="output folder of `hierax-pop infer`")
    report.add_argument("--output", default=None, metavar="DIR",
                        help="where to write the report (default: DIRECTORY/report)")
    report.add_argument("--truths", default=None, metavar="JSON",
                        help="true hyperparameter values to draw (mock catalogs)")


def _add_config_template(commands) -> None:
    template = commands.add_parser("config-template",
                                   help="write example configs with a README explaining them")
    add_model_options(template)
    template.add_argument("--output", default=".", metavar="DIR",
                          help="folder to write into (default: the current folder)")
    template.add_argument("--only", nargs="+", choices=TEMPLATE_KINDS, default=None,
                          help="write only these templates (default: all)")
    template.add_argument("--force", action="store_true", help="overwrite existing files")


_COMPONENT_FLAGS = ("n_pl", "n_g", "n_plp", "n_bp2p")
_MARGINAL_FLAGS = ("add_spin", "spin_truncated_normal", "add_tilt", "tilt_model",
                   "add_chi_eff", "effective_spin_model", "add_eccentricity",
                   "eccentricity_model", "add_redshift", "redshift_model", "smoothing")


def _model_flags_given(args) -> list[str]:
    """The model flags set on the command line (all default to None or False)."""
    names = _COMPONENT_FLAGS + _MARGINAL_FLAGS
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n, None) not in
            (None, False)]


def check_args(args: argparse.Namespace) -> argparse.Namespace:
    """Checks across arguments that argparse cannot express; raises UserInputError."""
    if getattr(args, "model_cfg", None) is not None:
        given = _model_flags_given(args)
        if given:
            raise UserInputError(f"give the model either in --model-cfg or with flags, not "
                                 f"both ({', '.join(given)} given)", source="--model-cfg")
    columns = getattr(args, "posterior_columns", None)
    if columns:
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise UserInputError(f"--posterior-columns repeats {', '.join(repeated)}")
    return args


def model_options(args: argparse.Namespace) -> dict:
    """Keyword arguments of ``hierax.pop.models.PopulationModel`` from parsed model options
    or the ``--model-cfg`` file (:mod:`hierax.pop.models.config`).

    Flags GWKokab accepts but hierax's population model does not (the extrinsic
    marginals, truncated-normal spins) raise :class:`UserInputError`.
    """
    from hierax.pop.models.config import parse_model_config

    if getattr(args, "model_cfg", None) is not None:
        from hierax.cli.errors import read_json_file

        config = read_json_file(args.model_cfg, what="model config")
        try:
            return parse_model_config(config, source=f"model config '{args.model_cfg}'").options()
        except ValueError as error:
            raise UserInputError(str(error)) from None
    unsupported = [f"--add-{name.replace('_', '-')}" for name in EXTRINSIC_FLAGS
                   if getattr(args, f"add_{name}", False)]
    if getattr(args, "spin_truncated_normal", False):
        unsupported.append("--add-truncated-normal-spin")
    if unsupported:
        raise UserInputError(f"{', '.join(unsupported)}: not supported by hierax's population "
                             "model (supported: --add-spin, --add-tilt, --add-eccentricity, "
                             "--add-redshift, --smoothing and the --*-model choices)")
    config = {name: getattr(args, name) for name in _COMPONENT_FLAGS
              if getattr(args, name) is not None}
    config.update(
        spin=args.add_spin, tilt=args.tilt_model or args.add_tilt,
        effective_spin=args.effective_spin_model or args.add_chi_eff,
        eccentricity=args.eccentricity_model or args.add_eccentricity,
        redshift=args.redshift_model or args.add_redshift, smoothing=args.smoothing)
    try:
        return parse_model_config(config, source="model flags").options()
    except ValueError as error:
        message = str(error).removeprefix("model flags: ")
        if "at least one component" in message:
            message = ("the model needs at least one component: "
                       "--n-pl + --n-g + --n-plp + --n-bp2p >= 1")
        raise UserInputError(message) from None
