"""mmpad: PAD, AlignDet and SOP pre-training for the OpenMMLab ecosystem."""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

HERE = osp.dirname(osp.abspath(__file__))
# Runs _mmpad_pkgmap.install() at interpreter start, so that `_base_ = ['mmpad::...']`
# resolves before any config's custom_imports (see _mmpad_pkgmap.py).
PTH_NAME = 'mmpad-pkgmap.pth'
PTH_LINE = 'import _mmpad_pkgmap; _mmpad_pkgmap.install()\n'
HOOK_MODULE = '_mmpad_pkgmap'


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
    """Expose model-index.yml, configs/ and tools/ as ``mmpad/.mim/...`` (the OpenMMLab
    convention), so ``_base_ = ['mmpad::pad/...']``, ``mim search mmpad`` and
    ``mim train mmpad`` find them: symlinks for editable installs, copies when
    building a wheel or sdist."""
    build = any(cmd in sys.argv for cmd in ('bdist_wheel', 'sdist', 'build'))
    mim = osp.join(HERE, 'mmpad', '.mim')
    os.makedirs(mim, exist_ok=True)
    for name in ('model-index.yml', 'configs', 'tools'):
        src, dst = osp.join(HERE, name), osp.join(mim, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if not osp.exists(src):
            continue
        if build and osp.isfile(src):
            shutil.copyfile(src, dst)
        elif build:
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__'))
        else:
            os.symlink(osp.relpath(src, mim), dst)


class BuildPyWithPth(build_py):
    """``build_py`` that also ships ``mmpad-pkgmap.pth`` at the top of site-packages.

    A wheel gets it next to the packages (in ``build_lib``). An editable install
    (PEP 660) puts only a path finder and its own ``.pth`` into site-packages, so the
    file and a copy of the hook module are written into the editable wheel as well
    (a copy: it must import at interpreter start whatever order the ``.pth`` files run
    in; after editing ``_mmpad_pkgmap.py``, reinstall).
    """

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            # editable_wheel installs into the unpacked editable wheel's root
            target = self.get_finalized_command('install').install_lib
            shutil.copyfile(osp.join(HERE, HOOK_MODULE + '.py'),
                            osp.join(target, HOOK_MODULE + '.py'))
        else:
            target = self.build_lib
        with open(osp.join(target, PTH_NAME), 'w') as f:
            f.write(PTH_LINE)

    def get_outputs(self, include_bytecode: bool = True) -> list:
        outputs = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            outputs.append(osp.join(self.build_lib, PTH_NAME))
        return outputs


add_mim_extension()

setup(
    name='mmpad',
    version=read_version(),
    description='PAD (pre-training with adapters), AlignDet and Subimage Overlap '
    'Prediction for mmpretrain / mmdet / mmsegmentation',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(include=['mmpad', 'mmpad.*']),
    py_modules=[HOOK_MODULE],
    cmdclass={'build_py': BuildPyWithPth},
    include_package_data=True,
    package_data={'mmpad': ['py.typed', '.mim/model-index.yml', '.mim/configs/**/*.py',
                            '.mim/configs/**/*.yml', '.mim/configs/**/*.md',
                            '.mim/tools/*']},
    python_requires='>=3.8',
    # torch and mmcv (compiled with ops) are installed by tools/install_env.sh.
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={'tests': read_requirements('requirements/tests.txt'),
                    'bench': read_requirements('requirements/bench.txt')},
    zip_safe=False,
)
