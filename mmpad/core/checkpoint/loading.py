"""The one checkpoint loader of mmpad: no code execution, checksums verified.

Every mmpad path that reads a checkpoint goes through :func:`torch_load_checked`:
mmpad's reader (:mod:`mmpad.core.checkpoint.reader`: the runner's ``load_from`` /
``--resume``, the backbones' ``init_cfg=dict(type='Pretrained')``, the
converters), mmengine's ``CheckpointLoader`` (local files and http(s) /
``torchvision://`` / ``open-mmlab://`` / ``mmcls://`` downloads),
:mod:`mmpad.core.checkpoint.resume` and ``tools/test.py``. It does two things.

**Integrity.** A torch checkpoint is a zip archive whose every record (the pickle
``data.pkl``, each tensor storage ``data/N``, the version files) carries a CRC-32 in
the central directory; ``torch.save`` writes them but ``torch.load`` does not check
them, so flipped bytes in tensor data load silently. :func:`verify_checkpoint`
recomputes the CRC-32 of every record (mmap, no copy; about 0.1 s per 330 MB) and
compares it with the stored one *before* anything is unpickled. Files in torch's
legacy (pre-1.6, non-zip) format carry no checksum and are loaded unverified.

**No code execution.** The file is unpickled by torch's weights-only unpickler
(``torch.load(weights_only=True)``). OpenMMLab checkpoints need a few globals
beyond torch's defaults; each is admitted by a restricted stand-in, never by the
real callable:

* ``builtins.getattr`` (``HistoryBuffer.__getstate__`` pickles its statistics
  methods as ``getattr(HistoryBuffer, 'mean')``): :func:`_restricted_getattr`
  returns only ``HistoryBuffer.min / max / current / mean`` and refuses anything
  else. (The real ``getattr`` reaches any attribute, e.g. ``getattr.__self__`` =
  the ``builtins`` module, and with ``HistoryBuffer.__setstate__`` copying the
  state into the instance, an instance attribute ``__setstate__ = exec`` is then
  called by the next BUILD: arbitrary code.)
* ``mmengine.logging.history_buffer.HistoryBuffer``: a subclass whose
  ``__setstate__`` accepts exactly the state mmengine writes (``max_length``, two
  1-D numeric arrays, ``statistics_methods`` mapping each name to that very
  method; mmengine's own ``__setstate__`` would write any entry into the instance
  and into the class-wide method table) and then turns into a plain
  ``HistoryBuffer``. Calling it (instead of NEWOBJ + BUILD) is refused.
* ``numpy.dtype``, ``numpy(._)core.multiarray._reconstruct`` / ``scalar`` and
  ``numpy.ndarray``: numpy never sees the pickled state. The stand-ins accept
  plain bool / int / uint / float / complex / str / bytes dtypes in the exact form
  numpy pickles them, raw-bytes array data of the stated size and ``ndarray`` only
  as the class argument of ``_reconstruct``; arrays are rebuilt with
  ``np.frombuffer``. Object, structured and sub-array dtypes (which would let
  pickled objects or raw pointers into arrays) are refused.

Nothing is allowed globally (``torch.serialization.safe_globals`` for the duration
of the load) and unrelated ``torch.load`` calls are untouched. Any failure, of any
kind, is one :class:`CheckpointLoadError` (a ``RuntimeError``) naming the file and
the problem; a refusal (:class:`UnsafeCheckpointError`) also names the refused
global and the opt-out: ``MMPAD_TRUST_CHECKPOINTS=1`` loads with
``weights_only=False`` (can run code from the file; logged as a warning naming the
file; checksums are still verified).

Importing :mod:`mmpad.core.checkpoint` installs it into mmengine
(:func:`install_safe_checkpoint_loading`, once per process).
"""
from __future__ import annotations

import functools
import logging
import mmap
import os
import os.path as osp
import pickle
import re
import threading
import zipfile
import zlib
from typing import Any, Callable, Dict, Optional, Tuple

