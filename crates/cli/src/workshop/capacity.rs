//! Whether one more learner fits: the class size limit and the memory available to the server
//! (the machine's, or its container's limit when that is smaller).

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

/// The memory this server may still use: the machine's available memory (`MemAvailable` of
/// `/proc/meminfo`), or less when the server runs in a cgroup with a memory limit (a container
/// with `resources.limits.memory`), whose room is then the limit. `None` when neither can be read.
pub fn available_memory() -> Option<u64> {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| parse_available(&text));
    let cgroup = cgroup_room();
    match (machine, cgroup) {
        (Some(machine), Some(cgroup)) => Some(machine.min(cgroup)),
        (machine, cgroup) => machine.or(cgroup),
    }
}

/// Room left under this process's cgroup v2 memory limit, `None` without a limit. As the kubelet
/// does, the working set excludes inactive file pages (cache the kernel takes back before it kills).
fn cgroup_room() -> Option<u64> {
    let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = membership.lines().find_map(|line| line.strip_prefix("0::"))?;
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    parse_cgroup_room(&read("memory.max")?, &read("memory.current")?, &read("memory.stat").unwrap_or_default())
}

fn parse_cgroup_room(max: &str, current: &str, stat: &str) -> Option<u64> {
    let limit: u64 = max.trim().parse().ok()?; // "max" (no limit) does not parse: no room to report
    let usage: u64 = current.trim().parse().ok()?;
    let inactive_file = stat
        .lines()
        .find_map(|line| line.strip_prefix("inactive_file "))
        .and_then(|value| value.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Some(limit.saturating_sub(usage.saturating_sub(inactive_file)))
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

    #[test]
    fn a_cgroup_limit_gives_its_room_without_reclaimable_cache() {
        let stat = "anon 100\ninactive_file 300\nactive_file 5\n";
        assert_eq!(parse_cgroup_room("1000\n", "800\n", stat), Some(500));
        assert_eq!(parse_cgroup_room("1000\n", "800\n", ""), Some(200));
        assert_eq!(parse_cgroup_room("1000\n", "1200\n", ""), Some(0), "over the limit: no room");
        assert_eq!(parse_cgroup_room("max\n", "800\n", stat), None, "no limit: the machine decides");
    }
}
