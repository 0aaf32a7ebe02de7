//! The shell reading commands from stdin: a prompt and a terminal's line editing when a tty is
//! attached (`kubectl exec -it … -- sh`), plain line-by-line reading otherwise.

use super::interp::Shell;
use super::io::Streams;
use super::parser;

/// Reads and runs commands until `exit` or end of input; returns the last status.
pub(super) async fn repl(sh: &mut Shell, io: &Streams) -> i32 {
    let mut pending = String::new();
    loop {
        if sh.tty {
            let prompt = if pending.is_empty() { format!("{} # ", shown_dir(sh)) } else { "> ".into() };
            io.stdout.write(prompt.as_bytes()).await;
        }
        let line = if sh.tty {
            read_tty_line(io).await
        } else {
            io.stdin.read_line().await.map(|l| String::from_utf8_lossy(&l).into_owned())
        };
        let Some(line) = line else { break };
        sh.pauses += 1;
        if line.is_empty() {
            // Ctrl-C: the line being typed is dropped.
            pending.clear();
            continue;
        }
        pending.push_str(&line);
        match parser::parse(&pending) {
            Err(err) if err.is_incomplete() => continue,
            Err(err) => {
                io.stderr.write(format!("sh: {err}\n").as_bytes()).await;
                sh.status = 2;
            }
            Ok(script) => {
                sh.run_script(&script, io).await;
            }
        }
        pending.clear();
        if sh.exiting.is_some() {
            break;
        }
    }
    sh.exiting.unwrap_or(sh.status)
}

fn shown_dir(sh: &Shell) -> String {
    match sh.vars.get("HOME") {
        Some(home) if *home == sh.cwd && home != "/" => "~".into(),
        _ => sh.cwd.clone(),
    }
}

/// One line typed at a terminal, echoed back with backspace, Ctrl-U, Ctrl-C and Ctrl-D handled.
/// Returns the line with its newline, an empty string for Ctrl-C, `None` at end of input.
async fn read_tty_line(io: &Streams) -> Option<String> {
    let mut line: Vec<u8> = Vec::new();
    let mut escape = 0u8;
    loop {
        let chunk = io.stdin.read_chunk().await?;
        let mut echo: Vec<u8> = Vec::new();
        for (i, &b) in chunk.iter().enumerate() {
            if escape > 0 {
                // Skip arrow keys and other escape sequences: `ESC [ X`.
                escape = if escape == 1 && b == b'[' { 2 } else { 0 };
                continue;
            }
            match b {
                0x1b => escape = 1,
                b'\r' | b'\n' => {
                    echo.extend_from_slice(b"\r\n");
                    io.stdout.write(&echo).await;
                    let skip_lf = b == b'\r' && chunk.get(i + 1) == Some(&b'\n');
                    io.stdin.unread(chunk[i + 1 + usize::from(skip_lf)..].to_vec()).await;
                    line.push(b'\n');
                    return Some(String::from_utf8_lossy(&line).into_owned());
                }
                0x03 => {
                    io.stdout.write(b"^C\r\n").await;
                    io.stdin.unread(chunk[i + 1..].to_vec()).await;
                    return Some(String::new());
                }
                0x04 if line.is_empty() => {
                    io.stdout.write(&echo).await;
                    return None;
                }
                0x7f | 0x08 if pop_char(&mut line) => echo.extend_from_slice(b"\x08 \x08"),
                // Backspace at the start of the line: nothing to erase.
                0x7f | 0x08 => {}
                0x15 => {
                    while pop_char(&mut line) {
                        echo.extend_from_slice(b"\x08 \x08");
                    }
                }
                b if b >= 0x20 || b == b'\t' => {
                    line.push(b);
                    echo.push(b);
                }
                _ => {}
            }
        }
        io.stdout.write(&echo).await;
    }
}

/// Removes the last UTF-8 character; false when the line was empty.
fn pop_char(line: &mut Vec<u8>) -> bool {
    let Some(mut b) = line.pop() else { return false };
    while b & 0xC0 == 0x80 {
        match line.pop() {
            Some(prev) => b = prev,
            None => break,
        }
    }
    true
}
