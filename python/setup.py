"""Build hook: `pip install ./python` compiles libflashattention.so with `swift build` in the
repository root (stdlib linked statically, so the wheel runs without a Swift toolchain) and
ships it inside the flash_attn package. Set FLASH_ATTENTION_LIB to a prebuilt library to skip
the Swift build."""

import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIBRARY = "libflashattention.so"


def _swift_build():
    if not os.path.exists(os.path.join(ROOT, "Package.swift")):
        raise RuntimeError(
            f"flash_attn: no Package.swift in {ROOT}; build from the swift-flash-attention repository "
            "or set FLASH_ATTENTION_LIB to a prebuilt libflashattention.so"
        )
    swift = shutil.which("swift")
    if swift is None:
        raise RuntimeError(
            "flash_attn: `swift` is not on PATH; install a Swift 6 toolchain or set FLASH_ATTENTION_LIB "
            "to a prebuilt libflashattention.so"
        )
    # Its own scratch path, so the static-stdlib flags do not invalidate the default .build.
    command = [swift, "build", "-c", "release", "--product", "flashattention", "-Xswiftc", "-static-stdlib",
               "--scratch-path", os.path.join(ROOT, ".build-python")]
    print("flash_attn: " + " ".join(command), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    bin_path = subprocess.run(command + ["--show-bin-path"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout.strip()
    return os.path.join(bin_path, LIBRARY)


def _library():
    prebuilt = os.environ.get("FLASH_ATTENTION_LIB")
    if prebuilt:
        if not os.path.isfile(prebuilt):
            raise RuntimeError(f"flash_attn: FLASH_ATTENTION_LIB={prebuilt} is not a file")
        return prebuilt
    return _swift_build()


class BuildWithSwiftLibrary(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "flash_attn")
        os.makedirs(target, exist_ok=True)
        shutil.copy2(_library(), os.path.join(target, LIBRARY))


class BinaryDistribution(Distribution):
    """The wheel carries a native library: platform-specific, though not tied to a CPython ABI."""

    def has_ext_modules(self):
        return True


commands = {"build_py": BuildWithSwiftLibrary}
try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70
    from wheel.bdist_wheel import bdist_wheel


class PlatformWheel(bdist_wheel):
    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


commands["bdist_wheel"] = PlatformWheel

setup(distclass=BinaryDistribution, cmdclass=commands)
