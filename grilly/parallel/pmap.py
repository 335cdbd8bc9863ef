"""pmap: run one function on several devices in lockstep, with collectives between them.

The function is traced once (per-device shapes) into a Program. The interpreter splits that program at its
collectives: each stretch between two collectives runs on every device as one jitted call (one recorded command
buffer per device on Vulkan, all devices working at once), and each collective is carried out across the
devices through host memory (the portable path; peer-to-peer copies would be the fast one).
"""

from __future__ import annotations

import functools

import numpy as np

from grilly import tree
from grilly.core import dtypes
from grilly.core.array import Array, asarray_concrete
from grilly.core.aval import ShapedArray
from grilly.core.errors import GrillyError
from grilly.core.program import Literal, Program, Var, trace_to_program
from grilly.core.trace import Tracer
from grilly.lax._helpers import aval_of
from grilly.parallel import collectives as C
from grilly.parallel.devices import local_devices


def pmap(fun, axis_name=None, in_axes=0, out_axes=0, devices=None):
    """Map ``fun`` over the leading (or ``in_axes``) axis of its inputs, one slice per device.

    >>> import grilly, grilly.numpy as gnp
    >>> n = grilly.local_device_count()
    >>> grilly.pmap(lambda x: grilly.lax.psum(x, "i"), axis_name="i")(gnp.arange(float(n))).tolist() == [
    ...     float(sum(range(n)))] * n
    True
    """

    @functools.wraps(fun)
    def mapped(*args):
        flat, in_tree = tree.flatten(args)
        axes = tree.prefix_broadcast(in_axes if isinstance(in_axes, tuple) else (in_axes,) * len(args), args,
                                     "in_axes")
        flat = [a if isinstance(a, Array | Tracer) else asarray_concrete(a) for a in flat]
        if any(isinstance(a, Tracer) for a in flat):
            raise GrillyError("pmap cannot be applied inside another transform (grad, vmap, jit); put the "
                              "transform inside the pmapped function instead")
        sizes = {aval_of(a).shape[d] for a, d in zip(flat, axes) if d is not None}
        if len(sizes) != 1:
            raise GrillyError(f"pmap: mapped axes must have one size, got {sorted(sizes)}")
        n = sizes.pop()
        devs = list(devices) if devices is not None else local_devices()
        if n > len(devs):
            raise GrillyError(f"pmap: the mapped axis has size {n} but only {len(devs)} device(s) exist "
                              "(GRILLY_LOGICAL_DEVICES=N splits one device into N)")
        devs = devs[:n]
        host = [np.asarray(a) for a in flat]
        per_dev_args = [[_put(h if d is None else np.take(h, i, axis=d), dev) for h, d in zip(host, axes)]
                        for i, dev in enumerate(devs)]
        avals = [aval_of(a) for a in per_dev_args[0]]
        store = {}

        def flat_fun(*leaves):
            out = fun(*tree.unflatten(in_tree, list(leaves)))
            out_flat, store["tree"] = tree.flatten(out)
            return out_flat

        C._axis_sizes.append({axis_name: n})
        try:
            program, consts = trace_to_program(flat_fun, avals)
        finally:
            C._axis_sizes.pop()
        const_host = [np.asarray(c) for c in consts]
        envs = [[_put(c, dev) for c in const_host] + a for dev, a in zip(devs, per_dev_args)]
        outs = _run_lockstep(program, envs, axis_name, devs)
        host_outs = [[np.asarray(o) for o in dev_outs] for dev_outs in outs]
        out_axes_flat = tree.prefix_broadcast(out_axes, tree.unflatten(store["tree"], [0] * len(outs[0])),
                                              "out_axes")
        result = []
        for k, oa in enumerate(out_axes_flat):
            vals = [h[k] for h in host_outs]
            result.append(asarray_concrete(vals[0] if oa is None else np.stack(vals, axis=oa)))
        return tree.unflatten(store["tree"], result)

    return mapped


def _put(value, device):
    arr = np.asarray(value)
    dt = dtypes.canonicalize(arr.dtype)
    arr = np.array(arr, dtype=dt, order="C")
    return Array(device.backend.from_numpy(arr), ShapedArray(arr.shape, dt), device.backend)


def _segments(program: Program):
    """Split equations into runs separated by collective equations."""
    segs, cur = [], []
    for eqn in program.eqns:
        if eqn.prim in C.COLLECTIVES:
            segs.append(("ops", cur))
            segs.append(("collective", eqn))
            cur = []
        else:
            cur.append(eqn)
    segs.append(("ops", cur))
    return segs


def _run_lockstep(program: Program, inputs, axis_name, devs):
    from grilly.transforms.jit import jit_call_p

    envs = [dict(zip(map(id, program.in_vars), ins)) for ins in inputs]
    live_after = _uses_after(program)
    for pos, (kind, item) in enumerate(_segments(program)):
        if kind == "ops":
            if not item:
                continue
            ins = _free_vars(item)
            outs = [v for e in item for v in e.out_vars if id(v) in live_after[pos]]
            sub = Program(ins, item, outs)
            for env in envs:  # one jitted call per device: they all run concurrently
                res = jit_call_p.bind(*[env[id(v)] for v in ins], program=sub, name="pmap_segment", donated=())
                env.update(zip(map(id, outs), res))
        else:
            _collective(item, envs, axis_name, devs)
    return [[_read(env, v) for v in program.outs] for env in envs]


def _read(env, v):
    return v.val if isinstance(v, Literal) else env[id(v)]


def _free_vars(eqns):
    defined, free, seen = set(), [], set()
    for e in eqns:
        for v in e.inputs:
            if isinstance(v, Var) and id(v) not in defined and id(v) not in seen:
                free.append(v)
                seen.add(id(v))
        defined.update(id(v) for v in e.out_vars)
    return free


def _uses_after(program: Program):
    """For each segment position, the ids of variables defined there that later segments or outputs use."""
    segs = _segments(program)
    later: set[int] = {id(v) for v in program.outs if isinstance(v, Var)}
    result = [set() for _ in segs]
    for pos in range(len(segs) - 1, -1, -1):
        kind, item = segs[pos]
        eqns = item if kind == "ops" else [item]
        result[pos] = set(later)
        for e in eqns:
            later.update(id(v) for v in e.inputs if isinstance(v, Var))
    return result


def _collective(eqn, envs, axis_name, devs):
    name = eqn.params.get("axis_name")
    if name != axis_name:
        raise GrillyError(f"{eqn.prim.name} over axis {name!r} inside pmap over {axis_name!r}")
    n = len(devs)
    out_var = eqn.out_vars[0]
    if eqn.prim is C.axis_index_p:
        vals = [np.asarray(i, np.int32) for i in range(n)]
    else:
        host = [np.asarray(_read(env, eqn.inputs[0])) for env in envs]
        if eqn.prim is C.psum_p:
            total = np.sum(np.stack(host), axis=0, dtype=np.float64 if host[0].dtype.kind == "f" else None)
            vals = [total.astype(host[0].dtype)] * n
        elif eqn.prim is C.pmax_p:
            vals = [np.max(np.stack(host), axis=0)] * n
        elif eqn.prim is C.pmin_p:
            vals = [np.min(np.stack(host), axis=0)] * n
        else:
            vals = [np.stack(host, axis=eqn.params["axis"])] * n
    for env, dev, v in zip(envs, devs, vals):
        env[id(out_var)] = _put(v, dev)
