//! The benchmarks' shared measuring helpers: CPU and wake-ups of a process from /proc, order
//! statistics, and the printed Markdown report.

use std::io::Read;
use std::time::Duration;

/// CPU % of one core and wake-ups per second of `pid` over `secs` seconds.
pub async fn sample_cpu(pid: u32, secs: u64) -> (f64, f64) {
    let (cpu, switches) = (cpu_ms(pid), context_switches(pid));
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let used = cpu_ms(pid) - cpu;
    let woke = context_switches(pid).saturating_sub(switches);
    (used / (secs as f64 * 1000.0) * 100.0, woke as f64 / secs as f64)
}

/// utime + stime of a process in ms (clock ticks of 10 ms: USER_HZ is 100 on Linux).
fn cpu_ms(pid: u32) -> f64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    let after = text.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

/// Voluntary and involuntary context switches summed over the process's threads.
fn context_switches(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    let mut total = 0;
    for task in tasks.flatten() {
        let mut text = String::new();
        let _ = std::fs::File::open(task.path().join("status")).and_then(|mut f| f.read_to_string(&mut text));
        total += text
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split(':').nth(1).and_then(|v| v.trim().parse::<u64>().ok()))
            .sum::<u64>();
    }
    total
}

/// The 1-minute load average: how busy the machine was while measuring.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().next().unwrap_or("?").to_string()
}

/// Order statistics of a set of samples, in milliseconds.
pub struct Stats {
    count: usize,
    median: f64,
    p99: f64,
    max: f64,
    /// Whether the target applies to the p99 rather than the median.
    p99_target: bool,
}

impl Stats {
    pub fn of(mut samples: Vec<Duration>) -> Self {
        samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let n = samples.len().max(1);
        let at = |q: usize| samples.get((samples.len() * q / 100).min(n - 1)).copied().map(ms).unwrap_or(0.0);
        Self {
            count: samples.len(),
            median: at(50),
            p99: at(99),
            max: samples.last().copied().map(ms).unwrap_or(0.0),
            p99_target: false,
        }
    }

    pub fn with_p99_target(mut self) -> Self {
        self.p99_target = true;
        self
    }
}

/// The printed result: latency rows, rate rows, then notes.
#[derive(Default)]
pub struct Report {
    rows: Vec<String>,
    others: Vec<String>,
    notes: Vec<String>,
}

impl Report {
    pub fn line(&mut self, what: &str, target: Option<(&str, f64)>, stats: &Stats) {
        let verdict = match target {
            Some((text, limit)) => {
                let value = if stats.p99_target { stats.p99 } else { stats.median };
                format!("{text} {}", if value <= limit { "met" } else { "MISSED" })
            }
            None => String::new(),
        };
        self.rows.push(format!(
            "| {what} | {} | {:.3} | {:.3} | {:.3} | {verdict} |",
            stats.count, stats.median, stats.p99, stats.max
        ));
        eprintln!("{}", self.rows.last().map(String::as_str).unwrap_or_default());
    }

    /// Throughput samples in MB/s; the median is held against a floor.
    pub fn rate(&mut self, what: &str, target: &str, floor: f64, rates: &[f64]) {
        let mut sorted = rates.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
        let all: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let verdict = if median >= floor { "met" } else { "MISSED" };
        self.others
            .push(format!("| {what} | median {median:.0} MB/s (runs: {}) | {target} {verdict} |", all.join(", ")));
        eprintln!("{}", self.others.last().map(String::as_str).unwrap_or_default());
    }

    pub fn cpu(&mut self, what: &str, secs: u64, (percent, wakeups): (f64, f64)) {
        self.others
            .push(format!("| {what} | {percent:.2} % of one core over {secs} s, {wakeups:.0} wake-ups/s | ≈ 0 |"));
        eprintln!("{}", self.others.last().map(String::as_str).unwrap_or_default());
    }

    pub fn note(&mut self, text: String) {
        eprintln!("{text}");
        self.notes.push(text);
    }

    pub fn print(&self) {
        println!("\n| measurement | samples | median ms | p99 ms | max ms | target |");
        println!("|---|---:|---:|---:|---:|---|");
        for row in &self.rows {
            println!("{row}");
        }
        if !self.others.is_empty() {
            println!("\n| measurement | figure | target |\n|---|---|---|");
            for row in &self.others {
                println!("{row}");
            }
        }
        println!();
        for note in &self.notes {
            println!("- {note}");
        }
    }
}
