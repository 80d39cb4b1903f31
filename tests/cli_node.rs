//! End to end: two `hobbits-node run` processes on 127.0.0.1 (port 0, the printed port parsed) find
//! each other and handshake; `hobbits-node status` and `hobbits-node ping` answer against them;
//! SIGTERM makes a node say GOODBYE 1; bad flags and bad configuration exit with status 2;
//! environment variables override the file.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{NodeProcess, BIN};

const DEADLINE: Duration = Duration::from_secs(20);

/// A running `hobbits-node run` with its output lines streamed to channels.
struct Node {
    process: NodeProcess,
    port: u16,
}

impl Node {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Node {
        let mut cmd = Command::new(BIN);
        cmd.arg("run")
            .args(args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut process = NodeProcess::spawn(&mut cmd, DEADLINE);
        let port = process.listening_port();
        assert_ne!(port, 0);
        Node { process, port }
    }

    fn uri(&self) -> String {
        format!("hob+tcp://127.0.0.1:{}", self.port)
    }

    /// The next stdout line starting with `prefix`.
    fn wait_stdout(&mut self, prefix: &str) -> String {
        self.process
            .stdout
            .next_matching(prefix, |l| l.starts_with(prefix).then(|| l.to_string()))
    }

    /// Waits until a log line contains every one of `needles`.
    fn wait_log(&mut self, needles: &[&str]) -> String {
        self.process.stderr().find(&format!("{needles:?}"), |l| {
            needles.iter().all(|n| l.contains(n)).then(|| l.to_string())
        })
    }

    fn terminate(&mut self) {
        self.process.terminate();
    }
}

fn tool(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run tool")
}

fn field<'a>(out: &'a str, name: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(name))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {name} in {out}"))
}

#[test]
fn two_processes_handshake_and_answer_status_and_ping() {
    let mut a = Node::start(&["--listen", "127.0.0.1:0", "--network-id", "1"], &[]);
    let genesis_a = a.wait_stdout("genesis root ");
    let mut b = Node::start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--peer",
            &a.uri(),
            "--produce",
            "--slot-ms",
            "200",
        ],
        &[],
    );
    let genesis_b = b.wait_stdout("genesis root ");
    assert_eq!(genesis_a, genesis_b, "same defaults, same genesis");
    a.wait_log(&["peer handshaked"]);
    b.wait_log(&["peer handshaked"]);
    b.wait_log(&["block produced"]);

    // status against the producing node: it reports its own best slot (> 0 once it produced).
    let out = tool(&["status", &b.uri()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(field(&text, "user_agent").starts_with("hobbits-node/"));
    assert_eq!(field(&text, "network_id"), "1");
    assert!(field(&text, "best_slot").parse::<u64>().expect("slot") >= 1);
    assert!(field(&text, "best_root").starts_with("0x"));

    // The non-producing node catches up through sync / gossip: its status shows a best slot > 0.
    let end = Instant::now() + DEADLINE;
    loop {
        let out = tool(&["status", &a.uri()]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() && field(&text, "best_slot").parse::<u64>().unwrap_or(0) >= 1 {
            break;
        }
        assert!(Instant::now() < end, "node a never caught up: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let out = tool(&["ping", &a.uri(), "--count", "20"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.starts_with("20 pings to"), "{text}");
    assert!(text.contains("median") && text.contains("p99"), "{text}");

    // SIGTERM: b says GOODBYE 1 and a logs it.
    b.terminate();
    a.wait_log(&["peer said GOODBYE", "reason=1"]);
    let status = b.process.child.wait().expect("wait");
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
}

#[test]
fn bad_flags_and_bad_config_exit_with_status_2() {
    let out = tool(&["run", "--listen", "127.0.0.1:0", "--network-id", "300"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = tool(&["run", "--listen", "127.0.0.1:0", "--peer", "tcp://x:1"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp"));
    let out = tool(&["run", "--listen", "nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let dir = std::env::temp_dir().join(format!("hobbits-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("node.toml");
    std::fs::write(&file, "[limits]\nmax_peers = 0\n").expect("write");
    let out = tool(&["run", "--config", file.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("max_peers"));
    let out = tool(&["ping", "hob+udp://127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn environment_overrides_the_file_and_flags_override_both() {
    let dir = std::env::temp_dir().join(format!("hobbits-cli-env-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("node.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:0\"\nnetwork_id = 5\nchain_id = 5\n",
    )
    .expect("write");
    let path = file.to_str().expect("path");
    let node = Node::start(
        &["--config", path, "--chain-id", "9"],
        &[("HOBBITS_NETWORK_ID", "7"), ("HOBBITS_CHAIN_ID", "8")],
    );
    let out = tool(&[
        "status",
        &node.uri(),
        "--network-id",
        "7",
        "--chain-id",
        "9",
    ]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(field(&text, "network_id"), "7", "env over file");
    assert_eq!(field(&text, "chain_id"), "9", "flag over env");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hardening_settings_refuse_bad_values_with_status_2_and_the_example_config_runs() {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut cmd = Command::new(BIN);
        cmd.arg("run").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().expect("run")
    };
    let listen = ["--listen", "127.0.0.1:0"];
    /// Flags, environment, the name the error must mention.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: [Case<'_>; 4] = [
        (
            [&listen[..], &["--rpc-rate", "0"]].concat(),
            vec![],
            "rpc_rate_per_sec",
        ),
        (
            listen.to_vec(),
            vec![("HOBBITS_SCORING__BAN_THRESHOLD", "0")],
            "ban_threshold",
        ),
        (
            listen.to_vec(),
            vec![("HOBBITS_TIMEOUTS__FRAME_MS", "0")],
            "frame_timeout",
        ),
        (
            listen.to_vec(),
            vec![("HOBBITS_LIMITS__RPC_BURST", "lots")],
            "rpc_burst",
        ),
    ];
    for (args, env, needle) in cases {
        let out = run(&args, &env);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{needle} not named: {err}");
    }
    // The documented example is a valid configuration file (its port overridden).
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/node.example.toml");
    let mut node = Node::start(&["--config", example, "--listen", "127.0.0.1:0"], &[]);
    node.wait_stdout("genesis root ");
}
