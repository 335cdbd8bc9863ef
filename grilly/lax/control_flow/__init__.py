from grilly.lax.control_flow.cond import cond, cond_p, switch
from grilly.lax.control_flow.loops import fori_loop, while_loop, while_p
from grilly.lax.control_flow.scan import scan, scan_p

__all__ = ["cond", "cond_p", "switch", "fori_loop", "while_loop", "while_p", "scan", "scan_p"]
