//! libFuzzer harness for the `predict` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("predict");
