"""Encoders and decoders."""

from __future__ import annotations

import numpy as np

import grilly.numpy as gnp
import grilly.random as gr
from grilly import snn


def test_rate_encode_frequency_and_shape():
    x = np.array([0.0, 0.25, 0.75, 1.0], np.float32)
    s = np.asarray(snn.rate_encode(gr.PRNGKey(1), x, num_steps=400))
    assert s.shape == (400, 4) and set(np.unique(s)) <= {0.0, 1.0}
    np.testing.assert_allclose(s.mean(0), x, atol=0.07)
    assert s[:, 0].sum() == 0 and s[:, 3].sum() == 400
    p = np.asarray(snn.poisson_encode(gr.PRNGKey(2), np.array([500.0], np.float32), 400, dt=1e-3))
    assert abs(p.mean() - 0.5) < 0.08


def test_latency_encode_one_spike_earlier_for_larger():
    x = np.array([1.0, 0.5, 0.2, 0.0], np.float32)
    s = np.asarray(snn.latency_encode(x, num_steps=5))
    assert s.sum(0).tolist() == [1.0, 1.0, 1.0, 0.0]
    assert np.argmax(s, 0)[:3].tolist() == [0, 2, 3]
    t = np.asarray(snn.first_spike_time(s))
    assert t.tolist() == [0.0, 2.0, 3.0, 5.0]
    rc = np.asarray(snn.latency_encode(x, num_steps=10, linear=False, tau=10.0, threshold=0.1))
    times = np.asarray(snn.first_spike_time(rc))
    assert times[0] < times[1] < times[2] and times[3] == 10.0


def test_delta_encode():
    xs = np.array([[0.0], [0.5], [0.55], [0.1], [0.1]], np.float32)
    assert np.asarray(snn.delta_encode(xs, 0.2))[:, 0].tolist() == [0, 1, 0, 0, 0]
    assert np.asarray(snn.delta_encode(xs, 0.2, off_spikes=True))[:, 0].tolist() == [0, 1, 0, -1, 0]


def test_decoders():
    s = np.array([[0, 1], [1, 1], [0, 0], [1, 0]], np.float32)
    assert np.asarray(snn.rate_decode(s)).tolist() == [0.5, 0.5]
    assert np.asarray(snn.spike_count(s)).tolist() == [2.0, 2.0]
    v = gnp.asarray(np.array([[0.1, 0.5], [0.7, 0.2]], np.float32))
    np.testing.assert_allclose(np.asarray(snn.membrane_readout(v, "max")), [0.7, 0.5])
    np.testing.assert_allclose(np.asarray(snn.membrane_readout(v, "mean")), [0.4, 0.35])
    np.testing.assert_allclose(np.asarray(snn.membrane_readout(v, "last")), [0.7, 0.2])
    np.testing.assert_allclose(np.asarray(snn.leaky_integrate(np.ones((3, 1), np.float32), tau=4.0))[:, 0],
                               [0.25, 0.4375, 0.578125])
