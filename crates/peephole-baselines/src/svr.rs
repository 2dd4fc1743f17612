//! nu-support vector regression with an RBF kernel, the learner of Baker et al. (2017),
//! "Accelerating neural architecture search using performance prediction", which the Peephole
//! paper compares against.
//!
//! nu-SVR (Schölkopf et al. 2000) fits `f(x) = sum_i theta_i K(x_i, x) + b` with an
//! insensitive tube whose width is learned; `nu` bounds the fraction of training points
//! outside the tube from above and the fraction of support vectors from below. Its dual, as
//! libsvm states it, over `beta = (alpha, alpha*)` of length `2n` is
//!
//! ```text
//! min  1/2 (alpha - alpha*)^T K (alpha - alpha*) - y^T (alpha - alpha*)
//! s.t. sum(alpha) = sum(alpha*) = C nu n / 2,   0 <= alpha_i, alpha*_i <= C
//! ```
//!
//! The two equality constraints act on the two halves separately, so sequential minimal
//! optimisation moves a pair of variables *within one half*: one up, one down by the same
//! step. Pairs are chosen by the second-order rule of Fan, Chen and Lin (2005); the bias and
//! the tube width come from the two halves' Lagrange multipliers as in libsvm's `Solver_NU`.
//! Features and targets are standardized inside `fit`, so `C` and `gamma` mean the same on
//! any zoo, and cross-validation folds standardize on their own training part only.

use crate::BaselineError;
use crate::cv::cross_validated_mse;
use crate::linalg::{Standardizer, check_rows};

/// Hyper-parameters of one nu-SVR fit (in standardized units).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SvrParams {
    /// Box constraint: larger fits the training points more closely.
    pub c: f64,
    /// In (0, 1]: upper bound on the fraction of points outside the tube, lower bound on the
    /// fraction of support vectors.
    pub nu: f64,
    /// RBF width: `K(a, b) = exp(-gamma |a - b|^2)` on standardized features.
    pub gamma: f64,
}

impl SvrParams {
    /// Rejects settings for which the dual is infeasible or the kernel meaningless, before
    /// any work is done.
    ///
    /// # Errors
    ///
    /// [`BaselineError::InvalidParameter`] naming the parameter.
    pub fn validate(&self) -> Result<(), BaselineError> {
        let invalid = |name, value, expected| {
            Err(BaselineError::InvalidParameter {
                name,
                value,
                expected,
            })
        };
        if !(self.c.is_finite() && self.c > 0.0) {
            return invalid("C", self.c, "a finite number > 0");
        }
        if !(self.nu > 0.0 && self.nu <= 1.0) {
            return invalid("nu", self.nu, "a number in (0, 1]");
        }
        if !(self.gamma.is_finite() && self.gamma > 0.0) {
            return invalid("gamma", self.gamma, "a finite number > 0");
        }
        Ok(())
    }
}

/// When the SMO solver stops; libsvm's defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Largest KKT violation accepted at the optimum, in standardized target units.
    pub tolerance: f64,
    /// Iteration cap; reaching it is an error rather than a silently poor model.
    pub max_iterations: usize,
}

impl Default for SolverOptions {
    fn default() -> Self {
        SolverOptions {
            tolerance: 1e-3,
            max_iterations: 10_000_000,
        }
    }
}

/// A fitted nu-SVR.
#[derive(Debug, Clone, PartialEq)]
pub struct NuSvr {
    params: SvrParams,
    standardizer: Standardizer,
    y_mean: f64,
    y_scale: f64,
    support: Vec<Vec<f64>>,
    coef: Vec<f64>,
    bias: f64,
    tube: f64,
    iterations: usize,
}

impl NuSvr {
    /// Fits on rows `x` and targets `y` with the default solver options.
    ///
    /// # Errors
    ///
    /// See [`NuSvr::fit_with`].
    pub fn fit(x: &[Vec<f64>], y: &[f64], params: SvrParams) -> Result<Self, BaselineError> {
        Self::fit_with(x, y, params, SolverOptions::default())
    }

