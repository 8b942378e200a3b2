"""The MSIP folder layout, shared by the dataset and the offline tools.

::

    <root>/<subset>/thermal/<stem>.{jpg,jpeg,JPEG,png,bmp}
    <root>/<subset>/roi/<stem>.txt
"""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import List, Optional, Sequence, Union

#: image extensions of the reference (``mysort``)
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.JPEG', '.png', '.bmp')


def stem_of(filename: str) -> str:
    """File name up to the first dot (the reference's RoI naming rule)."""
    return osp.basename(filename).split('.')[0]


def roi_path_for(img_path: str) -> str:
    """``<subset>/thermal/<stem>.<ext>`` -> ``<subset>/roi/<stem>.txt``."""
    thermal_dir = osp.dirname(img_path)
    return osp.join(osp.dirname(thermal_dir), 'roi', stem_of(img_path) + '.txt')


def _numeric_key(name: str):
    stem = stem_of(name)
    return (0, int(stem), name) if re.fullmatch(r'\d+', stem) else (1, 0, name)


def list_thermal_images(thermal_dir: str) -> List[str]:
    """Image files of one ``thermal/`` folder, numeric stems in numeric order.

    Non-numeric stems follow in lexicographic order (the reference fell back to
    the file system's order there, which is not reproducible).

    Raises:
        ValueError: two files share a stem (their RoI files would collide).
    """
    names = [n for n in os.listdir(thermal_dir)
             if n.endswith(IMG_EXTENSIONS) and not n.startswith('.')]
    names.sort(key=_numeric_key)
    seen = {}
    for n in names:
        s = stem_of(n)
        if s in seen:
            raise ValueError(f'{thermal_dir}: files {seen[s]!r} and {n!r} share the '
                             f'stem {s!r}; stems must be unique within a subset')
        seen[s] = n
    return [osp.join(thermal_dir, n) for n in names]


def msip_subsets(root: str, subsets: Union[None, str, Sequence[str]] = None
                 ) -> List[str]:
    """Subset names: every folder with a ``thermal/`` folder (sorted) or the given ones.

    Raises:
        FileNotFoundError: ``root`` or a requested subset's ``thermal/`` is missing.
    """
    if isinstance(subsets, str):
        subsets = [s.strip() for s in subsets.split(',') if s.strip()]
    if not osp.isdir(root):
        raise FileNotFoundError(f'MSIP root {root!r} is not a directory')
    if subsets is None:
        names = sorted(d for d in os.listdir(root)
                       if osp.isdir(osp.join(root, d, 'thermal')))
        if not names:
            raise FileNotFoundError(f'no <subset>/thermal/ folder under {root!r}')
        return names
    for s in subsets:
        if not osp.isdir(osp.join(root, s, 'thermal')):
            raise FileNotFoundError(f'MSIP subset {s!r} has no folder '
                                    f'{osp.join(root, s, "thermal")!r}')
    return list(subsets)


def list_msip_images(root: str, subsets: Optional[Union[str, Sequence[str]]] = None
                     ) -> List[str]:
    """All image paths of the selected subsets, subset by subset."""
    paths: List[str] = []
    for s in msip_subsets(root, subsets):
        paths.extend(list_thermal_images(osp.join(root, s, 'thermal')))
    return paths
