//! Every user intent as one enum. Keys and mouse clicks become an [`Action`] in the keymap
//! before `update` sees them, so the update logic never looks at raw key codes.

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    // SMTP buttons, in the order of the button bar.
    Ehlo,
    StartTls,
    AuthPlain,
    AuthLogin,
    /// AUTH XOAUTH2 with an OAuth access token.
    AuthXoauth2,
    /// AUTH OAUTHBEARER (RFC 7628) with an OAuth access token.
    AuthOauthbearer,
    MailFrom,
    RcptTo,
    Data,
    /// The message in BDAT chunks (CHUNKING, RFC 3030) instead of DATA.
    Bdat,
    Rset,
    Noop,
    /// Sends the SMTP `QUIT` command; the app stays open.
    SmtpQuit,
    /// Opens the raw-line form.
    Raw,
    /// Performs the next step of the standard flow.
    Next,
    // The app.
    /// Connects, or reconnects (abandoning a request that is still waiting).
    Connect,
    /// Leaves the app, sending QUIT first if connected.
    Quit,
    ToggleHelp,
    ToggleCertificate,
    /// Writes the certificate chain on show to a PEM file (in the certificate view).
    ExportChain,
    Save,
    /// Shows or hides the decoded user name of AUTH lines (never the password).
    RevealUser,
    /// Copies the selected reply (or warning, or error) to the clipboard with OSC 52.
    Copy,
    /// Copies the selected reply's main parsed part (the user ARN…) to the clipboard.
    CopyPart,
    /// Turns mouse capture off (the terminal's own selection works) or back on.
    ToggleMouse,
    /// Leaves this session for the picker of the configuration file's targets.
    SwitchTarget,
    /// Reads the AWS account behind this session's user and shows what decided its failure.
    AwsCheck,
    // Navigation.
    SelectPrevious,
    SelectNext,
    PageUp,
    PageDown,
    Top,
    /// Back to the tail: follow new entries and select the latest reply.
    Bottom,
    /// Scrolls the transcript by this many rows (negative: up).
    Scroll(i32),
    ScrollLeft,
    ScrollRight,
    /// Scrolls the diagnosis panel by this many rows.
    ScrollDiagnosis(i32),
    /// Selects the transcript entry shown at this screen row (a mouse click).
    ClickTranscript(u16),
    /// Closes the open overlay or form.
    Close,
    /// Editing inside a form.
    Form(FormAction),
}

/// Editing keys inside a form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FormAction {
    Insert(char),
    Backspace,
    /// Ctrl-U: clear the field (the current line, up to the cursor, in the message body).
    KillLine,
    /// Ctrl-W: delete the word before the cursor.
    KillWord,
    Delete,
    Left,
    Right,
    Home,
    End,
    Up,
    Down,
    NextField,
    PreviousField,
    /// Enter: a new line in a multi-line field, else the next field or submit.
    Enter,
    Submit,
    Cancel,
}

impl Action {
    /// True for actions that talk to the server (disabled in a read-only replay).
    pub(crate) fn sends(self) -> bool {
        matches!(
            self,
            Action::Ehlo
                | Action::StartTls
                | Action::AuthPlain
                | Action::AuthLogin
                | Action::AuthXoauth2
                | Action::AuthOauthbearer
                | Action::MailFrom
                | Action::RcptTo
                | Action::Data
                | Action::Bdat
                | Action::Rset
                | Action::Noop
                | Action::SmtpQuit
                | Action::Raw
                | Action::Next
                | Action::Connect
        )
    }
}