    /// Fits on rows `x` and targets `y`.
    ///
    /// # Errors
    ///
    /// [`BaselineError::InvalidParameter`], [`BaselineError::LengthMismatch`],
    /// [`BaselineError::TooFewSamples`] below two rows, [`BaselineError::FeatureCount`] and
    /// [`BaselineError::NotFinite`] for bad rows or targets, and
    /// [`BaselineError::DidNotConverge`] when the solver hits its iteration cap.
    pub fn fit_with(
        x: &[Vec<f64>],
        y: &[f64],
        params: SvrParams,
        options: SolverOptions,
    ) -> Result<Self, BaselineError> {
        params.validate()?;
        let Prepared {
            standardizer,
            rows,
            y_mean,
            y_scale,
            ys,
        } = prepare(x, y)?;
        let n = rows.len();
        let kernel = kernel_matrix(&rows, params.gamma);
        let dual = solve_dual(&kernel, n, &ys, params.c, params.nu, options)?;
        let (support, coef): (Vec<Vec<f64>>, Vec<f64>) = rows
            .into_iter()
            .zip(&dual.theta)
            .filter(|(_, t)| **t != 0.0)
            .map(|(row, &t)| (row, t))
            .unzip();
        Ok(NuSvr {
            params,
            standardizer,
            y_mean,
            y_scale,
            support,
            coef,
            bias: dual.bias,
            tube: dual.tube * y_scale,
            iterations: dual.iterations,
        })
    }

    /// Predicts the target of one row.
    ///
    /// # Errors
    ///
    /// [`BaselineError::FeatureCount`] or [`BaselineError::NotFinite`] for a bad row.
    pub fn predict(&self, row: &[f64]) -> Result<f64, BaselineError> {
        let z = self.standardizer.transform(row)?;
        let sum: f64 = self
            .support
            .iter()
            .zip(&self.coef)
            .map(|(sv, c)| c * rbf(sv, &z, self.params.gamma))
            .sum();
        Ok(self.y_mean + self.y_scale * (sum + self.bias))
    }

    /// The hyper-parameters it was fitted with.
    pub fn params(&self) -> SvrParams {
        self.params
    }

    /// Half-width of the learned insensitive tube, in target units: nu-SVR's point is that
    /// this comes out of the fit instead of being guessed.
    pub fn tube_width(&self) -> f64 {
        self.tube
    }

    /// Number of support vectors (training rows with a non-zero coefficient).
    pub fn support_vectors(&self) -> usize {
        self.coef.len()
    }

    /// SMO iterations the fit took.
    pub fn iterations(&self) -> usize {
        self.iterations
    }
}

/// Standardized training data and what undoes the target's scaling.
struct Prepared {
    standardizer: Standardizer,
    rows: Vec<Vec<f64>>,
    y_mean: f64,
    y_scale: f64,
    ys: Vec<f64>,
}

