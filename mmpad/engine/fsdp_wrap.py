"""Sharded training (FSDP) of models that freeze part of each module (PAD).

A PAD block holds a frozen attention and MLP and a trainable adapter. Handed to
FSDP as one unit, its flat parameter mixes ``requires_grad=True`` and ``False``:
FSDP refuses that without ``use_orig_params=True`` and otherwise reduces and keeps
gradient memory for the frozen part too. Putting such a module into
``ignored_modules`` (the usual way around the refusal) is a trap: FSDP neither
shards nor reduces ignored parameters, so the adapter gradients stay per-rank and
the ranks silently train different adapters.

This module wraps the model so that every FSDP unit is uniformly frozen or
uniformly trainable, and nothing trainable is ignored:

* :func:`pad_fsdp_wrap_policy` (registered in mmengine's ``FUNCTIONS``, so a
  config names it as ``auto_wrap_policy``) puts every
  :class:`~mmpad.core.adapters.patchwise_scale_adapter.PatchwiseScaleAdapter` in
  its own unit and every uniform child of a mixed module (a block's frozen
  attention, MLP and norms; the decoder's trainable blocks) in a unit of its own;
* :class:`PADFullyShardedDataParallel` (registered in ``MODEL_WRAPPERS``) is
  mmengine's ``MMFullyShardedDataParallel`` with that policy as default; it keeps
  frozen parameters that a module owns *directly* next to trainable ones (e.g.
  MAE's fixed ``decoder_pos_embed`` next to the trainable ``mask_token``, which no
  wrapping can separate) out of FSDP as ignored *frozen* parameters (they never get
  a gradient, so nothing needs reducing), refuses ignored trainable parameters, and
  checks after wrapping that no unit mixes ``requires_grad``
  (:func:`check_fsdp_units`) and that no parameter is left in the root unit.

It also makes FSDP work under mmengine's ``Runner``, which stock
``MMFullyShardedDataParallel`` does not for a randomly initialised model: the
Runner calls ``init_weights`` after wrapping, on flat shards (xavier and the like
fail), and reads the inner module's ``state_dict`` before the first forward
(making an inner unit the FSDP root) to broadcast it (overwriting the root unit's
shards). The wrapper fixes the root at construction and runs ``init_weights`` on
the gathered parameters.

Checkpoints are unsharded, as under DDP, so that they load into the plain model and
the converters: :meth:`PADFullyShardedDataParallel.full_state_dict` and
:meth:`~PADFullyShardedDataParallel.full_optim_state_dict` gather the weights and
the optimizer state (by parameter name) to rank 0 (``MMPadRunner.save_checkpoint``
writes them within :func:`full_checkpoint_state`);
:meth:`~PADFullyShardedDataParallel.load_full_state_dict` and
:meth:`~PADFullyShardedDataParallel.optim_state_dict_to_load` put such a file back
into the shards (``load_from``, ``--resume``).

Host-free: only torch and mmengine.
"""
from __future__ import annotations

import contextlib
import functools
import weakref
from collections import OrderedDict
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.dist import all_gather_object, all_reduce, broadcast, get_rank
from mmengine.logging import print_log
from mmengine.model.wrappers import MMFullyShardedDataParallel
from mmengine.registry import FUNCTIONS, MODEL_WRAPPERS
from torch.distributed.fsdp import FullStateDictConfig
from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
from torch.distributed.fsdp import ShardingStrategy, StateDictType

from mmpad.core.adapters.patchwise_scale_adapter import PatchwiseScaleAdapter

FSDP_PREFIX = '_fsdp_wrapped_module.'

#: modules whose forward the adapted blocks bypass (they call the parts)
SPLIT_MODULES = ('FFN', )

# parameters PADFullyShardedDataParallel keeps out of FSDP (ignored_states)
# (by id: tensors compare elementwise; weak: nothing is kept alive)
_KEPT_OUT: 'weakref.WeakValueDictionary[int, nn.Parameter]' = \
    weakref.WeakValueDictionary()


def _kept_out(p: nn.Parameter) -> bool:
    return _KEPT_OUT.get(id(p)) is p


# children of modules found mixed while the policy walked down the tree (weak: the
# policy keeps no module alive)
_MIXED_PARENT: 'weakref.WeakSet[nn.Module]' = weakref.WeakSet()


