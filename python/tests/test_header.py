"""flash_attention.h compiles as strict C and C++, links against the library, and its struct
layouts agree with the ctypes mirror this package uses."""

import os
import shutil
import subprocess

import pytest

from flash_attn import _library as lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INCLUDE = os.path.join(ROOT, "Sources", "CFlashAttentionABI", "include")

PROGRAM = r"""
#include "flash_attention.h"
#include <stddef.h>
#include <stdio.h>

int main(void) {
    fa_options options;
    fa_options_init(&options);
    int64_t shape[4] = {1, 3, 2, 8};
    fa_tensor t;
    if (fa_tensor_init(&t, NULL, FA_DTYPE_FLOAT32, FA_DEVICE_CPU, 0, 4, shape) != FA_SUCCESS) return 2;
    /* A NULL q must come back as an argument error with a message, not a crash. */
    fa_status status = fa_forward(NULL, &t, &t, &t, NULL, &options, NULL);
    if (status != FA_ERROR_INVALID_ARGUMENT || fa_last_error()[0] == '\0') return 3;
    status = fa_kvcache_forward(NULL, &t, &t, NULL, NULL, NULL, NULL, 1, NULL, NULL, NULL, NULL, 0, &t, NULL,
                                &options, NULL);
    if (status != FA_ERROR_INVALID_ARGUMENT || fa_last_error()[0] == '\0') return 5;
    if (fa_version() != FLASH_ATTENTION_VERSION) return 4;
    printf("%zu %zu %zu %zu %zu %zu\n", sizeof(fa_tensor), offsetof(fa_tensor, shape),
           offsetof(fa_tensor, strides), sizeof(fa_options), offsetof(fa_options, alibi_slopes),
           offsetof(fa_options, seed));
    return 0;
}
"""


@pytest.mark.parametrize("compiler,flags", [
    ("cc", ["-x", "c", "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror"]),
    ("c++", ["-x", "c++", "-std=c++17", "-Wall", "-Wextra", "-Werror"]),
])
def test_header_compiles_links_and_matches_ctypes(tmp_path, compiler, flags):
    if shutil.which(compiler) is None:
        pytest.skip(f"no {compiler}")
    source = tmp_path / "program.c"
    source.write_text(PROGRAM)
    binary = tmp_path / "program"
    library_dir = os.path.dirname(lib.library_path)
    subprocess.run([compiler, *flags, "-I", INCLUDE, str(source), "-x", "none", lib.library_path,
                    f"-Wl,-rpath,{library_dir}", "-o", str(binary)], check=True)
    result = subprocess.run([str(binary)], capture_output=True, text=True)
    assert result.returncode == 0, (result.returncode, result.stderr)
    sizes = [int(x) for x in result.stdout.split()]
    assert sizes == [
        lib.TENSOR_SIZE, lib.FATensor.shape.offset, lib.FATensor.strides.offset,
        lib.OPTIONS_SIZE, lib.FAOptions.alibi_slopes.offset, lib.FAOptions.seed.offset,
    ]
