"""Save an MCMC run to one file, read it back, and continue it later.

:func:`save` writes the draws, the per-draw sampler statistics, the full
sampler state and the run settings of an :class:`~hierax.infer.MCMC` to one
NetCDF-4 (HDF5) file, with the ArviZ groups :func:`hierax.to_inference_data`
gives for the run (observed data, log-likelihood, and prior and predictive
draws when given); :func:`load` reads it back as a :class:`SavedRun`, and
``hierax.to_inference_data(load(path))`` gives those groups without the model;
:func:`resume` checks that a saved state fits an ``MCMC`` and sets its
``post_warmup_state``. The state holds every chain's key, and iteration ``i``
of a chain uses ``fold_in(chain_key, i)``, so a continued run makes exactly
the draws the uninterrupted run would have made::

    mcmc.run(key, y)
    save(mcmc, "run.nc")
    # ... later, in another process:
    more = MCMC(NUTS(model), num_warmup=500, num_samples=1000, num_chains=4)
    more.post_warmup_state = load("run.nc").last_state   # or resume(more, "run.nc")
    more.run(key, y)

File format (version 1), readable with ``xarray`` and ArviZ
(``arviz.from_netcdf``):

- root attributes: ``hierax_format = "hierax-mcmc-run"``,
  ``hierax_format_version = 1``, ``hierax_version``, ``settings`` (JSON:
  ``num_warmup``, ``num_samples``, ``num_chains``, ``thinning``,
  ``chain_method``, ``sampler`` as ``"module:qualname"``) and ``groups`` (JSON
  list of the groups present).
- group ``posterior``: one variable per site, the
  ``get_samples(group_by_chain=True)`` of the run, as the ``posterior`` group
  of :func:`~hierax.infer.arviz.to_inference_data`: dims ``(chain, draw, ...)``,
  a plate's dim named after the plate, the others ``<site>_dim_<k>``, with
  coordinates (files written before the other ArviZ groups existed name every
  dim ``<site>_dim_<k>``); absent when the run has no draws (after ``warmup``
  only), and so are the groups below up to ``posterior_predictive``.
- group ``sample_stats``: the ``get_extra_fields(group_by_chain=True)`` of the run
  under hierax's names (``diverging``, ``accept_prob``, ``num_steps``,
  ``potential_energy``, ...), dims ``(chain, draw, <field>_dim_0, ...)``;
  ``to_inference_data`` of the loaded run renames them as ArviZ does.
- groups ``observed_data`` and ``log_likelihood`` (runs of a model with
  observed sites; ``log_likelihood`` unless ``save(..., log_likelihood=False)``)
  and ``prior``, ``prior_predictive``, ``posterior_predictive`` (when given to
  :func:`save`): the groups of the same names of ``to_inference_data``, same
  variables, dims, coordinates and attributes.
- group ``sampler_state``: ``mcmc.last_state``; group ``post_warmup_state``:
  ``mcmc.post_warmup_state`` when it is set. Each leaf of the state pytree is
  one variable named by its dotted path (``kernel_state.hmc.position``); the
  group attribute ``structure`` (JSON) rebuilds the pytree: a node is
  ``{"type": "namedtuple", "class": "module:qualname", "fields": [...],
  "children": [...]}``, ``{"type": "tuple" | "list", "children": [...]}``,
  ``{"type": "dict", "keys": [...], "children": [...]}``, ``{"type": "none"}``
  or ``{"type": "array", "name": ..., "dtype": ..., "key_impl": ...}``.
  Keys are stored as raw ``uint32`` key data; a leaf that was a typed key
  (``jax.random.key``) records its implementation in ``key_impl`` and comes
  back as a typed key.

Names of variables, dims and coordinates escape ``%`` and ``/`` (HDF5 forbids
``/``) as ``%25`` and ``%2F``.
Floats are stored without a fill value, so every value (NaN included) reads
back bit for bit. Writes are atomic: a temporary file in the same folder is
written, flushed to disk and renamed over ``path`` (``os.replace``), so a
failure never leaves a partial file at ``path``. Loading imports the state's
NamedTuple classes by their recorded paths (a class must be a NamedTuple with
the recorded fields); load files you trust.

Reading needs ``xarray`` and ``h5netcdf``, writing ArviZ too (``pip install
"hierax[plot]"`` brings all three).
"""

