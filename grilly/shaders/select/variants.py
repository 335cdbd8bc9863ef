"""Selection top_k variants (read by scripts/compile_shaders.py).

select_<dtype>: the first pass over a row of values; select_keys: later passes over (key, index) candidates.
"""


def variants(h):
    out = []
    for c in h.ALL:
        key = "(uint(v) ^ 0x80000000u)" if h.DTYPES[c][4] == "i" else "uint(v)"
        out.append((f"select_{c}", "select/select.comp", h.dtype_defines("A", c) | {"A_KEY(v)": key, "FROM_KEYS": "0"}))
    out.append(("select_keys", "select/select.comp", {"FROM_KEYS": "1"}))
    return out
