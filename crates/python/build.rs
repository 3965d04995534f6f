//! Link arguments of a Python extension module (macOS: resolve the interpreter's symbols at
//! load time; nothing elsewhere), so that `cargo build --workspace` links the module too.

fn main() {
    pyo3_build_config::add_extension_module_link_args();
}
