//! Checks shared by the generator tests.

/// Asserts that `count` of `n` draws is within 5 standard deviations of the spec's `p`.
///
/// Why 5 standard deviations: a frequency over n independent draws has standard deviation
/// sqrt(p(1-p)/n) and, for the thousands of draws each cell gets in these tests, is close to
/// normal. A correct generator lands outside 5 sigma with probability ~5.7e-7 per cell, so
/// the ~100 cells of a test file fail by chance with probability ~6e-5 in all, for any seed;
/// the bound is tight enough to catch a probability moved by 0.02. A cell the spec gives
/// probability 0 has no variance at all: it must be exactly 0, not "within 5 sigma of 0".
pub fn assert_frequency(what: &str, count: u64, n: u64, p: f64) {
    assert!(n > 0, "{what}: no observations");
    if p == 0.0 {
        assert_eq!(
            count, 0,
            "{what}: the spec gives probability 0, seen {count} of {n}"
        );
        return;
    }
    let frequency = count as f64 / n as f64;
    let sigma = (p * (1.0 - p) / n as f64).sqrt();
    assert!(
        (frequency - p).abs() <= 5.0 * sigma,
        "{what}: {count}/{n} = {frequency:.5}, spec {p}, bound 5 sigma = {:.5}",
        5.0 * sigma
    );
}
