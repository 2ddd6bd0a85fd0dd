"""Independent references for the sampled-algorithm benchmark: CleanRL-style tabular PPO and TRPO-style NPG.

Plain numpy, written apart from tabular_pg's algorithms, estimators and sampler: tabular_pg
supplies only the MDP's tables ``(P, r, mu, gamma, horizon)`` and :func:`tabular_pg.evaluate`,
which scores every iterate with its exact ``J``.  Policies are tabular softmax logits
``theta`` of shape ``(S, A)``, started at zero (the uniform policy).

* :func:`ppo_iteration` -- Schulman et al. 2017 "Proximal Policy Optimization Algorithms"
  (eq. 7, the clipped surrogate with the min) in the form of CleanRL's ``ppo.py``: GAE(0.95)
  advantages (Schulman et al. 2016 "High-Dimensional Continuous Control Using Generalized
  Advantage Estimation", eq. 16) from a tabular critic refitted on each batch, advantages
  normalised per minibatch, 4 epochs x 4 minibatches of Adam (Kingma & Ba 2015) on the
  logits with a persistent Adam state and the gradient norm clipped at 0.5.
* :func:`npg_iteration` -- Schulman et al. 2015 "Trust Region Policy Optimization" (§6, the
  sample-based problem; Appendix C, the step ``sqrt(2 delta / g^T F^-1 g)`` and the
  backtracking line search) with Kakade 2001 "A Natural Policy Gradient": the Fisher
  matrix at the sampled states with the expectation over actions taken analytically,
  solved exactly per state block; a step is accepted only if the sample mean KL is
  ``<= delta`` and the sample surrogate improves.

Run ``python bench/reference_pg.py [--quick]`` to print trajectories to 0.9 J* and 0.99 J*.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tabular_pg as tpg

__all__ = ["Tables", "Batch", "Adam", "PPOConfig", "NPGConfig", "ReferenceHistory", "tables", "sample",
           "softmax", "log_softmax", "gae", "fit_critic", "clipped_surrogate_gradient", "adam_step", "ppo_iteration",
           "fisher_solve", "mean_kl", "npg_iteration", "run_reference"]

TRUNCATION_TOL = 1e-6          # neglected discounted return when an infinite horizon is truncated
MAX_STEPS = 100_000            # cap of an episodic (gamma = 1, no horizon) trajectory


# ----------------------------------------------------------------------------- the MDP and sampling
@dataclass(frozen=True)
class Tables:
    """Dense tables of an MDP: ``P (S, A, S)``, rewards ``R (S, A, S)`` per transition, ``mu (S,)``.

    ``terminal (S,)`` marks zero-reward absorbing states (an episode ends on entering one);
    ``T`` is the number of steps sampled: the horizon, or a truncation of an infinite one.
    """

    P: np.ndarray
    R: np.ndarray
    mu: np.ndarray
    gamma: float
    T: int
    finite: bool
    terminal: np.ndarray


def tables(mdp) -> Tables:
    """The :class:`Tables` of a ``tabular_pg.FiniteMDP`` (read once; nothing else is used)."""
    P = mdp.P.toarray() if sp.issparse(mdp.P) else np.asarray(mdp.P)
    S, A = mdp.n_states, mdp.n_actions
    P = P.reshape(S, A, S)
    if mdp.R_full is None:
        R = np.broadcast_to(np.asarray(mdp.R)[:, :, None], (S, A, S))
    else:
        R = (mdp.R_full.toarray() if sp.issparse(mdp.R_full) else np.asarray(mdp.R_full)).reshape(S, A, S)
    stays = np.isclose(P[np.arange(S), :, np.arange(S)], 1.0).all(axis=1)
    silent = (np.abs(R * (P > 0)).sum(axis=(1, 2)) == 0)
    finite = mdp.horizon is not None
    if finite:
        T = int(mdp.horizon)
    elif mdp.gamma == 1:             # episodic: until every episode has ended (at most MAX_STEPS)
        T = MAX_STEPS
    else:
        rmax = max(float(np.abs(R).max()), 1e-300)
        T = int(np.ceil(np.log(TRUNCATION_TOL * (1 - mdp.gamma) / rmax) / np.log(mdp.gamma)))
    return Tables(P, R, np.asarray(mdp.mu), float(mdp.gamma), max(T, 1), finite, stays & silent)


@dataclass(frozen=True)
class Batch:
    """``n`` trajectories, arrays ``(n, T')``: ``s, a, r, s_next``; ``alive`` marks steps taken;
    ``end`` marks steps after which the episode is over (terminal state or the horizon), so
    the next state's value is 0.  Steps at a truncation of an infinite horizon are not ends."""

    s: np.ndarray
    a: np.ndarray
    r: np.ndarray
    s_next: np.ndarray
    alive: np.ndarray
    end: np.ndarray


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: ``cdf (n, K)``, ``u (n,)`` -> indices ``(n,)``."""
    return np.minimum((cdf <= u[:, None]).sum(axis=1), cdf.shape[1] - 1)


def sample(tab: Tables, pi: np.ndarray, n: int, rng: np.random.Generator) -> Batch:
    """``n`` trajectories of ``pi (S, A)``, advanced together (a loop over time only).

    Samples :math:`s_0 \\sim \\mu`, :math:`a_t \\sim \\pi(\\cdot|s_t)`,
    :math:`s_{t+1} \\sim P(\\cdot|s_t, a_t)`, reward :math:`R(s_t, a_t, s_{t+1})`.
    """
    cdf_pi, cdf_P = np.cumsum(pi, axis=1), np.cumsum(tab.P, axis=2)
    s = _draw(np.cumsum(tab.mu)[None, :].repeat(n, 0), rng.random(n))
    done = tab.terminal[s]
    rows = []
    for t in range(tab.T):
        if done.all():
            break
        a = _draw(cdf_pi[s], rng.random(n))
        s2 = _draw(cdf_P[s, a], rng.random(n))
        alive = ~done
        done = done | tab.terminal[s2]
        end = alive & (tab.terminal[s2] | (tab.finite and t == tab.T - 1))
        rows.append((s, a, np.where(alive, tab.R[s, a, s2], 0.0), s2, alive, end))
        s = s2
    return Batch(*(np.stack(col, axis=1) for col in zip(*rows)))


def log_softmax(theta: np.ndarray) -> np.ndarray:
    """Row-wise :math:`\\log\\pi(a|s)` of logits ``(S, A)``, finite even where ``pi`` underflows."""
    z = theta - theta.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def softmax(theta: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits ``(S, A)``."""
    return np.exp(log_softmax(theta))


# ----------------------------------------------------------------------------- advantages and critic
def gae(batch: Batch, V: np.ndarray, gamma: float, lam: float) -> np.ndarray:
    """GAE, Schulman et al. 2016 eq. 16, by the backward recursion; ``(n, T')``.

    :math:`\\delta_t = r_t + \\gamma V(s_{t+1})(1 - e_t) - V(s_t)`,
    :math:`\\hat A_t = \\delta_t + \\gamma\\lambda(1 - e_t)\\hat A_{t+1}` (``e_t``: episode ended).
    A truncated infinite horizon bootstraps with :math:`V(s_T)`.
    """
    cont = (~batch.end).astype(float)
    delta = np.where(batch.alive, batch.r + gamma * V[batch.s_next] * cont - V[batch.s], 0.0)
    adv = np.zeros_like(delta)
    nxt = np.zeros(delta.shape[0])
    for t in range(delta.shape[1] - 1, -1, -1):
        nxt = delta[:, t] + gamma * lam * cont[:, t] * nxt
        adv[:, t] = np.where(batch.alive[:, t], nxt, 0.0)
    return adv


def fit_critic(V: np.ndarray, s: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Tabular least squares: the mean target per visited state (unvisited states keep ``V``)."""
    S = V.shape[0]
    counts = np.bincount(s, minlength=S)
    sums = np.bincount(s, weights=targets, minlength=S)
    return np.where(counts > 0, sums / np.maximum(counts, 1), V)


# ----------------------------------------------------------------------------- PPO
@dataclass(frozen=True)
class PPOConfig:
    """CleanRL ``ppo.py`` defaults where they apply; ``lr`` chosen for tabular logits."""

    lr: float = 0.1
    clip: float = 0.2
    lam: float = 0.95
    epochs: int = 4
    minibatches: int = 4
    max_grad_norm: float = 0.5
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-5


@dataclass(frozen=True)
class Adam:
    """Adam's state (Kingma & Ba 2015, Algorithm 1): moments ``m, v (S, A)`` and step count."""

    m: np.ndarray
    v: np.ndarray
    t: int = 0


def clipped_surrogate_gradient(theta, s, a, p_old, adv, clip) -> np.ndarray:
    """Gradient in ``theta (S, A)`` of the mean of :math:`\\min(\\rho A, \\mathrm{clip}(\\rho, 1\\pm\\epsilon) A)`.

    Schulman et al. 2017 eq. 7.  Per sample, the min picks the clipped branch (gradient 0)
    when :math:`A > 0, \\rho > 1+\\epsilon` or :math:`A < 0, \\rho < 1-\\epsilon`; otherwise
    :math:`\\nabla_{\\theta_s} \\rho A = \\rho A (e_a - \\pi(\\cdot|s))`.
    """
    pi = softmax(theta)
    ratio = pi[s, a] / p_old
    active = ~(((adv > 0) & (ratio > 1 + clip)) | ((adv < 0) & (ratio < 1 - clip)))
    w = np.where(active, ratio * adv, 0.0) / s.size
    S, A = theta.shape
    grad = np.bincount(s * A + a, weights=w, minlength=S * A).reshape(S, A)
    return grad - np.bincount(s, weights=w, minlength=S)[:, None] * pi


def adam_step(theta, grad_loss, state: Adam, cfg: PPOConfig):
    """One Adam step descending ``grad_loss`` after clipping its norm at ``cfg.max_grad_norm``."""
    norm = np.linalg.norm(grad_loss)
    if norm > cfg.max_grad_norm:
        grad_loss = grad_loss * (cfg.max_grad_norm / norm)
    b1, b2 = cfg.betas
    t = state.t + 1
    m = b1 * state.m + (1 - b1) * grad_loss
    v = b2 * state.v + (1 - b2) * grad_loss ** 2
    step = cfg.lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + cfg.eps)
    return theta - step, Adam(m, v, t)


def ppo_iteration(theta, V, adam: Adam, batch: Batch, gamma: float, cfg: PPOConfig, rng):
    """One PPO iteration on ``batch``: returns ``(theta, V, adam)`` (CleanRL's update order:
    advantages from the carried-over critic, then the critic refitted on the lambda-returns)."""
    adv_all = gae(batch, V, gamma, cfg.lam)
    m = batch.alive
    s, a, adv = batch.s[m], batch.a[m], adv_all[m]
    V = fit_critic(V, s, adv + V[s])
    p_old = softmax(theta)[s, a]
    for _ in range(cfg.epochs):
        for mb in np.array_split(rng.permutation(s.size), cfg.minibatches):
            if mb.size == 0:
                continue
            A_mb = (adv[mb] - adv[mb].mean()) / (adv[mb].std() + 1e-8)
            g = clipped_surrogate_gradient(theta, s[mb], a[mb], p_old[mb], A_mb, cfg.clip)
            theta, adam = adam_step(theta, -g, adam, cfg)
    return theta, V, adam


# ----------------------------------------------------------------------------- TRPO-style NPG
@dataclass(frozen=True)
class NPGConfig:
    """``delta``: the trust region on the mean KL (TRPO's ``max_kl``); ``damping``: the Fisher's
    Tikhonov damping (0 lets near-deterministic states take unbounded logit steps, whose sample
    KL is ~0 until the action flips: final J fell to 0.67 J* on a grid seed; 1e-2 slowed the
    grid to 0.99 J* from 450 to 750 trajectories); ``backtracks``: halvings of the step."""

    delta: float = 0.05
    lam: float = 0.95
    damping: float = 1e-3
    backtracks: int = 10


def fisher_solve(pi, s, g, damping: float) -> np.ndarray:
    """Solve :math:`(F + \\lambda I) x = g` block by block; ``pi, g (S, A)``, ``s`` the sampled states.

    :math:`F = \\frac1N\\sum_i \\mathbb E_{a\\sim\\pi(\\cdot|s_i)}[\\nabla\\log\\pi\\nabla\\log\\pi^\\top]`
    is block diagonal with blocks :math:`c_s(\\mathrm{diag}\\,\\pi_s - \\pi_s\\pi_s^\\top)`,
    :math:`c_s` the fraction of samples at ``s`` (Kakade 2001 §3 for the tabular softmax);
    :math:`\\lambda` is TRPO's damping.  With :math:`\\lambda = 0` the pseudo-inverse (the
    minimum-norm solution; ``g`` sums to 0 in each block, so it lies in the range of ``F``).
    Shapes: blocks ``(S, A, A)``, result ``(S, A)``.
    """
    S, A = pi.shape
    c = np.bincount(s, minlength=S) / s.size
    F = c[:, None, None] * (pi[:, :, None] * np.eye(A) - pi[:, :, None] * pi[:, None, :]) + damping * np.eye(A)
    return (np.linalg.pinv(F, hermitian=True) @ g[:, :, None])[:, :, 0]


def mean_kl(theta_old, theta_new, s) -> float:
    """:math:`\\frac1N\\sum_i KL(\\pi_{old}(\\cdot|s_i)\\,\\|\\,\\pi_{new}(\\cdot|s_i))` (TRPO's mean KL), from
    logits."""
    log_old = log_softmax(theta_old)
    kl = (np.exp(log_old) * (log_old - log_softmax(theta_new))).sum(axis=1)
    return float(kl[s].mean())


def npg_iteration(theta, V, batch: Batch, gamma: float, cfg: NPGConfig):
    """One TRPO-style step: returns ``(theta, V, kl)``; ``kl`` is the accepted step's sample KL
    (0.0 with a ``RuntimeWarning`` when no step passed the line search)."""
    adv_all = gae(batch, V, gamma, cfg.lam)
    m = batch.alive
    s, a, adv = batch.s[m], batch.a[m], adv_all[m]
    V = fit_critic(V, s, adv + V[s])
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    pi = softmax(theta)
    g = clipped_surrogate_gradient(theta, s, a, pi[s, a], adv, np.inf)
    x = fisher_solve(pi, s, g, cfg.damping)
    gFg = float((g * x).sum())
    if not gFg > 0:
        warnings.warn("NPG reference: zero natural gradient, no step", RuntimeWarning, stacklevel=2)
        return theta, V, 0.0
    full = np.sqrt(2 * cfg.delta / gFg) * x
    surrogate_old = adv.mean()
    for k in range(cfg.backtracks):
        cand = theta + 0.5 ** k * full
        pi_new = softmax(cand)
        kl = mean_kl(theta, cand, s)
        if kl <= cfg.delta and (pi_new[s, a] / pi[s, a] * adv).mean() > surrogate_old:
            return cand, V, kl
    warnings.warn("NPG reference: line search rejected every step", RuntimeWarning, stacklevel=2)
    return theta, V, 0.0


# ----------------------------------------------------------------------------- runs
@dataclass(frozen=True, eq=False)
class ReferenceHistory:
    """Exact ``J (T+1,)`` of every iterate and the trajectories used before it ``(T+1,)``;
    ``kl (T,)`` the NPG steps' sample KL (empty for PPO)."""

    J: np.ndarray
    trajectories: np.ndarray
    kl: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def trajectories_to(self, level: float) -> int | None:
        """Trajectories consumed until ``J >= level`` was first reached, or None."""
        hit = np.flatnonzero(self.J >= level)
        return int(self.trajectories[hit[0]]) if hit.size else None


def run_reference(kind: str, mdp, rng: np.random.Generator, n: int = 50, budget: int = 10_000,
                  config=None) -> ReferenceHistory:
    """Run the reference ``kind`` ("PPO" or "NPG") for ``budget // n`` iterations of ``n`` trajectories."""
    if kind not in ("PPO", "NPG"):
        raise ValueError(f"kind must be 'PPO' or 'NPG'; got {kind!r}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    tab = tables(mdp)
    cfg = config if config is not None else (PPOConfig() if kind == "PPO" else NPGConfig())
    S, A = mdp.n_states, mdp.n_actions
    theta, V = np.zeros((S, A)), np.zeros(S)
    adam = Adam(np.zeros((S, A)), np.zeros((S, A)))
    J, kls = [tpg.evaluate(mdp, softmax(theta)).J], []
    for _ in range(budget // n):
        batch = sample(tab, softmax(theta), n, rng)
        if kind == "PPO":
            theta, V, adam = ppo_iteration(theta, V, adam, batch, tab.gamma, cfg, rng)
        else:
            theta, V, kl = npg_iteration(theta, V, batch, tab.gamma, cfg)
            kls.append(kl)
        J.append(tpg.evaluate(mdp, softmax(theta)).J)
    return ReferenceHistory(np.array(J), n * np.arange(len(J)), np.array(kls))


def main(argv=None) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sample_efficiency import benchmark_mdps
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, 2,000 trajectories")
    args = parser.parse_args(argv)
    seeds, budget = (range(2), 2000) if args.quick else (range(5), 10_000)
    for name, mdp in benchmark_mdps().items():
        J_star = tpg.optimum(mdp).J
        for kind in ("PPO", "NPG"):
            hs = [run_reference(kind, mdp, np.random.default_rng(seed), budget=budget) for seed in seeds]
            to = [[h.trajectories_to(f * J_star) for h in hs] for f in (0.9, 0.99)]
            print(f"{name:>11} {kind}: to 0.9 J* {to[0]}, to 0.99 J* {to[1]}, "
                  f"final J/J* {[round(h.J[-1] / J_star, 4) for h in hs]}", flush=True)


if __name__ == "__main__":
    main()
