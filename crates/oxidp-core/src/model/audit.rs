//! The audit trail of administrative session removals.

use time::OffsetDateTime;
use uuid::Uuid;

/// One administrative removal: who, when, with which filter, and what it removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Unique id (UUIDv7, time-ordered).
    pub id: Uuid,
    /// When.
    pub at: OffsetDateTime,
    /// Who: `page:<subject id>`, `api:<client id>` or `cli:<operating-system user>`.
    pub actor: String,
    /// What was asked (the removal context as JSON).
    pub request: String,
    /// What happened (the summary as JSON).
    pub outcome: String,
}
