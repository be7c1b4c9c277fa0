"""Build hook: a wheel carries the notebooks and the sample data (see kpilib/bundle.py).

The metadata lives in pyproject.toml; this only copies ``notebooks/*.ipynb`` and
``data/sample/*`` into ``kpilib/_bundle/`` of the build, so a non-editable install runs
``kpilib report`` and ``kpilib check`` on the bundled sample from any directory.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = {"notebooks": ("notebooks", "*.ipynb"), "sample": ("data/sample", "*")}


class BuildWithBundle(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for name, (folder, pattern) in BUNDLED.items():
            target = Path(self.build_lib) / "kpilib" / "_bundle" / name
            target.mkdir(parents=True, exist_ok=True)
            for path in sorted((ROOT / folder).glob(pattern)):
                if path.is_file():
                    shutil.copy2(path, target / path.name)


setup(cmdclass={"build_py": BuildWithBundle})
