//! Keys to actions, and nothing else (the mouse goes through [`super::input`], which asks the
//! layout where a click landed). The button bar, the help overlay and the README's key table
//! are generated from the tables here, so what the screen documents is what the keys do.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::action::{Action, FormAction};
use super::app::{App, Overlay};

/// Where a binding is listed in the help.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Smtp,
    App,
    Navigate,
}

impl Section {
    pub(crate) fn title(self) -> &'static str {
        match self {
            Section::Smtp => {
                "SMTP buttons (dimmed ones still work: a debugger may break the rules)"
            }
            Section::App => "App",
            Section::Navigate => "Transcript and diagnosis",
        }
    }
}

/// One key bound to one action.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub code: KeyCode,
    pub mods: KeyModifiers,
    /// How the key is written on buttons and in the help.
    pub key: &'static str,
    pub action: Action,
    /// The button label, for actions on the button bar (first binding of an action only).
    pub button: Option<&'static str>,
    pub section: Section,
    pub help: &'static str,
}

const fn key(
    code: KeyCode,
    key: &'static str,
    action: Action,
    button: Option<&'static str>,
    section: Section,
    help: &'static str,
) -> Binding {
    Binding {
        code,
        mods: KeyModifiers::NONE,
        key,
        action,
        button,
        section,
        help,
    }
}

const fn ctrl(c: char, key: &'static str, action: Action, help: &'static str) -> Binding {
    Binding {
        code: KeyCode::Char(c),
        mods: KeyModifiers::CONTROL,
        key,
        action,
        button: None,
        section: Section::App,
        help,
    }
}

use KeyCode::Char;
use Section::{App as A, Navigate as N, Smtp as S};