/// Validates and standardizes rows and targets.
fn prepare(x: &[Vec<f64>], y: &[f64]) -> Result<Prepared, BaselineError> {
    if x.len() != y.len() {
        return Err(BaselineError::LengthMismatch {
            rows: x.len(),
            targets: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(BaselineError::TooFewSamples {
            found: x.len(),
            needed: 2,
        });
    }
    if let Some(row) = y.iter().position(|v| !v.is_finite()) {
        return Err(BaselineError::NotFinite { row, column: 0 });
    }
    check_rows(x, x[0].len())?;
    let standardizer = Standardizer::fit(x)?;
    let rows = standardizer.transform_all(x)?;
    let n = y.len() as f64;
    let y_mean = y.iter().sum::<f64>() / n;
    let std = (y.iter().map(|v| (v - y_mean).powi(2)).sum::<f64>() / n).sqrt();
    let y_scale = if std > 1e-12 * y_mean.abs().max(1.0) {
        std
    } else {
        1.0
    };
    let ys = y.iter().map(|v| (v - y_mean) / y_scale).collect();
    Ok(Prepared {
        standardizer,
        rows,
        y_mean,
        y_scale,
        ys,
    })
}

fn rbf(a: &[f64], b: &[f64], gamma: f64) -> f64 {
    let d2: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
    (-gamma * d2).exp()
}

fn kernel_matrix(rows: &[Vec<f64>], gamma: f64) -> Vec<f64> {
    let n = rows.len();
    let mut k = vec![0.0; n * n];
    for i in 0..n {
        k[i * n + i] = 1.0;
        for j in 0..i {
            let v = rbf(&rows[i], &rows[j], gamma);
            k[i * n + j] = v;
            k[j * n + i] = v;
        }
    }
    k
}

/// The solved dual.
#[derive(Debug, Clone)]
pub(crate) struct DualSolution {
    /// `alpha` (first `n`) then `alpha*` (last `n`); only the tests' feasibility checks
    /// read it, the model keeps `theta`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) beta: Vec<f64>,
    /// `alpha - alpha*`: the coefficients of the expansion.
    pub(crate) theta: Vec<f64>,
    pub(crate) bias: f64,
    pub(crate) tube: f64,
    pub(crate) iterations: usize,
}

/// Smallest curvature used for a pair, so duplicate rows (zero curvature) still take a
/// bounded step, as in libsvm.
const TAU: f64 = 1e-12;

/// Solves the nu-SVR dual for kernel matrix `k` (`n` x `n`, row-major) and targets `y`.
pub(crate) fn solve_dual(
    k: &[f64],
    n: usize,
    y: &[f64],
    c: f64,
    nu: f64,
    options: SolverOptions,
) -> Result<DualSolution, BaselineError> {
    let kernel = Kernel {
        k,
        n,
        diagonal: (0..n).map(|i| k[i * n + i]).collect(),
    };
    let mut beta = feasible_start(n, c, nu);
    // The gradient of the dual is g_i = (K theta)_i - y_i for alpha_i and -g_i for alpha*_i;
    // theta = 0 at the start. Only g is stored, and kernel rows are read contiguously (K is
    // symmetric), because this loop is where evaluation spends its time.
    let mut g: Vec<f64> = y.iter().map(|v| -v).collect();
    let mut iterations = 0;
    loop {
        let (best, max_violation) = working_pair(&kernel, &beta, &g, c, options.tolerance);
        let Some(pair) = best.filter(|_| max_violation >= options.tolerance) else {
            break;
        };
        if iterations >= options.max_iterations {
            return Err(BaselineError::DidNotConverge {
                iterations,
                tolerance: options.tolerance,
                violation: max_violation,
            });
        }
        iterations += 1;
        take_step(&kernel, &mut beta, &mut g, c, pair);
    }
    let theta: Vec<f64> = (0..n).map(|i| beta[i] - beta[n + i]).collect();
    // Recompute the gradient exactly for the multipliers: the incremental updates drift.
    for (i, gi) in g.iter_mut().enumerate() {
        *gi = kernel
            .row(i)
            .iter()
            .zip(&theta)
            .map(|(a, b)| a * b)
            .sum::<f64>()
            - y[i];
    }
    // At a free alpha_i the point lies on the tube's upper edge: f_i + b + eps = y_i, so the
    // multiplier is r1 = -b - eps; at a free alpha*_i, r2 = b - eps.
    let (r1, r2) = (multiplier(&beta, &g, c, 0), multiplier(&beta, &g, c, 1));
    Ok(DualSolution {
        beta,
        theta,
        bias: (r2 - r1) / 2.0,
        tube: -(r1 + r2) / 2.0,
        iterations,
    })
}

/// The kernel matrix the dual is solved for, with its diagonal.
struct Kernel<'a> {
    /// `n` x `n`, row-major, symmetric.
    k: &'a [f64],
    n: usize,
    diagonal: Vec<f64>,
}

impl Kernel<'_> {
    /// Row `i` (also column `i`: the matrix is symmetric).
    fn row(&self, i: usize) -> &[f64] {
        &self.k[i * self.n..(i + 1) * self.n]
    }
}

/// Feasible start, as libsvm: each half of `beta` gets C nu n / 2, filled greedily up to C.
fn feasible_start(n: usize, c: f64, nu: f64) -> Vec<f64> {
    let mut beta = vec![0.0; 2 * n];
    let mut remaining = c * nu * n as f64 / 2.0;
    for i in 0..n {
        let v = remaining.min(c);
        beta[i] = v;
        beta[n + i] = v;
        remaining -= v;
    }
    beta
}