from __future__ import annotations

import json
import os
from importlib import metadata

import jax
import numpy as np

from hierax._files import replace_atomically
from hierax.infer.state_tree import class_path, decode_state, encode_state

__all__ = ["SavedRun", "load", "resume", "save"]

FORMAT_NAME = "hierax-mcmc-run"
FORMAT_VERSION = 1
_STATE_GROUPS = ("sampler_state", "post_warmup_state")
# Groups of the file that are not ArviZ groups as to_inference_data builds them.
_RUN_ONLY_GROUPS = ("sample_stats",) + _STATE_GROUPS
_SETTINGS = ("num_warmup", "num_samples", "num_chains", "thinning", "chain_method")


def _xarray(writing=False):
    """The ``xarray`` module, once ``h5netcdf`` (and, for ``writing``, ArviZ) is found."""
    try:
        import h5netcdf  # noqa: F401
        import xarray

        if writing:
            import arviz  # noqa: F401
    except ImportError as error:
        raise ImportError(
            "loading MCMC runs needs xarray and h5netcdf, saving them ArviZ too: "
            'pip install "hierax[plot]"'
        ) from error
    return xarray


def _installed_version() -> str:
    try:
        return metadata.version("hierax")
    except metadata.PackageNotFoundError:
        return "unknown"


def _escape(name: str) -> str:
    return name.replace("%", "%25").replace("/", "%2F")


def _unescape(name: str) -> str:
    return name.replace("%2F", "/").replace("%25", "%")


# -- datasets -----------------------------------------------------------------------


def _draws_dataset(xarray, values):
    """dict name -> ``(chains, draws, ...)`` as an ArviZ-style Dataset."""
    variables, coords = {}, {}
    for name, value in values.items():
        value = np.asarray(value)
        escaped = _escape(name)
        dims = ("chain", "draw") + tuple(f"{escaped}_dim_{k}" for k in range(value.ndim - 2))
        variables[escaped] = (dims, value)
        coords = {"chain": np.arange(value.shape[0]), "draw": np.arange(value.shape[1])}
    return xarray.Dataset(variables, coords=coords)


def _state_dataset(xarray, state, num_chains):
    """A state pytree as a Dataset: one variable per leaf plus the ``structure`` attribute."""
    structure, arrays = encode_state(state)
    variables = {}
    for path, value in arrays.items():
        escaped = _escape(path)
        dims = [f"{escaped}_dim_{k}" for k in range(value.ndim)]
        if value.ndim and value.shape[0] == num_chains:
            dims[0] = "chain"
        variables[escaped] = (tuple(dims), value)
    return xarray.Dataset(variables, attrs={"structure": json.dumps(structure)})


def _renamed(dataset, rename):
    """``dataset`` with ``rename`` applied to the names of its variables, coords and dims."""
    names = {str(name) for name in dataset.variables} | {str(name) for name in dataset.dims}
    mapping = {name: rename(name) for name in names if rename(name) != name}
    return dataset.rename(mapping) if mapping else dataset


def _arrays_of(dataset):
    return {_unescape(str(name)): np.asarray(var.values)
            for name, var in dataset.data_vars.items()}


# -- writing ------------------------------------------------------------------------


def _draw_groups(xarray, mcmc, fields, extras):
    """``posterior``, ``sample_stats`` and the other ArviZ groups of a run with draws."""
    from hierax.infer.arviz import inference_groups  # arviz.py imports this module

    groups = {name: _renamed(dataset, _escape)
              for name, dataset in inference_groups(mcmc, **extras).items()}
    groups["sample_stats"] = _draws_dataset(xarray, fields)
    return groups