/// The main screen's bindings, in button-bar order.
#[rustfmt::skip]
pub(crate) const NORMAL: &[Binding] = &[
    key(Char('e'), "e", Action::Ehlo, Some("EHLO"), S, "Send EHLO with the --ehlo name"),
    key(Char('s'), "s", Action::StartTls, Some("STARTTLS"), S, "Send STARTTLS; on 220 the TLS handshake starts"),
    key(Char('a'), "a", Action::AuthPlain, Some("AUTH PLAIN"), S, "AUTH PLAIN: asks for user and password (masked, prefilled)"),
    key(Char('l'), "l", Action::AuthLogin, Some("AUTH LOGIN"), S, "AUTH LOGIN: asks for user and password (masked, prefilled)"),
    key(Char('o'), "o", Action::AuthXoauth2, Some("XOAUTH2"), S, "AUTH XOAUTH2: asks for user and OAuth access token (masked, prefilled from the token flags)"),
    key(Char('O'), "O", Action::AuthOauthbearer, None, S, "AUTH OAUTHBEARER (RFC 7628): asks for user and OAuth access token (masked)"),
    key(Char('m'), "m", Action::MailFrom, Some("MAIL FROM"), S, "MAIL FROM: asks for the sender address (prefilled)"),
    key(Char('r'), "r", Action::RcptTo, Some("RCPT TO"), S, "RCPT TO: asks for a recipient address (prefilled)"),
    key(Char('d'), "d", Action::Data, Some("DATA"), S, "DATA: compose From/To/Subject/body, sent after 354 with dot-stuffing"),
    key(Char('b'), "b", Action::Bdat, None, S, "BDAT: the message in chunks instead of DATA (CHUNKING offered, or forced)"),
    key(Char('x'), "x", Action::Rset, Some("RSET"), S, "Send RSET (abandon the mail transaction)"),
    key(Char('n'), "n", Action::Noop, Some("NOOP"), S, "Send NOOP"),
    key(Char('Q'), "Q", Action::SmtpQuit, Some("QUIT"), S, "Send the SMTP QUIT command; the app stays open"),
    key(Char(':'), ":", Action::Raw, Some("Raw"), S, "Type and send any command line"),
    key(KeyCode::Enter, "⏎", Action::Next, Some("Next"), S, "Next step of the standard flow, with the prefilled values"),
    key(Char('c'), "c", Action::Connect, Some("Connect"), A, "Connect, or reconnect (abandons a request still waiting); follows the new replies"),
    key(Char('t'), "t", Action::ToggleCertificate, Some("Cert"), A, "Certificate chain and verification outcome"),
    key(Char('w'), "w", Action::Save, Some("Save"), A, "Save the transcript, redacted, as .txt and .jsonl"),
    key(Char('u'), "u", Action::RevealUser, None, A, "Show/hide the user name in AUTH lines (never the password)"),
    key(Char('y'), "y", Action::Copy, None, A, "Copy the selected reply to the clipboard (OSC 52; server bytes escaped)"),
    key(Char('Y'), "Y", Action::CopyPart, None, A, "Copy the selected reply's parsed part (the user ARN, …) to the clipboard"),
    key(Char('M'), "M", Action::ToggleMouse, None, A, "Mouse capture off/on: off, the terminal's own selection and copy work"),
    key(Char('T'), "T", Action::SwitchTarget, None, A, "Switch to another target of the configuration file (sends QUIT first if connected)"),
    key(Char('A'), "A", Action::AwsCheck, None, A, "After a 535/530 or 554: read the AWS account behind the user (IAM, SES) and show what decided (needs --aws-profile or AWS credentials)"),
    key(Char('?'), "?", Action::ToggleHelp, Some("Help"), A, "This help"),
    key(KeyCode::F(1), "F1", Action::ToggleHelp, None, A, "This help"),
    key(Char('q'), "q", Action::Quit, Some("Quit"), A, "Leave the app (sends QUIT first if connected)"),
    ctrl('c', "Ctrl-C", Action::Quit, "Leave the app (sends QUIT first if connected)"),
    key(KeyCode::Up, "↑", Action::SelectPrevious, None, N, "Select the previous reply, warning or message (leaves following; the selection stays)"),
    key(Char('k'), "k", Action::SelectPrevious, None, N, "Select the previous reply, warning or message (leaves following; the selection stays)"),
    key(KeyCode::Down, "↓", Action::SelectNext, None, N, "Select the next reply, warning or message (leaves following)"),
    key(Char('j'), "j", Action::SelectNext, None, N, "Select the next reply, warning or message (leaves following)"),
    key(KeyCode::PageUp, "PgUp", Action::PageUp, None, N, "Scroll up a page"),
    key(KeyCode::PageDown, "PgDn", Action::PageDown, None, N, "Scroll down a page"),
    key(KeyCode::Home, "Home", Action::Top, None, N, "Select the first reply (leaves following)"),
    key(Char('g'), "g", Action::Top, None, N, "Select the first reply (leaves following)"),
    key(KeyCode::End, "End", Action::Bottom, None, N, "Follow again: each new reply is selected"),
    key(Char('G'), "G", Action::Bottom, None, N, "Follow again: each new reply is selected"),
    key(KeyCode::Left, "←", Action::ScrollLeft, None, N, "Scroll long lines left"),
    key(KeyCode::Right, "→", Action::ScrollRight, None, N, "Scroll long lines right"),
    key(Char('['), "[", Action::ScrollDiagnosis(-1), None, N, "Scroll the diagnosis back up (\"back: [\")"),
    key(Char(']'), "]", Action::ScrollDiagnosis(1), None, N, "Scroll the diagnosis down when it says \"more: ]\""),
    key(KeyCode::Esc, "Esc", Action::Close, None, N, "Close the help, certificate view or form"),
];

/// What the mouse does, for the help (the keymap cannot express it as keys).
pub(crate) const MOUSE_HELP: &[(&str, &str)] = &[
    (
        "click",
        "Press a button; select a reply in the transcript (leaves following)",
    ),
    ("wheel", "Scroll the transcript (or the open overlay)"),
    (
        "selection",
        "M turns mouse capture off, so the terminal selects and copies text; M again turns it on",
    ),
];

