"""Bounded nonlinear least squares for small problems: scipy's trust-region reflective
method (``scipy.optimize.least_squares(method="trf")``, linear loss, exact trust-region
solver) step for step, without its per-iteration wrappers and checks.

On a four-parameter fit most of scipy's time is those wrappers; this port does the same
floating-point operations in the same order (the same LAPACK SVD), so it returns the same
iterates and the same solution, bit for bit, in about half the time.
``tests/ml/test_trust_region.py`` checks it against scipy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

#: LAPACK's divide-and-conquer SVD, the one scipy.linalg.svd calls, without its checks.
_GESDD, _GESDD_LWORK = linalg.get_lapack_funcs(("gesdd", "gesdd_lwork"), (np.empty((1, 1)),),
                                               ilp64="preferred")


@dataclass(frozen=True)
class LeastSquaresFit:
    """A least-squares solution: parameters, half the sum of squares, residuals, Jacobian."""

    x: NDArray[np.float64]
    cost: float
    fun: NDArray[np.float64]
    jac: NDArray[np.float64]


def trust_region_reflective(residual: Callable[[NDArray], NDArray],
                             jacobian: Callable[[NDArray], NDArray], x0: NDArray[np.float64],
                             lb: NDArray[np.float64], ub: NDArray[np.float64],
                             x_scale: NDArray[np.float64], tol: float = 1e-8) -> LeastSquaresFit:
    """scipy 1.17's ``trf_bounds`` (linear loss, exact trust-region solver) step for step,
    floating-point operation for operation, without its per-iteration wrappers and checks
    (about a third of the time on four parameters): the same iterates, the same result."""
    x = _strictly_feasible(x0, lb, ub, 1e-10)
    f = residual(x)
    if not np.all(np.isfinite(f)):
        raise ValueError("Residuals are not finite in the initial point.")
    jac = jacobian(x)
    m, n = jac.shape
    cost = 0.5 * np.dot(f, f)
    g = jac.T.dot(f)
    scale_inv = 1 / x_scale
    v, dv = _coleman_li(x, g, lb, ub)
    v[dv != 0] *= scale_inv[dv != 0]
    delta = _norm(x * scale_inv / v**0.5) or 1.0
    augmented = np.empty((m + n, n))
    work, info = _GESDD_LWORK(m + n, n, compute_uv=1, full_matrices=0)
    lwork = int(work.real)  # as scipy.linalg.svd asks for it: the same blocking, same bits
    uf_augmented = np.zeros(m + n)
    alpha, nfev, max_nfev, status = 0.0, 1, 100 * n, None
    while True:
        v, dv = _coleman_li(x, g, lb, ub)
        g_norm = np.max(np.abs(g * v))
        if g_norm < tol:
            status = 1
        if status is not None or nfev == max_nfev:
            break
        v[dv != 0] *= scale_inv[dv != 0]
        d = v**0.5 * x_scale
        diag_h = g * dv * x_scale
        g_h = d * g
        uf_augmented[:m] = f
        augmented[:m] = jac * d
        jac_h = augmented[:m]
        augmented[m:] = np.diag(diag_h**0.5)
        if not np.all(np.isfinite(augmented)):
            raise ValueError("array must not contain infs or NaNs")
        u, s, vt, info = _GESDD(augmented, compute_uv=1, lwork=lwork, full_matrices=0)
        if info != 0:
            raise np.linalg.LinAlgError("SVD did not converge")
        uf = u.T.dot(uf_augmented)
        theta = max(0.995, 1 - g_norm)
        reduction = -1.0
        while reduction <= 0 and nfev < max_nfev:
            p_h, alpha = _trust_region_step(n, m, uf, s, vt.T, delta, alpha)
            step, step_h, predicted = _select_step(x, jac_h, diag_h, g_h, d * p_h, p_h, d,
                                                   delta, lb, ub, theta)
            x_new = _strictly_feasible(x + step, lb, ub, 0.0)
            f_new = residual(x_new)
            nfev += 1
            step_h_norm = _norm(step_h)
            if not np.all(np.isfinite(f_new)):
                delta = 0.25 * step_h_norm
                continue
            cost_new = 0.5 * np.dot(f_new, f_new)
            reduction = cost - cost_new
            ratio = (reduction / predicted if predicted > 0
                     else 1 if predicted == reduction == 0 else 0)
            new_delta = delta
            if ratio < 0.25:
                new_delta = 0.25 * step_h_norm
            elif ratio > 0.75 and step_h_norm > 0.95 * delta:
                new_delta *= 2.0
            ftol_met = reduction < tol * cost and ratio > 0.25
            xtol_met = _norm(step) < tol * (tol + _norm(x))
            if ftol_met or xtol_met:
                status = 4 if ftol_met and xtol_met else 2 if ftol_met else 3
                break
            alpha *= delta / new_delta
            delta = new_delta
        if reduction > 0:
            x, f, cost = x_new, f_new, cost_new
            jac = jacobian(x)
            g = jac.T.dot(f)
    return LeastSquaresFit(x, float(cost), f.copy(), jac)


def _norm(x: NDArray[np.float64]) -> float:
    return float(np.sqrt(x.dot(x)))


def _coleman_li(x: NDArray, g: NDArray, lb: NDArray, ub: NDArray) -> tuple[NDArray, NDArray]:
    """The Coleman–Li scaling vector and its derivative (bounds finite)."""
    v, dv = np.ones_like(x), np.zeros_like(x)
    mask = g < 0
    v[mask], dv[mask] = ub[mask] - x[mask], -1
    mask = g > 0
    v[mask], dv[mask] = x[mask] - lb[mask], 1
    return v, dv


def _strictly_feasible(x: NDArray, lb: NDArray, ub: NDArray, rstep: float) -> NDArray:
    """``x`` moved off its bounds by ``rstep`` (relative; one ulp when 0)."""
    out = x.copy()
    if rstep == 0:
        upper = x >= ub
        lower = (x <= lb) & ~upper
        out[lower] = np.nextafter(lb[lower], ub[lower])
        out[upper] = np.nextafter(ub[upper], lb[upper])
    else:
        lower_dist, upper_dist = x - lb, ub - x
        upper = upper_dist <= np.minimum(lower_dist, rstep * np.maximum(1, np.abs(ub)))
        lower = ~upper & (lower_dist <= np.minimum(upper_dist,
                                                   rstep * np.maximum(1, np.abs(lb))))
        out[lower] = lb[lower] + rstep * np.maximum(1, np.abs(lb[lower]))
        out[upper] = ub[upper] - rstep * np.maximum(1, np.abs(ub[upper]))
    tight = (out < lb) | (out > ub)
    out[tight] = 0.5 * (lb[tight] + ub[tight])
    return out


def _trust_region_step(n: int, m: int, uf: NDArray, s: NDArray, v: NDArray, delta: float,
                       alpha: float) -> tuple[NDArray, float]:
    """The step within ``delta`` and its Levenberg–Marquardt parameter, from the SVD
    (``u.T f``, singular values, ``V``): Moré's root finding, at most 10 iterations."""
    suf = s * uf
    full_rank = m >= n and s[-1] > np.finfo(float).eps * m * s[0]
    if full_rank:
        p = -v.dot(uf / s)
        if _norm(p) <= delta:
            return p, 0.0

    def phi_and_derivative(alpha: float) -> tuple[float, float]:
        denom = s**2 + alpha
        p_norm = _norm(suf / denom)
        return p_norm - delta, -np.sum(suf**2 / denom**3) / p_norm

    upper = _norm(suf) / delta
    lower = 0.0
    if full_rank:
        phi, phi_prime = phi_and_derivative(0.0)
        lower = -phi / phi_prime
    if not full_rank and alpha == 0:
        alpha = max(0.001 * upper, (lower * upper) ** 0.5)
    for _ in range(10):
        if alpha < lower or alpha > upper:
            alpha = max(0.001 * upper, (lower * upper) ** 0.5)
        phi, phi_prime = phi_and_derivative(alpha)
        if phi < 0:
            upper = alpha
        ratio = phi / phi_prime
        lower = max(lower, alpha - ratio)
        alpha -= (phi + delta) * ratio / delta
        if np.abs(phi) < 0.01 * delta:
            break
    p = -v.dot(suf / (s**2 + alpha))
    p *= delta / _norm(p)
    return p, alpha


