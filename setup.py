"""Ship the repository's ``migrations/`` folder inside the package as ``seedbed._migrations``.

Everything else is declared in pyproject.toml. The top-level ``migrations/``
stays the one source; a wheel or a non-editable install carries a copy, which
``seedbed.migrate.migrations_dir()`` uses when there is no source checkout.
"""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "seedbed._migrations", "seedbed._migrations.versions"],
    package_dir={"": "src", "seedbed._migrations": "migrations"},
    package_data={"seedbed": ["py.typed"], "seedbed._migrations": ["script.py.mako"]},
)
