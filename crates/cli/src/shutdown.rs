//! When a long-running command stops: SIGINT or SIGTERM, or the parent closing standard input
//! (the lab's supervisor runs the sandbox with `--stop-with-stdin`, so an orphan never outlives it).

/// Resolves on SIGINT or SIGTERM, or (with `stop_with_stdin`) when standard input reaches its end.
pub async fn shutdown_signal(stop_with_stdin: bool) {
    let stdin_closed = async move {
        if !stop_with_stdin {
            return std::future::pending().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buffer = [0u8; 256];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stdin, &mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::select! {
        _ = signals() => {},
        _ = stdin_closed => {},
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn signals() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
