"""A finished smoke run's own checkpoints are removed (all 54 runs' take about
40 GB and filled a 250 GB disk beside the other outputs); its logs stay, and the
converted files later runs read are elsewhere (``out/converted``)."""
import os

from tools.smoke_configs import remove_checkpoints


def test_checkpoints_go_logs_stay(tmp_path):
    work = tmp_path / 'run'
    (work / '20261202_1' / 'vis_data').mkdir(parents=True)
    for name in ('iter_2.pth', 'best_mIoU_iter_2.pth', 'adapter/iter_2.pth'):
        (work / name).parent.mkdir(exist_ok=True)
        (work / name).write_bytes(b'x' * 1000)
    keep = [work / 'smoke_train.log', work / 'smoke_timing.json',
            work / '20261202_1' / 'vis_data' / 'scalars.json', work / 'last_checkpoint']
    for f in keep:
        f.write_text('{}')
    assert remove_checkpoints(str(work)) == 3000
    left = sorted(os.path.relpath(os.path.join(d, f), work)
                  for d, _, fs in os.walk(work) for f in fs)
    assert left == sorted(os.path.relpath(f, work) for f in keep)
    assert remove_checkpoints(str(work)) == 0  # nothing left to free
