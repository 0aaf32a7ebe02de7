//! Where commands read and write: stdin sources and stdout/stderr sinks, cheap to clone and pass
//! down to pipelines, redirections and nested shells.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::Output;
use super::vfs::Filesystem;

/// A source of standard input.
#[derive(Clone, Default)]
pub enum Input {
    /// Nothing: reads see end of file at once.
    #[default]
    Null,
    /// Bytes already known (a pipe stage's input, a file, a here-document).
    Buffer(Arc<Mutex<(Vec<u8>, usize)>>),
    /// The caller's stream. A tokio mutex, because a reader holds it across the wait for data.
    Stream(Arc<tokio::sync::Mutex<StreamInput>>),
}

/// The caller's stdin stream and what was received but not consumed yet.
pub struct StreamInput {
    rx: mpsc::Receiver<Bytes>,
    pending: Vec<u8>,
}

impl Input {
    /// Input that yields `bytes`.
    pub fn bytes(bytes: Vec<u8>) -> Self {
        Self::Buffer(Arc::new(Mutex::new((bytes, 0))))
    }

    /// Input read from a channel.
    pub fn stream(rx: mpsc::Receiver<Bytes>) -> Self {
        Self::Stream(Arc::new(tokio::sync::Mutex::new(StreamInput { rx, pending: Vec::new() })))
    }

    /// Everything up to end of file.
    pub async fn read_all(&self) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(chunk) = self.read_chunk().await {
            all.extend(chunk);
        }
        all
    }

    /// The next bytes available, `None` at end of file.
    pub async fn read_chunk(&self) -> Option<Vec<u8>> {
        match self {
            Self::Null => None,
            Self::Buffer(buf) => {
                let mut guard = buf.lock().unwrap_or_else(|e| e.into_inner());
                let (data, pos) = &mut *guard;
                let rest = data.get(*pos..).filter(|r| !r.is_empty())?.to_vec();
                *pos = data.len();
                Some(rest)
            }
            Self::Stream(stream) => {
                let mut stream = stream.lock().await;
                if !stream.pending.is_empty() {
                    return Some(std::mem::take(&mut stream.pending));
                }
                stream.rx.recv().await.map(|b| b.to_vec())
            }
        }
    }

    /// One line including its newline (the last one may lack it), `None` at end of file.
    pub async fn read_line(&self) -> Option<Vec<u8>> {
        let mut line = Vec::new();
        loop {
            let chunk = match self.read_chunk().await {
                Some(chunk) => chunk,
                None => return (!line.is_empty()).then_some(line),
            };
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&chunk[..=i]);
                    self.unread(chunk[i + 1..].to_vec()).await;
                    return Some(line);
                }
                None => line.extend(chunk),
            }
        }
    }

    /// Puts bytes back in front of the input.
    pub async fn unread(&self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        match self {
            Self::Null => {}
            Self::Buffer(buf) => {
                let mut guard = buf.lock().unwrap_or_else(|e| e.into_inner());
                let (data, pos) = &mut *guard;
                let mut rest = bytes;
                rest.extend_from_slice(data.get(*pos..).unwrap_or_default());
                *data = rest;
                *pos = 0;
            }
            Self::Stream(stream) => {
                let mut stream = stream.lock().await;
                let mut rest = bytes;
                rest.append(&mut stream.pending);
                stream.pending = rest;
            }
        }
    }
}

/// A destination for standard output or error.
#[derive(Clone, Default)]
pub enum Sink {
    /// Discards everything (`/dev/null`).
    #[default]
    Null,
    /// The caller's output channel; `crlf` turns `\n` into `\r\n` as a terminal does.
    Channel {
        /// The channel.
        tx: mpsc::Sender<Output>,
        /// Whether this is standard error.
        stderr: bool,
        /// Whether a tty translates newlines.
        crlf: bool,
    },
    /// Collected in memory (a pipe stage, a command substitution).
    Buffer(Arc<Mutex<Vec<u8>>>),
    /// Appended to a file of the container's filesystem (already created or truncated).
    File {
        /// The filesystem.
        fs: Filesystem,
        /// The absolute path.
        path: String,
    },
}

impl Sink {
    /// A new in-memory sink.
    pub fn buffer() -> Self {
        Self::Buffer(Arc::default())
    }

    /// What an in-memory sink holds (empty for other sinks).
    pub fn contents(&self) -> Vec<u8> {
        match self {
            Self::Buffer(buf) => buf.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            _ => Vec::new(),
        }
    }

    /// Writes bytes; a closed channel or a failed file write is ignored, like a closed pipe.
    pub async fn write(&self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self {
            Self::Null => {}
            Self::Channel { tx, stderr, crlf } => {
                let data = if *crlf { crlf_bytes(bytes) } else { bytes.to_vec() };
                let data = Bytes::from(data);
                let _ = tx.send(if *stderr { Output::Stderr(data) } else { Output::Stdout(data) }).await;
            }
            Self::Buffer(buf) => buf.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(bytes),
            Self::File { fs, path } => {
                let _ = fs.write(path, bytes.to_vec(), true);
            }
        }
    }
}

fn crlf_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 8);
    let mut prev = 0u8;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// The three standard streams of a command.
#[derive(Clone, Default)]
pub struct Streams {
    /// Standard input.
    pub stdin: Input,
    /// Standard output.
    pub stdout: Sink,
    /// Standard error.
    pub stderr: Sink,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_come_one_at_a_time_across_chunks() {
        let (tx, rx) = mpsc::channel(4);
        tx.send(Bytes::from_static(b"ab")).await.unwrap();
        tx.send(Bytes::from_static(b"c\nde\n")).await.unwrap();
        drop(tx);
        let input = Input::stream(rx);
        assert_eq!(input.read_line().await.unwrap(), b"abc\n");
        assert_eq!(input.read_line().await.unwrap(), b"de\n");
        assert_eq!(input.read_line().await, None);
    }

    #[tokio::test]
    async fn terminal_sinks_translate_newlines() {
        let (tx, mut rx) = mpsc::channel(4);
        Sink::Channel { tx, stderr: false, crlf: true }.write(b"a\nb\r\n").await;
        assert_eq!(rx.recv().await.unwrap(), Output::Stdout(Bytes::from_static(b"a\r\nb\r\n")));
    }
}
