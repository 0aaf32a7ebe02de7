//! Builds the Tauri context: the shell's own commands (so the capability file can allow exactly
//! them) and the embedded UI. When `ui/dist` does not exist yet, a placeholder page that says how
//! to build the UI is written there, because Tauri's context macro needs the folder at compile time.

use std::path::Path;

fn main() {
    let dist = Path::new("../ui/dist");
    if !dist.join("index.html").exists() {
        std::fs::create_dir_all(dist).expect("cannot create ui/dist");
        std::fs::write(dist.join("index.html"), PLACEHOLDER).expect("cannot write ui/dist/index.html");
    }
    let manifest = tauri_build::AppManifest::new().commands(&["command", "subscribe", "open_url"]);
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(manifest)).expect("tauri-build failed");
}

const PLACEHOLDER: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>GitOps Lab</title>\
<h1>The lab's UI is not built yet</h1><p>Run <code>scripts/lab</code>, or <code>ui/build.sh</code> and then build this \
window again.</p><h1 lang=\"zh-CN\">实验室界面尚未构建</h1><p lang=\"zh-CN\">请运行 <code>scripts/lab</code>，或先运行 \
<code>ui/build.sh</code> 再重新构建此窗口。</p></html>\n";
