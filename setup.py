"""Builds the optional compiled token sampler; everything else is in pyproject.toml.

The extension is plain C loaded with ctypes (no Python API): if it cannot be compiled, the
install still succeeds and sampling runs in numpy (`qaug doctor` says which).
"""

import sys

from setuptools import Extension, setup

flags = [] if sys.platform == "win32" else ["-O3", "-std=c99"]
setup(ext_modules=[Extension("qaug.llm._csample", ["qaug/llm/csample.c"], extra_compile_args=flags, optional=True)])
