//! Reads what a diagnosis needs from IAM, SES and STS with the AWS SDK, and returns it as
//! plain data ([`AwsFacts`]). Nothing here judges: [`super::diagnose`] does.
//!
//! Credentials and region come from the standard AWS chain (environment, `~/.aws`, SSO,
//! `credential_process`, instance roles) or from `--aws-profile`; `AWS_ENDPOINT_URL` points
//! every client at another endpoint (the tests' moto server). Every call is bounded in time,
//! every list in length, and every call that fails is kept as an [`Unseen`] naming the
//! permission it needs, so one refused call does not hide what the others found.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::SendQuota;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use chrono::{DateTime, TimeZone, Utc};

use super::{
    AwsFacts, KeyInfo, KeyOwner, PolicyPlace, PolicyText, Seen, SendQuestion, SendingStatus,
    Unseen, UserFacts,
};
use crate::engine::ses;

/// The longest any one AWS call may take, and all of them together.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(90);
/// At most this many policies (user and groups together) and groups are read: IAM's own
/// quotas are far below (10 managed policies per user or group, 10 groups per user).
const MAX_ITEMS: usize = 200;
/// The largest policy document read (IAM's limit for a managed policy is 6,144 characters).
const MAX_DOCUMENT: usize = 131_072;

/// Where the AWS API credentials come from.
#[derive(Debug, Clone, Default)]
pub struct AwsSource {
    /// A named profile of `~/.aws/config`; `None` uses the standard chain.
    pub profile: Option<String>,
}

/// Why no call could be made at all (no credentials, a bad profile).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "no AWS API credentials found (give --aws-profile NAME, or set AWS_PROFILE or \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY); these are for reading IAM and SES, \
         never the SMTP password"
    )]
    NoCredentials,
    #[error("the AWS checks took longer than {} seconds", TOTAL_TIMEOUT.as_secs())]
    Timeout,
}

struct Clients {
    iam: aws_sdk_iam::Client,
    ses: aws_sdk_ses::Client,
    sesv2: aws_sdk_sesv2::Client,
    sts: aws_sdk_sts::Client,
}

async fn clients(source: &AwsSource, region: &str) -> Result<Clients, ReadError> {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .http_client(http)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(CALL_TIMEOUT)
                .connect_timeout(Duration::from_secs(5))
                .build(),
        );
    if let Some(p) = &source.profile {
        loader = loader.profile_name(p);
    }
    // The SDK's futures are large; boxed, they do not bloat every future that awaits them.
    let config = Box::pin(loader.load()).await;
    if config.credentials_provider().is_none() {
        return Err(ReadError::NoCredentials);
    }
    // IAM is global: its one endpoint signs as us-east-1 (AWS_ENDPOINT_URL still applies).
    let iam_config = aws_sdk_iam::config::Builder::from(&config)
        .region(aws_config::Region::new("us-east-1"))
        .build();
    Ok(Clients {
        iam: aws_sdk_iam::Client::from_conf(iam_config),
        ses: aws_sdk_ses::Client::new(&config),
        sesv2: aws_sdk_sesv2::Client::new(&config),
        sts: aws_sdk_sts::Client::new(&config),
    })
}

/// Turns an SDK error into what the report says. `permission` is the IAM action the call
/// needs.
fn unseen<E>(call: &'static str, permission: &'static str, err: &SdkError<E>) -> Unseen
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().unwrap_or_default();
    if code.starts_with("AccessDenied")
        || code == "UnauthorizedOperation"
        || code == "AuthorizationError"
    {
        return Unseen::NotAllowed { call, permission };
    }
    if let SdkError::ServiceError(service) = err {
        let status = service.raw().status().as_u16();
        // An endpoint without the operation (moto lacks some) answers 404 or 501 without an
        // AWS error code; AWS itself always names its errors.
        if code.is_empty() && matches!(status, 404 | 501) {
            return Unseen::NotImplemented { call };
        }
    }
    if code == "InvalidClientTokenId" || code == "UnrecognizedClientException" {
        return Unseen::Failed {
            call,
            message: "AWS does not know these API credentials (InvalidClientTokenId)".into(),
        };
    }
    let message = match err.message() {
        Some(m) if !code.is_empty() => format!("{code}: {m}"),
        Some(m) => m.to_string(),
        None if !code.is_empty() => code.to_string(),
        None => format!("{}", aws_sdk_iam::error::DisplayErrorContext(err)),
    };
    Unseen::Failed {
        call,
        message: message.chars().take(500).collect(),
    }
}

fn time_of(t: Option<&aws_sdk_iam::primitives::DateTime>) -> Option<DateTime<Utc>> {
    let t = t?;
    Utc.timestamp_opt(t.secs(), t.subsec_nanos()).single()
}

