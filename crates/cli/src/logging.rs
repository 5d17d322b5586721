//! The log output of `dev` and `serve` (`--log-format`): human-readable
//! text, or one JSON object per line for log collectors.
//!
//! `STRONGROOM_LOG` (an `EnvFilter`) chooses what is logged. Without it:
//! `info`, and in text format without the per-request access events
//! (target `strongroom::request`), which JSON logs carry by default.

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// The filter used when `STRONGROOM_LOG` is not set.
pub fn default_filter(format: LogFormat) -> &'static str {
    match format {
        LogFormat::Text => "info,strongroom::request=off",
        LogFormat::Json => "info",
    }
}

/// Installs the global subscriber (once, at start).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("STRONGROOM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter(format)));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(false).init(),
    }
}
