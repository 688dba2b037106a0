//! Lambda's resource model enforced by the kernel: one cgroup per execution environment with a
//! memory limit of the configured size (no swap) and a CPU quota of size/1,769 vCPU (Lambda gives
//! one vCPU at 1,769 MB, LAMBDA_FACTS §5), capped at the host's cores. Works with cgroup v2 (the
//! root hierarchy when running as root, or the user's own delegated cgroup) and with v1's
//! separate `memory` and `cpu` hierarchies. Peak memory and out-of-memory kills are read back
//! from the cgroup; at the end every process in it is killed and the cgroup removed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use crate::cost::MB_PER_VCPU;
/// The CFS period, µs.
const PERIOD_US: u64 = 100_000;
const PARENT: &str = "powertune";

/// Which cgroup interface the host offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flavor {
    /// cgroup v2: sizes are created under `dir` (which has memory and cpu in subtree_control).
    V2 {
        /// The parent directory.
        dir: PathBuf,
    },
    /// cgroup v1: separate memory and cpu hierarchies.
    V1 {
        /// `…/memory/powertune`.
        memory: PathBuf,
        /// `…/cpu/powertune` (or `cpu,cpuacct`).
        cpu: PathBuf,
    },
}

impl Flavor {
    /// For reports: `cgroup v2` or `cgroup v1`.
    pub fn name(&self) -> &'static str {
        match self {
            Flavor::V2 { .. } => "cgroup v2",
            Flavor::V1 { .. } => "cgroup v1",
        }
    }
}

/// What to do when no writable cgroup is found.
pub const FIX: &str = "powertune needs a writable cgroup with the memory and cpu controllers to give each size Lambda's limits. \
Run it as root (sudo), or on a systemd machine with cgroup v2 delegate a cgroup to it: \
`systemd-run --user --scope -p Delegate=yes -- powertune run …`; or pass --no-limits to run without limits (results are marked unenforced)";

fn writable_dir(p: &Path) -> bool {
    let probe = p.join(format!("{PARENT}-probe-{}", std::process::id()));
    match fs::create_dir(&probe) {
        Ok(()) => {
            let _ = fs::remove_dir(&probe);
            true
        }
        Err(e) => e.kind() == io::ErrorKind::AlreadyExists,
    }
}

fn has_controllers(dir: &Path) -> bool {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .map(|c| {
            let c: Vec<&str> = c.split_whitespace().collect();
            c.contains(&"memory") && c.contains(&"cpu")
        })
        .unwrap_or(false)
}

fn enable_subtree(dir: &Path) -> io::Result<()> {
    let current = fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
    if current.contains("memory") && current.contains("cpu") {
        return Ok(());
    }
    fs::write(dir.join("cgroup.subtree_control"), "+memory +cpu")
}

/// Finds a usable cgroup interface: v2 at the root (root user) or the process's own delegated
/// v2 cgroup, then v1. The error says how to get one.
pub fn detect(root: &Path) -> Result<Flavor, String> {
    // cgroup v2 mounted at the root, or at `unified` beside v1 controllers.
    for v2 in [root.to_owned(), root.join("unified")] {
        if has_controllers(&v2) && writable_dir(&v2) {
            let dir = v2.join(PARENT);
            if fs::create_dir_all(&dir).is_ok()
                && enable_subtree(&v2).is_ok()
                && enable_subtree(&dir).is_ok()
            {
                return Ok(Flavor::V2 { dir });
            }
        }
    }
    // A delegated v2 cgroup (systemd user scope): move this process into a leaf so that its own
    // cgroup may enable controllers for its children.
    if let Ok(own) = fs::read_to_string("/proc/self/cgroup")
        && let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::"))
    {
        let mine = root.join(path.trim_start_matches('/'));
        if path != "/" && has_controllers(&mine) && writable_dir(&mine) {
            let leaf = mine.join(format!("{PARENT}-supervisor"));
            let ok = fs::create_dir_all(&leaf).is_ok()
                && fs::write(leaf.join("cgroup.procs"), std::process::id().to_string()).is_ok()
                && enable_subtree(&mine).is_ok();
            let dir = mine.join(PARENT);
            if ok && fs::create_dir_all(&dir).is_ok() && enable_subtree(&dir).is_ok() {
                return Ok(Flavor::V2 { dir });
            }
        }
    }
    // cgroup v1.
    let memory = root.join("memory");
    let cpu = ["cpu", "cpu,cpuacct"]
        .iter()
        .map(|c| root.join(c))
        .find(|p| p.join("cpu.cfs_quota_us").exists());
    if let Some(cpu) = cpu
        && memory.join("memory.limit_in_bytes").exists()
        && writable_dir(&memory)
        && writable_dir(&cpu)
    {
        let (m, c) = (memory.join(PARENT), cpu.join(PARENT));
        if fs::create_dir_all(&m).is_ok() && fs::create_dir_all(&c).is_ok() {
            return Ok(Flavor::V1 { memory: m, cpu: c });
        }
    }
    Err(FIX.to_owned())
}

