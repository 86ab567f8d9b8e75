//! Installs what the build and tests need, only when it is missing:
//! the wasm32 target, rustfmt/clippy, pinned wasm-pack and wasm-bindgen-cli
//! (built from crates.io into `~/.cargo/bin`, so later runs reuse them),
//! Debian's chromium, chromium-driver and nginx (the relay test), and the npm dev packages.

use std::path::Path;
use std::process::Command;

use crate::util::{exec, locked_version, output_line, root, step};

/// wasm-pack is pinned; its own downloads are avoided by giving it wasm-bindgen
/// and wasm-opt on PATH.
const WASM_PACK_VERSION: &str = "0.15.1";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const NGINX: &str = "/usr/sbin/nginx";

pub fn run() -> Result<(), String> {
    step("setup: checking the toolchain");
    rust_parts()?;
    chromium()?;
    cargo_tool("wasm-pack", "wasm-pack", WASM_PACK_VERSION, true)?;
    let wasm_bindgen_version = locked_version("wasm-bindgen")?;
    // wasm-bindgen-cli's own lockfile pins a crate version some registries lack,
    // so it is installed without --locked.
    cargo_tool(
        "wasm-bindgen",
        "wasm-bindgen-cli",
        &wasm_bindgen_version,
        false,
    )?;
    npm_packages()?;
    println!("setup: everything is in place");
    Ok(())
}

fn rust_parts() -> Result<(), String> {
    let installed = output_line_all("rustup", &["target", "list", "--installed"]);
    if !installed.iter().any(|t| t == "wasm32-unknown-unknown") {
        exec(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let components = output_line_all("rustup", &["component", "list", "--installed"]);
    for component in ["rustfmt", "clippy"] {
        if !components.iter().any(|c| c.starts_with(component)) {
            exec(Command::new("rustup").args(["component", "add", component]))?;
        }
    }
    Ok(())
}

fn output_line_all(program: &str, args: &[&str]) -> Vec<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|text| text.lines().map(|l| l.trim().to_owned()).collect())
        .unwrap_or_default()
}

fn chromium() -> Result<(), String> {
    if [CHROMIUM, CHROMEDRIVER, NGINX]
        .iter()
        .all(|path| Path::new(path).exists())
    {
        return Ok(());
    }
    println!("setup: installing Debian's chromium, chromium-driver and nginx");
    let is_root = output_line("id", &["-u"]).is_some_and(|uid| uid == "0");
    let apt = |args: &[&str]| {
        let mut cmd = if is_root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    exec(&mut apt(&["update", "-qq"]))?;
    exec(&mut apt(&[
        "install",
        "-y",
        "-qq",
        "chromium",
        "chromium-driver",
        "nginx",
    ]))
}

fn cargo_tool(binary: &str, package: &str, version: &str, locked: bool) -> Result<(), String> {
    let current = output_line(binary, &["--version"]).unwrap_or_default();
    if current.split_whitespace().nth(1) == Some(version) {
        return Ok(());
    }
    println!("setup: installing {package} {version} (found: {current:?})");
    let mut cmd = Command::new("cargo");
    cmd.args(["install", package, "--version", version, "--force"]);
    if locked {
        cmd.arg("--locked");
    }
    exec(&mut cmd)
}

fn npm_packages() -> Result<(), String> {
    let root = root();
    let lock = root.join("package-lock.json");
    let installed = root.join("node_modules").join(".package-lock.json");
    let fresh = match (std::fs::metadata(&lock), std::fs::metadata(&installed)) {
        (Ok(lock), Ok(installed)) => match (lock.modified(), installed.modified()) {
            (Ok(a), Ok(b)) => b >= a,
            _ => false,
        },
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    println!("setup: installing npm packages from package-lock.json");
    exec(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root),
    )
}
