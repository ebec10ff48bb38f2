//! Forms: the text fields behind the AUTH, MAIL FROM, RCPT TO, DATA and raw-line dialogs.
//!
//! A field keeps its text in a [`Zeroizing`] buffer so a typed password is wiped when the form
//! closes. A secret field shows a fixed-width mask, on screen and in `Debug`: neither says how
//! long the password is.

use std::fmt;

use zeroize::Zeroizing;

use crate::engine::auth::Mechanism;

/// Bullets a secret field shows, whatever the length of what was typed.
pub(crate) const MASK_WIDTH: usize = 8;

/// One editable field. The cursor is a char index.
pub struct Field {
    pub label: &'static str,
    value: Zeroizing<String>,
    cursor: usize,
    pub secret: bool,
    pub multiline: bool,
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Field");
        d.field("label", &self.label);
        if self.secret {
            d.field("value", &format_args!("<hidden>"));
        } else {
            d.field("value", &self.value.as_str());
        }
        if !self.secret {
            d.field("cursor", &self.cursor);
        }
        d.finish()
    }
}

impl Field {
    pub(crate) fn new(label: &'static str, value: &str) -> Field {
        let value = Zeroizing::new(value.to_string());
        let cursor = value.chars().count();
        Field {
            label,
            value,
            cursor,
            secret: false,
            multiline: false,
        }
    }

    pub(crate) fn secret(label: &'static str, value: &str) -> Field {
        Field {
            secret: true,
            ..Field::new(label, value)
        }
    }

    pub(crate) fn multiline(label: &'static str, value: &str) -> Field {
        Field {
            multiline: true,
            ..Field::new(label, value)
        }
    }

    pub(crate) fn value(&self) -> &str {
        &self.value
    }

    /// The value as a secret buffer, for passwords.
    pub(crate) fn secret_value(&self) -> Zeroizing<String> {
        Zeroizing::new(self.value.to_string())
    }

    #[cfg(test)]
    pub(crate) fn cursor(&self) -> usize {
        self.cursor
    }

    pub(crate) fn char_len(&self) -> usize {
        self.value.chars().count()
    }

    /// What the screen shows: for a secret, a mask of [`MASK_WIDTH`] bullets whatever its
    /// length (nothing when it is empty).
    pub(crate) fn shown(&self) -> String {
        if self.secret {
            if self.value.is_empty() {
                String::new()
            } else {
                "•".repeat(MASK_WIDTH)
            }
        } else {
            self.value.to_string()
        }
    }

    /// Where the cursor shows in [`Field::shown`]: a secret's is at the end of its mask, so
    /// moving it says nothing about the length either.
    pub(crate) fn shown_cursor(&self) -> usize {
        if self.secret {
            self.shown().chars().count()
        } else {
            self.cursor
        }
    }

    /// Replaces chars `from..to` with nothing, in a fresh buffer (see [`Field::insert`]).
    fn remove(&mut self, from: usize, to: usize) {
        let (a, b) = (self.byte_at(from), self.byte_at(to));
        let mut next = Zeroizing::new(String::with_capacity(self.value.len()));
        next.push_str(&self.value[..a]);
        next.push_str(&self.value[b..]);
        self.value = next;
        self.cursor = from;
    }

    /// Ctrl-U: deletes from the start of the line to the cursor; with the cursor at the end
    /// of a one-line field that clears it. A secret is cleared whole (its cursor is unseen).
    pub(crate) fn kill_line(&mut self) {
        if self.secret {
            self.remove(0, self.char_len());
            return;
        }
        let (line, _) = self.line_col();
        self.remove(self.line_start(line), self.cursor);
    }

    /// Ctrl-W: deletes the word before the cursor (and the spaces after it). A secret is
    /// cleared whole: deleting by words would tell where its spaces are.
    pub(crate) fn kill_word(&mut self) {
        if self.secret {
            self.remove(0, self.char_len());
            return;
        }
        let chars: Vec<char> = self.value.chars().collect();
        let mut from = self.cursor.min(chars.len());
        while from > 0 && chars[from - 1] != '\n' && chars[from - 1].is_whitespace() {
            from -= 1;
        }
        while from > 0 && !chars[from - 1].is_whitespace() {
            from -= 1;
        }
        self.remove(from, self.cursor);
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.value
            .char_indices()
            .nth(char_idx)
            .map_or(self.value.len(), |(b, _)| b)
    }

    pub(crate) fn insert(&mut self, c: char) {
        if c == '\n' && !self.multiline {
            return;
        }
        let at = self.byte_at(self.cursor);
        // Build a new buffer rather than growing in place: a reallocation would leave a copy
        // of a secret behind in freed memory.
        let mut next = Zeroizing::new(String::with_capacity(self.value.len() + 4));
        next.push_str(&self.value[..at]);
        next.push(c);
        next.push_str(&self.value[at..]);
        self.value = next;
        self.cursor += 1;
    }