def clean_name(name: str) -> str:
    """A parameter name without FSDP's ``_fsdp_wrapped_module.`` segments, i.e. as
    in the unwrapped model's ``state_dict``."""
    return name.replace(FSDP_PREFIX, '')


def _uniform(params: Iterable[nn.Parameter]) -> Optional[bool]:
    """``True`` / ``False`` if all ``params`` are trainable / frozen, ``None`` if
    mixed or empty."""
    flags = {p.requires_grad for p in params}
    return flags.pop() if len(flags) == 1 else None


def _unwrapped_params(module: nn.Module) -> List[nn.Parameter]:
    """Parameters of ``module`` not inside an FSDP unit already built below it
    and not kept out of FSDP."""
    out = [p for p in module.parameters(recurse=False) if not _kept_out(p)]
    for child in module.children():
        if not isinstance(child, FSDP):
            out.extend(_unwrapped_params(child))
    return out


def _is_mixed(module: nn.Module) -> bool:
    return len({p.requires_grad for p in module.parameters()
                if not _kept_out(p)}) > 1


@FUNCTIONS.register_module()
def pad_fsdp_wrap_policy(module: nn.Module, recurse: bool,
                         nonwrapped_numel: int,
                         split_modules: Sequence[str] = SPLIT_MODULES) -> bool:
    """FSDP auto-wrap policy: units that never mix frozen and trainable parameters.

    FSDP calls it top-down with ``recurse=True`` (descend into ``module``?) and
    bottom-up with ``recurse=False`` (wrap ``module`` with what is left of it?).
    It descends everywhere and wraps a module when the parameters of it that are
    not yet in a unit below it are all frozen or all trainable, and it is

    * a ``PatchwiseScaleAdapter`` (each adapter is its own unit), or
    * a child of a module that mixes frozen and trainable parameters (the largest
      uniform pieces: a block's attention, MLP and norms; a trainable decoder
      block), or itself such a mixed module whose remaining direct parameters are
      uniform (e.g. a ViT's frozen ``cls_token`` and ``pos_embed``), or
    * a child of the model (:class:`PADFullyShardedDataParallel` marks them, so a
      uniformly trainable model such as SOP's is sharded below the root too).

    A unit's parameters are gathered when its ``forward`` runs, so modules that
    have no forward (``ModuleList``, ``ModuleDict``) or whose forward the model
    bypasses (``split_modules``: mmcv's ``FFN``, whose ``layers`` and ``gamma2`` the
    adapted blocks call directly) are never units themselves; their children are
    treated as children of the mixed parent (AlignDet: the detectors and their
    heads, whose parts the pre-trainer calls). Frozen parameters that a module owns
    directly next to trainable ones stay with the root;
    :class:`PADFullyShardedDataParallel` keeps them out of FSDP.

    Args:
        module: the module FSDP asks about.
        recurse: ``True`` for "descend?", ``False`` for "wrap?".
        nonwrapped_numel: parameters of ``module`` not wrapped yet (unused; the
            decision depends on ``requires_grad``, not on size).
        split_modules: class names of modules whose forward the model does not
            call (a config sets them with
            ``auto_wrap_policy=dict(type='pad_fsdp_wrap_policy', split_modules=[...])``).
    """
    # a container has no forward; the adapted blocks call the parts of mmcv's
    # FFN (``ffn.layers``, ``ffn.gamma2``), never ``ffn.forward``: FSDP gathers a
    # unit's parameters in its forward, so these are split into their children
    container = isinstance(module, (nn.ModuleList, nn.ModuleDict)) or \
        type(module).__name__ in split_modules
    if recurse:
        # a container passes its parent's mixedness on to its children
        if _is_mixed(module) or (container and module in _MIXED_PARENT):
            for child in module.children():
                _MIXED_PARENT.add(child)
        return True
    if container:  # FSDP cannot gather for a module that has no forward
        return False
    remaining = _unwrapped_params(module)
    if not remaining or _uniform(remaining) is None:
        return False
    if isinstance(module, PatchwiseScaleAdapter):
        return True
    return module in _MIXED_PARENT or _is_mixed(module)


def frozen_params_beside_trainable(module: nn.Module) -> Dict[str, nn.Parameter]:
    """Frozen parameters owned directly by a module that directly owns trainable
    ones too (no wrapping can put them in different units), by qualified name."""
    out: Dict[str, nn.Parameter] = {}
    for mod_name, mod in module.named_modules():
        own = list(mod.named_parameters(recurse=False))
        if _uniform(p for _, p in own) is None and own:
            for n, p in own:
                if not p.requires_grad:
                    out[f'{mod_name}.{n}' if mod_name else n] = p
    return out


