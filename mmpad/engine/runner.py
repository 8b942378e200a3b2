"""``MMPadRunner``: mmengine's Runner plus the two things mmpad configs rely on.

* The config is checked (:func:`mmpad.core.check_config`) before anything is built,
  so a misspelled ``type`` or a missing ``data_root`` fails with the field's name.
* ``--resume`` continues exactly: the checkpoint to resume is the newest complete
  one (:mod:`mmpad.core.checkpoint.resume`), an unset seed is taken from it, and
  :class:`~mmpad.engine.hooks.random_state_hook.RandomStateHook` saves and
  restores the RNG states.
* A NaN or inf loss stops the run naming the iteration and the loss term, before
  the update is applied (:class:`~mmpad.engine.hooks.nonfinite_loss_hook.
  NonFiniteLossHook`, ``action='raise'``, unless the config lists its own).
* Distributed runs have a collective timeout: ``env_cfg.dist_cfg.timeout`` (seconds,
  given to ``init_process_group`` by mmengine's ``init_dist``, or here for CPU
  runs), :data:`DEFAULT_DIST_TIMEOUT_S` (30 min) when the config sets none. A rank
  that stops answering (frozen by SIGSTOP, swapping, deadlocked, died without a
  socket error) makes the others fail within that time instead of waiting
  forever; the failing rank logs which operation timed out at which iteration,
  and the launcher (torchrun) then ends the job.
* Distributed runs work on CPU machines: the process group is created with ``gloo``
  (mmengine's launcher calls ``torch.cuda.set_device`` unconditionally) and DDP is
  built with ``device_ids=None``. GPU runs are untouched.
* A ``collate_fn`` or ``worker_init_fn`` inherited from a ``mmpretrain::`` (or any
  ``scope::``) base config works: mmengine's config adds ``_scope_`` to such a dict and
  mmengine's Runner passes every key of it to the function as a keyword argument
  (``default_collate() got an unexpected keyword argument '_scope_'``). Here the
  function is looked up in the registry of that scope and the key is dropped
  (:func:`resolve_function_scopes`).
* ``load_from`` and ``--resume`` checkpoints are checked against the model before
  they are loaded (:func:`mmpad.core.check_checkpoint_compatible`): a checkpoint of
  another architecture or with other adapter sizes fails with
  :class:`~mmpad.core.CheckpointMismatchError` instead of mmengine's warning and
  a silently random model. ``checkpoint_compat_check = False`` in the config skips
  the check; a dict passes options (e.g. ``dict(min_loaded_fraction=0.2)``).
* A model sharded by :class:`~mmpad.engine.fsdp_wrap.PADFullyShardedDataParallel`
  is saved unsharded (rank 0 writes the full weights and optimizer state, as a DDP
  run does) and loaded from such files (``load_from``, ``--resume``).

Configs select it with ``runner_type = 'MMPadRunner'``; ``tools/train.py`` uses it
for every config that does not name another runner.
"""
from __future__ import annotations

import copy
import datetime
import importlib
import os
import re
from typing import Any, Optional, Union

import torch
import torch.distributed as dist
from torch.distributed.fsdp import FullyShardedDataParallel
from mmengine.config import Config, ConfigDict
from mmengine.model import is_model_wrapper
from mmengine.registry import FUNCTIONS, MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import load_state_dict

from mmpad.engine.config_text import CachedTextConfig
from mmpad.engine.fsdp_wrap import (PADFullyShardedDataParallel,
                                    full_checkpoint_state)
from mmpad.engine.hooks.nonfinite_loss_hook import NonFiniteLossHook
from mmpad.engine.hooks.random_state_hook import RandomStateHook
from mmpad.core.checkpoint.resume import find_resume_checkpoint, pin_resume_seed
from mmpad.core.arg_check import check_float
from mmpad.core.checkpoint.compat import (CONFIG_KEY,
                                           check_checkpoint_compatible)
from mmpad.core.checkpoint.reader import read_checkpoint, read_state_dict
from mmpad.core.config_check import (ConfigError, check_config,
                                     check_init_checkpoints)


#: seconds a collective may wait for the other ranks when ``env_cfg.dist_cfg``
#: sets no ``timeout``: long enough for the slowest legitimate wait of a real run
#: (rank 0 writing a multi-GB checkpoint or evaluating while the others wait in a
#: barrier; NCCL's own default is 10 min, gloo's 30 min), short enough that a frozen
#: rank costs half an hour of a cluster allocation, not all of it.
DEFAULT_DIST_TIMEOUT_S = 1800

