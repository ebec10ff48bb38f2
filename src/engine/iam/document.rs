//! The policy document: top-level elements, statements, Effect, Action/NotAction and
//! Resource/NotResource. Conditions are parsed by the `condition` module.

use super::PolicyError;
use super::condition::{Condition, parse_conditions};
use super::strict_json::{Json, parse_json};

/// A parsed identity policy.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(super) name: Option<String>,
    pub(super) statements: Vec<Statement>,
}

/// A statement's Effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Action/NotAction or Resource/NotResource: patterns plus whether the element is negated.
#[derive(Debug, Clone)]
pub(super) struct Matcher {
    pub(super) element: &'static str,
    pub(super) negated: bool,
    pub(super) patterns: Vec<String>,
}

#[derive(Debug, Clone)]
pub(super) struct Statement {
    pub(super) number: usize,
    pub(super) sid: Option<String>,
    pub(super) effect: Effect,
    pub(super) actions: Matcher,
    pub(super) resources: Matcher,
    pub(super) conditions: Vec<Condition>,
}

/// `statement #N (Sid S)`, used in errors while parsing.
pub(super) fn statement_label(number: usize, sid: Option<&str>) -> String {
    match sid {
        Some(sid) => format!("statement #{number} (Sid {sid})"),
        None => format!("statement #{number}"),
    }
}

impl Policy {
    /// Parse an identity policy document.
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        let document = parse_json(text)?;
        let Json::Object(entries) = document else {
            return Err(wrong_type(
                "policy",
                "the document",
                &document,
                "a JSON object",
            ));
        };
        // Only the two language versions IAM knows are accepted; the evaluator treats both
        // alike (it does not expand policy variables, the one difference between them).
        let mut statement_node = None;
        for (name, value) in entries {
            match name.as_str() {
                "Version" => match value {
                    Json::String(v) if v == "2012-10-17" || v == "2008-10-17" => {}
                    Json::String(v) => return Err(PolicyError::UnsupportedVersion(v)),
                    other => return Err(wrong_type("policy", "Version", &other, "a string")),
                },
                "Id" => {
                    if !matches!(value, Json::String(_)) {
                        return Err(wrong_type("policy", "Id", &value, "a string"));
                    }
                }
                "Statement" => statement_node = Some(value),
                _ => {
                    return Err(PolicyError::UnknownElement {
                        at: "policy".into(),
                        element: name,
                    });
                }
            }
        }
        let nodes = match statement_node {
            None => {
                return Err(PolicyError::MissingElement {
                    at: "policy".into(),
                    element: "Statement",
                });
            }
            Some(Json::Array(items)) => items,
            Some(obj @ Json::Object(_)) => vec![obj],
            Some(other) => {
                return Err(wrong_type(
                    "policy",
                    "Statement",
                    &other,
                    "an object or an array",
                ));
            }
        };
        if nodes.is_empty() {
            return Err(PolicyError::EmptyElement {
                at: "policy".into(),
                element: "Statement".into(),
            });
        }
        let statements = nodes
            .into_iter()
            .enumerate()
            .map(|(i, node)| parse_statement(i + 1, node))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy {
            name: None,
            statements,
        })
    }

    /// Give the policy a name (e.g. its file name) for traces and statement references.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Policy {
        self.name = Some(name.into());
        self
    }

    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }
}

pub(super) fn wrong_type(
    at: &str,
    element: &str,
    found: &Json,
    expected: &'static str,
) -> PolicyError {
    PolicyError::WrongType {
        at: at.to_string(),
        element: element.to_string(),
        expected,
        found: found.kind(),
    }
}