    /// Inserts pasted text. A multi-line field keeps its lines (CRLF becomes LF); a
    /// single-line field keeps every character, so validation can name a pasted CR or LF
    /// instead of it vanishing.
    pub(crate) fn paste(&mut self, text: &str) {
        let text = if self.multiline {
            text.replace("\r\n", "\n")
        } else {
            text.to_string()
        };
        let at = self.byte_at(self.cursor);
        let mut next = Zeroizing::new(String::with_capacity(self.value.len() + text.len()));
        next.push_str(&self.value[..at]);
        next.push_str(&text);
        next.push_str(&self.value[at..]);
        self.value = next;
        self.cursor += text.chars().count();
    }

    pub(crate) fn backspace(&mut self) {
        if self.cursor == 0 {
            return;
        }
        self.cursor -= 1;
        self.delete();
    }

    pub(crate) fn delete(&mut self) {
        if self.cursor >= self.char_len() {
            return;
        }
        let at = self.cursor;
        self.remove(at, at + 1);
    }

    pub(crate) fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    pub(crate) fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.char_len());
    }

    /// Start of the current line.
    pub(crate) fn home(&mut self) {
        let (line, _) = self.line_col();
        self.cursor = self.line_start(line);
    }

    /// End of the current line.
    pub(crate) fn end(&mut self) {
        let (line, _) = self.line_col();
        self.cursor = self.line_start(line) + self.line_len(line);
    }

    /// The cursor's line and column (in chars).
    pub(crate) fn line_col(&self) -> (usize, usize) {
        let mut line = 0;
        let mut col = 0;
        for c in self.value.chars().take(self.cursor) {
            if c == '\n' {
                line += 1;
                col = 0;
            } else {
                col += 1;
            }
        }
        (line, col)
    }

    fn line_start(&self, line: usize) -> usize {
        if line == 0 {
            return 0;
        }
        let mut seen = 0;
        for (i, c) in self.value.chars().enumerate() {
            if c == '\n' {
                seen += 1;
                if seen == line {
                    return i + 1;
                }
            }
        }
        self.char_len()
    }

    fn line_len(&self, line: usize) -> usize {
        self.value
            .split('\n')
            .nth(line)
            .map_or(0, |l| l.chars().count())
    }

    fn line_count(&self) -> usize {
        self.value.split('\n').count()
    }

    /// Moves up a line; false when already on the first.
    pub(crate) fn up(&mut self) -> bool {
        let (line, col) = self.line_col();
        if line == 0 {
            return false;
        }
        self.cursor = self.line_start(line - 1) + col.min(self.line_len(line - 1));
        true
    }

    /// Moves down a line; false when already on the last.
    pub(crate) fn down(&mut self) -> bool {
        let (line, col) = self.line_col();
        if line + 1 >= self.line_count() {
            return false;
        }
        self.cursor = self.line_start(line + 1) + col.min(self.line_len(line + 1));
        true
    }
}

/// Which dialog is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Auth(Mechanism),
    Mail,
    Rcpt,
    /// The DATA composer.
    Compose,
    Raw,
    /// A line of the message, typed by hand after the 354.
    MessageLine,
}

impl FormKind {
    pub(crate) fn title(self) -> &'static str {
        match self {
            FormKind::Auth(Mechanism::Plain) => "AUTH PLAIN",
            FormKind::Auth(Mechanism::Login) => "AUTH LOGIN",
            FormKind::Auth(Mechanism::Xoauth2) => "AUTH XOAUTH2 (OAuth access token)",
            FormKind::Auth(Mechanism::Oauthbearer) => "AUTH OAUTHBEARER (OAuth access token)",
            FormKind::Mail => "MAIL FROM",
            FormKind::Rcpt => "RCPT TO",
            FormKind::Compose => "DATA: compose the message",
            FormKind::Raw => "Raw command line",
            FormKind::MessageLine => "Typing the message (after 354)",
        }
    }
}

/// An open dialog: its fields, the focused one, and what it has to say.
#[derive(Debug)]
pub struct Form {
    pub kind: FormKind,
    pub fields: Vec<Field>,
    pub focus: usize,
    /// Why the last submit was refused.
    pub error: Option<String>,
    /// A warning that stays while the form is open (e.g. no TLS).
    pub warning: Option<String>,
    /// The parameters the extension settings gave when the form opened (MAIL FROM, RCPT TO):
    /// left as they are, they are worked out again for the address finally sent.
    pub suggested: Option<String>,
    /// The composer sends with BDAT (CHUNKING) instead of DATA.
    pub bdat: bool,
}

