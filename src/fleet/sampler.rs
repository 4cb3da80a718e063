//! Host and container resource usage from ONE long-running exec per host that prints
//! /proc and cgroup readings periodically (a new exec per sample would cost ~165 ms of sshd
//! work each, and Docker's stats API costs the engine far more).

use super::model::{ContainerUsage, HostMetrics};
use chrono::Utc;
use std::collections::{BTreeMap, HashMap};

/// The shell loop run on the host. POSIX sh; finds containers' cgroups (v1 and v2, any
/// cgroup parent) by their 64-hex-digit directory names. Uses shell builtins (`read`) for
/// every file, so a sample spawns one process (`df`) however many containers there are.
pub fn script(interval_secs: u32) -> String {
    // Each sample is built in a variable and written with ONE printf: a sample is then one
    // or two SSH packets instead of one per line (each packet wakes the client).
    format!(
        r#"NL='
'
v1() {{ for d in "$1"/*/ "$1"/*/*/; do
  d=${{d%/}}; id=${{d##*/}}; id=${{id#docker-}}; id=${{id%.scope}}
  [ ${{#id}} -eq 64 ] && [ -r "$d/cpuacct.usage" ] || continue
  read u < "$d/cpuacct.usage"; rel=${{d#"$1"}}; m=0; l=0
  [ -r "$2$rel/memory.usage_in_bytes" ] && read m < "$2$rel/memory.usage_in_bytes"
  [ -r "$2$rel/memory.limit_in_bytes" ] && read l < "$2$rel/memory.limit_in_bytes"
  s="$s${{NL}}C $id $u $m $l"
done; }}
v2() {{ for d in /sys/fs/cgroup/*/ /sys/fs/cgroup/*/*/; do
  d=${{d%/}}; id=${{d##*/}}; id=${{id#docker-}}; id=${{id%.scope}}
  [ ${{#id}} -eq 64 ] && [ -r "$d/cpu.stat" ] || continue
  u=0; while read k v; do [ "$k" = usage_usec ] && u=$v; done < "$d/cpu.stat"; m=0; l=0
  [ -r "$d/memory.current" ] && read m < "$d/memory.current"
  [ -r "$d/memory.max" ] && read l < "$d/memory.max"; [ "$l" = max ] && l=0
  s="$s${{NL}}C $id $((u*1000)) $m $l"
done; }}
n=0; while read k _; do [ "$k" = processor ] && n=$((n+1)); done < /proc/cpuinfo
while :; do
read l1 l5 l15 _ < /proc/loadavg; s="L $l1 $l5 $l15${{NL}}N $n"
t=0; a=0; while read k v _; do case $k in MemTotal:) t=$v;; MemAvailable:) a=$v;; esac; done < /proc/meminfo
s="$s${{NL}}M $((t*1024)) $((a*1024))"
d=$(df -Pk / | while read _ tot used _; do case $tot in *[!0-9]*) ;; *) echo "D $((tot*1024)) $((used*1024))";; esac; done)
s="$s${{NL}}$d"
read up _ < /proc/uptime; s="$s${{NL}}T $up"
if [ -d /sys/fs/cgroup/cpuacct ]; then v1 /sys/fs/cgroup/cpuacct /sys/fs/cgroup/memory
elif [ -d /sys/fs/cgroup/cpu,cpuacct ]; then v1 /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/memory
else v2; fi
printf '%s\nE\n' "$s"
sleep {interval_secs}
done"#
    )
}

/// One complete sample, as parsed from the lines between two `E` markers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    pub metrics: HostMetrics,
    /// Seconds of host uptime at the sample (a monotonic clock shared with cgroup counters).
    pub uptime: f64,
    /// container id -> (cpu ns used in total, memory bytes, memory limit)
    pub containers: HashMap<String, (u64, u64, u64)>,
}

/// Accumulates lines into samples, and turns successive samples into CPU percentages.
#[derive(Debug, Default)]
pub struct SampleParser {
    current: Sample,
    previous: Option<Sample>,
}

impl SampleParser {
    /// Feed one line; returns metrics and usage when a sample completes.
    pub fn line(&mut self, line: &str) -> Option<(HostMetrics, BTreeMap<String, ContainerUsage>)> {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
        let m = &mut self.current.metrics;
        match f.first().copied() {
            Some("L") => (m.load1, m.load5, m.load15) = (num(1), num(2), num(3)),
            Some("N") => m.cpus = num(1) as u32,
            Some("M") => (m.mem_total, m.mem_available) = (num(1) as u64, num(2) as u64),
            Some("D") => (m.disk_total, m.disk_used) = (num(1) as u64, num(2) as u64),
            Some("T") => self.current.uptime = num(1),
            Some("C") if f.len() >= 5 => {
                let limit = num(4) as u64;
                self.current.containers.insert(f[1].to_string(), (num(2) as u64, num(3) as u64, limit));
            }
            Some("E") => {
                let mut sample = std::mem::take(&mut self.current);
                sample.metrics.at = Some(Utc::now());
                let usage = self.usage(&sample);
                let metrics = sample.metrics.clone();
                self.previous = Some(sample);
                return Some((metrics, usage));
            }
            _ => {}
        }
        None
    }

    fn usage(&self, now: &Sample) -> BTreeMap<String, ContainerUsage> {
        let mut out = BTreeMap::new();
        for (id, &(cpu_ns, mem, limit)) in &now.containers {
            let cpu_percent = match &self.previous {
                Some(prev) if now.uptime > prev.uptime => match prev.containers.get(id) {
                    Some(&(prev_ns, _, _)) if cpu_ns >= prev_ns => {
                        (cpu_ns - prev_ns) as f64 / 1e9 / (now.uptime - prev.uptime) * 100.0
                    }
                    _ => 0.0,
                },
                _ => 0.0,
            };
            // cgroup v1 reports "no limit" as a huge number, v2 as "max" (parsed as 0).
            let mem_limit = (limit > 0 && limit < (1 << 60)).then_some(limit);
            out.insert(id.clone(), ContainerUsage { cpu_percent, mem_bytes: mem, mem_limit });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_samples_and_computes_cpu() {
        let mut p = SampleParser::default();
        for l in [
            "L 0.50 0.40 0.30",
            "N 2",
            "M 1000 400",
            "D 2000 500",
            "T 100.0 0",
            "C abc 1000000000 300 9223372036854771712",
        ] {
            assert!(p.line(l).is_none());
        }
        let (m, u) = p.line("E").unwrap();
        assert_eq!((m.load1, m.cpus, m.mem_total, m.disk_used), (0.5, 2, 1000, 500));
        assert_eq!(m.mem_used_percent(), 60.0);
        assert_eq!(u["abc"].cpu_percent, 0.0);
        assert_eq!(u["abc"].mem_limit, None);
        for l in ["T 102.0 0", "C abc 2000000000 310 1000"] {
            p.line(l);
        }
        let (_, u) = p.line("E").unwrap();
        assert!((u["abc"].cpu_percent - 50.0).abs() < 1e-9);
        assert_eq!(u["abc"].mem_limit, Some(1000));
    }
}
