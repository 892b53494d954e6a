//! The test harness: real servers (in-process on port 0, or the real binary),
//! real databases (a SQLite file, or a fresh PostgreSQL database), and native
//! clients that speak the protocol through `veldwerk-core` over real WebSockets.

pub mod browser;
pub mod client;
pub mod postgres;
pub mod server;

pub use client::{Offer, Socket, Tablet};
pub use server::{Db, TestServer, TestUser};

/// Runs a test body once on SQLite and once on PostgreSQL (when the test
/// command provides one through `VELDWERK_TEST_POSTGRES_URL`).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::Db::sqlite()).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    match $crate::support::Db::postgres().await {
                        Some(db) => super::$name(db).await,
                        None => eprintln!("skipped: VELDWERK_TEST_POSTGRES_URL is not set (cargo xtask test sets it)"),
                    }
                }
            }
        )+
    };
}
