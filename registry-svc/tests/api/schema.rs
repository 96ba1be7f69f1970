//! The two migration sets describe one schema. `migrations/` (Postgres) is the reference
//! and `migrations/sqlite/` must keep the same tables, columns, nullability, defaults,
//! keys, uniqueness (partial indexes included), foreign keys and indexes, in SQLite's
//! storage types. Both are migrated fresh and read back from the databases' own
//! catalogs, so a column or constraint added to one set only fails here, naming it.

use std::collections::BTreeSet;
use std::sync::Arc;

use dcr_common::seal::Sealer;
use registry_svc::store::{PgStore, SqliteStore};
use sqlx::Row as _;

use crate::helpers::fresh_database;

/// SQLite's storage class for each Postgres type the schema uses (ids, times, lists and
/// maps are text there; see the SQLite migration's header).
fn sqlite_type(postgres: &str) -> &'static str {
    match postgres {
        "uuid" | "timestamptz" | "text" | "_text" | "jsonb" => "TEXT",
        "bytea" => "BLOB",
        "bool" | "int2" | "int4" | "int8" => "INTEGER",
        other => panic!("the Postgres schema uses {other}: say what SQLite stores it as"),
    }
}

/// A partial index's condition without either database's spelling of it.
fn condition(text: &str) -> String {
    text.replace("::text", "")
        .chars()
        .filter(|c| !matches!(c, '(' | ')' | '"') && !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

async fn postgres_schema() -> BTreeSet<String> {
    let store = PgStore::connect(
        &fresh_database().await,
        Arc::new(Sealer::new(&[9; 32], &[])),
    )
    .await
    .expect("migrate Postgres");
    let pool = store.pool();
    let mut facts = BTreeSet::new();
    let columns = sqlx::query(
        "SELECT table_name::text AS t, column_name::text AS c, udt_name::text AS ty,
                is_nullable = 'NO' AS not_null,
                column_default IS NOT NULL AND column_default NOT LIKE 'nextval%' AS has_default
         FROM information_schema.columns
         WHERE table_schema = 'public' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .expect("columns");
    for r in &columns {
        let ty: String = r.get("ty");
        facts.insert(format!(
            "column {}.{} {}{}{}",
            r.get::<String, _>("t"),
            r.get::<String, _>("c"),
            sqlite_type(&ty),
            if r.get("not_null") { " not null" } else { "" },
            if r.get("has_default") { " default" } else { "" },
        ));
    }
    // Every index, including those behind PRIMARY KEY and UNIQUE constraints.
    let indexes = sqlx::query(
        "SELECT t.relname::text AS t, i.relname::text AS name, x.indisprimary AS pk,
                x.indisunique AS uniq,
                COALESCE(pg_get_expr(x.indpred, x.indrelid), '') AS cond,
                c.conname IS NOT NULL AS constraint_backed,
                ARRAY(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(n, o)
                      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n
                      ORDER BY k.o) AS cols
         FROM pg_index x
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_namespace ns ON ns.oid = t.relnamespace
         LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
         WHERE ns.nspname = 'public' AND t.relname <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .expect("indexes");
    for r in &indexes {
        let cols: Vec<String> = r.get("cols");
        let name: String = r.get("name");
        let backed: bool = r.get("constraint_backed");
        facts.insert(index_fact(
            &r.get::<String, _>("t"),
            (!backed).then_some(name.as_str()),
            r.get("pk"),
            r.get("uniq"),
            &cols,
            &r.get::<String, _>("cond"),
        ));
    }
    let keys = sqlx::query(
        "SELECT c.conrelid::regclass::text AS t, c.confrelid::regclass::text AS ft,
                c.confdeltype::text AS del,
                ARRAY(SELECT a.attname::text FROM unnest(c.conkey) k(n)
                      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) AS cols,
                ARRAY(SELECT a.attname::text FROM unnest(c.confkey) k(n)
                      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) AS fcols
         FROM pg_constraint c WHERE c.contype = 'f'",
    )
    .fetch_all(pool)
    .await
    .expect("foreign keys");
    for r in &keys {
        let on_delete = match r.get::<String, _>("del").as_str() {
            "c" => "cascade",
            "n" => "set null",
            _ => "no action",
        };
        facts.insert(format!(
            "foreign key {} ({}) -> {} ({}) on delete {on_delete}",
            r.get::<String, _>("t"),
            r.get::<Vec<String>, _>("cols").join(", "),
            r.get::<String, _>("ft"),
            r.get::<Vec<String>, _>("fcols").join(", "),
        ));
    }
    facts
}

fn index_fact(
    table: &str,
    explicit_name: Option<&str>,
    primary: bool,
    unique: bool,
    cols: &[String],
    cond: &str,
) -> String {
    let kind = if primary {
        "primary key".to_owned()
    } else if unique {
        "unique".to_owned()
    } else {
        "index".to_owned()
    };
    let named = explicit_name.map(|n| format!(" {n}")).unwrap_or_default();
    let cond = if cond.is_empty() {
        String::new()
    } else {
        format!(" where {}", condition(cond))
    };
    format!("{kind}{named} {table} ({}){cond}", cols.join(", "))
}

async fn sqlite_schema() -> BTreeSet<String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        &format!("sqlite://{}", dir.path().join("dcr.db").display()),
        Arc::new(Sealer::new(&[9; 32], &[])),
    )
    .await
    .expect("migrate SQLite");
    store.close().await;
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("dcr.db").display()))
            .await
            .expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let mut facts = BTreeSet::new();
    for t in &tables {
        let columns = sqlx::query(&format!("PRAGMA table_info({t})"))
            .fetch_all(&pool)
            .await
            .expect("columns");
        let mut pk: Vec<(i64, String)> = Vec::new();
        for c in &columns {
            let name: String = c.get("name");
            let order: i64 = c.get("pk");
            if order > 0 {
                pk.push((order, name.clone()));
            }
            let has_default = c.get::<Option<String>, _>("dflt_value").is_some();
            facts.insert(format!(
                "column {t}.{name} {}{}{}",
                c.get::<String, _>("type"),
                // A PRIMARY KEY column is NOT NULL in Postgres; say so here too.
                if c.get::<i64, _>("notnull") == 1 || order > 0 {
                    " not null"
                } else {
                    ""
                },
                if has_default { " default" } else { "" },
            ));
        }
        pk.sort();
        facts.insert(index_fact(
            t,
            None,
            true,
            true,
            &pk.into_iter().map(|(_, c)| c).collect::<Vec<_>>(),
            "",
        ));
        let indexes = sqlx::query(&format!("PRAGMA index_list({t})"))
            .fetch_all(&pool)
            .await
            .expect("indexes");
        for i in &indexes {
            let name: String = i.get("name");
            let origin: String = i.get("origin");
            if origin == "pk" {
                continue; // already described by the table's key columns
            }
            let cols: Vec<String> = sqlx::query(&format!("PRAGMA index_info({name})"))
                .fetch_all(&pool)
                .await
                .expect("index columns")
                .iter()
                .map(|c| c.get("name"))
                .collect();
            let sql: Option<String> =
                sqlx::query_scalar("SELECT sql FROM sqlite_master WHERE name = $1")
                    .bind(&name)
                    .fetch_one(&pool)
                    .await
                    .expect("index sql");
            let cond = sql
                .as_deref()
                .and_then(|s| s.split_once(" WHERE "))
                .map(|(_, c)| c.to_owned())
                .unwrap_or_default();
            facts.insert(index_fact(
                t,
                (origin == "c").then_some(name.as_str()),
                false,
                i.get::<i64, _>("unique") == 1,
                &cols,
                &cond,
            ));
        }
        let keys = sqlx::query(&format!("PRAGMA foreign_key_list({t})"))
            .fetch_all(&pool)
            .await
            .expect("foreign keys");
        for k in &keys {
            let on_delete = match k.get::<String, _>("on_delete").as_str() {
                "CASCADE" => "cascade",
                "SET NULL" => "set null",
                _ => "no action",
            };
            facts.insert(format!(
                "foreign key {t} ({}) -> {} ({}) on delete {on_delete}",
                k.get::<String, _>("from"),
                k.get::<String, _>("table"),
                k.get::<String, _>("to"),
            ));
        }
    }
    facts
}

#[tokio::test]
async fn both_migration_sets_describe_the_same_schema() {
    let postgres = postgres_schema().await;
    let sqlite = sqlite_schema().await;
    assert!(
        postgres
            .iter()
            .any(|f| f.starts_with("column applications.client_id")),
        "the catalogs were read: {postgres:#?}"
    );
    let only_postgres: Vec<&String> = postgres.difference(&sqlite).collect();
    let only_sqlite: Vec<&String> = sqlite.difference(&postgres).collect();
    assert!(
        only_postgres.is_empty() && only_sqlite.is_empty(),
        "the migration sets differ.\nonly in migrations/ (Postgres): {only_postgres:#?}\n\
         only in migrations/sqlite/: {only_sqlite:#?}"
    );
}
