"""Interop tests: optional packages (torch, transformers, nir, ...) are skipped when missing, and nothing may be
downloaded (HF_HUB_OFFLINE)."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
