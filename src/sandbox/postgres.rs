//! A throwaway PostgreSQL cluster of this machine's `postgresql` package, for the demo's
//! backup job and for tests: `initdb` into `/tmp/<prefix>-pg` (owned by `postgres`, so the
//! server can run as that user), unix socket in that directory, no TCP, trust auth. Every
//! sandbox host runs on this machine, so the host's SSH sessions reach the database through
//! the socket, as a backup job on a database host would.
//!
//! The directory is derived from the sandbox prefix, so `demo --down` in another process
//! finds and stops it without any extra state.

use super::error::SandboxError;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The database the demo seeds, and the user the tools connect as.
pub const DEMO_DATABASE: &str = "shop";
const USER: &str = "postgres";

/// A running (or stopped) cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Postgres {
    /// Holds `data/`, the socket and `log`.
    pub dir: PathBuf,
    /// `/usr/lib/postgresql/<version>/bin`.
    pub bin: PathBuf,
    pub port: u16,
}

/// The newest installed server's bin directory, if PostgreSQL is installed.
pub fn installed() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").is_file() && b.join("pg_ctl").is_file())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop()
}

/// Where the cluster of the sandbox `prefix` lives.
pub(crate) fn dir_for(prefix: &str) -> PathBuf {
    PathBuf::from(format!("/tmp/{prefix}-pg"))
}

impl Postgres {
    /// Create and start a cluster in `dir` (which must not exist yet) on `port`.
    pub fn start(dir: &Path, port: u16) -> Result<Postgres, SandboxError> {
        Postgres::start_with(dir, port, "")
    }

    /// The same, with more server options (`-c max_wal_size=4GB ...`).
    pub fn start_with(dir: &Path, port: u16, server_options: &str) -> Result<Postgres, SandboxError> {
        let bin = installed().ok_or_else(|| {
            SandboxError::new("start postgres", "PostgreSQL is not installed (Debian package postgresql)")
        })?;
        std::fs::create_dir(dir).map_err(|e| SandboxError::io("create postgres dir", dir, e))?;
        let pg = Postgres { dir: dir.to_path_buf(), bin, port };
        pg.checked("chown", Command::new("chown").arg(format!("{USER}:{USER}")).arg(dir))?;
        let data = pg.data();
        pg.as_postgres("initdb", &["-D", &data, "-A", "trust", "-U", USER, "--no-sync", "-E", "UTF8"])?;
        let opts =
            format!("-k {} -p {} -c listen_addresses='' -c fsync=off {server_options}", pg.socket_dir(), pg.port);
        let log = pg.dir.join("log").display().to_string();
        let port_file = pg.dir.join("port");
        std::fs::write(&port_file, port.to_string()).map_err(|e| SandboxError::io("write port", &port_file, e))?;
        pg.as_postgres("pg_ctl", &["-D", &data, "-l", &log, "-o", &opts, "-w", "-t", "60", "start"])?;
        Ok(pg)
    }

