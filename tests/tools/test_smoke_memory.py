"""The smoke table's peak memory is the training process's own: a child started by
a process that holds much memory reports its own peak, not its parent's (which
``getrusage`` / ``wait4`` report on Linux, the control)."""
import subprocess
import sys

from mmpad_test_utils import REPO

PARENT = '''
import os, resource, subprocess, sys
sys.path.insert(0, {repo!r})
held = bytearray(1500 * 2 ** 20)
for i in range(0, len(held), 4096):
    held[i] = 1
child = ('import sys; sys.path.insert(0, %r); import resource; ' % {repo!r} +
         'from tools.smoke_configs import peak_rss_mib; '
         'print(peak_rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)')
print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True,
                     check=True).stdout)
'''


def test_child_reports_its_own_peak_not_its_parents():
    out = subprocess.run([sys.executable, '-c', PARENT.format(repo=REPO)],
                         capture_output=True, text=True, timeout=300, check=True).stdout
    own, rusage = map(float, out.split())
    # the child imports the smoke module (torch, mmengine: about 760 MiB)
    assert own < 1200, own
    assert rusage >= 1500, rusage  # control: getrusage carries the parent's 1500 MiB
