"""config-template: the written examples parse back through the parsers that read them."""

import json

import pytest

from hierax.cli.errors import UserInputError
from hierax.cli.main import pop_main
from hierax.cli.sampler_config import (
    FlowMCConfig,
    NutsConfig,
    SliceConfig,
    parse_sampler_config,
)
from hierax.cli.templates import (
    FILE_NAMES,
    README_NAME,
    default_hyperparameter_names,
    prior_template,
    write_templates,
)
from hierax.pop.priors import parse_prior_config
from hierax.pop.selection.config import parse_selection_config

MASS_ONLY = {"n_pl": 1, "n_g": 0, "spin": False, "tilt": False, "eccentricity": False,
             "redshift": False, "smoothing": False}
SEED_PRIOR = {
    "log_rate_0": {"dist": "Uniform", "low": -11.5, "high": 11.5},
    "alpha_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "beta_pl_0": {"dist": "Uniform", "low": -5.0, "high": 5.0},
    "mmin_pl_0": {"dist": "Uniform", "low": 1.0, "high": 20.0},
    "mmax_pl_0": {"dist": "Uniform", "low": 30.0, "high": 100.0},
}


def test_all_templates_parse_back(tmp_path):
    paths = write_templates(tmp_path, None, MASS_ONLY)
    assert sorted(p.name for p in paths) == sorted([*FILE_NAMES.values(), README_NAME])
    prior = json.loads((tmp_path / "prior.json").read_text())
    assert prior == SEED_PRIOR  # one power law: exactly the tutorial's prior
    spec = parse_prior_config(tmp_path / "prior.json", default_hyperparameter_names(MASS_ONLY))
    assert len(spec.free_names) == 5
    assert isinstance(parse_sampler_config(tmp_path / "numpyro_config.json", "nuts"),
                      NutsConfig)
    assert isinstance(parse_sampler_config(tmp_path / "slice_config.json"), SliceConfig)
    assert isinstance(parse_sampler_config(tmp_path / "flowMC_config.json", "flowmc"),
                      FlowMCConfig)
    pmean = parse_selection_config(json.loads((tmp_path / "pmean.json").read_text()))
    assert pmean.estimator_type == "analytic_pdet"
    readme = (tmp_path / README_NAME).read_text()
    for name in FILE_NAMES.values():
        assert f"`{name}`" in readme
    assert "Edit before use" not in readme


@pytest.mark.parametrize("options", [
    dict(MASS_ONLY, n_pl=2, n_g=1),
    dict(MASS_ONLY, n_pl=0, n_g=2, smoothing=True),
    dict(MASS_ONLY, smoothing=True),
])
def test_prior_template_covers_mixtures(options):
    names = default_hyperparameter_names(options)
    config, placeholders = prior_template(names)
    assert placeholders == []
    spec = parse_prior_config(config, names)
    assert set(spec.hyperparameter_names) == set(names)
    assert sum(n.startswith("log_rate_") for n in names) == options["n_pl"] + options["n_g"]


def test_marginal_templates():
    options = dict(MASS_ONLY, spin=True, tilt=True, eccentricity=True, redshift=True)
    try:
        from hierax.pop.models import PopulationModel  # noqa: F401
    except ImportError:
        with pytest.raises(UserInputError, match="need hierax.pop.models"):
            default_hyperparameter_names(options)
        return
    for variant in ({}, {"eccentricity": "power_law", "redshift": "madau_dickinson"}):
        names = default_hyperparameter_names({**options, **variant})
        config, placeholders = prior_template(names)
        assert placeholders == []
        parse_prior_config(config, names)


def test_unknown_names_get_a_flagged_placeholder(tmp_path):
    config, placeholders = prior_template(["alpha_pl_0", "mystery_0"])
    assert placeholders == ["mystery_0"]
    assert config["mystery_0"] == {"dist": "Uniform", "low": 0.0, "high": 1.0}


def test_command_refuses_to_overwrite(tmp_path, capsys):
    assert pop_main(["config-template", "--output", str(tmp_path), "--only", "nuts"]) == 0
    assert (tmp_path / "numpyro_config.json").exists()
    assert not (tmp_path / "prior.json").exists()
    before = (tmp_path / README_NAME).read_text()
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        pop_main(["config-template", "--output", str(tmp_path), "--only", "nuts", "prior"])
    err = capsys.readouterr().err
    assert info.value.code == 2
    assert "numpyro_config.json, config_templates.md already exist" in err
    assert not (tmp_path / "prior.json").exists()  # nothing written on refusal
    assert pop_main(["config-template", "--output", str(tmp_path), "--only", "nuts", "prior",
                     "--force"]) == 0
    assert (tmp_path / "prior.json").exists()
    assert (tmp_path / README_NAME).read_text() != before
    assert not list(tmp_path.glob(".*.tmp"))
