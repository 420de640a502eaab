//! CPU use while writing: the server's and this benchmark's, in cores, and the machine's busy
//! share.

use std::time::Instant;

use tests::bench::procfs::{cores, machine_ticks, proc_ticks};

/// CPU readings at one moment.
pub(crate) struct CpuMark {
    at: Instant,
    server: Option<u64>,
    client: Option<u64>,
    machine: Option<(u64, u64)>,
}

/// The readings now (the server's when its pid is known).
pub(crate) fn cpu_mark(server_pid: Option<u32>) -> CpuMark {
    CpuMark {
        at: Instant::now(),
        server: server_pid.and_then(|p| proc_ticks(&p.to_string())),
        client: proc_ticks("self"),
        machine: machine_ticks(),
    }
}

/// Server and client CPU in cores, and the machine's busy share, between two marks.
pub(crate) fn cpu_between(a: &CpuMark, b: &CpuMark, clk_tck: f64) -> String {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let cores = |x, y| {
        cores(x, y, clk_tck, secs).map_or_else(|| "?".to_owned(), |c| format!("{c:.2} cores"))
    };
    let machine = match (a.machine, b.machine) {
        (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
            format!(
                "{:.0}% busy",
                100.0 * b1.saturating_sub(b0) as f64 / (t1 - t0) as f64
            )
        }
        _ => "?".into(),
    };
    format!(
        "server {}, this benchmark {}, machine {}",
        cores(a.server, b.server),
        cores(a.client, b.client),
        machine
    )
}

/// The server's CPU time between two marks, in seconds; None without its pid.
pub(crate) fn server_seconds(a: &CpuMark, b: &CpuMark, clk_tck: f64) -> Option<f64> {
    Some(b.server?.saturating_sub(a.server?) as f64 / clk_tck)
}
