//! Embedded, versioned schema migrations, run on connect by the SQL backends.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One migration: version, description, SQL.
pub(crate) type Step = (i64, &'static str, &'static str);

/// The store's migrations, numbered and named alike on every backend, each with the SQL
/// of the backend whose folder `$dir` is (relative to the file that names it).
macro_rules! steps {
    ($dir:literal) => {
        [
            (
                1,
                "event store",
                include_str!(concat!($dir, "/0001_event_store.sql")),
            ),
            (
                2,
                "snapshots",
                include_str!(concat!($dir, "/0002_snapshots.sql")),
            ),
            (
                3,
                "append notifications",
                include_str!(concat!($dir, "/0003_append_notify.sql")),
            ),
            (
                4,
                "projections",
                include_str!(concat!($dir, "/0004_projections.sql")),
            ),
            (
                5,
                "append wake-ups",
                include_str!(concat!($dir, "/0005_append_wakeups.sql")),
            ),
            (
                6,
                "unique values",
                include_str!(concat!($dir, "/0006_unique_values.sql")),
            ),
            (
                7,
                "dead-letter kinds",
                include_str!(concat!($dir, "/0007_dead_letter_kind.sql")),
            ),
            (
                8,
                "read-model changes",
                include_str!(concat!($dir, "/0008_read_model_changes.sql")),
            ),
        ]
    };
}
pub(crate) use steps;

/// The store migrations that create the projection tables, which a read-model database
/// of its own runs too.
const READ_MODEL_STEPS: [i64; 3] = [4, 7, 8];

/// A migrator for `steps` (version, description, SQL), keeping its bookkeeping in
/// `factum_migrations` so that it never collides with an application's own sqlx
/// migrations in the same database.
pub(crate) fn migrator(steps: &[(i64, &'static str, &'static str)]) -> Migrator {
    migrator_in("factum_migrations", steps)
}

/// A migrator for `steps` keeping its bookkeeping in `table` (a read-model database's
/// projection tables are versioned apart from a store's).
pub(crate) fn migrator_in(table: &str, steps: &[(i64, &'static str, &'static str)]) -> Migrator {
    let migrations = steps
        .iter()
        .map(|&(version, description, sql)| {
            Migration::new(
                version,
                description.into(),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(table.to_owned());
    migrator
}

/// Where a read-model database of its own keeps the version of its projection tables
/// (apart from a store's `factum_migrations`, so that the two never collide).
const READ_MODEL_MIGRATIONS_TABLE: &str = "factum_read_model_migrations";

/// The migrator of a read-model database of its own, from a backend's store migrations
/// ([`steps!`]): those that create the projection tables ([`READ_MODEL_STEPS`]: 4
/// projections, 7 dead-letter kinds, 8 read-model changes), numbered 1 to 3 here.
pub(crate) fn read_model_migrator(store: &[Step]) -> Migrator {
    let steps: Vec<Step> = store
        .iter()
        .filter(|(version, ..)| READ_MODEL_STEPS.contains(version))
        .zip(1..)
        .map(|(&(_, description, sql), version)| (version, description, sql))
        .collect();
    migrator_in(READ_MODEL_MIGRATIONS_TABLE, &steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a read-model database's migrations were when each backend listed them by
    /// hand: databases made then hold these versions, descriptions and checksums, and a
    /// migrator that differs would refuse to open them.
    fn as_listed(folder: [&'static str; 3]) -> Migrator {
        let [projections, letter_kinds, changes] = folder;
        migrator_in(
            READ_MODEL_MIGRATIONS_TABLE,
            &[
                (1, "projections", projections),
                (2, "dead-letter kinds", letter_kinds),
                (3, "read-model changes", changes),
            ],
        )
    }

    fn pinned(migrator: &Migrator) -> Vec<(i64, String, Vec<u8>)> {
        migrator
            .iter()
            .map(|m| (m.version, m.description.to_string(), m.checksum.to_vec()))
            .collect()
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn sqlite_read_model_migrations_keep_their_versions_and_checksums() {
        let listed = as_listed([
            include_str!("../sqlite/migrations/0004_projections.sql"),
            include_str!("../sqlite/migrations/0007_dead_letter_kind.sql"),
            include_str!("../sqlite/migrations/0008_read_model_changes.sql"),
        ]);
        let picked = read_model_migrator(&crate::store::sqlite::MIGRATIONS);
        assert_eq!(pinned(&picked), pinned(&listed));
        assert_eq!(pinned(&picked).len(), 3);
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn postgres_read_model_migrations_keep_their_versions_and_checksums() {
        let listed = as_listed([
            include_str!("../postgres/migrations/0004_projections.sql"),
            include_str!("../postgres/migrations/0007_dead_letter_kind.sql"),
            include_str!("../postgres/migrations/0008_read_model_changes.sql"),
        ]);
        let picked = read_model_migrator(&crate::store::postgres::MIGRATIONS);
        assert_eq!(pinned(&picked), pinned(&listed));
        assert_eq!(pinned(&picked).len(), 3);
    }
}