import torch

from mmpad.core.checkpoint.errors import (CheckpointLoadError,
                                          CorruptCheckpointError,
                                          UnsafeCheckpointError)

TRUST_ENV = 'MMPAD_TRUST_CHECKPOINTS'

#: the statistics methods ``HistoryBuffer`` registers (and pickles) by default
HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')
_HB_NAME = 'mmengine.logging.history_buffer.HistoryBuffer'
#: dtype strings the numpy stand-ins accept (as numpy pickles them)
_DTYPE_STR = re.compile(r'^(b1|[iu][1248]|f[248]|c(8|16)|[US]\d{1,7})$')


# ---------------------------------------------------------------- integrity
def _record_kind(name: str) -> str:
    if name.endswith('/data.pkl') or name == 'data.pkl':
        return 'the pickle'
    if re.search(r'(^|/)data/\d+$', name):
        return 'tensor data'
    return 'metadata'


def verify_checkpoint(filename: str) -> str:
    """Check ``filename`` against the CRC-32s of its zip records.

    Returns ``'zip'`` (every record verified) or ``'legacy'`` (torch's pre-1.6
    format: nothing to verify). Raises :class:`CorruptCheckpointError` naming the
    file and the damaged record.
    """
    try:
        with open(filename, 'rb') as f:
            magic = f.read(4)
            if magic != b'PK\x03\x04':
                if len(magic) < 4:
                    raise CorruptCheckpointError(
                        filename, f'the file is empty or truncated '
                        f'({osp.getsize(filename)} bytes)')
                return 'legacy'
            try:
                infos = zipfile.ZipFile(f).infolist()
            except (zipfile.BadZipFile, ValueError, EOFError, OSError) as err:
                raise CorruptCheckpointError(
                    filename, 'not a complete zip archive (truncated or '
                    f'damaged: {err})') from None
            _verify_records(filename, f, infos)
    except OSError as err:
        raise CorruptCheckpointError(filename, f'cannot be read: {err}') \
            from None
    return 'zip'


def _verify_records(filename: str, f, infos) -> None:
    size = os.fstat(f.fileno()).st_size
    with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        view = memoryview(mm)
        try:
            for info in infos:
                kind = _record_kind(info.filename)
                where = f'record {info.filename!r} ({kind})'
                if info.compress_type != zipfile.ZIP_STORED:
                    raise CorruptCheckpointError(
                        filename, f'{where} is compressed; torch.save never '
                        'compresses records')
                head = info.header_offset
                if head + 30 > size or view[head:head + 4] != b'PK\x03\x04':
                    raise CorruptCheckpointError(
                        filename, f'{where}: no local header at offset {head}')
                name_len = int.from_bytes(view[head + 26:head + 28], 'little')
                extra_len = int.from_bytes(view[head + 28:head + 30], 'little')
                start = head + 30 + name_len + extra_len
                end = start + info.compress_size
                if end > size:
                    raise CorruptCheckpointError(
                        filename, f'{where} extends past the end of the file '
                        '(truncated)')
                crc = zlib.crc32(view[start:end])
                if crc != info.CRC:
                    raise CorruptCheckpointError(
                        filename, f'checksum mismatch in {where}: stored CRC-32 '
                        f'{info.CRC:08x}, computed {crc:08x}; the file was '
                        'damaged after it was written')
        finally:
            view.release()


_verified: Dict[Tuple, str] = {}
_verified_lock = threading.Lock()


