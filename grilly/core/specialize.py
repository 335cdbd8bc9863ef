"""Execution-only rewrites of a traced program, applied just before a backend runs it.

Tracing ``grad`` leaves patterns that cost whole passes over memory when run as written:

- a cotangent that is a scalar broadcast to a full array (the VJP of a sum), materialized only to be read back
  elementwise. A primitive that lists the operand in ``P.scalar_operands`` takes the scalar instead, and the
  broadcast becomes dead;
- outputs of a multi-output kernel that nothing reads (the loss value when only its gradient is returned, a
  potential sequence that the loss ignores). ``P.unused_outputs_rules[prim](params, used)`` returns params that
  let the kernel skip writing them;
- transposes that only feed a matrix product (``x @ w.T`` and its gradient): ``dot_general`` reads any strided
  operand, so the transpose folds into its dimension numbers; a transpose of a transpose becomes one transpose,
  or none.

The rewritten program is only ever run, never transformed again (its equations may carry such execution hints),
so these passes are applied by executors (the Vulkan jit) and not by tracing.
"""

from __future__ import annotations

from grilly.core import primitive as P
from grilly.core.program import Literal, Program, Var, prune


def specialize(program: Program) -> Program:
    """``program`` with scalar broadcasts folded into the operands that accept scalars, transposes folded into
    matrix products and into each other, dead code pruned, and primitives told which outputs nobody reads.

    >>> import grilly, grilly.numpy as gnp
    >>> from grilly.transforms.jit import make_program
    >>> prog = make_program(lambda x: gnp.sum(x * 2.0))(gnp.ones(3))
    >>> len(specialize(prog).eqns) == len(prog.eqns)
    True
    """
    if not any(e.prim in P.scalar_operands or e.prim in P.unused_outputs_rules or e.prim.name == "transpose"
               for e in program.eqns):
        return program
    program = prune(_fold_transposes(_fold_scalar_broadcasts(program)))
    return _announce_unused_outputs(program)


def _fold_scalar_broadcasts(program: Program) -> Program:
    from grilly.lax.structural import broadcast_in_dim_p

    produced_by = {id(v): e for e in program.eqns for v in e.out_vars}
    eqns = []
    for eqn in program.eqns:
        positions = P.scalar_operands.get(eqn.prim)
        if positions:
            inputs = list(eqn.inputs)
            for i in positions:
                src = produced_by.get(id(inputs[i]))
                if src is not None and src.prim is broadcast_in_dim_p and src.inputs[0].aval.shape == ():
                    inputs[i] = src.inputs[0]
            eqn = eqn._replace(inputs=inputs)
        eqns.append(eqn)
    return Program(program.in_vars, eqns, program.outs, program.num_consts)


def _fold_transposes(program: Program) -> Program:
    from grilly.lax.linalg import dot_general_p
    from grilly.lax.structural import transpose_p

    transposed = {}  # id(var) -> (operand, permutation) of the transpose that made it
    renamed = {}  # id(var) -> the var that replaces it (a transpose of a transpose that cancels)

    def read(v):
        return renamed.get(id(v), v)

    eqns = []
    for eqn in program.eqns:
        eqn = eqn._replace(inputs=[read(v) for v in eqn.inputs])
        if eqn.prim is transpose_p:
            src, perm = eqn.inputs[0], tuple(eqn.params["permutation"])
            if id(src) in transposed:
                src, inner = transposed[id(src)]
                perm = tuple(inner[p] for p in perm)
                if perm == tuple(range(len(perm))):
                    renamed[id(eqn.out_vars[0])] = src
                    continue
                eqn = eqn._replace(inputs=[src], params={**eqn.params, "permutation": perm})
            transposed[id(eqn.out_vars[0])] = (src, perm)
        elif eqn.prim is dot_general_p:
            eqn = _dot_through_transposes(eqn, transposed)
        eqns.append(eqn)
    return Program(program.in_vars, eqns, [read(v) for v in program.outs], program.num_consts)


def _dot_through_transposes(eqn, transposed):
    """dot_general reading the operands of its operands' transposes, when that keeps the output's axis order."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    inputs, dims = list(eqn.inputs), [[lc, lb], [rc, rb]]
    for i in range(2):
        if id(inputs[i]) not in transposed:
            continue
        src, perm = transposed[id(inputs[i])]
        contract, batch = dims[i]
        free = [a for a in range(len(perm)) if a not in contract and a not in batch]
        if [perm[a] for a in free] != sorted(perm[a] for a in free):
            continue  # the free axes would come out in another order
        inputs[i] = src
        dims[i] = [tuple(perm[a] for a in contract), tuple(perm[a] for a in batch)]
    dn = ((tuple(dims[0][0]), tuple(dims[1][0])), (tuple(dims[0][1]), tuple(dims[1][1])))
    return eqn._replace(inputs=inputs, params={**eqn.params, "dimension_numbers": dn})


def _announce_unused_outputs(program: Program) -> Program:
    read = {id(v) for v in program.outs if isinstance(v, Var)}
    read.update(id(v) for e in program.eqns for v in e.inputs if not isinstance(v, Literal))
    eqns = []
    for eqn in program.eqns:
        rule = P.unused_outputs_rules.get(eqn.prim)
        if rule is not None:
            used = tuple(id(v) in read for v in eqn.out_vars)
            if not all(used):
                eqn = eqn._replace(params=rule(eqn.params, used))
        eqns.append(eqn)
    return Program(program.in_vars, eqns, program.outs, program.num_consts)
