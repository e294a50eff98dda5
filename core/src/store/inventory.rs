//! What a store holds, by event type and schema version: the inventory that tells which
//! versions (and so which upcasters) stored events still need.

/// How many stored events one event type has at one schema version.
///
/// Read with `stored_event_versions` on a store ([`MemoryStore`](crate::MemoryStore),
/// `SqliteStore`, `PostgresStore`). Deleted streams count: their history stays readable,
/// so their events still need their upcasters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoredVersion {
    /// The stored event type name (`bank.Deposited`).
    pub event_type: String,
    /// The schema version the events were written at.
    pub schema_version: u32,
    /// How many events of this type are stored at this version (at least 1).
    pub count: u64,
}

/// The `(type, version, count, first position)` rows of a backend's GROUP BY query as
/// the inventory: each row a [`StoredVersion`] (a version no append could have written
/// is refused), sorted by type name as Rust compares it (whatever the database's
/// collation) and version.
#[cfg(sql)]
pub(crate) fn from_rows(rows: Vec<(String, i64, i64, i64)>) -> crate::Result<Vec<StoredVersion>> {
    let mut out = rows
        .into_iter()
        .map(|(event_type, schema_version, count, first_position)| {
            let schema_version = u32::try_from(schema_version).map_err(|_| {
                super::sql::corrupt(
                    first_position,
                    format!(
                        "event type {event_type:?} has schema version {schema_version}, not a \
                         u32"
                    ),
                )
            })?;
            Ok(StoredVersion {
                event_type,
                schema_version,
                count: count.max(0) as u64,
            })
        })
        .collect::<crate::Result<Vec<_>>>()?;
    out.sort();
    Ok(out)
}
