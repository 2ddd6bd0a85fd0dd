"""The value polytope of a two-state MDP (Dadashi et al. 2019, "The Value Function Polytope
in Reinforcement Learning"), with the paths of exact PG and NPG across it.

Evaluates 5,000 random policies at once (``evaluate_batch``), checks that the optimal value
function dominates every one of them state by state (V* ≥ V^π, the defining property of the
optimum), and draws the set of (V(s0), V(s1)) with the four deterministic policies and the
iterates of policy gradient and natural policy gradient from the same start.

Run:  python examples/value_polytope.py [OUT.png]     (the figure needs the `plot` extra)
"""
import sys

import numpy as np

import tabular_pg as tpg

P = np.array([[[0.7, 0.3], [0.2, 0.8]],
              [[0.99, 0.01], [0.1, 0.9]]])           # (S, A, S)
R = np.array([[-0.45, -0.1], [0.5, 0.5]])            # (S, A)   (Dadashi et al. 2019, Fig. 2 style)


def main(out: str | None = None, n_policies: int = 5000) -> dict:
    mdp = tpg.FiniteMDP(P, R, mu=[0.5, 0.5], gamma=0.9)
    rng = np.random.default_rng(0)
    p = rng.uniform(size=(n_policies, 2))
    pis = np.stack([p, 1 - p], axis=-1)               # (B, S, A)
    V = tpg.evaluate_batch(mdp, pis).V                 # (B, S)
    opt = tpg.optimum(mdp)
    gap = float((V - opt.V).max())                     # <= 0 up to round-off
    policy = tpg.TabularSoftmax(2, 2)
    theta0 = np.array([3.0, 0.0, 3.0, 0.0])            # start near the worst corner, (0, 0)
    algorithms = {"PG": tpg.PolicyGradient(step=0.5), "NPG": tpg.NaturalPolicyGradient(delta=0.05)}
    paths = {name: tpg.run(alg, mdp, policy, theta0, tpg.ExactOracle(mdp), iterations=60)
             for name, alg in algorithms.items()}
    print(f"{n_policies} random policies; V* = {np.round(opt.V, 4)}; max_pi max_s (V^pi - V*)(s) = {gap:.1e}")
    for name, hist in paths.items():
        print(f"{name}: J from {hist.J[0]:.4f} to {hist.J[-1]:.4f} (J* = {opt.J:.4f}) in {len(hist.J) - 1} steps")
    if out:
        draw(mdp, V, paths, out)
        print(f"wrote {out}")
    return {"gap": gap, "J_star": float(opt.J), **{k: float(h.J[-1]) for k, h in paths.items()}}


def draw(mdp, V, paths, out: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    ax.scatter(V[:, 0], V[:, 1], s=2, color="0.75", label="random policies")
    for a0 in range(2):
        for a1 in range(2):
            v = tpg.evaluate(mdp, np.eye(2)[[a0, a1]]).V
            ax.plot(*v, "k^", ms=6)
            ax.annotate(f"({a0},{a1})", v, textcoords="offset points", xytext=(4, 4), fontsize=8)
    for (name, hist), style in zip(paths.items(), ["o-", "s--"]):
        Vs = np.array([tpg.evaluate(mdp, pi).V for pi in hist.pi])
        ax.plot(Vs[:, 0], Vs[:, 1], style, ms=3, label=name)
    ax.set(xlabel="V(s0)", ylabel="V(s1)", title="value polytope; triangles: deterministic policies (a(s0), a(s1))")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
