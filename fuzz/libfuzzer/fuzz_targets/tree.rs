//! libFuzzer harness for the `tree` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("tree");
