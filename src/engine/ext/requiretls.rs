//! REQUIRETLS (RFC 8689): the sender asks every hop to relay the message over TLS only. The
//! parameter may be sent only over TLS, and only to a server that offers it.
//!
//! RFC 8689 §2 puts the TLS rule on the sender: the option "MUST only be specified" in a
//! session that itself employs TLS, and the server advertises REQUIRETLS in the EHLO reply
//! that follows STARTTLS. So `--force-ext requiretls` lifts only the second condition (the
//! keyword missing from the EHLO reply); nothing sends REQUIRETLS over a plain connection,
//! since the message the flag protects would then cross this very hop in clear.

use super::{Envelope, EnvelopeInput, Ext, ExtError, Use, forced_warning};

pub(super) fn apply(input: &EnvelopeInput<'_>, env: &mut Envelope) -> Result<(), ExtError> {
    if !input.settings.requiretls {
        return Ok(());
    }
    if !input.tls {
        return Err(ExtError::Invalid(
            "--requiretls can be used only inside TLS (RFC 8689 §2): a message that asks for TLS on every hop must not cross this first one in clear, so MAIL FROM is not sent, even with --force-ext requiretls; use --tls starttls or --tls implicit".into(),
        ));
    }
    match input.settings.usable(Ext::Requiretls, input.caps) {
        Use::No => Err(ExtError::NotOffered {
            what: "--requiretls".into(),
            keyword: "REQUIRETLS",
            hint: "a server that does not offer it would relay the message without the TLS guarantee, so MAIL FROM is not sent; --force-ext requiretls sends it anyway",
        }),
        u => {
            if u == Use::Forced {
                env.warnings
                    .push(forced_warning(Ext::Requiretls, "MAIL FROM's REQUIRETLS"));
            } else {
                env.notes.push(
                    "REQUIRETLS (RFC 8689): the server offers it, so MAIL FROM asks that every hop relay this message over TLS only, or return it rather than send it in clear".into(),
                );
            }
            env.mail_params.push("REQUIRETLS".into());
            Ok(())
        }
    }
}
