//! A tmux server of a test's own (its own socket): a real pseudo-terminal for the debugger.

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn available() -> bool {
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// A new server; fails the test with the fix when tmux is missing.
    pub fn new(tag: &str) -> Tmux {
        assert!(
            Self::available(),
            "tmux is needed for the pseudo-terminal tests: run `bash .ci/test` (it installs tmux)"
        );
        Tmux {
            socket: format!("smtpscope-{tag}-{}", std::process::id()),
        }
    }

    pub fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts `command` in a `cols`x`rows` window, in `dir`.
    pub fn start(&self, dir: &Path, cols: u16, rows: u16, command: &str) {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        self.run(&[
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &cols,
            "-y",
            &rows,
            "-c",
            &dir.display().to_string(),
            command,
        ]);
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.run(&args);
    }

    pub fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "t"])
    }

    /// Whether the program in the pane is on the alternate screen.
    pub fn alternate_on(&self) -> bool {
        self.run(&["display-message", "-p", "-t", "t", "#{alternate_on}"])
            .trim()
            == "1"
    }

    /// Waits until the screen shows `text`; the screen is in the panic message otherwise.
    pub fn wait_for(&self, text: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never showed {text:?}:\n{screen}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// `screen` if it already shows `text`, else the screen once it does (a verdict may be
    /// drawn a frame after its reply).
    pub fn showing(&self, screen: String, text: &str) -> String {
        if screen.contains(text) {
            screen
        } else {
            self.wait_for(text)
        }
    }

    /// Presses Enter until the screen shows `text` (at most `presses` times), waiting for each
    /// step to change the screen before the next press.
    pub fn enter_until(&self, text: &str, presses: usize) -> String {
        for _ in 0..presses {
            let before = self.screen();
            if before.contains(text) {
                return before;
            }
            self.keys(&["Enter"]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.screen() == before && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(50));
            }
            thread::sleep(Duration::from_millis(150));
        }
        self.wait_for(text)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .output();
    }
}
