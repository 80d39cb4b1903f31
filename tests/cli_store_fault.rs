//! `hobbits-node run` on a data directory that fills up (a 1 MiB tmpfs mounted by the test, root
//! only; skipped with a note otherwise): the node reports the store fault, shuts down cleanly with
//! exit status 1 and a clear message, and a restart on the same (enlarged) directory reopens the
//! chain it had committed (docs/PROTOCOL.md, "Persistence", "Store faults").

mod support;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::BIN;

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1))
                == Some("0")
        });
        let dir =
            std::env::temp_dir().join(format!("hobbits-cli-full-disk-{}", std::process::id()));
        if root && std::fs::create_dir_all(&dir).is_ok() {
            let ok = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return Some(Tmpfs(dir));
            }
            let _ = std::fs::remove_dir(&dir);
        }
        eprintln!("note: not root or mount failed: the full-disk CLI test is skipped");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_full_data_directory_stops_the_node_cleanly_with_a_clear_message() {
    let Some(fs) = Tmpfs::mount("1m") else {
        return;
    };
    let dir = fs.0.to_str().expect("utf-8 path").to_string();
    let mut child = Command::new(BIN)
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &dir,
            "--produce",
            "--slot-ms",
            "10",
            "--log",
            "warn",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the node did not stop on a full disk");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut stderr)
        .expect("stderr");
    eprintln!("{stderr}");
    assert_eq!(status.code(), Some(1), "exit status 1");
    assert!(
        stderr.contains("error: chain store Storage fault")
            && stderr.contains("No space left on device")
            && stderr.contains("the node stopped"),
        "clear message on stderr"
    );
    // Room again: the node reopens what it had committed.
    let ok = Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&fs.0)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "remount");
    let mut again = Command::new(BIN)
        .args(["run", "--listen", "127.0.0.1:0", "--data-dir", &dir])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn again");
    let mut out = std::io::BufReader::new(again.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut reopened = None;
    while std::io::BufRead::read_line(&mut out, &mut line).is_ok_and(|n| n > 0) {
        if line.starts_with("store persistent") {
            reopened = Some(line.clone());
            break;
        }
        line.clear();
    }
    let _ = again.kill();
    let _ = again.wait();
    let reopened = reopened.expect("the store line");
    eprintln!("{reopened}");
    assert!(reopened.contains("reopened"), "{reopened}");
    assert!(
        !reopened.contains("head slot 0,"),
        "blocks kept: {reopened}"
    );
}
