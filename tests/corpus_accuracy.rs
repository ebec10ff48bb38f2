//! Accuracy of the classifier on a labelled corpus of real replies
//! (`tests/fixtures/corpus/replies.tsv`, see its README).
//!
//! Every row is a reply published somewhere public (its URL is in the row), labelled with the
//! phase its source explains. The corpus is kept apart from the catalogs' own `example`s, so
//! this measures how the catalog does on replies it was not written from. The test prints
//! accuracy by provider and overall, lists every disagreement, and counts the rows labelled
//! `ambiguous` (with their reasons) without scoring them.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use smtpscope::engine::classify::{Catalog, Context, Phase};
use smtpscope::engine::command::Verb;
use smtpscope::engine::reply::{Reply, ReplyParser};

const CORPUS: &str = "tests/fixtures/corpus/replies.tsv";
const HEADER: &str = "provider\tafter\tphase\treply\tsource\tnote";
const MIN_LABELLED: usize = 300;
const MIN_ACCURACY: f64 = 0.95;

const PROVIDERS: [&str; 18] = [
    "ses",
    "microsoft365",
    "exchange",
    "gmail",
    "sendgrid",
    "mailgun",
    "postmark",
    "sparkpost",
    "zoho",
    "yahoo",
    "icloud",
    "postfix",
    "exim",
    "sendmail",
    "qmail",
    "opensmtpd",
    "hmailserver",
    "generic",
];

#[derive(Debug)]
struct Row {
    line: usize,
    provider: String,
    after: String,
    phase: String,
    reply: String,
    source: String,
    note: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Reads the corpus; a row with the wrong number of fields is kept with what it has, so the
/// well-formedness test can name it.
fn rows() -> (String, Vec<Row>, Vec<String>) {
    let text = fs::read_to_string(root().join(CORPUS)).expect("read the corpus");
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in lines.enumerate() {
        let n = i + 2;
        if line.trim().is_empty() {
            bad.push(format!("line {n}: empty line"));
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 6 {
            bad.push(format!("line {n}: {} fields, want 6", f.len()));
            continue;
        }
        rows.push(Row {
            line: n,
            provider: f[0].to_string(),
            after: f[1].to_string(),
            phase: f[2].to_string(),
            reply: f[3].to_string(),
            source: f[4].to_string(),
            note: f[5].to_string(),
        });
    }
    (header, rows, bad)
}

fn verb(after: &str) -> Option<Verb> {
    Some(match after {
        "connect" => Verb::Connect,
        "ehlo" => Verb::Ehlo,
        "helo" => Verb::Helo,
        "starttls" => Verb::StartTls,
        "auth" => Verb::Auth,
        "auth-response" => Verb::AuthResponse,
        "mail" => Verb::Mail,
        "rcpt" => Verb::Rcpt,
        "data" => Verb::Data,
        "data-end" => Verb::DataEnd,
        "rset" => Verb::Rset,
        "noop" => Verb::Noop,
        "quit" => Verb::Quit,
        _ => return None,
    })
}

/// The reply as the wire would carry it: the row's `\n` (two characters) separates lines.
fn parse(text: &str) -> Result<Reply, String> {
    let mut parser = ReplyParser::default();
    for line in text.split("\\n") {
        parser.push(line.as_bytes());
        parser.push(b"\r\n");
    }
    match parser.next_reply() {
        Ok(Some(r)) => {
            if parser.is_mid_reply() {
                Err("text left over after the reply".into())
            } else {
                Ok(r)
            }
        }
        Ok(None) => Err("not a complete reply".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// Every string field named `example` in every TOML file under `assets/`.
fn catalog_examples() -> HashSet<String> {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).expect("read assets") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, files);
            } else if path.extension().is_some_and(|e| e == "toml") {
                files.push(path);
            }
        }
    }
    fn collect(value: &toml::Value, out: &mut HashSet<String>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    if let (true, toml::Value::String(s)) = (k == "example", v) {
                        out.insert(s.trim().to_string());
                    }
                    collect(v, out);
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| collect(v, out)),
            _ => {}
        }
    }
    let mut files = Vec::new();
    walk(&root().join("assets"), &mut files);
    let mut out = HashSet::new();
    for f in files {
        let text = fs::read_to_string(&f).expect("read a catalog");
        let value: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{} is not TOML: {e}", f.display()));
        collect(&value, &mut out);
    }
    out
}

#[test]
fn corpus_has_enough_labelled_rows() {
    let (_, rows, _) = rows();
    let labelled = rows.iter().filter(|r| r.phase != "ambiguous").count();
    let ambiguous = rows.len() - labelled;
    println!(
        "corpus: {} rows, {labelled} labelled, {ambiguous} ambiguous",
        rows.len()
    );
    assert!(
        labelled >= MIN_LABELLED,
        "{labelled} labelled rows, want at least {MIN_LABELLED}"
    );
}

