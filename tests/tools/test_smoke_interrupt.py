"""Stopping ``make smoke`` (SIGTERM from a scheduler or ``kill``) stops the
``tools/train.py`` it is running: no orphan full-size training left on the machine."""
import os
import signal
import subprocess
import sys
import time

from mmpad_test_utils import REPO

CHILD = 'import os, time; open({pidfile!r}, "w").write(str(os.getpid())); time.sleep(120)'

PARENT = '''
import signal, sys
sys.path.insert(0, {repo!r})
from tools.smoke_configs import run_process
{handler}
cmd = [sys.executable, '-c', {child!r}]
{call}
'''


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purpose
    with open(f'/proc/{pid}/stat') as f:
        return f.read().split(')')[-1].split()[0] != 'Z'


def _run(tmp_path, handler: str, call: str) -> int:
    pidfile = str(tmp_path / 'child.pid')
    code = PARENT.format(repo=REPO, handler=handler, child=CHILD.format(pidfile=pidfile),
                         call=call)
    parent = subprocess.Popen([sys.executable, '-c', code], cwd=REPO)
    deadline = time.time() + 120
    while not os.path.exists(pidfile) or not open(pidfile).read():
        assert time.time() < deadline and parent.poll() is None, 'the child never started'
        time.sleep(0.2)
    child = int(open(pidfile).read())
    parent.send_signal(signal.SIGTERM)
    parent.wait(timeout=60)
    time.sleep(0.5)
    return child


def test_sigterm_stops_the_running_training(tmp_path):
    handler = 'signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # as main() does'
    call = f'run_process(cmd, {str(tmp_path / "log")!r}, None)'
    child = _run(tmp_path, handler, call)
    assert not _alive(child)


def test_control_a_plain_wait_leaves_the_child_running(tmp_path):
    handler = 'signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))'
    call = 'import os, subprocess; p = subprocess.Popen(cmd); os.wait4(p.pid, 0)'
    child = _run(tmp_path, handler, call)
    try:
        assert _alive(child)
    finally:
        if _alive(child):
            os.kill(child, signal.SIGKILL)
