//! `cargo xtask demo`: builds the npm package, starts `wa-sim`, serves the demo page.
//! `cargo xtask package`: only builds the npm package (web + bundler) and reports its size.
//! Also the Playwright run of the demo that `cargo xtask test` calls ([`playwright`]).
//!
//! The page (`www/`) reads `/config.json`, generated here from the simulator's
//! banner line, so it knows the socket URL, the root key to pin and the control API.

mod serve;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use wa_relay_test::{NginxRelay, free_port, relay_conf_path, rewrite_for_test};

use crate::setup::{self, CHROMIUM};
use crate::util::{exec, exec_capture, root, step, tool_path};

/// The port the demo page is served on unless `--port` says otherwise.
const DEFAULT_PORT: u16 = 8000;

struct DemoArgs {
    port: u16,
    sim_port: u16,
    state: Option<PathBuf>,
    relay: bool,
}

fn parse_args(args: &[String]) -> Result<DemoArgs, String> {
    let mut parsed = DemoArgs {
        port: DEFAULT_PORT,
        sim_port: 0,
        state: Some(root().join("target").join("demo").join("wa-sim-state.json")),
        relay: false,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("`{flag}` needs a value"));
        let port = |text: &String| {
            text.parse::<u16>()
                .map_err(|_| format!("`{flag}`: not a port: {text}"))
        };
        match flag.as_str() {
            "--port" => parsed.port = port(value()?)?,
            "--sim-port" => parsed.sim_port = port(value()?)?,
            "--fresh" => parsed.state = None,
            "--relay" => parsed.relay = true,
            "--help" | "-h" => {
                return Err(
                    "usage: cargo xtask demo [--port 8000] [--sim-port 0] [--fresh] [--relay]\n  \
                     --port      port of the demo page (0 picks one)\n  \
                     --sim-port  port of wa-sim (0 picks one)\n  \
                     --fresh     do not keep the simulator's accounts and links in target/demo/\n  \
                     --relay     also run deploy/nginx/wa-relay.conf (Debian's nginx) in front of wa-sim"
                        .to_owned(),
                );
            }
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(parsed)
}

pub fn run(args: &[String]) -> Result<(), String> {
    let args = parse_args(args)?;
    setup::run()?;
    let root = root();
    let path = tool_path();
    build_package(&root, &path, &[Target::Web, Target::Bundler])?;

    step("starting wa-sim");
    let mut sim_args = vec!["--port".to_owned(), args.sim_port.to_string()];
    if let Some(state) = &args.state {
        if let Some(dir) = state.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        sim_args.push("--state".to_owned());
        sim_args.push(state.display().to_string());
    }
    let sim = SimProcess::start(&root, &path, &sim_args)?;

    step("serving the demo");
    let relay_port = if args.relay {
        Some(free_port().map_err(|e| e.to_string())?)
    } else {
        None
    };
    let relay_url = relay_port.map(relay_ws_url);
    let addr = serve::start(site(&root, &sim.info, relay_url.as_deref()), args.port)?;
    let _relay = match relay_port {
        Some(port) => Some(start_relay(&sim.info, port, &format!("http://{addr}"))?),
        None => None,
    };
    let url = format!("http://{addr}/");
    if let Some(relay) = &relay_url {
        println!("  relay:      {relay} (nginx, deploy/nginx/wa-relay.conf) → wa-sim");
    }
    println!(
        "\n  demo:       {url}\n  simulator:  {url}#simulator (panel on the page), control API {}\n  wa-sim:     ws={} root={}\n\n\
         Open the demo URL in a browser, press Connect, then \"Scan with simulated phone\".\n\
         Press Ctrl-C to stop.",
        sim.info.control, sim.info.ws, sim.info.root
    );
    sim.wait()
}

/// Builds the package and reports its size, nothing else.
pub fn package(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "`cargo xtask package` takes no arguments (got `{arg}`)"
        ));
    }
    setup::run()?;
    build_package(&root(), &tool_path(), &[Target::Web, Target::Bundler])
}

