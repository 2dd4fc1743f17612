//! libFuzzer harness for the `text` target of `peephole-fuzz`.
#![no_main]
peephole_libfuzzer::harness!("text");
