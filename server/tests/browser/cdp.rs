//! A minimal Chrome DevTools Protocol client over `--remote-debugging-pipe`: Chromium reads
//! commands from its fd 3 and writes answers and events to its fd 4, one JSON message per
//! NUL-terminated record. No port, no WebSocket, no dependency beyond `libc` (to hand the
//! pipes to the child as fds 3 and 4).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long any answer or awaited event may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A headless Chromium and the pipes to its DevTools.
pub struct Browser {
    child: Child,
    commands: std::fs::File,
    messages: Receiver<Value>,
    /// Events that arrived while waiting for something else, oldest first.
    pub events: VecDeque<Value>,
    next_id: u64,
}

impl Browser {
    /// Starts `binary` headless with a fresh profile in `profile`.
    pub fn launch(binary: &Path, profile: &Path) -> Result<Self, String> {
        let (to_browser_read, to_browser_write) = pipe()?;
        let (from_browser_read, from_browser_write) = pipe()?;
        let (child_in, child_out) = (to_browser_read.as_raw_fd(), from_browser_write.as_raw_fd());
        let mut command = Command::new(binary);
        command
            .args([
                "--headless",
                // Root (CI, containers) cannot use the sandbox.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (`dup2`) run.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(child_in, 3) < 0 || libc::dup2(child_out, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|error| format!("starting {}: {error}", binary.display()))?;
        drop((to_browser_read, from_browser_write));
        let (sender, messages) = channel();
        let reader = std::fs::File::from(from_browser_read);
        std::thread::spawn(move || {
            let mut reader = BufReader::new(reader);
            let mut record = Vec::new();
            while reader.read_until(0, &mut record).is_ok_and(|read| read > 0) {
                record.pop_if(|byte| *byte == 0);
                if let Ok(message) = serde_json::from_slice(&record)
                    && sender.send(message).is_err()
                {
                    break;
                }
                record.clear();
            }
        });
        Ok(Self {
            child,
            commands: std::fs::File::from(to_browser_write),
            messages,
            events: VecDeque::new(),
            next_id: 0,
        })
    }

    /// Sends `method` (to the page `session`, or to the browser) and waits for its result.
    pub fn call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let mut bytes = serde_json::to_vec(&message).map_err(|error| error.to_string())?;
        bytes.push(0);
        self.commands
            .write_all(&bytes)
            .map_err(|error| format!("{method}: {error}"))?;
        let answer = self.wait(|message| message["id"] == id, method)?;
        match answer.get("error") {
            Some(error) => Err(format!("{method}: {error}")),
            None => Ok(answer["result"].clone()),
        }
    }

    /// Waits for the event `method`, keeping the events before it in [`Browser::events`].
    pub fn wait_for_event(&mut self, method: &str) -> Result<Value, String> {
        let event = self.wait(|message| message["method"] == method, method)?;
        Ok(event["params"].clone())
    }

    fn wait(&mut self, wanted: impl Fn(&Value) -> bool, what: &str) -> Result<Value, String> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.messages.recv_timeout(left) {
                Ok(message) if wanted(&message) => return Ok(message),
                Ok(message) => {
                    if message.get("method").is_some() {
                        self.events.push_back(message);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{what}: no answer in {TIMEOUT:?}"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{what}: the browser went away"));
                }
            }
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), String> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes; each is owned once. They
    // close on exec: the child gets only the copies `dup2` makes as its fds 3 and 4.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(format!("pipe: {}", std::io::Error::last_os_error()));
        }
        Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
    }
}
