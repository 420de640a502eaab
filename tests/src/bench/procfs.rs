//! Readings of /proc: a process's CPU time and resident memory, whether it is gone, and how
//! busy the machine is.

/// CPU time (user + system) of a process (`"self"` or a pid), in clock ticks.
pub fn proc_ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// The resident memory of a process, in KiB, from /proc/PID/status.
pub fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether a process is gone (or a zombie waiting to be reaped: it has exited).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state == "Z" || state == "X"),
    }
}

/// (busy, total) clock ticks of the whole machine.
pub fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let values: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = values.iter().take(8).sum();
    let idle = values.get(3)? + values.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

/// The cores a process used between two readings of `proc_ticks` taken `seconds` apart, or
/// None when either reading is missing.
pub fn cores(before: Option<u64>, after: Option<u64>, clk_tck: f64, seconds: f64) -> Option<f64> {
    Some(after?.saturating_sub(before?) as f64 / clk_tck / seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_running_and_uses_memory() {
        let pid = std::process::id();
        assert!(!process_gone(pid));
        assert!(vm_rss_kib(pid).is_some_and(|kib| kib > 0));
        assert!(proc_ticks("self").is_some());
        assert!(machine_ticks().is_some_and(|(busy, total)| busy <= total));
    }

    #[test]
    fn cores_are_ticks_per_second_of_wall_time() {
        assert_eq!(cores(Some(100), Some(250), 100.0, 1.5), Some(1.0));
        assert_eq!(cores(None, Some(250), 100.0, 1.5), None);
    }
}
