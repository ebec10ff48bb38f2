//! REQUIRETLS (RFC 8689): the sender asks every hop to relay the message over TLS only. The
//! parameter may be sent only over TLS, and only to a server that offers it.

use super::{Envelope, EnvelopeInput, Ext, ExtError, Use, forced_warning};

pub(super) fn apply(input: &EnvelopeInput<'_>, env: &mut Envelope) -> Result<(), ExtError> {
    if !input.settings.requiretls {
        return Ok(());
    }
    if !input.tls {
        return Err(ExtError::Invalid(
            "--requiretls can be used only inside TLS (RFC 8689 §4.1): use --tls starttls or --tls implicit".into(),
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
            }
            env.mail_params.push("REQUIRETLS".into());
            Ok(())
        }
    }
}
