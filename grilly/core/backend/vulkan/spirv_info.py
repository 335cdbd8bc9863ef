"""Static facts about a SPIR-V compute module: the shared (Workgroup) memory it declares.

A kernel that declares more shared memory than the device allows must fail with a clear error before pipeline
creation: some drivers hang or crash on it instead. Array lengths may be constants, specialization constants
(with the values a pipeline is created with) or specialization-constant expressions of the usual integer ops;
anything else makes the size unknown (None) and skips the check.

Example:
    >>> from grilly.core.backend.vulkan.spirv_info import shared_bytes
    >>> shared_bytes(b"") is None
    True
"""

from __future__ import annotations

import struct

WORKGROUP = 4
# opcodes
OP_DECORATE, OP_TYPE_BOOL, OP_TYPE_INT, OP_TYPE_FLOAT, OP_TYPE_VECTOR, OP_TYPE_MATRIX = 71, 20, 21, 22, 23, 24
OP_TYPE_ARRAY, OP_TYPE_STRUCT, OP_TYPE_POINTER, OP_VARIABLE = 28, 30, 32, 59
OP_CONSTANT, OP_SPEC_CONSTANT, OP_SPEC_CONSTANT_OP = 43, 50, 52
DECORATION_SPEC_ID = 1
# OpSpecConstantOp operations on 32-bit integers
_SPEC_OPS = {
    128: lambda a, b: a + b, 130: lambda a, b: a - b, 132: lambda a, b: a * b,
    134: lambda a, b: a // b if b else None, 137: lambda a, b: a % b if b else None,
    194: lambda a, b: a >> b, 196: lambda a, b: a << b,
    172: lambda a, b: int(a > b), 174: lambda a, b: int(a >= b), 176: lambda a, b: int(a < b),
    178: lambda a, b: int(a <= b), 170: lambda a, b: int(a == b),
}
_SELECT = 169


def _words(code: bytes) -> list[int]:
    n = len(code) // 4
    return list(struct.unpack(f"<{n}I", code[:4 * n])) if n >= 5 else []


def shared_bytes(code: bytes, spec: tuple = ()) -> int | None:
    """Bytes of Workgroup memory the module declares (no layout padding), or None when unknown.

    ``spec`` holds the values of specialization constants 0, 1, ... as the pipeline will be created."""
    words = _words(code)
    if not words:
        return None
    spec_ids: dict[int, int] = {}
    consts: dict[int, int | None] = {}
    types: dict[int, tuple] = {}
    pointers: dict[int, tuple[int, int]] = {}
    shared_vars: list[int] = []
    i = 5
    while i < len(words):
        n, op = words[i] >> 16, words[i] & 0xFFFF
        if n == 0:
            return None
        a = words[i + 1:i + n]
        if op == OP_DECORATE and len(a) >= 3 and a[1] == DECORATION_SPEC_ID:
            spec_ids[a[0]] = a[2]
        elif op in (OP_TYPE_BOOL, OP_TYPE_INT, OP_TYPE_FLOAT, OP_TYPE_VECTOR, OP_TYPE_MATRIX, OP_TYPE_ARRAY,
                    OP_TYPE_STRUCT):
            types[a[0]] = (op, *a[1:])
        elif op == OP_TYPE_POINTER:
            pointers[a[0]] = (a[1], a[2])
        elif op == OP_CONSTANT:
            consts[a[1]] = a[2]
        elif op == OP_SPEC_CONSTANT:
            sid = spec_ids.get(a[1])
            consts[a[1]] = spec[sid] if sid is not None and sid < len(spec) else a[2]
        elif op == OP_SPEC_CONSTANT_OP:
            consts[a[1]] = _spec_op(a[2], [consts.get(x) for x in a[3:]])
        elif op == OP_VARIABLE and len(a) >= 3 and a[2] == WORKGROUP:
            shared_vars.append(a[0])
        i += n
    total = 0
    for ptr in shared_vars:
        size = _size(pointers.get(ptr, (None, None))[1], types, consts)
        if size is None:
            return None
        total += size
    return total


def _spec_op(opcode: int, args: list) -> int | None:
    if None in args:
        return None
    if opcode == _SELECT and len(args) == 3:
        return args[1] if args[0] else args[2]
    fn = _SPEC_OPS.get(opcode)
    return fn(*args[:2]) if fn is not None and len(args) >= 2 else None


def _size(tid, types, consts) -> int | None:
    t = types.get(tid)
    if t is None:
        return None
    op = t[0]
    if op == OP_TYPE_BOOL:
        return 4
    if op in (OP_TYPE_INT, OP_TYPE_FLOAT):
        return t[1] // 8
    if op in (OP_TYPE_VECTOR, OP_TYPE_MATRIX):
        inner = _size(t[1], types, consts)
        return None if inner is None else inner * t[2]
    if op == OP_TYPE_ARRAY:
        inner, length = _size(t[1], types, consts), consts.get(t[2])
        return None if inner is None or length is None else inner * length
    if op == OP_TYPE_STRUCT:
        sizes = [_size(m, types, consts) for m in t[1:]]
        return None if None in sizes else sum(sizes)
    return None