def _run_groups(xarray, mcmc, extras):
    """The groups to write for ``mcmc``, in order (name -> Dataset)."""
    try:
        fields = mcmc.get_extra_fields(group_by_chain=True)
    except RuntimeError:
        fields = None
    groups = {}
    if fields is not None:
        groups = _draw_groups(xarray, mcmc, fields, extras)
    elif extras.get("prior") is not None or extras.get("posterior_predictive") is not None:
        raise ValueError("save: the MCMC has no draws (only warmup ran), so prior and "
                         "predictive draws cannot be saved with it.")
    groups["sampler_state"] = _state_dataset(xarray, mcmc.last_state, mcmc.num_chains)
    if mcmc.post_warmup_state is not None:
        groups["post_warmup_state"] = _state_dataset(xarray, mcmc.post_warmup_state,
                                                     mcmc.num_chains)
    return groups


def _root_attrs(mcmc, group_names):
    settings = {name: getattr(mcmc, name) for name in _SETTINGS}
    settings["sampler"] = class_path(type(mcmc.sampler))
    return {"hierax_format": FORMAT_NAME, "hierax_format_version": FORMAT_VERSION,
            "hierax_version": _installed_version(), "settings": json.dumps(settings),
            "groups": json.dumps(list(group_names))}


def _write_group(target, name, dataset):
    """Append ``dataset`` as group ``name`` of the NetCDF file ``target`` (root if None)."""
    encoding = {var: {"_FillValue": None} for var in dataset.variables}
    dataset.to_netcdf(target, mode="w" if name is None else "a", group=name,
                      engine="h5netcdf", encoding=encoding)


