#!/usr/bin/env python
"""Trainable / frozen parameter counts of the models that configs build.

    python tools/count_params.py configs/pad/pad-mae_vit-base-p16_8xb512-amp-coslr-100e_msip.py \
        configs/pad/mae_vit-base-p16_8xb512-amp-coslr-100e_msip-in1k-full.py [--json out.json]

A parameter counts as trainable when ``requires_grad`` is set after the model is built
(PAD's freezing rule, frozen backbone stages, AlignDet's momentum target ...). Adapter
parameters (names containing ``.adapter.``) are counted separately. No weights are
loaded, nothing is trained.
"""
import argparse
import json
import os.path as osp
import sys

from mmengine.config import Config, DictAction


def count(cfg: Config) -> dict:
    from mmengine.registry import MODELS, DefaultScope
    scope = cfg.get('default_scope', None)
    if scope:
        __import__(f'{scope}.registry')
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:  # as the Runner does
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    trainable = frozen = adapter = 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            trainable += p.numel()
        else:
            frozen += p.numel()
        if '.adapter.' in '.' + name:
            adapter += p.numel()
    return dict(model=type(model).__name__, trainable=trainable, frozen=frozen,
                adapter=adapter, total=trainable + frozen)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--json', help='also write the counts to this file')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    import mmpad  # noqa: F401
    rows = {}
    for path in args.configs:
        if not osp.isfile(path):
            print(f'error: config {path!r} does not exist', file=sys.stderr)
            return 2
        cfg = Config.fromfile(path)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        rows[path] = count(cfg)
    width = max(len(osp.basename(p)) for p in rows)
    print(f'{"config":{width}s} {"trainable":>12s} {"adapters":>10s} '
          f'{"frozen":>12s} {"total":>12s}')
    for path, r in rows.items():
        print(f'{osp.basename(path):{width}s} {r["trainable"]:12,d} '
              f'{r["adapter"]:10,d} {r["frozen"]:12,d} {r["total"]:12,d}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
