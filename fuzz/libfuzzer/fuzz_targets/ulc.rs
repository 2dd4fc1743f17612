//! libFuzzer harness for the `ulc` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("ulc");
