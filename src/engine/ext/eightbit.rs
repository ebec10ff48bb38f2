//! 8BITMIME (RFC 6152): `BODY=8BITMIME` on MAIL FROM when the message has bytes above 127.

use super::{Envelope, EnvelopeInput, Ext, Use, forced_warning};

pub(super) fn apply(input: &EnvelopeInput<'_>, env: &mut Envelope) {
    match input.message.eight_bit {
        Some(true) => {}
        Some(false) => return,
        None => {
            env.notes.push(
                "BODY= is left out: whether the message has 8-bit bytes is not known before it is sent"
                    .into(),
            );
            return;
        }
    }
    match input.settings.usable(Ext::EightBitMime, input.caps) {
        Use::No => env.warnings.push(
            "the message has bytes above 127 but the server does not offer 8BITMIME: it may refuse the message or damage those bytes; encode the body as quoted-printable or base64 (RFC 2045)"
                .into(),
        ),
        u => {
            if u == Use::Forced {
                env.warnings
                    .push(forced_warning(Ext::EightBitMime, "MAIL FROM's BODY=8BITMIME"));
            }
            env.mail_params.push("BODY=8BITMIME".into());
        }
    }
}
