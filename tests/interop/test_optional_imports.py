"""`import grilly` and `import grilly.utils` must not pull in the optional extras."""

import subprocess
import sys


def test_core_and_utils_import_no_optional_packages():
    code = ("import sys, grilly, grilly.utils, grilly.utils.huggingface, grilly.nir, grilly.utils.nir_exchange; "
            "print(sorted(m for m in ('torch', 'transformers', 'nir', 'sentence_transformers', 'snntorch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
