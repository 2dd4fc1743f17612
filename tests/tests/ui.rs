//! Compile-fail UI tests: every malformed declaration is an error at the offending token,
//! all errors of a call are reported at once, and a rule warning can be denied. The expected
//! compiler output is in `ui/fail/*.stderr` (regenerate with `TRYBUILD=overwrite`).

#[test]
fn malformed_declarations_fail_with_errors_at_the_offending_tokens() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/fail/*.rs");
}