def check_fsdp_units(model: nn.Module,
                     ignored: Iterable[nn.Parameter] = ()) -> Dict[bool, int]:
    """Raise ``ValueError`` naming the units of FSDP ``model`` whose flat parameter
    mixes frozen and trainable parameters, or the trainable parameters among
    ``ignored`` (their gradients would never be reduced across ranks).

    Returns:
        The number of units by ``requires_grad`` (``{True: n, False: m}``).
    """
    names = {id(p): clean_name(n) for n, p in model.named_parameters()}
    mixed = []
    counts = {True: 0, False: 0}
    for unit in FSDP.fsdp_modules(model):
        handle = getattr(unit, '_handle', None)
        flat = getattr(handle, 'flat_param', None)
        params = getattr(flat, '_params', None) or []
        flag = _uniform(params)
        if flag is not None:
            counts[flag] += 1
        elif params:
            train = [names.get(id(p), '?') for p in params if p.requires_grad]
            frozen = [names.get(id(p), '?') for p in params if not p.requires_grad]
            mixed.append(f'{type(unit.module).__name__} unit with trainable '
                         f'{train[:3]} and frozen {frozen[:3]}')
    if mixed:
        raise ValueError(
            f'PADFullyShardedDataParallel: {len(mixed)} FSDP units mix frozen and '
            f'trainable parameters: {mixed[:3]}; use '
            "auto_wrap_policy='pad_fsdp_wrap_policy'")
    bad = [names.get(id(p), '?') for p in ignored if p.requires_grad]
    if bad:
        raise ValueError(
            f'PADFullyShardedDataParallel: {len(bad)} trainable parameters are '
            f'ignored by FSDP, so their gradients would not be reduced across '
            f'ranks: {bad[:5]}; remove them from ignored_modules / ignored_states')
    return counts