/// Keys inside a form, for the help and the form's footer.
pub(crate) const FORM_HELP: &[(&str, &str)] = &[
    ("Enter", "Send (in the message body: new line)"),
    ("Ctrl-S", "Send from any field"),
    (
        "Ctrl-U",
        "Clear the field (in the body: the line up to the cursor)",
    ),
    ("Ctrl-W", "Delete the word before the cursor"),
    (
        "Tab/S-Tab",
        "Next/previous field (also ↑/↓ outside the body)",
    ),
    ("Esc", "Cancel"),
];

/// The key table of the README, generated from [`NORMAL`] so the documentation cannot drift
/// from the real bindings (a test compares them).
#[cfg(test)]
pub(crate) fn markdown_table() -> String {
    use std::fmt::Write as _;
    let mut out = String::from("| key | does |\n|---|---|\n");
    let mut i = 0;
    while i < NORMAL.len() {
        // Consecutive bindings of one action share a row ("↑ / k").
        let mut keys = vec![format!("`{}`", NORMAL[i].key)];
        let mut j = i + 1;
        while j < NORMAL.len() && NORMAL[j].action == NORMAL[i].action {
            keys.push(format!("`{}`", NORMAL[j].key));
            j += 1;
        }
        let _ = writeln!(out, "| {} | {} |", keys.join(" / "), NORMAL[i].help);
        i = j;
    }
    for (what, help) in MOUSE_HELP {
        let _ = writeln!(out, "| mouse {what} | {help} |");
    }
    out
}

/// Every binding listed on the button bar, in order (the defaults; the app's own are in
/// [`App::keymap`]).
#[cfg(test)]
pub(crate) fn buttons() -> impl Iterator<Item = &'static Binding> {
    NORMAL.iter().filter(|b| b.button.is_some())
}

/// The configuration file's names of the actions whose key can be changed (`[keys]`).
pub const ACTION_NAMES: &[(&str, Action)] = &[
    ("ehlo", Action::Ehlo),
    ("starttls", Action::StartTls),
    ("auth_plain", Action::AuthPlain),
    ("auth_login", Action::AuthLogin),
    ("mail_from", Action::MailFrom),
    ("rcpt_to", Action::RcptTo),
    ("data", Action::Data),
    ("bdat", Action::Bdat),
    ("rset", Action::Rset),
    ("noop", Action::Noop),
    ("smtp_quit", Action::SmtpQuit),
    ("raw", Action::Raw),
    ("next", Action::Next),
    ("connect", Action::Connect),
    ("certificate", Action::ToggleCertificate),
    ("save", Action::Save),
    ("reveal_user", Action::RevealUser),
    ("copy", Action::Copy),
    ("copy_part", Action::CopyPart),
    ("mouse", Action::ToggleMouse),
    ("help", Action::ToggleHelp),
    ("quit", Action::Quit),
    ("switch_target", Action::SwitchTarget),
];

/// Printable ASCII, so a one-character key has a `'static` label (a slice of this).
const PRINTABLE: &str = "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";

/// Named keys a configuration may use, with their labels.
const NAMED: &[(&str, KeyCode, &str)] = &[
    ("enter", KeyCode::Enter, "⏎"),
    ("tab", KeyCode::Tab, "Tab"),
    ("space", KeyCode::Char(' '), "Space"),
    ("backspace", KeyCode::Backspace, "Bksp"),
    ("insert", KeyCode::Insert, "Ins"),
    ("delete", KeyCode::Delete, "Del"),
    ("f2", KeyCode::F(2), "F2"),
    ("f3", KeyCode::F(3), "F3"),
    ("f4", KeyCode::F(4), "F4"),
    ("f5", KeyCode::F(5), "F5"),
    ("f6", KeyCode::F(6), "F6"),
    ("f7", KeyCode::F(7), "F7"),
    ("f8", KeyCode::F(8), "F8"),
    ("f9", KeyCode::F(9), "F9"),
    ("f10", KeyCode::F(10), "F10"),
    ("f11", KeyCode::F(11), "F11"),
    ("f12", KeyCode::F(12), "F12"),
];

