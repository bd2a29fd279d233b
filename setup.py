"""Build step: ship the checkout's non-Python files inside the wheel, under our `services` package.

templates/, static/, nginx/, deploy/ and gunicorn.conf.py sit at the top of the checkout (the layout is
fixed), but installing them as top-level folders would litter site-packages with names like `static`.
They are copied to services/shipped/ in the wheel instead, where services/resources.py finds them.
Everything else about the package is declared in pyproject.toml; MANIFEST.in puts these files in the sdist.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

SHIPPED = ("templates", "static", "nginx", "deploy", "gunicorn.conf.py")
TARGET = Path("services", "shipped")  # services/resources.py looks here first


class BuildPyWithShippedFiles(build_py):
    def run(self):
        super().run()
        if self.editable_mode:  # an editable install reads them from the checkout itself
            return
        for name in SHIPPED:
            source, destination = Path(name), Path(self.build_lib, TARGET, name)
            if source.is_dir():
                shutil.copytree(source, destination, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("__pycache__", "*.py[co]"))
            else:
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)


setup(cmdclass={"build_py": BuildPyWithShippedFiles})
