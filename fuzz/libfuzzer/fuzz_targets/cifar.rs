//! libFuzzer harness for the `cifar` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("cifar");
