"""The sampler JSON: seed 000's NUTS and flowMC files, the flat flowMC form, strict errors."""

import inspect
import json

import pytest

from hierax.cli.errors import UserInputError
from hierax.cli.sampler_config import (
    FlowMCConfig,
    McmcConfig,
    NutsConfig,
    NutsKernelConfig,
    detect_sampler_kind,
    parse_sampler_config,
)
from hierax.infer import MCMC, NUTS

SEED_NUTS = {
    "kernel": {"max_tree_depth": 6},
    "mcmc": {"num_warmup": 3000, "num_samples": 1000, "num_chains": 10, "thinning": 1,
             "chain_method": "parallel", "progress_bar": True, "jit_model_args": True},
}
SEED_FLOWMC = {
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


def write(tmp_path, data, name="sampler.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_seed_nuts_file(tmp_path):
    config = parse_sampler_config(write(tmp_path, SEED_NUTS))
    assert isinstance(config, NutsConfig) and config.kind == "nuts"
    assert config.kernel.max_tree_depth == 6
    assert config.mcmc.num_chains == 10 and config.mcmc.chain_method == "parallel"
    kernel = NUTS(lambda: None, **config.kernel.kernel_kwargs())
    mcmc = MCMC(kernel, **config.mcmc.model_dump())
    assert mcmc.num_chains == 10 and mcmc.num_warmup == 3000


def test_fields_follow_the_engine_signatures():
    nuts = inspect.signature(NUTS.__init__).parameters
    kernel_params = set(nuts) - {"self", "model", "potential_fn", "kinetic_fn"}
    assert set(NutsKernelConfig.model_fields) == kernel_params
    for name, field in NutsKernelConfig.model_fields.items():
        if name != "init_strategy":
            assert field.default == nuts[name].default, name
    assert nuts["init_strategy"].default.__name__ == NutsKernelConfig().init_strategy
    mcmc = inspect.signature(MCMC.__init__).parameters
    assert set(McmcConfig.model_fields) == set(mcmc) - {"self", "sampler", "postprocess_fn"}


def test_seed_flowmc_nested_and_flat_forms_agree(tmp_path):
    nested = parse_sampler_config(write(tmp_path, SEED_FLOWMC))
    flat = parse_sampler_config({**SEED_FLOWMC["data_dump"], **SEED_FLOWMC["bundle_config"]})
    assert isinstance(nested, FlowMCConfig) and nested.kind == "flowmc"
    assert nested == flat
    assert nested.bundle_config.rq_spline_hidden_units == [64, 64]
    assert nested.data_dump.n_samples == 10000
    upper = parse_sampler_config({"bundle_config": {
        **SEED_FLOWMC["bundle_config"], "local_sampler_name": " HMC "}}, "flowmc")
    assert upper.bundle_config.local_sampler_name == "hmc"


@pytest.mark.parametrize("data, match", [
    ({"kernel": {"max_tree_dept": 6}, "mcmc": SEED_NUTS["mcmc"]},
     r"key 'kernel.max_tree_dept': unknown key \(did you mean 'max_tree_depth'\?\)"),
    ({"mcmc": {**SEED_NUTS["mcmc"], "num_warmup": "3000"}},
     r"key 'mcmc.num_warmup': must be a whole number \(got \"3000\"\)"),
    ({"mcmc": {**SEED_NUTS["mcmc"], "num_samples": 10.5}}, r"key 'mcmc.num_samples'"),
    ({"mcmc": {**SEED_NUTS["mcmc"], "chain_method": "threads"}}, r"key 'mcmc.chain_method'"),
    ({"mcmc": {**SEED_NUTS["mcmc"], "thinning": 5000}},
     r"key 'mcmc': thinning=5000 exceeds num_samples=1000"),
    ({"kernel": {"target_accept_prob": 1.5}, "mcmc": SEED_NUTS["mcmc"]},
     r"key 'kernel.target_accept_prob'"),
    ({"kernel": {}}, r"key 'mcmc': required key is missing"),
    ({"kernel": {}, "mcmc": SEED_NUTS["mcmc"], "extra": 1}, r"key 'extra': unknown key"),
])
def test_nuts_errors_name_file_and_key(tmp_path, data, match):
    path = write(tmp_path, data, "numpyro_config.json")
    with pytest.raises(UserInputError, match=r"sampler config '.*numpyro_config.json': "
                                             + match):
        parse_sampler_config(path, "nuts")


def flat(**changes):
    return {**SEED_FLOWMC["data_dump"], **SEED_FLOWMC["bundle_config"], **changes}


@pytest.mark.parametrize("data, match", [
    (flat(n_chain=3), r"key 'n_chain': unknown key \(did you mean 'n_chains'\?\)"),
    (flat(local_thinning=1000), r"local_thinning=1000 exceeds n_local_steps=100"),
    (flat(rq_spline_range=[10.0, -10.0]), r"key 'rq_spline_range'.*low < high"),
    (flat(local_sampler_name="nuts"), r"key 'local_sampler_name'"),
    (flat(step_size=0.0), r"key 'step_size'"),
    ({"bundle_config": SEED_FLOWMC["bundle_config"], "n_samples": 5},
     r"key 'n_samples': unknown key \(in the nested form it belongs under data_dump"),
    ({"data_dump": {"n_samples": 5}}, r"key 'bundle_config': required key is missing"),
])
def test_flowmc_errors(data, match):
    with pytest.raises(UserInputError, match=match):
        parse_sampler_config(data, "flowmc")


def test_kind_detection_and_mismatch(tmp_path):
    assert detect_sampler_kind(SEED_NUTS) == "nuts"
    assert detect_sampler_kind(SEED_FLOWMC) == "flowmc"
    assert detect_sampler_kind({"n_chains": 4}) == "flowmc"
    assert detect_sampler_kind({"slice": {}, "mcmc": {}}) == "slice"
    assert detect_sampler_kind({"foo": 1}) is None
    assert detect_sampler_kind({"slice": {}, "kernel": {}}) is None
    with pytest.raises(UserInputError, match="this is a flowMC config, but this command runs "
                                             "NUTS"):
        parse_sampler_config(write(tmp_path, SEED_FLOWMC), "nuts")
    with pytest.raises(UserInputError, match="this is a NUTS config, but this command runs "
                                             "slice"):
        parse_sampler_config(SEED_NUTS, "slice")
    with pytest.raises(UserInputError, match="cannot tell the sampler"):
        parse_sampler_config({"foo": 1})


def test_gwkokab_sampler_name_tag(tmp_path):
    nuts = parse_sampler_config(write(tmp_path, {"sampler_name": "numpyro", **SEED_NUTS}))
    assert nuts.kind == "nuts" and nuts.kernel.max_tree_depth == 6
    flat = {"sampler_name": "flowMC", **SEED_FLOWMC["bundle_config"]}
    assert parse_sampler_config(flat).kind == "flowmc"
    with pytest.raises(UserInputError, match=r"sampler_name must be one of \['flowMC', "
                                             r"'numpyro', 'slice'\], got 'hmc'"):
        parse_sampler_config({"sampler_name": "hmc", **SEED_NUTS})
    with pytest.raises(UserInputError, match="sampler_name names flowMC, but the keys are "
                                             "those of a NUTS config"):
        parse_sampler_config({"sampler_name": "flowMC", **SEED_NUTS})
    with pytest.raises(UserInputError, match="this is a NUTS config, but this command runs "
                                             "flowMC"):
        parse_sampler_config({"sampler_name": "numpyro", "mcmc": {"num_warmup": 1}}, "flowmc")


def test_slice_config_defaults_and_errors():
    config = parse_sampler_config({"mcmc": {"num_warmup": 10, "num_samples": 5}}, "slice")
    assert config.kind == "slice" and config.slice.max_steps_out == 16
    kwargs = config.slice.kernel_kwargs()
    assert callable(kwargs["init_strategy"]) and kwargs["width"] == 1.0
    with pytest.raises(UserInputError, match=r"key 'slice.max_step_out': unknown key \(did you "
                                             r"mean 'max_steps_out'\?\)"):
        parse_sampler_config({"slice": {"max_step_out": 3}, "mcmc": {"num_warmup": 1,
                                                                     "num_samples": 1}})
    with pytest.raises(UserInputError, match=r"key 'slice.width': must be greater than 0"):
        parse_sampler_config({"slice": {"width": 0.0}, "mcmc": {"num_warmup": 1,
                                                                 "num_samples": 1}})


@pytest.mark.parametrize("text, match", [
    ('{"mcmc": {"num_warmup": 10,}}', r"malformed JSON at line 1, column"),
    ("", r"the file is empty"),
    ("[1]", r"the top level must be a JSON object, got list"),
])
def test_file_errors(tmp_path, text, match):
    with pytest.raises(UserInputError, match=r"sampler config '.*sampler.json': " + match):
        parse_sampler_config(write(tmp_path, text))
    with pytest.raises(UserInputError, match="file not found"):
        parse_sampler_config(tmp_path / "absent.json")


def test_default_sampler_is_slice_and_mcmc_alone_takes_the_default():
    from hierax.cli.infer_command import DEFAULT_SAMPLER, default_sampler_config
    from hierax.pop.defaults import SLICE_MCMC_SETTINGS

    assert DEFAULT_SAMPLER == "slice"
    config = default_sampler_config()
    assert config.kind == "slice"
    for key, value in SLICE_MCMC_SETTINGS.items():
        assert getattr(config.mcmc, key) == value
    assert default_sampler_config("nuts").kind == "nuts"
    only_mcmc = {"mcmc": {"num_warmup": 10, "num_samples": 5}}
    assert parse_sampler_config(only_mcmc, default_kind="slice").kind == "slice"
    assert parse_sampler_config(only_mcmc, "nuts").kind == "nuts"
    with pytest.raises(UserInputError, match="cannot tell the sampler"):
        parse_sampler_config(only_mcmc)