/// A working pair: the half of `beta` (0: alpha, 1: alpha*), the multiplier that goes up and
/// the one that goes down.
type Pair = (usize, usize, usize);

/// The pair of largest gain among the halves whose violation reaches `tolerance` (second-order
/// selection, as libsvm), and the largest violation of either half.
fn working_pair(
    kernel: &Kernel<'_>,
    beta: &[f64],
    g: &[f64],
    c: f64,
    tolerance: f64,
) -> (Option<Pair>, f64) {
    let n = kernel.n;
    let mut max_violation = 0.0f64;
    // (half, i, j, gain)
    let mut best: Option<(usize, usize, usize, f64)> = None;
    for half in 0..2 {
        let sign = if half == 0 { 1.0 } else { -1.0 };
        let betas = &beta[half * n..(half + 1) * n];
        let mut g_min = f64::INFINITY;
        let mut up = None;
        let mut g_max = f64::NEG_INFINITY;
        for (s, (&b, &gs)) in betas.iter().zip(g).enumerate() {
            let gs = sign * gs;
            if b < c && gs < g_min {
                g_min = gs;
                up = Some(s);
            }
            if b > 0.0 && gs > g_max {
                g_max = gs;
            }
        }
        let Some(i) = up else { continue };
        let violation = g_max - g_min;
        max_violation = max_violation.max(violation);
        if violation < tolerance {
            continue;
        }
        let k_i = kernel.row(i);
        for (s, ((&b, &gs), (&k_is, &k_ss))) in betas
            .iter()
            .zip(g)
            .zip(k_i.iter().zip(&kernel.diagonal))
            .enumerate()
        {
            let gs = sign * gs;
            if b > 0.0 && gs > g_min {
                let a = (kernel.diagonal[i] + k_ss - 2.0 * k_is).max(TAU);
                let gain = (gs - g_min).powi(2) / a;
                if best.is_none_or(|b| gain > b.3) {
                    best = Some((half, i, s, gain));
                }
            }
        }
    }
    (best.map(|(half, i, j, _)| (half, i, j)), max_violation)
}

/// Moves the pair as far as the bounds allow and updates the gradient.
fn take_step(kernel: &Kernel<'_>, beta: &mut [f64], g: &mut [f64], c: f64, pair: Pair) {
    let (half, i, j) = pair;
    let n = kernel.n;
    let sign = if half == 0 { 1.0 } else { -1.0 };
    let (ti, tj) = (half * n + i, half * n + j);
    let a = (kernel.diagonal[i] + kernel.diagonal[j] - 2.0 * kernel.k[i * n + j]).max(TAU);
    let unconstrained = (sign * g[j] - sign * g[i]) / a;
    let room_up = c - beta[ti];
    let room_down = beta[tj];
    let delta = unconstrained.min(room_up).min(room_down);
    // Land exactly on a bound when one is hit, so "at bound" tests stay exact.
    beta[ti] = if delta == room_up {
        c
    } else {
        beta[ti] + delta
    };
    beta[tj] = if delta == room_down {
        0.0
    } else {
        beta[tj] - delta
    };
    // alpha moves theta the same way, alpha* the opposite way.
    let step = sign * delta;
    for (gs, (&k_is, &k_js)) in g.iter_mut().zip(kernel.row(i).iter().zip(kernel.row(j))) {
        *gs += step * (k_is - k_js);
    }
}

/// The Lagrange multiplier of one half's equality constraint (0: alpha, 1: alpha*) from the
/// exact gradient `g`: the mean gradient over its free multipliers, else the middle of the
/// bounds those at C and at 0 give.
fn multiplier(beta: &[f64], g: &[f64], c: f64, half: usize) -> f64 {
    let n = g.len();
    let gradient = |t: usize| if t < n { g[t] } else { -g[t - n] };
    let offset = half * n;
    let (mut free_sum, mut free_count) = (0.0, 0usize);
    let (mut low, mut high) = (f64::NEG_INFINITY, f64::INFINITY);
    for s in 0..n {
        let (b, gt) = (beta[offset + s], gradient(offset + s));
        if b >= c {
            low = low.max(gt);
        } else if b <= 0.0 {
            high = high.min(gt);
        } else {
            free_sum += gt;
            free_count += 1;
        }
    }
    if free_count > 0 {
        free_sum / free_count as f64
    } else if low.is_finite() && high.is_finite() {
        (low + high) / 2.0
    } else if low.is_finite() {
        low
    } else {
        high
    }
}

