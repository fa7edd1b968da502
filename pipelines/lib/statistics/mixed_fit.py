"""A fast REML fit of the linear mixed model with one grouping factor and q ≤ 2 random effects.

    y_i = X_i β + Z_i b_i + e_i,   b_i ~ N(0, σ² Λ Λ'),   e_i ~ N(0, σ² I),   i = 1 … G groups

This is lme4's formulation (Bates et al. 2015, "Fitting linear mixed-effects models using
lme4", JSS 67(1)): Λ is the lower-triangular *relative* Cholesky factor of the random-effects
covariance, θ its non-zero entries, and σ² is profiled out of the REML criterion, so the
optimiser only sees θ (1 parameter for a random intercept, 3 for intercept + slope).

Why not statsmodels' MixedLM: it loops over groups in Python at every likelihood evaluation
and is minutes slower at 10,000 people. Here everything the likelihood needs is reduced once
to per-group sufficient statistics — Z_i'Z_i (q×q), Z_i'X_i (q×p), Z_i'y_i (q) — plus the
global X'X, X'y, y'y. With M_i = I + Λ'Z_i'Z_iΛ (Woodbury),

    σ² X'V⁻¹X = X'X − Σ_i (Λ'Z_i'X_i)' M_i⁻¹ (Λ'Z_i'X_i)      (likewise X'V⁻¹y, y'V⁻¹y)
    log|V/σ²| = Σ_i log|M_i|

so one evaluation costs O(G·q²·p²) numpy work, batched over groups — independent of the number
of rows (the rows are read once, with ``np.add.reduceat``). The profiled REML deviance (lme4's
``REMLcrit``) is

    d(θ) = Σ_i log|M_i| + log|A(θ)| + (N−p)·(1 + log(2π r²(θ)/(N−p)))

with A = σ² X'V⁻¹X, r² the penalised residual sum of squares; σ̂² = r²/(N−p),
β̂ = A⁻¹ X'V⁻¹y·σ², Cov(β̂) = σ̂² A⁻¹.

θ is optimised by L-BFGS-B with the analytic gradient (``_GroupStats.gradient``; bounds: the
diagonal of Λ ≥ 0). The criterion is even in each diagonal entry of Λ, so a zero diagonal is
always stationary; a fit that stops there is probed from inside and restarted when that is
lower. Convergence is judged as lme4 does (gradient scaled by the Hessian's Cholesky factor
< 0.002) and a fit is *singular* when a diagonal entry of Λ is < 1e-4 (lme4's isSingular).

Degrees of freedom for t-based CIs and p-values: Satterthwaite (as lmerTest), from the
numerical Hessian of the (unprofiled) REML deviance in (θ, σ) and the numerical gradient of
Var(β̂_j) in the same parameters.

Person-level (conditional) effects: the BLUPs û_i = M_i⁻¹Λ'Z_i'(y_i − X_iβ̂), b̂_i = Λû_i, with
the prediction-error variance of c'β̂ + d'b̂_i from the inverse of Henderson's mixed-model
equations — it includes the uncertainty of β̂, not only the conditional variance of b_i.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

LOG_2PI = float(np.log(2 * np.pi))
SINGULAR_TOL = 1e-4  # lme4's isSingular(): a diagonal element of Λ below this is on the boundary


class _GroupStats:
    """Per-group sufficient statistics of (y, X, Z); the rows are not kept."""

    def __init__(self, y: np.ndarray, X: np.ndarray, Z: np.ndarray, codes: np.ndarray):
        order = np.argsort(codes, kind="stable")
        codes = codes[order]
        y, X, Z = y[order], X[order], Z[order]
        n = y.shape[0]
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        self.codes = codes[starts]  # the group code of each group, ascending
        self.n_per_group = np.diff(np.r_[starts, n])
        self.n, self.p, self.q, self.g = n, X.shape[1], Z.shape[1], starts.size
        # [X | y] per group, projected on Z: Z_i'[X_i y_i] -> (G, q, p+1)
        Xy = np.column_stack([X, y])
        self.ZtXy = np.empty((self.g, self.q, self.p + 1))
        for a in range(self.q):
            self.ZtXy[:, a, :] = np.add.reduceat(Z[:, a, None] * Xy, starts, axis=0)
        self.ZtZ = np.empty((self.g, self.q, self.q))
        for a in range(self.q):
            for b in range(a, self.q):
                self.ZtZ[:, a, b] = self.ZtZ[:, b, a] = np.add.reduceat(Z[:, a] * Z[:, b], starts)
        self.XyXy = Xy.T @ Xy  # global [X y]'[X y]

    def evaluate(self, lam: np.ndarray) -> _Solution:
        """Everything the REML criterion needs at Λ (q×q lower triangular)."""
        p, q, g = self.p, self.q, self.g
        M = lam.T @ self.ZtZ @ lam  # (G, q, q), broadcast over groups
        M[:, range(q), range(q)] += 1.0
        R = lam.T @ self.ZtXy  # Λ'Z_i'[X y]  (G, q, p+1)
        m_inv, logdet_m = _inv_logdet(M)
        S = m_inv @ R
        k = p + 1
        W = self.XyXy - R.reshape(g * q, k).T @ S.reshape(g * q, k)  # σ²[X y]'V⁻¹[X y]
        A, b, yWy = W[:p, :p], W[:p, p], W[p, p]
        chol_a = np.linalg.cholesky(A)
        logdet_a = 2.0 * np.log(np.diag(chol_a)).sum()
        beta = np.linalg.solve(A, b)
        r2 = float(yWy - b @ beta)
        return _Solution(lam, M, m_inv, R, logdet_m, A, logdet_a, beta, max(r2, 1e-300))

    def gradient(self, sol: _Solution) -> np.ndarray:
        """Analytic gradient of the profiled REML deviance in θ (Λ's lower triangle, row-major).

        With S_i = Z_i'Z_i, T_i = Z_i'[X_i y_i], P_i = ΛM_i⁻¹Λ', v = (−β̂, 1) and
        C = [[A⁻¹, 0], [0, 0]] + (N−p)·vv'/r² (from d log|A| and d log r² = v'dWv / r²),
        Q_i = T_i C T_i' and K_i = M_i⁻¹Λ'Q_i(I − P_i S_i), the derivative with respect to
        the Λ entry (r, c) is [Σ_i 2 S_iΛM_i⁻¹ − 2 K_i']_{rc}.
        """
        p, q = self.p, self.q
        lam, m_inv = sol.lam, sol.m_inv
        v = np.r_[-sol.beta, 1.0]
        C = np.zeros((p + 1, p + 1))
        C[:p, :p] = np.linalg.inv(sol.A)
        C += (self.n - p) * np.outer(v, v) / sol.r2
        Q = self.ZtXy @ C @ np.swapaxes(self.ZtXy, 1, 2)  # (G, q, q)
        SL = self.ZtZ @ lam  # S_iΛ
        P = lam @ m_inv @ lam.T  # (G, q, q)
        K = m_inv @ lam.T @ Q @ (np.eye(q) - P @ self.ZtZ)
        G = 2.0 * (SL @ m_inv - np.swapaxes(K, 1, 2)).sum(axis=0)
        return G[_tril(q)]


def _inv_logdet(M: np.ndarray) -> tuple[np.ndarray, float]:
    """Batched inverse and summed log-determinant of SPD matrices; closed form for q ≤ 2."""
    q = M.shape[1]
    if q == 1:
        return 1.0 / M, float(np.log(M).sum())
    if q == 2:
        a, b, d = M[:, 0, 0], M[:, 0, 1], M[:, 1, 1]
        det = a * d - b * b
        inv = np.empty_like(M)
        inv[:, 0, 0], inv[:, 1, 1] = d / det, a / det
        inv[:, 0, 1] = inv[:, 1, 0] = -b / det
        return inv, float(np.log(det).sum())
    chol = np.linalg.cholesky(M)
    return np.linalg.inv(M), float(2.0 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum())


@dataclass
class _Solution:
    lam: np.ndarray
    M: np.ndarray  # (G, q, q) I + Λ'Z_i'Z_iΛ
    m_inv: np.ndarray  # (G, q, q) M_i⁻¹
    R: np.ndarray  # (G, q, p+1) Λ'Z_i'[X_i y_i]
    logdet_m: float
    A: np.ndarray  # σ² X'V⁻¹X
    logdet_a: float
    beta: np.ndarray
    r2: float

    def reml_profiled(self, n: int, p: int) -> float:
        dof = n - p
        return self.logdet_m + self.logdet_a + dof * (1.0 + LOG_2PI + np.log(self.r2 / dof))

    def reml_full(self, sigma: float, n: int, p: int) -> float:
        return (
            self.logdet_m
            + self.logdet_a
            + (n - p) * (LOG_2PI + 2.0 * np.log(sigma))
            + self.r2 / sigma**2
        )


def _tril(q: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tril_indices(q)


def _lam(theta: np.ndarray, q: int) -> np.ndarray:
    lam = np.zeros((q, q))
    lam[_tril(q)] = theta
    return lam


def _diag_positions(q: int) -> np.ndarray:
    rows, cols = _tril(q)
    return np.flatnonzero(rows == cols)


@dataclass
class LmmFit:
    """A fitted model. Arrays over groups follow ``groups`` (ascending group codes)."""

    names: tuple[str, ...]  # fixed-effect columns of X
    random: tuple[str, ...]  # random-effect columns (each one of ``names``)
    beta: np.ndarray
    cov_beta: np.ndarray
    df: np.ndarray  # Satterthwaite denominator df per fixed effect
    sigma2: float  # residual variance
    theta: np.ndarray  # entries of Λ (lower triangle, row-major)
    reml_criterion: float  # lme4's REMLcrit
    converged: bool
    singular: bool
    optimizer_message: str
    n_obs: int
    n_groups: int
    groups: np.ndarray  # group codes, ascending
    n_per_group: np.ndarray
    _stats: _GroupStats = field(repr=False)
    _sol: _Solution = field(repr=False)

    @property
    def lam(self) -> np.ndarray:
        return _lam(self.theta, len(self.random))

    @property
    def re_cov(self) -> np.ndarray:
        """Random-effects covariance σ²ΛΛ' (variances on the diagonal)."""
        return self.sigma2 * self.lam @ self.lam.T

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov_beta))

    def index(self, name: str) -> int:
        return self.names.index(name)

    def t_quantile(self, level: float = 0.95) -> np.ndarray:
        return stats.t.ppf(0.5 + level / 2, self.df)

    def ci(self, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        half = self.t_quantile(level) * self.se
        return self.beta - half, self.beta + half

    @property
    def p_values(self) -> np.ndarray:
        return 2.0 * stats.t.sf(np.abs(self.beta / self.se), self.df)

    def random_effects(self) -> np.ndarray:
        """BLUPs b̂_i (G × q): each group's deviation from the fixed effects."""
        sol, lam = self._sol, self.lam
        resid = sol.R[:, :, -1] - np.einsum("gap,p->ga", sol.R[:, :, :-1], self.beta)
        u = (sol.m_inv @ resid[:, :, None])[:, :, 0]
        return u @ lam.T

    def conditional_coefficient(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Per group: β_name + b_i,name and its prediction-error SD (includes Var β̂).

        With s = Λ'd (d picks ``name`` among the random effects) and c picking it among the
        fixed effects, the PEV of c'β̂ + d'b̂_i from Henderson's inverse is
        σ² [s'M_i⁻¹s + h_i'A⁻¹h_i], h_i = c − (Λ'Z_i'X_i)'M_i⁻¹s.
        """
        j = self.index(name)
        c = np.zeros(len(self.names))
        c[j] = 1.0
        if name not in self.random:  # no random part: every group gets the fixed effect
            g = self.n_groups
            return np.full(g, self.beta[j]), np.full(g, self.se[j])
        k = self.random.index(name)
        est = self.beta[j] + self.random_effects()[:, k]
        d = np.zeros(len(self.random))
        d[k] = 1.0
        s = self.lam.T @ d
        t = self._sol.m_inv @ s  # (G, q): M_i⁻¹ s
        h = c[None, :] - np.einsum("gap,ga->gp", self._sol.R[:, :, :-1], t)
        a_inv = np.linalg.inv(self._sol.A)
        pev = t @ s + np.einsum("gp,pq,gq->g", h, a_inv, h)
        return est, np.sqrt(self.sigma2 * pev)


def fit_lmm(
    y: np.ndarray,
    X: np.ndarray,
    groups: np.ndarray,
    names: tuple[str, ...] | list[str],
    random: tuple[str, ...] | list[str] = ("(Intercept)",),
    theta0: np.ndarray | None = None,
) -> LmmFit:
    """REML fit of ``y ~ X + (random | groups)``; ``random`` are column names of X.

    ``groups``: integer codes (any order of rows). Raises ``ValueError`` on a rank-deficient X.
    """
    names, random = tuple(names), tuple(random)
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    groups = np.asarray(groups)
    if not np.issubdtype(groups.dtype, np.integer):
        _, groups = np.unique(groups, return_inverse=True)
    n, p = X.shape
    if n <= p:
        raise ValueError(f"too few rows for the design (n={n}, p={p})")
    q = len(random)
    Z = X[:, [names.index(r) for r in random]]
    gs = _GroupStats(y, X, Z, groups)
    if not _full_rank(gs.XyXy[:p, :p]):
        raise ValueError(f"design is rank deficient (a column is constant or collinear): {names}")

    diag = _diag_positions(q)
    n_theta = q * (q + 1) // 2
    bounds = [(0.0, None) if i in diag else (None, None) for i in range(n_theta)]
    if theta0 is None:
        theta0 = np.zeros(n_theta)
        theta0[diag] = 1.0

    def deviance(theta: np.ndarray) -> float:
        return gs.evaluate(_lam(theta, q)).reml_profiled(n, p)

    def deviance_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        sol = gs.evaluate(_lam(theta, q))
        return sol.reml_profiled(n, p), gs.gradient(sol)

    # Quasi-Newton with the analytic gradient. The criterion is even in each diagonal entry of
    # Λ, so a diagonal at 0 is always a stationary point — possibly a saddle the line search
    # stopped on. _check() looks inward from such a bound and restarts from a better point.
    def run(start: np.ndarray):
        return optimize.minimize(
            deviance_and_gradient,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 1000},
        )

    res = run(np.asarray(theta0, dtype=float))
    messages = [str(res.message)]
    converged, better = _check(deviance, gs, q, res.x, diag)
    for _ in range(3):
        if converged:
            break
        again = run(better if better is not None else res.x)
        messages.append(str(again.message))
        if again.fun > res.fun + 1e-9:
            break
        res = again
        converged, better = _check(deviance, gs, q, res.x, diag)
    message = "L-BFGS-B: " + "; restart: ".join(messages)
    theta = res.x.copy()
    # A diagonal entry within rounding of 0 is the boundary: put it there exactly (lme4 does too).
    theta[diag] = np.where(theta[diag] < 1e-8, 0.0, theta[diag])
    sol = gs.evaluate(_lam(theta, q))
    crit = sol.reml_profiled(n, p)
    singular = bool(np.any(theta[diag] < SINGULAR_TOL))
    sigma2 = sol.r2 / (n - p)
    cov = sigma2 * np.linalg.inv(sol.A)
    df = _satterthwaite(gs, theta, np.sqrt(sigma2), n, p, q)
    return LmmFit(
        names=names,
        random=random,
        beta=sol.beta.copy(),
        cov_beta=cov,
        df=df,
        sigma2=float(sigma2),
        theta=theta,
        reml_criterion=float(crit),
        converged=converged,
        singular=singular,
        optimizer_message=message,
        n_obs=n,
        n_groups=gs.g,
        groups=gs.codes,
        n_per_group=gs.n_per_group,
        _stats=gs,
        _sol=sol,
    )


def _full_rank(xtx: np.ndarray) -> bool:
    d = np.sqrt(np.diag(xtx))
    if np.any(d == 0):
        return False
    eig = np.linalg.eigvalsh(xtx / np.outer(d, d))
    return bool(eig.min() > 1e-10 * eig.max())


def _check(deviance, gs: _GroupStats, q: int, theta: np.ndarray, diag, tol: float = 2e-3):
    """(converged, a better starting point or None) at θ — lme4's convergence test, plus a look
    inward from the boundary.

    * A diagonal entry of Λ at 0: the gradient there is 0 by symmetry, so compare the criterion
      a little way inside (steps of 10⁻³…10⁻¹ of the scale of Λ); lower there = a saddle.
    * Free entries: the gradient scaled by the Cholesky factor of the Hessian (finite
      differences of the analytic gradient), |R⁻ᵀg| < tol, lme4's ``check.conv.grad`` rule: a
      Newton step would improve the deviance by less than tol²/2.
    """
    f0 = deviance(theta)
    scale = max(float(np.max(theta[diag])), 0.1)
    at_zero = [i for i in diag if theta[i] == 0.0]
    for i in at_zero:
        for step in (1e-3, 1e-2, 1e-1):
            trial = theta.copy()
            trial[i] = step * scale
            if deviance(trial) < f0 - 1e-8:
                return False, trial
    free = [i for i in range(theta.size) if i not in at_zero]
    if not free:
        return True, None

    def grad(t):
        return gs.gradient(gs.evaluate(_lam(t, q)))

    g = grad(theta)[free]
    h = 1e-5 * np.maximum(np.abs(theta), 0.1)
    H = np.empty((len(free), len(free)))
    for a, i in enumerate(free):
        e = np.zeros_like(theta)
        e[i] = h[i]
        H[:, a] = (grad(theta + e)[free] - grad(theta - e)[free]) / (2 * h[i])
    H = (H + H.T) / 2
    try:
        scaled = np.linalg.solve(np.linalg.cholesky(H), g)
    except np.linalg.LinAlgError:  # not positive definite: not a minimum
        return False, None
    return bool(np.max(np.abs(scaled)) < tol), None


def _hessian(f, x: np.ndarray, h: np.ndarray, idx) -> np.ndarray:
    """Central-difference Hessian of f at x in the coordinates ``idx``."""
    k = len(idx)
    H = np.empty((k, k))
    f0 = f(x)

    def at(*steps):
        z = x.copy()
        for i, s in steps:
            z[i] += s * h[i]
        return f(z)

    for a, i in enumerate(idx):
        H[a, a] = (at((i, 1)) - 2 * f0 + at((i, -1))) / h[i] ** 2
        for b in range(a):
            j = idx[b]
            H[a, b] = H[b, a] = (
                at((i, 1), (j, 1))
                - at((i, 1), (j, -1))
                - at((i, -1), (j, 1))
                + at((i, -1), (j, -1))
            ) / (4 * h[i] * h[j])
    return H


def _satterthwaite(
    gs: _GroupStats, theta: np.ndarray, sigma: float, n: int, p: int, q: int
) -> np.ndarray:
    """Satterthwaite df for each fixed effect (lmerTest's method, varpar = (θ, σ)).

    Var(β̂_j) = φ_j(θ, σ) = σ²[A(θ)⁻¹]_jj; its variance is g'Ωg with g = ∇φ_j and
    Ω = 2·H⁻¹, H the Hessian of the REML deviance −2ℓ_R(θ, σ). df_j = 2φ_j² / g'Ωg.
    Parameters on the boundary (a zero diagonal of Λ, and its row) are held fixed.
    """
    diag = _diag_positions(q)
    rows, _ = _tril(q)
    zero_rows = set(rows[diag][theta[diag] <= 0.0])
    free = [i for i in range(theta.size) if rows[i] not in zero_rows]
    x0 = np.r_[theta[free], sigma]
    k = x0.size

    def unpack(x: np.ndarray) -> tuple[np.ndarray, float]:
        t = theta.copy()
        t[free] = x[:-1]
        return t, float(x[-1])

    def dev(x: np.ndarray) -> float:
        t, s = unpack(x)
        return gs.evaluate(_lam(t, q)).reml_full(s, n, p)

    def phi(x: np.ndarray) -> np.ndarray:
        t, s = unpack(x)
        return s**2 * np.diag(np.linalg.inv(gs.evaluate(_lam(t, q)).A))

    h = 1e-4 * np.maximum(np.abs(x0), 1e-2)
    H = _hessian(dev, x0, h, range(k))
    grads = np.empty((k, p))
    for i in range(k):
        ei = np.zeros(k)
        ei[i] = h[i]
        grads[i] = (phi(x0 + ei) - phi(x0 - ei)) / (2 * h[i])
    omega = 2.0 * np.linalg.pinv(H)
    var_phi = np.einsum("ip,ij,jp->p", grads, omega, grads)
    phi0 = phi(x0)
    with np.errstate(divide="ignore"):
        df = 2.0 * phi0**2 / var_phi
    return np.clip(np.nan_to_num(df, nan=n - p, posinf=n - p), 1.0, n - p)


@dataclass
class SlopeChoice:
    """The random-effects structure actually used and why."""

    fit: LmmFit
    random_slope: bool
    reason: str
    intercept_only: LmmFit
    with_slope: LmmFit | None


def fit_preferring_slope(
    y: np.ndarray, X: np.ndarray, groups: np.ndarray, names, slope: str
) -> SlopeChoice:
    """Fit (1 | g) and (1 + slope | g); keep the slope model when it converged and is not singular.

    "Converged" means the optimiser stopped at a stationary point, the fit is not on the boundary
    (lme4's isSingular rule: a diagonal of Λ < 1e-4) and its REML criterion is not worse than the
    nested intercept-only model's. Otherwise the intercept-only fit is used (lme4 practice: a
    singular random slope adds nothing to the fixed effects but unstable variance estimates).
    """
    base = fit_lmm(y, X, groups, names, ("(Intercept)",))
    t0 = max(base.theta[0], 0.1)
    x_slope = np.asarray(X)[:, list(names).index(slope)]
    sd = float(np.std(x_slope)) or 1.0
    try:
        rich = fit_lmm(
            y, X, groups, names, ("(Intercept)", slope), theta0=np.array([t0, 0.0, 0.3 / sd])
        )
    except np.linalg.LinAlgError as exc:  # pragma: no cover - defensive
        return SlopeChoice(base, False, f"random slope failed: {exc}", base, None)
    if not rich.converged:
        reason = f"random slope did not converge ({rich.optimizer_message})"
    elif rich.singular:
        reason = "random slope singular (variance on the boundary)"
    elif rich.reml_criterion > base.reml_criterion + 1e-6:
        reason = "random slope fit worse than the nested intercept-only fit"
    else:
        return SlopeChoice(rich, True, "random slope converged", base, rich)
    return SlopeChoice(base, False, reason, base, rich)