/// One environment's cgroup (one directory for v2, two for v1).
#[derive(Debug)]
pub struct Cgroup {
    flavor: Flavor,
    dirs: Vec<PathBuf>,
    limit_bytes: u64,
}

impl Cgroup {
    /// Creates `name` with a memory limit of `memory_mb` and a CPU quota of `vcpus`.
    pub fn create(flavor: &Flavor, name: &str, memory_mb: u32, vcpus: f64) -> io::Result<Cgroup> {
        let limit = u64::from(memory_mb) * 1024 * 1024;
        let quota = ((vcpus * PERIOD_US as f64).round() as u64).max(1000);
        let dirs = match flavor {
            Flavor::V2 { dir } => {
                let d = dir.join(name);
                fs::create_dir(&d)?;
                fs::write(d.join("memory.max"), limit.to_string())?;
                // No swap: Lambda has none. Not every kernel has swap accounting.
                let _ = fs::write(d.join("memory.swap.max"), "0");
                fs::write(d.join("cpu.max"), format!("{quota} {PERIOD_US}"))?;
                vec![d]
            }
            Flavor::V1 { memory, cpu } => {
                let m = memory.join(name);
                let c = cpu.join(name);
                fs::create_dir(&m)?;
                fs::create_dir(&c)?;
                fs::write(m.join("memory.limit_in_bytes"), limit.to_string())?;
                let _ = fs::write(m.join("memory.memsw.limit_in_bytes"), limit.to_string());
                fs::write(c.join("cpu.cfs_period_us"), PERIOD_US.to_string())?;
                fs::write(c.join("cpu.cfs_quota_us"), quota.to_string())?;
                vec![m, c]
            }
        };
        Ok(Cgroup {
            flavor: flavor.clone(),
            dirs,
            limit_bytes: limit,
        })
    }

