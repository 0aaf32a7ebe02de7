//! Whether one more learner fits: the class size limit and the machine's available memory.

use gitops_lab::protocol::Text;

/// The limits a join is checked against.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// At most this many learners.
    pub max_learners: usize,
    /// Memory to leave free for the system, in bytes.
    pub reserve: u64,
    /// What one more learner needs, in bytes.
    pub per_learner: u64,
}

/// Refuses a join with a "please wait" message when the class is full or memory is short.
/// `available` is the machine's available memory (`None` when it cannot be read: not checked).
pub fn admit(limits: &Limits, learners: usize, available: Option<u64>) -> Result<(), Text> {
    if learners >= limits.max_learners {
        return Err(Text::new(
            format!(
                "The workshop is full ({} learners). Please wait: tell your instructor, who can make room.",
                limits.max_learners
            ),
            format!("工作坊已满（{} 名学员）。请稍候，并告诉讲师，讲师可以腾出名额。", limits.max_learners),
        ));
    }
    if let Some(available) = available
        && available < limits.reserve.saturating_add(limits.per_learner)
    {
        return Err(Text::new(
            format!(
                "The workshop's machine has too little free memory for another sandbox right now ({} MiB available). Please wait a minute and try again, or tell your instructor.",
                available >> 20
            ),
            format!(
                "工作坊的机器目前内存不足，无法再启动一个沙箱（可用 {} MiB）。请稍等一分钟再试，或告诉讲师。",
                available >> 20
            ),
        ));
    }
    Ok(())
}

/// The machine's available memory (`MemAvailable` of `/proc/meminfo`), when it can be read.
pub fn available_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_available(&text)
}

fn parse_available(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits { max_learners: 2, reserve: 100 << 20, per_learner: 50 << 20 };

    #[test]
    fn a_full_class_or_short_memory_asks_to_wait() {
        assert!(admit(&LIMITS, 1, Some(1 << 30)).is_ok());
        assert!(admit(&LIMITS, 1, None).is_ok());
        assert!(admit(&LIMITS, 2, Some(1 << 30)).unwrap_err().en.contains("full (2 learners)"));
        let short = admit(&LIMITS, 0, Some(120 << 20)).unwrap_err();
        assert!(short.en.contains("120 MiB available") && short.en.contains("Please wait"), "{}", short.en);
    }

    #[test]
    fn meminfo_is_read_in_kib() {
        let text = "MemTotal:  2000 kB\nMemFree: 10 kB\nMemAvailable:    1024 kB\n";
        assert_eq!(parse_available(text), Some(1 << 20));
        assert_eq!(parse_available("MemTotal: 1 kB\n"), None);
        assert!(available_memory().is_some());
    }
}
