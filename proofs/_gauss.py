"""Exact Gaussian expectations of polynomials (through the moments of N(0, 1)).

Examples
--------
>>> import sympy as sp
>>> x, mu = sp.Symbol("x", real=True), sp.Symbol("mu", real=True)
>>> gaussian_expectation(x**2, x, mu, 1)
mu**2 + 1
"""

from __future__ import annotations

from functools import cache

import sympy as sp


def standard_normal_moment(k: int) -> sp.Integer:
    """``E[u^k]`` for ``u ~ N(0, 1)``: ``(k-1)!!`` for even ``k``, 0 for odd."""
    return sp.Integer(0) if k % 2 else sp.factorial2(k - 1)


@cache
def raw_moment(k: int, mu, sigma) -> sp.Expr:
    """``E[x^k]`` for ``x ~ N(mu, sigma^2)``: ``sum_j C(k, j) mu^(k-j) sigma^j E[u^j]`` (binomial expansion)."""
    return sp.expand(
        sum(sp.binomial(k, j) * mu ** (k - j) * sigma**j * standard_normal_moment(j) for j in range(k + 1))
    )


def gaussian_expectation(g, x, mu, sigma) -> sp.Expr:
    """``E_{x ~ N(mu, sigma^2)}[g(x)]`` for a polynomial ``g`` in ``x`` (its coefficients may hold other symbols)."""
    poly = sp.Poly(sp.expand(sp.sympify(g)), x)
    return sp.expand(sum(c * raw_moment(k, mu, sigma) for (k,), c in poly.terms()))


def isotropic_expectation(g, xs, mus, sigma) -> sp.Expr:
    """``E_{x ~ N(mu, sigma^2 I)}[g(x)]`` for a polynomial ``g`` in the coordinates ``xs``.

    The coordinates are independent, so the expectation is taken one coordinate at a time.

    >>> x, y = sp.symbols("x y", real=True)
    >>> isotropic_expectation(x**2 * y**2, (x, y), (0, 0), 1)
    1
    """
    for xi, mi in zip(xs, mus):
        g = gaussian_expectation(g, xi, mi, sigma)
    return g


def gaussian_density(x, mu, sigma) -> sp.Expr:
    """The density of ``N(mu, sigma^2)`` at ``x``."""
    return sp.exp(-((x - mu) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2)


def gaussian_log_ratio(x, mu1, mu2, sigma) -> sp.Expr:
    """``log N(x; mu1, sigma^2) - log N(x; mu2, sigma^2)``, expanded to a polynomial in x."""
    ratio = gaussian_density(x, mu1, sigma) / gaussian_density(x, mu2, sigma)
    return sp.expand(sp.expand_log(sp.log(ratio), force=True))
