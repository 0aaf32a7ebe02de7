//! Embeds the built UI (`ui/dist`, or `$GITOPS_LAB_UI_DIST`) into the `gitops-lab` binary.
//!
//! Writes `$OUT_DIR/ui_assets.rs`: one entry per file with its content type, an ETag and a gzip copy.
//! When the UI has not been built the list is empty and web mode serves a page that says how to
//! build it, so `cargo build` of the binary never depends on the wasm toolchain.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=GITOPS_LAB_UI_DIST");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let ui = manifest_dir.join("../../ui");
    let dist = std::env::var_os("GITOPS_LAB_UI_DIST").map(PathBuf::from).unwrap_or_else(|| ui.join("dist"));
    // Watch the folder that exists: dist once built, else ui/ (its mtime changes when dist appears).
    // The default is named relative to this package, which cargo resolves in the checkout it builds:
    // an absolute path would keep pointing at another checkout sharing the same target directory.
    let watched = match std::env::var_os("GITOPS_LAB_UI_DIST") {
        Some(_) if dist.is_dir() => dist.clone(),
        _ if dist.is_dir() => PathBuf::from("../../ui/dist"),
        _ => PathBuf::from("../../ui"),
    };
    println!("cargo:rerun-if-changed={}", watched.display());
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut files = Vec::new();
    if dist.is_dir() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut code = String::from("/// The UI's files: path, content type, ETag, raw bytes, gzip bytes.\n");
    code.push_str("pub static ASSETS: &[Asset] = &[\n");
    for relative in &files {
        let path = dist.join(relative);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let gzip_path = out_dir.join(format!("{}.gz", relative.replace('/', "__")));
        std::fs::write(&gzip_path, gzip(&bytes))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", gzip_path.display()));
        // The default dist is named from the package at compile time, not by this script's absolute
        // path: a target directory shared by two checkouts may reuse this output for the other one.
        let raw = match std::env::var_os("GITOPS_LAB_UI_DIST") {
            Some(_) => format!("{:?}", path.display().to_string()),
            None => format!("concat!(env!(\"CARGO_MANIFEST_DIR\"), {:?})", format!("/../../ui/dist/{relative}")),
        };
        writeln!(
            code,
            "    Asset {{ path: {relative:?}, content_type: {:?}, etag: \"\\\"{:016x}\\\"\", raw: include_bytes!({raw}), gzip: include_bytes!({:?}) }},",
            content_type(relative),
            fnv(&bytes),
            gzip_path.display().to_string(),
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    std::fs::write(out_dir.join("ui_assets.rs"), code).expect("cannot write ui_assets.rs");
}

/// Every file under `dir`, as paths relative to `root` with `/` separators.
fn collect(root: &Path, dir: &Path, files: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue; // build stamps and editor files
        } else if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            files.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// FNV-1a: a stable content hash for the ETag (not for security).
fn fnv(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3))
}
