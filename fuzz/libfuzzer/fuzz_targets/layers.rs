//! libFuzzer harness for the `layers` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("layers");
