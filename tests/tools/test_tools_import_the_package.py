"""Tools and benchmarks import the installed ``mmpad`` package only: none edits
``sys.path``, imports another tool or benchmark, or imports from ``tests/``."""
import ast
import glob
import os.path as osp
from typing import List

import pytest

from mmpad_test_utils import REPO

SCRIPTS = sorted(glob.glob(osp.join(REPO, 'tools', '*.py')) +
                 glob.glob(osp.join(REPO, 'benchmarks', '*.py')))
# what a script may not import: another script, the tests or their helpers
LOCAL = ({osp.splitext(osp.basename(p))[0] for p in SCRIPTS} |
         {osp.splitext(osp.basename(p))[0]
          for p in glob.glob(osp.join(REPO, 'tests', '**', '*.py'), recursive=True)} |
         {'tools', 'benchmarks', 'tests'})


def _is_sys_path(node: ast.AST) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == 'path' and
            isinstance(node.value, ast.Name) and node.value.id == 'sys')


def problems(source: str) -> List[str]:
    """What in ``source`` edits sys.path or imports a local script, one line each."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and _is_sys_path(node.func.value):
            found.append(f'line {node.lineno}: sys.path.{node.func.attr}(...)')
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                t = t.value if isinstance(t, ast.Subscript) else t
                if _is_sys_path(t):
                    found.append(f'line {node.lineno}: assigns sys.path')
        elif isinstance(node, ast.Import):
            found += [f'line {node.lineno}: import {a.name}' for a in node.names
                      if a.name.split('.')[0] in LOCAL]
        elif isinstance(node, ast.ImportFrom) and node.module and \
                (node.level or node.module.split('.')[0] in LOCAL):
            found.append(f'line {node.lineno}: from {node.module} import ...')
    return sorted(found, key=lambda p: int(p.split(':')[0].split()[1]))


@pytest.mark.parametrize('path', SCRIPTS, ids=lambda p: osp.relpath(p, REPO))
def test_script_imports_the_package_only(path):
    with open(path) as f:
        assert problems(f.read()) == []


def test_the_check_sees_each_kind():
    source = ('import sys\nsys.path.insert(0, "x")\nsys.path[:0] = ["y"]\n'
              'sys.path += ["z"]\nfrom aligndet_tiny_detectors import make_view\n'
              'import train\nfrom tools.train import main\nimport mmpad\n'
              'from mmpad.core import arg_check\n')
    assert [p.split(':')[0] for p in problems(source)] == [
        'line 2', 'line 3', 'line 4', 'line 5', 'line 6', 'line 7']