fn parse_statement(number: usize, node: Json) -> Result<Statement, PolicyError> {
    let Json::Object(entries) = node else {
        return Err(wrong_type(
            &format!("statement #{number}"),
            "the statement",
            &node,
            "an object",
        ));
    };
    let sid = entries.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("Sid", Json::String(s)) => Some(s.clone()),
        _ => None,
    });
    let at = statement_label(number, sid.as_deref());

    let mut effect = None;
    let mut action: Option<Matcher> = None;
    let mut resource: Option<Matcher> = None;
    let mut conditions = Vec::new();
    for (name, value) in entries {
        match name.as_str() {
            "Sid" => {
                if !matches!(value, Json::String(_)) {
                    return Err(wrong_type(&at, "Sid", &value, "a string"));
                }
            }
            "Effect" => {
                effect = Some(match value {
                    Json::String(s) if s == "Allow" => Effect::Allow,
                    Json::String(s) if s == "Deny" => Effect::Deny,
                    Json::String(s) => return Err(PolicyError::BadEffect { at, value: s }),
                    other => return Err(wrong_type(&at, "Effect", &other, "a string")),
                });
            }
            "Action" | "NotAction" => {
                let element = if name == "Action" {
                    "Action"
                } else {
                    "NotAction"
                };
                if let Some(prev) = &action {
                    return Err(PolicyError::ConflictingElements {
                        at,
                        first: prev.element,
                        second: element,
                    });
                }
                action = Some(Matcher {
                    element,
                    negated: element == "NotAction",
                    patterns: string_list(&at, element, value)?,
                });
            }
            "Resource" | "NotResource" => {
                let element = if name == "Resource" {
                    "Resource"
                } else {
                    "NotResource"
                };
                if let Some(prev) = &resource {
                    return Err(PolicyError::ConflictingElements {
                        at,
                        first: prev.element,
                        second: element,
                    });
                }
                resource = Some(Matcher {
                    element,
                    negated: element == "NotResource",
                    patterns: string_list(&at, element, value)?,
                });
            }
            "Condition" => conditions = parse_conditions(&at, value)?,
            "Principal" | "NotPrincipal" => {
                return Err(PolicyError::PrincipalNotAllowed { at, element: name });
            }
            _ => return Err(PolicyError::UnknownElement { at, element: name }),
        }
    }
    let effect = effect.ok_or_else(|| PolicyError::MissingElement {
        at: at.clone(),
        element: "Effect",
    })?;
    let actions = action.ok_or_else(|| PolicyError::MissingElement {
        at: at.clone(),
        element: "Action or NotAction",
    })?;
    let resources = resource.ok_or_else(|| PolicyError::MissingElement {
        at: at.clone(),
        element: "Resource or NotResource",
    })?;
    Ok(Statement {
        number,
        sid,
        effect,
        actions,
        resources,
        conditions,
    })
}

fn string_list(at: &str, element: &str, value: Json) -> Result<Vec<String>, PolicyError> {
    let items = match value {
        Json::String(s) => vec![s],
        Json::Array(items) => items
            .into_iter()
            .map(|item| match item {
                Json::String(s) => Ok(s),
                other => Err(wrong_type(
                    at,
                    element,
                    &other,
                    "a string or an array of strings",
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(wrong_type(
                at,
                element,
                &other,
                "a string or an array of strings",
            ));
        }
    };
    if items.is_empty() {
        return Err(PolicyError::EmptyElement {
            at: at.to_string(),
            element: element.to_string(),
        });
    }
    Ok(items)
}

impl Matcher {
    /// Whether the element covers `value`, and a trace phrase when it does not.
    pub(super) fn check(
        &self,
        value: &str,
        is_match: fn(&str, &str) -> bool,
    ) -> Result<(), String> {
        let hit = self.patterns.iter().any(|p| is_match(p, value));
        let list = self.patterns.join(", ");
        match (self.negated, hit) {
            (false, true) | (true, false) => Ok(()),
            (false, false) => Err(format!("{value} is not in {} [{list}]", self.element)),
            (true, true) => Err(format!("{value} is excluded by {} [{list}]", self.element)),
        }
    }
}
