//! `cargo xtask demo`: builds the npm package with wasm-pack and reports where it is.

use std::process::Command;

use crate::setup;
use crate::util::{exec, root, step, tool_path};

pub fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "`cargo xtask demo` takes no arguments (got `{arg}`)"
        ));
    }
    setup::run()?;
    let root = root();
    step("building the wasm package (release)");
    exec(
        Command::new("wasm-pack")
            .args(["build", "--release", "--target", "web", "--out-dir", "pkg"])
            .current_dir(&root)
            .env("PATH", tool_path()),
    )?;
    let wasm = root.join("pkg").join("wa_wasm_bg.wasm");
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    println!("\nthe npm package is in {}", root.join("pkg").display());
    println!("{} is {} bytes", wasm.display(), size);
    Ok(())
}