/// The grid searched by [`fit_nu_svr_cv`]. `gamma_scale` is multiplied by `1 / features`, the
/// usual default width for standardized features.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SvrGrid {
    /// Values of `C`.
    pub c: Vec<f64>,
    /// Values of `nu`.
    pub nu: Vec<f64>,
    /// Values of `gamma * features`.
    pub gamma_scale: Vec<f64>,
}

impl Default for SvrGrid {
    /// Coarse on purpose (5 x 3 x 6 = 90 settings): a zoo of tens to hundreds of networks
    /// cannot tell finer settings apart, and every setting costs `folds` fits. It reaches far
    /// towards large `C` and small `gamma` because on real zoos the curve prefix predicts the
    /// final accuracy almost linearly, which is where an RBF machine ends up.
    fn default() -> Self {
        SvrGrid {
            c: vec![0.1, 1.0, 10.0, 100.0, 1000.0],
            nu: vec![0.2, 0.5, 0.8],
            gamma_scale: vec![0.01, 0.03, 0.1, 0.3, 1.0, 3.0],
        }
    }
}

/// Which setting cross-validation chose, and how sure it could be.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SvrSelection {
    /// The chosen setting.
    pub params: SvrParams,
    /// Its cross-validated mean squared error, in target units.
    pub cv_mse: f64,
    /// Settings tried.
    pub tried: usize,
    /// Settings skipped because a fold's solver did not converge.
    pub failed: usize,
}

