"""Command lines: seed 000's commands parse as written; bad input exits 2 with one line."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

from hierax.cli import commands
from hierax.cli.args import build_pop_parser, build_sage_parser, check_args, model_options
from hierax.cli.errors import UserInputError, read_json_file, run_cli
from hierax.cli.main import f_sage_main, n_sage_main, pop_main

SEED_FLAGS = """--seed 37 --n-pl 1 --n-g 0
--posterior-regex "../generating_mock_posterior_estimates/data/realization_0/posteriors/event_*.dat"
--posterior-columns mass_1_source mass_2_source
--pmean-cfg pmean.json --prior-cfg prior.json --sampler-cfg {cfg} --n-buckets 10"""


def seed_argv(cfg):
    return shlex.split(SEED_FLAGS.format(cfg=cfg))


@pytest.mark.parametrize("prog, sampler, cfg", [
    ("n_sage_n_pls_m_gs", "nuts", "numpyro_config.json"),
    ("f_sage_n_pls_m_gs", "flowmc", "flowMC_config.json"),
])
def test_seed_command_lines_parse(prog, sampler, cfg):
    args = check_args(build_sage_parser(prog, sampler).parse_args(seed_argv(cfg)))
    assert (args.command, args.sampler) == ("infer", sampler)
    assert args.seed == 37 and args.n_pl == 1 and args.n_g == 0 and args.n_buckets == 10
    assert args.posterior_regex.endswith("realization_0/posteriors/event_*.dat")
    assert args.posterior_columns == ["mass_1_source", "mass_2_source"]
    assert (args.pmean_cfg, args.prior_cfg, args.sampler_cfg) == ("pmean.json", "prior.json",
                                                                  cfg)
    assert args.resume is False and args.output.endswith("_inference")
    assert model_options(args) == {"n_pl": 1, "n_g": 0, "n_plp": 0, "n_bp2p": 0,
                                   "spin": False, "tilt": False, "effective_spin": False,
                                   "eccentricity": False, "redshift": False,
                                   "smoothing": False}


def test_gwkokab_spellings_and_marginals():
    parser = build_sage_parser("n_sage_n_pls_m_gs", "nuts")
    argv = shlex.split("--posterior-regex 'e_*.dat' --posterior-columns a b "
                       "--prior-json p.json --pmean-json m.json --sampler-config s.json "
                       "--add-beta-spin --add-tilt --add-truncated-normal-eccentricity "
                       "--add-redshift --n-g 2 --output out --resume")
    args = parser.parse_args(argv)
    assert (args.prior_cfg, args.pmean_cfg, args.sampler_cfg) == ("p.json", "m.json", "s.json")
    assert args.output == "out" and args.resume
    options = model_options(args)
    assert options["spin"] and options["tilt"] and options["eccentricity"]
    assert options["redshift"] and options["n_g"] == 2
    chosen = model_options(parser.parse_args(
        argv + ["--redshift-model", "madau_dickinson", "--eccentricity-model", "power_law"]))
    assert chosen["redshift"] == "madau_dickinson" and chosen["eccentricity"] == "power_law"


def test_lvk_model_set_from_flags_and_from_a_model_config(tmp_path):
    parser = build_pop_parser()
    flags = model_options(parser.parse_args(shlex.split(
        "infer --posterior-regex x --n-plp 1 --add-spin --tilt-model free_mean "
        "--redshift-model power_law")))
    assert flags == {"n_pl": 0, "n_g": 0, "n_plp": 1, "n_bp2p": 0, "spin": True,
                     "tilt": "free_mean", "effective_spin": False, "eccentricity": False,
                     "redshift": "power_law", "smoothing": False}
    config = tmp_path / "model.json"
    config.write_text(json.dumps({"n_plp": 1, "spin": True, "tilt": "free_mean",
                                  "redshift": "power_law"}))
    args = parser.parse_args(["infer", "--posterior-regex", "x", "--model-cfg", str(config)])
    assert model_options(check_args(args)) == flags
    mixed = model_options(parser.parse_args(shlex.split(
        "infer --posterior-regex x --n-pl 1 --n-bp2p 1 --effective-spin-model skew_normal")))
    assert (mixed["n_pl"], mixed["n_bp2p"], mixed["effective_spin"]) == (1, 1, "skew_normal")


@pytest.mark.parametrize("content, match", [
    ({"n_plp": 1, "tilt": "sideways"}, r"model config '.*model.json': key 'tilt'"),
    ({"n_plp": -1}, r"key 'n_plp'"),
    ({"n_plp": 1, "colour": "red"}, r"key 'colour': unknown \(known: n_pl, "),
    ({"n_pl": 1, "spin": True, "effective_spin": "gaussian"}, r"choose one or the other"),
    ({"n_pl": 0}, r"at least one component"),
])
def test_bad_model_configs_are_named(tmp_path, content, match):
    config = tmp_path / "model.json"
    config.write_text(json.dumps(content))
    args = build_pop_parser().parse_args(["infer", "--posterior-regex", "x",
                                          "--model-cfg", str(config)])
    with pytest.raises(UserInputError, match=match):
        model_options(args)


def test_model_config_and_model_flags_do_not_mix(tmp_path):
    args = build_pop_parser().parse_args(shlex.split(
        f"infer --posterior-regex x --model-cfg {tmp_path / 'm.json'} --add-spin"))
    with pytest.raises(UserInputError, match=r"not both \(--add-spin given\)"):
        check_args(args)


def test_pop_subcommands_parse():
    parser = build_pop_parser()
    infer = parser.parse_args(shlex.split("infer --posterior-regex 'x/*.dat' --sampler flowmc"))
    assert infer.command == "infer" and infer.sampler == "flowmc"
    assert infer.prior_cfg is None and infer.sampler_cfg is None and infer.output == "inference"
    mock = parser.parse_args(shlex.split("mock --num-realizations 5 --samples-per-event 2000 "
                                         "--seed 3"))
    assert (mock.num_realizations, mock.samples_per_event, mock.seed) == (5, 2000, 3)
    report = parser.parse_args(["report", "inference"])
    assert report.directory == "inference" and report.output is None
    template = parser.parse_args(shlex.split("config-template --only prior nuts --n-pl 2"))
    assert template.only == ["prior", "nuts"] and template.n_pl == 2
    assert set(commands.COMMANDS) == {"mock", "infer", "report", "config-template"}


@pytest.mark.parametrize("argv, match", [
    (["--add-cos-iota"], r"--add-cos-iota: not supported"),
    (["--add-truncated-normal-spin"], r"--add-truncated-normal-spin: not supported"),
])
def test_unsupported_marginals(argv, match):
    args = build_sage_parser("n", "nuts").parse_args(
        ["--posterior-regex", "x", "--posterior-columns", "a", "--sampler-cfg", "s"] + argv)
    with pytest.raises(UserInputError, match=match):
        model_options(args)


def run_main(main, argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    err = capsys.readouterr().err
    return info.value.code, err


@pytest.mark.parametrize("main, argv, match", [
    (n_sage_main, ["--n-pl", "1"], r"^n_sage_n_pls_m_gs: error: the following arguments are "
                                   r"required: --posterior-regex"),
    (f_sage_main, seed_argv("f.json") + ["--n-buckets", "0"], r"--n-buckets: must be >= 1"),
    (n_sage_main, seed_argv("s.json") + ["--add-spin", "--add-truncated-normal-spin"],
     r"not allowed with argument"),
    (n_sage_main, seed_argv("s.json") + ["--bogus"], r"unrecognized arguments: --bogus"),
    (pop_main, ["infer", "--posterior-regex", "x", "--n-pl", "0"],
     r"^hierax-pop: error: the model needs at least one component"),
    (pop_main, ["infer", "--posterior-regex", "x", "--posterior-columns", "a", "a"],
     r"--posterior-columns repeats a"),
    (pop_main, ["frobnicate"], r"^hierax-pop: error: argument COMMAND: invalid choice"),
])
def test_bad_command_lines_exit_2_with_one_line(main, argv, match, capsys):
    code, err = run_main(main, argv, capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1, err
    assert re.search(match, err), err


def test_run_cli_exit_codes(capsys, monkeypatch, tmp_path):
    monkeypatch.delenv("HIERAX_TRACEBACK", raising=False)

    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as info:
        run_cli("prog", interrupted)
    assert info.value.code == 130 and capsys.readouterr().err == "prog: interrupted\n"

    bad = tmp_path / "bad.json"
    bad.write_text('{"a": }')
    with pytest.raises(SystemExit) as info:
        run_cli("prog", lambda: read_json_file(bad, what="prior config"))
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"prog: error: prior config '{bad}': malformed JSON at line 1")

    def multi_line():
        raise ValueError("first\n  second")

    with pytest.raises(SystemExit):
        run_cli("prog", multi_line)
    assert capsys.readouterr().err == "prog: error: first second\n"

    def defect():
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError, match="a bug"):
        run_cli("prog", defect)
    monkeypatch.setenv("HIERAX_TRACEBACK", "1")
    with pytest.raises(ValueError, match="first"):
        run_cli("prog", multi_line)
    assert run_cli("prog", lambda: None) == 0


def test_console_script_module_reports_one_line(tmp_path):
    env = dict(os.environ)
    env.pop("HIERAX_TRACEBACK", None)
    result = subprocess.run(
        [sys.executable, "-m", "hierax.cli", "config-template", "--output", str(tmp_path),
         "--only", "prior", "--add-cos-iota"],
        capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "hierax-pop: error: --add-cos-iota: not supported by hierax's population model "
        "(supported: --add-spin, --add-tilt, --add-eccentricity, --add-redshift, --smoothing "
        "and the --*-model choices)"]
    assert "Traceback" not in result.stderr
