//! The fast scorer's two inner loops, once per instruction set: a packed matrix product (the
//! recurrent product of many LSTM states at once, and the MLP) and the LSTM cell update.
//!
//! Release builds target baseline x86-64 (SSE2), where onnxruntime and tract pick AVX2 or
//! AVX-512 at run time; doing the same here is what makes the comparison fair. Every level
//! computes the same sums in the same order per output, so results differ between levels only
//! by fused versus separate multiply-add rounding.

/// Columns per packed panel: one AVX-512 register, two AVX2 registers.
pub const PANEL: usize = 16;
/// Packed widths are padded to a multiple of this (the AVX-512 tile spans two panels).
pub const COLUMN_ALIGN: usize = 2 * PANEL;

/// The instruction set the fast scorer's inner loops run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// Plain Rust, any CPU: the fallback and the cross-check of the others.
    Portable,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// x86-64 AVX-512F.
    Avx512,
}

impl SimdLevel {
    /// The best level this CPU runs.
    pub fn detect() -> SimdLevel {
        Self::all()
            .into_iter()
            .rev()
            .find(|level| level.is_supported())
            .unwrap_or(SimdLevel::Portable)
    }

    /// Every level, slowest first.
    pub const fn all() -> [SimdLevel; 3] {
        [SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512]
    }

    /// Whether this CPU can run the level.
    pub fn is_supported(self) -> bool {
        match self {
            SimdLevel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            SimdLevel::Avx2 | SimdLevel::Avx512 => false,
        }
    }

    /// Name for reports.
    pub const fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2+fma",
            SimdLevel::Avx512 => "avx512f",
        }
    }
}

impl std::fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// While alive, the current thread flushes subnormal floats to zero (x86 MXCSR FTZ and DAZ);
/// the previous mode comes back on drop. Some models drive gate products into the subnormal
/// range, where every multiply-add takes a slow microcode path; zero instead of a number below
/// 1.2e-38 changes no prediction by more than rounding does.
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

/// MXCSR's flush-to-zero and denormals-are-zero bits.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

impl FlushDenormals {
    /// Switches the current thread to flushing.
    pub fn new() -> FlushDenormals {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = mxcsr::read();
            mxcsr::write(saved | FTZ_DAZ);
            FlushDenormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushDenormals {}
    }
}

impl Default for FlushDenormals {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        mxcsr::write(self.saved);
    }
}

#[cfg(target_arch = "x86_64")]
mod mxcsr {
    /// The thread's SSE control and status register.
    pub(super) fn read() -> u32 {
        let mut value: u32 = 0;
        // SAFETY: stmxcsr stores 4 bytes to a valid, writable u32; every x86-64 CPU has SSE.
        unsafe {
            std::arch::asm!("stmxcsr [{}]", in(reg) &mut value, options(nostack, preserves_flags))
        };
        value
    }

    /// Sets it; only the rounding-mode-independent FTZ/DAZ bits change in this module's use.
    pub(super) fn write(value: u32) {
        // SAFETY: ldmxcsr reads 4 bytes from a valid u32; `value` comes from `read` with
        // FTZ/DAZ set or cleared, so no reserved bit is set.
        unsafe {
            std::arch::asm!("ldmxcsr [{}]", in(reg) &value, options(nostack, readonly, preserves_flags))
        };
    }
}

/// The right operand `B` (`k x n`) of `C = A B`, stored as column panels of [`PANEL`]
/// columns, each panel `k` rows deep, so a tile reads its weights sequentially.
#[derive(Debug, Clone)]
pub struct Packed {
    /// Rows of `B` (the reduction length).
    pub k: usize,
    /// The columns of `B` rounded up to [`COLUMN_ALIGN`]; padded columns are zero.
    pub n_padded: usize,
    data: Vec<f32>,
}

impl Packed {
    /// Packs `B = W[:, offset..offset + k]^T` for a PyTorch-layout weight `W` (`out x in`,
    /// `y = W x`), so that `A B` applies the layer to the rows of `A`.
    pub fn from_weight(
        weight: &[f32],
        out: usize,
        inputs: usize,
        offset: usize,
        k: usize,
    ) -> Packed {
        let n_padded = out.div_ceil(COLUMN_ALIGN) * COLUMN_ALIGN;
        let mut data = vec![0.0f32; n_padded * k];
        for panel in 0..n_padded / PANEL {
            for kk in 0..k {
                for j in 0..PANEL {
                    let column = panel * PANEL + j;
                    if column < out {
                        data[(panel * k + kk) * PANEL + j] = weight[column * inputs + offset + kk];
                    }
                }
            }
        }
        Packed { k, n_padded, data }
    }
}