/// Chooses `C`, `nu` and `gamma` by `folds`-fold cross-validation over `grid` (lowest mean
/// squared error; the first in grid order on a tie), then fits on all rows.
///
/// # Errors
///
/// [`BaselineError::TooFewSamples`] below two rows per fold, errors of [`NuSvr::fit`] for
/// bad input, and [`BaselineError::NoUsableSetting`] when every setting failed.
pub fn fit_nu_svr_cv(
    x: &[Vec<f64>],
    y: &[f64],
    grid: &SvrGrid,
    folds: usize,
    seed: u64,
) -> Result<(NuSvr, SvrSelection), BaselineError> {
    let features = x.first().map_or(1, Vec::len).max(1) as f64;
    let mut best: Option<(SvrParams, f64)> = None;
    let (mut tried, mut failed) = (0, 0);
    let mut last_failure = None;
    for &c in &grid.c {
        for &nu in &grid.nu {
            for &scale in &grid.gamma_scale {
                let params = SvrParams {
                    c,
                    nu,
                    gamma: scale / features,
                };
                params.validate()?;
                tried += 1;
                let score = cross_validated_mse(x, y, folds, seed, |tx, ty, vx| {
                    let model = NuSvr::fit(tx, ty, params)?;
                    vx.iter().map(|row| model.predict(row)).collect()
                });
                match score {
                    Ok(mse) => {
                        if best.is_none_or(|(_, b)| mse < b) {
                            best = Some((params, mse));
                        }
                    }
                    Err(error @ BaselineError::DidNotConverge { .. }) => {
                        failed += 1;
                        last_failure = Some(error);
                    }
                    Err(other) => return Err(other),
                }
            }
        }
    }
    let Some((params, cv_mse)) = best else {
        return Err(BaselineError::NoUsableSetting {
            tried,
            last: last_failure
                .map(|e| e.to_string())
                .unwrap_or_else(|| "the grid is empty".into()),
        });
    };
    let model = NuSvr::fit(x, y, params)?;
    Ok((
        model,
        SvrSelection {
            params,
            cv_mse,
            tried,
            failed,
        },
    ))
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn params(c: f64, nu: f64, gamma: f64) -> SvrParams {
        SvrParams { c, nu, gamma }
    }

    /// `n` points of `target` on `[low, high]^dims` with Gaussian-ish noise of std `noise`.
    fn sample(
        n: usize,
        dims: usize,
        noise: f64,
        seed: u64,
        target: impl Fn(&[f64]) -> f64,
    ) -> (Vec<Vec<f64>>, Vec<f64>) {
        let mut rng = StdRng::seed_from_u64(seed);
        let x: Vec<Vec<f64>> = (0..n)
            .map(|_| (0..dims).map(|_| rng.random_range(-3.0..3.0)).collect())
            .collect();
        let y = x
            .iter()
            .map(|row| {
                // Sum of 4 uniforms: mean 0, variance 4/12, close enough to normal.
                let e: f64 = (0..4).map(|_| rng.random_range(-1.0..1.0)).sum::<f64>();
                target(row) + noise * e / (4.0f64 / 3.0).sqrt()
            })
            .collect();
        (x, y)
    }

    fn mse(model: &NuSvr, x: &[Vec<f64>], y: &[f64]) -> f64 {
        x.iter()
            .zip(y)
            .map(|(row, t)| (model.predict(row).unwrap() - t).powi(2))
            .sum::<f64>()
            / y.len() as f64
    }

    fn variance(y: &[f64]) -> f64 {
        let m = y.iter().sum::<f64>() / y.len() as f64;
        y.iter().map(|v| (v - m).powi(2)).sum::<f64>() / y.len() as f64
    }

    #[test]
    fn fits_a_smooth_one_dimensional_function_on_held_out_points() {
        let target = |r: &[f64]| r[0].sin();
        let (x, y) = sample(80, 1, 0.05, 1, target);
        let (tx, ty) = sample(200, 1, 0.0, 2, target);
        let model = NuSvr::fit(&x, &y, params(10.0, 0.5, 1.0)).unwrap();
        let error = mse(&model, &tx, &ty);
        // sin on [-3, 3] has variance ~0.4; noise variance 0.0025. A good fit is near the
        // noise floor, a bad one (a line, a constant) is around 0.1 or worse.
        assert!(error < 0.01, "held-out MSE {error}");
    }

    #[test]
    fn beats_predicting_the_mean_on_a_nonlinear_three_dimensional_function() {
        let target = |r: &[f64]| r[0] * r[1] / 3.0 + (r[2]).cos();
        let (x, y) = sample(150, 3, 0.1, 3, target);
        let (tx, ty) = sample(300, 3, 0.1, 4, target);
        // A small grid keeps the unoptimised test build fast; the wide gamma range still
        // contains settings that underfit (0.03) and overfit (30).
        let grid = SvrGrid {
            c: vec![1.0, 10.0],
            nu: vec![0.5],
            gamma_scale: vec![0.03, 1.0, 30.0],
        };
        let (model, selection) = fit_nu_svr_cv(&x, &y, &grid, 4, 0).unwrap();
        let r2 = 1.0 - mse(&model, &tx, &ty) / variance(&ty);
        assert!(r2 > 0.7, "held-out R^2 {r2} with {selection:?}");
        assert_eq!((selection.tried, selection.failed), (6, 0));
        assert_eq!(selection.params.gamma, 1.0 / 3.0, "{selection:?}");
    }

    #[test]
    fn dual_solution_is_feasible_and_satisfies_the_nu_bounds() {
        let (x, y) = sample(60, 2, 0.3, 5, |r| r[0] - 0.5 * r[1] * r[1]);
        let (c, nu) = (2.0, 0.4);
        let Prepared { rows, ys, .. } = prepare(&x, &y).unwrap();
        let n = rows.len();
        let k = kernel_matrix(&rows, 0.5);
        let dual = solve_dual(&k, n, &ys, c, nu, SolverOptions::default()).unwrap();
        // Box and equality constraints.
        assert!(dual.beta.iter().all(|&b| (0.0..=c).contains(&b)));
        let sum_alpha: f64 = dual.beta[..n].iter().sum();
        let sum_star: f64 = dual.beta[n..].iter().sum();
        let half = c * nu * n as f64 / 2.0;
        assert!((sum_alpha - half).abs() < 1e-9 && (sum_star - half).abs() < 1e-9);
        // nu-property: at most nu*n points strictly outside the tube (a coefficient at C),
        // at least nu*n support vectors.
        let at_bound = dual.beta.iter().filter(|&&b| b >= c).count() as f64;
        let support = dual.theta.iter().filter(|t| **t != 0.0).count() as f64;
        assert!(at_bound <= nu * n as f64 + 1e-9, "{at_bound} at C");
        assert!(support >= nu * n as f64 - 1e-9, "{support} support vectors");
        // The tube: residuals of free alphas sit on its edge (to the solver's tolerance).
        assert!(dual.tube > 0.0, "tube {}", dual.tube);
        for i in 0..n {
            let fx: f64 = (0..n).map(|j| k[i * n + j] * dual.theta[j]).sum::<f64>() + dual.bias;
            let residual = ys[i] - fx;
            let (a, s) = (dual.beta[i], dual.beta[n + i]);
            if a > 0.0 && a < c {
                assert!(
                    (residual - dual.tube).abs() < 1e-2,
                    "free alpha {i}: {residual}"
                );
            }
            if s > 0.0 && s < c {
                assert!(
                    (residual + dual.tube).abs() < 1e-2,
                    "free alpha* {i}: {residual}"
                );
            }
            if a == 0.0 && s == 0.0 {
                assert!(
                    residual.abs() <= dual.tube + 1e-2,
                    "inside point {i}: {residual}"
                );
            }
        }
    }

    #[test]
    fn smaller_nu_gives_a_wider_tube_and_fewer_support_vectors() {
        let (x, y) = sample(80, 1, 0.3, 6, |r| r[0].sin());
        let narrow = NuSvr::fit(&x, &y, params(1.0, 0.9, 1.0)).unwrap();
        let wide = NuSvr::fit(&x, &y, params(1.0, 0.1, 1.0)).unwrap();
        assert!(wide.tube_width() > narrow.tube_width());
        assert!(wide.support_vectors() < narrow.support_vectors());
    }

    #[test]
    fn a_constant_target_is_predicted_exactly() {
        let x: Vec<Vec<f64>> = (0..10).map(|i| vec![f64::from(i)]).collect();
        let model = NuSvr::fit(&x, &[0.7; 10], params(1.0, 0.5, 1.0)).unwrap();
        assert!((model.predict(&[3.5]).unwrap() - 0.7).abs() < 1e-12);
    }

    #[test]
    fn invalid_parameters_and_input_are_typed_errors() {
        let x = vec![vec![0.0], vec![1.0], vec![2.0]];
        let y = [0.0, 1.0, 2.0];
        for (bad, name) in [
            (params(0.0, 0.5, 1.0), "C"),
            (params(1.0, 1.5, 1.0), "nu"),
            (params(1.0, 0.0, 1.0), "nu"),
            (params(1.0, 0.5, f64::NAN), "gamma"),
        ] {
            match NuSvr::fit(&x, &y, bad) {
                Err(BaselineError::InvalidParameter { name: got, .. }) => assert_eq!(got, name),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        let good = params(1.0, 0.5, 1.0);
        assert!(matches!(
            NuSvr::fit(&x, &y[..2], good),
            Err(BaselineError::LengthMismatch {
                rows: 3,
                targets: 2
            })
        ));
        assert!(matches!(
            NuSvr::fit(&x, &[0.0, f64::NAN, 1.0], good),
            Err(BaselineError::NotFinite { row: 1, .. })
        ));
        let model = NuSvr::fit(&x, &y, good).unwrap();
        assert!(matches!(
            model.predict(&[1.0, 2.0]),
            Err(BaselineError::FeatureCount { .. })
        ));
    }

    #[test]
    fn hitting_the_iteration_cap_is_an_error_not_a_silent_model() {
        let (x, y) = sample(40, 1, 0.1, 7, |r| r[0].sin());
        let options = SolverOptions {
            tolerance: 1e-3,
            max_iterations: 1,
        };
        assert!(matches!(
            NuSvr::fit_with(&x, &y, params(10.0, 0.5, 1.0), options),
            Err(BaselineError::DidNotConverge { iterations: 1, .. })
        ));
    }
}
