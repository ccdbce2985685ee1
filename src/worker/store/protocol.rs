//! The D1 statements of runtime challenges and step-up (discovery.md §9) and of the client
//! lifecycle (remembered auth method, re-registration): parameterised, like the rest of
//! [`super`].

use serde::Deserialize;
use worker::{D1Database, Result};

use super::{n, s, stmt};

#[derive(Debug, Clone, Deserialize)]
struct StepUpRow {
    required_scopes: String,
}

#[derive(Debug, Clone, Deserialize)]
struct CountRow {
    n: f64,
}

/// The scopes a connection must be consented for again, when a step-up asked for them.
pub async fn required_scopes(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
) -> Result<Option<Vec<String>>> {
    let row: Option<StepUpRow> = stmt(
        db,
        "SELECT required_scopes FROM step_ups WHERE server_id = ?1 AND actor_id = ?2",
        &[s(server_id), s(actor_id)],
    )?
    .first(None)
    .await?;
    Ok(row.map(|r| {
        r.required_scopes
            .split(' ')
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
            .collect()
    }))
}

/// Every pending step-up of an actor: `(server_id, required_scopes)`.
pub async fn actor_step_ups(db: &D1Database, actor_id: &str) -> Result<Vec<(String, Vec<String>)>> {
    #[derive(Deserialize)]
    struct Row {
        server_id: String,
        required_scopes: String,
    }
    let rows: Vec<Row> = stmt(
        db,
        "SELECT server_id, required_scopes FROM step_ups WHERE actor_id = ?1",
        &[s(actor_id)],
    )?
    .all()
    .await?
    .results()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let scopes = r.required_scopes.split(' ').filter(|x| !x.is_empty());
            (r.server_id, scopes.map(str::to_owned).collect())
        })
        .collect())
}

/// How many step-ups the connection asked for since `since` (unix seconds).
pub async fn step_ups_since(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
    since: u64,
) -> Result<u64> {
    let row: Option<CountRow> = stmt(
        db,
        "SELECT COUNT(*) AS n FROM step_up_log WHERE server_id = ?1 AND actor_id = ?2 AND created_at > ?3",
        &[s(server_id), s(actor_id), n(since)],
    )?
    .first(None)
    .await?;
    Ok(row.map(|r| r.n as u64).unwrap_or(0))
}

/// Records a step-up: the required scopes (replacing an earlier requirement) and one log
/// entry, sweeping log entries older than `sweep_before`, in one batch.
pub async fn put_step_up(
    db: &D1Database,
    server_id: &str,
    actor_id: &str,
    required_scopes: &[String],
    now: u64,
    sweep_before: u64,
) -> Result<()> {
    let scopes = required_scopes.join(" ");
    let batch = vec![
        stmt(db, "DELETE FROM step_up_log WHERE created_at < ?1", &[n(sweep_before)])?,
        stmt(
            db,
            "INSERT INTO step_up_log (server_id, actor_id, created_at) VALUES (?1, ?2, ?3)",
            &[s(server_id), s(actor_id), n(now)],
        )?,
        stmt(
            db,
            "INSERT INTO step_ups (server_id, actor_id, required_scopes, updated_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (server_id, actor_id) DO UPDATE SET required_scopes = excluded.required_scopes, updated_at = excluded.updated_at",
            &[s(server_id), s(actor_id), s(&scopes), n(now)],
        )?,
    ];
    db.batch(batch).await?;
    Ok(())
}

/// Forgets a step-up requirement (a consent for the server completed).
pub async fn clear_step_up(db: &D1Database, server_id: &str, actor_id: &str) -> Result<()> {
    stmt(
        db,
        "DELETE FROM step_ups WHERE server_id = ?1 AND actor_id = ?2",
        &[s(server_id), s(actor_id)],
    )?
    .run()
    .await?;
    Ok(())
}

/// Drops every step-up of a server (its config changed or it was deleted).
pub async fn clear_server_step_ups(db: &D1Database, server_id: &str) -> Result<()> {
    let batch = vec![
        stmt(
            db,
            "DELETE FROM step_ups WHERE server_id = ?1",
            &[s(server_id)],
        )?,
        stmt(
            db,
            "DELETE FROM step_up_log WHERE server_id = ?1",
            &[s(server_id)],
        )?,
    ];
    db.batch(batch).await?;
    Ok(())
}
