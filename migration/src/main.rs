//! Applies every pending migration to `DATABASE_URL` (default: the SQLite file `lectern.db`).

use migration::{Migrator, MigratorTrait};
use sea_orm_migration::sea_orm::Database;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url =
        std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://lectern.db?mode=rwc".to_owned());
    let db = Database::connect(&url).await?;
    Migrator::up(&db, None).await?;
    println!("migrations applied");
    Ok(())
}