def _write_atomically(path, groups, root):
    """Write ``root`` and ``groups`` to a temporary file, flush it, then move it to ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"save: the folder {folder} of {path} does not exist.")

    def write(temporary):
        _write_group(temporary, None, root)
        for name, dataset in groups.items():
            _write_group(temporary, name, dataset)

    replace_atomically(path, write)


def save(mcmc, path, *, prior=None, posterior_predictive=None, log_likelihood=True,
         coords=None, dims=None, model_args=None, model_kwargs=None) -> None:
    """Write ``mcmc``'s draws, statistics, sampler state, settings and ArviZ groups to ``path``.

    The keyword arguments are those of :func:`~hierax.infer.arviz.to_inference_data`:
    the file holds the groups it gives for ``mcmc`` with them (``observed_data``
    and ``log_likelihood`` when the run's model has observed sites, none for a
    ``potential_fn`` run; ``prior``, ``prior_predictive`` and
    ``posterior_predictive`` when given), and ``to_inference_data(load(path))``
    gives them back unchanged.

    Args:
        mcmc: an :class:`~hierax.infer.MCMC` after ``run`` (or ``warmup``, then
            the file holds the state but no draws).
        path: the file to write (conventionally ``*.nc``); an existing file is
            replaced atomically. The format is described in this module's docstring.
        prior: optional dict site -> prior draws ``(draws, ...)``.
        posterior_predictive: optional dict site -> posterior predictive draws.
        log_likelihood: save the ``log_likelihood`` group (one evaluation of the
            model per draw).
        coords, dims: the user's coordinates and dim names, as in ``to_inference_data``.
        model_args, model_kwargs: the model's arguments; default: those of the run.

    Raises:
        ValueError: if ``mcmc`` has no state yet, or ``prior`` or
            ``posterior_predictive`` is given for a run without draws.
        FileNotFoundError: if the folder of ``path`` does not exist.
    """
    if getattr(mcmc, "last_state", None) is None:
        raise ValueError("save: the MCMC has no state to save yet; call run() or warmup() "
                         "first.")
    xarray = _xarray(writing=True)
    path = os.fspath(path)
    extras = {"prior": prior, "posterior_predictive": posterior_predictive,
              "log_likelihood": log_likelihood, "coords": coords, "dims": dims,
              "model_args": model_args, "model_kwargs": model_kwargs}
    groups = _run_groups(xarray, mcmc, extras)
    root = xarray.Dataset(attrs=_root_attrs(mcmc, groups))
    _write_atomically(path, groups, root)


# -- reading ------------------------------------------------------------------------


def _open_group(xarray, path, group):
    with xarray.open_dataset(path, group=group, engine="h5netcdf", mask_and_scale=False,
                             decode_times=False, decode_timedelta=False) as dataset:
        return dataset.load()


def _read_root(xarray, path, strict_version):
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load: no such file {path}.")
    try:
        attrs = _open_group(xarray, path, None).attrs
    except Exception as error:
        raise ValueError(f"load: {path} is not a hierax run file: it cannot be read as "
                         f"NetCDF/HDF5 ({error}).") from error
    if attrs.get("hierax_format") != FORMAT_NAME:
        raise ValueError(f"load: {path} is not a hierax run file: its attribute "
                         f"'hierax_format' is {attrs.get('hierax_format')!r}, expected "
                         f"{FORMAT_NAME!r}.")
    file_format = int(attrs.get("hierax_format_version", -1))
    if file_format != FORMAT_VERSION:
        raise ValueError(f"load: {path} has format version {file_format}; this hierax reads "
                         f"version {FORMAT_VERSION}.")
    written_by, installed = str(attrs.get("hierax_version")), _installed_version()
    if strict_version and written_by != installed:
        raise ValueError(
            f"load: {path} was written by hierax {written_by}, this is hierax {installed}; a "
            "continued run may not reproduce the draws. Pass strict_version=False to read it "
            "anyway.")
    return attrs


class SavedRun:
    """An MCMC run read back from a file by :func:`load`.

    Attributes:
        path: the file it was read from.
        settings: dict with ``num_warmup``, ``num_samples``, ``num_chains``,
            ``thinning``, ``chain_method`` and ``sampler`` (``"module:qualname"``).
        hierax_version: the hierax version that wrote the file.
        last_state: the sampler state at the end of the run (a ``ChainState``
            with a leading chain dim; NumPy leaves, typed keys as JAX key arrays).
            Set it as ``post_warmup_state`` of an ``MCMC`` to continue the run.
        post_warmup_state: the run's ``post_warmup_state``, or None.
        groups: dict group name -> ``xarray.Dataset``: the ArviZ groups saved
            with the run, as ``to_inference_data`` built them (``posterior``,
            ``observed_data``, ``log_likelihood``, ``prior``, ``prior_predictive``,
            ``posterior_predictive``: those in the file; none without draws).
            ``hierax.to_inference_data(run)`` returns them with ``sample_stats``.
    """

    def __init__(self, path, settings, hierax_version, draws, fields, last_state,
                 post_warmup_state, groups=None):
        self.path = path
        self.groups = dict(groups or {})
        self.settings = settings
        self.hierax_version = hierax_version
        self._draws = draws
        self._fields = fields
        self.last_state = last_state
        self.post_warmup_state = post_warmup_state

    @property
    def num_chains(self) -> int:
        return int(self.settings["num_chains"])

    def _grouped(self, values, group_by_chain):
        if values is None:
            raise ValueError(f"{self.path} holds no draws (it was saved after warmup only).")
        if group_by_chain:
            return dict(values)
        return {k: v.reshape((-1,) + v.shape[2:]) for k, v in values.items()}

    def get_samples(self, group_by_chain=False) -> dict:
        """Draws per site (NumPy), ``(chains, draws, ...)`` or ``(chains * draws, ...)``."""
        return self._grouped(self._draws, group_by_chain)

    def get_extra_fields(self, group_by_chain=False) -> dict:
        """Per-draw sampler statistics (NumPy), shaped like :meth:`get_samples`."""
        return self._grouped(self._fields, group_by_chain)

    def __repr__(self):
        return (f"SavedRun({self.path!r}, num_chains={self.num_chains}, "
                f"sites={sorted(self._draws or {})})")


def _read_state(xarray, path, group):
    dataset = _open_group(xarray, path, group)
    return decode_state(json.loads(dataset.attrs["structure"]), _arrays_of(dataset), path)


def load(path, *, strict_version=True) -> SavedRun:
    """Read a run written by :func:`save`.

    Args:
        path: the file.
        strict_version: refuse a file written by another hierax version (whose
            kernels may make different draws from the same state).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if ``path`` is not a hierax run file, has another format
            version, comes from another hierax version (with ``strict_version``),
            or its state classes do not match this hierax.
    """
    xarray = _xarray()
    path = os.fspath(path)
    attrs = _read_root(xarray, path, strict_version)
    groups = json.loads(attrs["groups"])
    stored = {name: _open_group(xarray, path, name) for name in groups
              if name not in _RUN_ONLY_GROUPS}
    draws = fields = None
    if "posterior" in stored:
        draws = _arrays_of(stored["posterior"])
        fields = _arrays_of(_open_group(xarray, path, "sample_stats"))
    states = {g: _read_state(xarray, path, g) if g in groups else None for g in _STATE_GROUPS}
    return SavedRun(path, json.loads(attrs["settings"]), str(attrs["hierax_version"]), draws,
                    fields, states["sampler_state"], states["post_warmup_state"],
                    {name: _renamed(dataset, _unescape) for name, dataset in stored.items()})


# -- continuing ---------------------------------------------------------------------


def _program_for(mcmc, model_args, model_kwargs):
    """The model's program for the dimension check, or None when it cannot be built."""
    if mcmc._program is not None and not model_args and not model_kwargs:
        return mcmc._program
    if getattr(mcmc.sampler, "model", None) is None:
        return None
    return mcmc.sampler.build_program(jax.random.PRNGKey(0), tuple(model_args),
                                      dict(model_kwargs), None)


