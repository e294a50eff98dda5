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
