"""FiniteMDP: validation at the boundary, immutability, structure queries."""
import numpy as np
import pytest
import scipy.sparse as sp

import tabular_pg as tpg


def good():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    return dict(P=P, R=np.zeros((2, 2)), mu=np.array([0.5, 0.5]), gamma=0.9)


def with_(**kw):
    args = good()
    args.update(kw)
    return args


def P_row_off():
    P = good()["P"].copy()
    P[1, 0, 0] = 0.9
    return P


def P_negative():
    P = good()["P"].copy()
    P[0, 1, :] = [-0.5, 1.5]
    return P


def P_nan():
    P = good()["P"].copy()
    P[0, 0, 1] = np.nan
    return P


BAD = [
    (with_(P=P_row_off()), ValueError, r"row \(s=1, a=0\) sums to 0.9"),
    (with_(P=np.zeros((2, 2, 2))), ValueError, r"rows must sum to 1"),
    (with_(P=P_negative()), ValueError, r"P must be non-negative; found -0.5"),
    (with_(P=P_nan()), ValueError, r"P must be finite"),
    (with_(P=np.ones((2, 2, 3)) / 3), ValueError, r"P must have shape \(S, A, S\)"),
    (with_(R=np.zeros((3, 2))), ValueError, r"R must have shape \(S, A\)"),
    (with_(R=np.array([[0, np.inf], [0, 0]])), ValueError, r"R must be finite"),
    (with_(mu=np.array([0.5, 0.6])), ValueError, r"mu must sum to 1"),
    (with_(mu=np.array([1.5, -0.5])), ValueError, r"mu must be non-negative"),
    (with_(mu=np.array([1.0])), ValueError, r"mu must have shape \(S,\)"),
    (with_(gamma=1.5), ValueError, r"gamma must lie in \[0, 1\]"),
    (with_(gamma=-0.1), ValueError, r"gamma must lie in \[0, 1\]"),
    (with_(gamma="x"), TypeError, r"gamma must be a real number"),
    (dict(good(), horizon=0), ValueError, r"horizon must be None or an int >= 1"),
    (dict(good(), horizon=2.5), TypeError, r"horizon must be None or an int"),
    (with_(P=sp.csr_matrix(np.ones((3, 2)) / 2)), ValueError, r"sparse P must have shape \(S\*A, S\)"),
]


@pytest.mark.parametrize("kwargs, exc, match", BAD)
def test_bad_input_is_rejected_with_a_message_naming_it(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        tpg.FiniteMDP(**kwargs)


def test_arrays_are_read_only_and_the_mdp_frozen():
    mdp = tpg.FiniteMDP(**good())
    for arr in (mdp.P, mdp.R, mdp.mu):
        with pytest.raises(ValueError):
            arr[0] = 1.0
    with pytest.raises(AttributeError):
        mdp.gamma = 0.5


def test_caller_arrays_are_copied():
    args = good()
    mdp = tpg.FiniteMDP(**args)
    args["mu"][0] = 7.0
    assert mdp.mu[0] == 0.5


def test_sas_rewards_reduce_to_expected_rewards(rng):
    S, A = 3, 2
    P = rng.random((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    R3 = rng.normal(size=(S, A, S))
    mdp = tpg.FiniteMDP(P, R3, np.ones(S) / S, gamma=0.5)
    expected = np.array([[P[s, a] @ R3[s, a] for a in range(A)] for s in range(S)])
    np.testing.assert_allclose(mdp.R, expected, rtol=1e-12, atol=1e-15)
    sparse = tpg.FiniteMDP(sp.csr_matrix(P.reshape(S * A, S)), R3, np.ones(S) / S, gamma=0.5)
    np.testing.assert_allclose(sparse.R, expected, rtol=1e-12, atol=1e-15)


def test_sparse_and_dense_forms_describe_the_same_mdp(rng):
    P = rng.random((4, 3, 4))
    P /= P.sum(axis=2, keepdims=True)
    dense = tpg.FiniteMDP(P, np.ones((4, 3)), np.ones(4) / 4, gamma=0.9)
    sparse = tpg.FiniteMDP(sp.csr_matrix(P.reshape(12, 4)), np.ones((4, 3)), np.ones(4) / 4, gamma=0.9)
    assert sparse.is_sparse and not dense.is_sparse
    assert (sparse.n_states, sparse.n_actions) == (dense.n_states, dense.n_actions) == (4, 3)
    np.testing.assert_array_equal(sparse.P_sa.toarray(), dense.P_sa)


def test_structure_queries():
    # 0 -> 1 -> 2 (absorbing, zero reward); 3 is absorbing with reward; 4 unreachable
    S, A = 5, 2
    P = np.zeros((S, A, S))
    P[0, 0, 1] = 1
    P[0, 1, 0] = 1
    P[1, :, 2] = 1
    P[2, :, 2] = 1
    P[3, :, 3] = 1
    P[4, :, 3] = 1
    R = np.zeros((S, A))
    R[3] = 1.0
    mdp = tpg.FiniteMDP(P, R, np.array([1.0, 0, 0, 0, 0]), gamma=1.0)
    assert mdp.absorbing_states().tolist() == [2, 3]
    assert mdp.terminal_states().tolist() == [2]
    assert mdp.reachable_states().tolist() == [0, 1, 2]
    stay = np.array([[0.0, 1.0]] + [[0.5, 0.5]] * 4)
    assert mdp.reachable_states(stay).tolist() == [0]
    assert set(mdp.support_graph().edges) >= {(0, 1), (0, 0), (1, 2), (4, 3)}


def test_finite_horizon_is_the_horizon_or_a_clear_error():
    assert tpg.FiniteMDP(**good(), horizon=3).finite_horizon == 3
    with pytest.raises(ValueError, match=r"needs a finite-horizon MDP; got horizon=None"):
        _ = tpg.FiniteMDP(**good()).finite_horizon


def test_with_replaces_and_revalidates():
    mdp = tpg.FiniteMDP(**good())
    assert mdp.with_(horizon=3).horizon == 3
    with pytest.raises(ValueError, match="gamma must lie"):
        mdp.with_(gamma=2.0)
    with pytest.raises(TypeError, match="unknown fields"):
        mdp.with_(discount=0.5)


def test_with_works_on_sparse_mdps(rng):
    P = rng.random((4, 2, 4))
    P /= P.sum(axis=2, keepdims=True)
    mdp = tpg.FiniteMDP(sp.csr_matrix(P.reshape(8, 4)), np.ones((4, 2)), np.ones(4) / 4, gamma=0.9)
    other = mdp.with_(gamma=0.5)
    assert other.is_sparse and other.gamma == 0.5
    np.testing.assert_array_equal(other.P_sa.toarray(), mdp.P_sa.toarray())
