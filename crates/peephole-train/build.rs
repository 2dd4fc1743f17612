//! Lets this crate's binaries and tests find libtorch without LD_LIBRARY_PATH: torch-sys
//! tells us where libtorch lives, and we bake that directory into the rpath.

fn main() {
    if let Ok(lib) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{lib}");
    }
}
