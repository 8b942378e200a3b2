"""The demo as a newcomer runs it (``make demo`` = ``tools/demo.py`` with no options),
once per test session, shared by the tests that read its outputs."""
import json
import time

import pytest

from mmpad_test_utils import run_tool

# Measured on a quiet 2-core machine: about 8 minutes (README, "The commands").
# The limit only catches a hang; a slow machine is not a failure.
DEMO_MEASURED_S = 480
DEMO_LIMIT_S = 5 * DEMO_MEASURED_S


@pytest.fixture(scope='session')
def demo_run(tmp_path_factory):
    """``tools/demo.py --work-dir <tmp>``: the default setting, every stage."""
    work = tmp_path_factory.mktemp('demo') / 'demo'
    t0 = time.time()
    proc = run_tool(['tools/demo.py', '--work-dir', str(work)], timeout=DEMO_LIMIT_S,
                    hang_note=f'the default demo takes about {DEMO_MEASURED_S} s '
                    'on a quiet 2-core machine', check=False)
    seconds = time.time() - t0
    state = json.load(open(work / 'stages.json')) if (work / 'stages.json').exists() \
        else {}
    return dict(work=work, proc=proc, state=state, seconds=seconds)
