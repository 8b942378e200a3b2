"""mmpad: PAD, AlignDet and SOP pre-training for the OpenMMLab ecosystem."""
import os.path as osp

from setuptools import find_packages, setup


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


setup(
    name='mmpad',
    version=read_version(),
    description='PAD (pre-training with adapters), AlignDet and Subimage Overlap '
    'Prediction for mmpretrain / mmdet / mmsegmentation',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmpad', 'mmpad.*']),
    include_package_data=True,
    package_data={'mmpad': ['.mim/configs/**/*.py', '.mim/tools/*']},
    python_requires='>=3.8',
    # torch and mmcv (compiled with ops) are installed by tools/install_env.sh.
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt'),
                    'bench': read_requirements('requirements/bench.txt')},
    zip_safe=False,
)
