"""Files and interop: JSON / ``.npz`` MDP files (:mod:`~tabular_pg.io.files`, schema there)
and conversion to and from gymnasium and pymdptoolbox (:mod:`~tabular_pg.io.interop`).

Examples
--------
>>> import numpy as np, tempfile, pathlib
>>> import tabular_pg as tpg
>>> mdp = tpg.FiniteMDP(np.ones((1, 1, 1)), [[1.0]], [1.0], gamma=0.5)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "one.npz"
>>> tpg.io.save(mdp, path); tpg.io.load(path).gamma
0.5
"""
from tabular_pg.io.files import NamedMDP, load, load_named, load_policy, save
from tabular_pg.io.interop import from_gymnasium, from_pymdptoolbox, to_gymnasium, to_pymdptoolbox

__all__ = ["NamedMDP", "load", "load_named", "save", "load_policy", "from_gymnasium", "to_gymnasium",
           "from_pymdptoolbox", "to_pymdptoolbox"]
