"""The one compiled module; everything else about the package is in pyproject.toml.

``cryptoflow/indicators/_cstream.c`` holds the streaming indicators' state and step: a few hundred lines of
C needing only Python's headers and a C compiler, built in about a second. FMA contraction is off so it
computes exactly what the batch kernels (numba) do. Optional: where no compiler is found the install goes
on and the streaming engine steps its state with numba instead (same values, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "cryptoflow.indicators._cstream",
            sources=["cryptoflow/indicators/_cstream.c"],
            extra_compile_args=["-ffp-contract=off"],
            optional=True,
        )
    ]
)
