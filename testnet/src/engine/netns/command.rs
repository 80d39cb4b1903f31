//! The host commands the namespace engine drives (`ip`, `nft`, `tc`, `iptables`): the check that
//! they and root are there before anything is created, and one way to run them with their
//! stderr in the error. Sends nothing, handles nothing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::NetnsError;

/// A host tool the engine needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// iproute2 `ip`: namespaces, veth, bridge, addresses.
    Ip,
    /// `nft`: topology, cuts, loss.
    Nft,
    /// iproute2 `tc`: bandwidth.
    Tc,
    /// `iptables`: the NFQUEUE rule (the kernel's nftables has no `queue` expression here).
    Iptables,
}

impl Tool {
    /// The program name.
    pub fn program(self) -> &'static str {
        match self {
            Tool::Ip => "ip",
            Tool::Nft => "nft",
            Tool::Tc => "tc",
            Tool::Iptables => "iptables",
        }
    }

    /// The Debian package that provides it (for the error message).
    pub fn package(self) -> &'static str {
        match self {
            Tool::Ip | Tool::Tc => "iproute2",
            Tool::Nft => "nftables",
            Tool::Iptables => "iptables",
        }
    }
}

/// Checks root and the tools; the error names everything missing at once.
pub fn preflight(tools: &[Tool]) -> Result<(), NetnsError> {
    let mut missing = Vec::new();
    if !nix::unistd::geteuid().is_root() {
        missing.push("root (network namespaces need CAP_SYS_ADMIN and CAP_NET_ADMIN)".to_string());
    }
    for tool in tools {
        if find_program(tool.program()).is_none() {
            missing.push(format!(
                "`{}` (Debian package {})",
                tool.program(),
                tool.package()
            ));
        }
    }
    if !Path::new("/proc/thread-self/ns/net").exists() {
        missing.push("network namespaces in the kernel (CONFIG_NET_NS)".to_string());
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(NetnsError::Missing { what: missing })
    }
}

/// The program on `PATH` (plus the sbin directories a non-login root shell may lack).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs `tool args…` (with `stdin` written to it when given); its stdout on success, its
/// stderr in the error otherwise.
pub fn run(tool: Tool, args: &[&str], stdin: Option<&str>) -> Result<String, NetnsError> {
    let program = find_program(tool.program()).unwrap_or_else(|| PathBuf::from(tool.program()));
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let describe = || format!("{} {}", tool.program(), args.join(" "));
    let mut child = command.spawn().map_err(|e| NetnsError::Command {
        command: describe(),
        reason: e.to_string(),
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .map_err(|e| NetnsError::Command {
                command: describe(),
                reason: e.to_string(),
            })?;
    }
    let output = child.wait_with_output().map_err(|e| NetnsError::Command {
        command: describe(),
        reason: e.to_string(),
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let mut reason = String::from_utf8_lossy(&output.stderr).trim().to_string();
        if let Some(text) = stdin {
            reason.push_str(&format!("\ninput was:\n{text}"));
        }
        Err(NetnsError::Command {
            command: format!("{} ({})", describe(), output.status),
            reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_that_exists_and_not_one_that_does_not() {
        assert!(find_program("sh").is_some());
        assert!(find_program("no-such-program-hobbits").is_none());
    }

    #[test]
    fn a_failing_command_carries_its_stderr() {
        let err = run(Tool::Ip, &["no-such-object"], None).expect_err("ip rejects it");
        let text = err.to_string();
        assert!(text.contains("ip no-such-object"), "{text}");
    }
}