def _file_key(filename: str) -> Tuple:
    st = os.stat(filename)
    return (osp.realpath(filename), st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


def verify_checkpoint_cached(filename: str) -> str:
    """:func:`verify_checkpoint`, once per unchanged file and process (resume
    verifies the file it picks, the runner then loads it)."""
    try:
        key = _file_key(filename)
    except OSError as err:
        raise CorruptCheckpointError(filename, f'cannot be read: {err}') \
            from None
    with _verified_lock:
        if key in _verified:
            return _verified[key]
    kind = verify_checkpoint(filename)
    with _verified_lock:
        if len(_verified) > 256:
            _verified.clear()
        _verified[key] = kind
    return kind


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why ``filename`` cannot be used as a checkpoint (None when it verifies)."""
    if not osp.isfile(filename):
        return 'no such file'
    try:
        verify_checkpoint_cached(filename)
    except CheckpointLoadError as err:
        return err.problem
    return None


# ------------------------------------------------------- restricted unpickling
class _Refusal(pickle.UnpicklingError):
    pass


_refusals = threading.local()


def _refuse(what: str, why: str):
    """Record and raise a refusal (torch re-wraps the exception, the record
    keeps the name of what was refused)."""
    _refusals.last = (what, why)
    raise _Refusal(f'{what} refused: {why}')


def _short(obj: Any) -> str:
    """A short description of an unpickled value for an error message (stand-ins
    are shown under the global name the pickle used)."""
    names = {id(f): name for f, name in mmengine_safe_globals()}
    if id(obj) in names:
        text = names[id(obj)]
    elif isinstance(obj, (str, bytes, int, float, type(None))) or (
            isinstance(obj, tuple) and len(obj) < 10 and all(
                isinstance(v, (str, bytes, int, float, type(None)))
                for v in obj)):
        text = repr(obj)
    elif isinstance(obj, type):
        text = f'{obj.__module__}.{obj.__qualname__}'
    elif callable(obj) and hasattr(obj, '__qualname__'):
        text = f'{getattr(obj, "__module__", None)}.{obj.__qualname__}'
    else:
        text = f'<{type(obj).__module__}.{type(obj).__qualname__} object>'
    return text if len(text) < 80 else text[:77] + '...'


class _PendingDType:
    """What ``numpy.dtype(...)`` unpickles to until its BUILD state arrived."""
    __slots__ = ('spec', 'dtype')

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.dtype = None

    def __setstate__(self, state) -> None:
        import numpy as np
        if self.dtype is not None:
            _refuse('numpy.dtype', 'state set twice')
        ref = np.dtype(self.spec)
        canonical = ref.__reduce__()[2]
        if (not isinstance(state, tuple) or len(state) != len(canonical)
                or state[0] != canonical[0] or state[2:] != canonical[2:]):
            _refuse('numpy.dtype', f'state {_short(state)} of dtype '
                    f'{self.spec!r} is not the plain form numpy writes '
                    '(subarrays, fields and flags are not admitted)')
        order = state[1]
        if order not in ('<', '>', '|', '='):
            _refuse('numpy.dtype', f'byte order {order!r}')
        if order in '<>' and ref.byteorder != '|':
            ref = ref.newbyteorder(order)
        self.dtype = ref


def _dtype_of(value) -> Any:
    if not isinstance(value, _PendingDType) or value.dtype is None:
        _refuse('numpy.dtype', f'expected a pickled plain dtype, got '
                f'{_short(value)}')
    return value.dtype


def _np_dtype(spec=None, align=False, copy=True, *extra):
    """Stand-in for ``numpy.dtype`` (as a pickled global)."""
    if extra or not isinstance(spec, str) or not _DTYPE_STR.match(spec) \
            or align not in (False, 0) or copy not in (True, 1):
        _refuse('numpy.dtype', f'dtype({_short(spec)}, {_short(align)}, '
                f'{_short(copy)}): only plain bool, int, uint, float, complex, '
                'str and bytes dtypes are admitted (no object or structured '
                'dtypes)')
    return _PendingDType(spec)


class _PendingArray:
    """What ``_reconstruct(ndarray, (0,), b'b')`` unpickles to until its BUILD
    state arrived; replaced by the real array after the load."""
    __slots__ = ('array', )

    def __init__(self) -> None:
        self.array = None

    def __setstate__(self, state) -> None:
        import numpy as np
        if self.array is not None:
            _refuse('numpy.ndarray', 'state set twice')
        if not isinstance(state, tuple) or len(state) != 5 or state[0] != 1:
            _refuse('numpy.ndarray', f'state {_short(state)} is not '
                    '(1, shape, dtype, fortran, data)')
        _, shape, dtype, fortran, data = state
        dtype = _dtype_of(dtype)
        if (not isinstance(shape, tuple) or len(shape) > 32 or not all(
                type(s) is int and s >= 0 for s in shape)):
            _refuse('numpy.ndarray', f'shape {_short(shape)}')
        if fortran not in (True, False):
            _refuse('numpy.ndarray', f'fortran flag {_short(fortran)}')
        if isinstance(data, str):
            data = data.encode('latin1')
        if not isinstance(data, (bytes, bytearray)):
            _refuse('numpy.ndarray', f'array data must be raw bytes, got '
                    f'{_short(data)} (object arrays are not admitted)')
        count = 1
        for s in shape:
            count *= s
        if len(data) != count * dtype.itemsize:
            _refuse('numpy.ndarray', f'{len(data)} data bytes for shape '
                    f'{shape} of {dtype}')
        flat = np.frombuffer(bytes(data), dtype=dtype, count=count)
        self.array = flat.reshape(shape, order='F' if fortran else 'C').copy(
            order='K')


def _np_reconstruct(subtype=None, shape=None, dtype=None, *extra):
    """Stand-in for ``numpy.core.multiarray._reconstruct``."""
    if extra or subtype is not _np_ndarray or shape != (0, ) \
            or dtype not in (b'b', 'b'):
        _refuse('numpy.core.multiarray._reconstruct',
                f'_reconstruct({_short(subtype)}, {_short(shape)}, '
                f'{_short(dtype)}): only (numpy.ndarray, (0,), b"b") is '
                'admitted')
    return _PendingArray()


def _np_scalar(dtype=None, data=None, *extra):
    """Stand-in for ``numpy.core.multiarray.scalar``."""
    import numpy as np
    dtype = _dtype_of(dtype)
    if isinstance(data, str):
        data = data.encode('latin1')
    if extra or not isinstance(data, (bytes, bytearray)) \
            or len(data) != dtype.itemsize:
        _refuse('numpy.core.multiarray.scalar',
                f'scalar({dtype}, {_short(data)}): expected '
                f'{dtype.itemsize} raw bytes')
    return np.frombuffer(bytes(data), dtype=dtype, count=1)[0]


def _np_ndarray(*args, **kwargs):
    """Stand-in for the global ``numpy.ndarray``: admitted only as the class
    argument of ``_reconstruct``."""
    _refuse('numpy.ndarray', 'may only appear as the class argument of '
            '_reconstruct')


@functools.lru_cache(maxsize=1)
def _history_buffer_classes():
    from mmengine.logging.history_buffer import HistoryBuffer

    class _HistoryBufferStandIn(HistoryBuffer):
        """``HistoryBuffer`` as the weights-only unpickler sees it."""

        def __init__(self, *args, **kwargs):  # REDUCE: HistoryBuffer(...)
            _refuse(_HB_NAME, 'calling HistoryBuffer(...) while unpickling; '
                    'only its pickled state (NEWOBJ + BUILD) is admitted')

        def __setstate__(self, state):
            import numpy as np
            if type(self) is not _HistoryBufferStandIn:
                _refuse(_HB_NAME, 'state set twice')
            if not isinstance(state, dict):
                _refuse(_HB_NAME, f'state {_short(state)} is not a dict')
            allowed = {'max_length', '_log_history', '_count_history',
                       'statistics_methods'}
            extra = sorted(map(str, set(state) - allowed))
            if extra:
                _refuse(_HB_NAME, f'state entries {extra} (admitted: '
                        f'{sorted(allowed)})')
            clean = {}
            for key in ('_log_history', '_count_history'):
                if key not in state:
                    continue
                value = state[key]
                value = value.array if isinstance(value, _PendingArray) \
                    else value
                if not isinstance(value, np.ndarray) or value.ndim != 1 or \
                        value.dtype.kind not in 'biuf':
                    _refuse(_HB_NAME, f'{key} must be a 1-D numeric array, '
                            f'got {_short(value)}')
                clean[key] = value
            if 'max_length' in state:
                length = state['max_length']
                if type(length) is not int or length < 1:
                    _refuse(_HB_NAME, f'max_length {_short(length)}')
                clean['max_length'] = length
            methods = state.get('statistics_methods', {})
            if not isinstance(methods, dict):
                _refuse(_HB_NAME, 'statistics_methods is not a dict')
            for name, method in methods.items():
                if name not in HISTORY_BUFFER_METHODS or \
                        method is not HistoryBuffer.__dict__.get(name):
                    _refuse(_HB_NAME, f'statistics method {_short(name)} -> '
                            f'{_short(method)} (admitted: HistoryBuffer.'
                            f'{"/".join(HISTORY_BUFFER_METHODS)} under their '
                            'own names)')
            self.__class__ = HistoryBuffer
            HistoryBuffer.__setstate__(self, dict(clean,
                                                  statistics_methods={}))

    return HistoryBuffer, _HistoryBufferStandIn


def _restricted_getattr(obj=None, name=None, *default):
    """Stand-in for ``builtins.getattr``: only ``HistoryBuffer.<statistic>``."""
    history_buffer, stand_in = _history_buffer_classes()
    if default or (obj is not history_buffer and obj is not stand_in) or \
            not isinstance(name, str) or name not in HISTORY_BUFFER_METHODS:
        _refuse('builtins.getattr', f'getattr({_short(obj)}, {_short(name)}'
                f'{", ..." if default else ""}): only getattr(HistoryBuffer, '
                f'{"|".join(HISTORY_BUFFER_METHODS)}) is admitted')
    return history_buffer.__dict__[name]


#: never matches a pickled GLOBAL (those always contain a dot)
_UNREACHABLE = '<mmpad numpy placeholder {}>'


def mmengine_safe_globals() -> list:
    """The ``safe_globals`` entries for OpenMMLab checkpoints: restricted
    stand-ins under the names the pickles use (see the module docstring)."""
    _, stand_in = _history_buffer_classes()
    entries = [(_restricted_getattr, 'builtins.getattr'),
               (stand_in, _HB_NAME),
               (_np_dtype, 'numpy.dtype'),
               (_np_ndarray, 'numpy.ndarray'),
               # BUILD targets; their names cannot be reached from a pickle
               (_PendingDType, _UNREACHABLE.format('dtype')),
               (_PendingArray, _UNREACHABLE.format('array'))]
    for core in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries += [(_np_reconstruct, f'{core}._reconstruct'),
                    (_np_scalar, f'{core}.scalar')]
    return entries


def _resolve_placeholders(obj: Any, filename: str) -> Any:
    """Replace the numpy placeholders by the arrays / dtypes they hold."""
    memo: Dict[int, Any] = {}

    def visit(value):
        if isinstance(value, (str, bytes, int, float, bool, type(None),
                              torch.Tensor)):
            return value
        if isinstance(value, (_PendingArray, _PendingDType)):
            attr, name = (('array', 'numpy.ndarray')
                          if isinstance(value, _PendingArray)
                          else ('dtype', 'numpy.dtype'))
            if getattr(value, attr) is None:
                raise UnsafeCheckpointError(
                    filename, f'{name} without its state refused', refused=name)
            return getattr(value, attr)
        key = id(value)
        if key in memo:
            return memo[key]
        if isinstance(value, dict):
            memo[key] = value
            for k in list(value):
                if isinstance(k, (_PendingArray, _PendingDType)):
                    raise UnsafeCheckpointError(
                        filename, 'a numpy object as a dict key refused',
                        refused='numpy')
                new = visit(value[k])
                if new is not value[k]:
                    value[k] = new
            return value
        if isinstance(value, list):
            memo[key] = value
            for i, item in enumerate(value):
                new = visit(item)
                if new is not item:
                    value[i] = new
            return value
        if isinstance(value, tuple):
            memo[key] = value  # a cycle back to this tuple keeps the original
            items = [visit(item) for item in value]
            if any(a is not b for a, b in zip(items, value)):
                value = tuple(items)
            memo[key] = value
            return value
        if isinstance(value, (set, frozenset)):
            if any(isinstance(v, (_PendingArray, _PendingDType))
                   for v in value):
                raise UnsafeCheckpointError(
                    filename, 'numpy objects in a set refused', refused='numpy')
        return value

    return visit(obj)


_TORCH_REFUSAL = (
    (re.compile(r'GLOBAL (\S+) was not an allowed global'), 'global {}',
     'not an admitted global'),
    (re.compile(r'GLOBAL (\S+) whose module \S+ is blocked'), 'global {}',
     'its module is blocked by torch'),
    (re.compile(r'unrecognized function (.+?)(?: which belongs|$)', re.M),
     'call of {}', 'not an admitted callable'),
    (re.compile(r'Can only build .* but got (.+)$', re.M), 'BUILD of {}',
     'not an admitted type'),
    (re.compile(r'Can only create new object .* but got (.+)$', re.M),
     'NEWOBJ of {}', 'not an admitted type'),
)


def _describe_refusal(message: str) -> Tuple[str, str]:
    """(what was refused, why) from a stand-in's record or torch's error."""
    last = getattr(_refusals, 'last', None)
    if last is not None:
        return last
    for pattern, fmt, why in _TORCH_REFUSAL:
        match = pattern.search(message)
        if match:
            name = match.group(1).strip()
            if fmt == 'global {}' and '.' not in name:
                name = 'builtins.' + name  # torch's message drops the module
            return fmt.format(name), why
    detail = message.split('WeightsUnpickler error:', 1)[-1]
    detail = detail.strip().split('\n\n')[-1].strip() or message
    return 'pickle content', detail


def torch_load_checked(filename: str,
                       map_location: Optional[Any] = None,
                       trust: Optional[bool] = None) -> Any:
    """Verify ``filename``'s checksums, then ``torch.load`` it with
    ``weights_only=True`` and the OpenMMLab stand-ins (module docstring).

    Args:
        filename: path of a local checkpoint.
        map_location: as for :func:`torch.load`.
        trust: load with ``weights_only=False``; defaults to the
            ``MMPAD_TRUST_CHECKPOINTS`` environment variable.

    Raises:
        CheckpointLoadError: for any problem, naming the file.
    """
    filename = str(filename)
    if trust is None:
        trust = os.environ.get(TRUST_ENV, '0') == '1'
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    verify_checkpoint_cached(filename)
    if trust:
        _warn(f'{TRUST_ENV}=1: loading {filename} with weights_only=False; '
              'any code in this file runs now')
        try:
            return torch.load(filename, map_location=map_location,
                              weights_only=False)
        except Exception as err:  # noqa: BLE001 - one error naming the file
            raise CorruptCheckpointError(
                filename, f'cannot be loaded: {type(err).__name__}: {err}') \
                from err
    _refusals.last = None
    try:
        with torch.serialization.safe_globals(mmengine_safe_globals()):
            ckpt = torch.load(filename, map_location=map_location,
                              weights_only=True)
        return _resolve_placeholders(ckpt, filename)
    except CheckpointLoadError:
        raise
    except pickle.UnpicklingError as err:
        what, why = _describe_refusal(str(err))
        raise UnsafeCheckpointError(
            filename, f'refused to unpickle {what} ({why}). mmpad loads '
            'checkpoints with torch.load(weights_only=True) and admits only '
            'tensors, containers and the numpy / HistoryBuffer objects '
            'OpenMMLab checkpoints hold. If you trust this file, set '
            f'{TRUST_ENV}=1 to load it with weights_only=False (this runs any '
            'code the file contains)', refused=what) from None
    except Exception as err:  # noqa: BLE001 - one error naming the file
        raise CorruptCheckpointError(
            filename, f'cannot be loaded: {type(err).__name__}: {err}') \
            from err
    finally:
        _refusals.last = None


def _warn(message: str) -> None:
    try:
        from mmengine.logging import print_log
        print_log(message, logger='current', level=logging.WARNING)
    except ImportError:  # pragma: no cover - mmengine is a dependency
        logging.getLogger('mmpad').warning(message)


# ------------------------------------------------------- mmengine integration
def _load_from_local(filename: str, map_location: Optional[Any]) -> Any:
    """Replacement for mmengine's ``load_from_local`` (scheme prefix '')."""
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch_load_checked(filename, map_location=map_location)


def _load_url(url: str, model_dir: Optional[str] = None,
              map_location: Optional[Any] = None, progress: bool = True,
              check_hash: bool = False, file_name: Optional[str] = None,
              **kwargs) -> Any:
    """Replacement for the ``load_url`` mmengine's http(s) scheme uses
    (``torch.hub.load_state_dict_from_url``, which loads with
    ``weights_only=False``): download into the same cache, then
    :func:`torch_load_checked`."""
    from urllib.parse import urlparse

    from torch.hub import HASH_REGEX, download_url_to_file, get_dir
    if model_dir is None:
        model_dir = osp.join(get_dir(), 'checkpoints')
    os.makedirs(model_dir, exist_ok=True)
    cached = osp.join(model_dir, file_name or osp.basename(urlparse(url).path))
    if not osp.exists(cached):
        prefix = None
        if check_hash:
            match = HASH_REGEX.search(osp.basename(cached))
            prefix = match.group(1) if match else None
        download_url_to_file(url, cached, prefix, progress=progress)
    return torch_load_checked(cached, map_location=map_location)


_installed: Optional[Callable] = None


def install_safe_checkpoint_loading() -> None:
    """Route mmengine's local and http(s) checkpoint loading through
    :func:`torch_load_checked`. Idempotent."""
    global _installed
    import mmengine.runner.checkpoint as mm_ckpt
    from mmengine.runner.checkpoint import CheckpointLoader
    if _installed is not None and \
            CheckpointLoader._schemes.get('') is _installed:
        return
    CheckpointLoader.register_scheme(prefixes='', force=True)(_load_from_local)
    # load_from_http (also behind torchvision:// open-mmlab:// mmcls://) calls
    # the module-level name, so replacing it covers all of them
    mm_ckpt.load_from_local = _load_from_local
    mm_ckpt.load_url = _load_url
    # auto-resume of a Runner built without from_cfg: the same verifying choice
    # as MMPadRunner.from_cfg / tools/train.py --resume
    import mmengine.runner.runner as mm_runner
    if not getattr(mm_runner.find_latest_checkpoint, '_mmpad', False):
        mm_runner.find_latest_checkpoint = _find_latest_checkpoint(
            mm_runner.find_latest_checkpoint)
    _installed = _load_from_local


def _find_latest_checkpoint(original: Callable) -> Callable:
    """mmengine's ``find_latest_checkpoint`` for local work dirs replaced by
    :func:`mmpad.core.checkpoint.resume.find_resume_checkpoint` (skips files that do not
    verify, naming them)."""

    def find_latest_checkpoint(path: str, *args, **kwargs):
        if not osp.isdir(path):  # a remote work dir: mmengine's own lookup
            return original(path, *args, **kwargs)
        from mmpad.core.checkpoint.resume import find_resume_checkpoint
        return find_resume_checkpoint(path)

    find_latest_checkpoint._mmpad = True
    return find_latest_checkpoint