_TIMEOUT_TEXT = re.compile(r'time[d ]?\s*out|timeout|deadline exceeded', re.I)
_OPERATION = re.compile(r'for (\w+) operation|OpType=(\w+)|(\w+) operation')


def slurm_to_torch_env() -> None:
    """Set torch's rendezvous variables from Slurm's, as mmengine's ``slurm``
    launcher does (which needs GPUs): ``RANK`` = ``SLURM_PROCID``, ``WORLD_SIZE`` =
    ``SLURM_NTASKS``, ``LOCAL_RANK`` = ``SLURM_LOCALID``, ``MASTER_ADDR`` (unless
    set) the first host of ``SLURM_NODELIST``, ``MASTER_PORT`` (unless set) 29500."""
    for key in ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST'):
        if key not in os.environ:
            raise RuntimeError(f'--launcher slurm: {key} is not set (run the job '
                               'with srun, e.g. tools/slurm_train.sh)')
    if 'MASTER_ADDR' not in os.environ:
        import subprocess
        nodes = os.environ['SLURM_NODELIST']
        try:
            hosts = subprocess.run(['scontrol', 'show', 'hostname', nodes],
                                   capture_output=True, text=True).stdout.split()
        except OSError:
            hosts = []
        if not hosts:
            raise RuntimeError(f'--launcher slurm: `scontrol show hostname {nodes}` '
                               'named no host; set MASTER_ADDR')
        os.environ['MASTER_ADDR'] = hosts[0]
    os.environ.setdefault('MASTER_PORT', '29500')
    os.environ['RANK'] = os.environ['SLURM_PROCID']
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')


def init_cpu_process_group_if_needed(launcher: str,
                                     timeout_s: Optional[float] = None) -> None:
    """Create a gloo process group from torchrun's env vars (Slurm's with
    ``launcher='slurm'``) on CPU-only hosts, with collectives timing out after
    ``timeout_s`` seconds (torch's default when None)."""
    if launcher in (None, 'none') or torch.cuda.is_available():
        return
    if dist.is_available() and not dist.is_initialized():
        if launcher == 'slurm':
            slurm_to_torch_env()
        kwargs = {}
        if timeout_s is not None:
            kwargs['timeout'] = datetime.timedelta(seconds=float(timeout_s))
        dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']), **kwargs)


def collective_timeout_s(cfg: Config) -> float:
    """Set ``cfg.env_cfg.dist_cfg.timeout`` to :data:`DEFAULT_DIST_TIMEOUT_S` when
    absent and return it (checked: a number of seconds > 0)."""
    cfg.setdefault('env_cfg', ConfigDict())
    if cfg.env_cfg is None:
        cfg.env_cfg = ConfigDict()
    cfg.env_cfg.setdefault('dist_cfg', ConfigDict())
    if cfg.env_cfg.dist_cfg is None:
        cfg.env_cfg.dist_cfg = ConfigDict()
    if cfg.env_cfg.dist_cfg.get('timeout') is None:
        cfg.env_cfg.dist_cfg.timeout = DEFAULT_DIST_TIMEOUT_S
    return check_float('env_cfg.dist_cfg', 'timeout', cfg.env_cfg.dist_cfg.timeout,
                       0.0, None, lo_open=True)


def is_collective_timeout(error: BaseException) -> bool:
    """Whether ``error`` (or one it was raised from) is a timed-out collective."""
    seen = 0
    while error is not None and seen < 8:
        if _TIMEOUT_TEXT.search(str(error)) or isinstance(error, TimeoutError):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def describe_collective_timeout(error: BaseException, timeout_s: Optional[float],
                                rank: int, where: str) -> str:
    """The one line logged by a rank whose collective timed out."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else \
        type(error).__name__
    m = _OPERATION.search(str(error))
    op = next((g for g in m.groups() if g), None) if m else None
    op = f'the {op} operation of a collective' if op else 'a collective operation'
    limit = f'{timeout_s:g} s' if timeout_s is not None else 'its'
    return (f'rank {rank}: {op} (DDP gradient all-reduce, broadcast or barrier) '
            f'did not complete within the {limit} collective timeout '
            f'(env_cfg.dist_cfg.timeout) {where}: another rank is stalled '
            f'(stopped, swapping, deadlocked) or gone. Stopping this rank; '
            f'error: {type(error).__name__}: {text[:300]}')


#: dataloader keys whose ``type`` mmengine's Runner resolves in ``FUNCTIONS``
FUNCTION_KEYS = ('collate_fn', 'worker_init_fn')


def _function_registry(scope: str):
    """The ``FUNCTIONS`` registry of ``scope``, else mmengine's (what mmengine's
    ``switch_scope_and_registry`` picks, without its warning: mmpretrain, for
    one, has no function registry of its own and uses mmengine's)."""
    try:  # a scope's registries exist once its registry module is imported
        importlib.import_module(f'{scope}.registry')
    except ImportError:
        pass
    return FUNCTIONS._search_child(scope) or FUNCTIONS