/// A key as the configuration writes it: one printable character (`"C"`), or a name
/// (`"F5"`, `"Enter"`, `"Space"`, …). Esc, arrows and paging keys stay as they are.
pub fn parse_key(text: &str) -> Result<(KeyCode, &'static str), String> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && let Some(i) = PRINTABLE.find(c)
    {
        return Ok((KeyCode::Char(c), &PRINTABLE[i..i + c.len_utf8()]));
    }
    let lower = text.to_ascii_lowercase();
    NAMED
        .iter()
        .find(|(n, _, _)| *n == lower)
        .map(|(_, code, label)| (*code, *label))
        .ok_or_else(|| {
            format!(
                "{text:?} is not a key smtpscope can bind: give one printable character (e.g. \"C\") or one of Enter, Tab, Space, Backspace, Insert, Delete, F2 to F12"
            )
        })
}

/// The main screen's bindings with each configured action on its new key instead of its
/// default ones (in the same place in the button bar and the help). Two actions on one key
/// is an error naming both.
pub fn with_overrides(
    overrides: &[(Action, KeyCode, &'static str)],
) -> Result<Vec<Binding>, String> {
    let mut out: Vec<Binding> = Vec::with_capacity(NORMAL.len());
    for b in NORMAL {
        match overrides.iter().find(|(a, _, _)| *a == b.action) {
            None => out.push(*b),
            Some((_, code, label)) => {
                // The first binding of the action takes the new key; the others go.
                if !out.iter().any(|o| o.action == b.action) {
                    out.push(Binding {
                        code: *code,
                        mods: KeyModifiers::NONE,
                        key: label,
                        ..*b
                    });
                }
            }
        }
    }
    for (i, b) in out.iter().enumerate() {
        if let Some(other) = out[..i]
            .iter()
            .find(|o| o.code == b.code && o.mods == b.mods)
        {
            let name = |a: Action| {
                ACTION_NAMES
                    .iter()
                    .find(|(_, x)| *x == a)
                    .map_or("a navigation key", |(n, _)| n)
            };
            return Err(format!(
                "key {} would do both {} and {}: choose another key",
                b.key,
                name(other.action),
                name(b.action)
            ));
        }
    }
    Ok(out)
}

/// Crossterm reports Shift+q as `Char('Q')` with SHIFT (and some terminals as `Char('q')`).
fn normalise(key: &KeyEvent) -> (KeyCode, KeyModifiers) {
    let mut mods = key.modifiers;
    let mut code = key.code;
    if let KeyCode::Char(c) = code {
        if mods.contains(KeyModifiers::SHIFT) {
            code = KeyCode::Char(c.to_ascii_uppercase());
        }
        mods.remove(KeyModifiers::SHIFT);
    }
    (code, mods)
}

/// The action of a key on the main screen, with the default bindings.
#[cfg(test)]
pub(crate) fn normal_action(key: &KeyEvent) -> Option<Action> {
    action_in(NORMAL, key)
}

/// The action of a key on the main screen, with `bindings` (the app's, maybe configured).
pub(crate) fn action_in(bindings: &[Binding], key: &KeyEvent) -> Option<Action> {
    let (code, mods) = normalise(key);
    bindings
        .iter()
        .find(|b| b.code == code && b.mods == mods)
        .map(|b| b.action)
}

fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c')
}

fn form_action(key: &KeyEvent) -> Option<Action> {
    if is_ctrl_c(key) {
        return Some(Action::Quit);
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let f = match key.code {
        KeyCode::Char('s') if ctrl => FormAction::Submit,
        KeyCode::Char('u') if ctrl => FormAction::KillLine,
        KeyCode::Char('w') if ctrl => FormAction::KillWord,
        KeyCode::Char(_) if ctrl || key.modifiers.contains(KeyModifiers::ALT) => return None,
        KeyCode::Char(c) => FormAction::Insert(c),
        KeyCode::Enter => FormAction::Enter,
        KeyCode::Esc => FormAction::Cancel,
        KeyCode::Tab => FormAction::NextField,
        KeyCode::BackTab => FormAction::PreviousField,
        KeyCode::Backspace => FormAction::Backspace,
        KeyCode::Delete => FormAction::Delete,
        KeyCode::Left => FormAction::Left,
        KeyCode::Right => FormAction::Right,
        KeyCode::Home => FormAction::Home,
        KeyCode::End => FormAction::End,
        KeyCode::Up => FormAction::Up,
        KeyCode::Down => FormAction::Down,
        _ => return None,
    };
    Some(Action::Form(f))
}

fn overlay_action(key: &KeyEvent, overlay: Overlay) -> Option<Action> {
    if is_ctrl_c(key) {
        return Some(Action::Quit);
    }
    match key.code {
        KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => Some(Action::Close),
        KeyCode::Char('?') | KeyCode::F(1) if overlay == Overlay::Help => Some(Action::Close),
        KeyCode::Char('t') if overlay == Overlay::Certificate => Some(Action::Close),
        KeyCode::Char('p') if overlay == Overlay::Certificate => Some(Action::ExportChain),
        KeyCode::Up | KeyCode::Char('k') => Some(Action::Scroll(-1)),
        KeyCode::Down | KeyCode::Char('j') => Some(Action::Scroll(1)),
        KeyCode::PageUp => Some(Action::PageUp),
        KeyCode::PageDown | KeyCode::Char(' ') => Some(Action::PageDown),
        KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
        _ => None,
    }
}

/// The action of a key, given what is open.
pub(crate) fn key_action(app: &App, key: &KeyEvent) -> Option<Action> {
    if app.form.is_some() {
        form_action(key)
    } else if app.overlay != Overlay::None {
        overlay_action(key, app.overlay)
    } else {
        action_in(&app.keymap, key)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_readme_lists_the_real_key_bindings() {
        let readme = include_str!("../../README.md");
        let table = super::markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's key table is out of date; it should read:\n{table}"
        );
    }

    use super::*;
    use std::collections::HashSet;

    fn press(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn the_documented_keys_map_to_their_actions() {
        let cases = [
            (Char('e'), KeyModifiers::NONE, Action::Ehlo),
            (Char('s'), KeyModifiers::NONE, Action::StartTls),
            (Char('a'), KeyModifiers::NONE, Action::AuthPlain),
            (Char('l'), KeyModifiers::NONE, Action::AuthLogin),
            (Char('o'), KeyModifiers::NONE, Action::AuthXoauth2),
            (Char('O'), KeyModifiers::SHIFT, Action::AuthOauthbearer),
            (Char('m'), KeyModifiers::NONE, Action::MailFrom),
            (Char('r'), KeyModifiers::NONE, Action::RcptTo),
            (Char('d'), KeyModifiers::NONE, Action::Data),
            (Char('x'), KeyModifiers::NONE, Action::Rset),
            (Char('n'), KeyModifiers::NONE, Action::Noop),
            (Char('Q'), KeyModifiers::SHIFT, Action::SmtpQuit),
            (Char('q'), KeyModifiers::SHIFT, Action::SmtpQuit),
            (Char(':'), KeyModifiers::NONE, Action::Raw),
            (KeyCode::Enter, KeyModifiers::NONE, Action::Next),
            (Char('q'), KeyModifiers::NONE, Action::Quit),
            (Char('c'), KeyModifiers::CONTROL, Action::Quit),
            (Char('c'), KeyModifiers::NONE, Action::Connect),
            (Char('t'), KeyModifiers::NONE, Action::ToggleCertificate),
            (Char('?'), KeyModifiers::NONE, Action::ToggleHelp),
            (Char('w'), KeyModifiers::NONE, Action::Save),
            (Char('u'), KeyModifiers::NONE, Action::RevealUser),
            (Char('y'), KeyModifiers::NONE, Action::Copy),
            (Char('Y'), KeyModifiers::SHIFT, Action::CopyPart),
            (Char('M'), KeyModifiers::SHIFT, Action::ToggleMouse),
            (Char('A'), KeyModifiers::SHIFT, Action::AwsCheck),
        ];
        for (code, mods, want) in cases {
            assert_eq!(
                normal_action(&press(code, mods)),
                Some(want),
                "{code:?} {mods:?}"
            );
        }
    }

    #[test]
    fn no_key_is_bound_twice() {
        let mut seen = HashSet::new();
        for b in NORMAL {
            assert!(seen.insert((b.code, b.mods)), "{} bound twice", b.key);
        }
    }

    #[test]
    fn every_button_of_the_issue_is_on_the_bar() {
        let labels: Vec<&str> = buttons().filter_map(|b| b.button).collect();
        for want in [
            "EHLO",
            "STARTTLS",
            "AUTH PLAIN",
            "AUTH LOGIN",
            "MAIL FROM",
            "RCPT TO",
            "DATA",
            "RSET",
            "NOOP",
            "QUIT",
            "Raw",
            "Next",
        ] {
            assert!(labels.contains(&want), "{want} missing");
        }
    }

    #[test]
    fn configured_keys_replace_the_defaults_and_clashes_are_refused() {
        let (code, label) = parse_key("C").unwrap();
        assert_eq!((code, label), (Char('C'), "C"));
        assert_eq!(parse_key("f5").unwrap(), (KeyCode::F(5), "F5"));
        assert!(parse_key("Ctrl-x").is_err() && parse_key("é").is_err());
        let map = with_overrides(&[(Action::Connect, KeyCode::F(5), "F5")]).unwrap();
        assert_eq!(
            action_in(&map, &press(KeyCode::F(5), KeyModifiers::NONE)),
            Some(Action::Connect)
        );
        assert_eq!(action_in(&map, &press(Char('c'), KeyModifiers::NONE)), None);
        // Both default keys of help (? and F1) give way to the one configured.
        let map = with_overrides(&[(Action::ToggleHelp, Char('h'), "h")]).unwrap();
        assert_eq!(
            map.iter()
                .filter(|b| b.action == Action::ToggleHelp)
                .count(),
            1
        );
        let e = with_overrides(&[(Action::Connect, Char('q'), "q")]).unwrap_err();
        assert!(
            e.contains("key q would do both") && e.contains("quit"),
            "{e}"
        );
        // Swapping two keys works.
        let map = with_overrides(&[
            (Action::Connect, Char('q'), "q"),
            (Action::Quit, Char('c'), "c"),
        ])
        .unwrap();
        assert_eq!(
            action_in(&map, &press(Char('q'), KeyModifiers::NONE)),
            Some(Action::Connect)
        );
        for (name, _) in ACTION_NAMES {
            assert!(
                ACTION_NAMES.iter().filter(|(n, _)| n == name).count() == 1,
                "{name}"
            );
        }
    }

    #[test]
    fn forms_take_letters_as_text() {
        assert_eq!(
            form_action(&press(Char('q'), KeyModifiers::NONE)),
            Some(Action::Form(FormAction::Insert('q')))
        );
        assert_eq!(
            form_action(&press(Char('s'), KeyModifiers::CONTROL)),
            Some(Action::Form(FormAction::Submit))
        );
        assert_eq!(
            form_action(&press(Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            form_action(&press(Char('u'), KeyModifiers::CONTROL)),
            Some(Action::Form(FormAction::KillLine))
        );
        assert_eq!(
            form_action(&press(Char('w'), KeyModifiers::CONTROL)),
            Some(Action::Form(FormAction::KillWord))
        );
    }
}