impl Form {
    pub(crate) fn new(kind: FormKind, fields: Vec<Field>) -> Form {
        Form {
            kind,
            fields,
            focus: 0,
            error: None,
            warning: None,
            suggested: None,
            bdat: false,
        }
    }

    /// Puts the focus on the first empty field, so the form asks for what is missing.
    pub(crate) fn focus_first_empty(mut self) -> Form {
        if let Some(i) = self.fields.iter().position(|f| f.value().is_empty()) {
            self.focus = i;
        }
        self
    }

    pub(crate) fn focused(&mut self) -> Option<&mut Field> {
        self.fields.get_mut(self.focus)
    }

    pub(crate) fn value(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", Field::value)
    }

    pub(crate) fn next_field(&mut self) {
        if !self.fields.is_empty() {
            self.focus = (self.focus + 1) % self.fields.len();
        }
    }

    pub(crate) fn previous_field(&mut self) {
        if !self.fields.is_empty() {
            self.focus = (self.focus + self.fields.len() - 1) % self.fields.len();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editing_moves_by_chars_not_bytes() {
        let mut f = Field::new("x", "héllo");
        f.left();
        f.left();
        f.backspace();
        assert_eq!(f.value(), "hélo");
        f.insert('ö');
        assert_eq!(f.value(), "héölo");
        f.home();
        f.delete();
        assert_eq!(f.value(), "éölo");
        f.end();
        f.insert('!');
        assert_eq!(f.value(), "éölo!");
    }

    #[test]
    fn paste_keeps_what_validation_must_see() {
        let mut f = Field::new("x", "ab");
        f.left();
        f.paste("1\r\n2");
        assert_eq!(f.value(), "a1\r\n2b");
        assert_eq!(f.cursor(), 5);
        let mut m = Field::multiline("b", "");
        m.paste("l1\r\nl2");
        assert_eq!(m.value(), "l1\nl2");
    }

    #[test]
    fn single_line_fields_refuse_newlines() {
        let mut f = Field::new("x", "a");
        f.insert('\n');
        assert_eq!(f.value(), "a");
        let mut m = Field::multiline("b", "ab");
        m.insert('\n');
        m.insert('c');
        assert_eq!(m.value(), "ab\nc");
    }

    #[test]
    fn up_and_down_keep_the_column() {
        let mut f = Field::multiline("b", "first line\nab\nthird line");
        assert_eq!(f.line_col(), (2, 10));
        assert!(f.up());
        assert_eq!(f.line_col(), (1, 2));
        assert!(f.up());
        assert_eq!(f.line_col(), (0, 2));
        assert!(!f.up());
        assert!(f.down());
        f.end();
        assert_eq!(f.line_col(), (1, 2));
        f.home();
        assert_eq!(f.line_col(), (1, 0));
    }

    #[test]
    fn secrets_are_masked_and_not_debug_printed() {
        let f = Field::secret("Password", "hunter2");
        assert_eq!(f.shown(), "••••••••");
        let dbg = format!("{f:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
    }

    #[test]
    fn the_mask_does_not_tell_the_length() {
        let short = Field::secret("Password", "a");
        let long = Field::secret("Password", &"x".repeat(44));
        assert_eq!(short.shown(), long.shown());
        assert_eq!(short.shown_cursor(), long.shown_cursor());
        assert_eq!(format!("{short:?}"), format!("{long:?}"));
        assert_eq!(Field::secret("Password", "").shown(), "");
    }

    #[test]
    fn ctrl_u_clears_and_ctrl_w_deletes_a_word() {
        let mut f = Field::new("x", "MAIL FROM:<a@b.c>");
        f.kill_word();
        assert_eq!(f.value(), "MAIL ");
        f.kill_word();
        assert_eq!(f.value(), "");
        let mut f = Field::new("x", "one two  ");
        f.kill_word();
        assert_eq!(f.value(), "one ");
        f.kill_line();
        assert_eq!((f.value(), f.cursor()), ("", 0));
        // In the body, Ctrl-U takes the current line only, up to the cursor.
        let mut m = Field::multiline("b", "keep\ndrop this");
        m.kill_line();
        assert_eq!(m.value(), "keep\n");
        m.insert('x');
        m.left();
        m.kill_word();
        assert_eq!(m.value(), "keep\nx", "Ctrl-W stops at the line start");
        let mut p = Field::secret("Password", "two words");
        p.kill_word();
        assert_eq!(p.value(), "");
    }

    #[test]
    fn focus_goes_to_what_is_missing() {
        let form = Form::new(
            FormKind::Auth(Mechanism::Plain),
            vec![Field::new("User", "AKIA"), Field::secret("Password", "")],
        )
        .focus_first_empty();
        assert_eq!(form.focus, 1);
    }
}