/// `C[i][..n_padded] = A[i][..k] B` for `i < m`; `A` has row stride `lda`, `C` row stride
/// `ldc` (at least `n_padded`).
pub fn gemm(
    level: SimdLevel,
    a: &[f32],
    lda: usize,
    m: usize,
    b: &Packed,
    c: &mut [f32],
    ldc: usize,
) {
    if m == 0 {
        return;
    }
    assert!(lda >= b.k && ldc >= b.n_padded, "gemm strides");
    assert!(
        a.len() >= (m - 1) * lda + b.k && c.len() >= (m - 1) * ldc + b.n_padded,
        "gemm operands"
    );
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 if level.is_supported() => {
            // SAFETY: the CPU has AVX-512F (checked above); the asserts bound every access.
            unsafe { x86::gemm_avx512(a, lda, m, b, c, ldc) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if level.is_supported() => {
            // SAFETY: the CPU has AVX2 and FMA (checked above); the asserts bound every access.
            unsafe { x86::gemm_avx2(a, lda, m, b, c, ldc) }
        }
        _ => gemm_portable(a, lda, m, b, c, ldc),
    }
}

fn gemm_portable(a: &[f32], lda: usize, m: usize, b: &Packed, c: &mut [f32], ldc: usize) {
    let k = b.k;
    for panel in 0..b.n_padded / PANEL {
        let weights = &b.data[panel * k * PANEL..(panel + 1) * k * PANEL];
        for i in 0..m {
            let row = &a[i * lda..i * lda + k];
            let mut acc = [0.0f32; PANEL];
            for (kk, &x) in row.iter().enumerate() {
                let w = &weights[kk * PANEL..(kk + 1) * PANEL];
                for j in 0..PANEL {
                    acc[j] += x * w[j];
                }
            }
            c[i * ldc + panel * PANEL..i * ldc + (panel + 1) * PANEL].copy_from_slice(&acc);
        }
    }
}

/// One LSTM cell update for `hidden` units: `gates` are the four pre-activation blocks
/// (i, f, g, o; recurrent part), `input` the input projection plus biases in the same
/// layout, `c_prev` the previous cell state.
pub fn lstm_cell(
    level: SimdLevel,
    hidden: usize,
    gates: &[f32],
    input: &[f32],
    c_prev: &[f32],
    h_out: &mut [f32],
    c_out: &mut [f32],
) {
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 if level.is_supported() => {
            // SAFETY: the CPU has AVX-512F; the body only indexes checked slices.
            unsafe { x86::cell_avx512(hidden, gates, input, c_prev, h_out, c_out) }
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 if level.is_supported() => {
            // SAFETY: the CPU has AVX2 and FMA; the body only indexes checked slices.
            unsafe { x86::cell_avx2(hidden, gates, input, c_prev, h_out, c_out) }
        }
        _ => cell_body(hidden, gates, input, c_prev, h_out, c_out),
    }
}

/// `e^x` to about one ulp on [-87, 88] (Cephes' `expf`), branch-free so that it vectorizes;
/// inputs outside are clamped, which moves sigmoid and tanh by less than 1e-37. The
/// polynomial's coefficients are Cephes', written to the precision an `f32` holds (its
/// 5.0000001201e-1 rounds to exactly 0.5 in `f32`, so it is written 0.5).
#[inline(always)]
fn exp_approx(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let r2 = r * r;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2)
        * r
        + 1.666_666_5e-1)
        * r
        + 0.5)
        * r2
        + r
        + 1.0;
    // n is an integer in [-126, 127] after the clamp, so the biased exponent is a normal one.
    // Adding 1.5 * 2^23 puts n in the low mantissa bits; reading them there instead of with
    // `n as i32` (whose NaN and overflow rules LLVM does not vectorize) keeps the loop in
    // vector registers, with the same result.
    let shifted = (n + 12_582_912.0).to_bits().wrapping_sub(0x4B40_0000);
    let scale = f32::from_bits(shifted.wrapping_add(127) << 23);
    p * scale
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_approx(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 / (1.0 + exp_approx(-2.0 * x)) - 1.0
}

