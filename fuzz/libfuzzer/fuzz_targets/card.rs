//! libFuzzer harness for the `card` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("card");
