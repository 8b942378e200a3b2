"""Files written by the offline tools honour the umask (a data set written on a
shared cluster must be readable by the group when the umask says so): the RoI
``.txt`` files and the proposals JSON of ``tools/generate_proposals.py`` are 0644
under umask 022 and 0600 under 077, as ``open(path, 'w')`` would make them. They
are all written by the one atomic writer, :mod:`mmpad.core.atomic_file`."""
import glob
import os
import os.path as osp
import shutil
import stat
import sys
import tempfile

import pytest
import torch

from mmpad.core.atomic_file import atomic_write, copy_atomic, save_atomic
from mmpad_test_utils import load_module, run_tool


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for the test; restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda value: os.umask(value)
    os.umask(old)


def _one_image_msip(demo_data, tmp_path):
    root = tmp_path / 'msip'
    (root / 'street' / 'thermal').mkdir(parents=True)
    src = osp.join(demo_data, 'msip', 'street', 'thermal')
    shutil.copy(osp.join(src, sorted(os.listdir(src))[0]), root / 'street' / 'thermal')
    return root


def _written(root, out_json, expected: int) -> None:
    written = glob.glob(str(root / 'street' / 'roi' / '*.txt')) + [str(out_json)]
    assert len(written) == 2 and osp.isfile(out_json)
    assert {p: oct(_mode(p)) for p in written} == {
        p: oct(expected) for p in written}
    assert not glob.glob(str(root / 'street' / 'roi' / '.tmp_*'))  # none left


def test_generate_proposals_under_umask_022_writes_0644(demo_data, tmp_path):
    """The shell command a user runs, with the usual umask of a shared machine."""
    root = _one_image_msip(demo_data, tmp_path)
    out_json = tmp_path / 'proposals' / 'msip.json'
    cmd = (f'umask 022 && exec "$PY" tools/generate_proposals.py --msip "{root}" '
           f'--preset aligndet --workers 1 --out-json "{out_json}"')
    run_tool(['bash', '-c', cmd], env=dict(PY=sys.executable), timeout=300,
             hang_note='measured: about 20 s')
    _written(root, out_json, 0o644)


def test_generate_proposals_under_umask_077_writes_0600(demo_data, tmp_path,
                                                       umask):
    """The tool's main in this process (the same code as the command above)."""
    tool = load_module('tools/generate_proposals.py')
    root = _one_image_msip(demo_data, tmp_path)
    out_json = tmp_path / 'proposals' / 'msip.json'
    umask(0o077)
    assert tool.main(['--msip', str(root), '--preset', 'aligndet', '--workers', '1',
                      '--out-json', str(out_json)]) == 0
    _written(root, out_json, 0o600)


@pytest.mark.parametrize('mask, expected', [(0o022, 0o644), (0o077, 0o600),
                                            (0o002, 0o664)])
def test_every_atomic_writer_follows_the_umask(mask, expected, umask, tmp_path):
    """The text, bytes, torch.save and copy writers (RoI files, proposals, MSIP
    images, adapter checkpoints) against the mode a plain open() gives."""
    umask(mask)
    plain = tmp_path / 'plain.txt'
    plain.write_text('x')
    assert _mode(str(plain)) == expected  # what the umask means here
    with atomic_write(str(tmp_path / 'a' / 'rois.txt')) as f:
        f.write('1,2,3,4\n')
    with atomic_write(str(tmp_path / 'img.jpg'), 'wb') as f:
        f.write(b'\xff\xd8')
    save_atomic({'w': torch.ones(1)}, str(tmp_path / 'adapter_only.pth'))
    copy_atomic(str(plain), str(tmp_path / 'copy.jpg'))
    for name in ('a/rois.txt', 'img.jpg', 'adapter_only.pth', 'copy.jpg'):
        assert oct(_mode(str(tmp_path / name))) == oct(expected), name
    # control: the temporary file mkstemp creates ignores the umask (0600),
    # which is what the RoI files and proposals had before
    fd, path = tempfile.mkstemp(dir=str(tmp_path))
    os.close(fd)
    assert _mode(path) == 0o600 and (expected == 0o600 or _mode(path) != expected)


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = str(tmp_path / 'rois.txt')
    with atomic_write(path) as f:
        f.write('old\n')
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write('half')
            raise RuntimeError('killed')
    assert open(path).read() == 'old\n'
    assert os.listdir(tmp_path) == ['rois.txt']


def test_one_atomic_writer_in_the_package_and_the_tools():
    """No second implementation: nobody else creates temporary files to rename."""
    from mmpad_test_utils import REPO
    offenders = []
    for pattern in ('mmpad/**/*.py', 'tools/*.py'):
        for path in glob.glob(osp.join(REPO, pattern), recursive=True):
            if path.endswith(osp.join('core', 'atomic_file.py')):
                continue
            text = open(path).read()
            if 'mkstemp' in text or 'os.replace(' in text:
                offenders.append(osp.relpath(path, REPO))
    assert offenders == []
