//! Embedded, versioned schema migrations, run on connect by the SQL backends.

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

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

/// The migrator of a read-model database of its own, from a backend's files of the store
/// migrations that create the projection tables (4 projections, 7 dead-letter kinds,
/// 8 read-model changes), numbered 1 to 3 here.
pub(crate) fn read_model_migrator(files: [&'static str; 3]) -> Migrator {
    let [projections, letter_kinds, changes] = files;
    migrator_in(
        READ_MODEL_MIGRATIONS_TABLE,
        &[
            (1, "projections", projections),
            (2, "dead-letter kinds", letter_kinds),
            (3, "read-model changes", changes),
        ],
    )
}
