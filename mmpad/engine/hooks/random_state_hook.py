"""Save the global random-number-generator states in every checkpoint and restore
them on ``--resume``, so that an interrupted run continues exactly as if it had
never stopped.

mmengine restores weights, optimizer, parameter schedulers, the message hub and the
iteration counters, but not the RNG states: after a resume, MAE's random masks,
dropout and every augmentation drawn in the main process come from a freshly
seeded generator, so the resumed run drifts from the uninterrupted one.

What is saved (per rank; ``checkpoint['rng_states']`` is a list indexed by rank):
python ``random``, numpy's global generator, torch's CPU generator and, on GPU machines,
the current CUDA device's generator. In distributed runs rank 0 writes the checkpoint
(mmengine's ``Runner.save_checkpoint`` runs on rank 0 only, but every rank calls it:
``CheckpointHook`` saves on all ranks at the same iteration / epoch / validation), so the
hook wraps the runner's ``save_checkpoint`` and gathers the states of all ranks there,
once per checkpoint written (a few KB), and never in an iteration that writes none.
A hook of another package that calls ``runner.save_checkpoint`` must do so on every
rank, as ``CheckpointHook`` does, or the gather waits for the ranks that did not.

When it is restored: at the first ``before_train_epoch`` after the resume, i.e.
after mmengine has re-seeded (it does when the checkpoint's seed differs from the
config's) and before any data of the resumed part is drawn. Iteration-based loops
then *skip* the batches already trained by drawing them again; with
``num_workers=0`` those draws would consume the main process's generators, so the
skipped draws are made RNG-neutral (states saved before and put back after each
one). Worker processes need nothing: mmengine seeds them from the run's seed, and
skipping replays their draws exactly.

Limits (checked and logged, never silent): states are restored only when the world
size is unchanged; a run resumed with a different number of processes continues
with fresh generators and a warning.
"""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import IterBasedTrainLoop

CHECKPOINT_KEY = 'rng_states'


def get_rng_states() -> Dict[str, Any]:
    """This process's generator states, as plain tensors/arrays/tuples."""
    np_state = np.random.get_state()
    states: Dict[str, Any] = dict(
        python=random.getstate(),
        numpy=(np_state[0], np_state[1].copy(), int(np_state[2]),
               int(np_state[3]), float(np_state[4])),
        torch=torch.get_rng_state(),
    )
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state()
    return states


def set_rng_states(states: Dict[str, Any]) -> None:
    """Inverse of :func:`get_rng_states`."""
    random.setstate(_as_python_state(states['python']))
    np.random.set_state(tuple(states['numpy']))
    torch.set_rng_state(states['torch'].cpu())
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'].cpu())


def _as_python_state(state):
    # ``random.setstate`` wants tuples; a round trip through some serialisers
    # turns them into lists
    version, internal, gauss = state
    return version, tuple(internal), gauss


class _RNGNeutralIterator:
    """Wraps a data iterator so its next ``n`` draws leave the global generators
    untouched (used for the batches an iteration-based loop skips on resume)."""

    def __init__(self, iterator, n: int) -> None:
        self._iterator = iterator
        self._left = n

    def __next__(self):
        if self._left <= 0:
            return next(self._iterator)
        self._left -= 1
        states = get_rng_states()
        try:
            return next(self._iterator)
        finally:
            set_rng_states(states)

    def __iter__(self):
        return self

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Checkpoint and restore RNG states for bit-identical resumes.

    ``MMPadRunner`` adds it to every run; it can also be listed in
    ``custom_hooks`` of a config trained with mmengine's own Runner.
    """

    priority = 'LOW'

    def __init__(self) -> None:
        self._pending: Optional[List[Dict[str, Any]]] = None
        self._gathered: Optional[List[Dict[str, Any]]] = None

    def before_train(self, runner) -> None:
        """Wrap ``runner.save_checkpoint``: on every rank, gather all ranks' states
        right before the (rank-0) save, the only collective this hook makes."""
        save = runner.save_checkpoint
        if getattr(save, '_gathers_rng_states', False):
            return  # wrapped already (a second train() of the same runner)

        def save_checkpoint(*args, **kwargs):
            if get_world_size() > 1:
                self._gathered = all_gather_object(get_rng_states())
            try:
                return save(*args, **kwargs)
            finally:
                self._gathered = None

        save_checkpoint._gathers_rng_states = True  # type: ignore[attr-defined]
        runner.save_checkpoint = save_checkpoint

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = [get_rng_states()]  # this (the saving) rank, exactly now
        if get_world_size() > 1:
            if self._gathered is None:
                runner.logger.warning(
                    'RandomStateHook: no RNG states of the other ranks (the '
                    'checkpoint was not written through runner.save_checkpoint '
                    'on every rank); it will resume with fresh generators')
                return
            states = list(self._gathered)
            states[get_rank()] = get_rng_states()
        checkpoint[CHECKPOINT_KEY] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # also called for ``load_from`` (fine-tuning): only a resume restores
        if not getattr(runner, '_resume', False):
            return
        saved = checkpoint.get(CHECKPOINT_KEY)
        if saved is None:
            runner.logger.warning(
                'RandomStateHook: the checkpoint has no RNG states (written '
                'without this hook); the resumed run uses fresh generators and '
                'will not repeat the uninterrupted run exactly')
            return
        if len(saved) != get_world_size():
            runner.logger.warning(
                f'RandomStateHook: the checkpoint holds RNG states of '
                f'{len(saved)} process(es) but this run has {get_world_size()}; '
                'continuing with fresh generators')
            return
        self._pending = saved

    def before_train_epoch(self, runner) -> None:
        if self._pending is None:
            return
        set_rng_states(self._pending[get_rank()])
        self._pending = None
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RNGNeutralIterator(
                loop.dataloader_iterator, loop.iter)
        runner.logger.info(
            f'RandomStateHook: RNG states restored from the checkpoint '
            f'(iter {runner.iter}, epoch {runner.epoch})')
