//! [`EnvServer`]: one env-server child process and the request/reply loop with it.
//!
//! A reader thread decodes the child's stdout into messages and sends them on a channel; a
//! second thread keeps the last lines of its stderr for error messages. [`EnvServer::call`]
//! writes a request and waits on the channel with `recv_timeout`, so a server that died
//! (end of stream, exit status) or hangs (no reply in time: it is killed) is an
//! [`crate::EnvError::Bridge`], never a hang. Dropping the server kills the child.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bridge::protocol::Message;
use crate::bridge::{bridge_error, python, BridgeFailure};
use crate::error::EnvError;

/// Lines of the child's stderr kept for error messages.
const STDERR_LINES: usize = 20;

/// How long a dead child is given to exit and flush its stderr before the error is reported.
const EXIT_GRACE: Duration = Duration::from_millis(500);

/// A running env server (module docs).
pub struct EnvServer {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    replies: Receiver<Result<Message, String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    timeout: Duration,
    /// Why the server can no longer be used (set after a crash or a timeout).
    dead: Option<(BridgeFailure, String)>,
}

impl EnvServer {
    /// Starts the embedded server script with the bridge's Python ([`python::bridge_python`]);
    /// `label` names the environment in errors, `timeout` bounds every reply.
    pub fn start(label: &str, timeout: Duration) -> Result<Self, EnvError> {
        let py = python::bridge_python(label)?;
        let script = python::server_script()?;
        let mut cmd = Command::new(&py);
        cmd.arg("-u").arg(&script);
        if std::env::var_os("MUJOCO_GL").is_none() {
            // Offscreen rendering without a display (pixel observations).
            cmd.env("MUJOCO_GL", "egl");
        }
        Self::spawn(label, cmd, timeout)
    }

    /// Starts `cmd` as a server (any program speaking the protocol: tests use fakes).
    pub fn spawn(label: &str, mut cmd: Command, timeout: Duration) -> Result<Self, EnvError> {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| {
            let failure = if e.kind() == std::io::ErrorKind::NotFound {
                BridgeFailure::NoPython
            } else {
                BridgeFailure::Crashed
            };
            bridge_error(
                label,
                failure,
                format!("cannot start {:?}: {e}", cmd.get_program()),
            )
        })?;
        let (tx, replies) = channel();
        let mut stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || loop {
            let msg = match Message::read_from(&mut stdout) {
                Ok(Some(m)) => Ok(m),
                Ok(None) => Err(String::new()),
                Err(e) => Err(e),
            };
            let end = msg.is_err();
            if tx.send(msg).is_err() || end {
                return;
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let lines = Arc::clone(&stderr);
        let err_pipe = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(err_pipe).lines() {
                let Ok(line) = line else { return };
                let mut q = lines.lock().unwrap_or_else(|p| p.into_inner());
                if q.len() == STDERR_LINES {
                    q.pop_front();
                }
                q.push_back(line);
            }
        });
        Ok(EnvServer {
            label: label.to_string(),
            stdin: child.stdin.take(),
            child,
            replies,
            stderr,
            timeout,
            dead: None,
        })
    }

    /// The environment's label (`gym:Pendulum-v1`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Sends `request` and returns the reply if it says `ok: true`; a reply with `ok: false`
    /// becomes the matching [`BridgeFailure`].
    pub fn call(&mut self, request: &Message) -> Result<Message, EnvError> {
        if let Some((failure, detail)) = &self.dead {
            return Err(bridge_error(&self.label, failure.clone(), detail.clone()));
        }
        let written = match self.stdin.as_mut() {
            Some(w) => request.write_to(w),
            None => Err(std::io::Error::other("stdin closed")),
        };
        if let Err(e) = written {
            return Err(self.died(&format!("cannot send the request ({e})")));
        }
        match self.replies.recv_timeout(self.timeout) {
            Ok(Ok(reply)) => self.check(reply),
            Ok(Err(e)) if e.is_empty() => Err(self.died("it closed its output")),
            Ok(Err(e)) => Err(self.fail(BridgeFailure::Malformed, e)),
            Err(RecvTimeoutError::Disconnected) => Err(self.died("it closed its output")),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let detail = format!(
                    "no reply to `{}` within {:.1} s; the server was killed{}",
                    request
                        .header
                        .get("op")
                        .and_then(Value::as_str)
                        .unwrap_or("?"),
                    self.timeout.as_secs_f64(),
                    self.stderr_tail()
                );
                Err(self.fail(BridgeFailure::Timeout, detail))
            }
        }
    }

    /// Maps an `ok: false` reply to its error.
    fn check(&mut self, reply: Message) -> Result<Message, EnvError> {
        match reply.header.get("ok") {
            Some(Value::Bool(true)) => return Ok(reply),
            Some(Value::Bool(false)) => {}
            _ => {
                let detail = format!("reply without `ok`: {:?}", reply.header);
                return Err(self.fail(BridgeFailure::Malformed, detail));
            }
        }
        let text = |k: &str| reply.header.get(k).and_then(Value::as_str).unwrap_or("");
        let failure = match text("error") {
            "missing_package" => BridgeFailure::MissingPackage(match text("package") {
                "" => "?".into(),
                p => p.into(),
            }),
            "unknown_env" => BridgeFailure::UnknownEnv,
            "no_state" => BridgeFailure::Unsupported,
            _ => BridgeFailure::Python,
        };
        Err(bridge_error(&self.label, failure, text("message")))
    }

    /// Marks the server dead for good and returns the error.
    fn fail(&mut self, failure: BridgeFailure, detail: String) -> EnvError {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dead = Some((failure.clone(), detail.clone()));
        bridge_error(&self.label, failure, detail)
    }

    /// The error of a server that stopped answering: its exit status and last stderr lines.
    fn died(&mut self, what: &str) -> EnvError {
        let start = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(s)) => break Some(s),
                Ok(None) if start.elapsed() < EXIT_GRACE => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => break None,
            }
        };
        // Let the stderr thread take the last lines.
        std::thread::sleep(Duration::from_millis(50));
        let status = match status {
            Some(s) => format!("exited with {s}"),
            None => "still running; killed".into(),
        };
        let detail = format!("{what}; {status}{}", self.stderr_tail());
        self.fail(BridgeFailure::Crashed, detail)
    }

    /// `\n<last stderr lines>` or empty.
    fn stderr_tail(&self) -> String {
        let q = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        if q.is_empty() {
            String::new()
        } else {
            let lines: Vec<&str> = q.iter().map(String::as_str).collect();
            format!("\n  server stderr:\n    {}\n", lines.join("\n    "))
        }
    }
}

impl Drop for EnvServer {
    /// Kills the child (it holds no state worth a graceful close) and reaps it.
    fn drop(&mut self) {
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