@MODEL_WRAPPERS.register_module()
class PADFullyShardedDataParallel(MMFullyShardedDataParallel):
    """mmengine's ``MMFullyShardedDataParallel`` for partly frozen models.

    Defaults: ``auto_wrap_policy='pad_fsdp_wrap_policy'``,
    ``use_orig_params=True`` (required: the optimizer and the hooks address the
    model's own parameters). ``device_id`` may be a string (``'cpu'`` for gloo
    training on CPU, as configs cannot hold a ``torch.device``). Like DDP, it
    starts every rank from rank 0's weights, and the Runner's later
    ``init_weights`` runs on the full parameters (then rank 0's are taken again),
    so a seeded run starts from the same weights as under DDP. Frozen parameters
    owned directly beside trainable ones are added to FSDP's ``ignored_states``;
    trainable parameters may not be ignored. After wrapping,
    :func:`check_fsdp_units` must pass.

    Args:
        module: the model to shard.
        auto_wrap_policy: as in ``MMFullyShardedDataParallel``.
        use_orig_params: must be ``True``.
        device_id: ``int``, ``str`` or ``torch.device``, as FSDP's.
        **kwargs: the other arguments of ``MMFullyShardedDataParallel``.
    """

    def __init__(self, module: nn.Module, auto_wrap_policy='pad_fsdp_wrap_policy',
                 use_orig_params: bool = True, device_id=None, **kwargs) -> None:
        if use_orig_params is not True:
            raise ValueError(
                'PADFullyShardedDataParallel: use_orig_params must be True (the '
                'optimizer and the hooks work on the original parameters), got '
                f'{use_orig_params!r}')
        if isinstance(device_id, str):
            device_id = torch.device(device_id)
        if 'ignored_parameters' in kwargs:
            raise ValueError('PADFullyShardedDataParallel: ignored_parameters is '
                             'not an FSDP argument; use ignored_states')
        # the user's ignored modules / states and the frozen parameters beside
        # trainable ones, all passed to FSDP as ignored parameters
        modules_dict = dict(module.named_modules())
        ignored: List[nn.Parameter] = []
        for state in [*(kwargs.pop('ignored_modules', None) or []),
                      *(kwargs.pop('ignored_states', None) or [])]:
            if isinstance(state, str):
                if state not in modules_dict:
                    raise ValueError(
                        f'PADFullyShardedDataParallel: ignored module {state!r} '
                        f'is not a submodule of {type(module).__name__}')
                state = modules_dict[state]
            ignored.extend(state.parameters() if isinstance(state, nn.Module)
                           else [state])
        auto_ignored = frozen_params_beside_trainable(module)
        ignored.extend(auto_ignored.values())
        ignored = list({id(p): p for p in ignored}.values())
        if ignored:
            kwargs['ignored_states'] = ignored
        trainable_ignored = [p for p in ignored if p.requires_grad]
        names = {id(p): n for n, p in module.named_parameters()}
        if trainable_ignored:
            raise ValueError(
                'PADFullyShardedDataParallel: trainable parameters may not be '
                'ignored by FSDP (their gradients would not be reduced across '
                f'ranks): {[names[id(p)] for p in trainable_ignored][:5]}')
        _KEPT_OUT.update({id(p): p for p in ignored})
        # the root's children are units (or split further) even in a model that
        # is uniformly trainable (SOP), which no mixed module would split
        _MIXED_PARENT.update(module.children())
        # names, shapes and dtypes of the unsharded model's state_dict (meta
        # tensors, no memory): what a checkpoint is checked against before loading
        full_state_meta: Dict[str, torch.Tensor] = {
            k: torch.empty_like(v, device='meta')
            for k, v in module.state_dict().items()}
        # every rank starts from rank 0's weights, as DDP does at construction
        # (FSDP's sync_module_states does that on GPUs only)
        for tensor in [*module.parameters(), *module.buffers()]:
            broadcast(tensor.data, src=0)
        super().__init__(module=module, auto_wrap_policy=auto_wrap_policy,
                         use_orig_params=True, device_id=device_id, **kwargs)
        self.pad_ignored_frozen = sorted(auto_ignored)
        self.full_state_meta = full_state_meta
        counts = check_fsdp_units(self)
        # mmengine's Runner broadcasts the inner module's state_dict after
        # init_weights: for parameters left in the root unit those entries are
        # this rank's shards, which the broadcast would overwrite with rank 0's
        root = getattr(getattr(self, '_handle', None), 'flat_param', None)
        left = [clean_name(n) for n, p in module.named_parameters()
                if any(p is q for q in (getattr(root, '_params', None) or []))]
        if left:
            raise ValueError(
                f'PADFullyShardedDataParallel: {len(left)} parameters are left in '
                f'the root FSDP unit ({left[:5]}), whose shards mmengine\'s '
                'Runner would overwrite after init_weights; the auto_wrap_policy '
                'must put every parameter into a unit below the root (with '
                "'pad_fsdp_wrap_policy' this fails when the model itself owns "
                'parameters directly)')
        print_log(
            f'PADFullyShardedDataParallel: {sum(counts.values())} FSDP units, '
            f'{counts[True]} trainable and {counts[False]} frozen (none mixed); '
            f'frozen parameters kept out of FSDP: {self.pad_ignored_frozen}',
            logger='current')
        # Make this instance the FSDP root now (FSDP decides lazily, at the first
        # call): the Runner reads the inner module's state_dict before the first
        # forward, which would otherwise make an inner unit a root.
        with FSDP.summon_full_params(self, writeback=False):
            pass
        # The Runner calls the model's init_weights after wrapping (at the same
        # point as under DDP, so a seeded run draws the same weights): run it on
        # the full parameters, written back into the shards, since initialisers
        # such as xavier cannot handle flat shards.
        init = getattr(module, 'init_weights', None)
        if callable(init):
            module.init_weights = functools.partial(self._init_full, init)

    def train_step(self, data: dict, optim_wrapper) -> Dict[str, torch.Tensor]:
        """``MMFullyShardedDataParallel.train_step``, with gradient clipping by
        norm (``optim_wrapper.clip_grad``) on the norm of the full gradients
        (:func:`use_fsdp_grad_clip`)."""
        use_fsdp_grad_clip(self, optim_wrapper)
        return super().train_step(data, optim_wrapper)

    def full_state_dict(self) -> Dict[str, torch.Tensor]:
        """The unsharded ``state_dict`` of the wrapped model on rank 0, on the CPU,
        keys as in the unwrapped model (``{}`` on the other ranks).

        A collective: every rank must call it.

        With one process FSDP does not shard (it switches to ``NO_SHARD``) and its
        full-state-dict hooks fail on the frozen parameters this wrapper keeps out
        of FSDP (``cls_token`` ... beside a trainable unit); the parameters are
        then whole on the one rank and are read directly, under the names and in
        the order of the unwrapped model's ``state_dict``.
        """
        if self.sharding_strategy == ShardingStrategy.NO_SHARD:
            # the keys of the unwrapped model's state_dict (recorded before
            # wrapping), each read from the model's own (whole) tensors. After a
            # forward, FSDP leaves the frozen tensors a unit owns directly (a ViT's
            # cls_token) as plain attributes, not parameters: read by attribute.
            own = {clean_name(n): t for n, t in [*self.module.named_parameters(),
                                                  *self.module.named_buffers()]}
            full = OrderedDict()
            for k in self.full_state_meta:
                t = own.get(k)
                if t is None:
                    t = functools.reduce(getattr, k.split('.'), self.module)
                if not torch.is_tensor(t):
                    raise RuntimeError('PADFullyShardedDataParallel: the state_dict '
                                       f'entry {k} is not a tensor of the model')
                full[k] = t.detach().cpu().clone()
            full._metadata = OrderedDict()  # type: ignore[attr-defined]
            return full
        with FSDP.state_dict_type(
                self, StateDictType.FULL_STATE_DICT,
                FullStateDictConfig(offload_to_cpu=True, rank0_only=True)):
            return self.state_dict()

    def load_full_state_dict(self, state_dict: Dict[str, torch.Tensor],
                             strict: bool = False):
        """Load an unsharded ``state_dict`` (keys as in the unwrapped model, the
        whole of it on every rank) into the shards.

        The values are copied in place into the gathered parameters, which are
        written back into the shards (as :meth:`_init_full` does): FSDP's own
        ``load_state_dict`` replaces the shards' storage, so that the
        optimizer's parameters (``use_orig_params`` views) would be updated on
        stale storage afterwards, and the next step would start from the wrong
        weights.

        Returns:
            ``torch.nn.modules.module._IncompatibleKeys`` (missing / unexpected
            keys, unwrapped names).

        Raises:
            RuntimeError: a shape differs, or (``strict``) a key is missing or
                unexpected, naming the keys.
        """
        from torch.nn.modules.module import _IncompatibleKeys
        own = {clean_name(n): t for n, t in [*self.module.named_parameters(),
                                              *self.module.named_buffers()]}
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        wrong = [f'{k}: checkpoint {tuple(v.shape)}, model '
                 f'{tuple(self.full_state_meta[k].shape)}'
                 for k, v in state_dict.items()
                 if k in own and tuple(v.shape) != tuple(self.full_state_meta[k].shape)]
        if wrong or (strict and (missing or unexpected)):
            raise RuntimeError(
                'PADFullyShardedDataParallel: the state_dict does not fit the '
                f'model: shapes {wrong[:5]}, missing {missing[:5]}, unexpected '
                f'{unexpected[:5]}')
        with FSDP.summon_full_params(self, writeback=True), torch.no_grad():
            for k, t in own.items():
                if k in state_dict:
                    t.copy_(state_dict[k])
        return _IncompatibleKeys(missing, unexpected)

    def _shard_parts(self) -> Dict[int, Optional[slice]]:
        """By parameter id: the part of the flattened full parameter this rank's
        (``use_orig_params``) view holds, ``None`` if none."""
        part: Dict[int, Optional[slice]] = {}
        for unit in FSDP.fsdp_modules(self):
            flat = getattr(getattr(unit, '_handle', None), 'flat_param', None)
            for p, info in zip(getattr(flat, '_params', None) or [],
                               getattr(flat, '_shard_param_infos', ())):
                part[id(p)] = slice(info.intra_param_start_idx,
                                    info.intra_param_end_idx + 1) \
                    if info.in_shard else None
        return part

    def full_optim_state_dict(self, optimizer: torch.optim.Optimizer) -> dict:
        """``optimizer``'s unsharded state on rank 0, on the CPU: ``{'state':
        {name: {key: value}}, 'param_groups': [{..., 'params': [name, ...]}]}``
        with the unwrapped parameter names and full-shape tensors (``{}`` on the
        other ranks).

        A collective: every rank must call it. (Not ``FSDP.optim_state_dict``:
        on CPU / gloo in torch 2.14 it writes ``exp_avg_sq``'s values as AdamW's
        ``exp_avg``.) Each state tensor is assembled by a sum over the ranks of
        their parts.
        """
        names = {id(p): clean_name(n) for n, p in self.named_parameters()}
        part = self._shard_parts()
        order, local = [], {}
        for group in optimizer.param_groups:
            for p in group['params']:
                order.append(names[id(p)])
                local[names[id(p)]] = (p, optimizer.state.get(p, {}))
        # which state entries exist (a rank whose shard misses a parameter has
        # none for it); scalars travel as values
        meta = {fqn: {k: ('tensor', v.dtype) if torch.is_tensor(v) and v.dim() > 0
                      else ('value', v) for k, v in st.items()}
                for fqn, (_, st) in local.items()}
        everyone = all_gather_object(meta)
        out_state = {}
        for fqn in order:
            entries: Dict[str, tuple] = {}
            for m in everyone:
                entries.update(m.get(fqn, {}))
            p, st = local[fqn]
            full_shape = self.full_state_meta[fqn].shape
            numel = self.full_state_meta[fqn].numel()
            state = {}
            for key, (kind, info) in entries.items():
                if kind == 'value':
                    state[key] = info.clone() if torch.is_tensor(info) else info
                    continue
                full = torch.zeros(numel, dtype=info, device=p.device)
                cut = part.get(id(p))
                if key in st and cut is not None:
                    full[cut] = st[key].flatten()
                all_reduce(full, op='sum')
                state[key] = full.view(full_shape).cpu()
            if state:
                out_state[fqn] = state
        groups = [{**{k: v for k, v in g.items() if k != 'params'},
                   'params': [names[id(p)] for p in g['params']]}
                  for g in optimizer.param_groups]
        if get_rank() != 0:
            return {}
        return {'state': out_state, 'param_groups': groups}

    def optim_state_dict_to_load(self, optimizer: torch.optim.Optimizer,
                                 state: dict) -> dict:
        """The state for ``optimizer.load_state_dict`` on this rank from the
        unsharded ``state`` of :meth:`full_optim_state_dict` (read on every
        rank): each tensor of a parameter's state is cut to the part of the
        parameter this rank's shard holds; entries other than ``state`` /
        ``param_groups`` (e.g. the AMP ``loss_scaler``) are kept.

        (The counterpart of :meth:`full_optim_state_dict`, which does not use
        ``FSDP.optim_state_dict``.)

        Raises:
            ValueError: ``state`` is not such a state, or its parameter groups
                name other parameters than ``optimizer``'s.
        """
        if not {'state', 'param_groups'} <= set(state):
            raise ValueError(
                'PADFullyShardedDataParallel: the optimizer state to resume has no '
                f"'state' / 'param_groups' (keys: {sorted(state)[:5]})")
        names = {id(p): clean_name(n) for n, p in self.named_parameters()}
        part = self._shard_parts()
        saved_groups = state['param_groups']
        if len(saved_groups) != len(optimizer.param_groups):
            raise ValueError(
                f'PADFullyShardedDataParallel: the optimizer state to resume has '
                f'{len(saved_groups)} parameter groups, the optimizer '
                f'{len(optimizer.param_groups)}')
        local_state, groups, index = {}, [], 0
        for saved, group in zip(saved_groups, optimizer.param_groups):
            fqns = [names.get(id(p), '?') for p in group['params']]
            if list(saved['params']) != fqns:
                raise ValueError(
                    'PADFullyShardedDataParallel: the optimizer state to resume '
                    f'has parameter group {list(saved["params"])[:3]}, the '
                    f'optimizer {fqns[:3]}')
            ids = []
            for p, fqn in zip(group['params'], fqns):
                cut = part.get(id(p))
                if fqn in state['state'] and cut is not None:
                    local_state[index] = {
                        k: v.flatten()[cut].clone()
                        if torch.is_tensor(v) and v.dim() > 0 else v
                        for k, v in state['state'][fqn].items()}
                ids.append(index)
                index += 1
            groups.append({**saved, 'params': ids})
        rest = {k: v for k, v in state.items()
                if k not in ('state', 'param_groups')}
        return {'state': local_state, 'param_groups': groups, **rest}

    def _init_full(self, init: Callable, *args, **kwargs):
        """Run ``init`` (the model's ``init_weights``) with every unit's full
        parameters in place, written back into the shards afterwards.

        Afterwards every rank holds rank 0's initial weights (the ranks may draw
        different random numbers). ``FullyShardedDataParallel.apply`` gathers a
        unit's parameters itself and refuses to run inside
        ``summon_full_params``; here they are gathered already, so each unit's
        ``apply`` is plain ``nn.Module.apply`` of the module it wraps meanwhile
        (not of the unit itself: through the unit's attribute forwarding an
        initialiser applied to the whole module, e.g. an ``init_cfg`` override
        by name, would initialise the wrapped module twice).
        """
        units = FSDP.fsdp_modules(self)
        with FSDP.summon_full_params(self, writeback=True):
            for unit in units:
                unit.apply = functools.partial(_apply_to_wrapped, unit)
            try:
                out = init(*args, **kwargs)
            finally:
                for unit in units:
                    del unit.apply
            # every rank takes rank 0's weights, as the Runner's broadcast after
            # init_weights does under DDP (here it would only reach copies)
            for tensor in [*self.module.parameters(), *self.module.buffers()]:
                broadcast(tensor.data, src=0)
        return out


