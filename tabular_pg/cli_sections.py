"""Sections of the tour beyond the exact quantities (internal): the value polytope,
estimators against the exact gradient, algorithms head to head, the proofs summary.

:func:`available` lists the sections whose modules are installed.
"""
from __future__ import annotations

from pathlib import Path

from .report import Section, Setting, dadashi_mdp, module_available

__all__ = ["available", "polytope_section"]


def polytope_section(setting: Setting, out: Path, show: bool, paths: dict | None = None) -> Section:
    """The value polytope of Dadashi et al.'s two-state MDP, with algorithm paths if given."""
    from . import plots
    mdp = dadashi_mdp()
    plots.value_polytope(mdp, out / "value_polytope.png", paths=paths,
                         title="value polytope (Dadashi et al. 2019, Fig. 2d)")
    figure = {"file": "value_polytope.png", "caption": "value polytope with policy paths"}
    text = ("V^pi of random policies of a two-state MDP (Dadashi et al. 2019, Fig. 2d); "
            + (f"paths of {', '.join(paths)} from the same start" if paths else "the squares are the deterministic policies"))
    return Section("Value polytope", [text], f"{text}.\n\n![{figure['caption']}]({figure['file']})",
                   {"paths": sorted(paths or {})}, [figure])


def available() -> list:
    """``(name, section)`` pairs of the sections whose modules are installed."""
    sections = []
    if module_available("matplotlib"):
        sections.append(("polytope", polytope_section))
    return sections