#[inline(always)]
fn cell_body(
    hidden: usize,
    gates: &[f32],
    input: &[f32],
    c_prev: &[f32],
    h_out: &mut [f32],
    c_out: &mut [f32],
) {
    let (gates, input) = (&gates[..4 * hidden], &input[..4 * hidden]);
    let (c_prev, h_out, c_out) = (
        &c_prev[..hidden],
        &mut h_out[..hidden],
        &mut c_out[..hidden],
    );
    let (gi, rest) = gates.split_at(hidden);
    let (gf, rest) = rest.split_at(hidden);
    let (gg, go) = rest.split_at(hidden);
    let (xi, rest) = input.split_at(hidden);
    let (xf, rest) = rest.split_at(hidden);
    let (xg, xo) = rest.split_at(hidden);
    for j in 0..hidden {
        let i = sigmoid(gi[j] + xi[j]);
        let f = sigmoid(gf[j] + xf[j]);
        let g = tanh(gg[j] + xg[j]);
        let o = sigmoid(go[j] + xo[j]);
        let c = f * c_prev[j] + i * g;
        c_out[j] = c;
        h_out[j] = o * tanh(c);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{PANEL, Packed, cell_body};

    #[target_feature(enable = "avx512f")]
    pub(super) fn cell_avx512(
        hidden: usize,
        gates: &[f32],
        input: &[f32],
        c_prev: &[f32],
        h_out: &mut [f32],
        c_out: &mut [f32],
    ) {
        cell_body(hidden, gates, input, c_prev, h_out, c_out);
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn cell_avx2(
        hidden: usize,
        gates: &[f32],
        input: &[f32],
        c_prev: &[f32],
        h_out: &mut [f32],
        c_out: &mut [f32],
    ) {
        cell_body(hidden, gates, input, c_prev, h_out, c_out);
    }

    /// How many rows of a panel ahead the wide tiles ask for (64 bytes each): the weights
    /// stream from L2, and the hardware does not fetch eight interleaved streams early enough.
    const PREFETCH: usize = 8;

    /// Rows per AVX-512 tile: 8 rows x 32 columns is 16 accumulators of the 32 registers.
    const MR_512: usize = 8;
    /// Rows per AVX2 tile: 6 rows x 16 columns is 12 accumulators of the 16 registers.
    const MR_256: usize = 6;

    /// # Safety
    /// The CPU has AVX-512F; `gemm`'s asserts hold.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn gemm_avx512(
        a: &[f32],
        lda: usize,
        m: usize,
        b: &Packed,
        c: &mut [f32],
        ldc: usize,
    ) {
        unsafe {
            let k = b.k;
            let (a, c) = (a.as_ptr(), c.as_mut_ptr());
            for pair in 0..b.n_padded / (2 * PANEL) {
                let b0 = b.data.as_ptr().add(2 * pair * k * PANEL);
                let b1 = b0.add(k * PANEL);
                let c = c.add(2 * pair * PANEL);
                let mut i = 0;
                while i + MR_512 <= m {
                    tile_512::<MR_512>(a.add(i * lda), lda, b0, b1, k, c.add(i * ldc), ldc);
                    i += MR_512;
                }
                let (a, c) = (a.add(i * lda), c.add(i * ldc));
                match m - i {
                    // One to three rows leave too few independent sums for a two-panel
                    // tile; they go through the wide tiles below.
                    0..=3 => {}
                    4 => tile_512::<4>(a, lda, b0, b1, k, c, ldc),
                    5 => tile_512::<5>(a, lda, b0, b1, k, c, ldc),
                    6 => tile_512::<6>(a, lda, b0, b1, k, c, ldc),
                    _ => tile_512::<7>(a, lda, b0, b1, k, c, ldc),
                }
            }
            let rest = m % MR_512;
            if rest <= 3 {
                let start = m - rest;
                let (a, c) = (a.add(start * lda), c.add(start * ldc));
                match rest {
                    0 => {}
                    1 => wide_512::<1, 8>(a, lda, b, c, ldc),
                    2 => wide_512::<2, 4>(a, lda, b, c, ldc),
                    _ => wide_512::<3, 4>(a, lda, b, c, ldc),
                }
            }
        }
    }

    /// `MR` rows against every panel of `b`, `NP` panels at a time: for the one to three rows
    /// a matrix-vector product has, so that `MR x NP` sums are in flight instead of the
    /// `2 MR` of a two-panel tile, which would wait on the multiply-add latency (batch-1
    /// scoring is this case at every LSTM step).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn wide_512<const MR: usize, const NP: usize>(
        a: *const f32,
        lda: usize,
        b: &Packed,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            let k = b.k;
            let panels = b.n_padded / PANEL;
            let mut panel = 0;
            while panel + NP <= panels {
                let w = b.data.as_ptr().add(panel * k * PANEL);
                let mut acc = [[_mm512_setzero_ps(); NP]; MR];
                for kk in 0..k {
                    let mut x = [_mm512_setzero_ps(); MR];
                    for (r, x) in x.iter_mut().enumerate() {
                        *x = _mm512_set1_ps(*a.add(r * lda + kk));
                    }
                    for p in 0..NP {
                        _mm_prefetch::<_MM_HINT_T0>(
                            w.wrapping_add((p * k + kk + PREFETCH) * PANEL) as *const i8,
                        );
                        let wv = _mm512_loadu_ps(w.add((p * k + kk) * PANEL));
                        for (x, acc) in x.iter().zip(acc.iter_mut()) {
                            acc[p] = _mm512_fmadd_ps(*x, wv, acc[p]);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    for (p, acc) in acc.iter().enumerate() {
                        _mm512_storeu_ps(c.add(r * ldc + (panel + p) * PANEL), *acc);
                    }
                }
                panel += NP;
            }
            // The last few panels (they come in pairs, see COLUMN_ALIGN) in two-panel tiles.
            while panel < panels {
                let b0 = b.data.as_ptr().add(panel * k * PANEL);
                tile_512::<MR>(a, lda, b0, b0.add(k * PANEL), k, c.add(panel * PANEL), ldc);
                panel += 2;
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile_512<const MR: usize>(
        a: *const f32,
        lda: usize,
        b0: *const f32,
        b1: *const f32,
        k: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            let mut acc = [[_mm512_setzero_ps(); 2]; MR];
            for kk in 0..k {
                let w0 = _mm512_loadu_ps(b0.add(kk * PANEL));
                let w1 = _mm512_loadu_ps(b1.add(kk * PANEL));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm512_set1_ps(*a.add(r * lda + kk));
                    acc[0] = _mm512_fmadd_ps(x, w0, acc[0]);
                    acc[1] = _mm512_fmadd_ps(x, w1, acc[1]);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm512_storeu_ps(c.add(r * ldc), acc[0]);
                _mm512_storeu_ps(c.add(r * ldc + PANEL), acc[1]);
            }
        }
    }

    /// # Safety
    /// The CPU has AVX2 and FMA; `gemm`'s asserts hold.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn gemm_avx2(
        a: &[f32],
        lda: usize,
        m: usize,
        b: &Packed,
        c: &mut [f32],
        ldc: usize,
    ) {
        unsafe {
            let k = b.k;
            let (a, c) = (a.as_ptr(), c.as_mut_ptr());
            for panel in 0..b.n_padded / PANEL {
                let w = b.data.as_ptr().add(panel * k * PANEL);
                let c = c.add(panel * PANEL);
                let mut i = 0;
                while i + MR_256 <= m {
                    tile_256::<MR_256>(a.add(i * lda), lda, w, k, c.add(i * ldc), ldc);
                    i += MR_256;
                }
                let (a, c) = (a.add(i * lda), c.add(i * ldc));
                match m - i {
                    // One or two rows go through the wide tiles below (see `wide_512`).
                    0..=2 => {}
                    3 => tile_256::<3>(a, lda, w, k, c, ldc),
                    4 => tile_256::<4>(a, lda, w, k, c, ldc),
                    _ => tile_256::<5>(a, lda, w, k, c, ldc),
                }
            }
            let rest = m % MR_256;
            if rest <= 2 {
                let start = m - rest;
                let (a, c) = (a.add(start * lda), c.add(start * ldc));
                match rest {
                    0 => {}
                    1 => wide_256::<1, 4>(a, lda, b, c, ldc),
                    _ => wide_256::<2, 2>(a, lda, b, c, ldc),
                }
            }
        }
    }

    /// The AVX2 form of `wide_512`: `MR` rows, `NP` panels (two registers each) at a time.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn wide_256<const MR: usize, const NP: usize>(
        a: *const f32,
        lda: usize,
        b: &Packed,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            let k = b.k;
            let panels = b.n_padded / PANEL;
            let mut panel = 0;
            while panel + NP <= panels {
                let w = b.data.as_ptr().add(panel * k * PANEL);
                let mut acc = [[[_mm256_setzero_ps(); 2]; NP]; MR];
                for kk in 0..k {
                    let mut x = [_mm256_setzero_ps(); MR];
                    for (r, x) in x.iter_mut().enumerate() {
                        *x = _mm256_set1_ps(*a.add(r * lda + kk));
                    }
                    for p in 0..NP {
                        _mm_prefetch::<_MM_HINT_T0>(
                            w.wrapping_add((p * k + kk + PREFETCH) * PANEL) as *const i8,
                        );
                        let base = w.add((p * k + kk) * PANEL);
                        let (w0, w1) = (_mm256_loadu_ps(base), _mm256_loadu_ps(base.add(8)));
                        for (x, acc) in x.iter().zip(acc.iter_mut()) {
                            acc[p][0] = _mm256_fmadd_ps(*x, w0, acc[p][0]);
                            acc[p][1] = _mm256_fmadd_ps(*x, w1, acc[p][1]);
                        }
                    }
                }
                for (r, acc) in acc.iter().enumerate() {
                    for (p, acc) in acc.iter().enumerate() {
                        _mm256_storeu_ps(c.add(r * ldc + (panel + p) * PANEL), acc[0]);
                        _mm256_storeu_ps(c.add(r * ldc + (panel + p) * PANEL + 8), acc[1]);
                    }
                }
                panel += NP;
            }
            // The panels left over, one at a time.
            while panel < panels {
                tile_256::<MR>(
                    a,
                    lda,
                    b.data.as_ptr().add(panel * k * PANEL),
                    k,
                    c.add(panel * PANEL),
                    ldc,
                );
                panel += 1;
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile_256<const MR: usize>(
        a: *const f32,
        lda: usize,
        w: *const f32,
        k: usize,
        c: *mut f32,
        ldc: usize,
    ) {
        unsafe {
            let mut acc = [[_mm256_setzero_ps(); 2]; MR];
            for kk in 0..k {
                let w0 = _mm256_loadu_ps(w.add(kk * PANEL));
                let w1 = _mm256_loadu_ps(w.add(kk * PANEL + 8));
                for (r, acc) in acc.iter_mut().enumerate() {
                    let x = _mm256_set1_ps(*a.add(r * lda + kk));
                    acc[0] = _mm256_fmadd_ps(x, w0, acc[0]);
                    acc[1] = _mm256_fmadd_ps(x, w1, acc[1]);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                _mm256_storeu_ps(c.add(r * ldc), acc[0]);
                _mm256_storeu_ps(c.add(r * ldc + 8), acc[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(a: &[f32], m: usize, k: usize, weight: &[f32], out: usize) -> Vec<f32> {
        let mut c = vec![0.0f32; m * out];
        for i in 0..m {
            for n in 0..out {
                c[i * out + n] = (0..k).map(|kk| a[i * k + kk] * weight[n * k + kk]).sum();
            }
        }
        c
    }

    #[test]
    fn every_supported_level_multiplies_like_the_textbook_product_for_every_row_remainder() {
        // 45 columns: a few panels only (the two-panel tiles); 300: the wide tiles of short
        // products with a remainder of panels.
        for (k, out) in [(37, 45), (37, 300)] {
            check_product(k, out);
        }
    }

    fn check_product(k: usize, out: usize) {
        let weight: Vec<f32> = (0..out * k)
            .map(|i| ((i * 7919 % 113) as f32 - 56.0) / 50.0)
            .collect();
        let packed = Packed::from_weight(&weight, out, k, 0, k);
        for m in 1..=19 {
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 104_729 % 97) as f32 - 48.0) / 40.0)
                .collect();
            let expected = reference(&a, m, k, &weight, out);
            for level in SimdLevel::all().into_iter().filter(|l| l.is_supported()) {
                let ldc = packed.n_padded + 3;
                let mut c = vec![f32::NAN; m * ldc];
                gemm(level, &a, k, m, &packed, &mut c, ldc);
                for i in 0..m {
                    for n in 0..out {
                        let (got, want) = (c[i * ldc + n], expected[i * out + n]);
                        assert!(
                            (got - want).abs() < 1e-4,
                            "{level} m={m} [{i}][{n}]: {got} vs {want}"
                        );
                    }
                    assert!(
                        c[i * ldc + out..i * ldc + packed.n_padded]
                            .iter()
                            .all(|&v| v == 0.0),
                        "padding"
                    );
                }
            }
        }
    }

    #[test]
    fn the_approximate_activations_are_within_a_few_ulps_of_libm() {
        for step in -4000..=4000 {
            let x = step as f32 / 100.0;
            let s = 1.0 / (1.0 + (-x).exp());
            assert!(
                (sigmoid(x) - s).abs() <= 2e-7,
                "sigmoid({x}) = {} vs {s}",
                sigmoid(x)
            );
            assert!(
                (tanh(x) - x.tanh()).abs() <= 3e-7,
                "tanh({x}) = {} vs {}",
                tanh(x),
                x.tanh()
            );
            let e = x.exp();
            assert!(((exp_approx(x) - e) / e).abs() <= 3e-7, "exp({x})");
        }
        for x in [-1e30f32, -200.0, 200.0, 1e30] {
            assert!(sigmoid(x).is_finite() && tanh(x).is_finite());
        }
    }
}
