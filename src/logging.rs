//! Where log lines go and what they look like, one way for every command: stderr, as text (with
//! colour only for a person at a terminal) or as one JSON object per line for log shippers.

use std::io::IsTerminal;

use clap::Args;
use sightline_openapi::LogFormat;
use tracing_subscriber::EnvFilter;

#[derive(Args, Debug, Clone)]
pub struct LogArgs {
    /// More detail: -v for debug, -vv for trace.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Less: -q for warnings and errors only, -qq for errors only (each -v undoes one -q).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    quiet: u8,
    /// What to log, over -v/-q and SIGHTLINE_LOG: a level (error, warn, info, debug, trace) or a
    /// filter such as `sightline_actors=debug,info`.
    #[arg(long, global = true, value_parser = filter)]
    log_level: Option<String>,
    /// How log lines look [default: text; `serve` also reads `log_format` from its config].
    #[arg(long, global = true, env = "SIGHTLINE_LOG_FORMAT", value_parser = format)]
    log_format: Option<LogFormat>,
}

const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

fn format(s: &str) -> Result<LogFormat, String> {
    s.parse()
}

fn filter(s: &str) -> Result<String, String> {
    EnvFilter::try_new(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("not a level or filter: {e}"))
}

impl LogArgs {
    /// The filter: `--log-level`, else -v/-q around `default`, else `SIGHTLINE_LOG`, else `default`.
    fn filter(&self, default: &str) -> EnvFilter {
        if let Some(f) = self.log_level.as_deref().and_then(|f| EnvFilter::try_new(f).ok()) {
            return f;
        }
        if self.verbose > 0 || self.quiet > 0 {
            let at = LEVELS.iter().position(|l| *l == default).unwrap_or(2) as i32;
            let at = (at + i32::from(self.verbose) - i32::from(self.quiet)).clamp(0, 4);
            return EnvFilter::new(LEVELS[at as usize]);
        }
        EnvFilter::try_from_env("SIGHTLINE_LOG").unwrap_or_else(|_| EnvFilter::new(default))
    }
}

/// Installs the subscriber. `default` is the command's level when nothing else says; `format`
/// falls back to text.
pub fn init(args: &LogArgs, default: &str, format: Option<LogFormat>) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log write that fails (stderr is a file on a full disk) would otherwise be reported
        // with `eprintln!`, which panics on the same full disk, in whatever task was logging.
        .log_internal_errors(false)
        .with_env_filter(args.filter(default));
    match args.log_format.or(format).unwrap_or_default() {
        LogFormat::Text => builder.with_ansi(colour()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Colour codes only for a person at a terminal, never into files or log shippers, and not when
/// `NO_COLOR` is set (no-color.org).
fn colour() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
