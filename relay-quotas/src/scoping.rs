//! Scoping: the organization, project and key an item of data belongs to.
//!
//! Rate limits and quotas are bound to one of these ids; matching a limit against an item means
//! comparing the limit's id with the item's scoping. The organization, project and numeric key
//! ids are optional because a relay only learns them from the project config, while the public
//! key is always known from the request's DSN.

use relay_protocol::{ProjectId, ProjectKey};

/// The ids an ingested item is counted under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scoping {
    /// The organization that owns the project, once known from the project config.
    pub organization_id: Option<u64>,
    /// The project the data was sent to, once known from the project config.
    pub project_id: Option<ProjectId>,
    /// The public key of the DSN the data was sent with.
    pub project_key: ProjectKey,
    /// The numeric id of the public key, once known from the project config.
    pub key_id: Option<u64>,
}

impl Scoping {
    /// A scoping that only knows the public key, as before the project config was fetched.
    pub fn for_key(project_key: ProjectKey) -> Self {
        Scoping {
            organization_id: None,
            project_id: None,
            project_key,
            key_id: None,
        }
    }
}
