//! Running the PostgreSQL server binaries: finding `initdb`/`pg_ctl`, running them as `nobody`
//! when we are root (which they refuse), and the small process, id, port and file-mode helpers
//! around that.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::HarnessError;

/// The unprivileged user the PostgreSQL binaries run as when we are root.
const UNPRIVILEGED_USER: &str = "nobody";

/// The directory holding `initdb` and `pg_ctl`.
pub(crate) struct PgBin {
    dir: PathBuf,
}

impl PgBin {
    pub(crate) fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    pub(crate) fn pg_ctl(&self) -> PathBuf {
        self.dir.join("pg_ctl")
    }

    /// The directory holding the binaries.
    pub(crate) fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

/// `PATH` first (an explicit choice), then `/usr/lib/postgresql/<version>/bin`, newest first.
pub(crate) fn find_pg_bin() -> Result<PgBin, HarnessError> {
    let mut candidates: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse::<u32>().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by(|a, b| b.0.cmp(&a.0));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        .map(|dir| PgBin { dir })
        .ok_or(HarnessError::NoBinaries)
}

/// How PostgreSQL binaries are run: directly, or — when we are root, which they refuse — as
/// `nobody` through a privilege-dropping prefix.
pub(crate) struct Runner {
    /// The privilege-dropping command line put before the program (empty when not root).
    pub(crate) prefix: Vec<OsString>,
    /// The uid and gid the binaries run as, when not ours.
    pub(crate) ids: Option<(u32, u32)>,
}

impl Runner {
    pub(crate) fn detect() -> Result<Runner, HarnessError> {
        if current_euid()? != 0 {
            return Ok(Runner {
                prefix: Vec::new(),
                ids: None,
            });
        }
        let uid = id_of(UNPRIVILEGED_USER, "-u")?;
        let gid = id_of(UNPRIVILEGED_USER, "-g")?;
        // `setpriv` only switches ids (no PAM session); `runuser` is the common alternative.
        let prefix: Vec<OsString> = if let Some(setpriv) = find_program("setpriv") {
            vec![
                setpriv.into(),
                format!("--reuid={uid}").into(),
                format!("--regid={gid}").into(),
                "--clear-groups".into(),
                "--".into(),
            ]
        } else if let Some(runuser) = find_program("runuser") {
            vec![
                runuser.into(),
                "-u".into(),
                UNPRIVILEGED_USER.into(),
                "--".into(),
            ]
        } else {
            return Err(HarnessError::Unsupported(
                "PostgreSQL refuses to run as root, and neither `setpriv` nor `runuser` is \
                 available to run it as nobody"
                    .into(),
            ));
        };
        Ok(Runner {
            prefix,
            ids: Some((uid, gid)),
        })
    }

    fn command(&self, program: &Path) -> tokio::process::Command {
        let mut cmd = match self.prefix.split_first() {
            Some((first, rest)) => {
                let mut cmd = tokio::process::Command::new(first);
                cmd.args(rest).arg(program);
                cmd
            }
            None => tokio::process::Command::new(program),
        };
        // `/` is readable by `nobody`; our working directory may not be.
        cmd.current_dir("/")
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .stdin(Stdio::null());
        // Its own process group: the server pg_ctl starts inherits it and so does not receive
        // the Ctrl-C meant for `cargo test`.
        #[cfg(unix)]
        cmd.process_group(0);
        cmd
    }
}

/// Runs `program args` through `runner`, returning its output or a [`HarnessError::Command`].
pub(crate) async fn run(
    runner: &Runner,
    program: &Path,
    args: &[&OsStr],
) -> Result<String, HarnessError> {
    let mut cmd = runner.command(program);
    cmd.args(args);
    let shown = || {
        let mut line = runner
            .prefix
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>();
        line.push(program.display().to_string());
        line.extend(args.iter().map(|a| a.to_string_lossy().into_owned()));
        line.join(" ")
    };
    let output = cmd
        .output()
        .await
        .map_err(|e| HarnessError::io(format!("could not run `{}`", shown()), e))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(HarnessError::Command {
            command: shown(),
            status: output.status.to_string(),
            output: tail(&text, 1500).to_owned(),
        })
    }
}

/// The last `max` bytes of `text` (on a char boundary), trimmed.
pub(crate) fn tail(text: &str, max: usize) -> &str {
    let text = text.trim();
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

pub(crate) fn free_port() -> Result<u16, HarnessError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| HarnessError::io("could not find a free port", e))
}

/// Looks for an executable on `PATH` and in the usual system directories (`runuser` lives in
/// `/usr/sbin`, which is not always on `PATH`).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The effective uid: from `/proc/self/status` on Linux, else `id -u`.
pub(crate) fn current_euid() -> Result<u32, HarnessError> {
    if let Ok(status) = fs::read_to_string("/proc/self/status")
        && let Some(euid) = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1))
            .and_then(|euid| euid.parse().ok())
    {
        return Ok(euid);
    }
    id_of_args(&["-u"])
}

fn id_of(user: &str, flag: &str) -> Result<u32, HarnessError> {
    id_of_args(&[flag, user])
}

fn id_of_args(args: &[&str]) -> Result<u32, HarnessError> {
    let output = std::process::Command::new("id")
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| HarnessError::io("could not run `id`", e))?;
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| HarnessError::Unsupported(format!("`id {}` failed", args.join(" "))))
}

#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), HarnessError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| HarnessError::io(format!("could not chmod {}", path.display()), e))
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_path: &Path, _mode: u32) -> Result<(), HarnessError> {
    Ok(())
}

#[cfg(unix)]
pub(crate) fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), HarnessError> {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| HarnessError::io(format!("could not chown {}", path.display()), e))
}

#[cfg(not(unix))]
pub(crate) fn chown(_path: &Path, _uid: u32, _gid: u32) -> Result<(), HarnessError> {
    Ok(())
}

#[cfg(unix)]
pub(crate) fn owner_uid(meta: &fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    Some(meta.uid())
}

#[cfg(not(unix))]
pub(crate) fn owner_uid(_meta: &fs::Metadata) -> Option<u32> {
    None
}
