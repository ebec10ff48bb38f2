//! SIZE (RFC 1870): declare the message size on MAIL FROM, and warn before sending a message
//! the server said it will not take.

use super::{Envelope, EnvelopeInput, Ext, Use, forced_warning};

pub(super) fn apply(input: &EnvelopeInput<'_>, env: &mut Envelope) {
    let usable = input.settings.usable(Ext::Size, input.caps);
    if !usable.yes() {
        return;
    }
    let Some(size) = input.message.size else {
        env.notes
            .push("SIZE= is left out: the message's size is not known before it is sent".into());
        return;
    };
    if usable == Use::Forced {
        env.warnings
            .push(forced_warning(Ext::Size, "MAIL FROM's SIZE= parameter"));
    }
    env.mail_params.push(format!("SIZE={size}"));
    if let Some(limit) = input.caps.and_then(|c| c.size).filter(|l| *l > 0)
        && size > limit
    {
        env.warnings.push(format!(
            "the message is {size} bytes but the server's EHLO said SIZE {limit}: expect 552 (message size exceeds fixed maximum) at MAIL FROM or after the message (RFC 1870)"
        ));
    }
}
