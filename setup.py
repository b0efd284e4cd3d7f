"""Package list for setuptools; everything else is in pyproject.toml.

`docqueue` is the import name of the Python client, whose code lives in scripts/client/
(the top-level folders stay api/, tasks/, schemas/, storage/, scripts/ and tests/).
"""

from setuptools import find_namespace_packages, setup

setup(
    packages=[
        *find_namespace_packages(include=["api*", "tasks*", "schemas*", "storage*", "scripts*"]),
        "docqueue",
    ],
    package_dir={"docqueue": "scripts/client"},
)