/// IAM returns policy documents URL-encoded (RFC 3986); some endpoints send them plain.
pub(crate) fn decode_document(text: &str) -> String {
    let text = text.trim();
    if text.starts_with('{') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(b) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn bounded(document: &str, what: &str) -> Result<String, Unseen> {
    if document.len() > MAX_DOCUMENT {
        return Err(Unseen::Failed {
            call: "policy document",
            message: format!("{what} is larger than {MAX_DOCUMENT} bytes"),
        });
    }
    Ok(decode_document(document))
}

/// Reads a managed policy's default version.
async fn managed(
    iam: &aws_sdk_iam::Client,
    arn: &str,
    name: &str,
    place: PolicyPlace,
) -> Result<PolicyText, Unseen> {
    let policy = iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|e| unseen("iam:GetPolicy", "iam:GetPolicy", &e))?;
    let version = policy
        .policy()
        .and_then(|p| p.default_version_id())
        .ok_or_else(|| Unseen::Failed {
            call: "iam:GetPolicy",
            message: format!("policy {arn} has no default version"),
        })?
        .to_string();
    let out = iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(&version)
        .send()
        .await
        .map_err(|e| unseen("iam:GetPolicyVersion", "iam:GetPolicyVersion", &e))?;
    let document = out
        .policy_version()
        .and_then(|v| v.document())
        .ok_or_else(|| Unseen::Failed {
            call: "iam:GetPolicyVersion",
            message: format!("policy {arn} version {version} has no document"),
        })?;
    Ok(PolicyText {
        name: name.to_string(),
        place,
        document: bounded(document, arn)?,
    })
}

/// Every identity policy of the user and its groups.
async fn policies_of(iam: &aws_sdk_iam::Client, user: &str) -> Result<Vec<PolicyText>, Unseen> {
    let mut out = Vec::new();
    let names = iam
        .list_user_policies()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<String>, _>>()
        .await
        .map_err(|e| unseen("iam:ListUserPolicies", "iam:ListUserPolicies", &e))?;
    for name in names.iter().take(MAX_ITEMS) {
        let p = iam
            .get_user_policy()
            .user_name(user)
            .policy_name(name)
            .send()
            .await
            .map_err(|e| unseen("iam:GetUserPolicy", "iam:GetUserPolicy", &e))?;
        out.push(PolicyText {
            name: name.clone(),
            place: PolicyPlace::UserInline,
            document: bounded(p.policy_document(), name)?,
        });
    }
    let attached = iam
        .list_attached_user_policies()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| {
            unseen(
                "iam:ListAttachedUserPolicies",
                "iam:ListAttachedUserPolicies",
                &e,
            )
        })?;
    for a in attached.iter().take(MAX_ITEMS) {
        let (Some(arn), name) = (a.policy_arn(), a.policy_name().unwrap_or_default()) else {
            continue;
        };
        out.push(
            Box::pin(managed(
                iam,
                arn,
                name,
                PolicyPlace::UserManaged {
                    arn: arn.to_string(),
                },
            ))
            .await?,
        );
    }
    let groups = iam
        .list_groups_for_user()
        .user_name(user)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| unseen("iam:ListGroupsForUser", "iam:ListGroupsForUser", &e))?;
    for g in groups.iter().take(MAX_ITEMS) {
        let group = g.group_name();
        let names = iam
            .list_group_policies()
            .group_name(group)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<String>, _>>()
            .await
            .map_err(|e| unseen("iam:ListGroupPolicies", "iam:ListGroupPolicies", &e))?;
        for name in names.iter().take(MAX_ITEMS) {
            let p = iam
                .get_group_policy()
                .group_name(group)
                .policy_name(name)
                .send()
                .await
                .map_err(|e| unseen("iam:GetGroupPolicy", "iam:GetGroupPolicy", &e))?;
            out.push(PolicyText {
                name: name.clone(),
                place: PolicyPlace::GroupInline {
                    group: group.to_string(),
                },
                document: bounded(p.policy_document(), name)?,
            });
        }
        let attached = iam
            .list_attached_group_policies()
            .group_name(group)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| {
                unseen(
                    "iam:ListAttachedGroupPolicies",
                    "iam:ListAttachedGroupPolicies",
                    &e,
                )
            })?;
        for a in attached.iter().take(MAX_ITEMS) {
            let (Some(arn), name) = (a.policy_arn(), a.policy_name().unwrap_or_default()) else {
                continue;
            };
            out.push(
                Box::pin(managed(
                    iam,
                    arn,
                    name,
                    PolicyPlace::GroupManaged {
                        group: group.to_string(),
                        arn: arn.to_string(),
                    },
                ))
                .await?,
            );
        }
        if out.len() > MAX_ITEMS {
            break;
        }
    }
    Ok(out)
}

async fn boundary_of(iam: &aws_sdk_iam::Client, user: &str) -> Result<Option<PolicyText>, Unseen> {
    let out = iam
        .get_user()
        .user_name(user)
        .send()
        .await
        .map_err(|e| unseen("iam:GetUser", "iam:GetUser", &e))?;
    let Some(arn) = out
        .user()
        .and_then(|u| u.permissions_boundary())
        .and_then(|b| b.permissions_boundary_arn())
    else {
        return Ok(None);
    };
    let name = arn.rsplit('/').next().unwrap_or(arn).to_string();
    Box::pin(managed(
        iam,
        arn,
        &name,
        PolicyPlace::Boundary {
            arn: arn.to_string(),
        },
    ))
    .await
    .map(Some)
}

