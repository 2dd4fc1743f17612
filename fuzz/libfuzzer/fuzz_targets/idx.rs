//! libFuzzer harness for the `idx` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("idx");
