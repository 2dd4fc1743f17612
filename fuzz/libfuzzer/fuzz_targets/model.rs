//! libFuzzer harness for the `model` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("model");
