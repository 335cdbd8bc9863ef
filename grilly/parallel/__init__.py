"""Several devices: placement, pmap with collectives, logical devices for testing on one GPU or a CPU."""

from grilly.parallel.collectives import all_gather, axis_index, pmax, pmean, pmin, psum
from grilly.parallel.devices import Device, local_device_count, local_devices, set_logical_devices
from grilly.parallel.pmap import pmap

__all__ = ["Device", "all_gather", "axis_index", "local_device_count", "local_devices", "pmap", "pmax", "pmean",
           "pmin", "psum", "set_logical_devices"]
