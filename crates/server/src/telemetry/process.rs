//! The standard `process_*` metrics, read from `/proc/self` at scrape
//! time (Linux; elsewhere they are left out).

/// What `/proc/self` says now.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProcessFacts {
    /// User and system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size, in bytes.
    pub resident_bytes: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// Start time, in seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

/// Clock ticks per second of `/proc/self/stat` times: the kernel's
/// USER_HZ, 100 on every Linux architecture we build for.
const TICKS_PER_SECOND: f64 = 100.0;

/// The process's facts, or `None` where `/proc` cannot be read.
pub fn read() -> Option<ProcessFacts> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after ')'.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Field n of proc(5) is fields[n - 3] here.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok());
    let ticks = field(14)? + field(15)?;
    let start_ticks = field(22)?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    let boot = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse::<u64>().ok())?;
    let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count() as u64);
    Some(ProcessFacts {
        cpu_seconds: ticks as f64 / TICKS_PER_SECOND,
        resident_bytes: rss_kib * 1024,
        open_fds,
        start_time_seconds: boot as f64 + start_ticks as f64 / TICKS_PER_SECOND,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_a_start_time_memory_and_open_files() {
        let f = super::read().expect("/proc is readable on Linux");
        assert!(f.resident_bytes > 0);
        assert!(f.open_fds >= 3);
        assert!(f.start_time_seconds > 1.0e9);
    }
}