def _apply_to_wrapped(unit: FSDP, fn: Callable[[nn.Module], None]) -> FSDP:
    """``unit.apply(fn)`` as if ``unit`` were the module it wraps."""
    unit.module.apply(fn)
    return unit


def use_fsdp_grad_clip(model: FSDP, optim_wrapper) -> None:
    """Make ``optim_wrapper`` (mmengine's ``OptimWrapper`` or ``AmpOptimWrapper``)
    clip by the norm of the full gradients of FSDP ``model``.

    mmengine clips with ``torch.nn.utils.clip_grad_norm_`` over the optimizer's
    parameters, which under FSDP hold this rank's gradient shards: each rank
    would scale its shard by its own shard's norm, so the update differs from
    DDP's (no rank notices: the shards still form one model).
    ``FullyShardedDataParallel.clip_grad_norm_`` reduces the norm across ranks.
    Clipping by value is elementwise and stays as it is.
    """
    if getattr(optim_wrapper, 'clip_func', None) is not torch.nn.utils.clip_grad_norm_:
        return
    extra = set(optim_wrapper.clip_grad_kwargs) - {'max_norm', 'norm_type'}
    if extra:
        raise ValueError(
            f'PADFullyShardedDataParallel: optim_wrapper.clip_grad {sorted(extra)} '
            'are not supported under FSDP (only max_norm and norm_type)')

    def clip_full_norm(params, max_norm: float, norm_type: float = 2.0):
        return model.clip_grad_norm_(max_norm, norm_type)

    optim_wrapper.clip_func = clip_full_norm