def _check_compatible(mcmc, run, program):
    path, state = run.path, run.last_state
    chains = int(np.shape(state.iteration)[0])
    if chains != mcmc.num_chains:
        raise ValueError(f"resume: {path} holds {chains} chains but the MCMC has "
                         f"num_chains={mcmc.num_chains}.")
    saved_sampler, sampler = run.settings.get("sampler"), class_path(type(mcmc.sampler))
    if saved_sampler != sampler:
        raise ValueError(f"resume: {path} was run with the kernel {saved_sampler}, the MCMC "
                         f"has {sampler}.")
    done = int(np.min(np.asarray(state.iteration)))
    if mcmc.num_warmup > done:
        raise ValueError(f"resume: the chains in {path} have taken {done} iterations, fewer "
                         f"than num_warmup={mcmc.num_warmup}, so the MCMC would adapt again; "
                         f"use num_warmup={run.settings['num_warmup']}.")
    if program is None:
        return
    position = np.asarray(mcmc.sampler.position(state.kernel_state))
    if position.shape[-1] != program.dimension or position.dtype != program.dtype:
        raise ValueError(f"resume: {path} holds positions of dimension {position.shape[-1]} "
                         f"({position.dtype}); the model has {program.dimension} unconstrained "
                         f"dimensions ({program.dtype}).")


def resume(mcmc, path, model_args=(), model_kwargs=None, *, strict_version=True) -> SavedRun:
    """Set ``mcmc.post_warmup_state`` to the state saved in ``path``, after checking it fits.

    The next ``mcmc.run(key, *model_args, **model_kwargs)`` then continues the
    saved chains: its draws are those the saved run would have made next.

    Args:
        mcmc: an :class:`~hierax.infer.MCMC` with the same kernel class, number
            of chains and ``num_warmup`` (at most the iterations already taken).
        path: a file written by :func:`save`.
        model_args, model_kwargs: the model's arguments, used to check the
            position dimension and dtype (not needed once ``mcmc`` has run on
            this model; not checked for a ``potential_fn`` kernel that has not run).
        strict_version: as in :func:`load`.

    Returns:
        the :class:`SavedRun` read from ``path``.

    Raises:
        ValueError: if the file cannot be read (see :func:`load`) or does not fit ``mcmc``.
    """
    run = load(path, strict_version=strict_version)
    program = _program_for(mcmc, model_args, model_kwargs or {})
    _check_compatible(mcmc, run, program)
    mcmc.post_warmup_state = run.last_state
    return run
