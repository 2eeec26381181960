//! Makes the built binaries find libtorch without any environment variable.
//!
//! torch-sys (`links = "tch"`) exports the directory it linked against as `DEP_TCH_LIBTORCH_LIB`.
//! We record it as an rpath for `cargo run`/`cargo test`, plus `$ORIGIN/libtorch` for the shipped
//! layout (binary with a `libtorch/` folder beside it, see packaging/). When the provisioned libtorch
//! is the CUDA variant, `torch_cuda` is linked even though no symbol of ours needs it directly:
//! without it libtorch never registers its CUDA backend.

fn main() {
    println!("cargo::rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    if let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") {
        println!("cargo::rustc-link-arg=-Wl,-rpath,{lib_dir}");
        let cuda = std::path::Path::new(&lib_dir).join("libtorch_cuda.so");
        if cuda.exists() {
            println!("cargo::rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,-Wl,--as-needed");
        }
    }
    println!("cargo::rustc-link-arg=-Wl,-rpath,$ORIGIN/libtorch");
}