def _select_step(x: NDArray, jac_h: NDArray, diag_h: NDArray, g_h: NDArray, p: NDArray,
                 p_h: NDArray, d: NDArray, delta: float, lb: NDArray, ub: NDArray,
                 theta: float) -> tuple[NDArray, NDArray, float]:
    """The best of the trust-region step (cut at the bound), its reflection off the bound
    and the scaled gradient step: (step, step in scaled variables, predicted reduction)."""
    if np.all((x + p >= lb) & (x + p <= ub)):
        return p, p_h, -_quadratic(jac_h, g_h, p_h, diag_h)
    p_stride, hits = _step_to_bound(x, p, lb, ub)
    r_h = np.copy(p_h)
    r_h[hits.astype(bool)] *= -1
    r = d * r_h
    p *= p_stride
    p_h *= p_stride
    x_on_bound = x + p
    to_tr = _to_trust_region(p_h, r_h, delta)
    to_bound, _ = _step_to_bound(x_on_bound, r, lb, ub)
    r_stride = min(to_bound, to_tr)
    if r_stride > 0:
        r_stride_l = (1 - theta) * p_stride / r_stride
        r_stride_u = theta * to_bound if r_stride == to_bound else to_tr
    else:
        r_stride_l, r_stride_u = 0, -1
    if r_stride_l <= r_stride_u:
        a, b, c = _line_quadratic(jac_h, g_h, r_h, diag_h, p_h)
        r_stride, r_value = _minimize_on_segment(a, b, r_stride_l, r_stride_u, c)
        r_h *= r_stride
        r_h += p_h
        r = r_h * d
    else:
        r_value = np.inf
    p *= theta
    p_h *= theta
    p_value = _quadratic(jac_h, g_h, p_h, diag_h)
    ag_h = -g_h
    ag = d * ag_h
    to_tr = delta / _norm(ag_h)
    to_bound, _ = _step_to_bound(x, ag, lb, ub)
    ag_stride = theta * to_bound if to_bound < to_tr else to_tr
    a, b = _line_quadratic(jac_h, g_h, ag_h, diag_h)
    ag_stride, ag_value = _minimize_on_segment(a, b, 0, ag_stride)
    ag_h *= ag_stride
    ag *= ag_stride
    if p_value < r_value and p_value < ag_value:
        return p, p_h, -p_value
    if r_value < p_value and r_value < ag_value:
        return r, r_h, -r_value
    return ag, ag_h, -ag_value