    /// The cluster of sandbox `prefix`, if its directory exists (running or not).
    pub(crate) fn find(prefix: &str) -> Option<Postgres> {
        let dir = dir_for(prefix);
        let port = std::fs::read_to_string(dir.join("port")).ok().and_then(|p| p.trim().parse().ok()).unwrap_or(0);
        dir.is_dir().then(|| Postgres { dir, bin: installed().unwrap_or_default(), port })
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// Directory of the server's unix socket (`-h` of the client tools).
    pub fn socket_dir(&self) -> String {
        self.dir.display().to_string()
    }

    /// Absolute path of a client or server tool (`pg_dump`, `pg_restore`, `psql`).
    pub fn tool(&self, name: &str) -> String {
        self.bin.join(name).display().to_string()
    }

    /// Connection options of the client tools: `-h SOCKETDIR -p PORT -U postgres`.
    pub fn conn(&self) -> String {
        format!("-h {} -p {} -U {USER}", self.socket_dir(), self.port)
    }

    fn checked(&self, what: &str, cmd: &mut Command) -> Result<Output, SandboxError> {
        let out = cmd.output().map_err(|e| SandboxError::new(what.to_string(), e.to_string()))?;
        if !out.status.success() {
            let mut msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
            if msg.is_empty() {
                msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
            }
            return Err(SandboxError::new(what.to_string(), msg));
        }
        Ok(out)
    }

    fn as_postgres(&self, tool: &str, args: &[&str]) -> Result<Output, SandboxError> {
        let what = format!("postgres {tool}");
        self.checked(&what, Command::new("runuser").args(["-u", USER, "--"]).arg(self.tool(tool)).args(args))
    }

    /// Run `sql` in `db` (stops at the first error); returns the unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, SandboxError> {
        let port = self.port.to_string();
        let out = self.checked(
            "psql",
            Command::new(self.tool("psql"))
                .args(["-h", &self.socket_dir(), "-p", &port, "-U", USER, "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1"])
                .arg("-c")
                .arg(sql),
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The demo's data: database `shop` with `items` (5 rows) and `orders` (1,000 rows).
    pub fn seed_demo(&self) -> Result<(), SandboxError> {
        self.psql("postgres", &format!("CREATE DATABASE {DEMO_DATABASE}"))?;
        self.psql(
            DEMO_DATABASE,
            "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL);\
             INSERT INTO items VALUES (1,'apple',120),(2,'pear',95),(3,'plum',60),(4,'fig',210),(5,'kiwi',45);\
             CREATE TABLE orders (id serial PRIMARY KEY, item int REFERENCES items, qty int NOT NULL, \
             at timestamptz NOT NULL DEFAULT now());\
             INSERT INTO orders (item, qty) SELECT 1 + i % 5, 1 + i % 7 FROM generate_series(1, 1000) AS i",
        )?;
        Ok(())
    }

    /// The `[[backups]]` job of the demo profile for database `shop`, writing to `directory`.
    pub fn demo_backup_job(&self, host: &str, directory: &Path) -> String {
        let conn = self.conn();
        format!(
            "[[backups]]\nname = \"shop-db\"\nhost = \"{host}\"\ndirectory = {dir}\nfile_name = \"{{job}}-{{timestamp}}.dump\"\n\
             backup = \"{dump} {conn} -Fc {db} > {{file}}\"\n\
             verify = \"{restore} --list {{file}} > /dev/null\"\n\
             restore = \"{restore} {conn} --clean --if-exists --single-transaction --exit-on-error -d {db} {{file}}\"\n\
             rpo = \"24h\"\nkeep_count = 7\n",
            dir = super::profile::quote(&directory.to_string_lossy()),
            dump = self.tool("pg_dump"),
            restore = self.tool("pg_restore"),
            db = DEMO_DATABASE,
        )
    }

    /// Stop the server (immediately: it is throwaway) and remove its directory.
    pub fn destroy(&self) -> Result<(), SandboxError> {
        if self.dir.join("data/postmaster.pid").exists() {
            let _ = self.as_postgres("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"]);
        }
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(SandboxError::io("remove postgres dir", &self.dir, e)),
        }
    }
}

/// A cluster of its own for a test or a benchmark, in `/tmp/<random>-pg`: stopped and
/// removed when dropped.
pub struct ThrowawayPostgres(pub Postgres);

impl ThrowawayPostgres {
    pub fn start(server_options: &str) -> Result<ThrowawayPostgres, SandboxError> {
        let dir = dir_for(&super::random_prefix());
        match Postgres::start_with(&dir, super::net::free_port(), server_options) {
            Ok(pg) => Ok(ThrowawayPostgres(pg)),
            Err(e) => {
                let _ = Postgres { dir, bin: PathBuf::new(), port: 0 }.destroy();
                Err(e)
            }
        }
    }
}

impl std::ops::Deref for ThrowawayPostgres {
    type Target = Postgres;
    fn deref(&self) -> &Postgres {
        &self.0
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.0.destroy() {
            eprintln!("{e}");
        }
    }
}
