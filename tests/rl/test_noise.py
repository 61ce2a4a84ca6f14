"""Exploration noise: Gaussian statistics, OU mean reversion and reset, state round trips."""

import math

import numpy as np
import pytest

from fixar_gen.rl.noise import GaussianNoise, OUNoise


def test_gaussian_mean_and_std_within_statistical_bounds():
    n, sigma = 400_000, 0.3
    draws = GaussianNoise(sigma, n).sample(np.random.default_rng(0))
    assert draws.shape == (n,)
    # five standard errors: the mean's is sigma/sqrt(n), the std's about sigma/sqrt(2n)
    assert abs(draws.mean()) < 5 * sigma / math.sqrt(n)
    assert abs(draws.std() - sigma) < 5 * sigma / math.sqrt(2 * n)


def test_gaussian_same_seed_same_draws():
    noise = GaussianNoise(0.2, (3, 2))
    a = noise.sample(np.random.default_rng(5))
    b = noise.sample(np.random.default_rng(5))
    assert a.shape == (3, 2)
    np.testing.assert_array_equal(a, b)


def test_ou_without_noise_decays_geometrically_to_zero():
    theta, dt = 0.5, 0.1
    noise = OUNoise(sigma=0.0, theta=theta, dt=dt, shape=2)
    noise.x = np.array([1.0, -2.0])
    rng = np.random.default_rng(0)
    path = np.array([noise.sample(rng) for _ in range(200)])
    expected = np.array([1.0, -2.0]) * (1 - theta * dt) ** np.arange(1, 201)[:, None]
    np.testing.assert_allclose(path, expected, rtol=1e-12)
    assert np.all(np.abs(np.diff(path, axis=0)) > 0)      # strictly toward 0 ...
    assert np.all(np.abs(path[-1]) < 1e-4)                # ... and close to it


def test_ou_stationary_spread_matches_the_discrete_process():
    # x <- a x + s e with a = 1 - theta dt, s = sigma sqrt(dt): Var -> s^2 / (1 - a^2)
    sigma, theta, dt, chains = 0.4, 1.0, 0.1, 50_000
    noise = OUNoise(sigma, theta, dt, chains)
    rng = np.random.default_rng(1)
    for _ in range(150):      # a^150 ~ 1e-7: the start is forgotten
        x = noise.sample(rng)
    a = 1 - theta * dt
    std = sigma * math.sqrt(dt / (1 - a * a))
    assert abs(x.mean()) < 5 * std / math.sqrt(chains)
    assert abs(x.std() - std) < 5 * std / math.sqrt(2 * chains)


def test_ou_reset_returns_to_zero():
    noise = OUNoise(0.3, 0.15, 0.01, 4)
    rng = np.random.default_rng(2)
    for _ in range(10):
        noise.sample(rng)
    assert np.any(noise.x != 0)
    noise.reset()
    np.testing.assert_array_equal(noise.x, np.zeros(4))
    noise.sigma = 0.0
    np.testing.assert_array_equal(noise.sample(rng), np.zeros(4))


def test_ou_sample_returns_a_copy():
    noise = OUNoise(0.3, 0.15, 0.01, 2)
    out = noise.sample(np.random.default_rng(0))
    out[:] = 99.0
    assert np.all(noise.x != 99.0)


@pytest.mark.parametrize("make", [lambda s: GaussianNoise(s, 3),
                                  lambda s: OUNoise(s, 0.15, 0.01, 3)])
def test_rng_use_does_not_depend_on_sigma(make):
    """sigma 0 draws as much as any sigma, so it never shifts the rest of a seeded run."""
    rngs = [np.random.default_rng(3), np.random.default_rng(3)]
    for noise, rng in zip((make(0.0), make(0.5)), rngs):
        noise.sample(rng)
    assert rngs[0].bit_generator.state == rngs[1].bit_generator.state


def test_gaussian_state_round_trip():
    restored = GaussianNoise(0.1, 2)
    restored.load_state_dict(GaussianNoise(0.7, 2).state_dict())
    assert restored.sigma == 0.7


def test_ou_state_round_trip_continues_identically():
    original = OUNoise(0.3, 0.15, 0.01, (2, 3))
    rng = np.random.default_rng(4)
    for _ in range(25):
        original.sample(rng)
    state = original.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype == np.float64 for v in state.values())

    restored = OUNoise(0.1, 0.5, 0.02, (2, 3))
    restored.load_state_dict(state)
    np.testing.assert_array_equal(restored.x, original.x)
    rng_state = rng.bit_generator.state
    ahead = [original.sample(rng) for _ in range(5)]
    rng.bit_generator.state = rng_state
    again = [restored.sample(rng) for _ in range(5)]
    np.testing.assert_array_equal(ahead, again)


def test_ou_load_rejects_another_shape():
    with pytest.raises(ValueError, match="shape"):
        OUNoise(0.3, 0.15, 0.01, 3).load_state_dict(OUNoise(0.3, 0.15, 0.01, 2).state_dict())


@pytest.mark.parametrize("make, field", [
    (lambda: GaussianNoise(-0.1, 2), "sigma"),
    (lambda: GaussianNoise(float("nan"), 2), "sigma"),
    (lambda: GaussianNoise(0.1, (2, 0)), "shape"),
    (lambda: OUNoise(0.1, -1.0, 0.01, 2), "theta"),
    (lambda: OUNoise(0.1, 0.15, 0.0, 2), "dt"),
])
def test_bad_parameters_name_the_field(make, field):
    with pytest.raises(ValueError, match=f"noise {field}"):
        make()