def _quadratic(jac: NDArray, g: NDArray, s: NDArray, diag: NDArray) -> float:
    """0.5 sᵀ(JᵀJ + diag)s + gᵀs."""
    js = jac.dot(s)
    return 0.5 * (np.dot(js, js) + np.dot(s * diag, s)) + np.dot(s, g)


def _line_quadratic(jac: NDArray, g: NDArray, s: NDArray, diag: NDArray,
                    s0: NDArray | None = None) -> tuple[float, ...]:
    """Coefficients (a, b[, c]) of :func:`_quadratic` along ``s0 + s·t``."""
    v = jac.dot(s)
    a = np.dot(v, v)
    a += np.dot(s * diag, s)
    a *= 0.5
    b = np.dot(g, s)
    if s0 is None:
        return a, b
    u = jac.dot(s0)
    b += np.dot(u, v)
    c = 0.5 * np.dot(u, u) + np.dot(g, s0)
    b += np.dot(s0 * diag, s)
    c += 0.5 * np.dot(s0 * diag, s0)
    return a, b, c


def _minimize_on_segment(a: float, b: float, lb: float, ub: float,
                         c: float = 0) -> tuple[float, float]:
    """Minimum (t, value) of a·t² + b·t + c over [lb, ub]."""
    t = [lb, ub]
    if a != 0 and lb < -0.5 * b / a < ub:
        t.append(-0.5 * b / a)
    values = np.asarray(t)
    y = values * (a * values + b) + c
    best = np.argmin(y)
    return values[best], y[best]


def _step_to_bound(x: NDArray, s: NDArray, lb: NDArray, ub: NDArray) -> tuple[float, NDArray]:
    """Smallest step along ``s`` to a bound, and which bounds it reaches (−1, 0, 1)."""
    nonzero = np.nonzero(s)
    steps = np.full_like(x, np.inf)
    with np.errstate(over="ignore"):
        steps[nonzero] = np.maximum((lb - x)[nonzero] / s[nonzero],
                                    (ub - x)[nonzero] / s[nonzero])
    min_step = np.min(steps)
    return min_step, np.equal(steps, min_step) * np.sign(s).astype(int)


def _to_trust_region(x: NDArray, s: NDArray, delta: float) -> float:
    """Positive t with ‖x + s·t‖ = delta."""
    a, b = np.dot(s, s), np.dot(x, s)
    c = np.dot(x, x) - delta**2
    q = -(b + math.copysign(np.sqrt(b * b - a * c), b))
    return max(q / a, c / q)


__all__ = ["LeastSquaresFit", "trust_region_reflective"]
