//! hadrill's own memory: the peak resident set size of this process, as the kernel counts it (`VmHWM` in
//! `/proc/self/status`). Reports carry it so a user sees what a drill of a given rate and length costs; unlike
//! `/usr/bin/time`, it does not include child processes (Compose, the demo service's build).

/// Peak resident memory of this process so far, in bytes; `None` where `/proc` is not available.
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    parse_vm_hwm(&status)
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
    fn this_process_has_a_peak() {
        if cfg!(target_os = "linux") {
            assert!(peak_bytes().unwrap() > 1 << 20);
        }
    }
}
