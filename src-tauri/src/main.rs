//! The GitOps Lab desktop shell. Until the UI issue brings Tauri in, it says where to go instead.

fn main() {
    eprintln!(
        "The desktop window is not built yet. Run `scripts/lab` for the sandbox cluster \
         (桌面窗口尚未构建。请运行 `scripts/lab` 启动沙盒集群)."
    );
    std::process::exit(2);
}
