//! libFuzzer harness for the `zoo` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("zoo");