def resolve_function_scopes(dataloader: dict, where: str = 'dataloader') -> dict:
    """A copy of a dataloader config whose ``collate_fn`` / ``worker_init_fn``
    dicts carry no ``_scope_``: a string ``type`` with a ``_scope_`` is replaced by
    the function registered under that name in the scope's ``FUNCTIONS`` registry
    (mmengine's own rule for a ``scope::`` base config), the other keys are kept as
    the function's keyword arguments. ``dataloader`` itself is not changed.

    Raises:
        ConfigError: the scope has no function of that name.
    """
    out = None
    for key in FUNCTION_KEYS:
        fn_cfg = dataloader.get(key)
        if not isinstance(fn_cfg, dict) or '_scope_' not in fn_cfg:
            continue
        fn_cfg = copy.copy(fn_cfg)
        scope = fn_cfg.pop('_scope_')
        fn_type = fn_cfg.get('type')
        if isinstance(fn_type, str):
            fn = _function_registry(scope).get(fn_type)
            if fn is None:
                raise ConfigError(
                    f'{where}.{key}.type: {fn_type!r} is not a function registered '
                    f'in scope {scope!r} (FUNCTIONS registry)')
            fn_cfg['type'] = fn
        if out is None:
            out = copy.copy(dataloader)
        out[key] = fn_cfg
    return dataloader if out is None else out


