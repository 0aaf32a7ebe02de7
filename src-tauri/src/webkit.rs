//! WebKitGTK settings that lower the window's idle memory: the lab shows one local page, so it
//! needs no page cache (back/forward snapshots), the smallest cache model, and no GPU compositing
//! (WebKit's compositor keeps layer buffers for the page; software drawing is plenty for panels and
//! tables, and measured it takes the web process from about 214 to 129 MiB).
//!
//! `GITOPS_LAB_WEBKIT=default` leaves WebKit's defaults alone (for measuring the difference).

/// Applies the memory-saving settings to the window's web view (Linux only; elsewhere nothing).
pub fn lean(window: &tauri::WebviewWindow) {
    if std::env::var("GITOPS_LAB_WEBKIT").is_ok_and(|v| v == "default") {
        return;
    }
    #[cfg(target_os = "linux")]
    let _ = window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
        let view = webview.inner();
        if let Some(context) = view.context() {
            // One document, no browsing: the model that keeps the fewest decoded resources.
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        if let Some(settings) = WebViewExt::settings(&view) {
            settings.set_enable_page_cache(false);
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
    });
    #[cfg(not(target_os = "linux"))]
    let _ = window;
}
