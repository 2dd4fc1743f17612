//! Byte-level dataset file formats: bytes in, shaped `u8` arrays out. No knowledge of splits or
//! normalization, so each reader can be fuzzed on its own.

pub mod cifar;
pub mod idx;