/// Runs the demo end to end in Chromium with Playwright (`tests/playwright/demo.mjs`)
/// against a fresh `wa-sim`, with screenshots in `artifacts/playwright/`.
/// Returns the script's output (it ends with `# pass N` / `# fail N`).
pub fn playwright() -> Result<Vec<String>, String> {
    let root = root();
    let path = tool_path();
    build_package(&root, &path, &[Target::Web])?;
    run_playwright(&root, &path)
}

/// `cargo xtask playwright [--no-build]`: only the Playwright run of the demo.
pub fn playwright_task(args: &[String]) -> Result<(), String> {
    let root = root();
    let path = tool_path();
    match args.first().map(String::as_str) {
        None => {
            setup::run()?;
            build_package(&root, &path, &[Target::Web])?;
        }
        Some("--no-build") => {}
        Some(other) => return Err(format!("unknown argument `{other}` (only --no-build)")),
    }
    run_playwright(&root, &path).map(|_| ())
}

fn run_playwright(root: &Path, path: &str) -> Result<Vec<String>, String> {
    step("demo end to end (Playwright, headless Chromium)");
    let sim = SimProcess::start(root, path, &["--port".to_owned(), "0".to_owned()])?;
    let relay_port = free_port().map_err(|e| e.to_string())?;
    let addr = serve::start(site(root, &sim.info, Some(&relay_ws_url(relay_port))), 0)?;
    let _relay = start_relay(&sim.info, relay_port, &format!("http://{addr}"))?;
    let artifacts = root.join("artifacts").join("playwright");
    std::fs::create_dir_all(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
    exec_capture(
        Command::new("node")
            .arg(root.join("tests").join("playwright").join("demo.mjs"))
            .current_dir(root)
            .env("PATH", path)
            .env("DEMO_URL", format!("http://{addr}/"))
            .env("WA_SIM_CONTROL", &sim.info.control)
            .env("RELAY_WS", relay_ws_url(relay_port))
            .env("CHROMIUM", CHROMIUM)
            .env("ARTIFACTS", &artifacts),
    )
}

fn relay_ws_url(port: u16) -> String {
    format!("ws://127.0.0.1:{port}/ws/chat")
}

/// Runs `deploy/nginx/wa-relay.conf` on `127.0.0.1:port` in front of wa-sim, allowing
/// pages from `page_origin` (the relay's test rewrite of its marked lines).
fn start_relay(sim: &SimInfo, port: u16, page_origin: &str) -> Result<NginxRelay, String> {
    let conf_path = relay_conf_path();
    let conf =
        std::fs::read_to_string(&conf_path).map_err(|e| format!("{}: {e}", conf_path.display()))?;
    let upstream = sim.ws.replacen("ws://", "http://", 1);
    let conf = rewrite_for_test(&conf, port, &upstream, page_origin).map_err(|e| e.to_string())?;
    NginxRelay::start(&conf, port).map_err(|e| e.to_string())
}

/// The demo site: `www/` at the root, the web package under `/pkg/`, and `/config.json`.
fn site(root: &Path, sim: &SimInfo, relay: Option<&str>) -> serve::Site {
    let config = format!(
        "{{\n  \"ws\": {},\n  \"root\": {},\n  \"control\": {},\n  \"relay\": {}\n}}\n",
        json_string(&sim.ws),
        json_string(&sim.root),
        json_string(&sim.control),
        relay.map(json_string).unwrap_or_else(|| "null".to_owned())
    );
    serve::Site::default()
        .mount("", root.join("www"))
        .mount("/pkg", root.join("pkg").join("web"))
        .document("/config.json", "application/json", config.into_bytes())
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Web,
    Bundler,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Web => "web",
            Target::Bundler => "bundler",
        }
    }
}