async fn keys_of(iam: &aws_sdk_iam::Client, user: &str) -> Result<Vec<KeyInfo>, Unseen> {
    let out = iam
        .list_access_keys()
        .user_name(user)
        .send()
        .await
        .map_err(|e| unseen("iam:ListAccessKeys", "iam:ListAccessKeys", &e))?;
    Ok(out
        .access_key_metadata()
        .iter()
        .take(MAX_ITEMS)
        .map(|k| KeyInfo {
            access_key_id: k.access_key_id().unwrap_or_default().to_string(),
            status: k
                .status()
                .map_or_else(|| "unknown".to_string(), |s| s.as_str().to_string()),
            created: time_of(k.create_date()),
        })
        .collect())
}

async fn owner_of(iam: &aws_sdk_iam::Client, access_key_id: &str) -> KeyOwner {
    if ses::is_temporary_access_key_id(access_key_id) {
        return KeyOwner::Temporary;
    }
    let out = match iam
        .get_access_key_last_used()
        .access_key_id(access_key_id)
        .send()
        .await
    {
        Ok(o) => o,
        Err(e) if e.code() == Some("NoSuchEntity") => return KeyOwner::Unknown,
        Err(e) => {
            return KeyOwner::Unseen(unseen(
                "iam:GetAccessKeyLastUsed",
                "iam:GetAccessKeyLastUsed",
                &e,
            ));
        }
    };
    let Some(user) = out.user_name() else {
        return KeyOwner::Unknown;
    };
    let (keys, policies, boundary) = tokio::join!(
        Box::pin(keys_of(iam, user)),
        Box::pin(policies_of(iam, user)),
        Box::pin(boundary_of(iam, user))
    );
    KeyOwner::User(Box::new(UserFacts {
        name: user.to_string(),
        keys,
        policies,
        boundary,
    }))
}

async fn identities_of(
    ses: &aws_sdk_ses::Client,
    ids: Vec<String>,
) -> Seen<Vec<(String, Option<String>)>> {
    let mut found = Vec::new();
    // The API takes at most 100 identities a call.
    for chunk in ids.chunks(100) {
        let out = ses
            .get_identity_verification_attributes()
            .set_identities(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                unseen(
                    "ses:GetIdentityVerificationAttributes",
                    "ses:GetIdentityVerificationAttributes",
                    &e,
                )
            })?;
        let attrs = out.verification_attributes();
        for id in chunk {
            let status = attrs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(id))
                .map(|(_, v)| v.verification_status().as_str().to_string());
            found.push((id.clone(), status));
        }
    }
    Ok(found)
}

async fn sending_of(sesv2: &aws_sdk_sesv2::Client) -> Seen<SendingStatus> {
    let out = sesv2
        .get_account()
        .send()
        .await
        .map_err(|e| unseen("sesv2:GetAccount", "ses:GetAccount", &e))?;
    let quota = out.send_quota();
    Ok(SendingStatus {
        production_access: out.production_access_enabled(),
        sending_enabled: out.sending_enabled(),
        max_24_hour_send: quota.map_or(0.0, SendQuota::max24_hour_send),
        max_send_rate: quota.map_or(0.0, SendQuota::max_send_rate),
        sent_last_24_hours: quota.map_or(0.0, SendQuota::sent_last24_hours),
    })
}

/// Reads everything a diagnosis of `question` needs.
pub async fn read(source: &AwsSource, question: &SendQuestion) -> Result<AwsFacts, ReadError> {
    let work = async {
        let c = clients(source, &question.region).await?;
        let account = c
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| {
                // The chain found no credentials at all: nothing else can be read either.
                if format!("{e:?}").contains("CredentialsNotLoaded") {
                    return None;
                }
                Some(unseen("sts:GetCallerIdentity", "none (always allowed)", &e))
            })
            .map(|o| o.account().unwrap_or_default().to_string());
        let account = match account {
            Ok(a) => Ok(a),
            Err(None) => return Err(ReadError::NoCredentials),
            Err(Some(u)) => Err(u),
        };
        let (owner, identities, sending) = tokio::join!(
            Box::pin(owner_of(&c.iam, &question.access_key_id)),
            Box::pin(identities_of(&c.ses, question.identities())),
            Box::pin(sending_of(&c.sesv2))
        );
        Ok(AwsFacts {
            account,
            owner,
            identities,
            sending,
        })
    };
    tokio::time::timeout(TOTAL_TIMEOUT, Box::pin(work))
        .await
        .map_err(|_| ReadError::Timeout)?
}

#[cfg(test)]
mod tests {
    use super::decode_document;

    #[test]
    fn documents_are_url_decoded_once() {
        assert_eq!(
            decode_document("%7B%22Version%22%3A%222012-10-17%22%7D"),
            "{\"Version\":\"2012-10-17\"}"
        );
        // Already plain JSON: a literal "%41" in it stays.
        assert_eq!(decode_document(" {\"a\":\"%41\"} "), "{\"a\":\"%41\"}");
        // A lone "%" at the end is kept as it is.
        assert_eq!(decode_document("%7Bx%"), "{x%");
    }
}
