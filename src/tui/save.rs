//! `w`: the transcript to disk, as text and as JSON Lines, both redacted (AUTH lines were
//! stored redacted by the engine; user names stay hidden), and as a script for
//! `smtpscope run --script`, so a path found by hand can be replayed in CI. Runs off the UI
//! task.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeZone};

use crate::engine::transcript::{Entry, EntryKind, TextOptions, render_text};

/// The files of one save: text, JSON Lines, script.
const EXTENSIONS: [&str; 3] = ["txt", "jsonl", "script"];

/// Picks `smtpscope-YYYYMMDD-HHMMSS.{txt,jsonl,script}` in `dir`, adding `-2`, `-3`… rather
/// than overwriting an earlier save.
fn create_files<Tz: TimeZone>(dir: &Path, now: &DateTime<Tz>) -> io::Result<Vec<(PathBuf, File)>>
where
    Tz::Offset: std::fmt::Display,
{
    let stem = format!("smtpscope-{}", now.format("%Y%m%d-%H%M%S"));
    for n in 1..1000 {
        let base = if n == 1 {
            stem.clone()
        } else {
            format!("{stem}-{n}")
        };
        let paths: Vec<PathBuf> = EXTENSIONS
            .iter()
            .map(|ext| dir.join(format!("{base}.{ext}")))
            .collect();
        if paths.iter().any(|p| p.exists()) {
            continue;
        }
        return paths
            .into_iter()
            .map(|p| crate::engine::private::create_new(&p).map(|f| (p, f)))
            .collect();
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!("too many saves named {stem}"),
    ))
}

/// Writes the certificate chain as PEM to a new private file
/// `smtpscope-chain-YYYYMMDD-HHMMSS.pem` in `dir` (`-2`, `-3`… rather than overwriting), and
/// returns its name.
pub fn save_chain<Tz: TimeZone>(
    chain: &[crate::engine::transport::CertInfo],
    dir: &Path,
    now: &DateTime<Tz>,
) -> Result<String, String>
where
    Tz::Offset: std::fmt::Display,
{
    let pem = crate::engine::tls::certinfo::chain_pem(chain).map_err(|e| e.to_string())?;
    let stem = format!("smtpscope-chain-{}", now.format("%Y%m%d-%H%M%S"));
    for n in 1..1000 {
        let name = if n == 1 {
            format!("{stem}.pem")
        } else {
            format!("{stem}-{n}.pem")
        };
        let path = dir.join(&name);
        match crate::engine::private::create_new(&path) {
            Ok(mut f) => {
                f.write_all(pem.as_bytes()).map_err(|e| e.to_string())?;
                return Ok(path.display().to_string());
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
        }
    }
    Err(format!("too many exports named {stem}"))
}

/// Writes the three files and returns their names. User names follow the screen's setting
/// (`reveal_user`, toggled with `u`): hidden in the text and JSON Lines unless revealed
/// there; the script never holds one.
pub fn save<Tz: TimeZone>(
    entries: &[Entry],
    dir: &Path,
    now: &DateTime<Tz>,
    reveal_user: bool,
) -> io::Result<Vec<String>>
where
    Tz::Offset: std::fmt::Display,
{
    let mut files = create_files(dir, now)?.into_iter();
    let mut next = || files.next().ok_or_else(|| io::Error::other("file missing"));
    let ((txt, t), (jsonl, j), (script, s)) = (next()?, next()?, next()?);
    let mut t = BufWriter::new(t);
    let opts = TextOptions {
        reveal_user,
        diagnoses: true,
    };
    for e in entries {
        for line in render_text(e, opts) {
            writeln!(t, "{line}")?;
        }
    }
    t.flush()?;
    let mut j = BufWriter::new(j);
    for e in entries {
        match &e.kind {
            EntryKind::Sent {
                line,
                verb,
                redacted: Some(r),
            } if !reveal_user => {
                let hidden = Entry {
                    kind: EntryKind::Sent {
                        line: line.clone(),
                        verb: *verb,
                        redacted: Some(r.without_user()),
                    },
                    ..e.clone()
                };
                writeln!(j, "{}", hidden.to_json())?;
            }
            _ => writeln!(j, "{}", e.to_json())?,
        }
    }
    j.flush()?;
    let mut s = BufWriter::new(s);
    s.write_all(crate::engine::script::from_entries(entries).as_bytes())?;
    s.flush()?;
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    Ok(vec![name(&txt), name(&jsonl), name(&script)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::auth::Redacted;
    use crate::engine::session::Event;
    use crate::engine::transcript::parse_jsonl;
    use crate::tui::sample;
    use chrono::Utc;

    fn sample_entries() -> Vec<Entry> {
        sample::access_denied()
            .into_iter()
            .filter_map(|e| match e {
                Event::Entry(e) => Some(e),
                Event::State(_) => None,
            })
            .collect()
    }

    #[test]
    fn saves_text_and_jsonl_without_overwriting() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        let names = save(&entries, dir.path(), &now, false).unwrap();
        assert_eq!(
            names,
            [
                "smtpscope-20250304-050607.txt",
                "smtpscope-20250304-050607.jsonl",
                "smtpscope-20250304-050607.script"
            ]
        );
        let again = save(&entries, dir.path(), &now, false).unwrap();
        assert_eq!(again[0], "smtpscope-20250304-050607-2.txt");
        let text = std::fs::read_to_string(dir.path().join(&names[0])).unwrap();
        assert!(text.contains("554 Access denied"));
        assert!(
            text.contains("user hidden, password hidden"),
            "redacted: {text}"
        );
        assert!(
            !text.contains(sample::USER),
            "user names stay hidden in saved files"
        );
        let jsonl = std::fs::read_to_string(dir.path().join(&names[1])).unwrap();
        assert!(
            !jsonl.contains(sample::USER),
            "hidden in .jsonl too: {jsonl}"
        );
        let parsed = parse_jsonl(&jsonl).unwrap();
        assert_eq!(parsed.len(), entries.len());
        assert!(jsonl.contains(Redacted::HIDDEN_USER));
        #[cfg(unix)]
        for name in names.iter().chain(&again) {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions();
            assert_eq!(mode.mode() & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn revealed_user_names_are_saved_as_shown() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let now = Utc.with_ymd_and_hms(2025, 3, 4, 5, 6, 7).unwrap();
        let names = save(&entries, dir.path(), &now, true).unwrap();
        let text = std::fs::read_to_string(dir.path().join(&names[0])).unwrap();
        assert!(text.contains(sample::USER), "{text}");
        let jsonl = std::fs::read_to_string(dir.path().join(&names[1])).unwrap();
        assert_eq!(parse_jsonl(&jsonl).unwrap(), entries);
        // The script replays the same steps and parses as `run --script` reads it.
        let script = std::fs::read(dir.path().join(&names[2])).unwrap();
        let steps: Vec<String> = crate::engine::script::Script::parse(&script)
            .unwrap()
            .steps
            .into_iter()
            .map(|(_, s)| s.line())
            .collect();
        assert_eq!(
            steps,
            [
                "EHLO",
                "STARTTLS",
                "EHLO",
                "AUTH PLAIN",
                "MAIL policy-fail@example.com",
                "RCPT xxxxx@example.com",
                "DATA"
            ]
        );
        assert!(!String::from_utf8_lossy(&script).contains(sample::USER));
    }
}
