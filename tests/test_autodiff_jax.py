"""An independent check of the exact gradient by automatic differentiation (JAX).

J(theta) is written from scratch in jax.numpy — the softmax (or log-linear) policy, the
policy-averaged transitions and rewards, and one dense linear solve (or the finite-horizon
backward recursion) — and ``jax.grad`` of it must match :func:`tabular_pg.policy_gradient`
to 1e-10 relative: two implementations that share no code. Skipped when JAX is missing (it
is in the ``test`` extra, so it runs in CI).
"""
import numpy as np
import pytest

import tabular_pg as tpg
from mdps import chain, garnet

jax = pytest.importorskip("jax", reason="JAX is not installed: pip install 'jax[cpu]' (it is in the test extra)")
jax.config.update("jax_enable_x64", True)
jnp = jax.numpy


def dense_arrays(mdp):
    P = mdp.P.toarray().reshape(mdp.n_states, mdp.n_actions, mdp.n_states) if hasattr(mdp.P, "toarray") else mdp.P
    return jnp.asarray(P), jnp.asarray(mdp.R), jnp.asarray(mdp.mu)


def J_of_pi(mdp, pi):
    """J by a dense solve (infinite horizon) or the backward recursion (finite horizon), in JAX."""
    P, R, mu = dense_arrays(mdp)
    r_pi = jnp.einsum("sa,sa->s", pi, R)
    P_pi = jnp.einsum("sa,sat->st", pi, P)
    if mdp.horizon is None:
        V = jnp.linalg.solve(jnp.eye(mdp.n_states) - mdp.gamma * P_pi, r_pi)
    else:
        V = jnp.zeros(mdp.n_states)
        for _ in range(mdp.horizon):
            V = r_pi + mdp.gamma * P_pi @ V
    return mu @ V


def softmax_J(mdp):
    return lambda theta: J_of_pi(mdp, jax.nn.softmax(theta.reshape(mdp.n_states, mdp.n_actions), axis=1))


def loglinear_J(mdp, features):
    return lambda theta: J_of_pi(mdp, jax.nn.softmax(jnp.einsum("sad,d->sa", features, theta), axis=1))


def relative_error(a, b):
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


@pytest.mark.parametrize("mdp", [garnet(8, 3, 3, seed=0, gamma=0.9), garnet(30, 4, 5, seed=1, gamma=0.99),
                                 tpg.FiniteMDP(garnet(6, 2, 2, seed=2).P, garnet(6, 2, 2, seed=2).R,
                                               garnet(6, 2, 2, seed=2).mu, gamma=0.95, horizon=7)],
                         ids=["garnet-8", "garnet-30", "finite-horizon"])
def test_jax_grad_matches_the_softmax_policy_gradient(mdp):
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(3).normal(size=policy.n_params)
    g_jax = jax.grad(softmax_J(mdp))(jnp.asarray(theta))
    assert relative_error(tpg.policy_gradient(mdp, policy, theta), g_jax) < 1e-10
    assert abs(float(softmax_J(mdp)(jnp.asarray(theta))) - tpg.evaluate(mdp, policy.probs(theta)).J) < 1e-10


def test_jax_grad_matches_the_loglinear_policy_gradient():
    mdp = garnet(12, 3, 4, seed=4, gamma=0.9)
    features = np.random.default_rng(5).normal(size=(12, 3, 5))
    policy = tpg.LogLinear(features)
    theta = np.random.default_rng(6).normal(size=5)
    g_jax = jax.grad(loglinear_J(mdp, jnp.asarray(features)))(jnp.asarray(theta))
    assert relative_error(tpg.policy_gradient(mdp, policy, theta), g_jax) < 1e-10


def test_jax_grad_on_the_chain_episodic():
    mdp = chain(H=5)                       # gamma = 1, horizon H
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(7).normal(size=policy.n_params)
    assert relative_error(tpg.policy_gradient(mdp, policy, theta), jax.grad(softmax_J(mdp))(jnp.asarray(theta))) < 1e-10


def test_the_check_can_fail():
    """A wrong gradient (one coordinate perturbed by 1e-8 relative) is caught at this tolerance."""
    mdp = garnet(8, 3, 3, seed=0, gamma=0.9)
    policy = tpg.TabularSoftmax(8, 3)
    theta = np.random.default_rng(3).normal(size=24)
    g = tpg.policy_gradient(mdp, policy, theta).copy()
    g[5] += 1e-8 * np.max(np.abs(g))
    assert relative_error(g, jax.grad(softmax_J(mdp))(jnp.asarray(theta))) > 1e-10


@pytest.mark.parametrize("mdp", [garnet(6, 3, 3, seed=8, gamma=0.9),
                                 tpg.FiniteMDP(garnet(5, 2, 2, seed=9).P, garnet(5, 2, 2, seed=9).R,
                                               garnet(5, 2, 2, seed=9).mu, gamma=0.95, horizon=6)],
                         ids=["discounted", "finite-horizon"])
def test_jax_hessian_matches_the_exact_hessian(mdp):
    policy = tpg.TabularSoftmax(mdp.n_states, mdp.n_actions)
    theta = np.random.default_rng(10).normal(size=policy.n_params)
    H_jax = np.asarray(jax.hessian(softmax_J(mdp))(jnp.asarray(theta)))
    H = tpg.hessian(mdp, policy, theta)
    assert relative_error(H, H_jax) < 1e-10
    v = np.random.default_rng(11).normal(size=policy.n_params)
    assert relative_error(tpg.hessian_vector_product(mdp, policy, theta, v), H_jax @ v) < 1e-10


def test_jax_hessian_of_the_loglinear_policy():
    mdp = garnet(7, 3, 3, seed=12, gamma=0.9)
    features = np.random.default_rng(13).normal(size=(7, 3, 4))
    theta = np.random.default_rng(14).normal(size=4)
    H_jax = np.asarray(jax.hessian(loglinear_J(mdp, jnp.asarray(features)))(jnp.asarray(theta)))
    assert relative_error(tpg.hessian(mdp, tpg.LogLinear(features), theta), H_jax) < 1e-10
