//! SMTPUTF8 (RFC 6531): internationalized addresses. Used by itself when an address is not
//! ASCII and the server offers it; an error before MAIL FROM when it does not.

use super::{Envelope, EnvelopeInput, Ext, ExtError, Use, forced_warning};

/// The first envelope address that is not ASCII.
pub fn first_non_ascii<'a>(from: &'a str, to: &'a [String]) -> Option<&'a str> {
    std::iter::once(from)
        .chain(to.iter().map(String::as_str))
        .find(|a| !a.is_ascii())
}

pub(super) fn apply(input: &EnvelopeInput<'_>, env: &mut Envelope) -> Result<(), ExtError> {
    let Some(address) = first_non_ascii(input.from, input.to) else {
        return Ok(());
    };
    match input.settings.usable(Ext::Smtputf8, input.caps) {
        Use::No => Err(ExtError::NotOffered {
            what: format!(
                "the address {} (it is not plain ASCII)",
                crate::engine::escape::escape_str(address)
            ),
            keyword: "SMTPUTF8",
            hint: "without it the server cannot take a non-ASCII address (RFC 6531); use an ASCII address (a domain can be written in its xn-- form), or --force-ext smtputf8 to see what the server says",
        }),
        u => {
            if u == Use::Forced {
                env.warnings
                    .push(forced_warning(Ext::Smtputf8, "MAIL FROM's SMTPUTF8"));
            }
            env.notes.push(format!(
                "SMTPUTF8 added to MAIL FROM: {} is not plain ASCII (RFC 6531)",
                crate::engine::escape::escape_str(address)
            ));
            env.mail_params.push("SMTPUTF8".into());
            Ok(())
        }
    }
}