    /// The files a process writes its pid to, to join this cgroup.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    fn memory_dir(&self) -> &Path {
        &self.dirs[0]
    }

    /// Peak memory use of the environment so far, bytes.
    pub fn peak_bytes(&self) -> Option<u64> {
        let file = match self.flavor {
            Flavor::V2 { .. } => "memory.peak",
            Flavor::V1 { .. } => "memory.max_usage_in_bytes",
        };
        let read = |f: &str| {
            fs::read_to_string(self.memory_dir().join(f))
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()
        };
        read(file)
            .or_else(|| read("memory.current"))
            .map(|b| b.min(self.limit_bytes))
    }

    /// Processes the kernel's OOM killer has killed in this cgroup.
    pub fn oom_kills(&self) -> u64 {
        let file = match self.flavor {
            Flavor::V2 { .. } => "memory.events",
            Flavor::V1 { .. } => "memory.oom_control",
        };
        fs::read_to_string(self.memory_dir().join(file))
            .ok()
            .and_then(|t| {
                t.lines().find_map(|l| {
                    l.strip_prefix("oom_kill ")
                        .and_then(|v| v.trim().parse().ok())
                })
            })
            .unwrap_or(0)
    }

    /// Pids in the cgroup.
    pub fn pids(&self) -> Vec<i32> {
        fs::read_to_string(self.memory_dir().join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// Kills every process in the cgroup (lingering children included) and removes it.
    pub fn destroy(&self) {
        if let Flavor::V2 { .. } = self.flavor {
            let _ = fs::write(self.memory_dir().join("cgroup.kill"), "1");
        }
        for _ in 0..200 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for p in pids {
                // SAFETY: kill(2) with a pid read from the cgroup; no memory is touched.
                unsafe {
                    libc::kill(p, libc::SIGKILL);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        for d in &self.dirs {
            for _ in 0..100 {
                match fs::remove_dir(d) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        }
    }
}

/// Removes powertune's parent cgroups when no other run uses them.
pub fn remove_parents(flavor: &Flavor) {
    match flavor {
        Flavor::V2 { dir } => {
            let _ = fs::remove_dir(dir);
        }
        Flavor::V1 { memory, cpu } => {
            let _ = fs::remove_dir(memory);
            let _ = fs::remove_dir(cpu);
        }
    }
}

/// vCPUs a size gets on Lambda: size / 1,769.
pub fn lambda_vcpus(memory_mb: u32) -> f64 {
    f64::from(memory_mb) / MB_PER_VCPU
}

#[cfg(test)]
mod tests {
    //! This machine's memory and cpu controllers sit on cgroup v1, so the end-to-end tests
    //! (tests/local.rs) exercise v1 with the real kernel. Here, cgroup v2's file protocol is
    //! checked on a directory laid out as a v2 root: what is written where, and what is read back.
    use super::*;

    #[test]
    fn v2_limits_peak_and_oom_kills_go_through_its_files() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        fs::write(r.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        fs::write(r.join("cgroup.subtree_control"), "").unwrap();
        let flavor = detect(r).unwrap();
        assert_eq!(
            flavor,
            Flavor::V2 {
                dir: r.join("powertune")
            }
        );
        assert_eq!(flavor.name(), "cgroup v2");
        // Controllers are enabled for the children, at the root and in powertune's parent.
        assert_eq!(
            fs::read_to_string(r.join("cgroup.subtree_control")).unwrap(),
            "+memory +cpu"
        );
        assert_eq!(
            fs::read_to_string(r.join("powertune/cgroup.subtree_control")).unwrap(),
            "+memory +cpu"
        );

        let cg = Cgroup::create(&flavor, "size-512", 512, lambda_vcpus(512)).unwrap();
        let d = r.join("powertune/size-512");
        assert_eq!(
            fs::read_to_string(d.join("memory.max")).unwrap(),
            (512u64 << 20).to_string()
        );
        assert_eq!(fs::read_to_string(d.join("memory.swap.max")).unwrap(), "0");
        // 512 / 1769 of a vCPU: 28,943 µs of every 100,000.
        assert_eq!(
            fs::read_to_string(d.join("cpu.max")).unwrap(),
            "28943 100000"
        );
        assert_eq!(cg.procs_files(), vec![d.join("cgroup.procs")]);

        fs::write(d.join("memory.peak"), "73400320\n").unwrap();
        assert_eq!(cg.peak_bytes(), Some(73_400_320));
        // A peak above the limit (page cache charged late) is reported as the limit.
        fs::write(d.join("memory.peak"), (600u64 << 20).to_string()).unwrap();
        assert_eq!(cg.peak_bytes(), Some(512 << 20));
        fs::write(
            d.join("memory.events"),
            "low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n",
        )
        .unwrap();
        assert_eq!(cg.oom_kills(), 2);
        fs::write(d.join("cgroup.procs"), "").unwrap();
        assert!(cg.pids().is_empty());
    }

    #[test]
    fn no_writable_cgroup_names_the_fix() {
        let root = tempfile::tempdir().unwrap();
        let err = detect(root.path()).unwrap_err();
        assert!(err.contains("--no-limits"), "{err}");
        assert!(err.contains("Delegate=yes"), "{err}");
    }
}
