"""Builds the optional compiled token sampler; everything else is in pyproject.toml.

The extension is plain C loaded with ctypes (no Python API), built with GCC or Clang (Linux, macOS):
if it cannot be compiled, the install still succeeds and sampling runs in numpy (`qaug doctor`
says which). Windows always uses numpy.
"""

import sys

from setuptools import Extension, setup

sampler = Extension("qaug.llm._csample", ["qaug/llm/csample.c"], extra_compile_args=["-O3", "-std=c99"], optional=True)
setup(ext_modules=[] if sys.platform == "win32" else [sampler])
