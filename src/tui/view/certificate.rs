//! The certificate view: the chain the server presented, each certificate's subject, issuer,
//! key, signature algorithm, SHA-256 fingerprint, validity with days left and names; what
//! verification concluded, the trust anchor, the key exchange and OCSP stapling. `p` writes
//! the chain as PEM.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::overlay;
use crate::engine::escape::escape_str;
use crate::engine::tls::certinfo::{days_phrase, key_label};
use crate::engine::tls::warnings::EXPIRY_WARNING_DAYS;
use crate::engine::transcript::EntryKind;
use crate::engine::transport::{CertInfo, TlsInfo, Verification};
use crate::tui::app::App;
use crate::tui::theme::Theme;

fn kv(t: Theme, k: &str, v: &str) -> Line<'static> {
    Line::from(vec![
        Span::styled(format!("  {k:<13}"), t.title()),
        Span::raw(escape_str(v)),
    ])
}

fn chain_lines(t: Theme, chain: &[CertInfo], out: &mut Vec<Line<'static>>) {
    for (i, c) in chain.iter().enumerate() {
        let role = match i {
            0 => "leaf (the server's own)",
            _ if c.self_signed => "root (self-signed)",
            _ => "intermediate",
        };
        out.push(Line::raw(""));
        out.push(Line::from(Span::styled(format!("#{i} {role}"), t.ok())));
        out.push(kv(t, "subject", &c.subject));
        out.push(kv(t, "issuer", &c.issuer));
        out.push(kv(
            t,
            "valid",
            &format!("{} to {}", c.not_before, c.not_after),
        ));
        if let Some(days) = c.days_left {
            let style = if days < 0 {
                t.error()
            } else if days <= EXPIRY_WARNING_DAYS {
                t.warning()
            } else {
                t.ok()
            };
            let mut text = days_phrase(days);
            if (0..=EXPIRY_WARNING_DAYS).contains(&days) {
                text.push_str(": renew it now");
            }
            out.push(Line::from(vec![
                Span::styled(format!("  {:<13}", "days left"), t.title()),
                Span::styled(text, style),
            ]));
        }
        out.push(kv(t, "key", &key_label(c)));
        if let Some(sig) = &c.signature_algorithm {
            out.push(kv(t, "signature", sig));
        }
        if let Some(fp) = &c.sha256 {
            out.push(kv(t, "SHA-256", fp));
        }
        out.push(kv(t, "names (SAN)", &c.sans.join(", ")));
        out.push(kv(t, "serial", &c.serial));
        if c.self_signed {
            out.push(kv(t, "note", "self-signed"));
        }
    }
}

fn info_lines(t: Theme, info: &TlsInfo) -> Vec<Line<'static>> {
    let (outcome, style) = match &info.verification {
        Verification::Verified => (
            "verified: the chain leads to a trusted root and names the server".to_string(),
            t.ok(),
        ),
        Verification::Insecure {
            would_fail: Some(why),
        } => (
            format!("INSECURE (--insecure): not verified; verification would have FAILED: {why}"),
            t.error(),
        ),
        Verification::Insecure { would_fail: None } => (
            "INSECURE (--insecure): not verified; verification would have passed".to_string(),
            t.warning(),
        ),
    };
    let mut out = vec![
        Line::from(vec![
            Span::styled("  verification ", t.title()),
            Span::styled(escape_str(&outcome), style),
        ]),
        kv(t, "server name", &info.server_name),
        kv(t, "protocol", &format!("{} {}", info.version, info.cipher)),
    ];
    if let Some(kx) = &info.facts.key_exchange {
        out.push(kv(t, "key exchange", kx));
    }
    out.push(kv(
        t,
        "trust anchor",
        info.facts
            .trust_anchor
            .as_deref()
            .unwrap_or("none: the chain does not lead to a trusted root"),
    ));
    if let Some(ocsp) = &info.facts.ocsp {
        out.push(kv(t, "OCSP", &ocsp.describe()));
    }
    chain_lines(t, &info.chain, &mut out);
    out
}

pub(crate) fn lines(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    let mut out = body(app);
    if crate::tui::update::chain_on_show(app).is_some_and(|c| !c.is_empty()) {
        out.push(Line::raw(""));
        out.push(Line::from(Span::styled(
            "p writes this chain as PEM to smtpscope-chain-<time>.pem in the current folder",
            t.dim(),
        )));
    }
    out
}

fn body(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    if let Some(info) = app.session.tls() {
        return info_lines(t, info);
    }
    match app.store.last_chain().map(|e| &e.kind) {
        Some(EntryKind::TlsStarted { info }) => {
            let mut out = vec![Line::from(Span::styled(
                "From the last TLS session of this transcript (not connected now)",
                t.dim(),
            ))];
            out.extend(info_lines(t, info));
            out
        }
        Some(EntryKind::Error { text, chain, .. }) => {
            let mut out = vec![Line::from(vec![
                Span::styled("  verification ", t.title()),
                Span::styled(format!("FAILED: {}", escape_str(text)), t.error()),
            ])];
            chain_lines(t, chain, &mut out);
            out
        }
        _ => vec![Line::raw("No certificate: TLS has not started.")],
    }
}

pub(crate) fn render(frame: &mut Frame, area: Rect, app: &App) {
    overlay(frame, area, app, "Certificate chain", lines(app));
}
