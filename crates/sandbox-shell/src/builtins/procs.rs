//! `ps` and `kill` over the container's process table.

use super::Call;
use crate::interp::Shell;
use crate::procs::SIGNALS;

/// `ps`: busybox's columns; with `-f` (`ps -ef`) procps's full format, as debian-based images show.
pub(crate) async fn ps(sh: &mut Shell, c: &mut Call) -> i32 {
    let _guard = sh.ctx.processes.start(sh.pid, &c.args.join(" "));
    let full = c.args[1..].iter().any(|a| a.starts_with('-') && a.contains('f') || a == "aux");
    let mut out = if full {
        "UID          PID    PPID  C STIME TTY          TIME CMD\n".to_string()
    } else {
        "PID   USER     TIME  COMMAND\n".to_string()
    };
    for p in sh.ctx.processes.list() {
        // Only the processes of a terminal session (exec -t) have a terminal; PID 1 never does.
        let tty = if sh.tty && p.pid != 1 && p.pid >= sh.pid { "pts/0" } else { "?" };
        let started = p.started.to_zoned(jiff::tz::TimeZone::UTC).strftime("%H:%M").to_string();
        if full {
            out.push_str(&format!(
                "{:<8} {:>7} {:>7} {:>2} {:<5} {:<8} {:>8} {}\n",
                "root", p.pid, p.ppid, 0, started, tty, "00:00:00", p.command
            ));
        } else {
            out.push_str(&format!("{:>5} {:<8} {:>4}  {}\n", p.pid, "root", "0:00", p.command));
        }
    }
    c.out(out).await;
    0
}

fn signal_number(spec: &str) -> Option<i32> {
    let name = spec.trim_start_matches("SIG");
    spec.parse().ok().or_else(|| SIGNALS.iter().find(|(_, n)| n.eq_ignore_ascii_case(name)).map(|(num, _)| *num))
}

/// `kill [-SIGNAL | -s SIGNAL | -l] PID…` (default TERM).
pub(crate) async fn kill(sh: &mut Shell, c: &mut Call) -> i32 {
    let mut args = c.args[1..].to_vec();
    let mut signal = 15;
    if args.first().map(String::as_str) == Some("-l") {
        let names: Vec<String> = SIGNALS.iter().map(|(n, name)| format!("{n}) SIG{name}")).collect();
        c.out(format!("{}\n", names.join("\n"))).await;
        return 0;
    }
    if let Some(first) = args.first().cloned() {
        let spec = match first.as_str() {
            "-s" | "-n" if args.len() > 1 => {
                args.remove(0);
                Some(args.remove(0))
            }
            f if f.starts_with('-') && f.len() > 1 => {
                args.remove(0);
                Some(f[1..].to_string())
            }
            _ => None,
        };
        if let Some(spec) = spec {
            match signal_number(&spec) {
                Some(n) => signal = n,
                None => return c.fail(format!("bad signal name '{spec}'")).await,
            }
        }
    }
    if args.is_empty() {
        return c.fail("usage: kill [-s SIG | -SIG] PID...").await;
    }
    let mut status = 0;
    for pid in &args {
        let result = pid
            .parse::<u32>()
            .map_err(|_| format!("invalid number '{pid}'"))
            .and_then(|p| sh.ctx.processes.signal(p, signal));
        if let Err(message) = result {
            status = c.fail(message).await;
        }
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_number_or_name() {
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("TERM"), Some(15));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("BOGUS"), None);
    }
}