@contextlib.contextmanager
def full_checkpoint_state(model: nn.Module, optim_wrapper,
                          save_optimizer: bool = True) -> Iterator[None]:
    """Within it, mmengine's ``Runner.save_checkpoint`` writes an unsharded
    checkpoint of the :class:`PADFullyShardedDataParallel` ``model`` on rank 0:
    the wrapped model's ``state_dict`` (read by the Runner) is the full one
    (:meth:`~PADFullyShardedDataParallel.full_state_dict`) and so is
    ``optim_wrapper.state_dict()`` (the optimizer's state by parameter name, plus
    e.g. the AMP ``loss_scaler``). Both are gathered on entering, a collective:
    every rank must enter (``Runner.save_checkpoint`` itself runs on rank 0 only).
    The files load into the plain model and resume under FSDP
    (:meth:`~PADFullyShardedDataParallel.optim_state_dict_to_load`).
    """
    inner = model.module
    weights = model.full_state_dict()
    patched = {inner: weights}
    if save_optimizer:
        optimizer = getattr(optim_wrapper, 'optimizer', None)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(
                'PADFullyShardedDataParallel checkpoints need one optimizer '
                f'(an OptimWrapper); got {type(optim_wrapper).__name__}')
        local = type(optim_wrapper).state_dict(optim_wrapper)
        patched[optim_wrapper] = {
            **model.full_optim_state_dict(optimizer),
            **{k: v for k, v in local.items() if k not in ('state', 'param_groups')}}

    def reader(obj, full):
        def state_dict(*args, **kwargs):
            if args or kwargs:  # nn.Module.state_dict recursing into children
                return type(obj).state_dict(obj, *args, **kwargs)
            return full
        return state_dict

    for obj, full in patched.items():
        obj.state_dict = reader(obj, full)
    try:
        yield
    finally:
        for obj in patched:
            del obj.state_dict
