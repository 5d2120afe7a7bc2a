//! hadrill's own resource use: the peak resident set size of this process, as the kernel counts it (`VmHWM` in
//! `/proc/self/status`), and the CPU time it used (`getrusage`). Reports carry both so a user sees what a drill
//! of a given rate and length costs the machine it shares with the stack; unlike `/usr/bin/time`, neither
//! includes child processes (Compose, the demo service's build).

/// What this process has used so far: its peak resident memory and CPU time (each `None` where unknown).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub peak_rss_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
}

impl Usage {
    /// This process's usage now.
    pub fn now() -> Usage {
        Usage { peak_rss_bytes: peak_bytes(), cpu_seconds: cpu_seconds() }
    }
}

/// Peak resident memory of this process so far, in bytes; `None` where `/proc` is not available.
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
}

/// CPU time this process used so far (user + system), in seconds.
pub fn cpu_seconds() -> Option<f64> {
    // SAFETY: getrusage fills in the rusage it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Some(secs(ru.ru_utime) + secs(ru.ru_stime))
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_high_water_mark_in_kilobytes() {
        let status = "Name:\thadrill\nVmPeak:\t  900 kB\nVmHWM:\t   12345 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(12345 * 1024));
        assert_eq!(parse_vm_hwm("Name: x\n"), None);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_seconds().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(cpu_seconds().unwrap() > before, "{x}");
    }

    #[test]
    fn this_process_has_a_peak() {
        if cfg!(target_os = "linux") {
            assert!(peak_bytes().unwrap() > 1 << 20);
        }
    }
}
