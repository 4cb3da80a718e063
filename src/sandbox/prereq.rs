//! What a sandbox needs on the machine, checked up front with one clear message.

use std::path::Path;

use super::engine::which;
use super::error::SandboxError;
use super::images::BUSYBOX;
use super::sshd::SSHD;

/// Checks that everything a sandbox needs is installed (OpenSSH server and client, a static
/// busybox, Docker's dockerd/containerd/runc and CLI) and that this process runs as root.
/// The error names every missing piece and the command that installs it.
pub fn check_prerequisites() -> Result<(), SandboxError> {
    let mut missing: Vec<String> = Vec::new();
    let mut packages: Vec<&str> = Vec::new();
    let mut need = |what: String, package: &'static str| {
        missing.push(format!("{what} (package {package})"));
        if !packages.contains(&package) {
            packages.push(package);
        }
    };
    if !Path::new(SSHD).is_file() {
        need(SSHD.to_string(), "openssh-server");
    }
    for tool in ["ssh", "ssh-keygen"] {
        if which(tool).is_none() {
            need(tool.to_string(), "openssh-client");
        }
    }
    match is_static_elf(Path::new(BUSYBOX)) {
        Some(true) => {}
        Some(false) => need(format!("a statically linked {BUSYBOX} (this one is dynamic)"), "busybox-static"),
        None => need(BUSYBOX.to_string(), "busybox-static"),
    }
    if !Path::new("/usr/sbin/dockerd").is_file() && which("dockerd").is_none() {
        need("dockerd".into(), "docker.io");
    }
    for tool in ["docker", "containerd", "runc"] {
        if which(tool).is_none() {
            need(tool.to_string(), "docker.io");
        }
    }
    for (tool, package) in [("umount", "mount"), ("kill", "procps")] {
        if which(tool).is_none() {
            need(tool.to_string(), package);
        }
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "missing: {}\ninstall with: apt-get install -y {}",
            missing.join(", "),
            packages.join(" ")
        ));
    }
    if effective_uid() != Some(0) {
        problems.push("the sandbox runs its own dockerd and sshd and must run as root".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SandboxError::new("check prerequisites", problems.join("\n")))
    }
}

/// The effective uid of this process (from /proc/self/status).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether `path` is an ELF executable without a program interpreter (statically linked).
/// `None` if it cannot be read or is not ELF.
fn is_static_elf(path: &Path) -> Option<bool> {
    use std::io::Read;
    // The ELF and program headers are at the start of the file.
    let mut data = Vec::new();
    std::fs::File::open(path).ok()?.take(64 * 1024).read_to_end(&mut data).ok()?;
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        return None;
    }
    if data[5] != 1 {
        // Big-endian: not worth parsing here; assume fine.
        return Some(true);
    }
    let u16_at = |o: usize| data.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let u32_at = |o: usize| data.get(o..o + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (phoff, phentsize, phnum) = match data[4] {
        2 => {
            let phoff = data.get(0x20..0x28).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as usize)?;
            (phoff, u16_at(0x36)?, u16_at(0x38)?)
        }
        1 => (u32_at(0x1c)? as usize, u16_at(0x2a)?, u16_at(0x2c)?),
        _ => return None,
    };
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        if u32_at(phoff + i * phentsize)? == PT_INTERP {
            return Some(false);
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic() {
        assert_eq!(is_static_elf(Path::new("/bin/ls")), Some(false));
        if Path::new(BUSYBOX).exists() {
            assert_eq!(is_static_elf(Path::new(BUSYBOX)), Some(true));
        }
        assert_eq!(is_static_elf(Path::new("/etc/passwd")), None);
    }
}