/// `wasm-pack build --release --target T --out-dir pkg/T` for each target, the
/// package README from `deploy/npm/README.md`, then the wasm size raw and gzipped.
fn build_package(root: &Path, path: &str, targets: &[Target]) -> Result<(), String> {
    let readme = root.join("deploy").join("npm").join("README.md");
    for target in targets {
        step(&format!(
            "building the npm package (--target {})",
            target.name()
        ));
        let out = root.join("pkg").join(target.name());
        exec(
            Command::new("wasm-pack")
                .args(["build", "--release", "--target", target.name(), "--out-dir"])
                .arg(&out)
                .current_dir(root)
                .env("PATH", path),
        )?;
        std::fs::copy(&readme, out.join("README.md"))
            .map_err(|e| format!("copying {}: {e}", readme.display()))?;
        let wasm = out.join("wa_wasm_bg.wasm");
        let (raw, gzip) = wasm_size(&wasm)?;
        println!(
            "package {}: {} ({raw} bytes raw, {gzip} bytes gzip -9)",
            target.name(),
            out.display()
        );
    }
    Ok(())
}

/// Raw and `gzip -9` size of a file.
pub fn wasm_size(wasm: &Path) -> Result<(u64, u64), String> {
    let raw = std::fs::metadata(wasm)
        .map_err(|e| format!("{}: {e}", wasm.display()))?
        .len();
    let gzip = Command::new("sh")
        .arg("-c")
        .arg("gzip -9 -c \"$0\" | wc -c")
        .arg(wasm)
        .output()
        .map_err(|e| format!("gzip: {e}"))?;
    let gzip = String::from_utf8_lossy(&gzip.stdout)
        .trim()
        .parse()
        .map_err(|_| "cannot read the gzip size".to_owned())?;
    Ok((raw, gzip))
}

/// What `wa-sim` printed in its banner line.
#[derive(Debug, Clone)]
struct SimInfo {
    ws: String,
    root: String,
    control: String,
}

impl SimInfo {
    /// Parses `wa-sim listening ws=… root=… control=…`.
    fn parse(line: &str) -> Option<SimInfo> {
        let rest = line.trim().strip_prefix("wa-sim listening ")?;
        let field = |name: &str| {
            rest.split_whitespace()
                .find_map(|part| part.strip_prefix(name))
                .map(str::to_owned)
        };
        Some(SimInfo {
            ws: field("ws=")?,
            root: field("root=")?,
            control: field("control=")?,
        })
    }
}

/// A running `wa-sim` binary; killed when dropped.
struct SimProcess {
    child: Child,
    info: SimInfo,
}

impl SimProcess {
    fn start(root: &Path, path: &str, args: &[String]) -> Result<SimProcess, String> {
        exec(
            Command::new("cargo")
                .args(["build", "-q", "-p", "wa-sim", "--bin", "wa-sim"])
                .current_dir(root)
                .env("PATH", path),
        )?;
        let binary = root.join("target").join("debug").join("wa-sim");
        let mut child = Command::new(&binary)
            .args(args)
            .args(["--log", "warn"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| "wa-sim: no stdout".to_owned())?;
        let mut lines = BufReader::new(stdout).lines();
        let info = loop {
            let Some(Ok(line)) = lines.next() else {
                let _ = child.kill();
                return Err("wa-sim exited before printing its banner".to_owned());
            };
            println!("{line}");
            if let Some(info) = SimInfo::parse(&line) {
                break info;
            }
        };
        // Keep draining its output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                println!("wa-sim: {line}");
            }
        });
        Ok(SimProcess { child, info })
    }

    /// Waits until the simulator exits (Ctrl-C stops both it and this task).
    fn wait(mut self) -> Result<(), String> {
        let status = self.child.wait().map_err(|e| format!("wa-sim: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("wa-sim stopped ({status})"))
        }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_banner_line() {
        let info = SimInfo::parse(
            "wa-sim listening ws=ws://127.0.0.1:41000/ws/chat root=ab12 control=http://127.0.0.1:41000/control",
        )
        .unwrap();
        assert_eq!(info.ws, "ws://127.0.0.1:41000/ws/chat");
        assert_eq!(info.root, "ab12");
        assert_eq!(info.control, "http://127.0.0.1:41000/control");
        assert!(SimInfo::parse("accounts: 3").is_none());
    }

    #[test]
    fn config_strings_are_json_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