#[test]
fn corpus_rows_are_well_formed() {
    let (header, rows, mut bad) = rows();
    if header != HEADER {
        bad.push(format!("header is {header:?}, want {HEADER:?}"));
    }
    let mut seen = HashSet::new();
    for r in &rows {
        let n = r.line;
        if !PROVIDERS.contains(&r.provider.as_str()) {
            bad.push(format!("line {n}: unknown provider {:?}", r.provider));
        }
        if verb(&r.after).is_none() {
            bad.push(format!("line {n}: unknown command {:?}", r.after));
        }
        if r.phase != "ambiguous" && Phase::parse(&r.phase).is_none() {
            bad.push(format!("line {n}: unknown phase {:?}", r.phase));
        }
        if r.phase == "ambiguous" && r.note.trim().is_empty() {
            bad.push(format!(
                "line {n}: an ambiguous row needs its reason in the note"
            ));
        }
        let code = r.reply.get(..3).unwrap_or("");
        if !code.bytes().all(|b| b.is_ascii_digit()) || code.len() != 3 {
            bad.push(format!(
                "line {n}: reply does not begin with a 3-digit code"
            ));
        }
        if r.reply != r.reply.trim() || r.reply.contains(['\r', '\n']) {
            bad.push(format!(
                "line {n}: reply has stray whitespace or a raw line break"
            ));
        }
        if let Err(e) = parse(&r.reply) {
            bad.push(format!("line {n}: reply does not parse: {e}"));
        }
        let url_ok = r.source.strip_prefix("https://").is_some_and(|rest| {
            !rest.is_empty() && !rest.starts_with('/') && !rest.contains(char::is_whitespace)
        });
        if !url_ok {
            bad.push(format!(
                "line {n}: source is not an https URL: {:?}",
                r.source
            ));
        }
        if !seen.insert((r.provider.clone(), r.after.clone(), r.reply.clone())) {
            bad.push(format!("line {n}: repeats an earlier row"));
        }
    }
    assert!(bad.is_empty(), "malformed corpus rows:\n{}", bad.join("\n"));
}

#[test]
fn corpus_is_disjoint_from_catalog_examples() {
    let examples = catalog_examples();
    assert!(
        !examples.is_empty(),
        "no catalog examples found under assets/"
    );
    let (_, rows, _) = rows();
    let clashes: Vec<String> = rows
        .iter()
        .filter(|r| examples.contains(r.reply.trim()))
        .map(|r| format!("line {}: {}", r.line, r.reply))
        .collect();
    assert!(
        clashes.is_empty(),
        "corpus rows equal to a catalog example (the corpus must be independent):\n{}",
        clashes.join("\n")
    );
}

#[test]
fn classifier_accuracy_on_corpus() {
    let (_, rows, _) = rows();
    let catalog = Catalog::builtin();
    // provider -> (rows, correct)
    let mut table: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let mut ambiguous = Vec::new();
    for r in &rows {
        if r.phase == "ambiguous" {
            let got = match (parse(&r.reply), verb(&r.after)) {
                (Ok(reply), Some(v)) => catalog.classify(&reply, &Context::after(v)).phase.name(),
                _ => "-",
            };
            ambiguous.push(format!(
                "  {:<12} {:<13} got {:<14} {}\n      reason: {}",
                r.provider, r.after, got, r.reply, r.note
            ));
            continue;
        }
        let entry = table.entry(r.provider.as_str()).or_default();
        entry.0 += 1;
        let got = match (parse(&r.reply), verb(&r.after)) {
            (Ok(reply), Some(v)) => catalog.classify(&reply, &Context::after(v)).phase.name(),
            _ => "unparsed",
        };
        if got == r.phase {
            entry.1 += 1;
        } else {
            mismatches.push(format!(
                "  {:<12} {:<13} expected {:<14} got {:<14} {}",
                r.provider, r.after, r.phase, got, r.reply
            ));
        }
    }
    let (total, correct) = table
        .values()
        .fold((0, 0), |(t, c), (rt, rc)| (t + rt, c + rc));
    let pct = |c: usize, t: usize| {
        if t == 0 {
            0.0
        } else {
            100.0 * c as f64 / t as f64
        }
    };
    println!("\nclassifier accuracy on {CORPUS}");
    println!(
        "{:<14} {:>5} {:>8} {:>9}",
        "provider", "rows", "correct", "accuracy"
    );
    for (p, (t, c)) in &table {
        println!("{p:<14} {t:>5} {c:>8} {:>8.1}%", pct(*c, *t));
    }
    println!(
        "{:<14} {total:>5} {correct:>8} {:>8.1}%",
        "overall",
        pct(correct, total)
    );
    println!("\nmismatches ({}):", mismatches.len());
    for m in &mismatches {
        println!("{m}");
    }
    println!("\nambiguous rows, not scored ({}):", ambiguous.len());
    for a in &ambiguous {
        println!("{a}");
    }
    assert!(total > 0, "no labelled rows");
    let accuracy = correct as f64 / total as f64;
    assert!(
        accuracy >= MIN_ACCURACY,
        "overall accuracy {:.1}% is below {:.0}%",
        accuracy * 100.0,
        MIN_ACCURACY * 100.0
    );
}