@RUNNERS.register_module()
class MMPadRunner(Runner):
    """Runner that validates its config and supports CPU (gloo) DDP."""

    #: read by :func:`mmpad.core.check_config`: this runner drops the ``_scope_``
    #: of ``collate_fn`` / ``worker_init_fn`` (see :meth:`build_dataloader`)
    resolves_function_scope = True

    @staticmethod
    def build_dataloader(dataloader: Union[Any, dict], seed: Optional[int] = None,
                         diff_rank_seed: bool = False):
        """mmengine's ``Runner.build_dataloader`` after
        :func:`resolve_function_scopes` (a ``collate_fn`` from a ``mmpretrain::``
        base config is called without its ``_scope_`` key)."""
        if isinstance(dataloader, dict):
            dataloader = resolve_function_scopes(dataloader)
        return Runner.build_dataloader(dataloader, seed=seed,
                                       diff_rank_seed=diff_rank_seed)

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'MMPadRunner':
        check_config(cfg, runner=cls)
        launcher = cfg.get('launcher', 'none')
        if launcher != 'none':
            timeout_s = collective_timeout_s(cfg)
            if not torch.cuda.is_available():
                cfg.env_cfg.dist_cfg.backend = 'gloo'
                init_cpu_process_group_if_needed(launcher, timeout_s)
        if cfg.get('resume', False):
            if cfg.get('load_from') is None and cfg.get('work_dir'):
                cfg.load_from = find_resume_checkpoint(cfg.work_dir)
            if cfg.get('load_from'):
                pin_resume_seed(cfg, cfg.load_from)
        # the Runner formats the config 4+ times; format it once
        return super().from_cfg(CachedTextConfig.of(cfg))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # RNG states travel with every checkpoint, so --resume is bit-identical;
        # a NaN/inf loss stops the run before the update reaches the weights
        # (a NonFiniteLossHook in custom_hooks, e.g. action='skip', replaces it)
        for hook_type, hook in ((RandomStateHook, RandomStateHook()),
                                (NonFiniteLossHook,
                                 NonFiniteLossHook(action='raise'))):
            if not any(isinstance(h, hook_type) for h in self._hooks):
                self.register_hook(hook)

    def train(self) -> torch.nn.Module:
        """mmengine's ``train``; a timed-out collective is logged first, naming the
        operation, the timeout and the iteration, then re-raised (the process
        exits non-zero and the launcher ends the other ranks)."""
        # init_cfg checkpoints are read by init_weights, only when training
        # (tools/test.py loads load_from instead): check them here, by field name
        check_init_checkpoints(self.cfg)
        try:
            return super().train()
        except Exception as e:  # noqa: BLE001 - re-raised
            if self.distributed and is_collective_timeout(e):
                dist_cfg = (self.cfg.get('env_cfg') or {}).get('dist_cfg') or {}
                timeout_s = dist_cfg.get('timeout')
                try:
                    where = f'at epoch {self.epoch + 1}, iteration {self.iter + 1}'
                except Exception:  # noqa: BLE001 - the loop was not built
                    where = 'while training'
                self.logger.error(describe_collective_timeout(
                    e, timeout_s, int(os.environ.get('RANK', 0)), where))
            raise

    def wrap_model(self, model_wrapper_cfg: Optional[dict],
                   model: torch.nn.Module):
        if self.distributed and not torch.cuda.is_available():
            model_wrapper_cfg = dict(model_wrapper_cfg or dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get(
                    'find_unused_parameters', False)))
            # CPU DDP takes no devices (FSDP wrappers have no device_ids)
            wrapper = model_wrapper_cfg.get('type', 'MMDistributedDataParallel')
            if isinstance(wrapper, str):
                wrapper = MODEL_WRAPPERS.get(wrapper)
            if not (isinstance(wrapper, type) and
                    issubclass(wrapper, FullyShardedDataParallel)):
                model_wrapper_cfg['device_ids'] = None
        return super().wrap_model(model_wrapper_cfg, model)

    def save_checkpoint(self, *args, **kwargs) -> None:
        """mmengine's ``save_checkpoint`` (rank 0 writes); a model sharded by
        ``PADFullyShardedDataParallel`` is written unsharded: its full weights
        and optimizer state are gathered to rank 0 first, on every rank."""
        if not isinstance(self.model, PADFullyShardedDataParallel):
            return super().save_checkpoint(*args, **kwargs)
        # mmengine's signature: out_dir, filename, file_client_args, save_optimizer
        save_optimizer = kwargs.get('save_optimizer',
                                    args[3] if len(args) > 3 else True)
        with full_checkpoint_state(self.model, self.optim_wrapper, save_optimizer):
            return super().save_checkpoint(*args, **kwargs)

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume; the checkpoint must be of this very model."""
        self._resuming_checkpoint = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming_checkpoint = False

    def load_checkpoint(self, filename: str, map_location='cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]):
        """mmengine's ``Runner.load_checkpoint`` (used by ``load_from`` and by
        ``resume``; same steps as in mmengine 0.10.7) with mmpad's reader and
        :func:`check_checkpoint_compatible` between reading the file and
        loading it into the model.

        Returns:
            The checkpoint dict (``resume`` reads ``meta``, the optimizer, ...).
        """
        checkpoint = read_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(self.model) else self.model
        fsdp = self.model if isinstance(self.model,
                                        PADFullyShardedDataParallel) else None
        # what mmengine loads: checkpoint['state_dict'] (else the checkpoint),
        # keys revised, every entry, the _metadata of versioned modules kept
        state_dict = read_state_dict(
            checkpoint, filename=filename, wrappers=('state_dict', ),
            revise_keys=revise_keys, tensors_only=False, allow_empty=True)
        option = self.cfg.get(CONFIG_KEY, True)
        if option:
            # a test-time-augmentation wrapper (``tools/test.py --tta``) is loaded
            # into the model it wraps, by mmengine's load_state_dict: check that one
            from mmengine.model import BaseTTAModel
            target = model.module if isinstance(model, BaseTTAModel) else model
            report = check_checkpoint_compatible(
                target if fsdp is None else fsdp.full_state_meta,
                state_dict, filename, what=type(target).__name__,
                resume=getattr(self, '_resuming_checkpoint', False),
                **(dict(option) if isinstance(option, dict) else {}))
            self.logger.info(f'Checkpoint {filename} fits the model: '
                             f'{report.counts()}')
        # mmengine's public loader: non-strict load, missing / unexpected keys
        # printed as warnings, as Runner.load_checkpoint does (logger=None)
        if fsdp is None:
            load_state_dict(model, state_dict, strict)
        else:  # the full tensors into the shards, the optimizer state likewise
            keys = fsdp.load_full_state_dict(state_dict, strict)
            for what, names in (('missing keys in source', keys.missing_keys),
                                ('unexpected key in source', keys.unexpected_keys)):
                if names:
                    self.logger.warning(f'{what} state_dict: {", ".join(names)}')
            if (getattr(self, '_resuming_checkpoint', False)
                    and 'optimizer' in checkpoint
                    and hasattr(self.optim_wrapper, 'optimizer')):
                checkpoint['optimizer'] = fsdp.optim_state_dict_to_load(
                    self.optim_wrapper.optimizer, checkpoint['optimizer'])
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint
