//! Who an application belongs to. Today always a developer (a person's verified claim,
//! or the id a portal token names); the data model already says what kind of principal
//! owns it, so team-owned applications need no schema change, only an API.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Developer(String),
    Team(String),
}

impl Owner {
    /// The stored `owner_kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Developer(_) => "developer",
            Self::Team(_) => "team",
        }
    }

    /// The developer's or team's id.
    pub fn id(&self) -> &str {
        match self {
            Self::Developer(id) | Self::Team(id) => id,
        }
    }

    /// From the stored kind and id; None for a kind this version does not know.
    pub fn parse(kind: &str, id: String) -> Option<Self> {
        match kind {
            "developer" => Some(Self::Developer(id)),
            "team" => Some(Self::Team(id)),
            _ => None,
        }
    }

    /// The developer, when a developer owns it.
    pub fn developer(&self) -> Option<&str> {
        match self {
            Self::Developer(id) => Some(id),
            Self::Team(_) => None,
        }
    }

    /// Whether `developer` may work with what this owner owns (a team's members will,
    /// once teams exist).
    pub fn is_developer(&self, developer: &str) -> bool {
        self.developer() == Some(developer)
    }
}

/// `developer:<id>` or `team:<id>`, as the API and the audit log show principals.
impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind(), self.id())
    }
}
