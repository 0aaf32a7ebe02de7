//! Redirections: opening files of the container's filesystem as a command's streams.

use super::ast::{Redir, RedirOp};
use super::interp::Shell;
use super::io::{Input, Sink, Streams};
use super::vfs::FsError;

/// The reason part of a filesystem error, as the shell prints it after the path.
pub(super) fn reason(err: &FsError) -> &'static str {
    match err {
        FsError::NotFound(_) => "No such file or directory",
        FsError::IsDirectory(_) => "Is a directory",
        FsError::NotDirectory(_) => "Not a directory",
        FsError::ReadOnly(_) => "Read-only file system",
        FsError::NotEmpty(_) => "Directory not empty",
    }
}

impl Shell {
    /// The streams after applying `redirs` in order; an error is the message to print.
    pub(super) async fn redirect(&mut self, redirs: &[Redir], io: &Streams) -> Result<Streams, String> {
        let mut io = io.clone();
        for redir in redirs {
            let target = self.expand_string(&redir.target).await;
            match redir.op {
                RedirOp::HereDoc => io.stdin = Input::bytes(target.into_bytes()),
                RedirOp::In => io.stdin = self.open_read(&target)?,
                RedirOp::Out | RedirOp::Append => {
                    let sink = match target.as_str() {
                        "/dev/stdout" => io.stdout.clone(),
                        "/dev/stderr" => io.stderr.clone(),
                        _ => self.open_write(&target, redir.op == RedirOp::Append)?,
                    };
                    set_output(&mut io, redir.fd, sink);
                }
                RedirOp::Both { append } => {
                    let sink = self.open_write(&target, append)?;
                    io.stdout = sink.clone();
                    io.stderr = sink;
                }
                RedirOp::Dup => {
                    let sink = match target.as_str() {
                        "1" => io.stdout.clone(),
                        "2" => io.stderr.clone(),
                        "-" => Sink::Null,
                        "0" if redir.fd == 0 => continue,
                        other => return Err(format!("sh: {other}: bad file descriptor\n")),
                    };
                    set_output(&mut io, redir.fd, sink);
                }
            }
        }
        Ok(io)
    }

    fn open_read(&self, target: &str) -> Result<Input, String> {
        if target == "/dev/null" {
            return Ok(Input::Null);
        }
        self.ctx
            .fs
            .read(&self.abs(target))
            .map(Input::bytes)
            .map_err(|e| format!("sh: can't open '{target}': {}\n", reason(&e)))
    }

    fn open_write(&self, target: &str, append: bool) -> Result<Sink, String> {
        if target == "/dev/null" {
            return Ok(Sink::Null);
        }
        let path = self.abs(target);
        let parent = path.rsplit_once('/').map(|(p, _)| if p.is_empty() { "/" } else { p }).unwrap_or("/");
        if self.ctx.fs.is_dir(parent) != Some(true) {
            return Err(format!("sh: can't create {target}: nonexistent directory\n"));
        }
        self.ctx
            .fs
            .write(&path, Vec::new(), append)
            .map_err(|e| format!("sh: can't create {target}: {}\n", reason(&e)))?;
        Ok(Sink::File { fs: self.ctx.fs.clone(), path })
    }
}

fn set_output(io: &mut Streams, fd: u32, sink: Sink) {
    match fd {
        1 => io.stdout = sink,
        2 => io.stderr = sink,
        // Other descriptors have no readers in the simulated commands.
        _ => {}
    }
}
