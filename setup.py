"""mmpad: PAD, AlignDet and SOP pre-training for the OpenMMLab ecosystem."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    ns: dict = {}
    with open(osp.join(osp.dirname(__file__), 'mmpad', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def read_requirements(path: str) -> list:
    reqs = []
    with open(osp.join(osp.dirname(__file__), path)) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Expose configs/ and tools/ as ``mmpad/.mim/{configs,tools}`` (the OpenMMLab
    convention), so ``_base_ = ['mmpad::pad/...']`` and mim find them: symlinks for
    editable installs, copies when building a wheel or sdist."""
    build = any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist', 'build'))
    mim = osp.join(HERE, 'mmpad', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in ('configs', 'tools'):
        src, dst = osp.join(HERE, name), osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if build:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            os.symlink(osp.relpath(src, mim), dst)


add_mim_extension()

setup(
    name='mmpad',
    version=read_version(),
    description='PAD (pre-training with adapters), AlignDet and Subimage Overlap '
    'Prediction for mmpretrain / mmdet / mmsegmentation',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmpad', 'mmpad.*']),
    include_package_data=True,
    package_data={'mmpad': ['.mim/configs/**/*.py', '.mim/configs/*/*/*.py',
                            '.mim/configs/*/*.py', '.mim/tools/*']},
    python_requires='>=3.8',
    # torch and mmcv (compiled with ops) are installed by tools/install_env.sh.
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt'),
                    'bench': read_requirements('requirements/bench.txt')},
    zip_safe=False,
)
